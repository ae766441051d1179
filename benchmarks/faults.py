"""What happens when things go wrong, run for real and printed: one line per fault, what the student reads, and
whether the next run still trains. (tests/test_service.py and tests/test_download.py assert the same behaviour.)

    .venv/bin/python benchmarks/faults.py

Faults: a job that raises; a simulated CUDA out-of-memory error; a worker killed with SIGKILL mid-run; a worker
stopped with SIGTERM, as systemd stops every process of a service (the run is interrupted, not failed); the disk
filling up while a run is written; the server killed mid-training and started again (the running run says
"interrupted", the waiting one trains, a finished one is unchanged); a download cut halfway (no broken file left).
Runs use worker processes (the default local backend) on a store in a temporary folder.
"""
import http.server
import os
import signal
import socketserver
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LESSON1_LESSON_MODULES", "tests.lesson_for_tests")   # tiny jobs that fail on purpose

from core.backends import make_backend  # noqa: E402
from core.runs import RunStore, read_progress  # noqa: E402
from core.service import TrainingService  # noqa: E402
from tests.lesson_for_tests import KEY, kill_server_mid_run  # noqa: E402

def sentence(record) -> str:
    return (record.error or "")[:90]


def run_faults(say=print) -> list[tuple[str, bool, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        service = TrainingService(RunStore(root), make_backend("local", root, 1))
        try:
            def next_run_trains() -> bool:
                return service.wait(service.submit(KEY, "train", {}, {"epochs": 1}, owner="next").id, 120).status \
                    == "done"

            for how, label in (("other", "a job that raises"), ("gpu_oom", "a CUDA out-of-memory error"),
                               ("disk_full", "the disk full while the run is written")):
                record = service.wait(service.submit(KEY, "fail", {}, {"how": how}, owner="f").id, 120)
                clean = str(root) not in (record.error or "") and "Traceback" not in (record.error or "")
                leftovers = [p.name for p in service.store.path(record.id).iterdir() if p.name.endswith(".tmp")]
                ok = record.status == "failed" and clean and not leftovers and next_run_trains()
                rows.append((label, ok, sentence(record)))
            for sig, label, status in ((signal.SIGKILL, "a worker killed with SIGKILL mid-run", "failed"),
                                       (signal.SIGTERM, "a worker stopped with its service (systemd)", "interrupted")):
                pid_file = Path(tmp) / f"pid-{sig.name}"
                run = service.submit(KEY, "wait", {}, {"seconds": 60, "pid_file": str(pid_file)}, owner="k")
                while not pid_file.exists():
                    time.sleep(0.05)
                os.kill(int(pid_file.read_text()), sig)
                record = service.wait(run.id, 60)
                rows.append((label, record.status == status and next_run_trains(), sentence(record)))
        finally:
            service.shutdown()
        rows.append(server_killed(Path(tmp)))
    rows.append(download_cut())
    for label, ok, said in rows:
        say(f"{'ok  ' if ok else 'FAIL'} {label:45s} {said}")
    return rows


def server_killed(tmp: Path) -> tuple[str, bool, str]:
    runs = tmp / "server-runs"
    done, running, queued = kill_server_mid_run(runs, tmp / "server.py")
    before = RunStore(runs).read(done)
    from core import service as service_module
    time.sleep(service_module.EXECUTOR_SILENT_SECONDS + 1)          # the dead server's heartbeat goes stale
    again = TrainingService(RunStore(runs), make_backend("local", runs, 1))
    try:
        interrupted = again.store.read(running)
        waited = again.wait(queued, 120)
        after = again.store.read(done)
        ok = (interrupted.status == "interrupted" and waited.status == "done"
              and (after.metrics, after.epoch_table) == (before.metrics, before.epoch_table)
              and read_progress(again.store, done).epoch_table == before.epoch_table)
        return "the server killed mid-training, then restarted", ok, sentence(interrupted)
    finally:
        again.shutdown()


def download_cut() -> tuple[str, bool, str]:
    """A server that sends half the archive and hangs up: the download fails with a sentence, nothing is kept."""
    from core import download

    class Half(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(2**20))
            self.end_headers()
            self.wfile.write(b"\0" * 2**19)

        def log_message(self, *args):
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), Half) as httpd, tempfile.TemporaryDirectory() as tmp:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        dest = Path(tmp) / "archive.tgz"
        try:
            download.download_url(f"http://127.0.0.1:{httpd.server_address[1]}/a.tgz", dest, size=2**20)
            said, ok = "downloaded a broken file", False
        except download.DownloadError as e:
            said, ok = str(e)[:90], not any(Path(tmp).iterdir())
        httpd.shutdown()
    return "a download cut halfway", ok, said


if __name__ == "__main__":
    results = run_faults()
    sys.exit(0 if all(ok for _, ok, _ in results) else 1)
