"""Students' uploads, kept once in the run store and referenced by the runs that train on them, so a worker in
another process or on another machine can read them and a run can be trained again from its link.

    <runs>/.inputs/<sha256>/data        the bytes, as uploaded
    <runs>/.inputs/<sha256>/meta.json   kind ("csv", "image_zip"...), the file's name, its size, when
    <runs>/.owners/<owner>/.inputs/<sha256>   who uploaded it: students see their own uploads only

A run's `data` is then {"input": <sha256>, "kind": ..., "name": ...}. An upload stays until its owner deletes it on
My runs, with the runs that used it, or an instructor does (core/classroom.delete_runs, delete_upload).
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

from core.errors import StudentError
from core.runs import atomic_write, owner_key

_SHA = re.compile(r"^[0-9a-f]{64}$")


class InputMissing(StudentError):
    pass


def clean_name(name: str) -> str:
    """A file name to show: its last part, printable, short."""
    name = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable())[:120]
    return name or "upload"


class InputStore:
    def __init__(self, root: Path | str):
        self.root = Path(root) / ".inputs"
        self.owners = Path(root) / ".owners"

    def _folder(self, sha: str) -> Path:
        if not isinstance(sha, str) or not _SHA.match(sha):
            raise InputMissing("That upload is not known to this server.")
        return self.root / sha

    def put(self, data: bytes, *, kind: str, name: str, owner: str) -> dict:
        """Keep `data` (once, whoever uploads the same bytes again) and return the reference a run's data is."""
        from core.classroom import check_upload
        check_upload(len(data), self.root.parent)          # this store's class, not the default one
        sha = hashlib.sha256(data).hexdigest()
        folder = self._folder(sha)
        if not (folder / "data").exists():
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / "data", data)
        meta = dict(kind=kind, name=clean_name(name), bytes=len(data), stored=time.time())
        atomic_write(folder / "meta.json", json.dumps(meta))
        mine = self.owners / owner_key(owner) / ".inputs"
        mine.mkdir(parents=True, exist_ok=True)
        (mine / sha).touch()
        return {"input": sha, "kind": kind, "name": meta["name"]}

    def read(self, ref: dict) -> bytes:
        """The bytes of an uploaded input, checked against their hash."""
        folder = self._folder(ref.get("input", ""))
        try:
            data = (folder / "data").read_bytes()
        except FileNotFoundError:
            raise InputMissing("The file this run trained on is no longer on the server.") from None
        if hashlib.sha256(data).hexdigest() != ref["input"]:
            raise InputMissing("The file this run trained on is damaged on the server.")
        return data

    def owned_by(self, owner: str) -> list[dict]:
        mine = self.owners / owner_key(owner) / ".inputs"
        out = []
        for marker in sorted(mine.iterdir()) if mine.is_dir() else []:
            try:
                meta = json.loads((self.root / marker.name / "meta.json").read_text())
            except (OSError, ValueError):
                continue
            out.append({"input": marker.name, "kind": meta.get("kind"), "name": meta.get("name"),
                        "bytes": meta.get("bytes"), "stored": meta.get("stored")})
        return out
