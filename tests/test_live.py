"""The live panel's state as the browser polls it: core/live.py (the snapshot, thinned curves, the shared reader) and
ui/live_panel.py's route (who may read it, "nothing new" in a few bytes). The component itself is drawn in a real
browser by tests/test_browser_live_panel.py."""
import json
import math
import threading

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core import live
from core.runs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Progress, RunStore, RunWriter


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path)


def make(store, owner="alice"):
    return store.create("image_classification", "fit", owner, {"seed": 1}, {"dataset": "birds"}, title="t")


def train_a_little(store, run_id, batches=5, epochs_done=0, phase="frozen", nan_at=None):
    writer = RunWriter(store, run_id, flush_every=0.0)
    rows = [{"step": i + 1, "epoch": 0, "phase": phase, "train_loss": 1.0 / (i + 1),
             "raw": float("nan") if i == nan_at else 1.5 / (i + 1), "lr": 1e-3} for i in range(batches)]
    writer.event("losses", rows=rows, hold=True)
    writer.event("progress", stage=phase, fraction=0.25, epoch=1, n_epochs=2, batch=batches, n_batches=18)
    for e in range(epochs_done):
        writer.event("epoch", row={"epoch": e, "phase": phase, "train_loss": 0.5, "valid_loss": float("nan"),
                                   "error_rate": 0.0548, "time": 19.6}, valid={"step": batches, "valid_loss": 0.21})
    writer.flush()


def test_after_its_last_batch_the_line_says_what_the_job_does_then():
    progress = Progress().apply([
        {"e": "progress", "stage": "training", "epoch": 3, "n_epochs": 3, "batch": 25, "n_batches": 25},
        {"e": "progress", "stage": "looking at the results"}])
    assert live.training_line(progress, 12) == "Training — looking at the results · 12 s"    # not "batch 25 of 25"


