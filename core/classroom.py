"""The class: its rules, who is who, and what each person may see. Kept in the run store so every server process and
worker shares it, and enforced here, in core/, whatever a page sent.

    <runs>/.class/limits.json        largest image, most epochs, largest upload, longest run (the instructor's page)
    <runs>/.class/presentation.json  what presentation mode hides
    <runs>/.class/logins/            wrong-password counts, per name and per client address
    <runs>/.class/secret             the key that signs browsers' cookies (unless LESSON1_SECRET is set)

A run asking for more than the class allows is refused with a sentence (`check_run`, `check_upload`); a sign-in is
a display name and the class's password (hashed in secrets.toml, `sign_in`), or OpenID Connect (`oidc_identity`);
students list their own runs and uploads only (`runs_of`, `uploads_of`, `delete_runs`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from core.errors import LimitError, StudentError

log = logging.getLogger(__name__)

CLASS_DIR = ".class"


@dataclass(frozen=True)
class ClassLimits:
    image_size: int = 512            # pixels, the longest side a lesson resizes to
    epochs: int = 30                 # epochs of one run (lessons whose epochs are costly)
    upload_mb: int = 50              # one uploaded file
    job_seconds: int = 1200          # one run, start to end

    @classmethod
    def from_dict(cls, raw: dict) -> "ClassLimits":
        clean = {}
        for f in fields(cls):
            value = raw.get(f.name, f.default)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 10**9:
                value = f.default
            clean[f.name] = int(value)
        return cls(**clean)


LIMIT_WORDS = {"image_size": ("images of at most {} pixels", "px"), "epochs": ("at most {} epochs per run", "epochs")}

_cache: dict[Path, tuple[float, ClassLimits]] = {}
_cache_lock = threading.Lock()


def limits_path(root: Path) -> Path:
    return Path(root) / CLASS_DIR / "limits.json"


def current_limits(root: Path | None = None) -> ClassLimits:
    """The class's limits (the defaults until an instructor sets them); re-read when the file changes."""
    from core.runs import runs_root
    path = limits_path(root or runs_root())
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return ClassLimits()
    with _cache_lock:
        hit = _cache.get(path)
        if hit and hit[0] == mtime:
            return hit[1]
    try:
        limits = ClassLimits.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        limits = ClassLimits()
    with _cache_lock:
        _cache[path] = (mtime, limits)
    return limits


def set_limits(limits: ClassLimits, root: Path | None = None) -> None:
    from core.runs import atomic_write, runs_root
    path = limits_path(root or runs_root())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(dict(asdict(limits), set_at=time.time())))


def check_run(lesson: str, kind: str, config: dict, data: dict, root: Path | None = None) -> dict:
    """The config a run may have: every setting, as its job will use them (core.lessons.job_settings), or
    StudentError (a bad setting) / LimitError (beyond a class limit: images, epochs). Plain JSON in and out."""
    from core.lessons import job_settings
    if not isinstance(config, dict) or not isinstance(data, dict):
        raise LimitError("A run's settings and data must be given as JSON objects.")
    try:
        json.dumps(config, allow_nan=False)
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):
        raise LimitError("A run's settings must be plain numbers and text.") from None
    limits = current_limits(root)
    within_limits(lesson, config, limits)            # what was asked for, then what the job's defaults add
    try:
        config = job_settings(lesson, kind, config)
    except StudentError:
        raise
    except Exception:                   # a crafted link's settings of the wrong shape: a sentence, details logged
        logging.getLogger(__name__).exception("settings refused for %s/%s", lesson, kind)
        raise StudentError("These settings are not ones this lesson can train with.") from None
    within_limits(lesson, config, limits)
    return config


def within_limits(lesson: str, config: dict, limits: ClassLimits) -> None:
    """LimitError for settings the lesson ties to a class limit (images, epochs) that add up to more than the class
    allows: fine_tune's frozen epochs count with the others."""
    from core.lessons import get_lesson
    for limit, keys in get_lesson(lesson).limited.items():
        allowed, asked = getattr(limits, limit), []
        for key in keys:
            value = config.get(key)
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise LimitError(f"The setting {key!r} must be a number.")
            asked.append(value)
        if sum(asked) > allowed:
            words = LIMIT_WORDS[limit][0].format(allowed)
            frozen = ", the frozen ones included" if limit == "epochs" and any(asked[1:]) else ""
            raise LimitError(f"This class allows {words} (this run asked for {sum(asked):g} {LIMIT_WORDS[limit][1]}"
                             f"{frozen}). Ask your instructor if you need more.")


def check_upload(n_bytes: int, root: Path | None = None) -> None:
    allowed = current_limits(root).upload_mb
    if n_bytes > allowed * 2**20:
        raise LimitError(f"That file is {n_bytes / 2**20:.1f} MB; this class allows uploads of up to {allowed} MB.")


