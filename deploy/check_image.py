"""Build the image of deploy/Dockerfile and use it as a class would; print one line per check.

    .venv/bin/python deploy/check_image.py [--ray] [--base IMAGE] [--host-network]
    .venv/bin/python deploy/check_image.py --make-stand-in         # then: --base lesson1-stand-in:torch2.9.0

The app's image: it becomes healthy (its HEALTHCHECK), runs as its own user and cannot change its code; the browser
journeys that need only a URL pass against it (a newcomer reaches every lesson, one browser is one person, the
collab and segmentation journeys train real runs); a run training when the container restarts says so from its
link, and the runs before it are still there (they live on the volume).
With --ray, the Ray image too: a head (the web server, no CPUs or GPUs of its own) and a worker node in two
containers sharing one run folder, as two machines sharing NFS would; the collab journey's runs train on the worker.

Needs a Docker daemon, and this checkout's .venv with Chromium (as the browser tests do). The Dockerfile's base is
the official PyTorch CUDA runtime image, pulled from Docker Hub. Where Docker Hub cannot be reached, --make-stand-in
builds a stand-in from Debian's and PyPI's packages (debootstrap, Python 3.11, the same torch version) and --base
uses it: everything in the Dockerfile is then checked but the base image itself. --host-network builds with the host's
network (a daemon without NAT for its bridge: `dockerd --iptables=false`).
"""
import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_watching import CHROMIUM_ARGS, answers, free_port  # noqa: E402

APP_USER_ID = "10001"                       # the Dockerfile's useradd --uid
STAND_IN = "lesson1-stand-in:torch2.9.0"    # the torch of the Dockerfile's default base image
URL_ONLY_JOURNEYS = [            # browser journeys that need nothing but the app's URL (LESSON1_TEST_APP_URL)
    "tests/test_browser_app.py::test_a_newcomer_opens_the_app_and_reaches_every_lesson",
    "tests/test_browser_classroom.py::test_a_browser_is_one_person_across_tabs_and_reloads",
    "tests/test_browser_collab.py",
    "tests/test_browser_segmentation.py",
]
failures: list[str] = []


def report(ok: bool, what: str, detail: str = "") -> bool:
    print(f"{'ok    ' if ok else 'FAILED'} {what}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(what)
    return ok


def docker(*args, check=True, **kw) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, **kw)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} ...: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def build(tag: str, base: str | None, requirements: str, host_network: bool) -> None:
    args = ["build", "-f", "deploy/Dockerfile", "-t", tag, "--build-arg", f"REQUIREMENTS={requirements}"]
    args += ["--build-arg", f"BASE_IMAGE={base}"] if base else []
    args += ["--network", "host"] if host_network else []
    started = time.perf_counter()
    docker(*args, ".", cwd=ROOT)
    megabytes = int(docker("image", "inspect", "-f", "{{.Size}}", tag)) // 10**6
    on = f" on {base}" if base else ""
    report(True, f"built {tag}", f"{time.perf_counter() - started:.0f} s, {megabytes} MB{on}")


def make_stand_in() -> None:
    """Debian bookworm (Python 3.11, as the official image's) with torch 2.9.0 from PyPI in /opt/conda, on PATH."""
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                        "bookworm", str(rootfs), "http://deb.debian.org/debian"], check=True, capture_output=True)
        # this machine's certificate authorities, in case its way out inspects TLS
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/ca-certificates.crt")
        shutil.copy("/etc/resolv.conf", rootfs / "etc/resolv.conf")
        subprocess.run(["chroot", str(rootfs), "python3", "-m", "venv", "/opt/conda"], check=True)
        subprocess.run(["chroot", str(rootfs), "/opt/conda/bin/pip", "install", "-q", "--no-cache-dir", "--cert",
                        "/etc/ssl/certs/ca-certificates.crt", "torch==2.9.0"], check=True,
                       env={"PATH": os.environ["PATH"], "HOME": "/root"})
        (rootfs / "etc/resolv.conf").unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "--change", "ENV PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:"
                        "/usr/sbin:/usr/bin:/sbin:/bin", "--change", "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
                        "-", STAND_IN], stdin=tar.stdout, check=True, capture_output=True)
        tar.wait()
    report(True, f"made the stand-in base {STAND_IN}")


