"""Training on a Ray cluster (LESSON1_BACKEND=ray): each run is a Ray task that calls `core.worker.execute` on
whichever machine of the cluster has room, asking for CPUs and its share of a GPU.

    LESSON1_RAY_ADDRESS       the cluster: `auto` (this machine is a node of it: `ray start` ran here) or
                              `host:6379`; unset: a private Ray instance on this machine, started with the server
    LESSON1_WORKERS           runs at once; else as many as the cluster's live nodes have room for (`count_slots`)
    LESSON1_RAY_CPUS          CPUs a run asks for (1)
    LESSON1_RAY_GPU_FRACTION  the share of one GPU a run asks for; else `gpu_share`: one of the jobs that fit on
                              the cluster's smallest GPU, LESSON1_JOB_GIB each (core/memory.py)
    LESSON1_RAY_RUNS_DIR      where the nodes see the run store, if not at the same path as this server

The service's own queue (core/service.py) keeps students' places: only as many tasks as slots are given to Ray at
once, and the slots follow the cluster as nodes join and leave. Everything a run produces goes into the run
store, which every node must see (a shared volume): a task first checks that the run's record is there, and if it
is not, the run ends with a sentence instead of training into a folder nobody reads. Stop travels through the
store's cancel file; a run over the time limit is killed with `ray.cancel(force=True)`.

Why tasks rather than long-lived actors: a task holds its CPU and GPU share only while it trains, on whichever node
has room, so nodes can join or leave between runs. A GPU task runs in a fresh process (Ray's default for GPU tasks,
so that its GPU memory is freed), which pays CUDA's warm-up again: ~15 s for the bird lesson on an H200
(benchmarks/results/README.md). CPU tasks reuse warm processes.
"""
from __future__ import annotations

import logging
import math
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import ray
import torch
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from core.backends import WORKER_NICENESS, Ended
from core.memory import job_budget_bytes, jobs_per_gpu
from core.runs import FAILED, RUN_FILE, RunError, RunStore
from core.worker import HOST_OUT_OF_MEMORY, execute, finish

log = logging.getLogger(__name__)

PLAN_SECONDS = 15.0          # how often the cluster's nodes are looked at again
PROBE_SECONDS = 60.0         # for a new GPU node to say how much memory its GPUs have
# Settings a run must see as the server sees them, wherever it trains. Paths (LESSON1_CACHE) are each node's own.
FORWARDED_ENV = ("LESSON1_LESSON_MODULES", "LESSON1_OFFLINE", "LESSON1_CSV_MAX_MB", "LESSON1_CSV_MAX_ROWS",
                 "LESSON1_CSV_MAX_COLUMNS")

STORE_NOT_SHARED = ("This run could not start: the machine picked to train it cannot see the class's shared run "
                    "folder. Tell your instructor; every training machine needs that folder.")
NODE_LOST = ("The machine training this run left the cluster (it restarted or lost its connection), so the run did "
             "not finish. Its settings are kept: press \"Train again with these settings\".")
CLUSTER_UNREACHABLE = ("The training cluster could not be reached, so this run could not start. Try again in a "
                       "minute; if it happens again, tell your instructor.")


# ---- how much of the cluster a run asks for --------------------------------------------------------------------
def gpu_share(gpu_bytes: int | None) -> float:
    """The share of one GPU a run asks Ray for (Ray's fractional `num_gpus`): LESSON1_RAY_GPU_FRACTION if set;
    else one of `jobs_per_gpu(gpu_bytes)` equal shares, the count the local backend uses too (shares of
    LESSON1_JOB_GIB, 4 GiB by default: a default bird job reserved ~2 GiB on an H200, plus its CUDA context; at
    most LESSON1_MAX_JOBS_PER_GPU); a whole GPU when the GPUs' memory is unknown."""
    forced = os.environ.get("LESSON1_RAY_GPU_FRACTION")
    if forced:
        try:
            share = float(forced)
        except ValueError:
            share = -1.0
        if not 0 < share <= 1:
            raise ValueError(f"LESSON1_RAY_GPU_FRACTION must be a number above 0 and at most 1, not {forced!r}")
        return share
    if not gpu_bytes:
        return 1.0
    # Ray counts resources in steps of 1/10,000: round down, so that k shares of 1/k still fit on one GPU
    return math.floor(10_000 / jobs_per_gpu(gpu_bytes)) / 10_000


