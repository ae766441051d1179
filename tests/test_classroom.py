"""The class in core/: passwords, throttling, sign-in tokens and roles, whose runs and uploads a person sees and may
delete, and the limits and the one-at-a-time rule as the training service enforces them (the page bypassed)."""
import pytest

from core import classroom
from core.classroom import (ClassAuth, ClassLimits, Identity, LoginRefused, LoginThrottle, delete_runs, delete_upload,
                            hash_password, legacy_runs, oidc_identity, read_token, runs_of, set_limits, sign_in,
                            sign_token, uploads_of, verify_password)
from core.errors import LimitError
from core.runs import DONE
from tests.helpers import wait_until
from tests.lesson_for_tests import KEY

CLASS_PW, TEACHER_PW = "owls-at-dusk", "chalk-and-talk"


@pytest.fixture(scope="module")
def auth():
    return ClassAuth(class_password=hash_password(CLASS_PW), instructor_password=hash_password(TEACHER_PW))


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def test_a_password_is_kept_as_a_salted_hash():
    first, second = hash_password("secret"), hash_password("secret")
    assert first != second and "secret" not in first                  # salted
    assert verify_password("secret", first) and verify_password("secret", second)
    assert not verify_password("Secret", first)
    assert not verify_password("secret", "secret")                    # a plain password in secrets.toml never works


def test_the_class_password_signs_in_a_student_and_the_instructor_password_an_instructor(auth, tmp_path):
    student = sign_in(auth, "  Ada   Lovelace ", CLASS_PW, "10.0.0.5", root=tmp_path)
    assert student == Identity(classroom.name_identity("ada lovelace"), "Ada Lovelace", "student")
    teacher = sign_in(auth, "Grace", TEACHER_PW, "10.0.0.6", root=tmp_path)
    assert teacher.role == "instructor" and teacher.id != student.id
    with pytest.raises(LoginRefused, match="type your name"):
        sign_in(auth, "   ", CLASS_PW, None, root=tmp_path)


def test_wrong_passwords_are_refused_then_throttled_per_name_with_backoff(auth, tmp_path):
    clock = Clock()
    throttle = LoginThrottle(tmp_path, clock=clock)

    def attempt(password, name="Bob", address="10.0.0.7"):
        return sign_in(auth, name, password, address, root=tmp_path, throttle=throttle)

    for _ in range(LoginThrottle.FREE["name"]):
        with pytest.raises(LoginRefused, match="not right"):
            attempt("guess")
    with pytest.raises(LoginRefused, match="not right"):
        attempt("guess")                                                 # the first one over: now a wait
    with pytest.raises(LoginRefused, match="wait 2 seconds"):
        attempt(CLASS_PW)                                                # even the right password waits
    clock.now += 2.5
    with pytest.raises(LoginRefused, match="not right"):
        attempt("guess")
    with pytest.raises(LoginRefused, match="wait 4 seconds"):           # each failure doubles the wait
        attempt(CLASS_PW)
    assert attempt(CLASS_PW, name="Carol").role == "student"           # another name on the same address is fine
    clock.now += 4.5
    assert attempt(CLASS_PW).name == "Bob"                             # after the wait, the right password works
    with pytest.raises(LoginRefused, match="not right"):
        attempt("guess")                                               # ...and the count started again


def test_one_address_guessing_many_names_is_throttled_too(auth, tmp_path):
    clock = Clock()
    throttle = LoginThrottle(tmp_path, clock=clock)
    for i in range(LoginThrottle.FREE["address"] + 1):
        with pytest.raises(LoginRefused, match="not right"):
            sign_in(auth, f"name {i}", "guess", "10.9.9.9", root=tmp_path, throttle=throttle)
    with pytest.raises(LoginRefused, match="wait"):
        sign_in(auth, "someone new", CLASS_PW, "10.9.9.9", root=tmp_path, throttle=throttle)
    assert sign_in(auth, "someone new", CLASS_PW, "10.1.1.1", root=tmp_path, throttle=throttle)


