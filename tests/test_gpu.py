"""What only a GPU can show: the CUDA recipe (bf16 autocast, channels-last) trains and exports, a job's predicted
memory covers what it really uses, a real out-of-memory error fails one job alone, and jobs share one GPU.

Skipped without CUDA; benchmarks/gpu_check.sh runs them on a lent GPU (`pytest -m gpu`).
"""
import functools

import numpy as np
import pytest
import torch

from core.datasets import resolve
from core.jobs import JobRunner

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def birds():
    from core.vision.data import load_embedded
    return load_embedded(resolve("birds").path, "is_bird")


@pytest.fixture()
def runner(tmp_path):
    r = JobRunner(workers=1, runs_path=tmp_path)
    yield r
    r.shutdown()


def _peak_of(runner, fn, **submit):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    snap = runner.wait(runner.submit(fn, owner="gpu", kind="gpu", title="gpu", **submit), timeout=600)
    return snap, (torch.cuda.max_memory_allocated() - before) / 2**20


def test_bird_lesson_trains_in_bf16_channels_last_and_exports_to_the_cpu(birds, runner):
    from core.serialize import load_model
    from core.vision.train import fine_tune_job, from_export
    snap, _ = _peak_of(runner, functools.partial(fine_tune_job, items=birds, config=dict(size=128, seed=42)))
    assert snap.status == "done", snap.error
    res = snap.result
    assert snap.epoch_table[-1]["error_rate"] < 0.15
    assert snap.info["batch_size"] >= 16                         # sized to the GPU share, not the CPU default
    state, meta = load_model(runner.runs_path / snap.id / "model")
    reloaded = from_export(state, meta)                          # float32, on the CPU
    assert next(reloaded.model.parameters()).device.type == "cpu"
    valid = [res["items"].images[i] for i in res["valid_idx"]]
    probs = reloaded.predict(valid)
    agree = (probs.argmax(1) == res["probs"].argmax(1)).mean()
    assert agree > 0.95                                          # bf16 in training, float32 on the CPU: same answers


@pytest.mark.parametrize("lesson", ["image_classification", "segmentation"])
def test_a_jobs_predicted_memory_covers_its_real_peak(lesson, birds, runner):
    if lesson == "image_classification":
        from core.vision.train import fine_tune_job
        fn = functools.partial(fine_tune_job, items=birds, config=dict(size=224, seed=0))
    else:
        from core.segmentation.data import load_folder
        from core.segmentation.train import fine_tune_job
        fn = functools.partial(fine_tune_job, items=load_folder(resolve("scenes").path), config=dict(epochs=1))
    snap, peak_mib = _peak_of(runner, fn)
    assert snap.status == "done", snap.error
    predicted = snap.info["estimated_peak_mib"]
    assert peak_mib <= predicted, f"{lesson}: used {peak_mib:.0f} MiB, predicted {predicted} MiB"


def test_a_real_cuda_out_of_memory_fails_that_job_alone(runner):
    def greedy(ctx):
        torch.empty(int(torch.cuda.get_device_properties(0).total_memory * 2), dtype=torch.uint8, device=ctx.device)

    def modest(ctx):
        return float(torch.ones(1000, device=ctx.device).sum())

    bad = runner.wait(runner.submit(greedy, owner="a", kind="gpu", title="greedy"), timeout=120)
    assert bad.status == "failed" and "ran out of memory" in bad.error
    good = runner.wait(runner.submit(modest, owner="a", kind="gpu", title="modest"), timeout=120)
    assert good.status == "done" and good.result == 1000.0
    assert torch.cuda.memory_allocated() < 2**30                 # the greedy job's memory was given back


def test_tabular_and_collab_jobs_train_on_the_gpu(runner):
    from core.collab.data import embedded_movielens
    from core.collab.jobs import fit_job as collab_fit
    from core.collab.train import CollabSettings
    from core.datasets import load_embedded_table
    from core.tabular.jobs import fit_job as tabular_fit
    from core.tabular.table import ADULT_SPEC, load_adult
    tab = runner.wait(runner.submit(functools.partial(tabular_fit, df=load_adult(resolve("adult").path),
                                                      spec=ADULT_SPEC, lr=1e-2, epochs=2, baseline=False),
                                    owner="t", kind="tabular", title="t"), timeout=300)
    assert tab.status == "done", tab.error
    assert tab.result.summary["device"].startswith("cuda") and tab.result.summary["accuracy"] > 0.8
    ratings = embedded_movielens(load_embedded_table("movielens"))
    col = runner.wait(runner.submit(functools.partial(collab_fit, ratings=ratings, settings=CollabSettings(),
                                                      lr=1e-2, epochs=3), owner="c", kind="collab", title="c"),
                      timeout=300)
    assert col.status == "done", col.error
    assert col.result.summary["rmse"] < col.result.summary["baseline"]["mean_rmse"]


def test_several_jobs_share_one_gpu_and_each_keeps_to_its_share(birds, tmp_path):
    from core.vision.train import fine_tune_job
    shared = JobRunner(workers=3, runs_path=tmp_path)
    try:
        jobs = [shared.submit(functools.partial(fine_tune_job, items=birds, config=dict(size=96, seed=i)),
                              owner=f"s{i}", kind="v", title="v") for i in range(3)]
        snaps = [shared.wait(j, timeout=600) for j in jobs]
    finally:
        shared.shutdown()
    assert [s.status for s in snaps] == ["done"] * 3, [s.error for s in snaps]
    total = torch.cuda.get_device_properties(0).total_memory / 2**20
    for s in snaps:
        assert s.info["memory_budget_mib"] <= total / 3
        assert s.info["estimated_peak_mib"] <= s.info["memory_budget_mib"]
        assert np.isfinite(s.epoch_table[-1]["error_rate"])
