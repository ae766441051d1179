"""The deployment files agree with each other and with the app, without Docker or systemd: the image's health check
and port are the app's, the systemd unit starts the README's command, compose reserves the GPU and mounts the data
where the image keeps it, every Ray setting the backend reads is documented; and the image's entrypoint really serves
the app (its health check answers) and refuses a run store it cannot write with a sentence."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, _free_port

DEPLOY = ROOT / "deploy"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
APP_ARGS = ["run", "streamlit_app.py", "--server.address", "0.0.0.0", "--server.port", "8501"]


def dockerfile() -> dict[str, list[str]]:
    """Instruction -> its arguments, one entry per occurrence, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.setdefault(word.upper(), []).append(rest.strip())
    return found


def unit(path: Path) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def test_the_image_serves_the_app_as_a_user_on_the_port_its_health_check_asks():
    instructions = dockerfile()
    assert instructions["FROM"][-1] == "${BASE_IMAGE}"
    base = next(a for a in instructions["ARG"] if a.startswith("BASE_IMAGE="))
    assert re.fullmatch(r"BASE_IMAGE=pytorch/pytorch:[\d.]+-cuda[\d.]+-cudnn\d+-runtime", base)   # official, CUDA
    assert instructions["EXPOSE"] == ["8501"]
    health = instructions["HEALTHCHECK"][0]
    assert "http://127.0.0.1:8501/_stcore/health" in health
    assert instructions["USER"] == ["lesson1"] and "--uid 10001" in " ".join(instructions["RUN"])
    assert instructions["VOLUME"] == ['["/data"]']
    env = " ".join(instructions["ENV"])
    for name in ("LESSON1_RUNS_DIR", "LESSON1_CACHE", "TORCH_HOME", "HF_HOME"):
        assert re.search(rf"{name}=/data/\S+", env), name           # everything that grows lives on the volume
    assert instructions["ENTRYPOINT"] == ['["/app/deploy/entrypoint.sh"]'] and instructions["CMD"] == ['["serve"]']
    serve = re.search(r'-m streamlit (run [^\n]+)', ENTRYPOINT.read_text()).group(1)
    assert shlex.split(serve.replace('"$PORT"', "8501")) == APP_ARGS
    assert re.search(r"PORT=\$\{LESSON1_PORT:-8501\}", ENTRYPOINT.read_text())


def test_the_systemd_unit_starts_the_readmes_command_from_its_checkout():
    app = unit(DEPLOY / "systemd" / "lesson1.service")
    checkout = app["WorkingDirectory"][0]
    command = shlex.split(app["ExecStart"][0])
    assert command[0] == f"{checkout}/.venv/bin/streamlit" and command[1:] == APP_ARGS
    readme = (ROOT / "README.md").read_text()
    assert f".venv/bin/streamlit {' '.join(APP_ARGS)}" in readme
    assert app["User"] == ["lesson1"] and app["Restart"] == ["always"]
    assert any("LESSON1_RUNS_DIR=/var/lib/lesson1/runs" in e for e in app["Environment"])
    assert app["StateDirectory"] == ["lesson1"]                # which is /var/lib/lesson1, made for the user
    head, worker = unit(DEPLOY / "systemd" / "lesson1-ray-head.service"), unit(DEPLOY / "systemd" /
                                                                               "lesson1-ray-worker.service")
    assert "--port=6379" in head["ExecStart"][0] and "--num-gpus=0" in head["ExecStart"][0]
    assert worker["ExecStart"] == [f"{checkout}/deploy/entrypoint.sh ray-worker"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_finds_nothing_wrong_with_the_units_but_the_install_they_expect():
    out = subprocess.run(["systemd-analyze", "verify", *map(str, UNITS)], capture_output=True, text=True,
                         timeout=60, cwd=DEPLOY / "systemd")
    complaints = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    # Here there is no /opt/lesson1 to run; anything else (an unknown key, a bad value) is a mistake.
    assert all(re.search(r"Command /opt/lesson1/\S+ is not executable", line) for line in complaints), complaints


def test_compose_reserves_the_gpu_and_keeps_data_where_the_image_does():
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("app", "ray-worker"):
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert "deploy" not in services["ray-head"]                   # the web server's machine needs no GPU
    assert services["app"]["ports"][0].endswith(":8501:8501")
    for name, service in services.items():
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == \
            (DEPLOY / "Dockerfile").resolve()
        assert "lesson1-data:/data" in service["volumes"], name
        requirements = service["build"].get("args", {}).get("REQUIREMENTS", "requirements.txt")
        assert (ROOT / requirements).exists()
    for name in ("ray-head", "ray-worker"):
        assert services[name]["network_mode"] == "host"
        assert services[name]["environment"]["RAY_AUTH_MODE"] == "token"
        assert any(v.endswith(":/data/runs") for v in services[name]["volumes"])    # the shared run store
    assert services["ray-worker"]["command"] == ["ray-worker"]
    assert services["ray-head"]["environment"]["LESSON1_BACKEND"] == "ray"


def test_ray_is_an_optional_install_pinned_to_what_was_checked():
    lines = [l.split("#")[0].strip() for l in (ROOT / "requirements-ray.txt").read_text().splitlines()]
    assert "-r requirements.txt" in lines and "ray[default]>=2.60,<2.61" in lines
    assert "ray" not in (ROOT / "requirements.txt").read_text().lower()


def test_every_setting_the_ray_backend_reads_is_documented():
    code = (ROOT / "core" / "ray_backend.py").read_text()
    docs = (ROOT / "docs" / "DEPLOY.md").read_text()
    read = set(re.findall(r'os\.environ(?:\.get)?[\[(]"(LESSON1_\w+|RAY_\w+)"', code))
    assert {"LESSON1_RAY_ADDRESS", "LESSON1_RAY_GPU_FRACTION", "LESSON1_RAY_CPUS"} <= read
    assert not [name for name in read if name not in docs]
    for command in ("ray start --head", "ray start --address=", "RAY_AUTH_TOKEN", "docker compose"):
        assert command in docs


def test_the_image_never_takes_runs_environments_or_secrets_along():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"runs", ".venv", ".git", "**/.env"} <= set(ignored)
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()


