"""Code blocks (ui/code.py): the server colours the course's Python with Python's own tokenizer and sends escaped
HTML; the browser only draws it."""
import html
import io
import tokenize
from html.parser import HTMLParser

import pytest

from ui.code import KEY_PREFIX, highlighted

SAMPLES = [
    "learn.fit_one_cycle(3, 1e-2)",
    "def forward(self, x):\n    return self.head(self.body(x))  # a <b>comment</b> & more\n",
    "class DotProductBias(Module):\n    def __init__(self, n_users, y_range=(0.5, 5.5)):\n        self.y_range = y_range",
    "f\"{o} photo {{literal}}\"\npath = untar_data(URLs.CAMVID_TINY)      # here: your zip",
    '"""a docstring\nover two lines"""\nx = None if True else False',
    "dls = TabularDataLoaders.from_csv(path/'adult.csv', y_names='</code><img src=x onerror=alert(1)>',",  # unclosed
    "my_data.zip\n├── codes.txt          background\\ncat\\ndog\n└── labels/cat_01_P.png",
    "\tindented with a tab\n  mixed\n",
    "@torch.no_grad()\ndef predict(x): ...\n",
    "",
    "x = 'unterminated",
    "lambda o: path/'labels'/f'{o.stem}_P.png'",
]


class Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.spans = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)
        if self.tags and len(self.tags) > len(self.spans):
            self.spans.append((self.tags[-1][1].get("class"), data))


def parsed(markup: str) -> Tags:
    tags = Tags()
    tags.feed(markup)
    tags.close()
    return tags


@pytest.mark.parametrize("code", SAMPLES)
@pytest.mark.parametrize("language", ["python", None])
def test_the_html_shows_exactly_the_code_and_nothing_but_coloured_spans(code, language):
    tags = parsed(highlighted(code, language))
    assert "".join(tags.text) == code                  # every character, once, in order: escaped, never markup
    assert all(tag == "span" and set(attrs) == {"class"} and attrs["class"] in "k d f s n c".split()
               for tag, attrs in tags.tags)
    if language is None:
        assert tags.tags == []


def test_each_part_of_python_gets_its_colour():
    spans = parsed(highlighted("def forward(self, x):\n    return torch.sigmoid(x * 3.5)  # squash\n"
                               "class Net: pass\ny = 'text' if None else True")).spans
    assert ("k", "def") in spans and ("d", "forward") in spans and ("k", "return") in spans
    assert ("f", "sigmoid") in spans and ("n", "3.5") in spans and ("c", "# squash") in spans
    assert ("k", "class") in spans and ("d", "Net") in spans
    assert ("s", "'text'") in spans and ("n", "None") in spans and ("n", "True") in spans
    assert not any(text in ("self", "x", "torch") for _, text in spans)      # plain names stay plain


def test_strings_and_comments_are_those_python_finds():
    """Checked against the tokenizer on a real lesson's code: what is coloured as a string or a comment is exactly
    Python's STRING and COMMENT tokens."""
    from core.collab.code import EMBEDDED, course_code
    code = course_code({"method": "fit_one_cycle", "epochs": 5, "lr": 5e-3, "wd": 0.1, "batch_size": 64,
                        "y_range": [0.5, 5.5], "n_factors": 50, "use_nn": True, "layers": [100]}, EMBEDDED)
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    want = [("s", t.string) for t in tokens if t.type == tokenize.STRING] + \
           [("c", t.string) for t in tokens if t.type == tokenize.COMMENT]
    got = [(kind, text) for kind, text in parsed(highlighted(code)).spans if kind in ("s", "c")]
    assert sorted(got) == sorted(want) and want


def test_a_name_from_an_upload_is_text():
    evil = "<script>alert(1)</script>"
    markup = highlighted(f"df = pd.read_csv(path/{evil!r})")
    assert "<script>" not in markup and html.escape(evil) in markup.replace("&#x27;", "'")


def test_blocks_have_keys_of_their_own_that_stay_across_reruns():
    """Two blocks with the same code on one page do not clash; a block showing the same code keeps its key at each
    rerun (the browser keeps it); the code itself is what AppTest finds."""
    from streamlit.testing.v1 import AppTest

    from tests.helpers import code_blocks

    def script():
        import streamlit as st

        from ui.code import show_code
        n = st.number_input("epochs", value=3)
        show_code("learn.show_results()")
        show_code("learn.show_results()")
        show_code(f"learn.fit_one_cycle({n})")
        left, _ = st.columns(2)
        show_code("a == b", language=None, where=left, wrap=True, key="mine")

    at = AppTest.from_function(script).run()
    assert not at.exception
    assert [b.value for b in code_blocks(at)] == ["learn.show_results()", "learn.show_results()",
                                                 "learn.fit_one_cycle(3)", "a == b"]
    ids = [e.proto.id for e in at.get("bidi_component")]
    assert len(set(ids)) == 4 and ids[3].endswith(KEY_PREFIX + "mine")
    at.number_input[0].set_value(4).run()
    assert [b.value for b in code_blocks(at)][2] == "learn.fit_one_cycle(4)"
    assert [e.proto.id for e in at.get("bidi_component")][:2] == ids[:2]
