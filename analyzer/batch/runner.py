"""The batch on Ray: one pass of every call through a pool of analysis actors, then the tables.

Two distributed steps:
1. calls (a pool of ``workers`` Ray actors, ``worker_cpus`` CPUs and engine threads each): an
   actor hashes its call, skips it when a finished result matches (content hash, configuration,
   model checksums), else analyses it with the one ``Analyzer`` it holds (models loaded on its
   first call, so a batch with nothing left to do loads none). It writes the call's JSON exactly
   as ``emotrace analyze`` does, then the call's finished record. The driver hands each actor one
   call at a time, biggest file first, and blocks in ``ray.wait`` until one finishes: rows come
   back as calls finish (the progress bar), no actor sits on a queue while another is idle, the
   batch's last calls are its shortest, and the driver uses no CPU while the workers analyse.
   Checking inside the actors rather than in a stage of its own spreads the hashing over the
   workers and keeps one pool of warm actors for the whole batch.
   (Plain actors rather than a Ray Data actor pool: on a 2-core machine Ray Data's executor,
   which polls every 0.1 s, and its three helper actors took CPU from the workers for nothing
   a one-call-per-actor pool needs; see benchmarks/batch.py.)
2. tables (a Ray Data job, ``datasets.py``): every finished call's JSON becomes rows of the
   Parquet datasets ``segments/``, ``events/``, ``calls/`` (and ``scorecards/`` when results
   carry one), all four written by one job. The datasets are rebuilt from all finished calls in
   the folder, so a resumed run ends with complete tables.

Every worker reads the inputs and writes under the output folder: on a cluster both live on
storage that every node mounts (NFS or similar) and every node has emotrace installed.
Ray is imported here only inside functions: ``import analyzer`` never loads it.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..commands import terminate_as_interrupt
from ..config import AnalysisConfig
from ..naming import output_path
from . import resume
from .datasets import Row, write_tables
from .inputs import BatchInputError, CallInput, discover

if TYPE_CHECKING:
    from ..pipeline import Analyzer

FAILURES_CSV = "failures.csv"
FAILURE_COLUMNS = ("file", "call_id", "error")
LOCAL_OBJECT_STORE_MB = 256  # the local runtime's object store: only small rows travel through it
# Libraries that size their own thread pools from these at load time (OpenMP, MKL, OpenBLAS,
# numexpr): an actor sets them to its CPU share so that workers do not fight over the cores.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
# An analysis actor's allocator keeps freed memory for the next call (``keep_freed_memory``):
# blocks under HEAP_BLOCK_MB come from the heap, and up to KEEP_FREE_MB of free heap stays mapped.
HEAP_BLOCK_MB = 64
KEEP_FREE_MB = 256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs (what it computes is ``config``)."""

    out: Path  # output folder: per-call JSON, Parquet datasets, failures.csv
    config: AnalysisConfig = field(default_factory=AnalysisConfig)
    address: str | None = None  # "auto" or "ray://host:port" joins a cluster; None: local Ray
    workers: int | None = None  # analysis actors; None: as many as the CPUs allow
    # CPUs (and engine threads) per analysis actor; None: on this machine its share of the CPUs
    # (every CPU for one worker, as a single `analyze` uses them), on a cluster 1
    worker_cpus: int | None = None
    gpus: float = 0.0  # GPUs shared by the analysis actors (used when torch sees CUDA)
    object_store_mb: int = LOCAL_OBJECT_STORE_MB  # local runtime only
    progress: bool = True  # live progress bar on stderr
    extra_outputs: tuple[str, ...] = ()  # per-call "csv" and/or "parquet" beside the JSON


@dataclass
class BatchSummary:
    """What a batch did. Times are wall-clock seconds."""

    total: int = 0
    analysed: int = 0
    skipped: int = 0
    failed: int = 0
    audio_s: float = 0.0  # audio analysed in this run
    wall_s: float = 0.0  # the whole run, Ray start included
    stages: dict[str, float] = field(default_factory=dict)  # ray start, calls, tables
    engine_s: dict[str, float] = field(default_factory=dict)  # engine stages summed over calls
    model_load_s: float = 0.0  # loading the models, summed over the actors that analysed
    worker_peak_mb: list[float] = field(default_factory=list)  # peak RSS of each analysis actor
    workers: int = 0  # size of the actor pool
    worker_cpus: int = 0  # CPUs (and engine threads) of each actor
    nodes: int = 0  # Ray nodes whose actors analysed at least one call

    def line(self) -> str:
        rate = ""
        if self.audio_s > 0 and self.wall_s > 0:
            rate = (
                f"; {self.audio_s / 3600:.2f} h of audio in {self.wall_s:.0f} s "
                f"({self.audio_s / self.wall_s:.1f}x real time)"
            )
        return (
            f"{self.total} calls: {self.analysed} analysed, {self.skipped} already done, "
            f"{self.failed} failed{rate}"
        )


