"""Who is this browser? Runs belong to a person, not a tab: with no configuration, each browser gets a stable
anonymous identity kept in a signed cookie, so a student's runs follow them across tabs and reloads and the
one-run-at-a-time limit is per person. A class login and the instructor's role (ui/login.py) build on
`current_user`.

Streamlit reads a browser's cookies when its tab connects (`st.context.cookies`) but has no way to set one, so a
cookie is set by a line of JavaScript in the page (`st.html(..., unsafe_allow_javascript=True)`); streamlit_app.py
calls `write_cookies()` once per script run, after the page, so whatever the page decided is kept.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

import streamlit as st

COOKIE = "lesson1_browser"
COOKIE_DAYS = 365


@dataclass(frozen=True)
class User:
    id: str                 # what runs and uploads are owned by
    name: str               # what the instructor's page shows
    role: str = "student"   # "student" | "instructor"
    signed_in: bool = False  # through the class's login (else an anonymous browser)

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"


def class_root():
    """The class's run store folder, without starting the training service (and importing torch) for it: the
    service's if it is running, else where it will be."""
    import sys
    from core.runs import runs_root
    service = getattr(sys.modules.get("core.service"), "_service", None)
    return service.store.root if service is not None else runs_root()


def _secret() -> bytes:
    from core.classroom import class_secret
    return class_secret(class_root())


def sign(value: str) -> str:
    return hmac.new(_secret(), value.encode(), hashlib.sha256).hexdigest()[:24]


def cookie(name: str) -> str | None:
    try:
        return st.context.cookies.get(name)
    except Exception:                 # no browser (AppTest, a script)
        return None


def _from_cookie() -> str | None:
    raw = cookie(COOKIE)
    if not raw or "." not in raw:
        return None
    value, signature = raw.rsplit(".", 1)
    return value if hmac.compare_digest(signature, sign(value)) and value.isalnum() else None


def set_cookie(name: str, value: str, days: float) -> None:
    """Ask the browser to keep a cookie (written by `write_cookies`, at the end of this script run)."""
    st.session_state.setdefault("_cookies", {})[name] = (value, int(days * 86400))


def browser_id() -> str:
    """This browser's anonymous id: from its cookie, or a new one that the browser is asked to keep."""
    ss = st.session_state
    if "browser_id" not in ss:
        found = _from_cookie()
        ss.browser_id = found or secrets.token_hex(12)
        if not found:
            # Kept asking for on every run of this session: a run cut short by a rerun may never reach the browser.
            ss._browser_cookie = f"{ss.browser_id}.{sign(ss.browser_id)}"
    if ss.get("_browser_cookie"):
        set_cookie(COOKIE, ss._browser_cookie, COOKIE_DAYS)
    return ss.browser_id


def write_cookies() -> None:
    """Send the cookies this run asked for to the browser (one invisible script)."""
    wanted = st.session_state.get("_cookies") or {}
    if not wanted:
        return
    secure = "; Secure" if (_url() or "").startswith("https:") else ""
    lines = [f"document.cookie = {json.dumps(f'{name}={value}; path=/; max-age={age}; SameSite=Lax{secure}')};"
             for name, (value, age) in wanted.items()]
    st.html(f"<script>{''.join(lines)}</script>", unsafe_allow_javascript=True, width="content")
    st.session_state["_cookies"] = {}


def _url() -> str | None:
    try:
        return st.context.url
    except Exception:
        return None


ANONYMOUS = "anonymous"           # the name of a browser nobody signed in from


def display_name(owner: str, owner_name: str | None) -> str:
    """How lists name a run's owner: their name, or, for a browser nobody signed in from, "anonymous 3f2a" (from a
    hash of its id), so that an instructor tells two such students apart."""
    if owner_name and owner_name != ANONYMOUS:
        return owner_name
    return f"{ANONYMOUS} {hashlib.sha256(owner.encode()).hexdigest()[:4]}"


def current_user() -> User:
    """The person using this session: their sign-in (ui/login.py) if they signed in, else this browser."""
    ss = st.session_state
    user = ss.get("user")
    if isinstance(user, User):
        return user
    if not ss.get("_sign_in_looked_for"):        # a sign-in kept by this browser (another tab, a reload)
        ss["_sign_in_looked_for"] = True
        from ui.login import restore
        user = restore()
        if user is not None:
            ss["user"] = user
            return user
    return User(f"browser-{browser_id()}", ANONYMOUS)
