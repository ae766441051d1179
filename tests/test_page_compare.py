"""Compare runs: two runs' curves on one chart, their epoch tables and differing settings; the course's comparisons
as presets, shown from the shipped runs or trained as the person's own pair; a classmate's run by its link."""
import json

import pytest

from core import readymade
from core.lessons import list_lessons
from tests.helpers import charts, tables, texts
from tests.page_users import ALICE, BOB, open_as
from ui import runs as ui_runs
from ui.charts import gate_key

PAGE = "pages/compare.py"


def curves(at) -> list[str]:
    spec = json.loads(charts(at)[0].proto.spec)
    return [trace["name"] for trace in spec["data"]]


def test_a_comparison_of_two_runs_draws_both_curves(service, shipped):
    pair = readymade.preset_runs("tabular", "lr")
    assert len(pair) == 2
    at = open_as(PAGE, ALICE, query={"lesson": "tabular", "runs": ",".join(r.id for r in pair)})
    names = curves(at)
    for letter in "AB":
        assert any(n.startswith(f"{letter}:") and n.endswith("train") for n in names)
        assert any(n.startswith(f"{letter}:") and n.endswith("valid") for n in names)
    assert len([m for m in at.metric]) == 2 and any(m.delta == "best" for m in at.metric)
    assert all(m.label.endswith(" · accuracy") for m in at.metric)                  # which number this is
    epoch_tables = [d for d in tables(at) if "train_loss" in d.columns]
    assert [t["train_loss"].tolist() for t in epoch_tables] == \
        [[round(row["train_loss"], 4) for row in r.epoch_table] for r in pair]                # as shown
    assert "Here: learning rate (lr)." in texts(at.caption)                       # the one setting that differs
    settings = next(d for d in tables(at) if "A" in d.columns and "learning rate (lr)" in d.index)
    assert settings.loc["learning rate (lr)"].tolist() == ["1e-3", "1e-2"]
    assert settings.loc["category columns (cat_names)"].tolist()[0].startswith("workclass, education, ")


def test_a_preset_shows_the_shipped_pair(service, shipped):
    at = open_as(PAGE, ALICE, query={"lesson": "tabular"})
    at.button(key="cmp-show-lr").click().run()
    assert not at.exception and len(curves(at)) == 4
    assert at.query_params["runs"] == ",".join(r.id for r in readymade.preset_runs("tabular", "lr"))


@pytest.mark.parametrize("lesson, preset", [(lesson, c) for lesson in list_lessons() for c in lesson.comparisons],
                         ids=lambda v: getattr(v, "key", None))
def test_a_shipped_preset_is_the_ready_made_run_once_per_change_and_shows(lesson, preset, service, shipped):
    shipped_runs = readymade.preset_runs(lesson.key, preset.key)
    assert len(shipped_runs) in (0, len(preset.changes))                # all of the preset's runs, or none
    default = readymade.default_run(lesson)
    for record, change in zip(shipped_runs, preset.changes):
        assert record.status == "done" and record.data == default.data
        assert {k: record.config[k] for k in change} == change
        assert record.epoch_table                                         # what Compare shows: curves, tables
    if shipped_runs:
        at = open_as(PAGE, ALICE, query={"lesson": lesson.key})
        at.button(key=f"cmp-show-{preset.key}").click().run()
        assert not at.exception and len(at.metric) == len(preset.changes)
        opened = open_as(lesson.page, ALICE, query={"run": shipped_runs[0].id})     # "Open a run in its lesson"
        assert not opened.exception and not opened.warning                 # its results, or why there are none
        whole = (shipped.path(shipped_runs[0].id) / "model.safetensors").exists()
        assert (ui_runs.CURVES_ONLY in texts(opened.info)) != whole
        assert (ui_runs.UNTIL_THE_REPLAY_ENDS in texts(opened.caption)) == whole     # no results to wait for


