"""Opening a page as a given person (AppTest), for the classroom's page tests."""
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from ui.identity import User

ALICE = User("name-alice", "Alice", signed_in=True)
BOB = User("name-bob", "Bob", signed_in=True)
TEACHER = User("name-teacher", "Ms Teacher", "instructor", signed_in=True)


def open_as(page: str, user: User | None, query: dict | None = None, secrets: dict | None = None,
            timeout: float = 120) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=timeout)
    if user is not None:
        at.session_state["user"] = user
    for key, value in (query or {}).items():
        at.query_params[key] = value
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
