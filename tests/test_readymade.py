"""Ready-made runs: the command that makes them, the shipped tabular run, its replay, pinning, and the lesson page
opening on it."""
import time

import pytest

from core import readymade
from core.kept import Kept
from core.lessons import LESSONS, Comparison, DefaultRun, Job, Lesson, get_lesson, register_lesson
from core.runs import DONE, RunError, RunStore
from tests.conftest import ROOT
from tests.helpers import open_page, tables, texts
from ui import runs as ui_runs

SHIPPED = ROOT / "readymade"
GOOD, BROKEN = "readymade_test", "readymade_broken"
if GOOD not in LESSONS:
    register_lesson(Lesson(GOOD, "Ready-made test", ":material/science:", "pages/home.py", "tests", "tests",
                           jobs=(Job("train", "tests.lesson_for_tests:train", "train", keeps_model=True),),
                           load="tests.lesson_for_tests:load", default_run=DefaultRun("train", {}, {"epochs": 1}),
                           comparisons=(Comparison("epochs", "one or two epochs", ({"epochs": 1}, {"epochs": 2})),),
                           listed=False))
    register_lesson(Lesson(BROKEN, "Not migrated yet", ":material/science:", "pages/home.py", "tests", "tests",
                           jobs=(Job("fit", "tests.no_such_module:fit", "fit", keeps_model=True),),
                           default_run=DefaultRun("fit", {}, {}), listed=False))


def test_the_command_ships_runs_and_skips_lessons_whose_job_is_missing(tmp_path):
    said = []
    made = readymade.make([GOOD, BROKEN], tmp_path, say=said.append)
    assert [m["lesson"] for m in made] == [GOOD]
    assert any(line.startswith(f"{BROKEN}: skipped") for line in said)
    folder = tmp_path / made[0]["run"]
    assert {p.name for p in folder.iterdir()} >= {"run.json", "events.jsonl", "model.safetensors", "model.json",
                                                  "arrays.safetensors", "results.json"}
    assert not (folder / "heartbeat").exists() and made[0]["bytes"] > 0
    record = RunStore(tmp_path).read(made[0]["run"])
    assert record.status == DONE and record.owner == readymade.OWNER and record.config["epochs"] == 1
    again = readymade.make([GOOD], tmp_path, say=said.append)             # made again: replaces the old one
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [again[0]["run"]]


def test_a_lessons_presets_can_be_made_again_keeping_its_default_run(tmp_path):
    first = readymade.make([GOOD], tmp_path, pairs=True, say=lambda _: None)
    assert [(m["preset"], RunStore(tmp_path).read(m["run"]).config["epochs"]) for m in first] == \
        [(None, 1), ("epochs", 1), ("epochs", 2)]
    again = readymade.make([GOOD], tmp_path, pairs=True, default=False, say=lambda _: None)
    assert [m["preset"] for m in again] == ["epochs", "epochs"]
    kept = {p.name for p in tmp_path.iterdir() if p.is_dir()}
    assert kept == {first[0]["run"]} | {m["run"] for m in again}         # the default kept, the presets replaced


def test_every_listed_lesson_knows_its_default_run():
    for lesson in LESSONS.values():
        if lesson.listed and lesson.jobs:
            spec = readymade.default_run(lesson)
            assert spec is not None and lesson.job(spec.kind).keeps_model, lesson.key


def test_the_tabular_lesson_ships_a_ready_made_run_that_works_offline(shipped):
    record = readymade.shipped_run("tabular")
    assert record is not None and record.status == DONE and record.data == {"dataset": "adult",
                                                                          "source": "embedded"}
    assert record.config == get_lesson("tabular").default_run.config        # what the registry says it is
    assert shipped.has_model(record.id) and record.metrics["accuracy"] > 0.8
    total = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    assert total < 40 * 2**20


def test_the_replay_of_a_shipped_run_draws_the_same_epoch_table(shipped):
    record = readymade.shipped_run("tabular")
    events = shipped.events(record.id).read_new(max_bytes=None)
    end = readymade.duration(record, events)
    assert readymade.replay(record, events, end).epoch_table == record.epoch_table
    assert readymade.replay(record, events, float("inf")).epoch_table == record.epoch_table
    assert readymade.replay(record, events, -1).epoch_table == []
    seen = []
    start = readymade.start_time(record, events)
    for moment in [0.0] + [e["t"] - start for e in events]:          # as it trained: rows appear one by one
        rows = readymade.replay(record, events, moment).epoch_table
        assert rows == record.epoch_table[:len(rows)]
        seen.append(len(rows))
    assert seen == sorted(seen)
    assert len(set(seen)) == len(record.epoch_table) + 1             # every epoch showed up on its own