def wait_healthy(name: str, seconds: float = 240) -> bool:
    """The image's own HEALTHCHECK says healthy (its first check runs 30 s after the start)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", name, check=False)
        if status == "healthy":
            return True
        if docker("inspect", "-f", "{{.State.Running}}", name, check=False) != "true":
            return False
        time.sleep(2)
    return False


def journeys(url: str, which: list[str]) -> bool:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *which], cwd=ROOT,
                          env=dict(os.environ, LESSON1_TEST_APP_URL=url), capture_output=True, text=True)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    return report(done.returncode == 0, f"browser journeys against {url}",
                  f"{summary} ({time.perf_counter() - started:.0f} s)")


def restart_mid_run(url: str, name: str) -> None:
    """Press Train on the tabular lesson (20 epochs), restart the container while it trains, open the run's link."""
    from playwright.sync_api import sync_playwright

    from core.runs import RUNNING
    from core.worker import SERVER_RESTARTED
    from tests.conftest import type_number, wait_for_app
    train = re.compile(r"Train: fit_one_cycle\(20,")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/tabular", timeout=60_000)
        page.get_by_role("button", name=re.compile("Train: fit_one_cycle")).wait_for(timeout=120_000)
        type_number(page, "Epochs", 20, page.get_by_role("button", name=train))
        page.get_by_role("button", name=train).click()
        page.wait_for_url(re.compile(r"[?&]run="), timeout=60_000)
        link = page.url
        run_id = link.rsplit("run=", 1)[1]
        runs_before = set(docker("exec", name, "ls", "/data/runs").split())
        deadline = time.time() + 120                # until the worker has started it
        while docker("exec", name, "python", "-c", "import json,sys; print(json.load(open(sys.argv[1]))['status'])",
                     f"/data/runs/{run_id}/run.json", check=False) != RUNNING and time.time() < deadline:
            time.sleep(0.5)
        docker("restart", name)
        answering = answers(url, 120)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(link, timeout=60_000)
        said = page.get_by_text(SERVER_RESTARTED[:40]).first
        try:
            said.wait_for(timeout=120_000)
            wait_for_app(page)
            shown = True
        except Exception:
            shown = False
        browser.close()
    runs_after = set(docker("exec", name, "ls", "/data/runs").split())
    report(answering and shown, "a run training when the container restarts says so from its link", run_id)
    report(runs_before <= runs_after, "the runs from before the restart are still on the volume",
           f"{len(runs_before)} before, {len(runs_after)} after")


def check_app_image(tag: str) -> None:
    name, volume, port = f"lesson1-check-{os.getpid()}", f"lesson1-check-{os.getpid()}", free_port()
    url = f"http://127.0.0.1:{port}"
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8501", "-v", f"{volume}:/data", tag)
    try:
        started = time.perf_counter()
        report(wait_healthy(name), "the container's health check says healthy",
               f"{time.perf_counter() - started:.0f} s after docker run")
        report(docker("exec", name, "id", "-u") == APP_USER_ID, "it runs as the image's own user, not root",
               f"uid {docker('exec', name, 'id', '-u')}")
        touched = subprocess.run(["docker", "exec", name, "touch", "/app/streamlit_app.py"], capture_output=True,
                                 text=True)
        report(touched.returncode != 0, "the app's user cannot change the app's code", touched.stderr.strip())
        journeys(url, URL_ONLY_JOURNEYS)
        restart_mid_run(url, name)
    finally:
        docker("rm", "-f", name, check=False)
        docker("volume", "rm", volume, check=False)


RAY_PROBE = """
import json, ray
from ray.util.state import list_tasks
ray.init(address="auto", logging_level="ERROR", log_to_driver=False)
head = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" in n["Resources"])
alive = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
runs = [[t.name, t.node_id, t.state] for t in list_tasks(detail=True, limit=10000) if t.name.startswith("lesson1-run-")]
print(json.dumps({"head": head, "alive": alive, "runs": runs}))
"""