def class_secret(root: Path | None = None) -> bytes:
    """The key that signs browsers' identity cookies: LESSON1_SECRET, else a random one kept (readable by the
    server's user only) in the run store, so every server process sharing it agrees."""
    import os
    if os.environ.get("LESSON1_SECRET"):
        return os.environ["LESSON1_SECRET"].encode()
    from core.runs import runs_root
    path = Path(root or runs_root()) / CLASS_DIR / "secret"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:               # another process made it first
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        return path.read_bytes()


# ---- who may sign in ---------------------------------------------------------------------------------------------
# A class configures its login in .streamlit/secrets.toml (see .streamlit/secrets.toml.example); ui/login.py reads it
# and hands it here as a plain dict, so everything that decides who is who is tested without streamlit.

class LoginRefused(StudentError):
    """A sign-in that did not work; the message says why (never which part of a name/password was wrong)."""


@dataclass(frozen=True)
class Identity:
    id: str                 # what runs and uploads are owned by
    name: str               # what the instructor's page shows
    role: str = "student"   # "student" | "instructor"


@dataclass(frozen=True)
class ClassAuth:
    """The class's login settings. Every field is optional: with none, students are anonymous browsers and nobody
    is an instructor."""
    class_password: str = ""           # a hash (hash_password): everyone must sign in with a name and this password
    instructor_password: str = ""      # a hash: whoever gives it (with their name) is an instructor
    instructors: tuple[str, ...] = ()  # OIDC identities (e-mail addresses) that are instructors
    oidc: bool = False                 # st.login is configured ([auth] in secrets.toml)
    oidc_provider: str = ""            # the [auth.<provider>] to use, if named
    trust_proxy: bool = False          # take the client's address from X-Forwarded-For (behind a reverse proxy)

    @classmethod
    def from_settings(cls, lesson1: dict | None, auth: dict | None = None) -> "ClassAuth":
        lesson1, auth = dict(lesson1 or {}), dict(auth or {})
        providers = [k for k, v in auth.items() if isinstance(v, dict)]
        instructors = lesson1.get("instructors") or ()
        if isinstance(instructors, str):
            instructors = (instructors,)
        return cls(class_password=str(lesson1.get("class_password") or ""),
                   instructor_password=str(lesson1.get("instructor_password") or ""),
                   instructors=tuple(str(i).strip().lower() for i in instructors if str(i).strip()),
                   oidc=bool(auth.get("client_id") or providers), oidc_provider=str(lesson1.get("oidc_provider") or
                                                                                 (providers[0] if providers else "")),
                   trust_proxy=bool(lesson1.get("trust_proxy", False)))

    @property
    def login_required(self) -> bool:
        return bool(self.class_password) or self.oidc

    @property
    def instructor_login(self) -> bool:
        return bool(self.instructor_password) or bool(self.instructors and self.oidc)

    @property
    def version(self) -> str:
        """Changes whenever the passwords or the instructors change: sign-ins made before stop being valid."""
        text = "|".join([self.class_password, self.instructor_password, *self.instructors])
        return hashlib.sha256(text.encode()).hexdigest()[:12]


SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """What secrets.toml keeps instead of a password: scrypt, with its parameters and a random salt."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or int(n) > 2**20:
            return False
        found = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(_unb64(digest)))
    except (ValueError, TypeError):
        log.error("a password in secrets.toml is not a hash made by `python -m core.classroom hash-password`")
        return False
    return hmac.compare_digest(found, _unb64(digest))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def clean_display_name(name: str) -> str:
    name = " ".join("".join(c for c in str(name) if c.isprintable()).split())
    return name[:40]


def name_identity(name: str) -> str:
    """The identity a display name signs in as: the same name in any case or spacing is the same person."""
    return "name-" + hashlib.sha256(clean_display_name(name).casefold().encode()).hexdigest()[:20]


class LoginThrottle:
    """Wrong passwords cost time: after a few free tries, each further failure doubles the wait, per identity
    and per client address, kept in the run store so every server process agrees. An address gets more free
    tries than a name, because a whole classroom may share one address."""

    FREE = {"name": 3, "address": 20}
    FIRST_WAIT, MOST_WAIT = 2.0, 15 * 60.0

    def __init__(self, root: Path | None = None, clock=time.time):
        from core.runs import runs_root
        self.folder = Path(root or runs_root()) / CLASS_DIR / "logins"
        self.clock = clock

    def _path(self, key: str) -> Path:
        return self.folder / hashlib.sha256(key.encode()).hexdigest()[:32]

    def _read(self, key: str) -> dict:
        try:
            raw = json.loads(self._path(key).read_text())
            return raw if isinstance(raw, dict) else {}
        except (OSError, ValueError):
            return {}

    def wait_left(self, keys: dict[str, str]) -> float:
        """Seconds before another try is allowed (0: now)."""
        now = self.clock()
        return max([0.0] + [float(self._read(f"{kind}:{key}").get("until", 0)) - now for kind, key in keys.items()])

    def failed(self, keys: dict[str, str]) -> None:
        from core.runs import atomic_write
        self.folder.mkdir(parents=True, exist_ok=True)
        for kind, key in keys.items():
            state = self._read(f"{kind}:{key}")
            failures = int(state.get("failures", 0)) + 1
            extra = failures - self.FREE.get(kind, 3)
            wait = min(self.MOST_WAIT, self.FIRST_WAIT * 2 ** (extra - 1)) if extra > 0 else 0.0
            atomic_write(self._path(f"{kind}:{key}"), json.dumps(dict(failures=failures, until=self.clock() + wait)))

    def succeeded(self, keys: dict[str, str]) -> None:
        for kind, key in keys.items():
            if kind == "name":                 # the classroom's shared address keeps its count
                self._path(f"{kind}:{key}").unlink(missing_ok=True)


def sign_in(auth: ClassAuth, name: str, password: str, address: str | None, *, root: Path | None = None,
            throttle: LoginThrottle | None = None) -> Identity:
    """A display name and a password: the class's password signs in a student, the instructor password an
    instructor. Refused (LoginRefused, a sentence) when wrong, or while this name or address must wait."""
    name = clean_display_name(name)
    if not name:
        raise LoginRefused("Please type your name, so your instructor knows whose runs are whose.")
    if not password:
        raise LoginRefused("Please type the password your instructor gave the class.")
    throttle = throttle or LoginThrottle(root)
    keys = {"name": name.casefold(), "address": address or "local"}
    wait = throttle.wait_left(keys)
    if wait > 0:
        raise LoginRefused(f"Too many wrong passwords: please wait {math.ceil(wait)} seconds before trying again.")
    role = None
    if auth.instructor_password and verify_password(password, auth.instructor_password):
        role = "instructor"
    elif auth.class_password and verify_password(password, auth.class_password):
        role = "student"
    if role is None:
        throttle.failed(keys)
        log.warning("refused a sign-in as %r from %s", name, address or "local")
        raise LoginRefused("That password is not right. Check it with your instructor and try again.")
    throttle.succeeded(keys)
    return Identity(name_identity(name), name, role)


def oidc_identity(auth: ClassAuth, claims: dict) -> Identity:
    """Who an OpenID Connect sign-in (st.login) is: their e-mail (or subject), their name, and whether the class
    lists them as an instructor."""
    email = str(claims.get("email") or "").strip().lower()
    subject = email or str(claims.get("sub") or "")
    if not subject:
        raise LoginRefused("Your sign-in did not say who you are; please try again.")
    name = clean_display_name(claims.get("name") or email or "signed in")
    role = "instructor" if email and email in auth.instructors else "student"
    return Identity("oidc-" + hashlib.sha256(subject.encode()).hexdigest()[:20], name, role)


def sign_token(identity: Identity, auth: ClassAuth, *, days: float = 7, root: Path | None = None,
               now: float | None = None) -> str:
    """A signed, expiring token of a sign-in, kept by the browser so another tab or a reload stays signed in."""
    payload = dict(id=identity.id, name=identity.name, role=identity.role, v=auth.version,
                   exp=int((time.time() if now is None else now) + days * 86400))
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_b64(hmac.new(class_secret(root), body.encode(), hashlib.sha256).digest()[:18])}"


def read_token(token: str | None, auth: ClassAuth, *, root: Path | None = None, now: float | None = None
               ) -> Identity | None:
    """The sign-in a token proves, or None if it is forged, expired, or from before the class's settings changed."""
    if not token or token.count(".") != 1:
        return None
    body, signature = token.split(".")
    expected = _b64(hmac.new(class_secret(root), body.encode(), hashlib.sha256).digest()[:18])
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        payload = json.loads(_unb64(body))
        identity = Identity(str(payload["id"]), str(payload["name"]), str(payload["role"]))
    except (ValueError, KeyError, TypeError):
        return None
    if payload.get("v") != auth.version or payload.get("exp", 0) < (time.time() if now is None else now):
        return None
    if identity.role not in ("student", "instructor"):
        return None
    return identity


# ---- a person's runs and uploads ---------------------------------------------------------------------------------
def runs_of(store, owner: str, *, everyone: bool = False) -> list:
    """The records of `owner`'s runs, newest first; every run in the store when `everyone` (an instructor's view).
    A student never gets anyone else's: "My runs" lists this and nothing more."""
    ids = store.ids() if everyone else store.owner_ids(owner)
    return sorted(store.records(ids), key=lambda r: r.created or 0, reverse=True)


