"""Signing in, in the app: a class password for students, an instructor password for the instructor, wrong
passwords refused and throttled, signing out; an open class where only the instructor signs in."""
import pytest

from core.classroom import hash_password
from tests.helpers import texts
from tests.page_users import open_as

APP = "streamlit_app.py"
CLASS_PW, TEACHER_PW = "owls-at-dusk", "chalk-and-talk"


@pytest.fixture(scope="module")
def hashes():
    return hash_password(CLASS_PW), hash_password(TEACHER_PW)


@pytest.fixture
def class_secrets(hashes):
    return {"lesson1": {"class_password": hashes[0], "instructor_password": hashes[1]}}


def sign_in(at, name, password, form="class_sign_in"):
    at.text_input(key=f"{form}_name").input(name)
    at.text_input(key=f"{form}_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def nav_titles(at) -> str:
    """The pages the navigation offers (AppTest keeps what st.navigation registered)."""
    return " ".join(str(info.get("page_name") or info.get("url_pathname") or "")
                    for info in at._registered_pages.values()).lower()


def test_a_class_with_a_password_asks_everyone_to_sign_in(service, class_secrets):
    at = open_as(APP, None, secrets=class_secrets)
    assert "sign in" in texts(at.markdown).lower()
    assert at.text_input(key="class_sign_in_name") and "tabular" not in nav_titles(at)


def test_a_wrong_password_is_refused_then_throttled(service, class_secrets):
    at = open_as(APP, None, secrets=class_secrets)
    for _ in range(4):
        sign_in(at, "Bob", "guess")
        assert "That password is not right" in texts(at.error)
    sign_in(at, "Bob", CLASS_PW)                                     # right, but too soon after the guesses
    assert "please wait" in texts(at.error) and "user" not in at.session_state


def test_the_class_password_signs_in_a_student_the_instructor_password_an_instructor(service, class_secrets):
    at = sign_in(open_as(APP, None, secrets=class_secrets), "Ada", CLASS_PW)
    user = at.session_state["user"]
    assert user.name == "Ada" and not user.instructor and user.signed_in
    assert "tabular" in nav_titles(at) and "instructor" not in nav_titles(at)
    teacher = sign_in(open_as(APP, None, secrets=class_secrets), "Ms Teacher", TEACHER_PW)
    assert teacher.session_state["user"].instructor
    teacher.switch_page("pages/instructor.py").run()
    assert teacher.title[0].value == "Instructor" and not teacher.main.warning
    next(b for b in teacher.button if b.key == "sign_out").click().run()
    assert "user" not in teacher.session_state and teacher.text_input(key="class_sign_in_name")


@pytest.mark.parametrize("secrets", [lambda h: {"lesson1": {"instructor_password": h}},
                                     lambda h: {"instructor_password": h}],      # written above the section
                         ids=["in_its_section", "above_every_section"])
def test_in_an_open_class_only_the_instructor_signs_in(service, hashes, secrets):
    at = open_as(APP, None, secrets=secrets(hashes[1]))
    assert "Lesson 1: play the whole game" in at.title[0].value      # students need not sign in
    assert "tabular" in nav_titles(at) and "instructor" not in nav_titles(at)
    sign_in(at, "Ms Teacher", CLASS_PW, form="instructor_sign_in")  # no class password here: refused
    assert "not right" in texts(at.error)
    sign_in(at, "Ms Teacher", TEACHER_PW, form="instructor_sign_in")
    assert at.session_state["user"].instructor and "instructor" in nav_titles(at)


def test_without_configuration_nobody_signs_in_and_nobody_is_an_instructor(service):
    at = open_as(APP, None)
    assert at.title[0].value.startswith("Lesson 1") and not at.text_input
    assert "instructor" not in nav_titles(at) and not at.sidebar.get("popover")
