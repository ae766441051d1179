"""The training service over Ray (LESSON1_BACKEND=ray): a real local Ray cluster on the CPU, started once for the
module and shut down at the end. Runs go through the app's own TrainingService and come back through the run store
only: a tabular job and a small image-like job side by side, Stop, a worker that dies, the time limit's kill, a node
that cannot see the store; and how much of the cluster a run asks for."""
import os
import secrets

import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional install: pip install -r requirements-ray.txt")

from core import service as service_module  # noqa: E402
from core.backends import make_backend  # noqa: E402
from core.classroom import ClassLimits, limits_path, set_limits  # noqa: E402
from core.lessons import get_lesson, run_loader  # noqa: E402
from core.memory import jobs_per_gpu  # noqa: E402
from core.ray_backend import (STORE_NOT_SHARED, RayBackend, count_slots, cuda_index,  # noqa: E402
                              gpu_share)
from core.runs import CANCELLED, DONE, FAILED, RunStore  # noqa: E402
from core.service import TrainingService  # noqa: E402
from core.worker import WORKER_DIED  # noqa: E402
from tests.conftest import store_csv  # noqa: E402
from tests.helpers import wait_until  # noqa: E402
from tests.lesson_for_tests import KEY  # noqa: E402
from tests.test_tabular_model import TOY_SPEC, toy_table  # noqa: E402

pytestmark = pytest.mark.timeout(240)          # a bound for a stuck cluster; runs take seconds

