"""The bird benchmark's measure of the GPU goal: wall time to the same error, counted at epochs' ends."""
from benchmarks.bench_image_classification import curve, print_to_the_same_error, seconds_to


def test_time_spent_outside_the_epochs_is_counted_before_the_first():
    epochs = [{"time": 2.0, "error_rate": 0.10}, {"time": 3.0, "error_rate": 0.05}]
    assert curve(6.0, epochs) == [(3.0, 0.10), (6.0, 0.05)]


def test_the_first_epoch_at_or_under_the_error_counts():
    row = {"curve": [(3.0, 0.10), (6.0, 0.05), (9.0, 0.07)]}
    assert seconds_to(0.07, row) == 6.0
    assert seconds_to(0.10, row) == 3.0
    assert seconds_to(0.01, row) is None


def test_the_target_is_fastais_own_final_error(capsys):
    ours = {"error": 0.04, "curve": [(2.0, 0.06), (4.0, 0.04)]}
    fastai = {"error": 0.06, "curve": [(5.0, 0.10), (10.0, 0.06)]}
    print_to_the_same_error([("lesson, seed 0", ours), ("fastai 2.8 vision_learner", fastai)])
    out = capsys.readouterr().out
    assert "to error 0.060 (fastai's final error)" in out
    assert "fastai / ours (their last run, our last seed): 5.0x" in out


def test_without_fastai_the_target_is_the_worst_run(capsys):
    print_to_the_same_error([("lesson, seed 0", {"error": 0.04, "curve": [(2.0, 0.04)]}),
                             ("baseline", {"error": 0.09, "curve": [(7.0, 0.12), (9.0, 0.09)]})])
    out = capsys.readouterr().out
    assert "to error 0.090 (the worst run's final error)" in out and "fastai /" not in out