def test_a_sign_in_token_cannot_be_forged_expires_and_dies_with_the_passwords(auth, tmp_path):
    teacher = Identity("name-x", "Grace", "instructor")
    token = sign_token(teacher, auth, days=1, root=tmp_path, now=0)
    assert read_token(token, auth, root=tmp_path, now=10) == teacher
    body, signature = token.split(".")
    forged = classroom._b64(classroom._unb64(body).replace(b"instructor", b"instructoR"))
    assert read_token(f"{forged}.{signature}", auth, root=tmp_path, now=10) is None
    assert read_token(token, auth, root=tmp_path, now=2 * 86400) is None             # expired
    changed = ClassAuth(class_password=auth.class_password, instructor_password=hash_password("new"))
    assert read_token(token, changed, root=tmp_path, now=10) is None                  # passwords changed
    assert read_token("garbage", auth, root=tmp_path) is None and read_token(None, auth) is None


def test_oidc_instructors_come_from_the_list():
    auth = ClassAuth.from_settings({"instructors": ["Teacher@School.edu"]}, {"client_id": "x"})
    assert auth.oidc and auth.login_required
    assert oidc_identity(auth, {"email": "teacher@school.edu", "name": "T"}).role == "instructor"
    student = oidc_identity(auth, {"email": "kid@school.edu", "name": "K"})
    assert student.role == "student" and student.id.startswith("oidc-")
    with pytest.raises(LoginRefused):
        oidc_identity(auth, {})


def test_no_settings_means_an_open_class():
    auth = ClassAuth.from_settings(None, None)
    assert not auth.login_required and not auth.instructor_login


def submit(service, owner, kind="train", **config):
    return service.submit(KEY, kind, {}, config, owner=owner, owner_name=owner.title())


def test_two_people_cannot_list_each_others_runs_or_uploads(service):
    from core.inputs import InputStore
    alice, bob = submit(service, "alice", epochs=1), submit(service, "bob", epochs=1)
    inputs = InputStore(service.store.root)
    inputs.put(b"a,b\n1,2\n", kind="csv", name="alice.csv", owner="alice")
    inputs.put(b"x,y\n3,4\n", kind="csv", name="bob.csv", owner="bob")
    assert [r.id for r in runs_of(service.store, "alice")] == [alice.id]
    assert [r.id for r in runs_of(service.store, "bob")] == [bob.id]
    assert [u["name"] for u in uploads_of(service.store, "alice")] == ["alice.csv"]
    assert {r.id for r in runs_of(service.store, "teacher", everyone=True)} >= {alice.id, bob.id}
    for run in (alice, bob):
        service.wait(run.id, 60)


def test_deleting_runs_takes_the_uploads_only_they_used(service):
    from core.inputs import InputStore
    inputs = InputStore(service.store.root)
    only_mine = inputs.put(b"a,b\n1,2\n", kind="csv", name="mine.csv", owner="alice")
    shared = inputs.put(b"x,y\n3,4\n", kind="csv", name="shared.csv", owner="alice")
    inputs.put(b"x,y\n3,4\n", kind="csv", name="shared.csv", owner="bob")
    runs = []
    for owner, data in (("alice", only_mine), ("alice", shared), ("bob", shared)):
        record = service.submit(KEY, "train", data, {"epochs": 1}, owner=owner)
        runs.append(service.wait(record.id, 60))
    assert delete_runs(service.store, [runs[2].id], by="alice") == ([], [runs[2].id])   # not hers
    deleted, refused = delete_runs(service.store, [runs[0].id, runs[1].id], by="alice")
    assert deleted == [runs[0].id, runs[1].id] and not refused
    assert not (service.store.root / ".inputs" / only_mine["input"]).exists()        # nobody else used it
    assert (service.store.root / ".inputs" / shared["input"]).exists()               # bob's run still trains on it
    assert service.store.exists(runs[2].id)
    assert not delete_upload(service.store, shared["input"], by="carol")              # not carol's to delete


def test_a_running_run_is_not_deleted(service):
    run = submit(service, "alice", "wait", seconds=30)
    assert delete_runs(service.store, [run.id], by="alice") == ([], [run.id])
    service.cancel(run.id, by="alice")
    service.wait(run.id, 10)


def test_runs_of_the_older_version_are_listed_as_such(service):
    import json
    folder = service.store.root / "0123456789abcdef"
    folder.mkdir()
    (folder / "job.json").write_text(json.dumps({"kind": "fit", "title": "old run", "status": "done",
                                                 "created": 1.0, "epoch_table": []}))
    old = legacy_runs(service.store)
    assert [r.id for r in old] == ["0123456789abcdef"] and old[0].format == 1
    assert not runs_of(service.store, "alice")                     # nobody's: never in a student's own list
    assert delete_runs(service.store, [old[0].id], by="alice") == ([], [old[0].id])
    assert delete_runs(service.store, [old[0].id], by="alice", legacy=True) == ([old[0].id], [])


