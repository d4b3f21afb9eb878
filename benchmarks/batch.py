"""Throughput and memory of ``emotrace batch`` on Ray against a single-process ``analyze`` loop.

    python -m benchmarks.batch [--calls 8] [--call-s 180] [--threads [1 2]] [--workers 1 2]
                               [--batch WxC ...] [--repeat 1] [--inputs DIR] [--gpus N]
    python -m benchmarks.batch --long-minutes 120      # memory of one long call

Throughput: builds ``--calls`` stereo 8 kHz calls of ``--call-s`` seconds from the bundled sample
call (each rotated to another start and with its own faint noise, so every call has its own
content hash), unless ``--inputs`` names a folder of recordings. Then, each in a fresh process:

- loop: one ``Analyzer`` analysing every call in turn, as ``emotrace analyze`` does, once per
  ``--threads`` setting (engine threads); the best one is the baseline.
- batch: ``run_batch`` into an empty folder on a local Ray, once per configuration ``WxC`` (W
  workers of C CPUs and engine threads each). ``--workers W`` adds ``W`` workers with this
  machine's CPUs shared out over them, as ``emotrace batch --workers W`` does. By default:
  1 worker with every CPU (the loop's threads), one worker per CPU, and 1 worker of 1 CPU (what
  one worker of the many-worker run has, for the scaling ratio).

``--repeat N`` runs every configuration N times, in rounds (every setting once per round, so the
settings interleave and share the machine's moods); the table keeps each one's fastest run, and
the 2-workers-against-1 ratio is printed for every round (each round's 2x1 over its own 1x1) with
the median. ``--threads`` with no value leaves the loop out (``--threads --batch 1x1 2x1`` runs
only the scaling pair).

Wall clock counts everything the user waits for: process start, model loading and, for the
batch, starting Ray and the tables job. Throughput is audio hours per wall-clock hour (= times
real time); the 2-against-1 ratio is given on the whole wall clock and on the calls stage alone
(from starting the workers, their model loading included, to the last call back). Fixed costs
weigh on a short batch: ``--calls 24`` shows what a long batch settles to. Peak memory is
sampled (every 1 s in the throughput runs, where the sampling then costs the measured cores
2-3 % of one, printed, against 8 % at 0.2 s; every 0.2 s in the memory runs) as the sum of the
proportional set size (PSS, /proc/PID/smaps_rollup) of the run's whole process tree: the
driver, Ray's GCS/raylet/agents, every worker and the object store's shared memory as those
processes map it. Per-worker peaks are each analysis actor's own
peak RSS. CPU seconds (user + system, /proc/PID/stat, same sampling) are summed per group: the
run's own process (the driver), the analysis workers, and Ray's other processes (its services,
Ray Data's helper actors, the tables job's workers). They move far less than wall clock when
other programs load the machine: they tell how much of the cores the batch itself spends outside
the analysis.
On a shared machine wall-clock ratios mislead: with the kernel's session autogroups (on here),
each run's process tree gets one session's share of the cores while other programs run, however
many workers it has; Ray also runs its workers at niceness +15 under its own services.
Prints one table (with each run's 1-minute load average before it started), the ratios the scale
issue sets targets for, where the CPU went, the per-stage times, then one JSON line with every
figure (every round's runs under ``rounds``).

The commands the scale issue's figures come from (run them on an idle machine):
``python -m benchmarks.batch --calls 8 --call-s 180 --repeat 2`` and, for the settled rate,
``python -m benchmarks.batch --calls 24 --call-s 180 --threads --batch 1x1 2x1 --repeat 2``.

Memory (``--long-minutes M``): one stereo 8 kHz call of M minutes, analysed by the loop (1 call,
best threads, with the peak resident memory of each engine stage) and by a batch of 1 worker;
peak PSS of each whole process tree as above.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "assets" / "sample_call.wav"
Run = dict[str, Any]  # one measured run
SAMPLE_EVERY_S = 0.2  # memory and CPU sampling period of the long-call memory runs
# ... and of the throughput runs: sampling walks /proc and every process's memory map, which on
# this machine costs up to 8 % of a core at 0.2 s, taken from the runs' own cores (with 2 workers
# busy, from them; with 1, from the free core): it would bias the 2-against-1 ratio.
THROUGHPUT_SAMPLE_S = 1.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def make_calls(folder: Path, calls: int, call_s: float) -> list[Path]:
    """``calls`` stereo 8 kHz WAVs of ``call_s`` seconds looped from the bundled sample."""
    audio, sr = sf.read(SAMPLE, dtype="float32")
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    n = int(call_s * sr)
    paths = []
    for i in range(calls):
        start = int(i * len(audio) / max(calls, 1))
        idx = (start + np.arange(n)) % len(audio)
        x = audio[idx] + rng.normal(0, 1e-3, (n, audio.shape[1])).astype(np.float32)
        path = folder / f"call{i:03d}.wav"
        sf.write(path, np.clip(x, -1, 1), sr, subtype="PCM_16")
        paths.append(path)
    return paths


# ---- the measured runs (each in its own process) -------------------------------------------
class StagePeaks:
    """Peak resident memory of this process during each engine stage (sampled every 20 ms)."""

    def __init__(self) -> None:
        self.stage = "load"
        self.peaks: dict[str, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def progress(self, step: str, done: int, total: int) -> None:
        from analyzer.pipeline import STEPS

        if step in STEPS:  # the stage that starts now
            self.stage = STEPS[done] if done < len(STEPS) else "after"

    def _sample(self) -> None:
        while not self._done.is_set():
            mb = _rss_mb()
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0.0), mb)
            self._done.wait(0.02)

    def stop(self) -> dict[str, float]:
        self._done.set()
        self._thread.join()
        return self.peaks


def _rss_mb(field: str = "VmRSS:") -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def one_baseline(files: list[str], threads: int, stage_memory: bool = False) -> Run:
    from analyzer import AnalysisConfig, Analyzer

    peaks = StagePeaks() if stage_memory else None
    started = time.perf_counter()
    analyzer = Analyzer(AnalysisConfig(ser_threads=threads))
    load_s = time.perf_counter() - started
    audio_s, stages = 0.0, dict[str, float]()
    for f in files:
        if peaks is not None:
            peaks.stage = "decode"
        result = analyzer.analyze(f, progress=peaks.progress if peaks else None)
        audio_s += result.media.duration_s
        for k, v in result.timings.items():
            stages[k] = stages.get(k, 0.0) + v
    analyzer.close()
    out = {"audio_s": audio_s, "model_load_s": load_s, "engine_s": stages}
    if peaks is not None:
        out["stage_peak_mb"] = peaks.stop()
    return out


def one_batch(inputs: str, out: str, workers: int, worker_cpus: int, gpus: float) -> Run:
    from analyzer.batch.runner import BatchOptions, run_batch

    options = BatchOptions(
        out=Path(out), workers=workers, worker_cpus=worker_cpus, gpus=gpus, progress=False
    )
    summary = run_batch([inputs], options)
    return {
        "audio_s": summary.audio_s,
        "analysed": summary.analysed,
        "failed": summary.failed,
        "workers": summary.workers,
        "worker_cpus": summary.worker_cpus,
        "stages": summary.stages,
        "model_load_s": summary.model_load_s,
        "engine_s": summary.engine_s,
        "worker_peak_mb": summary.worker_peak_mb,
        "inner_wall_s": summary.wall_s,
    }


def _child(args: argparse.Namespace) -> None:
    if args.mode == "baseline":
        out = one_baseline(args.files, args.threads, args.stage_memory)
    else:
        out = one_batch(args.files[0], args.out, args.workers_n, args.cpus_n, args.gpus)
    out["self_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["hwm_mb"] = _rss_mb("VmHWM:")  # this process's own peak (ru_maxrss keeps the parent's)
    print("RESULT " + json.dumps(out))


# ---- measuring a child ---------------------------------------------------------------------
def _tree(root: int) -> list[int]:
    """``root`` and every process below it (by parent links in /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = [root], [root]
    while frontier:
        frontier = [p for p, pp in parents.items() if pp in frontier]
        tree.extend(frontier)
    return tree


def _pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_s(pid: int) -> tuple[float, str] | None:
    """CPU seconds (user + system) a process has used so far, and its command line."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline") as fh:
            cmdline = fh.read().replace("\0", " ").strip()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, cmdline


def _cpu_group(pid: int, root: int, cmdline: str) -> str:
    """Which part of a run a process is: the run's own process (the driver), an analysis
    worker, or one of Ray's other processes (its services, Ray Data's helper actors, the
    tables job's workers)."""
    if pid == root:
        return "driver"
    if cmdline.startswith(("ray::AnalyzeCalls", "ray::MapWorker")):
        return "workers"
    return "ray other"


def measure(cmd: list[str], every_s: float = SAMPLE_EVERY_S) -> Run:
    """Run ``cmd``; its wall clock, its result, the peak PSS of its process tree and the CPU
    seconds of its processes by group (each process's last sample: a process that lives less
    than a sampling period, ``every_s``, may be missed, which undercounts only Ray's other
    processes); ``sampler_cpu_s``: what the sampling itself cost this process."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    peak = {"mb": 0.0, "processes": 0}
    cpu: dict[int, tuple[str, float]] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _tree(proc.pid)
            total = sum(_pss_mb(p) for p in pids)
            if total > peak["mb"]:
                peak.update(mb=total, processes=len(pids))
            for pid in pids:
                got = _cpu_s(pid)
                if got is not None:  # a process's last title names it (ray::IDLE, then an actor)
                    group = _cpu_group(pid, proc.pid, got[1])
                    cpu[pid] = (cpu[pid][0] if pid in cpu and not got[1] else group, got[0])
            done.wait(every_s)

    sampler_cpu = time.process_time()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    sampler_cpu = time.process_time() - sampler_cpu
    if proc.returncode not in (0, 1):
        raise SystemExit(f"benchmark run failed ({proc.returncode}): {' '.join(cmd)}")
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    result: Run = json.loads(line[len("RESULT ") :])
    cpu_s = dict.fromkeys(("driver", "workers", "ray other"), 0.0)
    for group, seconds in cpu.values():
        cpu_s[group] += seconds
    return result | {
        "wall_s": wall,
        "peak_mb": peak["mb"],
        "peak_processes": peak["processes"],
        "cpu_s": cpu_s,
        "sampler_cpu_s": sampler_cpu,
        "load_before": load,
    }


def batch_configs(spec: list[str], workers: list[int], cpus: int) -> list[tuple[int, int]]:
    """(workers, CPUs each) of every batch run: ``WxC`` specs, then ``--workers`` values with
    the CPUs shared out; by default 1 x all CPUs, one worker per CPU, and 1 x 1 CPU."""
    configs = [tuple(int(x) for x in item.lower().split("x")) for item in spec]
    configs += [(w, max(1, cpus // w)) for w in workers]
    if not configs:
        configs = [(1, cpus), (cpus, 1), (1, 1)]
    unique: list[tuple[int, int]] = []
    for c in configs:
        if len(c) != 2 or min(c) < 1:
            raise SystemExit(f"--batch takes WORKERSxCPUS, e.g. 2x1 (got {c})")
        if c not in unique:
            unique.append((c[0], c[1]))
    return unique


def _name(workers: int, cpus: int) -> str:
    return f"batch, {workers} worker(s) x {cpus} CPU(s)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=8)
    p.add_argument("--call-s", type=float, default=180.0)
    p.add_argument(
        "--threads", type=int, nargs="*", default=[1, 2], help="loop threads (none: no loop)"
    )
    p.add_argument("--workers", type=int, nargs="*", default=[], help="workers, CPUs shared out")
    p.add_argument("--batch", nargs="*", default=[], metavar="WxC", help="workers x CPUs each")
    p.add_argument("--repeat", type=int, default=1, help="rounds of every setting, interleaved")
    p.add_argument("--inputs", type=Path, help="a folder of recordings instead of generated calls")
    p.add_argument("--long-minutes", type=float, help="memory of one call this long instead")
    p.add_argument("--gpus", type=float, default=0.0)
    p.add_argument("--_child", choices=["baseline", "batch"], dest="mode", help=argparse.SUPPRESS)
    p.add_argument("--_files", nargs="*", dest="files", help=argparse.SUPPRESS)
    p.add_argument("--_out", dest="out", help=argparse.SUPPRESS)
    p.add_argument("--_n", type=int, dest="workers_n", help=argparse.SUPPRESS)
    p.add_argument("--_c", type=int, dest="cpus_n", help=argparse.SUPPRESS)
    p.add_argument(
        "--_stage_memory", action="store_true", dest="stage_memory", help=argparse.SUPPRESS
    )
    args = p.parse_args()
    if args.mode:
        args.threads = args.threads[0]
        return _child(args)
    if args.long_minutes:
        return long_call(args)

    cpus = os.cpu_count() or 1
    configs = batch_configs(args.batch, args.workers, cpus)
    env_note = f"{cpus} CPUs, load {os.getloadavg()[0]:.1f} at start"
    me = [sys.executable, __file__]
    rounds: list[dict[str, Run]] = []  # every round's runs, in the order they ran
    with tempfile.TemporaryDirectory() as tmp:
        inputs = args.inputs or Path(tmp) / "calls"
        if args.inputs is None:
            make_calls(inputs, args.calls, args.call_s)
        files = _media_files(inputs)
        for attempt in range(args.repeat):
            this: dict[str, Run] = {}
            for t in args.threads:
                cmd = [*me, "--_child", "baseline", "--threads", str(t), "--_files", *files]
                this[f"analyze loop, {t} thread(s)"] = _rated(measure(cmd, THROUGHPUT_SAMPLE_S))
            for w, c in configs:
                out = Path(tmp) / f"out{w}x{c}-{attempt}"
                cmd = [*me, "--_child", "batch", "--_n", str(w), "--_c", str(c)]
                cmd += ["--_files", str(inputs), "--_out", str(out), "--gpus", str(args.gpus)]
                this[_name(w, c)] = _rated(measure(cmd, THROUGHPUT_SAMPLE_S))
            rounds.append(this)
    env_note += f", {os.getloadavg()[0]:.1f} at the end (1-minute load average)"
    report(rounds, files, env_note, configs, cpus)


def _media_files(inputs: Path) -> list[str]:
    from analyzer.batch import MEDIA_EXTENSIONS

    return sorted(str(f) for f in Path(inputs).rglob("*") if f.suffix.lower() in MEDIA_EXTENSIONS)


def _rated(run: Run) -> Run:
    run["x_real_time"] = run["audio_s"] / run["wall_s"] if run["wall_s"] else 0.0
    if "stages" in run:  # the calls stage alone: no Ray start, no tables, no process start
        calls_s = run["stages"].get("calls", 0.0)
        run["calls_x_real_time"] = run["audio_s"] / calls_s if calls_s else 0.0
    return run


def _autogroup() -> bool:
    """Whether the kernel schedules by session (then a benchmark child, which runs in a session
    of its own with every Ray process it starts, competes with other sessions as one)."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def fastest(rounds: list[dict[str, Run]]) -> dict[str, Run]:
    """Each setting's fastest run over the rounds (on a shared machine, the least disturbed)."""
    best: dict[str, Run] = {}
    for runs in rounds:
        for name, run in runs.items():
            if name not in best or run["wall_s"] < best[name]["wall_s"]:
                best[name] = run
    return best


def paired_ratios(rounds: list[dict[str, Run]], a: str, b: str, key: str) -> list[float]:
    """``a``'s rate over ``b``'s within each round (the two ran one after the other)."""
    return [
        runs[a][key] / runs[b][key]
        for runs in rounds
        if a in runs and b in runs and runs[b].get(key)
    ]


def _ratios_text(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}x"
    listed = ", ".join(f"{v:.2f}" for v in values)
    return f"median {statistics.median(values):.2f}x (rounds: {listed})"


def report(
    rounds: list[dict[str, Run]],
    files: list[str],
    env_note: str,
    configs: list[tuple[int, int]],
    cpus: int,
) -> None:
    runs = fastest(rounds)
    loops = [k for k in runs if k.startswith("analyze")]
    baseline_name = max(loops, key=lambda k: runs[k]["x_real_time"]) if loops else None
    base = runs[baseline_name]["x_real_time"] if baseline_name else 0.0
    audio_h = next(iter(runs.values()))["audio_s"] / 3600
    print(f"{len(files)} calls, {audio_h:.3f} h of audio; {env_note}")
    if len(rounds) > 1:
        print(f"{len(rounds)} rounds, settings interleaved; the table keeps each one's fastest run")
    print(
        f"{'run':<34} {'wall s':>8} {'audio h/h':>10} {'vs best loop':>12} {'peak MB':>9} "
        f"{'load':>5}"
    )
    for name, r in runs.items():
        ratio = f"{r['x_real_time'] / base:12.2f}" if base else f"{'-':>12}"
        print(
            f"{name:<34} {r['wall_s']:8.1f} {r['x_real_time']:10.1f} {ratio} "
            f"{r['peak_mb']:9.0f} {r['load_before']:5.1f}"
        )
    rate = {c: runs[_name(*c)]["x_real_time"] for c in configs}
    print("ratios (targets of the scale issue):")
    best = max(rate, key=lambda c: rate[c])
    if base:
        print(
            f"  best batch ({best[0]}x{best[1]}) vs best loop: {rate[best] / base:.2f}x "
            "(target >= 0.9)"
        )
        if (1, cpus) in rate:
            print(
                f"  batch 1x{cpus} (the loop's threads) vs best loop: {rate[(1, cpus)] / base:.2f}x"
            )
    one, two = _name(1, 1), _name(2, 1)
    if (1, 1) in rate and (2, 1) in rate:
        whole = paired_ratios(rounds, two, one, "x_real_time")
        calls = paired_ratios(rounds, two, one, "calls_x_real_time")
        print(
            f"  2 workers vs 1, 1 CPU each (2x1 vs 1x1), whole wall clock (process and Ray start, "
            f"tables): {_ratios_text(whole)} (target >= 1.8 when the cores are free)"
        )
        print(
            f"  the same, calls stage alone (Ray start and tables left out): "
            f"{_ratios_text(calls)}; {len(files)} calls over 2 workers"
        )
    if (1, cpus) in rate and (cpus, 1) in rate and cpus > 1:
        print(
            f"  {cpus} workers x 1 CPU vs 1 worker x {cpus} CPUs: "
            f"{rate[(cpus, 1)] / rate[(1, cpus)]:.2f}x"
        )
    busiest = max(r["load_before"] for r in runs.values())
    if _autogroup() and busiest > 1.5 * cpus:  # our own last run leaves about `cpus` of load
        print(
            f"  note: load up to {busiest:.1f} before a run, and this kernel shares the CPU out "
            "by session (sched_autogroup): while other programs run, a run's whole process tree "
            "gets one session's share, so 2 workers get no more CPU than 1 and these ratios say "
            "little; take them on an idle machine"
        )
    print("where the CPU went (CPU seconds of the run's processes, which load distorts far less):")
    for name, r in runs.items():
        cpu = r["cpu_s"]
        per_call = cpu["workers"] / len(files) if name.startswith("batch") else None
        line = (
            f"  {name}: driver {cpu['driver']:.1f}, analysis workers {cpu['workers']:.1f}, "
            f"Ray's other processes {cpu['ray other']:.1f}"
        )
        if per_call is not None:
            line += f"; workers per call {per_call:.2f} (their start and model loading in it)"
        if "sampler_cpu_s" in r:
            line += f"; this benchmark's sampling {r['sampler_cpu_s']:.1f}"
        print(line)
    for name, r in runs.items():
        if name.startswith("batch"):
            stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
            workers = ", ".join(f"{m:.0f}" for m in r["worker_peak_mb"])
            print(
                f"{name}: stages (s) {stages}; model loading {r['model_load_s']:.1f} s summed "
                f"over workers; per-worker peak RSS (MB) {workers}"
            )
        else:
            print(f"{name}: model loading {r['model_load_s']:.1f} s")
        engine = ", ".join(f"{k} {v:.1f}" for k, v in r["engine_s"].items() if v >= 0.05)
        print(f"{name}: engine stages summed over calls (s) {engine}")
    print(
        json.dumps(
            {"baseline": baseline_name, "environment": env_note, "runs": runs, "rounds": rounds}
        )
    )


def long_call(args: argparse.Namespace) -> None:
    """Peak memory of one long stereo call: the loop (with per-stage peaks) and a 1-worker batch."""
    cpus = os.cpu_count() or 1
    threads = max(args.threads)
    env_note = f"{cpus} CPUs, load {os.getloadavg()[0]:.1f} at start"
    me = [sys.executable, __file__]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "calls"
        make_calls(inputs, 1, args.long_minutes * 60)
        files = _media_files(inputs)
        loop = measure(
            [*me, "--_child", "baseline", "--threads", str(threads), "--_stage_memory"]
            + ["--_files", *files]
        )
        cmd = [*me, "--_child", "batch", "--_n", "1", "--_c", str(cpus), "--_files", str(inputs)]
        batch = measure([*cmd, "--_out", str(Path(tmp) / "out"), "--gpus", str(args.gpus)])
    env_note += f", {os.getloadavg()[0]:.1f} at the end"
    print(f"one stereo 8 kHz call of {loop['audio_s'] / 60:.1f} min; {env_note}")
    # (ru_maxrss, ``self_peak_mb``, is not the child's own: Linux carries the parent's peak
    # across fork and exec, and the parent built the long call in memory)
    print(
        f"analyze ({threads} threads): wall {loop['wall_s']:.1f} s, peak {loop['peak_mb']:.0f} MB "
        f"PSS, {loop['hwm_mb']:.0f} MB peak RSS (VmHWM)"
    )
    stages = ", ".join(f"{k} {v:.0f}" for k, v in loop["stage_peak_mb"].items())
    print(f"  peak RSS while each stage ran (MB): {stages}")
    workers = ", ".join(f"{m:.0f}" for m in batch["worker_peak_mb"])
    print(
        f"batch, 1 worker x {cpus} CPU(s): wall {batch['wall_s']:.1f} s, "
        f"peak {batch['peak_mb']:.0f} MB PSS of every Ray process and the object store; "
        f"worker peak RSS {workers} MB"
    )
    print(json.dumps({"environment": env_note, "loop": loop, "batch": batch}))


if __name__ == "__main__":
    main()
