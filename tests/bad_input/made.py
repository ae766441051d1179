"""What the bad-input tests and benchmark need besides the corpus: a finished run of every lesson on tiny data (for
the uploaders shown after training), each lesson's own exported model files, and the places nothing may be written.
Shared by tests/bad_input/conftest.py and benchmarks/bad_input.py (which must not import tests/conftest.py)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.bad_input.corpus import ABSOLUTE_MEMBER, ESCAPE_NAME, class_folder_zip, good_ratings, good_table, \
    seg_members, zip_of

ROOT = Path(__file__).resolve().parents[2]
OWNER = "bad-input"
TINY = {"image_classification": dict(size=32, epochs=1, freeze_epochs=0, recipe="fit_one_cycle", pretrained=False,
                                     bs=4),
        "segmentation": dict(width=32, epochs=1, freeze_epochs=0, bs=2),
        "tabular": dict(spec={"target": "label", "cat_names": ["kind"], "cont_names": ["age", "score"]},
                        batch_size=16, epochs=1, lr=1e-2),
        "collab": dict(n_factors=4, batch_size=32, epochs=1, lr=3e-2)}


def tiny_runs(service) -> dict[str, str]:
    """A finished run of every lesson with a model, on tiny uploaded data (seconds on a CPU): {lesson: run id}."""
    from core.inputs import InputStore
    inputs = InputStore(service.store.root)
    data = {"image_classification": (zip_of(class_folder_zip()), "image_zip", "photos.zip"),
            "segmentation": (zip_of(seg_members(n=4)), "segmentation_zip", "scenes.zip"),
            "tabular": (good_table(200).encode(), "csv", "table.csv"),
            "collab": (good_ratings(300).encode(), "csv", "ratings.csv")}
    found = {}
    for lesson, (content, kind, name) in data.items():
        ref = inputs.put(content, kind=kind, name=name, owner=f"{OWNER}-{lesson}")
        found[lesson] = service.submit(lesson, "fit", ref, TINY[lesson], owner=f"{OWNER}-{lesson}").id  # one each
    for lesson, run_id in found.items():
        record = service.wait(run_id, timeout=600)
        if record.status != "done":
            raise RuntimeError(f"the tiny {lesson} run ended {record.status}: {record.error}")
    return found


def exports(store, runs: dict[str, str]) -> dict[str, tuple[bytes, bytes]]:
    """Each lesson's model files as its page's Download buttons make them: {lesson: (weights, metadata)}."""
    from core.collab.jobs import load_run as collab_run
    from core.collab.saved import export_bytes
    from core.segmentation.jobs import load_run as seg_run
    from core.serialize import model_to_bytes
    from core.tabular.jobs import load_run as tabular_run
    from core.tabular.train import model_meta
    from core.vision.jobs import load_run as vision_run
    record = {lesson: store.read(run_id) for lesson, run_id in runs.items()}
    ic = vision_run(store, record["image_classification"]).classifier
    seg = seg_run(store, record["segmentation"]).segmenter
    tab = tabular_run(store, record["tabular"])
    col = collab_run(store, record["collab"])
    return {"image_classification": model_to_bytes(ic.model, ic.export_meta()),
            "segmentation": model_to_bytes(seg.model, seg.export_meta()),
            "tabular": model_to_bytes(tab.model, model_meta(tab.spec, tab.procs, tab.model, {})),
            "collab": export_bytes(col.model, {k: v for k, v in col.meta.items() if k != "format_version"})}


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
    for base in (Path(store_root), Path.cwd()):
        places += [base / ESCAPE_NAME, base.parent / ESCAPE_NAME, base.parent.parent / ESCAPE_NAME]
    return places