def legacy_runs(store) -> list:
    """Runs written by the app's older version (job.json, format 1): nobody's, since their owners were browser
    sessions long gone. Listed to instructors, and to everyone where the app has no class login (a laptop)."""
    from core.runs import LEGACY_FILE, RUN_FILE
    ids = [i for i in store.ids() if (store.root / i / LEGACY_FILE).exists() and not (store.root / i / RUN_FILE).exists()]
    return sorted(store.records(ids), key=lambda r: r.created or 0, reverse=True)


def uploads_of(store, owner: str) -> list[dict]:
    from core.inputs import InputStore
    return InputStore(store.root).owned_by(owner)


def delete_runs(store, run_ids: list[str], *, by: str, instructor: bool = False, legacy: bool = False
                ) -> tuple[list[str], list[str]]:
    """Delete runs (their owner's, or any for an instructor; the older version's too with `legacy`), and the
    uploads they trained on that no other run uses. A run still queued or training is not deleted (stop it
    first). Returns (deleted, refused)."""
    from core.runs import RunError
    deleted, refused, inputs = [], [], set()
    for run_id in run_ids:
        try:
            record = store.read(run_id)
        except RunError:
            refused.append(run_id)
            continue
        allowed = record.owner == by or instructor or (legacy and record.format < 2)
        if not allowed or record.active:
            refused.append(run_id)
            continue
        if record.data.get("input"):
            inputs.add(record.data["input"])
        store.delete(run_id)
        deleted.append(run_id)
    if inputs:
        still_used = {r.data.get("input") for r in store.records(store.ids())}
        for sha in inputs - still_used:                 # a classmate's own upload of the same file stays theirs
            delete_upload(store, sha, by=by, instructor=instructor)
    return deleted, refused


def delete_upload(store, sha: str, *, by: str, instructor: bool = False) -> bool:
    """Forget an upload: this person's claim on it, and the file itself once nobody else uploaded it and no run
    trains on it."""
    import re
    import shutil
    from core.runs import owner_key
    if not re.fullmatch(r"[0-9a-f]{64}", str(sha)):
        return False
    owners = Path(store.root) / ".owners"
    mine = owners / owner_key(by) / ".inputs" / sha
    if not instructor and not mine.exists():
        return False
    mine.unlink(missing_ok=True)
    claims = list(owners.glob(f"*/.inputs/{sha}")) if owners.is_dir() else []
    used = any(r.data.get("input") == sha for r in store.records(store.ids()))
    if instructor and not used:
        for claim in claims:
            claim.unlink(missing_ok=True)
        claims = []
    if not claims and not used:
        shutil.rmtree(Path(store.root) / ".inputs" / sha, ignore_errors=True)
    return True


# ---- the class's presentation settings ---------------------------------------------------------------------------
def presentation_settings(root: Path | None = None) -> dict:
    """What presentation mode hides (chosen on the instructor's page): {"hide": [names of kinds of controls]}."""
    from core.runs import runs_root
    try:
        raw = json.loads((Path(root or runs_root()) / CLASS_DIR / "presentation.json").read_text())
    except (OSError, ValueError):
        return {"hide": []}
    hide = raw.get("hide") if isinstance(raw, dict) else None
    return {"hide": [str(h) for h in hide] if isinstance(hide, list) else []}


def set_presentation_settings(settings: dict, root: Path | None = None) -> None:
    from core.runs import atomic_write, runs_root
    path = Path(root or runs_root()) / CLASS_DIR / "presentation.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"hide": [str(h) for h in settings.get("hide", [])]}))


# ---- the GPU, as the instructor's page shows it ------------------------------------------------------------------
def gpu_usage() -> list[dict] | None:
    """Each GPU's load and memory, from nvidia-smi (so the web server never opens a CUDA context of its own);
    None where there is no NVIDIA GPU."""
    import shutil
    import subprocess
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,name,utilization.gpu,memory.used,memory.total",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=3).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 5:
            try:
                gpus.append(dict(index=int(parts[0]), name=parts[1], busy_percent=float(parts[2]),
                                 used_mib=float(parts[3]), total_mib=float(parts[4])))
            except ValueError:
                continue
    return gpus or None


def main(argv: list[str] | None = None) -> int:
    """python -m core.classroom hash-password: the hash to put in secrets.toml for a class or instructor password."""
    import argparse
    import getpass
    parser = argparse.ArgumentParser(prog="python -m core.classroom")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("hash-password", help="print the hash of a password, for .streamlit/secrets.toml",
                   description="Asks for the password twice (it is not echoed) and prints its scrypt hash: put that "
                               "in .streamlit/secrets.toml's [lesson1] section as class_password or "
                               "instructor_password.")
    args = parser.parse_args(argv)
    if args.command == "hash-password":
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("The two passwords differ.")
            return 1
        print(hash_password(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