def test_a_pinned_run_replaces_the_shipped_one(service, shipped):
    from tests.lesson_for_tests import KEY
    assert readymade.ready_made(KEY, service.store) is None
    run = service.wait(service.submit(KEY, "train", {}, {"epochs": 1}, owner="teacher").id, 60)
    readymade.pin(service.store, KEY, run.id)
    store, record = readymade.ready_made(KEY, service.store)
    assert record.id == run.id and store is service.store and readymade.is_ready_made(record, service.store)
    readymade.pin(service.store, KEY, None)
    assert readymade.ready_made(KEY, service.store) is None
    with pytest.raises(RunError, match="finished run of this lesson"):
        readymade.pin(service.store, "tabular", run.id)
    tabular = readymade.ready_made("tabular", service.store)
    assert tabular[1].owner == readymade.OWNER and readymade.locate(tabular[1].id, service.store).root == SHIPPED



def test_on_a_projector_the_lesson_opens_on_its_ready_made_runs_results(module_service, shipped, monkeypatch):
    """Presentation mode opens on step 0, where a replay can't be seen: the finished run's sections are there from
    the first run, so the step count does not change a second later; Replay still plays it."""
    from streamlit.testing.v1 import AppTest
    record = readymade.shipped_run("tabular")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params["present"] = "1"
    at.run()
    at.switch_page("pages/tabular.py").run()
    assert not at.exception
    assert "5. Results" in [h.value for h in at.header]
    assert "**Start** · step 0 of 7" in " ".join(m.value for m in at.markdown)
    trained = sum(row["time"] for row in record.epoch_table)               # its epochs, not its cold process's clock
    assert any(s.value == f"Trained in {trained:.1f} s on the CPU." for s in at.success), texts(at.success)
    replay = at.button(key=f"replay-again-{record.id}")
    assert not replay.disabled
    replay.click().run()
    if record.seconds > 1:                                           # as it trained: the results wait for the end
        assert ui_runs.UNTIL_THE_REPLAY_ENDS in texts(at.caption)


def test_the_lesson_page_opens_on_the_ready_made_run(module_service, shipped, monkeypatch):
    monkeypatch.setattr(ui_runs, "_LOADED", Kept(12))                 # nothing loaded by an earlier test
    record = readymade.shipped_run("tabular")
    at = open_page("pages/tabular.py", timeout=120)
    assert "This is the course's ready-made run" in texts(at.markdown)
    speed = at.button_group(key=f"replay-speed-{record.id}")
    if record.seconds > 1:                                           # as it trained: the results wait for the end
        assert ui_runs.UNTIL_THE_REPLAY_ENDS in texts(at.caption)      # in their numbered, empty sections
        key = ("tabular", record.id, record.finished)                # ...and are loaded meanwhile, off the page
        deadline = time.time() + 60
        while not ui_runs._LOADED.holds(key) and time.time() < deadline:
            time.sleep(0.05)
        assert ui_runs._LOADED.holds(key)
    speed.set_value("instant").run()
    assert not at.exception
    headers = [h.value for h in at.header]
    assert "5. Results" in headers and ui_runs.UNTIL_THE_REPLAY_ENDS not in texts(at.caption)
    table = next(d for d in tables(at) if "train_loss" in d.columns)
    assert table["train_loss"].tolist() == [float(f"{r['train_loss']:.4g}") for r in record.epoch_table]   # as shown
    assert "the course's ready-made run, seed 0" in "\n".join(e.label for e in at.expander)
    assert at.metric[0].value == f"{record.metrics['accuracy']:.1%}"
    next(b for b in at.button if b.label == "Train again with these settings").click().run()
    assert at.select_slider(key="tab_lr").value == record.config["lr"] and not at.exception


@pytest.mark.parametrize("page, other_data", [
    ("tabular", lambda at: (at.radio(key="tab_source").set_value("My own CSV").run(),
                            at.file_uploader(key="tab_upload").set_value(("mine.csv", ("age,job,pay\n" + "\n".join(
                                f"{20 + i % 30},job{i % 4},{'yes' if i % 3 else 'no'}" for i in range(90))).encode(),
                                "text/csv")).run())),
    ("image_classification", lambda at: at.radio(key="ic_label").set_value("kind").run()),
])
def test_the_ready_made_run_shows_only_on_the_data_it_was_trained_on(page, other_data, module_service, shipped):
    """Its results (the columns of its What if?, its classes) answer for its data: on a student's CSV or another
    labelling, the sections wait for the student's run, as on a page without a ready-made run."""
    at = open_page(f"pages/{page}.py", timeout=180)
    headers = [h.value for h in at.header]
    assert "This is the course's ready-made run" in texts(at.markdown)
    other_data(at)
    assert not at.exception and "This is the course's ready-made run" not in texts(at.markdown)
    assert "ready-made run" not in "\n".join(e.label for e in at.expander)
    assert [h.value for h in at.header] == headers and "Shown once a model is trained above." in texts(at.caption)
