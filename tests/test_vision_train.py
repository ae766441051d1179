"""The training jobs end to end on a tiny CPU run, export/load, and the interpretation helpers."""
import functools

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from core.datasets import resolve
from core.device import seed_everything
from core.jobs import MODEL_FILE, JobRunner
from core.metrics import error_rate
from core.models import create_backbone
from core.serialize import load_model, model_from_bytes, model_to_bytes
from core.vision import figures
from core.vision.data import load_embedded, make_dataloaders
from core.vision.interpret import cell_items, confusion_matrix, most_confused, top_losses
from core.vision.train import CPU_BATCH_SIZE, batch_plan, fine_tune_job, from_export, lr_find_job, settings

TINY = dict(size=64, bs=16, lr=1e-2, seed=1, valid_pct=0.25)


@pytest.fixture(scope="module")
def small_birds():
    """Every other group of the embedded photos: ~180 images, enough to learn, quick at 64 px."""
    items = load_embedded(resolve("birds").path, "is_bird")
    groups = sorted(set(items.groups))[::2]
    keep = [i for i, g in enumerate(items.groups) if g in set(groups)]
    return items.subset(keep)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    r = JobRunner(workers=1, runs_path=tmp_path_factory.mktemp("runs"))
    yield r
    r.shutdown()


@pytest.fixture(scope="module")
def trained(small_birds, runner):
    job = runner.submit(functools.partial(fine_tune_job, items=small_birds, config=TINY), owner="t",
                        kind="image_fine_tune", title="tiny")
    return runner.wait(job, timeout=240)


def untrained_error(items, cfg) -> float:
    """The same model, same head initialisation, same split, before any training."""
    cfg = settings(cfg)
    seed_everything(cfg["seed"])
    backbone = create_backbone(cfg["backbone"], len(items.vocab))
    data = make_dataloaders(items, cfg["size"], cfg["method"], cfg["valid_pct"], cfg["seed"], cfg["bs"],
                            backbone.spec.mean, backbone.spec.std)
    backbone.model.eval()
    with torch.no_grad():
        preds = torch.cat([backbone.model(x) for x, _ in data.dls.valid])
        targets = torch.cat([y for _, y in data.dls.valid])
    return error_rate(preds, targets)


def test_fine_tune_lowers_the_error_and_labels_frozen_and_unfrozen_epochs(trained, small_birds):
    assert trained.status == "done", trained.error
    res = trained.result
    assert [r["phase"] for r in res["epochs"]] == ["frozen", "unfrozen"]
    final = res["epochs"][-1]["error_rate"]
    assert final < untrained_error(small_birds, TINY) - 0.1
    assert res["weights_source"] == "embedded" and "efficientnet" in res["weights_detail"].lower()
    assert len(res["probs"]) == len(res["valid_idx"]) == len(res["targets"]) == len(res["losses"])
    np.testing.assert_allclose(res["probs"].sum(1), 1, atol=1e-5)
    # the job's epoch table and its own predictions agree
    assert abs(float((res["probs"].argmax(1) != res["targets"]).mean()) - final) < 1e-6


def test_weight_stats_show_the_frozen_body_still_and_the_head_moving(trained):
    stats = trained.weight_stats
    assert stats, "fine_tune should record per-layer statistics"
    frozen = [r for r in stats if r["phase"] == "frozen"]
    last_step = max(r["step"] for r in frozen)
    end_of_frozen = {r["layer"]: r["weight_change"] for r in frozen if r["step"] == last_step}
    head = end_of_frozen.pop("classifier")
    assert head > 0.05
    assert max(end_of_frozen.values()) < head / 20          # only BatchNorm moves in the body
    unfrozen = [r for r in stats if r["phase"] == "unfrozen"]
    end = {r["layer"]: r["weight_change"] for r in unfrozen if r["step"] == max(x["step"] for x in unfrozen)}
    assert end["conv_stem"] > end_of_frozen["conv_stem"]      # after unfreezing the body moves too


