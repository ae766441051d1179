"""Downloads land whole or not at all; archives extract safely or not at all.

Everything runs against a local http.server on 127.0.0.1 serving archives built in tmp_path.
"""
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from core import download
from core.datasets import OnlineSource
from core.download import DownloadError, UnsafeArchiveError, download_url, fetch_and_extract, is_online, safe_extract


# ------------------------------------------------------------------------------------------------
# A local server: /files/<name> serves tmp files, /truncated/<name> promises the whole file and
# hangs up halfway, /missing gives 404. It counts the requests per path.

class LocalServer:
    def __init__(self, root: Path):
        self.root = root
        self.requests: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests[self.path] = server.requests.get(self.path, 0) + 1
                kind, _, name = self.path.lstrip("/").partition("/")
                file = server.root / name
                if kind not in ("files", "truncated") or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if kind == "truncated":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                else:
                    self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    srv = LocalServer(root)
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSON1_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LESSON1_OFFLINE", raising=False)
    download.forget_online_checks()
    yield tmp_path / "cache"
    download.forget_online_checks()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: connecting is refused


def make_tgz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_zip(files: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buf.getvalue()


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


GOOD = {"toy/a.txt": b"alpha\n", "toy/sub/b.bin": os.urandom(300_000), "toy/c.csv": b"x,y\n1,2\n"}


# ------------------------------------------------------------------------------------------------
# cache_dir and is_online

def test_cache_dir_follows_env_and_is_created(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSON1_CACHE", str(tmp_path / "somewhere" / "deep"))
    assert download.cache_dir() == tmp_path / "somewhere" / "deep"
    assert download.cache_dir().is_dir()


def test_is_online_false_quickly_for_a_closed_port():
    start = time.monotonic()
    assert is_online(f"http://127.0.0.1:{closed_port()}/x.tgz", timeout=1.5) is False
    assert time.monotonic() - start < 1.5


def test_is_online_is_bounded_even_when_name_lookup_hangs(monkeypatch):
    # getaddrinfo ignores socket timeouts; a hanging lookup must not hang the page
    def slow_lookup(*args, **kwargs):
        time.sleep(1.5)
        raise socket.gaierror("lookup timed out")

    monkeypatch.setattr(download.socket, "create_connection", slow_lookup)
    start = time.monotonic()
    assert is_online("https://slow.example", timeout=0.2) is False
    assert time.monotonic() - start < 1.0


def test_is_online_true_for_a_listening_server_and_cached(server):
    url = f"{server.url}/files/x"
    assert is_online(url) is True
    server.close()
    assert is_online(url) is True            # remembered, not probed again
    assert is_online(url, ttl=0) is False    # probed again: the server is gone
    download.forget_online_checks()
    assert is_online(url) is False


def test_offline_env_forces_false(server, monkeypatch):
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    assert is_online(server.url) is False


def test_is_online_is_thread_safe_and_consistent(server):
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(is_online(server.url))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [True] * 8


# ------------------------------------------------------------------------------------------------
# download_url

def test_good_download_verifies_and_reports_progress(server, tmp_path):
    archive = make_tgz(server.root / "toy.tgz", GOOD)
    seen = []
    dest = download_url(f"{server.url}/files/toy.tgz", tmp_path / "out" / "toy.tgz", size=archive.stat().st_size,
                        md5=md5_of(archive), sha256=hashlib.sha256(archive.read_bytes()).hexdigest(),
                        progress=lambda done, total: seen.append((done, total)))
    assert dest.read_bytes() == archive.read_bytes()
    assert seen[-1] == (archive.stat().st_size, archive.stat().st_size)
    assert list(dest.parent.iterdir()) == [dest]  # no temp file left behind


@pytest.mark.parametrize("bad", ["md5", "sha256", "size"])
def test_wrong_checksum_or_size_raises_and_leaves_no_file(server, tmp_path, bad):
    archive = make_tgz(server.root / "toy.tgz", GOOD)
    kwargs = {"md5": md5_of(archive)}
    if bad == "md5":
        kwargs["md5"] = "0" * 32
    elif bad == "sha256":
        kwargs["sha256"] = "0" * 64
    else:
        kwargs["size"] = archive.stat().st_size + 1
    out = tmp_path / "out"
    with pytest.raises(DownloadError, match="checksum mismatch" if bad != "size" else "size mismatch"):
        download_url(f"{server.url}/files/toy.tgz", out / "toy.tgz", **kwargs)
    assert list(out.iterdir()) == []


def test_connection_dropped_midway_leaves_no_half_file(server, tmp_path):
    make_tgz(server.root / "toy.tgz", GOOD)
    out = tmp_path / "out"
    with pytest.raises(DownloadError, match="broke off"):
        download_url(f"{server.url}/truncated/toy.tgz", out / "toy.tgz")
    assert list(out.iterdir()) == []


def test_existing_file_is_kept_when_a_new_download_fails(server, tmp_path):
    dest = tmp_path / "toy.tgz"
    dest.write_bytes(b"the good old copy")
    make_tgz(server.root / "toy.tgz", GOOD)
    with pytest.raises(DownloadError):
        download_url(f"{server.url}/truncated/toy.tgz", dest)
    assert dest.read_bytes() == b"the good old copy"


def test_unreachable_host_and_http_errors_have_human_messages(server, tmp_path):
    with pytest.raises(DownloadError, match=r"could not reach 127\.0\.0\.1"):
        download_url(f"http://127.0.0.1:{closed_port()}/x.tgz", tmp_path / "x.tgz", timeout=2)
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_url(f"{server.url}/files/nothing.tgz", tmp_path / "x.tgz")
    assert not (tmp_path / "x.tgz").exists()


def test_max_bytes_stops_a_too_big_download(server, tmp_path):
    make_tgz(server.root / "toy.tgz", GOOD)
    with pytest.raises(DownloadError, match="allowed"):
        download_url(f"{server.url}/files/toy.tgz", tmp_path / "toy.tgz", max_bytes=1000)
    assert not (tmp_path / "toy.tgz").exists()


# ------------------------------------------------------------------------------------------------
# fetch_and_extract

def test_fetch_and_extract_downloads_once_even_from_many_threads(server, isolated_cache):
    archive = make_tgz(server.root / "toy.tgz", GOOD)
    source = OnlineSource(f"{server.url}/files/toy.tgz", archive.stat().st_size, md5_of(archive), "toy")
    results, errors = [], []

    def fetch():
        try:
            results.append(fetch_and_extract(source, "toyset"))
        except Exception as e:  # surfaced by the assert below
            errors.append(e)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [isolated_cache / "toyset" / "toy"] * 4
    for name, data in GOOD.items():
        assert (isolated_cache / "toyset" / name).read_bytes() == data
    assert server.requests == {"/files/toy.tgz": 1}
    assert fetch_and_extract(source, "toyset") == results[0]   # idempotent: the marker says done
    assert server.requests == {"/files/toy.tgz": 1}
    assert download.cached_dataset(source, "toyset") == results[0]
    assert not (isolated_cache / "archives" / "toy.tgz").exists()  # archive dropped after extracting


def test_fetch_and_extract_with_a_bad_checksum_leaves_no_dataset(server, isolated_cache):
    archive = make_tgz(server.root / "toy.tgz", GOOD)
    source = OnlineSource(f"{server.url}/files/toy.tgz", archive.stat().st_size, "f" * 32, "toy")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch_and_extract(source, "toyset")
    assert not (isolated_cache / "toyset").exists()
    assert download.cached_dataset(source, "toyset") is None


def test_changed_source_is_downloaded_again(server, isolated_cache):
    old = make_tgz(server.root / "old.tgz", {"toy/v.txt": b"1"})
    new = make_tgz(server.root / "new.tgz", {"toy/v.txt": b"2"})
    fetch_and_extract(OnlineSource(f"{server.url}/files/old.tgz", None, md5_of(old), "toy"), "toyset")
    path = fetch_and_extract(OnlineSource(f"{server.url}/files/new.tgz", None, md5_of(new), "toy"), "toyset")
    assert (path / "v.txt").read_bytes() == b"2"


# ------------------------------------------------------------------------------------------------
# safe_extract: the good cases

def test_safe_extract_tgz_tar_and_zip(tmp_path):
    tgz = make_tgz(tmp_path / "a.tgz", GOOD)
    tar = tmp_path / "a.tar"
    with tarfile.open(tar, "w") as tf:
        for name, data in GOOD.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    zip_path = tmp_path / "a.zip"
    zip_path.write_bytes(make_zip(GOOD))
    for archive in (tgz, tar, zip_path):
        target = tmp_path / f"out-{archive.suffix}"
        files = safe_extract(archive, target)
        assert sorted(files) == sorted(target / name for name in GOOD)
        for name, data in GOOD.items():
            assert (target / name).read_bytes() == data


def test_safe_extract_takes_an_upload_as_bytes_or_file_object(tmp_path):
    data = make_zip({"cat.png": b"\x89PNG fake", "dogs/dog.jpg": b"\xff\xd8 fake"})
    assert sorted(p.name for p in safe_extract(data, tmp_path / "a", **download.UPLOAD_LIMITS)) == ["cat.png", "dog.jpg"]
    upload = io.BytesIO(data)
    upload.read()  # an UploadedFile that was read already
    assert len(safe_extract(upload, tmp_path / "b", **download.UPLOAD_LIMITS)) == 2
    assert not upload.closed


def test_safe_extract_refuses_a_non_empty_target_unless_replacing(tmp_path):
    zip_bytes = make_zip({"new.txt": b"new"})
    target = tmp_path / "t"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(DownloadError, match="not empty"):
        safe_extract(zip_bytes, target)
    assert (target / "old.txt").exists()
    safe_extract(zip_bytes, target, replace=True)
    assert [p.name for p in target.iterdir()] == ["new.txt"]


# ------------------------------------------------------------------------------------------------
# safe_extract: malicious archives. Each leaves nothing in target and nothing outside it.

def tar_with(tmp_path: Path, *members: tuple[tarfile.TarInfo, bytes]) -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        tf.addfile(_file_info("ok/first.txt", 3), io.BytesIO(b"abc"))  # a good member first
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data else None)
    return path


def _file_info(name, size, type_=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = size, type_, linkname
    return info


def evil_tars(tmp_path):
    outside = tmp_path / "outside"
    return {
        "traversal": ([(_file_info("ok/../../outside/evil.txt", 4), b"evil")], "'..'"),
        "absolute": ([(_file_info(str(outside / "evil.txt"), 4), b"evil")], "absolute"),
        "symlink": ([(_file_info("ok/link", 0, tarfile.SYMTYPE, str(outside)), b""),
                     (_file_info("ok/link/evil.txt", 4), b"evil")], "symbolic link"),
        "hardlink": ([(_file_info("ok/hard", 0, tarfile.LNKTYPE, str(outside / "secret.txt")), b"")], "hard link"),
        "device": ([(_file_info("ok/dev", 0, tarfile.CHRTYPE), b"")], "special file"),
        "fifo": ([(_file_info("ok/fifo", 0, tarfile.FIFOTYPE), b"")], "special file"),
    }


def assert_nothing_written(tmp_path, target):
    assert not target.exists()
    assert not (tmp_path / "outside" / "evil.txt").exists()
    assert (tmp_path / "outside" / "secret.txt").read_text() == "secret"
    leftovers = [p.name for p in target.parent.iterdir() if "extracting" in p.name]
    assert leftovers == []


@pytest.fixture
def outside(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    return tmp_path / "outside"


@pytest.mark.parametrize("case", ["traversal", "absolute", "symlink", "hardlink", "device", "fifo"])
def test_malicious_tar_is_rejected(tmp_path, outside, case):
    members, reason = evil_tars(tmp_path)[case]
    archive = tar_with(tmp_path, *members)
    target = tmp_path / "work" / "target"
    with pytest.raises(UnsafeArchiveError, match=reason) as err:
        safe_extract(archive, target)
    assert repr(members[0][0].name) in str(err.value)  # names the member
    assert_nothing_written(tmp_path, target)


def zip_entry(name, data=b"evil", mode=None):
    info = zipfile.ZipInfo(name)
    if mode is not None:
        info.create_system = 3  # unix, so external_attr carries the file type
        info.external_attr = mode << 16
    return info, data


@pytest.mark.parametrize("case,reason", [("traversal", "'..'"), ("absolute", "absolute"),
                                         ("backslash", "'..'"), ("symlink", "symbolic link"),
                                         ("fifo", "special file")])
def test_malicious_zip_is_rejected(tmp_path, outside, case, reason):
    entry = {
        "traversal": zip_entry("ok/../../outside/evil.txt"),
        "absolute": zip_entry(str(outside / "evil.txt")),
        "backslash": zip_entry("..\\outside\\evil.txt"),
        "symlink": zip_entry("ok/link", str(outside).encode(), mode=0o120777),
        "fifo": zip_entry("ok/fifo", b"", mode=0o010644),
    }[case]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ok/first.txt", b"abc")
        zf.writestr(*entry)
    assert entry[0].filename in zipfile.ZipFile(buf).namelist()  # zipfile kept the hostile name
    target = tmp_path / "work" / "target"
    with pytest.raises(UnsafeArchiveError, match=reason) as err:
        safe_extract(buf.getvalue(), target)
    assert repr(entry[0].filename) in str(err.value)
    assert_nothing_written(tmp_path, target)


def test_zip_bomb_is_rejected(tmp_path, outside):
    # 64 MB of zeros compresses to ~64 KB; the limits below stand in for the real ones
    bomb = make_zip({f"ok/zeros{i}.bin": bytes(16 * 2**20) for i in range(4)})
    assert len(bomb) < 200_000
    target = tmp_path / "work" / "target"
    with pytest.raises(UnsafeArchiveError, match="more than"):
        safe_extract(bomb, target, max_total_bytes=20 * 2**20, max_member_bytes=20 * 2**20)
    assert_nothing_written(tmp_path, target)


def test_zip_bomb_that_lies_about_its_size_is_rejected(tmp_path, outside):
    # Declare 10 bytes per member in both headers while 16 MB of zeros are inside.
    honest = make_zip({"ok/zeros.bin": bytes(16 * 2**20)})
    real_size = (16 * 2**20).to_bytes(4, "little")
    liar = honest.replace(real_size, (10).to_bytes(4, "little"))
    assert zipfile.ZipFile(io.BytesIO(liar)).infolist()[0].file_size == 10
    target = tmp_path / "work" / "target"
    with pytest.raises(UnsafeArchiveError, match="ok/zeros.bin"):
        safe_extract(liar, target, max_total_bytes=2**20, max_member_bytes=2**20)
    assert_nothing_written(tmp_path, target)


def test_bytes_written_are_counted_even_if_headers_are_trusted(tmp_path, outside, monkeypatch):
    # Simulate a reader that believes lying headers: only the count of bytes written can stop it.
    monkeypatch.setattr(download._Limits, "check_declared", lambda self, name, size: None)
    bomb = make_zip({"ok/zeros.bin": bytes(4 * 2**20)})
    target = tmp_path / "work" / "target"
    with pytest.raises(UnsafeArchiveError, match="unpacks to more than"):
        safe_extract(bomb, target, max_total_bytes=2**20, max_member_bytes=2**20)
    assert_nothing_written(tmp_path, target)
    with pytest.raises(UnsafeArchiveError, match=r"ok/2\.bin.*unpacks to more than 1,000,000"):
        safe_extract(make_zip({f"ok/{i}.bin": bytes(400_000) for i in range(5)}), target,
                     max_total_bytes=1_000_000, max_member_bytes=500_000)
    assert_nothing_written(tmp_path, target)


def test_actual_bytes_are_counted_across_members(tmp_path, outside):
    # each member is under the per-file limit; together they are over the total
    archive = make_zip({f"ok/{i}.bin": bytes(400_000) for i in range(5)})
    target = tmp_path / "work" / "target"
    with pytest.raises(UnsafeArchiveError, match=r"ok/2\.bin"):
        safe_extract(archive, target, max_total_bytes=1_000_000, max_member_bytes=500_000)
    assert_nothing_written(tmp_path, target)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_too_many_members_is_rejected(tmp_path, outside, kind):
    files = {f"ok/{i}.txt": b"x" for i in range(50)}
    archive = make_zip(files) if kind == "zip" else make_tgz(tmp_path / "many.tgz", files)
    target = tmp_path / "work" / "target"
    with pytest.raises(UnsafeArchiveError, match="more than 10 members"):
        safe_extract(archive, target, max_members=10)
    assert_nothing_written(tmp_path, target)


@pytest.mark.parametrize("data", [b"just some text, not an archive", b"PK\x03\x04 truncated zip", b""])
def test_non_archive_is_rejected(tmp_path, data):
    target = tmp_path / "target"
    with pytest.raises(UnsafeArchiveError):
        safe_extract(data, target)
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_missing_archive_file_is_a_download_error(tmp_path):
    with pytest.raises(DownloadError, match="cannot read"):
        safe_extract(tmp_path / "nope.zip", tmp_path / "target")


def test_archive_without_the_expected_folder_is_not_marked_complete(server, isolated_cache):
    archive = make_tgz(server.root / "flat.tgz", {"a.txt": b"a"})
    source = OnlineSource(f"{server.url}/files/flat.tgz", None, md5_of(archive), "toy")
    with pytest.raises(DownloadError, match="expected folder 'toy'"):
        fetch_and_extract(source, "toyset")
    assert download.cached_dataset(source, "toyset") is None
    assert not (isolated_cache / "toyset" / download.MARKER).exists()