def test_a_preset_trains_the_pair_as_the_persons_runs(service, tmp_path, monkeypatch):
    monkeypatch.setenv("LESSON1_READYMADE_DIR", str(tmp_path / "none"))
    at = open_as(PAGE, ALICE, query={"lesson": "tabular"})
    assert "cmp-show-seed" not in [b.key for b in at.button]      # nothing shipped here: train them
    at.button(key="cmp-train-seed").click().run()
    runs = at.query_params["runs"].split(",")
    records = [service.store.read(r) for r in runs]
    assert [r.owner for r in records] == [ALICE.id] * 2 and [r.config["seed"] for r in records] == [0, 1]
    assert "Training" in texts(at.markdown)
    labels = [o for o in at.multiselect(key="cmp_runs").options if o.endswith(tuple(r[-5:] for r in runs))]
    assert len(labels) == 2 and all(" · mine · " in o for o in labels), at.multiselect(key="cmp_runs").options
    again = open_as(PAGE, ALICE, query={"lesson": "tabular"})
    again.button(key="cmp-train-lr").click().run()                # one pair at a time, like one run
    assert "already have a comparison" in texts(again.warning)
    for run in runs:
        assert service.wait(run, 240).status == "done"
    at.session_state[gate_key("cmp-curves")] = {"seen": True}    # the student has scrolled down to the curves
    at.run()
    assert len(curves(at)) == 4 and "Here: seed." in texts(at.caption)
    assert not [m for m in at.metric if m.delta] and "no run is crowned" in texts(at.caption)     # luck, not best


def test_a_classmates_run_comes_in_by_its_link_only(service, shipped):
    data = {"dataset": "adult", "source": "embedded"}
    from core.lessons import get_lesson
    config = dict(get_lesson("tabular").default_run.config, epochs=1, baseline=False)
    bobs = service.wait(service.submit("tabular", "fit", data, config, owner=BOB.id, owner_name="Bob").id, 180)
    at = open_as(PAGE, ALICE, query={"lesson": "tabular"})
    offered = at.multiselect(key="cmp_runs").options                     # labels, each ending with its run's id
    assert offered and not any(o.endswith(bobs.id[-5:]) for o in offered)   # not offered to anyone else...
    at.text_input(key="cmp_link").input(f"http://server/tabular?run={bobs.id}")
    at.button(key="cmp_add").click().run()
    assert bobs.id in at.multiselect(key="cmp_runs").value             # ...until they are given its link
    at.text_input(key="cmp_link").input("no-such-run")
    at.button(key="cmp_add").click().run()
    assert "There is no run with that id" in texts(at.warning)


def test_a_person_who_trained_twice_finds_their_two_newest_runs_compared(service, shipped):
    data = {"dataset": "adult", "source": "embedded"}
    from core.lessons import get_lesson
    config = dict(get_lesson("tabular").default_run.config, epochs=1, baseline=False)
    nobody = open_as(PAGE, BOB)                                   # no runs yet: the first lesson, nothing chosen
    assert nobody.selectbox(key="cmp_lesson").value == "image_classification"
    assert nobody.multiselect(key="cmp_runs").value == []
    runs = [service.wait(service.submit("tabular", "fit", data, dict(config, seed=seed), owner=ALICE.id).id, 180)
            for seed in (1, 2, 3)]
    at = open_as(PAGE, ALICE)
    assert at.selectbox(key="cmp_lesson").value == "tabular"
    assert sorted(at.multiselect(key="cmp_runs").value) == sorted(r.id for r in runs[1:])   # the two newest
    mine = [o for o in at.multiselect(key="cmp_runs").options if " · mine · " in o]
    assert len(set(mine)) == len(mine) == 3                          # the same settings in the same minute: told apart
    assert all(any(o.endswith(r.id[-5:]) for o in mine) for r in runs)
    assert "two seeds (2) — seed 1, lr 0.01 · ready-made" in " ".join(at.multiselect(key="cmp_runs").options)
    assert at.query_params["runs"]
    other = open_as(PAGE, ALICE, query={"lesson": "collab"})      # a lesson they have no runs of: nothing chosen
    assert other.multiselect(key="cmp_runs").value == []
