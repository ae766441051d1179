import math

import numpy as np
import pytest
import torch
from torch import nn

from core.callbacks import Callback, CancelFitException, Recorder, WeightStats
from core.device import seed_everything
from core.learner import Learner, valley
from core.metrics import accuracy, error_rate, rmse
from core.schedules import one_cycle
from tests.helpers import BodyHead, body_head_splitter, count_reads, xor_data


def make_learner(seed=0, **kw):
    seed_everything(seed)
    return Learner(BodyHead(seed), xor_data(seed=seed), nn.CrossEntropyLoss(), metrics=[accuracy],
                   splitter=body_head_splitter, device=torch.device("cpu"), **kw)


def test_fit_one_cycle_lowers_the_loss_and_fills_the_epoch_table():
    learn = make_learner()
    before = learn.get_preds()[2].mean().item()
    learn.fit_one_cycle(4, 1e-2)
    after = learn.get_preds()[2].mean().item()
    assert after < before * 0.7
    rows = learn.recorder.epochs
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
    assert set(rows[0]) >= {"train_loss", "valid_loss", "accuracy", "time"}
    assert rows[-1]["accuracy"] > 0.8
    assert rows[-1]["valid_loss"] == pytest.approx(after, rel=1e-4)
    assert len(learn.recorder.losses) == 4 * len(learn.dls.train)


def test_one_cycle_learning_rate_warms_up_then_anneals():
    learn = make_learner()
    learn.fit_one_cycle(3, 1e-2, pct_start=0.25)
    lrs = np.array([row["lr"] for row in learn.recorder.losses])
    peak = lrs.argmax()
    assert lrs[0] == pytest.approx(1e-2 / 25, rel=0.05)
    assert lrs.max() == pytest.approx(1e-2, rel=0.01)
    assert 0.2 < peak / len(lrs) < 0.3
    assert np.all(np.diff(lrs[:peak]) > 0) and np.all(np.diff(lrs[peak + 1:]) < 0)
    assert lrs[-1] < 1e-2 / 100                                # annealed almost to nothing


def test_one_cycle_schedule_matches_its_definition():
    assert one_cycle(0.0) == pytest.approx((1 / 25, 0.95))
    assert one_cycle(0.25) == pytest.approx((1.0, 0.85))
    assert one_cycle(1.0) == pytest.approx((1e-5, 0.95))
    lr_mid, mom_mid = one_cycle(0.125)                         # half way up: cosine midpoint
    assert lr_mid == pytest.approx((1 / 25 + 1) / 2) and mom_mid == pytest.approx(0.9)


def test_same_seed_same_run():
    a, b = make_learner(seed=3), make_learner(seed=3)
    a.fit_one_cycle(1, 1e-2)
    b.fit_one_cycle(1, 1e-2)
    assert [r["raw"] for r in a.recorder.losses] == [r["raw"] for r in b.recorder.losses]


def test_lr_find_suggests_a_sensible_rate_and_restores_the_weights():
    learn = make_learner()
    start = {k: v.clone() for k, v in learn.model.state_dict().items()}
    result = learn.lr_find(num_it=80)
    assert 1e-5 < result.valley < 1.0
    assert len(result.lrs) == len(result.losses) > 20
    assert all(a < b for a, b in zip(result.lrs, result.lrs[1:]))
    for k, v in learn.model.state_dict().items():
        assert torch.equal(v, start[k]), k
    assert learn.recorder.losses == []                         # lr_find is not training history
    assert learn.phase is None
    learn.fit_one_cycle(1, 1e-2)                               # and training after it is recorded as ever
    assert len(learn.recorder.losses) == len(learn.dls.train)


def test_no_weight_decay_on_biases_and_norm_layers_as_fastai():
    learn = make_learner(wd=0.1)
    opt = learn._make_optimizer()
    for group in opt.param_groups:
        if any(p.ndim <= 1 for p in group["params"]):
            assert group["weight_decay"] == 0.0
        elif group["params"]:
            assert group["weight_decay"] == 0.1


def test_valley_picks_the_middle_of_the_longest_descent():
    lrs = list(np.geomspace(1e-7, 10, 100))
    losses = [2.0] * 30 + list(np.linspace(2.0, 0.5, 40)) + list(np.linspace(0.5, 5.0, 30))
    suggestion = valley(lrs, losses)
    assert lrs[40] <= suggestion <= lrs[60]
    assert valley([1e-3], [1.0]) is None                       # too short to say


class Snapshots(Callback):
    def __init__(self):
        self.after = []

    def after_epoch(self):
        self.after.append({k: v.detach().clone() for k, v in self.learn.model.state_dict().items()})


