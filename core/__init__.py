"""The engine of Lesson 1: data, models, training, interpretation, plots and the job runner.

Nothing in here imports streamlit; the pages in `pages/` are views over it.
"""
import os

# OpenMP threads that wait for work by spinning make PyTorch on a CPU shared with anything else crawl: measured
# on this project's 2-core server with one other busy process, a training step took 6.0 s with spinning threads
# and 0.33 s with sleeping ones (benchmarks/bench_threads.py). It is read once, when torch loads OpenMP, which is
# why it is set here, before any module of the engine imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
