"""Throughput and memory of ``emotrace batch`` on Ray against a single-process ``analyze`` loop.

    python -m benchmarks.batch [--calls 8] [--call-s 180] [--threads 1 2] [--workers 1 2]
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

``--repeat N`` runs every configuration N times, in turn, and keeps each one's fastest run (on a
shared machine, the run least disturbed by others).

Wall clock counts everything the user waits for: process start, model loading and, for the batch,
starting Ray. Throughput is audio hours per wall-clock hour (= times real time). Peak memory is
sampled every 0.2 s as the sum of the proportional set size (PSS, /proc/PID/smaps_rollup) of the
run's whole process tree: the driver, Ray's GCS/raylet/agents, every worker and the object store's
shared memory as those processes map it. Per-worker peaks are each analysis actor's own peak RSS.
Prints one table, the ratios the scale issue sets targets for, the per-stage times, then one JSON
line with every figure.

Memory (``--long-minutes M``): one stereo 8 kHz call of M minutes, analysed by the loop (1 call,
best threads, with the peak resident memory of each engine stage) and by a batch of 1 worker;
peak PSS of each whole process tree as above.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "assets" / "sample_call.wav"
SAMPLE_EVERY_S = 0.2  # memory sampling period


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


def one_baseline(files: list[str], threads: int, stage_memory: bool = False) -> dict:
    from analyzer import AnalysisConfig, Analyzer

    peaks = StagePeaks() if stage_memory else None
    started = time.perf_counter()
    analyzer = Analyzer(AnalysisConfig(ser_threads=threads))
    load_s = time.perf_counter() - started
    audio_s, stages = 0.0, {}
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


def one_batch(inputs: str, out: str, workers: int, worker_cpus: int, gpus: float) -> dict:
    from analyzer.batch import BatchOptions, run_batch

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


def measure(cmd: list[str]) -> dict:
    """Run ``cmd``; its wall clock, its result and the peak PSS of its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    peak = {"mb": 0.0, "processes": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _tree(proc.pid)
            total = sum(_pss_mb(p) for p in pids)
            if total > peak["mb"]:
                peak.update(mb=total, processes=len(pids))
            done.wait(SAMPLE_EVERY_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"benchmark run failed ({proc.returncode}): {' '.join(cmd)}")
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT ") :])
    return result | {"wall_s": wall, "peak_mb": peak["mb"], "peak_processes": peak["processes"]}


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
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="loop threads")
    p.add_argument("--workers", type=int, nargs="*", default=[], help="workers, CPUs shared out")
    p.add_argument("--batch", nargs="*", default=[], metavar="WxC", help="workers x CPUs each")
    p.add_argument("--repeat", type=int, default=1, help="runs of each setting; fastest kept")
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
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = args.inputs or Path(tmp) / "calls"
        if args.inputs is None:
            make_calls(inputs, args.calls, args.call_s)
        files = _media_files(inputs)
        for attempt in range(args.repeat):
            for t in args.threads:
                cmd = [*me, "--_child", "baseline", "--threads", str(t), "--_files", *files]
                _keep_fastest(runs, f"analyze loop, {t} thread(s)", measure(cmd))
            for w, c in configs:
                out = Path(tmp) / f"out{w}x{c}-{attempt}"
                cmd = [*me, "--_child", "batch", "--_n", str(w), "--_c", str(c)]
                cmd += ["--_files", str(inputs), "--_out", str(out), "--gpus", str(args.gpus)]
                _keep_fastest(runs, _name(w, c), measure(cmd))
    env_note += f", {os.getloadavg()[0]:.1f} at the end (1-minute load average)"
    report(runs, files, env_note, configs, cpus)


def _media_files(inputs: Path) -> list[str]:
    from analyzer.batch import MEDIA_EXTENSIONS

    return sorted(str(f) for f in Path(inputs).rglob("*") if f.suffix.lower() in MEDIA_EXTENSIONS)


def _keep_fastest(runs: dict[str, dict], name: str, run: dict) -> None:
    run["x_real_time"] = run["audio_s"] / run["wall_s"] if run["wall_s"] else 0.0
    if name not in runs or run["wall_s"] < runs[name]["wall_s"]:
        runs[name] = run


def report(
    runs: dict[str, dict],
    files: list[str],
    env_note: str,
    configs: list[tuple[int, int]],
    cpus: int,
) -> None:
    loops = [k for k in runs if k.startswith("analyze")]
    baseline_name = max(loops, key=lambda k: runs[k]["x_real_time"])
    base = runs[baseline_name]["x_real_time"]
    print(f"{len(files)} calls, {runs[baseline_name]['audio_s'] / 3600:.3f} h of audio; {env_note}")
    print(f"{'run':<34} {'wall s':>8} {'audio h/h':>10} {'vs best loop':>12} {'peak MB':>9}")
    for name, r in runs.items():
        ratio = r["x_real_time"] / base if base else 0.0
        print(
            f"{name:<34} {r['wall_s']:8.1f} {r['x_real_time']:10.1f} {ratio:12.2f} "
            f"{r['peak_mb']:9.0f}"
        )
    rate = {c: runs[_name(*c)]["x_real_time"] for c in configs}
    print("ratios (targets of the scale issue):")
    best = max(rate, key=lambda c: rate[c])
    print(
        f"  best batch ({best[0]}x{best[1]}) vs best loop: {rate[best] / base:.2f}x (target >= 0.9)"
    )
    if (1, cpus) in rate:
        print(f"  batch 1x{cpus} (the loop's threads) vs best loop: {rate[(1, cpus)] / base:.2f}x")
    if (1, 1) in rate and (2, 1) in rate:
        print(
            f"  2 workers vs 1, 1 CPU each (2x1 vs 1x1): {rate[(2, 1)] / rate[(1, 1)]:.2f}x "
            "(target >= 1.8 when the cores are free)"
        )
    if (1, cpus) in rate and (cpus, 1) in rate and cpus > 1:
        print(
            f"  {cpus} workers x 1 CPU vs 1 worker x {cpus} CPUs: "
            f"{rate[(cpus, 1)] / rate[(1, cpus)]:.2f}x"
        )
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
    print(json.dumps({"baseline": baseline_name, "environment": env_note, "runs": runs}))


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
