"""The lesson's jobs through the training service on tiny CPU runs: what a run leaves in the store, what a reader
(another process, a restarted server) loads back from the store alone, the comparison recipes, Stop, and the
interpretation helpers against scikit-learn and torch."""
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from core.backends import make_backend
from core.datasets import resolve
from core.device import seed_everything
from core.errors import StudentError
from core.inputs import InputStore
from core.metrics import error_rate
from core.models import create_backbone
from core.runs import CANCELLED, DONE, RunStore, read_progress
from core.serialize import model_to_bytes
from core.service import TrainingService
from core.vision import figures
from core.vision.data import bundle_classes, load_embedded, make_dataloaders
from core.vision.interpret import cell_items, confusion_matrix, most_confused, results_sample, top_losses
from core.vision.jobs import load_run
from core.vision.train import CPU_BATCH_SIZE, batch_plan, classifier_from_files, settings
from tests.helpers import wait_until

TINY = dict(size=64, bs=16, lr=1e-2, seed=1, valid_pct=0.25)
BIRDS = resolve("birds").path


@pytest.fixture(scope="module")
def service(module_service):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LESSON1_DEVICE", "cpu")
        yield module_service


def birds_zip(service, every: int = 2, label: str = "is_bird") -> dict:
    """Every `every`-th group of the embedded photos as a student's zip (one folder per class), kept in the store."""
    import csv
    with open(BIRDS / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = set(sorted({r["group"] for r in rows})[::every])
    by_class: dict[str, list] = {}
    for r in rows:
        if r["group"] in keep:
            by_class.setdefault(r[label], []).append((r["file"].rsplit("/", 1)[-1], (BIRDS / r["file"]).read_bytes()))
    return InputStore(service.store.root).put(bundle_classes(by_class), kind="image_zip", name="birds.zip",
                                             owner="tests")


@pytest.fixture(scope="module")
def half_birds(service):
    return birds_zip(service)


@pytest.fixture(scope="module")
def trained(service, half_birds):
    run = service.submit("image_classification", "fit", half_birds, TINY, owner="t")
    record = service.wait(run.id, timeout=600)
    assert record.status == DONE, record.error
    return record


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


def test_fine_tune_lowers_the_error_and_keeps_everything_the_results_draw(trained, service):
    run = load_run(service.store, trained)
    assert [r["phase"] for r in trained.epoch_table] == ["frozen", "unfrozen"]
    final = trained.epoch_table[-1]["error_rate"]
    assert final < untrained_error(run.items, TINY) - 0.1
    assert trained.info["weights_source"] == "embedded" and "efficientnet" in trained.info["weights_detail"].lower()
    assert len(run.probs) == len(run.valid_idx) == len(run.targets) == len(run.losses)
    np.testing.assert_allclose(run.probs.sum(1), 1, atol=1e-5)
    assert trained.metrics["error_rate"] == pytest.approx(float((run.predicted != run.targets).mean()))
    assert abs(trained.metrics["error_rate"] - final) < 1e-6                 # the epoch table and the arrays agree
    assert sorted(np.concatenate([run.valid_idx, run.train_idx]).tolist()) == list(range(len(run.items)))
    assert run.vocab == ["bird", "not bird"] and run.results["vocab"] == run.vocab
    assert run.results["recipe"] == "fine_tune" and run.results["pretrained"] is True


def test_a_reader_rebuilds_the_same_predictions_from_the_store_alone(trained, service, tmp_path):
    """Another server process (here: a new service on the same folder) knows nothing but the run store."""
    root = service.store.root
    elsewhere = TrainingService(RunStore(root), make_backend("thread", root, 1))
    try:
        run = load_run(elsewhere.store, elsewhere.store.read(trained.id))
    finally:
        elsewhere.shutdown()
    np.testing.assert_allclose(run.classifier.predict(run.valid_images), run.probs, atol=1e-4)


def test_weight_stats_show_the_frozen_body_still_and_the_head_moving(trained, service):
    stats = read_progress(service.store, trained.id).weight_stats
    assert stats, "fine_tune should record per-layer statistics as events"
    frozen = [r for r in stats if r["phase"] == "frozen"]
    last_step = max(r["step"] for r in frozen)
    end_of_frozen = {r["layer"]: r["weight_change"] for r in frozen if r["step"] == last_step}
    head = end_of_frozen.pop("classifier")
    assert head > 0.05
    assert set(end_of_frozen.values()) == {0.0}              # the body's kernels did not move (BatchNorm not counted)
    assert "bn1" not in end_of_frozen and "blocks.0" in end_of_frozen
    unfrozen = [r for r in stats if r["phase"] == "unfrozen"]
    end = {r["layer"]: r["weight_change"] for r in unfrozen if r["step"] == max(x["step"] for x in unfrozen)}
    assert end["conv_stem"] > 0 and end["blocks.6"] > 0       # after unfreezing the body moves too


def test_export_and_load_back_predict_the_same(trained, service):
    run = load_run(service.store, trained)
    weights, meta = model_to_bytes(run.classifier.model, run.classifier.export_meta())
    loaded = classifier_from_files(weights, meta)
    photos = run.valid_images[:5]
    np.testing.assert_allclose(loaded.predict(photos), run.classifier.predict(photos), atol=1e-5)
    assert loaded.vocab == ["bird", "not bird"]


def test_lr_find_job_finds_a_valley(service):
    run = service.submit("image_classification", "lr_find", {"dataset": "birds", "label": "is_bird"},
                         dict(TINY, size=32), owner="lr")
    record = service.wait(run.id, timeout=300)
    assert record.status == DONE, record.error
    found = service.store.results(run.id)
    assert len(found["lrs"]) == len(found["losses"]) >= 10
    assert found["lrs"] == sorted(found["lrs"])
    assert found["lrs"][0] <= found["valley"] <= found["lrs"][-1]


def test_the_multi_class_version_learns_which_kind_of_thing_it_is(service):
    """Six classes (birds, animals, food, plants, vehicles, things), the embedded photos named by reference."""
    run = service.submit("image_classification", "fit", {"dataset": "birds", "label": "kind"},
                         dict(TINY, size=48, epochs=2), owner="kinds")
    record = service.wait(run.id, timeout=600)
    assert record.status == DONE, record.error
    loaded = load_run(service.store, record)
    assert len(loaded.vocab) == 6 and loaded.probs.shape[1] == 6
    assert loaded.items.vocab == loaded.vocab and len(loaded.items) == len(load_embedded(BIRDS, "kind"))
    assert record.metrics["error_rate"] < untrained_error(loaded.items, dict(TINY, size=48)) - 0.2


def test_fit_one_cycle_from_random_weights_is_said_and_trains_everything_from_the_start(service):
    run = service.submit("image_classification", "fit", birds_zip(service, every=4),
                         dict(TINY, size=32, recipe="fit_one_cycle", pretrained=False, epochs=2), owner="scratch")
    record = service.wait(run.id, timeout=600)
    assert record.status == DONE, record.error
    assert record.info["weights_source"] == "random"                         # the page says it loudly from this
    assert [r["phase"] for r in record.epoch_table] == ["one_cycle", "one_cycle"]    # no frozen epoch
    stats = read_progress(service.store, record.id).weight_stats
    first_step = min(r["step"] for r in stats)
    body = [r for r in stats if r["step"] == first_step and r["layer"] == "conv_stem"]
    assert body and body[0]["trainable"] and body[0]["grad_norm"] > 0       # the body learns from step one
    results = load_run(service.store, record).results
    assert results["recipe"] == "fit_one_cycle" and results["pretrained"] is False
    assert results["weights_source"] == "random"
    assert [t.name for t in figures.inside_figure(stats).data if t.type == "bar"] == ["at the end of training"]


def test_stop_keeps_the_model_and_says_it_stopped_early(service, half_birds):
    run = service.submit("image_classification", "fit", half_birds, dict(TINY, size=32, epochs=20), owner="stop")
    wait_until(lambda: read_progress(service.store, run.id).losses, timeout=300)
    service.cancel(run.id, by="stop")
    record = service.wait(run.id, timeout=300)
    assert record.status == CANCELLED
    loaded = load_run(service.store, record)
    assert loaded.results["stopped_early"] and len(record.epoch_table) < 21
    np.testing.assert_allclose(loaded.probs.sum(1), 1, atol=1e-5)


@pytest.mark.parametrize("config, key, words", [
    (dict(size="huge"), "size", "'size' must be a whole number"),
    (dict(recipe="fit_everything"), "recipe", "'recipe' must be fine_tune or fit_one_cycle"),
    (dict(pretrained="yes"), "pretrained", "'pretrained' must be true or false"),
    (dict(lr=-1.0), "lr", "'lr' must be a number from 1e-07 to 1 "),
    (dict(backbone="resnet9000"), "backbone", "'backbone' must be one of"),
])
def test_settings_out_of_range_are_refused_with_a_sentence(service, config, key, words):
    """A link or an old run can carry anything: the service (class limits) or the job refuses it in words."""
    with pytest.raises(StudentError, match=words):
        settings(config)
    try:
        run = service.submit("image_classification", "lr_find", {"dataset": "birds"}, config, owner="bad")
    except StudentError as e:
        said = str(e)
    else:
        record = service.wait(run.id, timeout=60)
        assert record.status == "failed"
        said = record.error
    assert f"'{key}'" in said and "Traceback" not in said


@pytest.mark.parametrize("data, words", [
    ({"dataset": "imagenet"}, "no photo collection called 'imagenet'"),
    ({"dataset": "birds", "label": "colour"}, "can be labelled is_bird or kind"),
    ({"dataset": "pets", "label": "is_cat", "limit": -5}, "whole number up to"),
    ({"input": "0" * 64, "kind": "image_zip", "name": "gone.zip"}, "not known|no longer on the server"),
])
def test_data_that_cannot_be_had_fails_the_run_with_a_sentence(service, data, words):
    import re
    if "dataset" in data and data["dataset"] not in ("birds", "pets"):
        from core.errors import LimitError
        with pytest.raises(LimitError):                                   # the service knows its datasets
            service.submit("image_classification", "fit", data, TINY, owner="data")
        from core.vision.jobs import read_items
        with pytest.raises(StudentError, match=words):
            read_items(data, None)
        return
    run = service.submit("image_classification", "fit", data, TINY, owner="data")
    record = service.wait(run.id, timeout=120)
    assert record.status == "failed" and re.search(words, record.error), record.error


# ---- the helpers, against scikit-learn and torch ---------------------------------------------------------------
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


def test_show_results_takes_the_classes_in_turn_not_the_first_class_only():
    targets = np.array([0] * 28 + [1] * 45)                # a validation set kept class by class, as ours is
    shown = results_sample(targets)
    assert len(shown) == 12 and len(set(shown.tolist())) == 12 and np.bincount(targets[shown]).tolist() == [6, 6]
    np.testing.assert_array_equal(shown, results_sample(targets))                     # the same photos every time
    few = np.array([2, 2, 0, 1, 1, 1])                     # fewer items than asked for, one class with a single item
    assert sorted(results_sample(few).tolist()) == list(range(6))
    six_classes = np.repeat(np.arange(6), 10)
    assert np.bincount(six_classes[results_sample(six_classes)]).tolist() == [2] * 6


def test_a_frozen_layer_is_a_gap_on_the_log_charts_not_a_made_up_floor():
    stats = [{"step": step, "layer": layer, "phase": phase, "weight_change": 0.0 if frozen else 0.01 * step,
              "grad_norm": 0.0 if frozen else 0.5}
             for step, phase in [(1, "frozen"), (2, "frozen"), (3, "unfrozen")]
             for layer in ["blocks.0", "classifier"] for frozen in [layer == "blocks.0" and phase == "frozen"]]
    grads = {t["name"]: list(t["y"]) for t in figures.layer_lines(stats, "grad_norm")}
    assert grads == {"blocks.0": [None, None, 0.5], "classifier": [0.5, 0.5, 0.5]}
    moved = {t["name"]: list(t["y"]) for t in figures.layer_lines(stats, "weight_change")}
    assert moved["blocks.0"] == [None, None, 0.03]                      # its weights still until it is unfrozen


class FakeContext:
    """Just what batch_plan reads from a RunContext."""
    def __init__(self, memory_budget=None):
        self.device, self.memory_budget = torch.device("cpu"), memory_budget


@pytest.fixture(scope="module")
def small_birds():
    items = load_embedded(BIRDS, "is_bird")
    groups = set(sorted(set(items.groups))[::2])
    return items.subset([i for i, g in enumerate(items.groups) if g in groups])


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


def test_the_gpu_recipe_bf16_and_channels_last_trains_end_to_end(service, monkeypatch):
    """The CUDA path's precision and memory layout, run on the CPU (the service trains on a thread of this
    process): catches dtype and layout mistakes that would otherwise only show on a GPU (bf16 logits reaching
    numpy, channels-last weights in the export...)."""
    import core.device
    import core.learner
    import core.vision.train as vision_train
    for module in (core.device, core.learner):
        monkeypatch.setattr(module, "autocast_dtype", lambda device: torch.bfloat16)
    for module in (core.device, vision_train):
        monkeypatch.setattr(module, "prefers_channels_last", lambda device: True)
    run = service.submit("image_classification", "fit", birds_zip(service, every=4), dict(TINY, size=32),
                         owner="bf16")
    record = service.wait(run.id, timeout=600)
    assert record.status == DONE, record.error
    loaded = load_run(service.store, record)
    assert loaded.probs.dtype == np.float32 and np.isfinite(loaded.probs).all()
    assert all(np.isfinite(row["train_loss"]) and np.isfinite(row["valid_loss"]) for row in record.epoch_table)
    model = loaded.classifier.model
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in model.parameters())
    meta = json.loads((service.store.path(run.id) / "model.json").read_text())
    assert meta["vocab"] == loaded.vocab and meta["size"] == 32


