"""The GPU check: what every lesson costs on this GPU, and how many students' jobs share it. One command,
meant for a machine lent for minutes (benchmarks/gpu_check.sh runs it there, after the GPU-marked tests).

    python benchmarks/gpu_check.py --out DIR [--quick] [--jobs 1 2 4 8] [--no-peers]

Writes DIR/gpu-check.md (the table, with the GPU's name and the date) and DIR/gpu-check.json, and keeps them up to
date after every stage, so a run cut short still leaves what it measured. Stages:

1. each lesson's default training job, alone, with the share of the GPU the server gives a job
   (core.memory.jobs_per_gpu): items per second, seconds per epoch, final metric, the batch size the job chose,
   the memory it predicted for itself (core/memory.py) next to the peak it really allocated;
2. the bird lesson's default job twice in one fresh process, cold and then warm under torch.profiler: which
   operations a warm worker's first epoch spends its seconds on (`--no-profile` skips it);
3. a worker process as the server starts one, rehearsing the bird lesson (core/rehearsal.py): how long until it is
   ready, then its first student's job, against stage 2's cold and warm ones (`--no-rehearsal` skips it);
4. the bird lesson's default job, N students at once (each in its own process, as the server's workers are,
   each with a 1/N share): total images per second and each job's peak next to its prediction;
5. the peers, in the same run: fastai 2.8 (where importable) and the plain-PyTorch loops of the lesson benchmarks;
   the bird and segmentation lessons cold then warm on one slot's thread, fastai's fine_tune cold then warm in one
   process (a warm worker against a notebook's second run).

Every job runs in a fresh process so that its peak memory is its own. `--quick` shrinks everything so the script
can be tried on a CPU before a GPU is at hand.
"""
import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LESSONS = ("image_classification", "segmentation", "tabular", "collab")
QUICK = {"image_classification": dict(size=64, epochs=1), "segmentation": dict(width=64, epochs=1),
         "tabular": dict(epochs=1), "collab": dict(epochs=1)}


# ---- one job in this process -------------------------------------------------------------------------------------
@contextmanager
def job_service(share: int):
    """The training service with one worker thread in this process and a 1/`share` share of the GPU, as a server's
    worker would have; its runs (and their folder) are gone after."""
    import core  # noqa: F401  (sets OpenMP's wait policy before torch loads)
    import shutil
    import tempfile

    import torch

    from core.backends import SlotPlan, ThreadBackend
    from core.memory import job_budget_bytes
    from core.runs import RunStore
    from core.service import TrainingService

    cuda = torch.cuda.is_available()
    root = Path(tempfile.mkdtemp(prefix="lesson1-gpu-check-"))
    budget = job_budget_bytes(torch.cuda.get_device_properties(0).total_memory, share) if cuda else None
    service = TrainingService(RunStore(root), ThreadBackend(root, [SlotPlan("cuda:0" if cuda else "cpu", budget)]))
    try:
        yield service
    finally:
        service.shutdown()
        shutil.rmtree(root, ignore_errors=True)


def run_job(service, lesson: str, share: int, seed: int, quick: bool) -> dict:
    """`lesson`'s default run (core/readymade.default_run), once, through `service`: its row of the report."""
    import torch

    from core.lessons import get_lesson
    from core.readymade import default_run
    from core.runs import read_progress

    cuda = torch.cuda.is_available()
    spec = default_run(get_lesson(lesson))
    config = dict(spec.config, seed=seed, **(QUICK[lesson] if quick else {}))
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.time()
    record = service.wait(service.submit(lesson, spec.kind, spec.data, config, owner=f"gpu-check-{seed}").id,
                          timeout=1800, poll=0.02)
    end = time.time()
    if record.status != "done":
        log = service.store.path(record.id) / "error.log"     # what the student's sentence leaves out
        return dict(lesson=lesson, ok=False, error=record.error or record.status,
                    details=log.read_text()[-2000:] if log.exists() else "")
    info = {**read_progress(service.store, record.id).info, **record.info}
    metric = get_lesson(lesson).metric
    epoch_s = [r["time"] for r in record.epoch_table]
    row = dict(lesson=lesson, ok=True, share=share, seed=seed, start=start, end=end, wall_s=end - start,
               items_trained=info.get("train_items", 0) * len(epoch_s), epoch_s=epoch_s, train_s=sum(epoch_s),
               metric=metric.key, value=record.metrics.get(metric.key, float("nan")), bs=info.get("batch_size"),
               estimated_mib=info.get("estimated_peak_mib"), budget_mib=info.get("memory_budget_mib"))
    if cuda:
        row.update(peak_alloc_mib=round(torch.cuda.max_memory_allocated() / 2**20),
                   peak_reserved_mib=round(torch.cuda.max_memory_reserved() / 2**20))
    return row


