"""Signing in, for a class. Configured in .streamlit/secrets.toml (see .streamlit/secrets.toml.example); with
nothing configured every browser is an anonymous student and nothing here shows.

    [lesson1]
    class_password = "scrypt$…"        everyone signs in with a display name and this password
    instructor_password = "scrypt$…"   the same form with this password signs in an instructor
    instructors = ["teacher@school.edu"]   OpenID Connect (st.login, an [auth] section) identities that are instructors

The decisions (hashes, throttling, tokens, roles) are core/classroom.py's; this draws the forms and keeps a sign-in
in a signed cookie, so another tab or a reload stays signed in.
"""
from __future__ import annotations

import importlib.util
import logging

import streamlit as st

from core.classroom import (ClassAuth, Identity, LoginRefused, oidc_identity, read_token, sign_in, sign_token)
from ui.identity import User, class_root, cookie, current_user, set_cookie

log = logging.getLogger(__name__)

LOGIN_COOKIE = "lesson1_login"
STUDENT_DAYS, INSTRUCTOR_DAYS = 7, 0.5        # an instructor's sign-in on a shared lab machine lasts a lesson


def _secrets_section(name: str) -> dict:
    try:
        section = st.secrets.get(name)
    except Exception:                 # no secrets.toml at all: an unconfigured install
        return {}
    return dict(section) if section else {}


CLASS_SETTINGS = ("class_password", "instructor_password", "instructors", "oidc_provider", "trust_proxy")


def class_auth() -> ClassAuth:
    auth = _secrets_section("auth")
    return ClassAuth.from_settings(_class_settings(),
                                   {k: dict(v) if hasattr(v, "keys") else v for k, v in auth.items()})


def _class_settings() -> dict:
    """The [lesson1] section of secrets.toml, and any of its settings written above every section instead: a
    password written there had been ignored without a word, leaving the class with no instructor."""
    settings = _secrets_section("lesson1")
    try:
        outside = {k: st.secrets[k] for k in CLASS_SETTINGS if k in st.secrets}
    except Exception:
        return settings
    return {**outside, **settings}


def client_address(auth: ClassAuth | None = None) -> str | None:
    """The browser's address, for throttling wrong passwords (behind a reverse proxy: the one it forwarded, if the
    class says to trust it)."""
    auth = auth or class_auth()
    try:
        if auth.trust_proxy:
            forwarded = st.context.headers.get("X-Forwarded-For")
            if forwarded:
                return forwarded.split(",")[0].strip()[:64]
        return st.context.ip_address
    except Exception:
        return None


def _user(identity: Identity) -> User:
    return User(identity.id, identity.name, identity.role, signed_in=True)


def restore() -> User | None:
    """The sign-in this browser already made: OpenID Connect's, or the class login's signed cookie."""
    auth = class_auth()
    if not (auth.login_required or auth.instructor_login):
        return None
    if auth.oidc:
        try:
            if st.user.is_logged_in:
                return _user(oidc_identity(auth, st.user.to_dict()))
        except LoginRefused:
            return None
        except Exception:
            log.exception("could not read the OpenID Connect sign-in")
    identity = read_token(cookie(LOGIN_COOKIE), auth, root=class_root())
    return _user(identity) if identity else None


def needs_sign_in() -> bool:
    return class_auth().login_required and not current_user().signed_in


def _sign_in(name: str, password: str) -> None:
    auth = class_auth()
    try:
        identity = sign_in(auth, name, password, client_address(auth), root=class_root())
    except LoginRefused as e:
        st.session_state["_sign_in_error"] = str(e)
        return
    st.session_state["user"] = _user(identity)
    st.session_state.pop("_sign_in_error", None)
    days = INSTRUCTOR_DAYS if identity.role == "instructor" else STUDENT_DAYS
    set_cookie(LOGIN_COOKIE, sign_token(identity, auth, days=days, root=class_root()), days)


def sign_in_form(key: str, *, instructor_only: bool = False) -> None:
    """A display name and a password (the class's, or the instructor's). Checked in the form's callback, before
    the script runs again, so the page that follows is already the signed-in one."""
    with st.form(key, border=not instructor_only):
        st.text_input("Your name", max_chars=40, key=f"{key}_name",
                      help="What your instructor sees next to your runs.")
        label = "Instructor password" if instructor_only else "Class password"
        st.text_input(label, type="password", key=f"{key}_password",
                      help=None if instructor_only else "Given by your instructor. Instructors: yours.")
        st.form_submit_button("Sign in", type="primary", icon=":material/login:", on_click=_submitted, args=(key,))
    if st.session_state.get("_sign_in_error"):
        st.error(st.session_state["_sign_in_error"], icon=":material/lock:")


def _submitted(key: str) -> None:
    ss = st.session_state
    _sign_in(ss.get(f"{key}_name", ""), ss.get(f"{key}_password", ""))
    ss[f"{key}_password"] = ""


def sign_in_page() -> None:
    """What someone who has not signed in sees when the class requires it."""
    auth = class_auth()
    st.title("Lesson 1: play the whole game")
    st.markdown("This server is set up for a class: sign in to train models and find your runs again later.")
    left, _ = st.columns([2, 1])
    with left:
        if auth.oidc:
            if importlib.util.find_spec("authlib") is None:
                log.error("[auth] is configured in secrets.toml but Authlib is not installed "
                          "(pip install 'streamlit[auth]')")
                st.error("Signing in with your school account is not working on this server yet; tell your "
                         "instructor.", icon=":material/error:")
            elif st.button("Sign in with your school account", type="primary", icon=":material/account_circle:"):
                st.login(auth.oidc_provider or None)
        if auth.class_password:
            if auth.oidc:
                st.caption("Or, with the class's password:")
            sign_in_form("class_sign_in")


def sign_out() -> None:
    """Forget this session's sign-in and the browser's (a callback: it runs before the next script run)."""
    user = current_user()
    st.session_state.pop("user", None)
    st.session_state["_sign_in_looked_for"] = True      # not signed in again from the cookie this session
    set_cookie(LOGIN_COOKIE, "", 0)
    if class_auth().oidc and user.signed_in and user.id.startswith("oidc-"):
        st.logout()


def account_box() -> None:
    """In the sidebar: who you are, and signing in (as the instructor) or out."""
    auth = class_auth()
    user = current_user()
    if user.signed_in:
        role = " (instructor)" if user.instructor else ""
        cols = st.columns([1, 1], vertical_alignment="center")
        cols[0].markdown(f":material/person: **{user.name}**{role}")
        cols[1].button("Sign out", key="sign_out", icon=":material/logout:", on_click=sign_out, type="tertiary")
    elif auth.instructor_password and not auth.login_required:
        with st.popover("Instructor sign-in", icon=":material/school:"):
            sign_in_form("instructor_sign_in", instructor_only=True)