def test_runs_on_the_same_photos_share_one_copy_of_them(service, half_birds):
    """A class of 30 looking at runs on the embedded photos holds them in memory once, not once per run."""
    from core.vision.jobs import read_items
    inputs = InputStore(service.store.root)
    birds = {"dataset": "birds", "label": "is_bird"}
    assert read_items(birds, None) is read_items(dict(birds), None)
    assert read_items(half_birds, inputs) is read_items(dict(half_birds), inputs)
    assert read_items({"dataset": "birds", "label": "kind"}, None).vocab != read_items(birds, None).vocab


def test_the_bird_lessons_training_steps_read_nothing_back_from_the_device(monkeypatch, tmp_path):
    """A read of a number from the training device (`.item()`, `.tolist()`, a copy to the CPU) makes the CPU wait
    for the GPU: the lesson's training reads a few times an epoch (its losses, its per-layer statistics, the
    metric), never at every step. Counted here on the CPU; tests/test_gpu.py counts the real waits on a GPU."""
    from tests.helpers import bird_training_reads, count_reads
    reads = count_reads(monkeypatch, ("item", "tolist", "cpu", "numpy"))
    per_fit, steps = bird_training_reads(tmp_path, torch.device("cpu"), monkeypatch, lambda: len(reads))
    assert len(per_fit) == 2 and steps >= 60            # fine_tune(1): the frozen epoch, then the unfrozen one
    assert all(n <= 5 for n in per_fit), per_fit       # per epoch: the losses, the statistics, the metric