def test_fine_tune_trains_the_head_first_then_everything_with_discriminative_rates():
    snaps = Snapshots()
    learn = make_learner(cbs=[snaps])
    start = {k: v.clone() for k, v in learn.model.state_dict().items()}
    group_lrs = []

    class LRs(Callback):
        def after_step(self):
            if self.learn.iter == 0:
                group_lrs.append((self.learn.phase, sorted({(g["split"], g["lr"]) for g in self.learn.opt.param_groups})))

    learn.add_cb(LRs())
    learn.fine_tune(2, base_lr=1e-2, freeze_epochs=1, lr_mult=100)
    frozen, unfrozen = snaps.after[0], snaps.after[-1]
    assert torch.equal(frozen["body.0.weight"], start["body.0.weight"])     # frozen body: still
    assert torch.equal(frozen["body.3.weight"], start["body.3.weight"])
    assert not torch.equal(frozen["body.1.weight"], start["body.1.weight"])  # BatchNorm keeps training
    assert not torch.equal(frozen["head.weight"], start["head.weight"])     # new head: moves
    assert not torch.equal(unfrozen["body.0.weight"], frozen["body.0.weight"])
    assert [r["phase"] for r in learn.recorder.epochs] == ["frozen", "unfrozen", "unfrozen"]
    phase, lrs = group_lrs[1]
    assert phase == "unfrozen"
    by_group = dict(lrs)
    assert by_group[2] / by_group[0] == pytest.approx(100, rel=1e-6)      # head / earliest body group
    assert by_group[2] == pytest.approx(1e-2 / 2 / 5)          # fastai halves base_lr, then warms up from lr/div
    assert by_group[0] < by_group[1] < by_group[2]


def test_cancel_ends_the_fit_cleanly_and_keeps_what_was_trained():
    events = []

    class StopAtBatch5(Callback):
        def after_batch(self):
            if self.learn.training and self.learn.iter == 4:
                raise CancelFitException()

        def after_cancel_fit(self):
            events.append("cancelled")

        def after_fit(self):
            events.append("after_fit")

    learn = make_learner(cbs=[StopAtBatch5()])
    start = learn.model.head.weight.detach().clone()
    learn.fine_tune(3, base_lr=1e-2)
    assert learn.cancelled
    assert events == ["cancelled", "after_fit"]                # and fine_tune did not go on to unfreeze
    assert len(learn.recorder.losses) == 5
    assert not torch.equal(learn.model.head.weight, start)


def test_get_preds_per_item_losses_match_torch():
    learn = make_learner()
    learn.fit_one_cycle(1, 1e-2)
    preds, targets, losses = learn.get_preds()
    expected = nn.functional.cross_entropy(preds, targets, reduction="none")
    assert torch.allclose(losses, expected, atol=1e-6)
    assert len(preds) == learn.dls.valid.n


def test_metrics_match_sklearn():
    from sklearn.metrics import accuracy_score, mean_squared_error
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(200, 3, generator=g), torch.randint(0, 3, (200,), generator=g)
    assert accuracy(logits, targets) == pytest.approx(accuracy_score(targets, logits.argmax(1)))
    assert error_rate(logits, targets) == pytest.approx(1 - accuracy_score(targets, logits.argmax(1)))
    a, b = torch.randn(50, generator=g), torch.randn(50, generator=g)
    assert rmse(a, b) == pytest.approx(math.sqrt(mean_squared_error(b, a)), rel=1e-5)


def test_weight_stats_shows_a_frozen_body_standing_still():
    stats = WeightStats(every=1)
    learn = make_learner(cbs=[stats])
    learn.fine_tune(1, base_lr=1e-2)
    frozen = [r for r in stats.records if r["phase"] == "frozen"]
    unfrozen = [r for r in stats.records if r["phase"] == "unfrozen"]
    body0 = [r for r in frozen if r["layer"] == "body.0"]
    assert body0 and all(r["weight_change"] == 0 and r["grad_norm"] == 0 for r in body0)
    assert frozen[-1]["layer"] == "head" and any(r["weight_change"] > 0 for r in frozen if r["layer"] == "head")
    assert any(r["layer"] == "body.0" and r["weight_change"] > 0 for r in unfrozen)


