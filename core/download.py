"""Safe downloads and safe archive extraction.

Three promises, because a class server is shared and students upload files:
- a download either lands complete and verified at `dest`, or nothing is left there;
- an archive is extracted into a temp folder next to its target and renamed into place
  only when every member passed the checks (no paths outside the target, no links, no
  devices, bounded member count and bytes — bytes *actually written*, since zip bombs lie);
- checking for the internet never hangs a page: `is_online` is bounded and cached.

Uploads: `safe_extract` takes a path, raw bytes or a binary file-like object, so a page can do
`safe_extract(uploaded_file.getvalue(), target, **UPLOAD_LIMITS)` with Streamlit's UploadedFile.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import stat
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, Callable
from urllib.parse import urlsplit
from core.errors import StudentError

if TYPE_CHECKING:
    from core.datasets import OnlineSource

GiB = 2**30
MiB = 2**20
DEFAULT_HOST = "https://s3.amazonaws.com"
ONLINE_TTL_S = 300.0
CHUNK = MiB

# Limits for students' uploaded zips of images (pass as **UPLOAD_LIMITS).
UPLOAD_LIMITS = dict(max_total_bytes=300 * MiB, max_members=2_000, max_member_bytes=30 * MiB)


class DownloadError(StudentError):
    """A download or extraction failed; the message is a sentence a student can read."""


class UnsafeArchiveError(DownloadError):
    """An archive was refused: it names the member and the reason."""


def cache_dir() -> Path:
    """Where downloaded datasets live: $LESSON1_CACHE or ~/.cache/lesson1 (created on demand)."""
    path = Path(os.environ.get("LESSON1_CACHE") or Path.home() / ".cache" / "lesson1").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------------
# Is the internet there?

_online_cache: dict[tuple[str, int], tuple[float, bool]] = {}
_online_lock = threading.Lock()


def _host_port(url_or_host: str) -> tuple[str, int]:
    """'https://s3.amazonaws.com/x.tgz', 's3.amazonaws.com' or '127.0.0.1:8000' -> (host, port)."""
    if "://" not in url_or_host:
        url_or_host = "//" + url_or_host
    parts = urlsplit(url_or_host)
    default_port = 80 if parts.scheme == "http" else 443
    if not parts.hostname:
        raise ValueError(f"no host name in {url_or_host!r}")
    return parts.hostname, parts.port or default_port


def _proxy_for(url_or_host: str) -> str | None:
    # Behind an HTTP proxy urllib talks to the proxy, so that is what must be reachable.
    scheme = urlsplit(url_or_host).scheme if "://" in url_or_host else "https"
    host, _ = _host_port(url_or_host)
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(scheme)


def _probe(host: str, port: int, timeout: float) -> bool:
    # getaddrinfo ignores socket timeouts, so the probe runs on a daemon thread we stop waiting for.
    answer: list[bool] = []

    def connect():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=connect, daemon=True, name=f"probe-{host}")
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


def is_online(url_or_host: str = DEFAULT_HOST, timeout: float = 1.5, ttl: float = ONLINE_TTL_S) -> bool:
    """Can we open a TCP connection to that host (or to the proxy in front of it)?

    Takes at most about `timeout` seconds and remembers the answer for `ttl` seconds.
    LESSON1_OFFLINE=1 forces False (a class server that must never download).
    """
    if os.environ.get("LESSON1_OFFLINE", "") not in ("", "0"):
        return False
    target = _proxy_for(url_or_host) or url_or_host
    key = _host_port(target)
    now = time.monotonic()
    with _online_lock:
        cached = _online_cache.get(key)
        if cached and now - cached[0] < ttl:
            return cached[1]
    answer = _probe(*key, timeout)
    with _online_lock:
        _online_cache[key] = (time.monotonic(), answer)
    return answer


def forget_online_checks() -> None:
    """Drop the cached reachability answers (tests, or a 'try again' button)."""
    with _online_lock:
        _online_cache.clear()


# ---------------------------------------------------------------------------------------------
# Downloads

Progress = Callable[[int, int | None], None]


def download_url(url: str, dest: Path, *, size: int | None = None, md5: str | None = None,
                 sha256: str | None = None, timeout: float = 30, max_bytes: int = 20 * GiB,
                 progress: Progress | None = None) -> Path:
    """Stream `url` into `dest`: a temp file in the same folder, verified, then renamed atomically.

    `progress(bytes_done, bytes_total_or_None)` is called after each chunk. Raises DownloadError;
    on any failure nothing is left at `dest` and the temp file is removed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    host = urlsplit(url).hostname or url
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            done, declared, hashes = _stream(url, host, out, timeout, max_bytes, size, progress)
        if declared is not None and done != declared:
            raise DownloadError(f"the download from {host} broke off after {done:,} of {declared:,} bytes")
        if size is not None and done != size:
            raise DownloadError(f"size mismatch for {url}: expected {size:,} bytes, got {done:,}")
        for name, expected in (("md5", md5), ("sha256", sha256)):
            if expected and hashes[name].hexdigest() != expected.lower():
                raise DownloadError(f"checksum mismatch for {url}: {name} is {hashes[name].hexdigest()}, "
                                    f"expected {expected.lower()} (the file is damaged or has changed)")
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def _stream(url, host, out, timeout, max_bytes, size, progress):
    hashes = {"md5": hashlib.md5(usedforsecurity=False), "sha256": hashlib.sha256()}
    request = urllib.request.Request(url, headers={"User-Agent": "lesson1-app"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"{host} answered HTTP {e.code} ({e.reason}) for {url}") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(f"could not reach {host}: {reason}") from e
    with response:
        length = response.headers.get("Content-Length")
        declared = int(length) if length and length.isdigit() else None
        total = declared if declared is not None else size
        if total is not None and total > max_bytes:
            raise DownloadError(f"{url} is {total:,} bytes, more than the {max_bytes:,} allowed")
        done = 0
        try:
            while chunk := response.read(CHUNK):
                done += len(chunk)
                if done > max_bytes:
                    raise DownloadError(f"{url} is more than the {max_bytes:,} bytes allowed")
                out.write(chunk)
                for h in hashes.values():
                    h.update(chunk)
                if progress:
                    progress(done, total)
        except DownloadError:
            raise
        except Exception as e:  # http.client.IncompleteRead, ConnectionResetError, socket.timeout...
            raise DownloadError(f"the download from {host} broke off after {done:,} bytes: {e!r}") from e
    return done, declared, hashes


# ---------------------------------------------------------------------------------------------
# Safe extraction

Archive = Path | str | bytes | bytearray | BinaryIO


def safe_extract(archive: Archive, target: Path, *, max_total_bytes: int = 8 * GiB,
                 max_members: int = 200_000, max_member_bytes: int = 2 * GiB,
                 replace: bool = False) -> list[Path]:
    """Extract a .zip / .tar / .tar.gz / .tgz into `target`; return the regular files written.

    `archive` is a path, bytes, or a seekable binary file-like object (an upload).
    `target` must not exist or be an empty folder, unless `replace=True`.
    Raises UnsafeArchiveError (member + reason) and then leaves `target` untouched.
    """
    target = Path(target)
    if target.exists() and not replace and (not target.is_dir() or any(target.iterdir())):
        raise DownloadError(f"{target} already exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    limits = _Limits(max_total_bytes, max_members, max_member_bytes)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".extracting", dir=target.parent))
    try:
        with _open_binary(archive) as fileobj:
            # By magic bytes, not by name: a plain .tar whose last member is a zip passes is_zipfile.
            is_zip = fileobj.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
            fileobj.seek(0)
            extract = _extract_zip if is_zip else _extract_tar
            names = extract(fileobj, staging, limits)
        _move_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [target / name for name in names]


class _Limits:
    def __init__(self, max_total_bytes, max_members, max_member_bytes):
        self.max_total_bytes, self.max_members, self.max_member_bytes = max_total_bytes, max_members, max_member_bytes
        self.total = 0
        self.members = 0

    def count_member(self, name):
        self.members += 1
        if self.members > self.max_members:
            raise UnsafeArchiveError(f"archive member {name!r}: more than {self.max_members:,} members")

    def check_declared(self, name, size):
        if size > self.max_member_bytes:
            raise UnsafeArchiveError(f"archive member {name!r}: {size:,} bytes, more than the "
                                     f"{self.max_member_bytes:,} allowed per file")
        if self.total + size > self.max_total_bytes:
            raise UnsafeArchiveError(f"archive member {name!r}: the archive unpacks to more than "
                                     f"{self.max_total_bytes:,} bytes")


def _open_binary(archive: Archive):
    if isinstance(archive, (bytes, bytearray)):
        return io.BytesIO(archive)
    if isinstance(archive, (str, Path)):
        try:
            return open(archive, "rb")
        except OSError as e:
            raise DownloadError(f"cannot read the archive {archive}: {e.strerror or e}") from e
    if hasattr(archive, "seek"):
        archive.seek(0)  # Streamlit's UploadedFile may have been read already
        return contextlib.nullcontext(archive)  # the caller's object: not ours to close
    return io.BytesIO(archive.read())


def _safe_relative(name: str) -> str | None:
    """The member's path inside the target, or UnsafeArchiveError. None for the root itself."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise UnsafeArchiveError(f"archive member {name!r}: absolute path")
    parts = [p for p in PurePosixPath(cleaned).parts if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {name!r}: '..' would write outside the target folder")
    if any("\x00" in p for p in parts):
        raise UnsafeArchiveError(f"archive member {name!r}: NUL in the name")
    return "/".join(parts) or None


def _copy_counted(src, dest: Path, name: str, limits: _Limits) -> None:
    # The staging folder is fresh and holds no links, so every path under it stays inside it.
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = open(dest, "wb")
    except (FileExistsError, IsADirectoryError, NotADirectoryError) as e:
        raise UnsafeArchiveError(f"archive member {name!r}: clashes with another member ({e})") from e
    except OSError as e:
        raise DownloadError(f"could not write archive member {name!r}: {e}") from e
    written = 0
    with out:
        while chunk := src.read(CHUNK):  # read errors mean a damaged archive: the caller says so
            written += len(chunk)
            limits.total += len(chunk)
            if written > limits.max_member_bytes:
                raise UnsafeArchiveError(f"archive member {name!r}: unpacks to more than the "
                                         f"{limits.max_member_bytes:,} bytes allowed per file")
            if limits.total > limits.max_total_bytes:
                raise UnsafeArchiveError(f"archive member {name!r}: the archive unpacks to more than "
                                         f"{limits.max_total_bytes:,} bytes")
            try:
                out.write(chunk)
            except OSError as e:
                raise DownloadError(f"could not write archive member {name!r}: {e}") from e


def _extract_zip(fileobj, staging: Path, limits: _Limits) -> list[str]:
    try:
        zf = zipfile.ZipFile(fileobj)
    except zipfile.BadZipFile as e:
        raise UnsafeArchiveError(f"not a readable zip archive: {e}") from e
    names = []
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise UnsafeArchiveError(f"archive member {infos[limits.max_members].filename!r}: "
                                     f"more than {limits.max_members:,} members")
        for info in infos:
            name = info.filename
            limits.count_member(name)
            rel = _safe_relative(name)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchiveError(f"archive member {name!r}: symbolic links are not allowed")
            if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UnsafeArchiveError(f"archive member {name!r}: special file (device/fifo/socket)")
            if info.flag_bits & 0x1:
                raise UnsafeArchiveError(f"archive member {name!r}: encrypted")
            if rel is None:
                continue
            if info.is_dir():
                (staging / rel).mkdir(parents=True, exist_ok=True)
                continue
            limits.check_declared(name, info.file_size)
            try:
                with zf.open(info) as src:
                    _copy_counted(src, staging / rel, name, limits)
            except DownloadError:
                raise
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
                    RuntimeError, ValueError, zlib.error, OSError) as e:
                raise UnsafeArchiveError(f"archive member {name!r}: damaged or unsupported ({e})") from e
            names.append(rel)
    return names


def _extract_tar(fileobj, staging: Path, limits: _Limits) -> list[str]:
    try:
        tf = tarfile.open(fileobj=fileobj, mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise UnsafeArchiveError(f"not a .zip, .tar or .tar.gz archive ({e})") from e
    names = []
    with tf:
        try:
            for member in tf:  # lazily, so a million headers stop at max_members
                name = member.name
                limits.count_member(name)
                rel = _safe_relative(name)
                if member.issym():
                    raise UnsafeArchiveError(f"archive member {name!r}: symbolic links are not allowed "
                                             f"(-> {member.linkname!r})")
                if member.islnk():
                    raise UnsafeArchiveError(f"archive member {name!r}: hard links are not allowed "
                                             f"(-> {member.linkname!r})")
                if not (member.isfile() or member.isdir()):
                    raise UnsafeArchiveError(f"archive member {name!r}: special file (device/fifo)")
                if rel is None:
                    continue
                if member.isdir():
                    (staging / rel).mkdir(parents=True, exist_ok=True)
                    continue
                limits.check_declared(name, member.size)
                _copy_counted(tf.extractfile(member), staging / rel, name, limits)
                names.append(rel)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise UnsafeArchiveError(f"damaged archive after {len(names)} files: {e}") from e
    return names


def _move_into_place(staging: Path, target: Path) -> None:
    if target.exists():
        trash = target.with_name(f".{target.name}.old-{os.getpid()}-{threading.get_ident()}")
        os.replace(target, trash)
        try:
            os.replace(staging, target)
        except OSError:
            os.replace(trash, target)
            raise
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(staging, target)


# ---------------------------------------------------------------------------------------------
# Datasets in the cache

_dataset_locks: dict[str, threading.Lock] = {}
_dataset_locks_guard = threading.Lock()
MARKER = ".lesson1-complete.json"


def _dataset_lock(name: str) -> threading.Lock:
    with _dataset_locks_guard:
        return _dataset_locks.setdefault(name, threading.Lock())


def dataset_dir(source: OnlineSource, name: str | None = None) -> Path:
    """Where `fetch_and_extract` puts that dataset's folder (whether or not it is there yet)."""
    root = cache_dir() / (name or source.folder)
    return root / source.folder if source.folder else root


def cached_dataset(source: OnlineSource, name: str | None = None) -> Path | None:
    """The dataset's folder if a completed download of this same source is in the cache."""
    root = cache_dir() / (name or source.folder)
    try:
        marker = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("url") != source.url or marker.get("md5") != source.md5:
        return None
    path = dataset_dir(source, name)
    return path if path.exists() else None


def fetch_and_extract(source: OnlineSource, name: str | None = None, *, progress: Progress | None = None,
                      timeout: float = 30, keep_archive: bool = False) -> Path:
    """Download, verify and extract `source` into cache_dir()/<name>; return the dataset folder.

    Idempotent (a marker file records the completed source) and thread-safe: one lock per
    dataset, so two Streamlit sessions (threads of one server process) asking at once download
    it once. Two separate processes could both download, but each writes only through its own
    temp file and staging folder, so neither sees a half dataset.
    """
    name = name or source.folder
    with _dataset_lock(name):
        done = cached_dataset(source, name)
        if done:
            return done
        root = cache_dir() / name
        archive = cache_dir() / "archives" / (Path(urlsplit(source.url).path).name or f"{name}.download")
        download_url(source.url, archive, size=source.size, md5=source.md5, timeout=timeout, progress=progress)
        try:
            safe_extract(archive, root, replace=True)
        finally:
            if not keep_archive:
                archive.unlink(missing_ok=True)
        path = dataset_dir(source, name)
        if not path.is_dir():
            raise DownloadError(f"{source.url} did not contain the expected folder {source.folder!r}")
        (root / MARKER).write_text(json.dumps({"url": source.url, "md5": source.md5, "size": source.size,
                                               "completed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        return path
