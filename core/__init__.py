"""The engine of Lesson 1: data, models, training, interpretation, plots and the job runner.

Nothing in here imports streamlit; the pages in `pages/` are views over it.
"""
import os

# OpenMP threads that spin while they wait for work make PyTorch crawl on a CPU that is shared with anything else
# (the student's own browser, other students' jobs). benchmarks/bench_threads.py, one training step of the bird
# lesson at 224 px on this project's 2-core server: idle, 1.72 s with libgomp's default against 1.96 s with sleeping
# threads; beside one busy process, 4.19 s against 2.10 s; beside three other training processes (64 px), 6.0 s
# against 0.33 s. A little speed on an idle machine is traded for never collapsing. OpenMP reads the setting once,
# when torch loads it, which is why it is set here, before any module of the engine imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
