"""A lesson for the engine's tests: tiny jobs that train, fail, hang or die in every way a real one could.
Registered through LESSON1_LESSON_MODULES (tests/conftest.py sets it), so worker processes know it too."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import torch
from torch import nn

from core.errors import StudentError
from core.lessons import Job, Lesson, Metric, register_lesson
from core.learner import Learner
from core.metrics import error_rate
from tests.helpers import xor_data

KEY = "engine_test"


def train(ctx, data, config):
    """A small XOR network: epochs, losses, a model, arrays and results, like a real lesson's fit."""
    torch.manual_seed(config.get("seed", 0))
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    ctx.report(stage="starting", fraction=0.0, note="hello", thread=threading.get_native_id())
    dls = xor_data(n=config.get("n", 512))
    dls.train.to(ctx.device)
    dls.valid.to(ctx.device)
    learn = Learner(model, dls, nn.CrossEntropyLoss(), metrics=(error_rate,),
                    cbs=ctx.callbacks(weight_stats=True), device=ctx.device)
    learn.fit_one_cycle(config.get("epochs", 2), config.get("lr", 3e-2))
    preds, targets, losses = learn.get_preds()
    ctx.save_model(learn.model, {"task": KEY, "hidden": 16})
    ctx.save_arrays(probs=torch.softmax(preds, 1).numpy(), targets=targets.numpy(), losses=losses.numpy())
    ctx.save_results({"vocab": ["different", "same"], "data": data})
    ctx.set_metrics(final_error=learn.recorder.epochs[-1]["error_rate"])


def wait(ctx, data, config):
    """Runs until stopped (or for `seconds`), checking Stop unless told to ignore it."""
    deadline = time.time() + config.get("seconds", 60)
    ctx.report(stage="waiting", fraction=0.0)
    if config.get("pid_file"):
        with open(config["pid_file"], "w") as f:
            f.write(str(os.getpid()))
    while time.time() < deadline:
        if not config.get("ignore_stop"):
            ctx.check_cancelled()
        time.sleep(0.05)
    ctx.save_results({"waited": True})


def fail(ctx, data, config):
    how = config.get("how")
    if how == "student":
        raise StudentError("Your table has no rows.")
    if how == "real_gpu_oom":                 # really ask the GPU for twice what it has
        torch.empty(2 * torch.cuda.get_device_properties(ctx.device).total_memory, dtype=torch.uint8,
                    device=ctx.device)
    if how == "gpu_oom":
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    if how == "host_oom":
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 99999999999 bytes. Error code 12 (Cannot allocate memory)")
    if how == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "disk_full":                      # files over 64 KB can't be written: a disk that fills up mid-run
        import resource
        import numpy as np
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        before = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65_536, before[1]))
        try:
            ctx.save_arrays(big=np.zeros(1_000_000, dtype=np.float32))
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, before)
    raise ValueError("could not open /srv/lesson1/secret/path.csv")


def load(store, record):
    return dict(arrays=store.arrays(record.id), results=store.results(record.id))


register_lesson(Lesson(
    KEY, "Engine test", ":material/science:", "pages/home.py", "tests only", "tests only",
    jobs=(Job("train", f"{__name__}:train", "train", keeps_model=True), Job("wait", f"{__name__}:wait", "wait"),
          Job("fail", f"{__name__}:fail", "fail")),
    load=f"{__name__}:load", metric=Metric("final_error", "error", False), limited={"epochs": ("epochs",)}, listed=False))


# ---- a server to kill: one finished run, one training, one waiting -------------------------------------------------
SERVER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    os.environ["LESSON1_LESSON_MODULES"] = {module!r}
    from core.backends import make_backend
    from core.runs import RunStore
    from core.service import TrainingService
    if __name__ == "__main__":
        store = RunStore({runs!r})
        svc = TrainingService(store, make_backend("local", store.root, 1))
        done = svc.wait(svc.submit({key!r}, "train", {{}}, {{"epochs": 1}}, owner="c").id, 120)
        running = svc.submit({key!r}, "wait", {{}}, {{"seconds": 120}}, owner="a")
        queued = svc.submit({key!r}, "train", {{}}, {{"epochs": 1}}, owner="b")
        while svc.store.read(running.id).status != "running":
            time.sleep(0.05)
        print(done.id, running.id, queued.id, flush=True)
        time.sleep(600)
""")


def kill_server_mid_run(runs: Path, script: Path) -> tuple[str, str, str]:
    """Start a training server (worker processes) on `runs`, let it finish a run, start a second and queue a third,
    then SIGKILL it with no goodbye. Returns the three runs' ids: (done, running, queued)."""
    root = Path(__file__).resolve().parents[1]
    script.write_text(SERVER.format(root=str(root), runs=str(runs), module=__name__, key=KEY))
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        done, running, queued = server.stdout.readline().split()
    finally:
        server.kill()                                   # its worker notices and stops too
        server.wait()
    return done, running, queued