# ---- the calls stage: an actor per worker ----------------------------------------------------
class AnalyzeCalls:
    """Ray actor: checks and analyses one call per ``__call__`` with one Analyzer (models loaded
    on the first call that needs them, then kept)."""

    def __init__(
        self,
        config: AnalysisConfig,
        out: str,
        use_gpu: bool,
        extra_outputs: tuple[str, ...],
        threads: int,
    ) -> None:
        self._limits = limit_threads(threads)
        keep_freed_memory()
        self.config = config.replace(ser_threads=threads)
        self.out = out
        self.use_gpu = use_gpu
        self.extra_outputs = extra_outputs
        self.analyzer: Analyzer | None = None
        self.device = "cpu"

    def _ready(self) -> tuple[Analyzer, float]:
        """The actor's Analyzer and the seconds it took to load now (0 when already loaded)."""
        if self.analyzer is not None:
            return self.analyzer, 0.0
        from ..pipeline import Analyzer

        started = time.perf_counter()
        self.analyzer = Analyzer(self.config)
        if self.use_gpu:
            self.device = _move_to_gpu(self.analyzer)
        return self.analyzer, time.perf_counter() - started

    def __call__(self, row: Row) -> Row:
        started = time.perf_counter()
        row = check_call(row)
        if row["status"] != "todo":
            return row
        try:
            analyzer, load_s = self._ready()
            config = call_config(analyzer.config, row["channels"], row["transcript"])
            result = analyzer.analyze(row["path"], config=config)
            result.save_json(output_path(self.out, row["stem"], ".json"))
            if "csv" in self.extra_outputs:
                result.write_csv(output_path(self.out, row["stem"], ".csv"))
            if "parquet" in self.extra_outputs:
                result.write_parquet(output_path(self.out, row["stem"], ".parquet"))
            if result.redaction.applied:  # as `analyze --redact`: the silenced audio beside it
                from ..export import REDACTED_AUDIO_SUFFIX, write_redacted_audio

                audio_out = output_path(self.out, row["stem"], REDACTED_AUDIO_SUFFIX)
                write_redacted_audio(result, row["path"], audio_out)
            resume.write_record(
                self.out,
                row["stem"],
                call_id=row["call_id"],
                fp=row["fingerprint"],
                file=row["file"],
                path=row["path"],
                agent=row.get("agent") or None,
                duration_s=result.media.duration_s,
            )
        except Exception as exc:  # one call's failure is recorded and the batch goes on
            return row | _worker_stats(started) | {"status": "failed", "error": _oneline(exc)}
        return (
            row
            | _worker_stats(started)
            | {
                "status": "done",
                "duration_s": float(result.media.duration_s),
                "timings": json.dumps(result.timings),
                "model_load_s": load_s,
                "device": self.device,
            }
        )


def check_call(row: Row) -> Row:
    """Hash the call, apply the skip rule, read the media header: status ``todo``, ``skipped``
    or ``failed`` (a file that cannot be read, or has no audio, fails before any model loads)."""
    from ..hashing import content_hash
    from ..media import MediaError, probe_media

    try:
        row = row | {"call_id": content_hash(row["path"])}
    except OSError as exc:
        return row | {"status": "failed", "error": _oneline(exc.strerror or exc)}
    if resume.is_finished(row["out"], row["stem"], row["call_id"], row["fingerprint"]):
        return row | {"status": "skipped"}
    try:
        info = probe_media(row["path"])
        if not info.has_audio:
            raise MediaError(f"{Path(row['path']).name}: has no audio track")
    except MediaError as exc:
        return row | {"status": "failed", "error": _oneline(exc)}
    return row | {"status": "todo"}


def limit_threads(threads: int) -> object:
    """Hold every thread pool of this process to ``threads``: the BLAS and OpenMP pools already
    loaded (threadpoolctl), the ones loaded later (their environment variables) and torch's.
    The engine's own models take theirs from the config (``ser_threads``). Returns the
    threadpoolctl handle, which must stay alive for the limits to hold."""
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it the environment still covers pools loaded from now on
        return None
    return threadpool_limits(limits=threads)