def test_what_changed_inside_is_one_figure_with_each_layer_once_in_its_legend():
    stats = [{"step": step, "layer": layer, "phase": phase, "weight_change": 0.01 * step, "grad_norm": 0.5}
             for step, phase in [(1, "frozen"), (2, "frozen"), (3, "unfrozen")] for layer in ["blocks.0", "classifier"]]
    fig = figures.inside_figure(stats)
    bars = [t for t in fig.data if t.type == "bar"]
    lines = [t for t in fig.data if t.type == "scatter"]
    assert [b.name for b in bars] == ["after the frozen epoch(s)", "at the end of training"]
    assert list(bars[1].y) == [0.03, 0.03]
    assert [t.name for t in lines] == ["blocks.0", "classifier"] * 2           # weights moved, then gradients
    assert [t.name for t in lines if t.showlegend is not False] == ["blocks.0", "classifier"]
    assert all(t.legendgroup == t.name for t in lines)                     # a click on a layer hides both lines
    assert fig.layout.yaxis.type == fig.layout.yaxis2.type == fig.layout.yaxis3.type == "log"   # the body's small moves
    assert {s.x0 for s in fig.layout.shapes if s.line.dash == "dash"} == {2.5}
    narrow = figures.inside_figure(stats, narrow=True)                    # a phone: one under the other
    lying = [t for t in narrow.data if t.type == "bar"]
    assert all(b.orientation == "h" and list(b.y) == ["blocks.0", "classifier"] for b in lying)
    assert narrow.layout.xaxis.type == "log" and narrow.layout.yaxis3.domain[1] < narrow.layout.yaxis2.domain[0]
