"""Every lesson keeps the run store's promises, checked the same way for each (the lessons are discovered from the
registry; their finished runs are the ready-made ones shipped in readymade/, copied into a store of the test's own):

- a finished run's results read back the same after a restart (a new store object) and after 40 later runs;
- a damaged or missing run file gives a sentence, never a traceback;
- a link to it opened by someone else shows its results read-only: no Stop, and "Train again" on offer.
"""
import contextlib
import shutil

import numpy as np
import pandas as pd
import pytest

from core.compare import flatten
from core.errors import StudentError
from core.lessons import job_settings, list_lessons, run_loader
from core.runs import RunStore
from tests.conftest import ROOT, installed_service
from tests.helpers import open_page, tables, texts
from tests.lesson_for_tests import KEY

SHIPPED_STORE = RunStore(ROOT / "readymade")          # the repository's, whatever LESSON1_READYMADE_DIR says
SHIPPED = {r.lesson: r for r in reversed(SHIPPED_STORE.records(SHIPPED_STORE.ids())) if not r.info.get("preset")}
LESSONS = [lesson for lesson in list_lessons() if lesson.load]


def test_every_lesson_that_loads_runs_has_a_shipped_run():
    assert sorted(SHIPPED) == sorted(lesson.key for lesson in LESSONS)


@pytest.fixture(scope="module")
def class_store(tmp_path_factory):
    """Every lesson's run as someone else's run in a class's store, then 40 more runs by others on top."""
    root = tmp_path_factory.mktemp("runs")
    for record in SHIPPED.values():
        shutil.copytree(SHIPPED_STORE.path(record.id), root / record.id)
    with installed_service(root) as service:
        for record in SHIPPED.values():                           # a classmate's runs, not ready-made ones
            service.store.update(record.id, owner="classmate", owner_name="A classmate")
        before = {key: snapshot(service.store, record) for key, record in SHIPPED.items()}
        later = [service.submit(KEY, "train", {}, {"epochs": 1, "n": 64, "seed": i}, owner=f"student{i}")
                 for i in range(40)]
        assert all(service.wait(r.id, timeout=120).status == "done" for r in later)
        yield service, before


def snapshot(store, record) -> dict:
    """What a page draws from a run: its record's numbers, its arrays, and that its lesson's loader rebuilds it."""
    record = store.read(record.id)
    run_loader(record.lesson)(store, record)
    arrays = store.arrays(record.id) if (store.path(record.id) / "arrays.safetensors").exists() else {}
    return dict(metrics=record.metrics, epochs=record.epoch_table, config=record.config,
                arrays={k: np.asarray(v).tobytes() for k, v in arrays.items()})


@pytest.mark.parametrize("lesson", [lesson.key for lesson in LESSONS])
def test_a_finished_run_reads_back_the_same_after_a_restart_and_40_later_runs(class_store, lesson):
    service, before = class_store
    record = SHIPPED[lesson]
    assert snapshot(service.store, record) == before[lesson]                  # after 40 later runs
    assert snapshot(RunStore(service.store.root), record) == before[lesson]    # a restarted server's store


@pytest.mark.parametrize("lesson", [lesson.key for lesson in LESSONS])
@pytest.mark.parametrize("damage", ["record truncated", "model truncated", "model missing", "arrays missing",
                                    "results missing"])