def keep_freed_memory(block_mb: int = HEAP_BLOCK_MB, keep_mb: int = KEEP_FREE_MB) -> bool:
    """Have this process's C allocator (glibc) keep freed memory for reuse: the engine's
    stages allocate and free arrays of a few MB many times a call (the bleed cancellation
    alone some 30 MB per block of frames), and glibc's defaults hand such memory back to the
    system after each free, so the next array is fresh pages that the kernel zeroes first
    (30,000-90,000 page faults per 3-minute call). Every zeroed page is memory traffic,
    which the workers share: with this, the voice stage faults 1,500 pages a call instead of
    25,000, decoding and prosody almost none (what is left, some 7,000, is the speech emotion
    encoder's own), and a call takes 6-20 % less CPU on this machine under load;
    the worker's peak resident memory some 50 MB higher. Arrays of ``block_mb`` or more
    (a long call's chunk) still get their own mapping and go back at once; up to ``keep_mb``
    of free heap stays mapped. Returns whether the allocator took the settings (False off
    glibc)."""
    import ctypes

    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters (malloc.h)
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library symbols to reach, or not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    took = [
        int(mallopt(m_mmap_threshold, block_mb << 20)),
        int(mallopt(m_trim_threshold, keep_mb << 20)),
    ]
    return took == [1, 1]


def call_config(base: AnalysisConfig, channels: str, transcript: str) -> AnalysisConfig:
    """The config of one call: the run's, with the manifest's channels and transcript (given as
    text, empty when the manifest leaves them out)."""
    changes: dict[str, Any] = {}
    if channels:
        changes["channels"] = tuple(channels.split(","))
    if transcript:
        changes["transcript"] = transcript
    return base.replace(**changes) if changes else base


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _move_to_gpu(analyzer: Analyzer) -> str:
    """Put the models that can run on CUDA there; the rest of the engine stays on the CPU."""
    if not _cuda_available():
        return "cpu"
    moved = False
    for model in (analyzer.fer, analyzer.ser):
        to_device = getattr(model, "to", None)  # models that can move say so with .to(device)
        if callable(to_device):
            to_device("cuda")
            moved = True
    return "cuda" if moved else "cpu"


def _worker_stats(started: float) -> Row:
    import ray

    # ru_maxrss is in KiB on Linux: this actor's peak resident memory so far.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "worker": os.getpid(),
        "node": ray.get_runtime_context().get_node_id(),
        "peak_rss_mb": peak,
        "call_s": time.perf_counter() - started,
    }


# ---- the run -----------------------------------------------------------------------------
def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    options: BatchOptions,
    *,
    on_result: Callable[[Row], None] | None = None,
) -> BatchSummary:
    """Analyse every call in ``inputs`` into ``options.out``; see the module docstring.

    ``on_result`` is called with each call's row as it finishes (status ``done``, ``skipped``
    or ``failed``). Raises BatchInputError / ModelError for problems with the inputs or the
    models (usage errors); a call that cannot be analysed is a failure row, never an exception.
    """
    clock = time.perf_counter()
    # Absolute paths: workers of a cluster do not share the driver's working folder.
    out = Path(options.out).absolute()
    calls = discover(inputs, exclude=out)
    checksums = resume.model_checksums(options.config)
    out.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary(total=len(calls))
    if options.gpus and not options.address and not _cuda_available():
        print("emotrace: batch: torch sees no CUDA device; --gpus is ignored", file=sys.stderr)
        options = replace(options, gpus=0.0)
    with _only_batch_in(out), _ray_runtime(options) as (workers, worker_cpus, ray_start_s):
        failures = _FailureLog(out / FAILURES_CSV)
        summary.workers, summary.worker_cpus = workers, worker_cpus
        summary.stages["ray start"] = ray_start_s
        started = time.perf_counter()
        peaks: dict[int, float] = {}
        nodes: set[str] = set()
        items = _items(calls, options.config, checksums, out)
        for row in _run_calls(items, options, workers, worker_cpus, out):
            if row["status"] == "skipped":
                summary.skipped += 1
            elif row["status"] == "done":
                summary.analysed += 1
                summary.audio_s += row["duration_s"]
                summary.model_load_s += row["model_load_s"]
                for step, s in json.loads(row["timings"]).items():
                    summary.engine_s[step] = summary.engine_s.get(step, 0.0) + s
            else:
                summary.failed += 1
                failures.add(row)
            if "worker" in row:  # an actor analysed it (or tried to)
                peaks[row["worker"]] = max(peaks.get(row["worker"], 0.0), row["peak_rss_mb"])
                nodes.add(row["node"])
            if on_result is not None:
                on_result(row)
        summary.worker_peak_mb = sorted(peaks.values())
        summary.nodes = len(nodes)
        summary.stages["calls"] = time.perf_counter() - started
        started = time.perf_counter()
        finished = [_finished_meta(out, c) for c in calls]
        write_tables(out, [m for m in finished if m is not None])
        summary.stages["tables"] = time.perf_counter() - started
    summary.wall_s = time.perf_counter() - clock
    return summary


