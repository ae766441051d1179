"""The clickable confusion matrix (ui/matrix.py): what it tells the browser, and the cell a click sends back, taken
only when it is a cell of this matrix with items in it."""
import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import matrices


def script():
    import numpy as np
    import streamlit as st

    from ui.matrix import show_confusion
    st.session_state.clicked = show_confusion(np.array([[5, 0], [2, 7]]), ["bird", "<b>not</b> bird"], key="m",
                                              title="Which is which", unit="photos")


def test_the_matrix_tells_the_browser_its_counts_and_names_as_they_are():
    at = AppTest.from_function(script).run()
    assert not at.exception and at.session_state.clicked is None
    assert matrices(at) == {"m": {"counts": [[5, 0], [2, 7]], "labels": ["bird", "<b>not</b> bird"],
                                  "unit": "photos", "title": "Which is which", "selected": None}}


def test_a_clicked_cell_comes_back_and_is_shown_selected():
    at = AppTest.from_function(script).run()
    at.session_state["m"] = {"cell": [1, 0]}            # what the browser sends when the cell is clicked
    at.run()
    assert at.session_state.clicked == (1, 0)
    assert matrices(at)["m"]["selected"] == [1, 0]


@pytest.mark.parametrize("sent", [[0, 1], [2, 0], [-1, 0], [1], ["1", 0], [True, 0], [0.0, 0], "1,0", {"a": 1}])
def test_a_cell_that_is_empty_or_not_a_cell_is_ignored(sent):
    at = AppTest.from_function(script).run()
    at.session_state["m"] = {"cell": sent}
    at.run()
    assert not at.exception
    assert at.session_state.clicked is None and matrices(at)["m"]["selected"] is None
