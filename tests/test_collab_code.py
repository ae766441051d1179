"""The fastai code shown beside the controls is written from the run's own settings: the course's recipes give the
course's lines, and any change of a control shows in the code."""
import os
import subprocess
import textwrap

import pytest

from core.collab.code import EMBEDDED, ONLINE, UPLOAD, course_code, fit_call
from core.collab.jobs import DEFAULTS, settings
from core.collab.train import RECIPES
from core.schedules import lr_text


def config_for(recipe: str, **changes) -> dict:
    r = RECIPES[recipe]
    return settings({**DEFAULTS, "method": r.method, "epochs": r.epochs, "lr": r.lr, "wd": r.wd,
                     "batch_size": r.batch_size, **changes})


def test_chapter_1_is_the_courses_three_lines():
    assert course_code(config_for("chapter1"), ONLINE) == (
        "path = untar_data(URLs.ML_SAMPLE)\n"
        "dls = CollabDataLoaders.from_csv(path/'ratings.csv')\n"
        "learn = collab_learner(dls, y_range=(0.5, 5.5))\n"
        "learn.fine_tune(10)")


def test_chapter_8_and_the_apps_default():
    assert course_code(config_for("chapter8"), EMBEDDED).splitlines()[-2:] == [
        "learn = collab_learner(dls, y_range=(0.5, 5.5))", "learn.fit_one_cycle(5, 5e-3, wd=0.1)"]
    app = course_code(config_for("app"), EMBEDDED)
    assert "from_df(ratings, item_name='title', bs=512)" in app and app.endswith("fit_one_cycle(5, 1e-2, wd=0.5)")


def test_the_code_follows_every_control():
    code = course_code(config_for("chapter8", y_range=[1, 5], n_factors=20, batch_size=256, top_items=500,
                                  columns={"user": "who", "item": "what", "rating": "stars"}), UPLOAD, "mine.csv")
    assert "from_csv('mine.csv', user_name='who', item_name='what', rating_name='stars', bs=256)" in code
    assert "collab_learner(dls, n_factors=20, y_range=(1, 5))" in code and "500 most-rated" in code
    assert "use_nn=True, layers=[16, 8]" in course_code(config_for("app", use_nn=True, layers=[16, 8]), EMBEDDED)
    assert fit_call("fine_tune", 3, 1e-2, 0.1) == "fine_tune(3, base_lr=1e-2, wd=0.1)"
    assert [lr_text(x) for x in (2e-3, 5e-3, 1e-2, 0.1, 0.3)] == ["2e-3", "5e-3", "1e-2", "0.1", "0.3"]


FASTAI_PYTHON = os.environ.get("LESSON1_FASTAI_PYTHON")


@pytest.mark.skipif(not FASTAI_PYTHON, reason="set LESSON1_FASTAI_PYTHON to a Python with fastai to run the code")
def test_the_code_shown_runs_in_fastai(tmp_path):
    """The lines for an uploaded CSV, pasted into fastai as they are, train (a tiny table, 1 epoch each)."""
    rows = "\n".join(f"{u},film {(u * 7 + k) % 13},{1 + (u + k) % 5}" for u in range(40) for k in range(6))
    (tmp_path / "mine.csv").write_text(f"who,what,stars\n{rows}\n")
    columns = {"user": "who", "item": "what", "rating": "stars"}
    for recipe in ("chapter1", "chapter8"):
        code = course_code(config_for(recipe, epochs=1, columns=columns), UPLOAD, "mine.csv")
        script = "from fastai.collab import *\nfrom fastai.tabular.all import *\n" + code + \
                 "\nprint(type(learn.model).__name__, sorted(learn.model.state_dict()))"
        out = subprocess.run([FASTAI_PYTHON, "-W", "ignore", "-c", textwrap.dedent(script)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "EmbeddingDotBias ['i_bias.weight', 'i_weight.weight', 'u_bias.weight', 'u_weight.weight']" in out.stdout