def test_export_and_load_back_predict_the_same(trained, small_birds):
    classifier = trained.result["classifier"]
    weights, meta = model_to_bytes(classifier.model, classifier.export_meta())
    loaded = from_export(*model_from_bytes(weights, meta))
    photos = small_birds.images[:5]
    np.testing.assert_allclose(loaded.predict(photos), classifier.predict(photos), atol=1e-5)
    assert loaded.vocab == ["bird", "not bird"]


def test_a_finished_run_keeps_its_weights_on_disk(trained, small_birds, runner):
    """After a server restart the run directory alone must rebuild the classifier."""
    classifier = trained.result["classifier"]
    loaded = from_export(*load_model(runner.runs_path / trained.id / MODEL_FILE))
    photos = small_birds.images[:5]
    np.testing.assert_allclose(loaded.predict(photos), classifier.predict(photos), atol=1e-5)


def test_loading_something_else_is_a_clear_error(trained):
    classifier = trained.result["classifier"]
    weights, _ = model_to_bytes(classifier.model, {})
    with pytest.raises(ValueError, match="not an image classifier"):
        from_export(*model_from_bytes(weights, b'{"task": "tabular"}'))
    bad_meta = dict(classifier.export_meta(), vocab=["a", "b", "c"])
    with pytest.raises(ValueError, match="do not fit"):
        from_export(*model_from_bytes(weights, __import__("json").dumps(bad_meta).encode()))


def test_lr_find_job_finds_a_valley(small_birds, runner):
    job = runner.submit(functools.partial(lr_find_job, items=small_birds, config=dict(TINY, size=32)),
                        owner="t", kind="image_lr_find", title="tiny lr_find")
    snap = runner.wait(job, timeout=120)
    assert snap.status == "done", snap.error
    found = snap.result
    assert len(found["lrs"]) == len(found["losses"]) >= 10
    assert found["lrs"] == sorted(found["lrs"])
    assert found["lrs"][0] <= found["valley"] <= found["lrs"][-1]


def test_confusion_matrix_top_losses_and_most_confused_match_sklearn_and_numpy():
    rng = np.random.default_rng(0)
    targets, predicted = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    cm = confusion_matrix(targets, predicted, 4)
    np.testing.assert_array_equal(cm, sk_confusion_matrix(targets, predicted, labels=range(4)))
    losses = rng.random(50)
    np.testing.assert_array_equal(top_losses(losses, 7), torch.topk(torch.tensor(losses), 7).indices.numpy())
    pairs = most_confused(cm, list("abcd"))
    assert [p[2] for p in pairs] == sorted((int(cm[i, j]) for i in range(4) for j in range(4) if i != j and cm[i, j]),
                                           reverse=True)
    assert all(cm["abcd".index(a), "abcd".index(b)] == n for a, b, n in pairs)
    where = cell_items(targets, predicted, 2, 1)
    assert len(where) == cm[2, 1] and ((targets[where] == 2) & (predicted[where] == 1)).all()


def test_confusion_figure_cells_carry_actual_and_predicted():
    cm = np.array([[5, 1], [2, 7]])
    fig = figures.confusion_figure(cm, ["bird", "not bird"])
    trace = fig.data[0]
    assert [int(t) for t in trace.text] == [5, 1, 2, 7]
    for (a, p), x, y in zip(trace.customdata, trace.x, trace.y):
        assert (y, x) == (["bird", "not bird"][a], ["bird", "not bird"][p])


class FakeContext:
    """Just what batch_plan reads from a JobContext."""
    def __init__(self, memory_budget=None):
        self.device, self.memory_budget = torch.device("cpu"), memory_budget