def _items(
    calls: list[CallInput],
    config: AnalysisConfig,
    checksums: dict[str, str | None],
    out: Path,
) -> list[Row]:
    """One row per call, as the actors receive it (plain values: Ray moves it)."""
    items: list[Row] = []
    for c in calls:
        own = call_config(config, ",".join(c.channels or ()), c.transcript or "")
        items.append(
            {
                "path": os.path.abspath(c.path),
                "file": c.file,
                "stem": c.stem,
                "agent": c.agent or "",
                "channels": ",".join(c.channels) if c.channels else "",
                "transcript": c.transcript or "",
                "fingerprint": resume.fingerprint(own, checksums),
                "out": str(out),
                "call_id": "",
                "error": "",
                "duration_s": 0.0,
            }
        )
    return items


def _run_calls(
    items: list[Row], options: BatchOptions, workers: int, worker_cpus: int, out: Path
) -> Iterator[Row]:
    """Yield each call's row as its actor finishes it, with a live progress bar."""
    from tqdm import tqdm

    bar = tqdm(
        total=len(items),
        unit="call",
        desc="batch",
        file=sys.stderr,
        disable=not options.progress,
        dynamic_ncols=True,
    )
    done_audio, skipped, failed = 0.0, 0, 0
    try:
        use_gpu = options.gpus > 0
        args = (options.config, str(out), use_gpu, options.extra_outputs, worker_cpus)
        size = max(1, min(workers, len(items)))
        pool = ActorPool(
            AnalyzeCalls, args, size=size, cpus=worker_cpus, gpus=options.gpus if use_gpu else 0
        )
        for row in pool.run(longest_first(items)):
            if row["status"] == "done":
                done_audio += row["duration_s"]
            elif row["status"] == "skipped":
                skipped += 1
            else:
                failed += 1
            bar.update(1)
            bar.set_postfix_str(
                f"{done_audio / 3600:.2f} h audio analysed, {skipped} already done, {failed} failed"
            )
            yield row
    finally:
        bar.close()


def longest_first(items: list[Row]) -> list[Row]:
    """The calls, biggest file first: the last calls of a batch, which decide when the slowest
    worker finishes, are then the shortest ones (file size stands in for the duration, which
    only the actor reads)."""

    def size(row: Row) -> int:
        try:
            return os.stat(row["path"]).st_size
        except OSError:  # fails in its actor, with the reason
            return 0

    return sorted(items, key=size, reverse=True)


class ActorPool:
    """``size`` actors of ``actor_class`` (built with ``args``; ``cpus`` CPUs and a share of
    ``gpus`` each), each fed one row at a time, calling the actor on it.

    The driver blocks in ``ray.wait`` until some actor finishes its row, then hands that actor
    the next one: it spends no CPU while the workers analyse, and no actor waits while rows
    are left. An actor that dies during a row (its process killed, a crash in native code)
    fails that row with one line, and a fresh actor takes its place for the rows still to do."""

    def __init__(
        self, actor_class: type, args: tuple[Any, ...], *, size: int, cpus: int, gpus: float = 0
    ) -> None:
        import ray

        self.size = size
        remote: Any = ray.remote(actor_class)
        self.actor_class = remote.options(
            num_cpus=cpus,
            num_gpus=gpus / size if gpus else 0,
            max_restarts=0,
            scheduling_strategy="SPREAD",  # over a cluster's nodes, as Ray Data places its actors
        )
        self.args = args

    def run(self, items: list[Row]) -> Iterator[Row]:
        import ray
        from ray.exceptions import RayActorError, RayError

        todo = list(reversed(items))  # pop() takes the next call from the end
        actors = [self.actor_class.remote(*self.args) for _ in range(min(self.size, len(todo)))]
        running: dict[Any, tuple[Any, Row]] = {}

        def feed(actor: Any) -> None:
            row = todo.pop()
            running[actor.__call__.remote(row)] = (actor, row)

        try:
            for actor in actors:
                feed(actor)
            while running:
                [ref], _ = ray.wait(list(running), num_returns=1)
                actor, row = running.pop(ref)
                try:
                    result = ray.get(ref)
                except RayActorError as exc:  # the actor's process died: this call fails
                    result = row | {"status": "failed", "error": _first_line(exc, "worker died")}
                    ray.kill(actor, no_restart=True)
                    actors.remove(actor)
                    if todo:
                        actor = self.actor_class.remote(*self.args)
                        actors.append(actor)
                except RayError as exc:  # anything else Ray could not hand back
                    result = row | {"status": "failed", "error": _first_line(exc, "worker error")}
                if todo:
                    feed(actor)
                yield result
        finally:
            for actor in actors:  # frees their CPUs for the tables job at once
                ray.kill(actor, no_restart=True)