def probe(lesson: str, share: int, seed: int, quick: bool, barrier: str | None, index: int) -> dict:
    """One job in a fresh process, started together with the other processes at the barrier."""
    with job_service(share) as service:
        if barrier:                                # all N processes ready (imports, service), then go together
            Path(barrier, f"ready-{index}").touch()
            while not Path(barrier, "go").exists():
                time.sleep(0.01)
        return run_job(service, lesson, share, seed, quick)


def profile_warm(lesson: str, quick: bool) -> dict:
    """Where a warm worker's job spends its time: the job once (cold: the process's first), then again under
    torch.profiler (warm, as a long-lived worker's next student). On the H200 (2026-12-04) it showed cuDNN building
    execution plans (aten::cudnn_convolution: 10 s of CPU, 15 ms of GPU), which PyTorch caches per thread."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    cuda = torch.cuda.is_available()
    with job_service(1) as service:
        cold = run_job(service, lesson, 1, 0, quick)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        try:                                       # the job trains in the service's thread, not this one
            from torch._C._profiler import _ExperimentalConfig
            options, threads = dict(experimental_config=_ExperimentalConfig(profile_all_threads=True)), "all"
        except (ImportError, TypeError):
            options, threads = {}, "this thread only (CUDA activity is still the whole process's)"
        with profile(activities=activities, **options) as prof:
            warm = run_job(service, lesson, 1, 1, quick)
    events = prof.key_averages()
    tables = {"CPU time (with what it calls)": events.table(sort_by="cpu_time_total", row_limit=25,
                                                            max_name_column_width=60)}
    if cuda:
        tables["GPU time (own)"] = events.table(sort_by="self_cuda_time_total", row_limit=25,
                                                max_name_column_width=60)
    return dict(lesson=lesson, cold=cold, warm=warm, threads=threads, tables=tables)


def rehearsed_worker(lesson: str, quick: bool, timeout: float) -> dict:
    """A worker process as the server starts one, told to rehearse `lesson` (core/rehearsal.py): how long until it
    was ready, then its first student's job, to set beside the profile's cold and warm jobs."""
    import shutil
    import tempfile

    from core.backends import ProcessBackend, plan_slots
    from core.runs import RunStore
    from core.service import TrainingService

    before = os.environ.get("LESSON1_REHEARSE")
    os.environ["LESSON1_REHEARSE"] = lesson                 # read by the worker process, as it starts
    root = Path(tempfile.mkdtemp(prefix="lesson1-gpu-check-"))
    start = time.time()
    service = TrainingService(RunStore(root), ProcessBackend(root, plan_slots(1)))
    if before is None:
        os.environ.pop("LESSON1_REHEARSE")
    else:
        os.environ["LESSON1_REHEARSE"] = before
    try:
        while not (rehearsed := service.stats().get("rehearsed")):
            if time.time() - start > timeout:
                return dict(lesson=lesson, ok=False, error=f"not ready after {timeout:.0f} s")
            time.sleep(0.2)
        ready_s = time.time() - start
        row = run_job(service, lesson, 1, 2, quick)
    finally:
        service.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    return dict(row, ready_s=round(ready_s, 1), rehearsal=next(iter(rehearsed.values())))


# ---- the orchestration -------------------------------------------------------------------------------------------
def run_probes(lesson: str, n: int, quick: bool, timeout: float) -> list[dict]:
    """N processes, each one job of `lesson` with a 1/N share, started together."""
    import tempfile
    with tempfile.TemporaryDirectory() as barrier:
        procs = [subprocess.Popen([sys.executable, __file__, "probe", lesson, "--share", str(n), "--seed", str(i),
                                   "--barrier", barrier, "--index", str(i)] + (["--quick"] if quick else []),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
                 for i in range(n)]
        deadline = time.time() + timeout
        while sum(Path(barrier, f"ready-{i}").exists() for i in range(n)) < n:
            if time.time() > deadline or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.05)
        Path(barrier, "go").touch()
        rows = []
        for p in procs:
            try:
                out, err = p.communicate(timeout=max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            lines = [line for line in out.splitlines() if line.startswith("{")]
            rows.append(json.loads(lines[-1]) if lines else
                        dict(lesson=lesson, ok=False, error=(err or out)[-600:] or f"exit {p.returncode}"))
        return rows


def run_profile(lesson: str, quick: bool, timeout: float) -> dict:
    """profile_warm in a fresh process, so that its first job is really the process's first."""
    try:
        out = subprocess.run([sys.executable, __file__, "profile", lesson] + (["--quick"] if quick else []),
                             capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(lesson=lesson, ok=False, error=f"stopped after {timeout:.0f} s")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return dict(lesson=lesson, ok=False, error=(out.stderr or out.stdout)[-1500:] or f"exit {out.returncode}")
    return dict(json.loads(lines[-1]), ok=True)


def run_peer(name: str, command: list[str], timeout: float) -> dict:
    start = time.time()
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        text, ok = (out.stdout + ("\n" + out.stderr[-1500:] if out.returncode else "")), out.returncode == 0
    except subprocess.TimeoutExpired as e:
        text, ok = f"(stopped after {timeout:.0f} s)\n{(e.stdout or b'').decode()[-3000:]}", False
    progress_bar = ("█", "|---", "% [")
    text = "\n".join(line for line in text.splitlines() if not any(mark in line for mark in progress_bar))
    return dict(name=name, command=" ".join(command[1:]), ok=ok, seconds=round(time.time() - start, 1),
                output=text.strip())


def environment() -> dict:
    import torch
    env = dict(date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), torch=torch.__version__,
               python=sys.version.split()[0], cpus=os.cpu_count())
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=torch.cuda.get_device_name(0), gpu_mib=round(props.total_memory / 2**20),
                   bf16=torch.cuda.is_bf16_supported())
        try:
            env["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                           capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    else:
        env["gpu"] = "none (CPU)"
    from core.memory import jobs_per_gpu
    env["jobs_per_gpu_default"] = jobs_per_gpu(torch.cuda.get_device_properties(0).total_memory) \
        if torch.cuda.is_available() else 1
    try:
        import fastai
        env["fastai"] = fastai.__version__
    except ImportError:
        env["fastai"] = None
    return env


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def write_report(out: Path, report: dict) -> None:
    env = report["environment"]
    lines = [f"# GPU check: {env['gpu']}, {env['date']}", "",
             f"torch {env['torch']}, Python {env['python']}, {env['cpus']} CPUs"
             + (f", driver {env['driver']}" if env.get("driver") else "")
             + (f", {env['gpu_mib']:,} MiB" if env.get("gpu_mib") else "")
             + f"; fastai {env['fastai'] or 'not installed'}; jobs per GPU by default: {env['jobs_per_gpu_default']}",
             ""]
    if report.get("tests"):
        lines += ["## GPU-marked tests", "", "```", report["tests"].strip()[-3000:], "```", ""]
    lines += ["## Each lesson's default job, alone (the share a job gets on this server)", "",
              "| lesson | items/s | s/epoch | final metric | batch | predicted MiB | peak allocated MiB | "
              "peak reserved MiB | job's share MiB |", "|---|---|---|---|---|---|---|---|---|"]
    for row in report["lessons"]:
        if not row.get("ok"):
            lines.append(f"| {row['lesson']} | failed: {row.get('error', '')[:200]} |||||||")
            continue
        per_epoch = ", ".join(f"{s:.2f}" for s in row["epoch_s"])
        lines.append(f"| {row['lesson']} | {row['items_trained'] / max(row['train_s'], 1e-9):,.0f} | {per_epoch} | "
                     f"{row['metric']} {row['value']:.4f} | {row['bs']} | {fmt(row['estimated_mib'], ',')} | "
                     f"{fmt(row.get('peak_alloc_mib'), ',')} | {fmt(row.get('peak_reserved_mib'), ',')} | "
                     f"{fmt(row.get('budget_mib'), ',')} |")
    if report["together"]:
        lines += ["", "## The bird lesson's default job, N students at once (one process each, a 1/N share each)", "",
                  "| jobs | wall s | images/s in total | each job's train s | error rates | batch | "
                  "predicted MiB per job | peak allocated MiB per job (max) | failed |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for n, rows in report["together"].items():
            ok = [r for r in rows if r.get("ok")]
            failed = len(rows) - len(ok)
            if not ok:
                lines.append(f"| {n} | - | - | - | - | - | - | - | {failed}: {rows[0].get('error', '')[:200]} |")
                continue
            wall = max(r["end"] for r in ok) - min(r["start"] for r in ok)
            images = sum(r["items_trained"] for r in ok)
            lines.append(f"| {n} | {wall:.1f} | {images / wall:,.0f} | "
                         f"{min(r['train_s'] for r in ok):.1f}–{max(r['train_s'] for r in ok):.1f} | "
                         f"{min(r['value'] for r in ok):.3f}–{max(r['value'] for r in ok):.3f} | {ok[0]['bs']} | "
                         f"{fmt(ok[0]['estimated_mib'], ',')} | "
                         f"{fmt(max((r.get('peak_alloc_mib') or 0) for r in ok), ',')} | {failed} |")
    profiled = report.get("profile")
    if profiled and not profiled.get("ok"):
        lines += ["", "## The bird lesson's warm run under torch.profiler: FAILED", "", "```",
                  profiled.get("error", "")[-1500:], "```"]
    elif profiled:
        epochs = {k: ", ".join(f"{sec:.2f}" for sec in profiled[k].get("epoch_s", [])) or profiled[k].get("error", "")
                  for k in ("cold", "warm")}
        lines += ["", "## The bird lesson's job in one process: cold, then warm under torch.profiler", "",
                  f"Seconds per epoch: cold (the process's first job) {epochs['cold']}; warm (the next job, "
                  f"profiled) {epochs['warm']}. Threads profiled: {profiled['threads']}."]
        for title, table in profiled["tables"].items():
            lines += ["", f"### {title}", "", "```", table.strip(), "```"]
    rehearsed = report.get("rehearsed")
    if rehearsed:
        lines += ["", "## A worker that rehearsed (core/rehearsal.py), then its first student's job", ""]
        if rehearsed.get("ok"):
            said = ", ".join(f"{lesson} {status} in {seconds:.1f} s" for lesson, status, seconds in
                             rehearsed["rehearsal"])
            lines.append(f"Ready {rehearsed['ready_s']:.1f} s after the worker was started (rehearsal: {said}). Its "
                         f"first job, {rehearsed['lesson']}: {rehearsed['train_s']:.1f} s of training, seconds per "
                         f"epoch {', '.join(f'{sec:.2f}' for sec in rehearsed['epoch_s'])}, {rehearsed['metric']} "
                         f"{rehearsed['value']:.4f}. Compare the profile's cold and warm jobs.")
        else:
            lines.append(f"FAILED: {rehearsed.get('error', '')[:600]}")
    failures = [r for r in report["lessons"] + [r for rows in report["together"].values() for r in rows]
                + [profiled[k] for k in ("cold", "warm") if profiled and profiled.get("ok")]
                + ([rehearsed] if rehearsed else [])
                if not r.get("ok") and r.get("details")]
    if failures:
        lines += ["", "## Why the failed jobs failed (each run's error.log)", ""]
        for details in dict.fromkeys(r["details"] for r in failures):        # each distinct one once
            lines += ["```", details.strip()[-1500:], "```"]
    for peer in report["peers"]:
        lines += ["", f"## {peer['name']} ({'ok' if peer['ok'] else 'FAILED'}, {peer['seconds']} s)", "",
                  f"`{peer['command']}`", "", "```", peer["output"][-4000:], "```"]
    (out / "gpu-check.md").write_text("\n".join(lines) + "\n")
    (out / "gpu-check.json").write_text(json.dumps(report, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("probe", help=argparse.SUPPRESS)
    one.add_argument("lesson", choices=LESSONS)
    one.add_argument("--share", type=int, default=1)
    one.add_argument("--seed", type=int, default=42)
    one.add_argument("--barrier")
    one.add_argument("--index", type=int, default=0)
    one.add_argument("--quick", action="store_true")
    prof = sub.add_parser("profile", help=argparse.SUPPRESS)
    prof.add_argument("lesson", choices=LESSONS)
    prof.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latest"))
    parser.add_argument("--quick", action="store_true", help="tiny settings, to try the script on a CPU")
    parser.add_argument("--jobs", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--lessons", nargs="*", default=list(LESSONS), choices=LESSONS)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-profile", action="store_true", help="skip profiling the bird lesson's warm run")
    parser.add_argument("--no-rehearsal", action="store_true", help="skip a rehearsed worker's first job")
    parser.add_argument("--tests-log", help="the GPU-marked tests' output, to put in the report")
    parser.add_argument("--budget", type=float, default=420, help="seconds for everything after the tests")
    args = parser.parse_args()
    if args.command == "probe":
        print(json.dumps(probe(args.lesson, args.share, args.seed, args.quick, args.barrier, args.index)))
        return
    if args.command == "profile":
        print(json.dumps(profile_warm(args.lesson, args.quick)))
        return

    deadline = time.time() + args.budget
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    share = env["jobs_per_gpu_default"]
    report = dict(environment=env, lessons=[], profile=None, together={}, peers=[],
                  tests=Path(args.tests_log).read_text() if args.tests_log and Path(args.tests_log).exists() else "")
    write_report(out, report)
    print(f"{env['gpu']}: lessons alone, each with a 1/{share} share", flush=True)
    for lesson in args.lessons:
        rows = run_probes(lesson, 1, args.quick, timeout=min(240, deadline - time.time()))
        rows[0]["share"] = share
        report["lessons"].extend(rows)
        print(json.dumps(rows[0])[:400], flush=True)
        write_report(out, report)
    if not args.no_profile and deadline - time.time() > 60:
        print("the bird lesson's job, cold then warm under torch.profiler", flush=True)
        report["profile"] = run_profile("image_classification", args.quick, timeout=min(240, deadline - time.time()))
        write_report(out, report)
    if not args.no_rehearsal and deadline - time.time() > 90:
        lesson = "tabular" if args.quick else "image_classification"
        print(f"a worker that rehearsed {lesson}, then its first job", flush=True)
        report["rehearsed"] = rehearsed_worker(lesson, args.quick, timeout=min(150, deadline - time.time() - 30))
        print(json.dumps(report["rehearsed"])[:400], flush=True)
        write_report(out, report)
    for n in args.jobs:
        if deadline - time.time() < 30:
            print(f"skipping {n} jobs at once: out of time", flush=True)
            break
        rows = run_probes("image_classification", n, args.quick, timeout=min(240, deadline - time.time()))
        report["together"][str(n)] = rows
        print(f"{n} at once: {sum(r.get('ok', False) for r in rows)} ok", flush=True)
        write_report(out, report)
    if not args.no_peers:
        py = sys.executable
        quick = ["--size", "64"] if args.quick else []
        peers = [("Bird lesson (twice in one process: cold, then warm) vs fastai's vision_learner and a torchvision "
                  "DataLoader loop",
                  [py, "benchmarks/bench_image_classification.py", "--baseline", "--seeds", "0", "42",
                   "--fastai-python", py, "--fastai-runs", "2", *quick]),
                 ("Segmentation (seed 0 cold, seed 42 warm) vs fastai's unet_learner (cold, then warm) and a plain loop",
                  [py, "benchmarks/bench_segmentation.py", "--seeds", "0", "42", "--fastai-python", py,
                   "--fastai-runs", "2"]
                  + (["--width", "64", "--epochs", "1"] if args.quick else [])),
                 ("Tabular vs fastai's tabular_learner",
                  [py, "benchmarks/bench_tabular.py", "--seeds", "2", "--fastai-seeds", "1", "--fastai-python", py]
                  + (["--epochs", "1"] if args.quick else [])),
                 ("Collab vs fastai's collab_learner and a plain loop",
                  [py, "benchmarks/bench_collab.py", "--seeds", "1", "--fastai-python", py]
                  + (["--epochs", "1", "--recipes", "app"] if args.quick else []))]
        for name, command in peers:
            left = deadline - time.time()
            if left < 20:
                report["peers"].append(dict(name=name, command=" ".join(command[1:]), ok=False, seconds=0,
                                            output="not run: out of time"))
                continue
            report["peers"].append(run_peer(name, command, timeout=left))
            print(f"{name}: {'ok' if report['peers'][-1]['ok'] else 'FAILED'}", flush=True)
            write_report(out, report)
    write_report(out, report)
    print((out / "gpu-check.md").read_text())


if __name__ == "__main__":
    main()
