"""What only a GPU can show: the CUDA recipe (bf16 autocast, channels-last) trains and exports to the CPU, a job's
predicted memory covers what it really uses, a real out-of-memory error fails one run alone, worker processes share
one GPU, and every lesson's default run trains on it.

Skipped without CUDA; benchmarks/gpu_check.sh runs them on a lent GPU (`pytest -m gpu`).
"""
import pytest
import torch

from core.backends import SlotPlan, ThreadBackend, make_backend
from core.lessons import get_lesson, list_lessons
from core.memory import job_budget_bytes
from core.readymade import default_run
from core.runs import RunStore, read_progress
from core.service import TrainingService

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
TIMEOUT = 600


@pytest.fixture()
def service(tmp_path):
    """One worker thread on the GPU with a quarter of it, as one of a server's workers would have."""
    budget = job_budget_bytes(torch.cuda.get_device_properties(0).total_memory, 4)
    svc = TrainingService(RunStore(tmp_path), ThreadBackend(tmp_path, [SlotPlan("cuda:0", budget)]))
    yield svc
    svc.shutdown()


def train(service, lesson, **config):
    spec = default_run(get_lesson(lesson))
    run = service.submit(lesson, spec.kind, spec.data, dict(spec.config, **config), owner="gpu")
    return service.wait(run.id, timeout=TIMEOUT)


def peak_of(service, lesson, **config):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    record = train(service, lesson, **config)
    return record, (torch.cuda.max_memory_reserved() - before) / 2**20


@pytest.mark.parametrize("lesson", [lesson.key for lesson in list_lessons() if default_run(lesson) is not None])
def test_every_lessons_default_run_trains_on_the_gpu(service, lesson):
    record = train(service, lesson)
    assert record.status == "done", record.error
    assert record.info["device"].startswith("cuda")
    metric = get_lesson(lesson).metric
    assert metric is None or record.metrics.get(metric.key) is not None


def test_the_bird_lesson_trains_in_bf16_and_its_export_answers_the_same_on_the_cpu(service):
    from core.vision.jobs import load_run
    record = train(service, "image_classification", size=128, seed=42)
    assert record.status == "done", record.error
    assert record.metrics["error_rate"] < 0.15
    info = {**read_progress(service.store, record.id).info, **record.info}
    assert info["batch_size"] >= 16                        # sized to the GPU share, not the CPU default
    run = load_run(service.store, record)                   # float32, on the CPU
    assert next(run.classifier.model.parameters()).device.type == "cpu"
    probs = run.classifier.predict([run.items.images[i] for i in run.valid_idx])
    assert (probs.argmax(1) == run.probs.argmax(1)).mean() > 0.95


@pytest.mark.parametrize("lesson", ["image_classification", "segmentation"])
def test_a_jobs_predicted_memory_covers_its_real_peak(service, lesson):
    record, peak_mib = peak_of(service, lesson, epochs=1)
    assert record.status == "done", record.error
    predicted = {**read_progress(service.store, record.id).info, **record.info}["estimated_peak_mib"]
    assert peak_mib <= predicted, f"{lesson}: reserved {peak_mib:.0f} MiB, predicted {predicted} MiB"


def test_a_real_cuda_out_of_memory_fails_that_run_alone(tmp_path):
    import os
    os.environ.setdefault("LESSON1_LESSON_MODULES", "tests.lesson_for_tests")
    from tests.lesson_for_tests import KEY
    svc = TrainingService(RunStore(tmp_path), make_backend("local", tmp_path, 1))
    try:
        bad = svc.wait(svc.submit(KEY, "fail", {}, {"how": "real_gpu_oom"}, owner="a").id, timeout=TIMEOUT)
        assert bad.status == "failed" and "GPU ran out of memory" in bad.error
        good = svc.wait(svc.submit(KEY, "train", {}, {"epochs": 1}, owner="a").id, timeout=TIMEOUT)
        assert good.status == "done", good.error                # the same worker, its CUDA context still usable
    finally:
        svc.shutdown()


def test_worker_processes_share_one_gpu_each_within_its_share(tmp_path):
    svc = TrainingService(RunStore(tmp_path), make_backend("local", tmp_path, 3))
    try:
        spec = default_run(get_lesson("image_classification"))
        runs = [svc.submit("image_classification", spec.kind, spec.data, dict(spec.config, size=96, seed=i),
                           owner=f"s{i}") for i in range(3)]
        records = [svc.wait(r.id, timeout=TIMEOUT) for r in runs]
    finally:
        svc.shutdown()
    assert [r.status for r in records] == ["done"] * 3, [r.error for r in records]
    total = torch.cuda.get_device_properties(0).total_memory / 2**20
    for record in records:
        info = {**read_progress(svc.store, record.id).info, **record.info}
        assert info["memory_budget_mib"] <= total / 3
        assert info["estimated_peak_mib"] <= info["memory_budget_mib"]
    assert len({r.info["worker"] for r in records}) >= 2     # trained in different processes


def test_the_bird_lessons_training_steps_do_not_wait_for_the_gpu(monkeypatch, tmp_path):
    """torch's sync debug mode counts every time the CPU waits for the GPU (a read, a copy from ordinary memory):
    the lesson's training waits a few times an epoch, never at every step, so the CPU queues the next step while
    the GPU runs this one. tests/test_vision_train.py counts the reads on the CPU."""
    import warnings

    from tests.helpers import bird_training_reads
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            syncs = lambda: sum("synchroniz" in str(w.message) for w in caught)
            per_fit, steps = bird_training_reads(tmp_path, torch.device("cuda"), monkeypatch, syncs, size=128)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert len(per_fit) == 2 and steps >= 60
    assert all(n <= 10 for n in per_fit), per_fit       # per epoch: the loader's order, the losses, the statistics
