"""Rules of the codebase that a reviewer would otherwise have to remember."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = [p for p in ROOT.rglob("*.py") if not any(part.startswith(".") or part == "artifacts"
                                                 for part in p.relative_to(ROOT).parts)]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(ROOT.joinpath("core").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_engine_never_imports_streamlit(path):
    assert "streamlit" not in imports_of(path)


def test_datasets_folder_is_data_not_a_package():
    assert not list(ROOT.joinpath("datasets").rglob("__init__.py"))


def call_arguments(text: str, start: int) -> str:
    """The text between a call's opening parenthesis (just before `start`) and its matching close."""
    depth = 1
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return text[start:]


def test_no_pickle_loading_anywhere():
    offenders = []
    for path in PYTHON:
        if path.name == "test_architecture.py":
            continue
        text = path.read_text()
        if re.search(r"\bpickle\.loads?\(|\bjoblib\.load\(|\bnp\.load\([^)]*allow_pickle\s*=\s*True", text):
            offenders.append(str(path))
        for match in re.finditer(r"torch\.load\(", text):
            call = call_arguments(text, match.end())
            if "weights_only=True" not in call:
                offenders.append(f"{path}: torch.load({call})")
    assert not offenders


def test_pages_are_thin_views():
    """Training belongs to core/ and runs in the job runner: pages never call backward() or touch an optimizer
    (course code shown to students inside strings is fine: only real code is looked at)."""
    for path in ROOT.joinpath("pages").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            calls_training = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                              and node.func.attr in ("backward", "zero_grad"))
            uses_optimizer = isinstance(node, ast.Attribute) and node.attr == "optim"
            assert not (calls_training or uses_optimizer), f"{path}:{node.lineno}"


def test_every_page_asks_for_the_frame_before_drawing():
    """See ui/frame.py: without it, a fresh server's first direct link shows a lesson without the app around it."""
    for path in ROOT.joinpath("pages").glob("*.py"):
        tree = ast.parse(path.read_text())
        calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
        first_call = calls[0].value.func if calls else None
        assert isinstance(first_call, ast.Name) and first_call.id == "require_frame", path


def test_the_engine_sets_openmp_to_sleep_before_torch_loads():
    """core/__init__.py must run before torch is imported anywhere in the app: the policy is read only once."""
    import subprocess
    import sys
    env = {k: v for k, v in __import__("os").environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import core.worker, os, torch; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    app = ROOT.joinpath("streamlit_app.py").read_text()
    first_project_import = min(app.index(f"from {m}") for m in ("core", "ui") if f"from {m}" in app)
    assert "torch" not in app[:first_project_import]


def test_a_worker_process_does_not_import_the_web_app():
    """multiprocessing's spawn runs the server's main module, streamlit_app.py, as __mp_main__ in every worker it
    starts (core/backends.py): that must bring neither streamlit nor ui/ into a worker."""
    import subprocess
    import sys
    code = ("import runpy, sys; runpy.run_path('streamlit_app.py', run_name='__mp_main__'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'ui')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


LESSON_PACKAGES = sorted(p.name for p in ROOT.joinpath("core").iterdir() if (p / "__init__.py").exists())


@pytest.mark.parametrize("package", LESSON_PACKAGES)
def test_no_lesson_package_imports_another(package):
    """What two lessons share lives in a shared core module (core/tables.py, core/splits.py, core/images.py...)."""
    others = [p for p in LESSON_PACKAGES if p != package]
    for path in ROOT.joinpath("core", package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not any(node.module == f"core.{o}" or node.module.startswith(f"core.{o}.") for o in others), \
                    f"{path.relative_to(ROOT)} imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not any(alias.name.startswith(f"core.{o}") for o in others), \
                        f"{path.relative_to(ROOT)} imports {alias.name}"


ENGINE_INTERNALS = ("core.serialize", "core.service", "core.worker", "core.backends", "core.ray_backend")


@pytest.mark.parametrize("path", sorted(ROOT.joinpath("pages").glob("*.py")), ids=lambda p: p.name)
def test_pages_reach_training_only_through_ui(path):
    """Runs, their files and the service are reached through ui/ (ui/runs.py, ui/export.py...), never from a page."""
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            assert not name.startswith(ENGINE_INTERNALS), f"{path.name} imports {name}"


def test_charts_are_drawn_in_one_place():
    """ui/charts.show_chart draws every Plotly chart, so that they all look and behave alike."""
    for path in [*ROOT.joinpath("pages").glob("*.py"), *ROOT.joinpath("ui").glob("*.py")]:
        if path.name == "charts.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.Attribute) and node.attr == "plotly_chart"), f"{path.name}:{node.lineno}"