def run_entrypoint(*args, env=None, timeout=30):
    return subprocess.run([str(ENTRYPOINT), *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def test_the_entrypoint_refuses_what_would_lose_runs_with_a_sentence(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    out = run_entrypoint("serve", env={"LESSON1_RUNS_DIR": str(blocked / "runs")})
    assert out.returncode == 78 and "is missing or not writable" in out.stderr and "DEPLOY.md" in out.stderr
    out = run_entrypoint("ray-worker", env={"LESSON1_RAY_ADDRESS": "", "LESSON1_RUNS_DIR": str(tmp_path)})
    assert out.returncode == 78 and "LESSON1_RAY_ADDRESS" in out.stderr
    out = run_entrypoint("ray-worker", env={"LESSON1_RAY_ADDRESS": "head:6379", "RAY_AUTH_MODE": "token",
                                            "RAY_AUTH_TOKEN": "", "HOME": str(tmp_path)})
    assert out.returncode == 78 and "RAY_AUTH_TOKEN" in out.stderr


def test_the_entrypoint_serves_the_app_and_its_health_check_says_so(tmp_path):
    port = str(_free_port())
    env = dict(os.environ, LESSON1_PORT=port, LESSON1_RUNS_DIR=str(tmp_path / "runs"), LESSON1_BACKEND="thread",
               LESSON1_PYTHON=sys.executable)
    server = subprocess.Popen([str(ENTRYPOINT), "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert run_entrypoint("health", env={"LESSON1_PORT": port, "LESSON1_PYTHON": sys.executable}
                              ).returncode != 0                           # nothing answers yet
        deadline, body = time.time() + 90, b""
        while time.time() < deadline and body != b"ok":
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read()
            except OSError:
                time.sleep(0.5)
        assert body == b"ok"
        assert run_entrypoint("health", env={"LESSON1_PORT": port, "LESSON1_PYTHON": sys.executable}
                              ).returncode == 0
        assert (tmp_path / "runs").is_dir()
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_image_check_runs_journeys_that_exist_and_need_only_a_url():
    """deploy/check_image.py runs these against a container, where nothing but the app's URL is shared: each must
    exist and ask for the app_url fixture, not for a server of its own."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("check_image", DEPLOY / "check_image.py")
    check_image = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_image)
    for journey in check_image.URL_ONLY_JOURNEYS:
        path, _, name = journey.partition("::")
        source = (ROOT / path).read_text()
        tests = re.findall(r"^def (test_\w+)\(([^)]*)\)", source, re.M)
        assert tests, journey
        for test, fixtures in tests:
            if name in ("", test):
                assert "app_url" in fixtures and not {"tmp_path", "class_url", "oidc_class"} & set(
                    f.strip() for f in fixtures.split(",")), f"{path}::{test} needs more than a URL: {fixtures}"
        assert not name or name in dict(tests), journey


def test_the_servers_settings_parse_and_keep_one_script_runner_per_student(monkeypatch):
    """The image takes .streamlit/config.toml along (COPY . /app), and Streamlit reads it from the directory it
    starts in. Fast reruns off: two runners of one student's script wrote the same session state, and a click could
    be lost (the page ran with the value from before it; .streamlit/config.toml says how)."""
    from streamlit import config
    monkeypatch.chdir(ROOT)
    config.get_config_options(force_reparse=True)
    assert config.get_option("runner.fastReruns") is False
    assert config.get_option("runner.postScriptGC") is False
    assert config.get_option("client.showErrorDetails") == "none"
    assert ".streamlit" not in (ROOT / ".dockerignore").read_text().split()