def test_a_damaged_run_gives_a_sentence(tmp_path, lesson, damage):
    record = SHIPPED[lesson]
    shutil.copytree(SHIPPED_STORE.path(record.id), tmp_path / record.id)
    folder = tmp_path / record.id
    file = {"record truncated": "run.json", "model truncated": "model.safetensors", "model missing": "model.json",
            "arrays missing": "arrays.safetensors", "results missing": "results.json"}[damage]
    if not (folder / file).exists():
        pytest.skip(f"{lesson}'s runs have no {file}")
    if damage.endswith("truncated"):
        (folder / file).write_bytes((folder / file).read_bytes()[: max(1, (folder / file).stat().st_size // 3)])
    else:
        (folder / file).unlink()
    store = RunStore(tmp_path)
    with pytest.raises(StudentError) as refused:
        run_loader(lesson)(store, store.read(record.id))
    sentence = str(refused.value)
    assert sentence and "Traceback" not in sentence and str(tmp_path) not in sentence


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.key)
def test_a_link_opened_by_someone_else_shows_the_run_read_only(class_store, lesson):
    at = open_page(lesson.page, timeout=240, query={"run": SHIPPED[lesson.key].id})
    expanders = "\n".join(e.label for e in at.expander)
    assert "shared with you (read-only)" in expanders, texts(at.warning)
    assert "A classmate's run, shared with you: read-only." in texts(at.caption)     # said by the run, not only inside
    assert not [b for b in at.button if b.label == "Stop"]
    assert any(b.label == "Train again with these settings" for b in at.button)
    about = next(t for t in tables(at) if list(t.columns) == ["setting", "value"])        # "About this run"
    kept = flatten(SHIPPED[lesson.key].config)
    assert about["setting"].tolist() == [lesson.setting_name(k) for k in kept]       # nested ones too (tabular's)
    shown = pd.Series(list(kept.values()))
    with contextlib.suppress(ValueError):
        shown = pd.to_numeric(shown)                            # as tables() reads a column of numbers back
    assert about["value"].tolist() == shown.tolist()


JOBS = [(lesson, job) for lesson in list_lessons() for job in lesson.jobs]


@pytest.mark.parametrize("lesson, job", JOBS, ids=lambda x: getattr(x, "key", None) or getattr(x, "kind", None))
def test_a_run_keeps_every_setting_its_job_trains_with(lesson, job):
    """A run submitted with only some settings (a ready-made run's are often none, a preset's one change) keeps
    the complete settings its job will use, seed included, so "About this run" and "Train again" say what it
    really trained with; the job, reading them back from the run's JSON, gets the very same settings."""
    import json

    from core.classroom import check_run
    from core.readymade import default_run
    assert job.settings, f"{lesson.key}'s {job.kind} job registers no settings function"
    given = dict(default_run(lesson).config)
    kept = check_run(lesson.key, job.kind, given, default_run(lesson).data)
    assert kept["seed"] is not None and set(given) <= set(kept)
    assert json.loads(json.dumps(kept)) == kept
    assert job_settings(lesson.key, job.kind, json.loads(json.dumps(kept))) == kept


@pytest.mark.parametrize("lesson, job", JOBS, ids=lambda x: getattr(x, "key", None) or getattr(x, "kind", None))
def test_every_setting_a_run_keeps_has_a_name_people_read(lesson, job):
    """ "About this run" and Compare's settings table name each setting ("learning rate (lr)"), from the lesson's
    registration: a new setting without a name would show its key alone."""
    from core.lessons import SETTING_NAMES
    from core.readymade import default_run
    spec = default_run(lesson)
    for key in flatten(job_settings(lesson.key, job.kind, dict(spec.config))):
        assert key in lesson.setting_names or key.rsplit(".", 1)[-1] in SETTING_NAMES, \
            f"{lesson.key}'s setting {key!r} has no name: add it to its setting_names"


@pytest.mark.parametrize("lesson, job", JOBS, ids=lambda x: getattr(x, "key", None) or getattr(x, "kind", None))
def test_a_crafted_setting_is_refused_with_a_sentence_when_the_run_is_submitted(lesson, job):
    """Each crafted value on top of the lesson's own default settings, so only that value can be the reason."""
    from core.classroom import check_run
    from core.readymade import default_run
    for crafted in ({"seed": "x" * 100}, {"seed": -5}, {"lr": [1, 2]}, {"lr": "1e-3"}, {"epochs": {"a": 1}},
                    {"epochs": True}, {"epochs": 2.5}):
        with pytest.raises(StudentError) as refused:
            check_run(lesson.key, job.kind, dict(default_run(lesson).config, **crafted), {})
        said = str(refused.value)
        assert f"'{next(iter(crafted))}'" in said and "Traceback" not in said and len(said) < 300, said


def test_every_shipped_run_says_its_seed():
    """The ready-made runs were made with their job's settings kept (python -m core.readymade)."""
    for record in SHIPPED.values():
        assert record.seed is not None, f"{record.lesson}'s shipped run {record.id} keeps no settings"