def test_weight_stats_are_torch_norms_taken_at_each_backward_and_read_once_an_epoch(monkeypatch):
    """Per layer: the gradient's norm and how far the weights moved from the start (relative), as torch's own norms
    give them at the moment of the backward (before the optimizer moves the weights); read from the device once an
    epoch, not twice per layer at every step."""
    stats = WeightStats(every=1)
    expected = []

    class Reference(Callback):
        order = 6                                        # just after WeightStats, at the same moment

        def after_backward(self):
            for layer, params in stats._layers().items():
                grads = [p.grad.flatten() for _, p in params if p.grad is not None]
                moved = torch.cat([(p.detach() - stats.start[n]).flatten() for n, p in params])
                start = torch.cat([stats.start[n].flatten() for n, _ in params])
                expected.append((layer, torch.linalg.vector_norm(torch.cat(grads)).item() if grads else 0.0,
                                 (torch.linalg.vector_norm(moved) / torch.linalg.vector_norm(start)).item()))

    learn = make_learner(cbs=[stats, Reference()])
    learn.fine_tune(1, base_lr=1e-2)
    got = [(r["layer"], r["grad_norm"], r["weight_change"]) for r in stats.records]
    assert [g[0] for g in got] == [e[0] for e in expected] and len(got) > 20
    for (_, grad, change), (_, grad_ref, change_ref) in zip(got, expected):
        assert grad == pytest.approx(grad_ref, rel=1e-5, abs=1e-7)
        assert change == pytest.approx(change_ref, rel=1e-5, abs=1e-7)

    weights = WeightStats(every=1)
    learn = make_learner(cbs=[weights])
    reads = count_reads(monkeypatch)
    learn.fit(2, 1e-2)
    n_records = len(weights.records)
    monkeypatch.undo()
    n_validation = 2 * len(learn.dls.valid)              # the recorder reads each validation batch's loss
    assert n_records == 2 * len(learn.dls.train) * len(weights._layers())    # every step, every layer
    assert len(reads) <= n_validation + 2 * 2 + 1, reads  # + per epoch its losses and the metric; + the stats, once


def test_a_short_image_batch_in_evaluation_is_padded_to_the_batch_size_and_answers_the_same():
    from core.data import DataLoaders, DeviceLoader
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(20, 3, 8, 8, generator=g), torch.randint(0, 2, (20,), generator=g)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    dls = DataLoaders(DeviceLoader(x, y, batch_size=8), DeviceLoader(x, y, batch_size=8))
    learn = Learner(model, dls, nn.CrossEntropyLoss(), metrics=[accuracy], device=torch.device("cpu"))
    learn.fit(1, 1e-2)
    sizes = []
    model.register_forward_hook(lambda module, inputs, output: sizes.append(len(inputs[0])))
    plain = learn.get_preds()
    assert sizes == [8, 8, 4]
    learn.pad_eval_batches, sizes[:] = True, []          # as on a GPU
    padded = learn.get_preds()
    assert sizes == [8, 8, 8]                            # 20 photos: the last batch of 4 ran as one of 8
    for a, b in zip(plain, padded):
        assert torch.allclose(a, b, atol=1e-6) and a.shape == b.shape
    learn._validate()
    assert sizes[-3:] == [8, 8, 8]                       # and validation after each epoch too


def test_the_recorder_reads_losses_in_batches_and_keeps_every_one_as_it_was(monkeypatch):
    """Reading a loss makes the CPU wait for the GPU: the recorder reads them together, not once per batch, and what
    it records is what the batches gave."""
    seen = []

    class Losses(Callback):
        order = -20                                             # before the recorder, at every batch

        def after_loss(self):
            if self.learn.training:
                seen.append((self.learn.loss.detach().clone(), len(self.learn.yb)))

    learn = make_learner(cbs=[Losses()])
    reads = count_reads(monkeypatch)
    learn.fit(2, 1e-2)
    monkeypatch.undo()
    n_batches = 2 * len(learn.dls.train)
    assert n_batches >= 20 and len(reads) <= 10, (n_batches, reads)

    raw = [loss.item() for loss, _ in seen]
    assert [r["raw"] for r in learn.recorder.losses] == raw
    smooth, expected = 0.0, []
    for i, loss in enumerate(raw, start=1):
        smooth = 0.98 * smooth + 0.02 * loss
        expected.append(smooth / (1 - 0.98 ** i))
    assert [r["train_loss"] for r in learn.recorder.losses] == pytest.approx(expected, rel=1e-12)
    first_epoch = seen[:len(learn.dls.train)]
    mean = sum(loss.item() * n for loss, n in first_epoch) / sum(n for _, n in first_epoch)
    assert learn.recorder.epochs[0]["train_loss"] == pytest.approx(mean, rel=1e-12)


def test_the_recorder_reads_at_least_every_read_every_steps(monkeypatch):
    monkeypatch.setattr(Recorder, "READ_EVERY", 3)
    learn = make_learner()
    unread = []

    class Watch(Callback):
        order = 0                                               # after the recorder

        def after_batch(self):
            if self.learn.training:
                unread.append(len(self.learn.recorder._unread))

    learn.add_cb(Watch())
    learn.fit(1, 1e-2)
    assert max(unread) < 3 and len(learn.recorder.losses) == len(learn.dls.train)