def count_slots(nodes: list[dict], cpus: float, share: float) -> int:
    """Runs the live `nodes` (ray.nodes() rows) have room for at once: on each node, as many as its CPUs allow and,
    for GPU runs, as many shares as its GPUs hold."""
    total = 0
    for node in nodes:
        resources = node.get("Resources", {})
        fits = int(resources.get("CPU", 0) / cpus + 1e-9) if cpus else 10**6
        if share:
            fits = min(fits, int(resources.get("GPU", 0) / share + 1e-9))
        total += fits
    return total


@dataclass(frozen=True)
class ClusterPlan:
    slots: int
    gpu_share: float          # of one GPU, per run; 0: runs train on CPUs
    cpus: float               # per run
    nodes: int
    gpus: float


# ---- what runs on a node -----------------------------------------------------------------------------------------
_lowered = False


def train_on_node(runs_root: str, run_id: str, time_limit: float | None, share: float):
    """A run, on whichever node Ray picked: check that this node sees the server's run store, train on the GPU Ray
    gave this task (or the CPU), return the run's final status."""
    global _lowered
    if not _lowered:              # once per process: like the local workers, training yields to a web server here
        _lowered = True
        try:
            os.nice(WORKER_NICENESS)
        except OSError:
            pass
    if not (Path(runs_root) / run_id / RUN_FILE).is_file():
        return {"store_missing": runs_root, "node": socket.gethostname()}
    gpu_ids = ray.get_gpu_ids()
    if gpu_ids:
        index = cuda_index(gpu_ids[0], os.environ.get("CUDA_VISIBLE_DEVICES"))
        device = torch.device("cuda", index)
        budget = job_budget_bytes(torch.cuda.get_device_properties(index).total_memory, 1 / share)
    else:
        device, budget = torch.device("cpu"), None
    return execute(RunStore(runs_root), run_id, device, budget, time_limit)


def cuda_index(gpu_id, visible: str | None) -> int:
    """torch's index for the GPU Ray gave a task. Ray makes it the only visible one (index 0), unless it was told not
    to set CUDA_VISIBLE_DEVICES (then every GPU is visible and the index is the GPU's own)."""
    ids = [v.strip() for v in (visible or "").split(",") if v.strip()]
    if str(gpu_id) in ids:
        return ids.index(str(gpu_id))
    return 0 if ids else int(gpu_id)


# Two functions because Ray fixes `max_calls` when a function is declared: a GPU task's process exits after it (its
# GPU memory is freed), a CPU task's process stays warm for the next run. No retries: a run that crashed its worker
# is reported as such, not silently started again.
@ray.remote(max_calls=1, max_retries=0, retry_exceptions=False)
def _train_on_gpu(runs_root, run_id, time_limit, share):
    return train_on_node(runs_root, run_id, time_limit, share)


@ray.remote(max_retries=0, retry_exceptions=False)
def _train_on_cpu(runs_root, run_id, time_limit, share):
    return train_on_node(runs_root, run_id, time_limit, share)


@ray.remote(num_cpus=0, num_gpus=0, max_calls=1, max_retries=0)
def _gpu_memory() -> int | None:
    """Bytes of memory of this node's smallest GPU. Asking for no GPU, the task sees them all (Ray 2.60 leaves
    CUDA_VISIBLE_DEVICES alone then); it runs in a process of its own, so no CUDA context stays behind."""
    if torch.cuda.is_available():
        return min(torch.cuda.get_device_properties(i).total_memory for i in range(torch.cuda.device_count()))
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        return min(int(line) for line in out.split()) * 2**20
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