def losses_of(raw: list[float], n_batches: int) -> Progress:
    progress = Progress()
    progress.losses = [{"step": i + 1, "epoch": i // n_batches, "raw": v, "train_loss": 0.0} for i, v in enumerate(raw)]
    progress.n_batches = n_batches
    return progress


def test_a_long_run_is_smoothed_as_fastai_smooths_it():
    import torch
    raw = [2.0 / (1 + i / 50) + 0.3 * ((i * 7) % 5) for i in range(600)]
    value, expected = torch.tensor(0.0), []
    for count, loss in enumerate(raw, start=1):                    # fastai's AvgSmoothLoss(beta=0.98)
        value = torch.lerp(torch.tensor(loss), value, 0.98)
        expected.append(float(value / (1 - 0.98 ** count)))
    assert live.smoothed_losses(losses_of(raw, n_batches=1250)) == pytest.approx(expected, rel=1e-5)


def test_a_short_run_is_smoothed_over_its_own_epochs_so_the_line_ends_near_the_last_epoch():
    # the bird lesson's shape: 9 batches an epoch; the loss drops sharply in the second epoch (unfrozen)
    raw = [0.9, 0.8, 0.7, 0.75, 0.6, 0.65, 0.6, 0.55, 0.5] + [0.25, 0.2, 0.22, 0.18, 0.15, 0.17, 0.14, 0.16, 0.15]
    last_epoch = sum(raw[9:]) / 9
    smooth = live.smoothed_losses(losses_of(raw, n_batches=9))
    assert abs(smooth[-1] - last_epoch) < 0.03                     # fastai's 0.98 here: 0.40, far above 0.18
    assert smooth == pytest.approx(live.curves(losses_of(raw, n_batches=9))["smooth"])
    assert live.smoothed_losses(losses_of([1.0, float("nan"), 0.5], n_batches=4))[1] == 1.0    # a NaN is skipped


def test_thin_keeps_the_ends_and_at_most_the_points_asked():
    assert live.thin(5, 10) == [0, 1, 2, 3, 4]
    kept = live.thin(10_000, 300)
    assert len(kept) == 300 and kept[0] == 0 and kept[-1] == 9_999 and kept == sorted(set(kept))


def test_the_words_are_the_same_as_the_fragments(store):
    progress = Progress(stage="frozen", epoch=1, n_epochs=2, batch=3, n_batches=18)
    assert live.training_line(progress, 12.4) == "Training — epoch 1 of 2 (frozen) · batch 3 of 18 · 12 s"
    assert live.queued_line(2) == "Waiting in the queue: position 2."
    assert live.queued_line(None) == "Waiting in the queue: waiting for a free worker."
    record = make(store)
    record.status, record.error = FAILED, "The photos could not be read."
    assert live.ended_line(record) == "Training failed: The photos could not be read."
    record.status, record.error = CANCELLED, None
    assert live.ended_line(record).startswith("Stopped.")


def test_a_finished_run_says_its_epochs_time_and_its_time_in_all(store):
    record = make(store)
    record.status, record.started, record.finished = DONE, 100.0, 156.2
    assert live.ended_line(record, "cpu") == "Finished in 56.2 s on the CPU."          # lr_find: no epochs
    record.epoch_table = [{"epoch": 0, "time": 30.5}, {"epoch": 1, "time": 17.6}]
    assert live.ended_line(record, "cuda:0") == "Trained in 48.1 s on a GPU (56.2 s in all)."
    assert live.ended_line(record, "cpu", ready_made=True) == "Trained in 48.1 s on the CPU."
    record.epoch_table[1]["time"] = None                                        # an older run's table
    assert live.ended_line(record) == "Finished in 56.2 s."


def test_a_snapshot_is_plain_json_with_thinned_curves_and_the_epoch_table(store):
    record = make(store)
    store.update(record.id, status=RUNNING, started=1.0)
    train_a_little(store, record.id, batches=1000, epochs_done=1, nan_at=0)
    progress = Progress().apply(store.events(record.id).read_new(max_bytes=None))
    snap = live.snapshot(store.read(record.id), progress)
    text = json.dumps(snap, allow_nan=False)                     # what Starlette's JSONResponse requires
    assert json.loads(text)["active"] is True and snap["line"].startswith("Training — epoch 1 of 2 (frozen)")
    curves = snap["curves"]
    assert len(curves["step"]) == live.MAX_POINTS and curves["step"][0] == 1 and curves["step"][-1] == 1000
    assert curves["raw"][0] is None                            # a NaN loss is a gap, not invalid JSON
    assert curves["phases"] == [{"phase": "frozen", "from": 1, "to": 1000}]
    assert curves["valid_step"] == [1000] and curves["valid"] == [0.21]
    assert snap["table"]["columns"] == ["epoch", "phase", "train_loss", "valid_loss", "error_rate", "time"]
    assert snap["table"]["rows"] == [["0", "frozen", "0.5000", "NaN", "0.0548", "19.6 s"]]   # a loss that blew up


def test_the_version_changes_with_what_is_drawn(store):
    record = make(store)
    empty = live.snapshot(record, Progress(), position=2)
    assert empty["line"] == "Waiting in the queue: position 2." and empty["status"] == QUEUED
    assert live.snapshot(record, Progress(), position=1)["version"] != empty["version"]
    record.status = RUNNING
    one = live.snapshot(record, Progress(n_events=1))
    assert one["version"] != live.snapshot(record, Progress(n_events=2))["version"]
    assert one["version"] != live.snapshot(record, Progress(n_events=1), stopping=True)["version"]
    assert live.snapshot(record, Progress(n_events=1), stopping=True)["line"] == "Stopping…"
    record.status = DONE
    assert live.snapshot(record, Progress(n_events=1))["active"] is False


def test_many_polls_share_one_reader_and_never_count_a_line_twice(store):
    record = make(store)
    store.update(record.id, status=RUNNING, started=1.0)
    state = live.LiveRuns()
    train_a_little(store, record.id, batches=4)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(state.snapshot(store, store.read(record.id))))
               for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {len(a["curves"]["step"]) for a in answers} == {4}
    train_a_little(store, record.id, batches=2)                 # two more batches appended: read from the offset
    assert len(state.snapshot(store, store.read(record.id))["curves"]["step"]) == 6


def test_it_remembers_only_the_runs_polled_most_recently(store):
    state = live.LiveRuns(size=2)
    records = [make(store) for _ in range(3)]
    for record in records:
        state.snapshot(store, record)
    assert list(state._runs) == [records[1].id, records[2].id]


# ---- the route ---------------------------------------------------------------------------------------------------
@pytest.fixture
def client(service, monkeypatch):
    from ui import live_panel
    monkeypatch.setattr(live_panel, "_mounted", {})          # mounted here only: later AppTests poll as fragments
    return TestClient(Starlette(routes=live_panel.routes()))


def url(run_id, token=None, version=None):
    from ui import live_panel
    query = f"?token={token if token is not None else live_panel.token(run_id)}"
    return f"{live_panel.API_PREFIX}{run_id}{query}{'&v=' + version if version else ''}"


def test_the_route_answers_a_page_that_was_drawn_with_the_run(client, service):
    record = make(service.store)
    service.store.update(record.id, status=RUNNING, started=1.0)
    train_a_little(service.store, record.id, batches=3)
    first = client.get(url(record.id))
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["status"] == RUNNING and len(body["curves"]["step"]) == 3
    again = client.get(url(record.id, version=body["version"])).json()
    assert again["same"] is True and "curves" not in again and again["line"].startswith("Training —")
    train_a_little(service.store, record.id, batches=1)
    assert "curves" in client.get(url(record.id, version=body["version"])).json()


def test_the_route_refuses_a_forged_token_an_odd_id_and_an_unknown_run(client, service):
    record = make(service.store)
    assert client.get(url(record.id, token="0" * 24)).status_code == 403
    assert client.get(url(record.id, token="")).status_code == 403
    assert client.get(url("..%2F..%2Fetc")).status_code in (403, 404)
    unknown = "1" * len(record.id)
    answer = client.get(url(unknown))
    assert answer.status_code == 404 and "error" in answer.json()


def test_the_route_sits_under_the_servers_base_path(monkeypatch):
    from streamlit import config
    from ui import live_panel
    monkeypatch.setattr(live_panel, "_mounted", {})
    real = config.get_option
    monkeypatch.setattr(config, "get_option", lambda name: "/class/a/" if name == "server.baseUrlPath" else real(name))
    route = live_panel.routes()[0]
    assert route.path == "/class/a" + live_panel.API_PREFIX + "{run_id}" and live_panel.mounted()


def test_numbers_that_json_cannot_carry_become_gaps():
    assert [live._number(v) for v in (1.5, float("nan"), math.inf, None, "x", 2)] == [1.5, None, None, None, None, 2]


# ---- a ready-made run replaying ----------------------------------------------------------------------------------
def finished_run(store, owner="readymade"):
    """A run that trained for 10 s: a batch a second, an epoch's end at 5 s and at 10 s."""
    record = store.create("image_classification", "fit", owner, {"seed": 1}, {"dataset": "birds"}, title="t")
    lines = []
    for i in range(10):
        lines.append({"e": "losses", "t": 100.0 + i + 1, "rows": [{"step": i + 1, "epoch": i // 5, "phase": "",
                                                                   "train_loss": 1.0, "raw": 1.0, "lr": 1e-3}]})
        lines.append({"e": "progress", "t": 100.0 + i + 1, "epoch": i // 5 + 1, "n_epochs": 2, "batch": i % 5 + 1,
                      "n_batches": 5, "fraction": (i + 1) / 10})
        if i % 5 == 4:
            lines.append({"e": "epoch", "t": 100.0 + i + 1, "row": {"epoch": i // 5, "train_loss": 1.0},
                          "valid": {"step": i + 1, "valid_loss": 0.9}})
    (store.path(record.id) / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return store.update(record.id, status=DONE, started=100.0, finished=110.0)


def test_a_replay_is_the_run_as_it_stood_that_many_seconds_in(store):
    record = finished_run(store)
    state = live.LiveRuns()
    early = state.replay(store, record, 3.5)
    assert early["active"] is True and early["status"] == RUNNING
    assert early["curves"]["step"] == [1, 2, 3] and early["table"]["rows"] == []
    assert early["line"] == "Replaying — epoch 1 of 2 · batch 3 of 5 · 4 s of 10 s"
    assert state.replay(store, record, 3.9)["version"] == early["version"]         # nothing new between batches
    later = state.replay(store, record, 7.0)
    assert later["curves"]["step"] == list(range(1, 8)) and len(later["table"]["rows"]) == 1
    over = state.replay(store, record, 10.0)
    assert over["active"] is False and over["status"] == DONE and over["fraction"] == 1.0
    assert over["version"] != state.replay(store, record, 9.99)["version"]          # the end is news by itself


def test_the_route_replays_only_a_ready_made_run(client, service):
    mine = finished_run(service.store, owner="alice")
    assert client.get(url(mine.id) + "&at=3").status_code == 404
    shipped = finished_run(service.store)
    assert client.get(url(shipped.id) + "&at=3").json()["curves"]["step"] == [1, 2, 3]
    for bad in ("-1", "nan", "inf", "x"):
        assert client.get(url(shipped.id) + f"&at={bad}").status_code == 404


def test_devices_are_named_as_a_student_says_them():
    assert [live.device_label(d) for d in ("cpu", "cuda", "cuda:1", "mps", "xpu")] == \
        ["the CPU", "a GPU", "a GPU", "an Apple GPU", "xpu"]
