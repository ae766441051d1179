"""Signing in with a school account (OpenID Connect through st.login), end to end in a real browser, against a
provider on 127.0.0.1 (tests/fake_oidc.py): a student, an instructor listed by e-mail, signing out, and a token
Streamlit must refuse. Screenshots go to artifacts/."""
import pytest

from tests.conftest import app_server, wait_for_app
from tests.fake_oidc import auth_secrets, fake_provider

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def oidc_class(tmp_path_factory):
    pytest.importorskip("authlib", reason="st.login needs Authlib (streamlit[auth])")
    folder = tmp_path_factory.mktemp("oidc")
    with fake_provider() as provider:
        secrets = folder / "secrets.toml"
        secrets.write_text(auth_secrets(provider) + '\n[lesson1]\ninstructors = ["Teacher@School.edu"]\n')
        with app_server(folder, folder / "runs", ("--secrets.files", str(secrets))) as url:
            yield url, provider, folder / "streamlit.log"


def _school_sign_in(browser, url, email, name):
    """Open the app, press the school-account button, sign in at the provider; returns the page, back at the app."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    wait_for_app(page, timeout=90_000)
    page.get_by_role("button", name="Sign in with your school account").click()
    page.get_by_role("heading", name="School sign-in").wait_for(timeout=30_000)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    wait_for_app(page, timeout=90_000)
    return page


def _sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def test_a_student_and_an_instructor_sign_in_with_their_school_accounts(browser, oidc_class, screenshot_dir):
    url, provider, _ = oidc_class
    student = _school_sign_in(browser, url, "ada@school.edu", "Ada Lovelace")
    student.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    student.get_by_role("heading", name="Lesson 1: play the whole game").wait_for(timeout=60_000)
    wait_for_app(student, timeout=60_000)
    assert "Ada Lovelace" in _sidebar(student).inner_text()
    assert "(instructor)" not in _sidebar(student).inner_text()
    assert "Instructor" not in student.locator('[data-testid="stSidebarNav"]').inner_text()
    claims = provider.tokens_issued[-1]
    assert claims["email"] == "ada@school.edu" and claims["nonce"]      # Authlib asked for, and checked, a nonce
    student.screenshot(path=str(screenshot_dir / "oidc_student.png"))

    again = student.context.new_page()                  # another tab of the same browser: still Ada
    again.goto(f"{url}/my_runs")
    wait_for_app(again, timeout=60_000)
    again.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    assert "Ada Lovelace" in _sidebar(again).inner_text()
    again.close()

    teacher = _school_sign_in(browser, url, "teacher@school.edu", "Ms Teacher")   # listed as Teacher@School.edu
    teacher.get_by_role("button", name="Sign out").wait_for(timeout=60_000)
    assert "Ms Teacher (instructor)" in _sidebar(teacher).inner_text()
    teacher.locator('[data-testid="stSidebarNav"]').get_by_text("Instructor").click()
    teacher.get_by_text("Nobody is training right now").wait_for(timeout=60_000)
    wait_for_app(teacher, timeout=60_000)
    teacher.wait_for_timeout(1000)
    teacher.screenshot(path=str(screenshot_dir / "oidc_instructor.png"))
    teacher.context.close()

    student.get_by_role("button", name="Sign out").click()      # signs out of Streamlit's session cookie too
    student.get_by_role("button", name="Sign in with your school account").wait_for(timeout=60_000)
    student.reload()
    wait_for_app(student, timeout=60_000)
    student.get_by_role("button", name="Sign in with your school account").wait_for(timeout=60_000)
    assert not student.get_by_role("button", name="Sign out").count()
    student.context.close()


def test_a_token_for_another_app_does_not_sign_anyone_in(browser, oidc_class):
    url, provider, log = oidc_class
    provider.audience = "another-app"                   # a token the provider made for someone else's client
    try:
        page = _school_sign_in(browser, url, "mallory@school.edu", "Mallory")
        page.get_by_role("button", name="Sign in with your school account").wait_for(timeout=60_000)
        assert not page.get_by_role("button", name="Sign out").count()
        assert provider.tokens_issued[-1]["email"] == "mallory@school.edu"   # it was issued, and refused
        assert "OAuth token exchange failed" in log.read_text()
    finally:
        provider.audience = None
    page.context.close()