# ---- the backend -------------------------------------------------------------------------------------------------
class RayBackend:
    name = "ray"

    def __init__(self, runs_root: Path, n: int | None = None, *, node_root: Path | str | None = None):
        self.runs_root = Path(runs_root)
        self.node_root = str(node_root or os.environ.get("LESSON1_RAY_RUNS_DIR") or self.runs_root)
        workers = os.environ.get("LESSON1_WORKERS")
        self.fixed_slots = n or (int(workers) if workers else None)
        self.cpus = float(os.environ.get("LESSON1_RAY_CPUS", 1))
        self.address = os.environ.get("LESSON1_RAY_ADDRESS") or None
        gpu_share(None)                                # a wrong LESSON1_RAY_GPU_FRACTION fails here, at start
        self._tasks: dict[int, tuple[str, ray.ObjectRef]] = {}     # slot -> (run id, its task)
        self._ended: list[Ended] = []                  # runs that ended without a task (it could not be started)
        self._lock = threading.Lock()
        self._plan: ClusterPlan | None = None
        self._planned_at = 0.0
        self._gpu_bytes: dict[str, int | None] = {}    # node id -> its smallest GPU's memory (None: unknown)
        self._owns_ray = False

    def start(self) -> None:
        if not ray.is_initialized():
            where = f"connect to the Ray cluster at {self.address}" if self.address else "start a local Ray instance"
            try:
                if self.address:
                    ray.init(address=self.address)
                else:                                  # only this server uses it: no dashboard to serve
                    ray.init(include_dashboard=False)
            except Exception as e:
                raise RuntimeError(f"Could not {where} ({type(e).__name__}: {e}). Check LESSON1_RAY_ADDRESS, that "
                                   "`ray start` runs there, and RAY_AUTH_MODE / RAY_AUTH_TOKEN (docs/DEPLOY.md).") from e
            self._owns_ray = True
        self._refresh()

    # ---- how many runs at once, and what each asks for ---------------------------------------------------------
    @property
    def n_slots(self) -> int:
        return self.plan().slots

    def plan(self) -> ClusterPlan:
        if self._plan is None or time.monotonic() - self._planned_at > PLAN_SECONDS:
            try:
                self._refresh()
            except Exception:                          # the cluster is unreachable for now: keep the last plan
                log.exception("could not read the Ray cluster's resources")
                self._planned_at = time.monotonic()
                if self._plan is None:
                    self._plan = ClusterPlan(self.fixed_slots or 1, 0.0, self.cpus, 0, 0.0)
        return self._plan

    def _refresh(self) -> None:
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        gpus = sum(node.get("Resources", {}).get("GPU", 0) for node in nodes)
        on_gpus = gpus > 0 and os.environ.get("LESSON1_DEVICE", "cuda").startswith("cuda")
        share = 0.0
        if on_gpus:
            if not os.environ.get("LESSON1_RAY_GPU_FRACTION"):
                self._measure_gpus([n for n in nodes if n["Resources"].get("GPU", 0) and n["NodeID"] not in self._gpu_bytes])
            known = [b for n in nodes if (b := self._gpu_bytes.get(n["NodeID"]))]
            share = gpu_share(min(known) if known else None)
        slots = self.fixed_slots or max(1, count_slots(nodes, self.cpus, share))
        plan = ClusterPlan(slots, share, self.cpus, len(nodes), gpus)
        if plan != self._plan:
            log.info("Ray cluster: %d node(s), %g GPU(s); %d run(s) at once, each asking for %g CPU(s)%s", plan.nodes,
                     gpus, slots, self.cpus, f" and {share:g} of a GPU" if share else " and no GPU")
            if not count_slots(nodes, self.cpus, share):
                log.warning("no node of the Ray cluster has room for a run yet: runs wait until one joins")
        self._plan, self._planned_at = plan, time.monotonic()

    def _measure_gpus(self, nodes: list[dict]) -> None:
        refs = {n["NodeID"]: _gpu_memory.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
            n["NodeID"], soft=False)).remote() for n in nodes}
        for node_id, ref in refs.items():
            try:
                self._gpu_bytes[node_id] = ray.get(ref, timeout=PROBE_SECONDS)
            except Exception:
                self._gpu_bytes[node_id] = None
            if self._gpu_bytes[node_id] is None:
                log.warning("could not measure the GPUs of Ray node %s: runs ask for a whole GPU unless "
                            "LESSON1_RAY_GPU_FRACTION says otherwise", node_id)

    def _runtime_env(self, share: float) -> dict:
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        if share:
            env["LESSON1_RAY_GPU_RUN"] = "1"       # a GPU run never lands in a process where CUDA already started
        else:
            env["CUDA_VISIBLE_DEVICES"] = ""       # a CPU run on a GPU node leaves the GPUs to GPU runs
        return {"env_vars": env}

    # ---- the backend's interface (core/backends.py) ------------------------------------------------------------
    def launch(self, slot: int, run_id: str, time_limit: float | None = None) -> None:
        plan = self.plan()
        remote = _train_on_gpu if plan.gpu_share else _train_on_cpu
        try:
            ref = remote.options(num_cpus=plan.cpus, num_gpus=plan.gpu_share, name=f"lesson1-run-{run_id}",
                                 runtime_env=self._runtime_env(plan.gpu_share)
                                 ).remote(self.node_root, run_id, time_limit, plan.gpu_share)
        except Exception:
            log.exception("run %s: could not hand it to Ray", run_id)
            self._fail(run_id, CLUSTER_UNREACHABLE)
            with self._lock:
                self._ended.append(Ended(slot, run_id))
            return
        with self._lock:
            self._tasks[slot] = (run_id, ref)

    def wait(self, timeout: float) -> list[Ended]:
        with self._lock:
            ended, self._ended = self._ended, []
            slots = {ref: slot for slot, (_, ref) in self._tasks.items()}
        if ended:
            return ended
        if not slots:
            time.sleep(timeout)
            return []
        try:
            ready, _ = ray.wait(list(slots), num_returns=1, timeout=timeout, fetch_local=False)
            if ready:
                ready, _ = ray.wait(list(slots), num_returns=len(slots), timeout=0, fetch_local=False)
        except Exception:
            log.exception("could not ask Ray which runs ended")
            time.sleep(timeout)
            return []
        for ref in ready:
            slot = slots[ref]
            with self._lock:
                run_id, _ = self._tasks.pop(slot)
            ended.append(self._outcome(slot, run_id, ref))
        return ended

    def _outcome(self, slot: int, run_id: str, ref) -> Ended:
        """How a finished task ended. What the service cannot tell from `died` alone is written here first."""
        try:
            result = ray.get(ref, timeout=60)
        except ray.exceptions.RayTaskError:           # the code around the job failed (the store, an import)
            log.exception("run %s: its Ray task failed", run_id)
            return Ended(slot, run_id)
        except ray.exceptions.OutOfMemoryError:       # Ray's memory monitor killed it to save its node
            log.warning("run %s: killed by Ray's memory monitor", run_id)
            self._fail(run_id, HOST_OUT_OF_MEMORY)
            return Ended(slot, run_id, died=True)
        except ray.exceptions.NodeDiedError:
            log.warning("run %s: its Ray node died", run_id)
            self._fail(run_id, NODE_LOST)
            return Ended(slot, run_id, died=True)
        except Exception as e:                        # its worker crashed or was killed (time limit)
            log.warning("run %s: its Ray worker is gone (%s)", run_id, type(e).__name__)
            return Ended(slot, run_id, died=True)
        if isinstance(result, dict) and "store_missing" in result:
            log.error("run %s: Ray node %s does not see the run store at %s; every node needs the shared volume "
                      "there (docs/DEPLOY.md)", run_id, result.get("node"), result["store_missing"])
            self._fail(run_id, STORE_NOT_SHARED)
        return Ended(slot, run_id)

    def _fail(self, run_id: str, sentence: str) -> None:
        try:
            store = RunStore(self.runs_root)
            if store.read(run_id).active:
                finish(store, run_id, FAILED, sentence)
        except (RunError, OSError):
            log.exception("run %s: could not record how it ended", run_id)

    def kill(self, slot: int) -> bool:
        with self._lock:
            task = self._tasks.get(slot)
        if task is None:
            return False
        try:
            ray.cancel(task[1], force=True)
            return True
        except Exception:
            log.exception("run %s: could not cancel its Ray task", task[0])
            return False

    def describe(self) -> dict:
        plan = self._plan or ClusterPlan(0, 0.0, self.cpus, 0, 0.0)
        return dict(backend=self.name, workers=plan.slots, alive=plan.slots, nodes=plan.nodes, gpus=plan.gpus,
                    gpu_share=plan.gpu_share, cpus_per_run=plan.cpus, address=self.address or "local")

    def shutdown(self) -> None:
        """Runs still training are stopped (a server that comes back marks them interrupted, as for the local
        backend); a Ray instance this backend started is stopped too."""
        with self._lock:
            tasks, self._tasks = list(self._tasks.values()), {}
        for run_id, ref in tasks:
            try:
                ray.cancel(ref, force=True)
            except Exception:
                log.warning("run %s: could not cancel its Ray task", run_id)
        if self._owns_ray:
            ray.shutdown()
