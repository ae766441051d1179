"""Fixtures of the bad-input tests: one service for the package, a finished run of each lesson with an upload path
after training (tiny data, one epoch: seconds), each lesson's own exported model files, and a watch on everything
outside the run store that an upload must never write to."""
import os
import tempfile
from pathlib import Path

import pytest

from tests.bad_input.corpus import ABSOLUTE_MEMBER, ESCAPE_NAME, class_folder_zip, good_ratings, good_table, \
    seg_members, zip_of
from tests.conftest import ROOT, installed_service

TINY = {"image_classification": dict(size=32, epochs=1, freeze_epochs=0, recipe="fit_one_cycle", pretrained=False,
                                     bs=4),
        "segmentation": dict(width=32, epochs=1, freeze_epochs=0, bs=2),
        "tabular": dict(spec={"target": "label", "cat_names": ["kind"], "cont_names": ["age", "score"]},
                        batch_size=16, epochs=1, lr=1e-2),
        "collab": dict(n_factors=4, batch_size=32, epochs=1, lr=3e-2)}


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
    from core.inputs import InputStore
    svc = bad_input_service
    inputs = InputStore(svc.store.root)
    data = {"image_classification": (zip_of(class_folder_zip()), "image_zip", "photos.zip"),
            "segmentation": (zip_of(seg_members(n=4)), "segmentation_zip", "scenes.zip"),
            "tabular": (good_table(200).encode(), "csv", "table.csv"),
            "collab": (good_ratings(300).encode(), "csv", "ratings.csv")}
    found = {}
    for lesson, (content, kind, name) in data.items():
        ref = inputs.put(content, kind=kind, name=name, owner="bad-input-tests")
        found[lesson] = svc.submit(lesson, "fit", ref, TINY[lesson], owner=f"bad-input-{lesson}").id  # one each
    for lesson, run_id in found.items():
        record = svc.wait(run_id, timeout=600)
        assert record.status == "done", (lesson, record.error)
    return found


@pytest.fixture(scope="package")
def exports(bad_input_service, runs) -> dict[str, tuple[bytes, bytes]]:
    """Each lesson's model files as its page's Download buttons make them: {lesson: (weights, metadata)}."""
    from core.collab.jobs import load_run as collab_run
    from core.collab.saved import export_bytes
    from core.segmentation.jobs import load_run as seg_run
    from core.serialize import model_to_bytes
    from core.tabular.jobs import load_run as tabular_run
    from core.tabular.train import model_meta
    from core.vision.jobs import load_run as vision_run
    store = bad_input_service.store
    record = {lesson: store.read(run_id) for lesson, run_id in runs.items()}
    ic = vision_run(store, record["image_classification"]).classifier
    seg = seg_run(store, record["segmentation"]).segmenter
    tab = tabular_run(store, record["tabular"])
    col = collab_run(store, record["collab"])
    return {"image_classification": model_to_bytes(ic.model, ic.export_meta()),
            "segmentation": model_to_bytes(seg.model, seg.export_meta()),
            "tabular": model_to_bytes(tab.model, model_meta(tab.spec, tab.procs, tab.model, {})),
            "collab": export_bytes(col.model, {k: v for k, v in col.meta.items() if k != "format_version"})}


# ---- nothing written outside the app's folders -----------------------------------------------------------------
SKIPPED = {".git", "__pycache__", ".pytest_cache", "artifacts", ".cache", ".venv"}


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under `root` (but caches and artifacts): {path: (size, mtime_ns)}."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED]
        for name in files:
            p = Path(folder, name)
            try:
                st = p.lstat()
            except OSError:
                continue
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def escape_targets(store_root: Path) -> list[Path]:
    """Where a zip member that climbs out ("../../x") or starts at the root would have been written."""
    places = [Path(ABSOLUTE_MEMBER), ROOT.parent / ESCAPE_NAME, ROOT / ESCAPE_NAME, Path("/tmp") / ESCAPE_NAME,
              Path(tempfile.gettempdir()) / ESCAPE_NAME]
    for base in (store_root, Path.cwd()):
        places += [base / ESCAPE_NAME, base.parent / ESCAPE_NAME, base.parent.parent / ESCAPE_NAME]
    return places


@pytest.fixture
def nothing_written_outside(bad_input_service, tmp_path, monkeypatch):
    """Fails the test if an upload wrote anywhere but the run store: the repository, a temporary folder of the
    test's own (every `tempfile` call of this process goes there), or where a hostile zip member points. Inside
    the run store only uploads (.inputs, .owners) and runs may appear."""
    own_temp = tmp_path / "tmp"
    own_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_temp))
    store = Path(bad_input_service.store.root)
    before_repo, before_store = tree(ROOT), set(os.listdir(store))
    yield
    after_repo = tree(ROOT)
    changed = sorted(p for p in set(before_repo) | set(after_repo) if before_repo.get(p) != after_repo.get(p))
    assert not changed, f"files written in the repository: {changed[:10]}"
    assert not list(own_temp.iterdir()), f"temporary files left: {list(own_temp.iterdir())[:10]}"
    new_in_store = set(os.listdir(store)) - before_store
    runs_ids = set(bad_input_service.store.ids())
    assert not {n for n in new_in_store if n not in (".inputs", ".owners", ".class") and n not in runs_ids}, \
        new_in_store
    escaped = [str(p) for p in escape_targets(store) if p.exists()]
    assert not escaped, escaped
