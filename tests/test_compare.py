"""core/compare.py: settings flattened and diffed, curves on an axis of epochs, the best run, short labels; and the
GPU load the instructor's page reads from nvidia-smi."""
import stat

from core import compare
from core.classroom import gpu_usage
from core.runs import Progress, RunRecord


def record(**config) -> RunRecord:
    return RunRecord("r" * 12, "tabular", "fit", "me", config, {"dataset": "adult"}, title="fit")


def test_the_settings_that_differ_are_found_in_nested_settings_too():
    runs = [record(lr=1e-3, epochs=3, spec={"target": "salary"}), record(lr=1e-2, epochs=3, spec={"target": "age"})]
    table, differ = compare.settings_table(runs)
    assert differ == ["lr", "spec.target"]
    assert table.loc["epochs"].tolist() == ["3", "3"] and table.loc["spec.target"].tolist() == ["salary", "age"]
    assert compare.label(0, runs[0], differ) == "A: lr=1e-3, target=salary"
    assert compare.label(1, runs[1], []) == "B: fit"


def test_settings_are_shown_by_their_names_and_values_as_people_read_them():
    from core.lessons import get_lesson
    tabular = get_lesson("tabular")
    runs = [record(lr=1e-3, baseline=True, spec={"cat_names": ["race", "sex"]}, top_items=None, y_range=[0.5, 5.5]),
            record(lr=1e-2, baseline=False, spec={"cat_names": ["race"]}, top_items=None, y_range=[0.5, 5.5])]
    table, differ = compare.settings_table(runs, tabular.setting_name)
    assert differ == ["baseline", "lr", "spec.cat_names"]                      # keys: the page names them
    assert table.loc["learning rate (lr)"].tolist() == ["1e-3", "1e-2"]
    assert table.loc["category columns (cat_names)"].tolist() == ["race, sex", "race"]
    assert table.loc["scikit-learn baseline (baseline)"].tolist() == ["yes", "no"]
    assert table.loc["top_items"].tolist() == ["–", "–"] and table.loc["y_range"].tolist() == ["0.5, 5.5"] * 2
    assert compare.setting_text("epochs", 3) == "3" and compare.setting_text("layers", [[1, 2]]) == "[[1, 2]]"


def test_curves_are_drawn_against_epochs_whatever_the_batches():
    fine_tune = [dict(step=i + 1, epoch=0, phase="frozen", train_loss=1.0, raw=1.0) for i in range(4)] + \
                [dict(step=i + 5, epoch=0, phase="unfrozen", train_loss=0.5, raw=0.5) for i in range(2)]
    assert compare._in_epochs(fine_tune) == [0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
    a = Progress(losses=fine_tune, valid_losses=[{"valid_loss": 0.9}, {"valid_loss": 0.6}])
    b = Progress(losses=fine_tune[:4])
    fig = compare.loss_figure([("A", a), ("B", b)])
    assert [t.name for t in fig.data] == ["A · train", "A · valid", "B · train"]
    assert list(fig.data[1].x) == [1, 2] and fig.data[0].line.color != fig.data[2].line.color


def test_the_best_run_by_the_lessons_metric():
    assert compare.best([0.8, 0.85, None], higher_is_better=True) == 1
    assert compare.best([0.3, 0.2], higher_is_better=False) == 1
    assert compare.best([0.5, 0.5], higher_is_better=True) is None and compare.best([None, 0.4], True) is None


def test_the_gpu_load_comes_from_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gpu_usage() is None                                    # no NVIDIA GPU here
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '0, NVIDIA H200, 37, 20480, 143771'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert gpu_usage() == [dict(index=0, name="NVIDIA H200", busy_percent=37.0, used_mib=20480.0,
                                total_mib=143771.0)]