def test_limits_hold_when_the_page_is_bypassed_for_a_real_lesson(service):
    set_limits(ClassLimits(epochs=30), service.store.root)
    data = {"dataset": "adult", "source": "embedded"}
    with pytest.raises(LimitError, match="at most 30 epochs"):
        service.submit("tabular", "fit", data, {"epochs": 500, "lr": 1e-2}, owner="mallory")
    assert not service.store.owner_ids("mallory")


def test_a_default_setting_over_the_class_limit_is_refused_too(service):
    """A run that leaves a limited setting out gets its job's default, and that default must be within the limit
    too (collab's default is 5 epochs): left out is not a way round the limit."""
    set_limits(ClassLimits(epochs=2), service.store.root)
    with pytest.raises(LimitError, match="at most 2 epochs"):
        service.submit("collab", "fit", {"dataset": "movielens"}, {}, owner="mallory")
    assert not service.store.owner_ids("mallory")
    queued = service.submit("collab", "fit", {"dataset": "movielens"}, {"epochs": 2}, owner="alice")
    assert queued.config["epochs"] == 2 and queued.config["seed"] is not None      # every setting kept
    service.cancel(queued.id, by="alice")


def test_fine_tunes_frozen_epochs_count_towards_the_epochs_limit(tmp_path):
    """The bird's fine_tune(2) trains 3 epochs (one frozen): a class allowing 2 refuses it; fit_one_cycle(2)
    freezes nothing and is allowed."""
    from core.classroom import check_run
    set_limits(ClassLimits(epochs=2), tmp_path)
    birds = {"dataset": "birds"}
    with pytest.raises(LimitError, match=r"asked for 3 epochs, the frozen ones included"):
        check_run("image_classification", "fit", {"epochs": 2, "recipe": "fine_tune"}, birds, tmp_path)
    assert check_run("image_classification", "fit", {"epochs": 1}, birds, tmp_path)["freeze_epochs"] == 1
    kept = check_run("image_classification", "fit", {"epochs": 2, "recipe": "fit_one_cycle"}, birds, tmp_path)
    assert kept["freeze_epochs"] == 0
    with pytest.raises(LimitError, match=r"asked for 3 epochs, the frozen ones included"):
        check_run("segmentation", "fit", {"epochs": 1, "freeze_epochs": 2}, {"dataset": "scenes"}, tmp_path)
    assert check_run("segmentation", "fit", {"epochs": 1}, {"dataset": "scenes"}, tmp_path)["epochs"] == 1
    with pytest.raises(LimitError, match=r"asked for 3 epochs, the frozen ones included"):
        check_run("segmentation", "fit", {"epochs": 2}, {"dataset": "scenes"}, tmp_path)    # its default frozen 1


def test_an_upload_over_the_class_limit_is_refused_in_core(service):
    from core.inputs import InputStore
    set_limits(ClassLimits(upload_mb=1), service.store.root)
    with pytest.raises(LimitError, match="up to 1 MB"):
        InputStore(service.store.root).put(b"x" * (2 * 2**20), kind="csv", name="big.csv", owner="alice")


def test_a_comparison_counts_as_one_run_and_no_more(service):
    pair = service.submit_comparison(KEY, "wait", {}, [{"seconds": 30}, {"seconds": 30}], owner="alice")
    assert len(pair) == 2 and pair[0].info["comparison"] == pair[1].info["comparison"]
    with pytest.raises(LimitError, match="already have a comparison"):
        submit(service, "alice", epochs=1)
    with pytest.raises(LimitError, match="already have"):
        service.submit_comparison(KEY, "train", {}, [{}, {}], owner="alice")
    other = submit(service, "bob", epochs=1)                          # others queue behind the pair
    assert service.position(other.id) is not None
    for run in pair:
        assert service.cancel(run.id, by="alice")
    for run in pair + [other]:
        service.wait(run.id, 60)
    assert service.wait(submit(service, "alice", epochs=1).id, 60).status == DONE


