"""benchmarks/gpu_check.py, the script a lent GPU machine runs, tried on the CPU (`--quick`) so that it still works
when a GPU comes: every stage it runs writes its rows, and a failed job's report says why it failed."""
import json
import subprocess
import sys

from benchmarks.gpu_check import ROOT, write_report


def test_quick_mode_measures_each_lesson_a_profiled_warm_run_a_rehearsed_worker_and_jobs_together_on_a_cpu(tmp_path):
    out = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--quick", "--out", str(tmp_path),
                          "--lessons", "tabular", "collab", "--jobs", "1", "--no-peers", "--budget", "360"],
                         cwd=ROOT, capture_output=True, text=True, timeout=420)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    assert [r["lesson"] for r in report["lessons"]] == ["tabular", "collab"]
    assert all(r["ok"] for r in report["lessons"]), report["lessons"]
    assert report["lessons"][0]["metric"] == "accuracy" and 0.5 < report["lessons"][0]["value"] <= 1
    assert report["lessons"][1]["metric"] == "rmse" and 0 < report["lessons"][1]["value"] < 2
    profiled = report["profile"]
    assert profiled["ok"], profiled
    assert len(profiled["cold"]["epoch_s"]) == len(profiled["warm"]["epoch_s"]) == 2      # fine_tune: frozen + 1
    assert "aten::convolution_backward" in profiled["tables"]["CPU time (with what it calls)"]   # the job's thread
    rehearsed = report["rehearsed"]                       # a worker that rehearsed, then its first job
    assert rehearsed["ok"] and rehearsed["lesson"] == "tabular", rehearsed
    assert [(lesson, status) for lesson, status, _ in rehearsed["rehearsal"]] == [("tabular", "done")]
    assert rehearsed["ready_s"] > 0 and rehearsed["metric"] == "accuracy"
    together = report["together"]["1"]
    assert len(together) == 1 and together[0]["ok"], together
    assert together[0]["lesson"] == "image_classification" and together[0]["items_trained"] > 0
    md = (tmp_path / "gpu-check.md").read_text()
    assert "| tabular |" in md and "| collab |" in md and "| 1 |" in md
    assert "cold, then warm under torch.profiler" in md
    assert "A worker that rehearsed" in md and "tabular done in" in md


def test_a_failed_jobs_details_are_in_the_report_once(tmp_path):
    details = "Traceback (most recent call last):\nModuleNotFoundError: No module named 'weights_package'"
    failed = dict(ok=False, error="Training failed because of a problem on the server (reference r1).",
                  details=details)
    report = dict(environment=dict(gpu="none (CPU)", date="today", torch="2", python="3", cpus=2, fastai=None,
                                   jobs_per_gpu_default=1),
                  lessons=[dict(failed, lesson="image_classification"), dict(failed, lesson="segmentation")],
                  together={"2": [dict(failed, lesson="image_classification")] * 2}, peers=[], tests="")
    write_report(tmp_path, report)
    md = (tmp_path / "gpu-check.md").read_text()
    assert "| image_classification | failed: Training failed" in md
    assert "Why the failed jobs failed" in md
    assert md.count("No module named 'weights_package'") == 1
