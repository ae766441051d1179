"""My runs: a person sees their own runs and uploads only (an instructor everyone's), with links, and deletes them."""
import json

import pytest

from core.inputs import InputStore
from tests.lesson_for_tests import KEY
from tests.page_users import ALICE, BOB, TEACHER, open_as

PAGE = "pages/my_runs.py"


@pytest.fixture
def two_students(service):
    runs = {}
    for user in (ALICE, BOB):
        record = service.submit(KEY, "train", {}, {"epochs": 1}, owner=user.id, owner_name=user.name,
                                title=f"{user.name}'s run")
        runs[user.name] = service.wait(record.id, 60)
        InputStore(service.store.root).put(f"a,b\n1,{user.name}\n".encode(), kind="csv",
                                           name=f"{user.name.lower()}.csv", owner=user.id)
    return runs


def table(at):
    return at.dataframe[0].value


def test_two_people_cannot_list_each_others_runs_or_uploads(two_students):
    for user, other in ((ALICE, BOB), (BOB, ALICE)):
        at = open_as(PAGE, user)
        runs = table(at)
        assert runs["run"].tolist() == [f"{user.name}'s run"]
        assert runs["status"].tolist() == ["done"] and runs["result"].iloc[0].startswith("error ")
        assert runs["open"].iloc[0] == f"{KEY}?run={two_students[user.name].id}"
        shown = "\n".join(m.value for m in at.markdown)
        assert f"{user.name.lower()}.csv" in shown and f"{other.name.lower()}.csv" not in shown
        assert two_students[other.name].id not in json.dumps(runs.to_dict())
        assert "Everyone's runs" not in [t.label for t in at.toggle]


def test_an_instructor_may_list_everyones_runs(two_students):
    at = open_as(PAGE, TEACHER)
    assert not at.dataframe and "No runs yet" in at.info[0].value        # none of their own
    at.toggle(key="my_everyone").set_value(True).run()
    runs = table(at)
    assert set(runs["run"]) == {"Alice's run", "Bob's run"} and set(runs["who"]) == {"Alice", "Bob"}


def test_deleting_a_run_and_then_its_upload(two_students, service):
    at = open_as(PAGE, ALICE)
    at.session_state["my_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    delete = next(b for b in at.button if b.key == "my_delete")
    delete.click().run()
    assert "Deleted 1 run(s)" in "\n".join(s.value for s in at.success)
    assert not service.store.exists(two_students["Alice"].id) and service.store.exists(two_students["Bob"].id)
    assert "No runs yet" in "\n".join(i.value for i in at.info)
    upload = next(b for b in at.button if b.key and b.key.startswith("my_upload_"))
    upload.click().run()
    assert "You have not uploaded anything." in "\n".join(c.value for c in at.caption)


def test_runs_of_the_older_version_are_listed_where_there_is_no_class_login(service):
    folder = service.store.root / "00aa11bb22cc33dd"
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"kind": "fit", "title": "an old fit", "status": "done",
                                                 "created": 1.0}))
    at = open_as(PAGE, None)
    runs = table(at)
    assert runs["status"].tolist() == ["from an older version"] and runs["run"].tolist() == ["an old fit"]
    assert runs["open"].isna().all()                              # nothing to open: it has no results
