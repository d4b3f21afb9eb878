"""Throughput and memory of ``emotrace batch`` on Ray against a single-process ``analyze`` loop.

    python benchmarks/batch.py [--calls 8] [--call-s 120] [--workers 1 2] [--threads 1 2]
                               [--inputs DIR] [--gpus N]

Builds ``--calls`` stereo 8 kHz calls of ``--call-s`` seconds from the bundled sample call
(each rotated to another start and with its own faint noise, so every call has its own content
hash), unless ``--inputs`` names a folder of recordings. Then, each in a fresh process:

- baseline: one ``Analyzer`` analysing every call in a loop, as ``emotrace analyze`` does, once
  per ``--threads`` setting (engine threads); the best one is the baseline.
- batch: ``run_batch`` into an empty folder with a local Ray of ``W`` workers x 1 CPU, for each
  ``--workers`` value (and ``--gpus`` if given).

Wall clock counts everything the user waits for: process start, model loading and, for the batch,
starting Ray. Throughput is audio hours per wall-clock hour (= times real time). Peak memory is
sampled every 0.2 s as the sum of the proportional set size (PSS, /proc/PID/smaps_rollup) of the
run's whole process tree: the driver, Ray's GCS/raylet/agents, every worker and the object store's
shared memory as those processes map it. Per-worker peaks are each analysis actor's own peak RSS.
Prints one table, then one JSON line with every figure.
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
def one_baseline(files: list[str], threads: int) -> dict:
    from analyzer import AnalysisConfig, Analyzer

    started = time.perf_counter()
    analyzer = Analyzer(AnalysisConfig(ser_threads=threads))
    load_s = time.perf_counter() - started
    audio_s, stages = 0.0, {}
    for f in files:
        result = analyzer.analyze(f)
        audio_s += result.media.duration_s
        for k, v in result.timings.items():
            stages[k] = stages.get(k, 0.0) + v
    analyzer.close()
    return {"audio_s": audio_s, "model_load_s": load_s, "engine_s": stages}


def one_batch(inputs: str, out: str, workers: int, gpus: float) -> dict:
    from analyzer.batch import BatchOptions, run_batch

    summary = run_batch(
        [inputs], BatchOptions(out=Path(out), workers=workers, gpus=gpus, progress=False)
    )
    return {
        "audio_s": summary.audio_s,
        "analysed": summary.analysed,
        "failed": summary.failed,
        "stages": summary.stages,
        "engine_s": summary.engine_s,
        "worker_peak_mb": summary.worker_peak_mb,
        "inner_wall_s": summary.wall_s,
    }


def _child(args: argparse.Namespace) -> None:
    if args.mode == "baseline":
        out = one_baseline(args.files, args.threads)
    else:
        out = one_batch(args.files[0], args.out, args.workers_n, args.gpus)
    out["self_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=8)
    p.add_argument("--call-s", type=float, default=120.0)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="baseline threads")
    p.add_argument("--inputs", type=Path, help="a folder of recordings instead of generated calls")
    p.add_argument("--gpus", type=float, default=0.0)
    p.add_argument("--_child", choices=["baseline", "batch"], dest="mode", help=argparse.SUPPRESS)
    p.add_argument("--_files", nargs="*", dest="files", help=argparse.SUPPRESS)
    p.add_argument("--_out", dest="out", help=argparse.SUPPRESS)
    p.add_argument("--_n", type=int, dest="workers_n", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode:
        args.threads = args.threads[0]
        return _child(args)

    env_note = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start"
    with tempfile.TemporaryDirectory() as tmp:
        inputs = args.inputs or Path(tmp) / "calls"
        if args.inputs is None:
            make_calls(inputs, args.calls, args.call_s)
        from analyzer.batch import MEDIA_EXTENSIONS

        files = sorted(
            str(f) for f in Path(inputs).rglob("*") if f.suffix.lower() in MEDIA_EXTENSIONS
        )
        me = [sys.executable, __file__]
        runs = {}
        for t in args.threads:
            runs[f"analyze loop, {t} thread(s)"] = measure(
                [*me, "--_child", "baseline", "--threads", str(t), "--_files", *files]
            )
        for w in args.workers:
            out = Path(tmp) / f"out{w}"
            cmd = [*me, "--_child", "batch", "--_n", str(w), "--_files", str(inputs)]
            runs[f"batch, {w} worker(s)"] = measure(
                [*cmd, "--_out", str(out), "--gpus", str(args.gpus)]
            )
    for r in runs.values():
        r["x_real_time"] = r["audio_s"] / r["wall_s"] if r["wall_s"] else 0.0
    baseline_name = max(
        (k for k in runs if k.startswith("analyze")), key=lambda k: runs[k]["x_real_time"]
    )
    base = runs[baseline_name]["x_real_time"]
    print(f"{len(files)} calls, {runs[baseline_name]['audio_s'] / 3600:.3f} h of audio; {env_note}")
    print(f"{'run':<26} {'wall s':>8} {'audio h/h':>10} {'vs best loop':>12} {'peak MB':>9}")
    for name, r in runs.items():
        ratio = r["x_real_time"] / base if base else 0.0
        print(
            f"{name:<26} {r['wall_s']:8.1f} {r['x_real_time']:10.1f} {ratio:12.2f} "
            f"{r['peak_mb']:9.0f}"
        )
    for name, r in runs.items():
        if name.startswith("batch"):
            stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
            workers = ", ".join(f"{m:.0f}" for m in r["worker_peak_mb"])
            print(f"{name}: stages (s) {stages}; per-worker peak RSS (MB) {workers}")
        engine = ", ".join(f"{k} {v:.1f}" for k, v in r["engine_s"].items())
        print(f"{name}: engine stages summed over calls (s) {engine}")
    one = [r for k, r in runs.items() if k.startswith("batch, 1 ")]
    two = [r for k, r in runs.items() if k.startswith("batch, 2 ")]
    if one and two:
        print(f"2 workers vs 1: {two[0]['x_real_time'] / one[0]['x_real_time']:.2f}x")
    print(json.dumps({"baseline": baseline_name, "environment": env_note, "runs": runs}))


if __name__ == "__main__":
    main()
