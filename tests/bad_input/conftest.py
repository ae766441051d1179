"""Fixtures of the bad-input tests: one service for the package, a finished run of each lesson with an upload path
after training (tiny data, one epoch: seconds), each lesson's own exported model files, and a watch on everything
outside the run store that an upload must never write to."""
import os
import tempfile
from pathlib import Path

import pytest

from tests.bad_input import made
from tests.conftest import ROOT, installed_service


@pytest.fixture(scope="package")
def bad_input_service(tmp_path_factory):
    """The package's training service (a thread worker, its own run store), on the CPU and offline."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LESSON1_DEVICE", "cpu")
        patch.setenv("LESSON1_OFFLINE", "1")
        with installed_service(tmp_path_factory.mktemp("bad-input-runs")) as svc:
            yield svc


@pytest.fixture(scope="package")
def runs(bad_input_service) -> dict[str, str]:
    """A finished run of every lesson, on tiny uploaded data: {lesson: run id}."""
    return made.tiny_runs(bad_input_service)


@pytest.fixture(scope="package")
def exports(bad_input_service, runs) -> dict[str, tuple[bytes, bytes]]:
    """Each lesson's model files as its page's Download buttons make them: {lesson: (weights, metadata)}."""
    return made.exports(bad_input_service.store, runs)


# ---- nothing written outside the app's folders -----------------------------------------------------------------
@pytest.fixture
def nothing_written_outside(bad_input_service, tmp_path, monkeypatch):
    """Fails the test if an upload wrote anywhere but the run store: the repository, a temporary folder of the
    test's own (every `tempfile` call of this process goes there), or where a hostile zip member points. Inside
    the run store only uploads (.inputs, .owners) and runs may appear."""
    own_temp = tmp_path / "tmp"
    own_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_temp))
    store = Path(bad_input_service.store.root)
    before_repo, before_store = made.tree(ROOT), set(os.listdir(store))
    yield
    after_repo = made.tree(ROOT)
    changed = sorted(p for p in set(before_repo) | set(after_repo) if before_repo.get(p) != after_repo.get(p))
    assert not changed, f"files written in the repository: {changed[:10]}"
    assert not list(own_temp.iterdir()), f"temporary files left: {list(own_temp.iterdir())[:10]}"
    new_in_store = set(os.listdir(store)) - before_store
    runs_ids = set(bad_input_service.store.ids())
    assert not {n for n in new_in_store if n not in (".inputs", ".owners", ".class") and n not in runs_ids}, \
        new_in_store
    escaped = [str(p) for p in made.escape_targets(store) if p.exists()]
    assert not escaped, escaped