@pytest.mark.parametrize("budget, bs, expected", [
    (None, "auto", CPU_BATCH_SIZE),           # a CPU: the measured default
    (None, 8, 8),                             # the student's choice wins
    (80 * 2**30, "auto", 16),                 # a huge share: bounded by ~8 steps per epoch on ~140 photos
])
def test_batch_plan_sizes_the_batch_for_the_device_and_the_data(small_birds, budget, bs, expected):
    cfg = settings(dict(TINY, bs=bs))
    model = create_backbone(cfg["backbone"], 2, pretrained=False).model
    plan = batch_plan(FakeContext(budget), model, small_birds, cfg)
    assert plan.batch_size == expected
    assert plan.per_item_bytes > 0 and plan.fixed_bytes > len(small_birds) * 3 * 64 * 64
    assert plan.reason


def test_batch_plan_fits_a_tight_share_of_the_gpu(small_birds):
    cfg = settings(dict(TINY, bs="auto"))
    model = create_backbone(cfg["backbone"], 2, pretrained=False).model
    per_item = batch_plan(FakeContext(), model, small_birds, cfg).per_item_bytes
    fixed = batch_plan(FakeContext(), model, small_birds, cfg).fixed_bytes
    budget = int(fixed + 2.5 * 8 * per_item)                  # room for a batch of 8 (with headroom 2), not 16
    plan = batch_plan(FakeContext(budget), model, small_birds, cfg)
    assert plan.batch_size == 8 and plan.estimated_peak_bytes <= budget


def test_the_gpu_recipe_bf16_and_channels_last_trains_end_to_end(small_birds, monkeypatch, tmp_path):
    """The CUDA path's precision and memory layout, run on the CPU: catches dtype and layout mistakes that would
    otherwise only show on a GPU (bf16 logits reaching numpy, channels-last weights in the export...)."""
    import core.device
    import core.learner
    import core.vision.train as vision_train
    for module in (core.device, core.learner):
        monkeypatch.setattr(module, "autocast_dtype", lambda device: torch.bfloat16)
    for module in (core.device, vision_train):
        monkeypatch.setattr(module, "prefers_channels_last", lambda device: True)
    items = small_birds.subset(range(0, len(small_birds), 2))
    r = JobRunner(workers=1, runs_path=tmp_path)
    try:
        job = r.submit(functools.partial(fine_tune_job, items=items, config=dict(TINY, size=32)), owner="t",
                       kind="image_fine_tune", title="bf16")
        snap = r.wait(job, timeout=240)
    finally:
        r.shutdown()
    assert snap.status == "done", snap.error
    res = snap.result
    assert res["probs"].dtype == np.float32 and np.isfinite(res["probs"]).all()
    assert all(np.isfinite(row["train_loss"]) and np.isfinite(row["valid_loss"]) for row in res["epochs"])
    model = res["classifier"].model
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in model.parameters())
    loaded = from_export(*load_model(tmp_path / job / MODEL_FILE))
    np.testing.assert_allclose(loaded.predict(items.images[:3]), res["classifier"].predict(items.images[:3]),
                               atol=1e-5)


def test_the_multi_class_version_learns_which_kind_of_thing_it_is(runner):
    """Six classes (birds, animals, food, plants, vehicles, things): far better than the untrained model."""
    items = load_embedded(resolve("birds").path, "kind")
    groups = sorted(set(items.groups))[::2]
    items = items.subset([i for i, g in enumerate(items.groups) if g in set(groups)])
    cfg = dict(TINY, size=64, epochs=2)
    job = runner.submit(functools.partial(fine_tune_job, items=items, config=cfg), owner="kinds",
                        kind="image_fine_tune", title="kinds")
    snap = runner.wait(job, timeout=240)
    assert snap.status == "done", snap.error
    res = snap.result
    assert len(res["classifier"].vocab) == 6 and res["probs"].shape[1] == 6
    assert res["epochs"][-1]["error_rate"] < untrained_error(items, cfg) - 0.2     # measured: 0.66 vs 0.93