def test_a_comparison_has_two_to_four_runs_each_within_the_limits(service):
    set_limits(ClassLimits(epochs=5), service.store.root)
    with pytest.raises(LimitError, match="two to 4"):
        service.submit_comparison(KEY, "train", {}, [{}] * 5, owner="alice")
    with pytest.raises(LimitError, match="at most 5 epochs"):
        service.submit_comparison(KEY, "train", {}, [{"epochs": 1}, {"epochs": 500}], owner="alice")
    assert not service.store.owner_ids("alice")                      # one refused: none queued


def test_an_instructor_stops_anyones_run_a_student_cannot(service):
    run = submit(service, "alice", "wait", seconds=30)
    wait_until(lambda: service.store.read(run.id).status == "running")
    assert not service.cancel(run.id, by="bob")
    assert service.cancel(run.id, by="teacher", instructor=True)
    assert service.wait(run.id, 10).status == "cancelled"


def test_a_stored_hash_with_any_character_changed_verifies_nothing():
    stored = hash_password("secret")
    for i in (len(stored) - 1, len(stored) // 2):
        changed = stored[:i] + ("A" if stored[i] != "A" else "B") + stored[i + 1:]
        assert not verify_password("secret", changed), i


def test_the_wait_never_grows_past_a_quarter_of_an_hour(tmp_path):
    clock = Clock()
    throttle = LoginThrottle(tmp_path, clock=clock)
    for _ in range(40):                         # a classmate typing wrong passwords under your name all lesson
        throttle.failed({"name": "bob"})
    assert throttle.wait_left({"name": "bob"}) == LoginThrottle.MOST_WAIT == 15 * 60


def test_signing_in_right_clears_the_names_count_but_not_the_shared_addresss(tmp_path):
    """Else anyone with the class password could sign in once every few tries and guess the instructor's forever."""
    clock = Clock()
    throttle = LoginThrottle(tmp_path, clock=clock)
    for i in range(LoginThrottle.FREE["address"]):
        throttle.failed({"name": f"name {i}", "address": "10.0.0.9"})
    throttle.succeeded({"name": "someone", "address": "10.0.0.9"})
    throttle.failed({"name": "name 99", "address": "10.0.0.9"})
    assert throttle.wait_left({"address": "10.0.0.9"}) > 0


def test_limits_that_make_no_sense_are_the_apps_own():
    assert ClassLimits.from_dict({"epochs": 0, "upload_mb": -5, "image_size": 10**12, "job_seconds": "60"}) \
        == ClassLimits()
    assert ClassLimits.from_dict({"epochs": 3}) == ClassLimits(epochs=3)


def test_deleting_my_upload_keeps_a_classmates_copy_of_the_same_file(service):
    from core.inputs import InputStore
    inputs = InputStore(service.store.root)
    mine = inputs.put(b"x,y\n3,4\n", kind="csv", name="same.csv", owner="alice")
    inputs.put(b"x,y\n3,4\n", kind="csv", name="same.csv", owner="bob")
    assert delete_upload(service.store, mine["input"], by="alice")
    assert not uploads_of(service.store, "alice")
    assert [u["name"] for u in uploads_of(service.store, "bob")] == ["same.csv"]
    assert inputs.read(mine) == b"x,y\n3,4\n"


def test_deleting_my_run_keeps_a_classmates_upload_of_the_same_file(service):
    """The upload the run trained on goes with the run only where nobody else has uploaded it too."""
    from core.inputs import InputStore
    inputs = InputStore(service.store.root)
    mine = inputs.put(b"x,y\n3,4\n", kind="csv", name="same.csv", owner="alice")
    inputs.put(b"x,y\n3,4\n", kind="csv", name="same.csv", owner="bob")
    run = service.wait(service.submit(KEY, "train", mine, {"epochs": 1}, owner="alice").id, 60)
    assert delete_runs(service.store, [run.id], by="alice") == ([run.id], [])
    assert not uploads_of(service.store, "alice")
    assert [u["name"] for u in uploads_of(service.store, "bob")] == ["same.csv"]
    assert inputs.read(mine) == b"x,y\n3,4\n"


def test_where_the_app_has_no_class_login_nobody_deletes_a_classmates_run(service):
    """`legacy` (My runs with no class login) lets anyone delete the older version's ownerless runs: no one else's."""
    bob = service.wait(submit(service, "bob", epochs=1).id, 60)
    assert delete_runs(service.store, [bob.id], by="alice", legacy=True) == ([], [bob.id])
