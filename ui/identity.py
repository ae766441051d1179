"""Who is this browser? Runs belong to a person, not a tab: with no configuration, each browser gets a stable
anonymous identity kept in a signed cookie, so a student's runs follow them across tabs and reloads and the
one-run-at-a-time limit is per person. (A class login and the instructor's role build on `current_user`, see
ui/login.py.)"""
from __future__ import annotations

import hashlib
import hmac
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

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"


def _secret() -> bytes:
    from core.classroom import class_secret
    return class_secret()


def _sign(value: str) -> str:
    return hmac.new(_secret(), value.encode(), hashlib.sha256).hexdigest()[:24]


def _from_cookie() -> str | None:
    try:
        raw = st.context.cookies.get(COOKIE)
    except Exception:                 # no browser (AppTest, a script)
        return None
    if not raw or "." not in raw:
        return None
    value, signature = raw.rsplit(".", 1)
    return value if hmac.compare_digest(signature, _sign(value)) and value.isalnum() else None


def browser_id() -> str:
    """This browser's anonymous id: from its cookie, or a new one that the browser is asked to keep."""
    ss = st.session_state
    if "browser_id" not in ss:
        found = _from_cookie()
        if found:
            ss.browser_id = found
        else:
            ss.browser_id = secrets.token_hex(12)
            ss.browser_cookie_pending = True
    if ss.pop("browser_cookie_pending", False):
        cookie = f"{COOKIE}={ss.browser_id}.{_sign(ss.browser_id)}; path=/; max-age={COOKIE_DAYS * 86400}; SameSite=Lax"
        st.html(f"<script>document.cookie = {cookie!r};</script>", unsafe_allow_javascript=True)
    return ss.browser_id


def current_user() -> User:
    """The person using this session: a login (ui/login.py) if the class has one, else this browser."""
    user = st.session_state.get("user")
    if isinstance(user, User):
        return user
    return User(f"browser-{browser_id()}", "anonymous")