def check_ray_images(tag: str) -> None:
    """A head and a worker node in two containers on the host's network, one shared run folder (uid 10001's)."""
    token, port = secrets.token_hex(32), free_port()
    url = f"http://127.0.0.1:{port}"
    env = ["-e", "RAY_AUTH_MODE=token", "-e", f"RAY_AUTH_TOKEN={token}"]
    head, worker = f"lesson1-ray-head-{os.getpid()}", f"lesson1-ray-worker-{os.getpid()}"
    with tempfile.TemporaryDirectory() as shared:
        os.chown(shared, int(APP_USER_ID), int(APP_USER_ID))
        common = ["--network", "host", "--shm-size", "2g", "-v", f"{shared}:/data/runs", *env]
        try:
            docker("run", "-d", "--name", head, *common, "-e", "LESSON1_BACKEND=ray", "-e", "LESSON1_RAY_START_HEAD=1",
                   "-e", f"LESSON1_PORT={port}", tag)
            report(answers(url, 120), "the Ray head's container serves the app")
            address = docker("exec", head, "python", "-c", "import ray.util; print(ray.util.get_node_ip_address())")
            docker("run", "-d", "--name", worker, *common, "-e", f"LESSON1_RAY_ADDRESS={address}:6379", tag,
                   "ray-worker")
            deadline, probe = time.time() + 120, {}
            while time.time() < deadline:
                probe = json.loads(docker("exec", *env, head, "python", "-c", RAY_PROBE, check=False) or "{}")
                if len(probe.get("alive", [])) >= 2:
                    break
                time.sleep(3)
            report(len(probe.get("alive", [])) == 2, "the worker node's container joined the head's cluster",
                   f"{len(probe.get('alive', []))} nodes alive")
            journeys(url, ["tests/test_browser_collab.py"])
            probe = json.loads(docker("exec", *env, head, "python", "-c", RAY_PROBE) or "{}")
            ran = [t for t in probe["runs"] if t[2] == "FINISHED"]     # the backend names each run's task
            on_head = [t for t in ran if t[1] == probe["head"]]
            report(bool(ran) and not on_head, "the runs trained on the worker node, none on the head",
                   f"{len(ran)} runs' Ray tasks finished, {len(on_head)} of them on the head")
            runs = [p for p in Path(shared).iterdir() if (p / "run.json").exists()]
            statuses = [json.loads((p / "run.json").read_text())["status"] for p in runs]
            report(bool(runs) and all(s == "done" for s in statuses), "their runs are in the shared run folder, done",
                   ", ".join(statuses))
        finally:
            docker("rm", "-f", worker, head, check=False)
            # the containers' user wrote the runs; the folder's owner on this machine may not be allowed to remove them
            subprocess.run(["docker", "run", "--rm", "-v", f"{shared}:/data/runs", "--entrypoint", "sh", tag, "-c",
                            "rm -rf /data/runs/* /data/runs/.[!.]*"], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="another base image for the Dockerfile's BASE_IMAGE (python, pip and torch)")
    parser.add_argument("--make-stand-in", action="store_true", help=f"build {STAND_IN} and stop")
    parser.add_argument("--ray", action="store_true", help="also the Ray image: a head and a worker node")
    parser.add_argument("--host-network", action="store_true", help="build with the host's network")
    args = parser.parse_args()
    if args.make_stand_in:
        make_stand_in()
        return 0
    print(f"docker {docker('version', '-f', '{{.Server.Version}}')}, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    build("lesson1:check", args.base, "requirements.txt", args.host_network)
    check_app_image("lesson1:check")
    if args.ray:
        build("lesson1-ray:check", args.base, "requirements-ray.txt", args.host_network)
        check_ray_images("lesson1-ray:check")
    print("all passed" if not failures else f"{len(failures)} failed: {'; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
