"""A student's zip, read in memory: nothing is written to disk, so nothing is left behind in a temp folder.

    files = read_zip(upload_bytes)            # {"images/a.jpg": b"...", "codes.txt": b"..."}
    data = zip_of_files(files)                # and back: the same bytes for the same files

Refused, with a sentence naming the member, before a byte of it is kept: a file that is not a zip, too many
members, a path that climbs out ("../x") or starts at the root ("/etc/x", "C:\\x"), a symbolic link or a device,
an encrypted member, a member or a whole archive that unpacks to more than the limits (counted on the bytes
actually decompressed, since a zip bomb's header lies), and a member that compresses suspiciously well.
Folders, macOS's "__MACOSX" copies and hidden files (".DS_Store") are skipped.
"""
from __future__ import annotations

import io
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from core.errors import StudentError

MiB = 2**20
CHUNK = MiB


class ArchiveRefused(StudentError):
    """The zip cannot be used; the message is a sentence for the student."""


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 3_000
    max_member_bytes: int = 30 * MiB
    max_total_bytes: int = 256 * MiB
    max_ratio: int = 200            # uncompressed / compressed: photos and PNG masks compress far less than this


def _member_path(name: str) -> str | None:
    """The member's path inside the archive, or ArchiveRefused. None for what is skipped."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise ArchiveRefused(f"The zip was refused: “{_shown(name)}” is an absolute path. Zip the folder's "
                             "contents with paths relative to it.")
    parts = [p for p in PurePosixPath(cleaned).parts if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(f"The zip was refused: “{_shown(name)}” points outside the archive (“..”).")
    if any("\x00" in p or not p.isprintable() for p in parts):
        raise ArchiveRefused("The zip was refused: a file name in it holds control characters.")
    if not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
        return None
    return "/".join(parts)


def _shown(name: str) -> str:
    return "".join(c for c in name if c.isprintable())[:80]


def read_zip(data: bytes, limits: ZipLimits = ZipLimits()) -> dict[str, bytes]:
    """Every regular file of the zip, by its path inside it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ArchiveRefused("This file is not a zip archive (or it is damaged).") from None
    files: dict[str, bytes] = {}
    total = 0
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise ArchiveRefused(f"The zip holds {len(infos):,} files; at most {limits.max_members:,} are allowed.")
        for info in infos:
            path = _member_path(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArchiveRefused(f"The zip was refused: “{_shown(info.filename)}” is a symbolic link.")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise ArchiveRefused(f"The zip was refused: “{_shown(info.filename)}” is not a regular file.")
            if info.flag_bits & 0x1:
                raise ArchiveRefused(f"The zip was refused: “{_shown(info.filename)}” is encrypted.")
            if path is None or info.is_dir():
                continue
            if path in files:
                raise ArchiveRefused(f"The zip holds “{_shown(path)}” twice.")
            if info.file_size > limits.max_member_bytes:
                raise ArchiveRefused(f"“{_shown(path)}” unpacks to {info.file_size / MiB:.0f} MB; each file may be "
                                     f"at most {limits.max_member_bytes // MiB} MB.")
            files[path] = _read_member(archive, info, path, limits, limits.max_total_bytes - total)
            total += len(files[path])
    return files


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, limits: ZipLimits,
                 room: int) -> bytes:
    """The member's bytes, decompressed a chunk at a time and counted, whatever its header claims."""
    allowed = min(limits.max_member_bytes, room, max(MiB, limits.max_ratio * info.compress_size))
    out = bytearray()
    try:
        with archive.open(info) as src:
            while chunk := src.read(CHUNK):
                out += chunk
                if len(out) > allowed:
                    raise ArchiveRefused(
                        f"The zip was refused: “{_shown(path)}” unpacks to far more than it should (it looks "
                        f"like a zip bomb), or the archive unpacks to more than {limits.max_total_bytes // MiB} MB.")
    except ArchiveRefused:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, RuntimeError, ValueError,
            zlib.error, OSError):
        raise ArchiveRefused(f"“{_shown(path)}” in the zip is damaged or uses a compression this server cannot "
                             "read.") from None
    return bytes(out)


def zip_of_files(files: dict[str, bytes]) -> bytes:
    """A zip of {path inside: bytes}, the same bytes for the same files (no timestamps), so the same photos make
    the same upload."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), files[name])
    return buffer.getvalue()