# The small image job: (lesson, kind, data, config). The engine tests' lesson stands in until the bird lesson is on
# the run store; then: ("image_classification", "fit", {"dataset": "birds"}, {<a tiny config>}).
IMAGE_JOB = (KEY, "train", {}, {"epochs": 2})
TABULAR_CONFIG = dict(spec=TOY_SPEC.to_dict(), batch_size=64, lr=1e-2, epochs=2)
GiB = 2**30


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`LESSON1_BACKEND=ray` without LESSON1_RAY_ADDRESS: the backend starts a local Ray instance (2 CPUs here) and
    stops it when the service shuts down. Token authentication stays on, as Ray 2.60 has it by default for a local
    instance; the token comes from the environment, so nothing is written under the home directory. (RAY_AUTH_MODE
    is left unset: Ray reads it when it is imported, and sets it itself when it starts the instance.)"""
    root = tmp_path_factory.mktemp("runs")
    mode_before = os.environ.get("RAY_AUTH_MODE")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        env.setenv("LESSON1_DEVICE", "cpu")
        env.delenv("LESSON1_RAY_ADDRESS", raising=False)
        env.delenv("LESSON1_WORKERS", raising=False)
        svc = TrainingService(RunStore(root), make_backend("ray", root))
        try:
            yield svc
        finally:
            svc.shutdown()
            ray.shutdown()
            if mode_before is None:
                os.environ.pop("RAY_AUTH_MODE", None)
    assert not ray.is_initialized()


def submit(svc, job, owner):
    lesson, kind, data, config = job
    return svc.submit(lesson, kind, data, config, owner=owner)


def read_back(root, record):
    """What a page on another server process (or machine) gets: the record and the lesson's loader output, from a
    store opened afresh."""
    store = RunStore(root)
    record = store.read(record.id)
    return record, run_loader(record.lesson)(store, record)


def test_slots_follow_the_clusters_cpus(cluster):
    stats = cluster.stats()
    assert stats["backend"] == "ray" and stats["nodes"] == 1 and stats["gpu_share"] == 0
    assert stats["workers"] == cluster.backend.n_slots == int(ray.cluster_resources()["CPU"]) >= 1


def test_a_tabular_run_and_an_image_run_train_on_the_cluster_and_read_back_from_the_store(cluster):
    table = store_csv(cluster, toy_table(600))
    tabular = cluster.submit("tabular", "fit", table, TABULAR_CONFIG, owner="ana")
    image = submit(cluster, IMAGE_JOB, owner="ben")
    for run in (tabular, image):
        record = cluster.wait(run.id, timeout=90)
        assert record.status == DONE, record.error
        host_pid = record.info["worker"].rsplit(":", 1)
        assert int(host_pid[1]) != os.getpid()          # trained in a Ray worker, not in here
        assert record.info["device"] == "cpu" and record.epoch_table
        assert cluster.store.has_model(run.id) == get_lesson(record.lesson).job(record.kind).keeps_model
    record, loaded = read_back(cluster.store.root, tabular)
    assert record.metrics["accuracy"] == loaded.summary["accuracy"] > loaded.summary["majority_accuracy"]
    assert len(loaded.valid_probs) == loaded.summary["n_valid"]
    record, loaded = read_back(cluster.store.root, image)
    assert record.epoch_table and loaded


def test_stop_reaches_a_run_on_the_cluster(cluster):
    run = cluster.submit(KEY, "wait", {}, {"seconds": 60}, owner="cleo")
    wait_until(lambda: cluster.store.read(run.id).status == "running", timeout=60)
    assert cluster.cancel(run.id, by="cleo")
    record = cluster.wait(run.id, timeout=30)
    assert record.status == CANCELLED and record.error.startswith("Stopped.")       # by its owner, not a fault


def test_a_run_whose_worker_dies_fails_with_a_sentence_and_the_next_run_runs(cluster):
    died = cluster.wait(cluster.submit(KEY, "fail", {}, {"how": "die"}, owner="dan").id, timeout=60)
    assert died.status == FAILED and died.error == WORKER_DIED
    assert cluster.wait(submit(cluster, IMAGE_JOB, owner="dan").id, timeout=90).status == DONE


def test_the_time_limit_kills_a_run_that_ignores_stop(cluster, monkeypatch):
    monkeypatch.setattr(service_module, "KILL_GRACE_SECONDS", 1.0)
    set_limits(ClassLimits(job_seconds=1), cluster.store.root)
    try:
        run = cluster.submit(KEY, "wait", {}, {"seconds": 60, "ignore_stop": True}, owner="eve")
        record = cluster.wait(run.id, timeout=60)
    finally:
        limits_path(cluster.store.root).unlink()
    assert record.status == FAILED and "time limit" in record.error


def test_a_node_that_cannot_see_the_run_store_fails_the_run_with_a_sentence(cluster, tmp_path):
    """The same cluster, but its nodes look for the store where there is none (no shared volume)."""
    elsewhere = tmp_path / "not-the-shared-volume"
    svc = TrainingService(RunStore(tmp_path / "runs"), RayBackend(tmp_path / "runs", 1, node_root=elsewhere))
    try:
        record = svc.wait(submit(svc, IMAGE_JOB, owner="fay").id, timeout=60)
    finally:
        svc.shutdown()
    assert record.status == FAILED and record.error == STORE_NOT_SHARED
    assert str(tmp_path) not in record.error and not elsewhere.exists()      # nothing trained into a private folder
    assert ray.is_initialized()                     # a backend that did not start Ray leaves it to whoever did


# ---- how much of the cluster a run asks for (no cluster needed) -------------------------------------------------
def test_a_runs_gpu_share_is_one_of_the_jobs_that_fit_on_the_gpu(monkeypatch):
    monkeypatch.delenv("LESSON1_RAY_GPU_FRACTION", raising=False)
    monkeypatch.delenv("LESSON1_JOB_GIB", raising=False)
    monkeypatch.delenv("LESSON1_MAX_JOBS_PER_GPU", raising=False)
    h200 = 143_771 * 2**20
    assert jobs_per_gpu(h200) == 8 and gpu_share(h200) == 0.125        # as many as the local backend runs there
    assert gpu_share(24 * GiB) == 0.2                                  # 0.9 * 24 GiB holds five 4 GiB jobs
    assert gpu_share(16 * GiB) == 0.3333 and 3 * gpu_share(16 * GiB) <= 1
    assert gpu_share(2 * GiB) == 1.0 and gpu_share(None) == 1.0        # too small, or unknown: a whole GPU
    monkeypatch.setenv("LESSON1_JOB_GIB", "16")
    assert gpu_share(h200) == 0.1428                                   # 7 of 16 GiB in 0.9 * 140 GiB
    monkeypatch.setenv("LESSON1_RAY_GPU_FRACTION", "0.25")
    assert gpu_share(h200) == 0.25
    for wrong in ("0", "2", "half"):
        monkeypatch.setenv("LESSON1_RAY_GPU_FRACTION", wrong)
        with pytest.raises(ValueError, match="LESSON1_RAY_GPU_FRACTION"):
            gpu_share(h200)


def test_slots_count_what_each_node_has_room_for():
    gpu_node = {"Resources": {"CPU": 16.0, "GPU": 1.0}}
    small_gpu_node = {"Resources": {"CPU": 2.0, "GPU": 2.0}}
    cpu_node = {"Resources": {"CPU": 8.0}}
    head_without_room = {"Resources": {"memory": 1e9}}
    assert count_slots([gpu_node, cpu_node, head_without_room], cpus=1, share=0.125) == 8     # CPU-only: none
    assert count_slots([small_gpu_node], cpus=1, share=0.125) == 2                             # its CPUs bound it
    assert count_slots([gpu_node, cpu_node], cpus=2, share=0) == 12
    assert count_slots([small_gpu_node], cpus=1, share=0.3333) == 2


def test_a_run_uses_the_gpu_ray_gave_it():
    assert cuda_index(3, "3") == 0                  # Ray's default: only this run's GPU is visible
    assert cuda_index(3, "1,3") == 1
    assert cuda_index(3, None) == 3 and cuda_index(2, "") == 2     # told not to set CUDA_VISIBLE_DEVICES