def _first_line(exc: Exception, what: str) -> str:
    """One line for failures.csv from a Ray error, whose own text runs to many lines."""
    first = str(exc).strip().splitlines()[:1]
    return f"analysis {what}: {first[0] if first else type(exc).__name__}"


def _finished_meta(out: Path, call: CallInput) -> Row | None:
    record = resume.read_record(out, call.stem)
    if record is None or not (out / record.get("result", "")).is_file():
        return None
    return {
        "call_id": record["call_id"],
        "file": record.get("file", call.file),
        "path": record.get("path", call.path),
        "result": record["result"],
        "agent": record.get("agent") or call.agent,
        "finished_at": record.get("finished_at"),
    }


@contextmanager
def _only_batch_in(out: Path) -> Iterator[None]:
    """Hold a lock on the output folder: two batches writing one folder would mix their tables.
    The lock goes with the process, so a killed run never leaves it behind."""
    import fcntl

    state = out / resume.STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BatchInputError(f"another emotrace batch is writing to {out}") from None
        yield


def plan_workers(
    cpus: int, workers: int | None, worker_cpus: int | None, *, local: bool
) -> tuple[int, int]:
    """(actors, CPUs per actor) for ``cpus`` CPUs. Unset, a local run shares the machine out:
    one worker per CPU by default, and the CPUs of this machine split over the workers asked
    for (one worker gets them all, as a single ``analyze`` uses them). On a cluster a worker
    takes 1 CPU unless told otherwise."""
    cpus = max(1, cpus)
    if worker_cpus is None:
        worker_cpus = max(1, cpus // workers) if workers and local else 1
    if workers is None:
        workers = max(1, cpus // worker_cpus)
    return workers, worker_cpus


@contextmanager
def _ray_runtime(options: BatchOptions) -> Iterator[tuple[int, int, float]]:
    """Join the cluster at ``options.address`` or start a local runtime; yields (actors, CPUs per
    actor, seconds it took). A runtime started here is shut down on exit; one already running
    is left alone."""
    import ray
    import ray.data

    started = time.perf_counter()
    ours = False
    # Ray Data logs every dataset's plan to the console at INFO; its log file keeps them.
    for handler in logging.getLogger("ray.data").handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.WARNING)
    # Ray's metrics thread can crash idle workers as they exit (ray-project/ray#36885); the
    # batch reports its own figures, so a runtime started here collects none.
    os.environ.setdefault("RAY_enable_metrics_collection", "0")
    local = not options.address
    if ray.is_initialized():
        pass
    elif options.address:
        ray.init(address=options.address, logging_level=logging.WARNING)
        ours = True
    else:
        workers, worker_cpus = plan_workers(
            os.cpu_count() or 1, options.workers, options.worker_cpus, local=True
        )
        ray.init(
            address="local",  # a new runtime, even when another one runs on this machine
            num_cpus=workers * worker_cpus,
            num_gpus=int(options.gpus) if options.gpus else None,
            object_store_memory=options.object_store_mb * 1024 * 1024,
            include_dashboard=False,
            logging_level=logging.WARNING,
        )
        ours = True
    # Ray's core installs a SIGTERM handler that dumps native stacks and aborts (status 134):
    # a batch stopped by a service manager stops like Ctrl-C instead, results kept.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, terminate_as_interrupt)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # ours counts calls; Ray's would count blocks
        ctx.print_on_execution_start = False
        cluster_resources: Callable[[], dict[str, float]] = ray.cluster_resources
        cpus = int(cluster_resources().get("CPU", 1))
        workers, worker_cpus = plan_workers(cpus, options.workers, options.worker_cpus, local=local)
        yield workers, worker_cpus, time.perf_counter() - started
    finally:
        if ours:
            ray.shutdown()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _FailureLog:
    """``failures.csv`` of this run, written as failures happen (a killed run keeps its lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow(FAILURE_COLUMNS)

    def add(self, row: Row) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow([row["file"], row.get("call_id") or "", row["error"]])


def _oneline(exc: object) -> str:
    """One line of text for failures.csv: the engine's own messages as they are, anything
    unexpected with its type so that it can be told from a broken recording."""
    from ..media import MediaError

    text = " ".join(str(exc).split())
    if isinstance(exc, BaseException) and not isinstance(exc, MediaError | OSError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text or "unknown error"
