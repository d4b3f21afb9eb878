"""The batch on Ray Data: check every call, analyse the new ones on actors, write the tables.

Three Ray Data stages, each a distributed job:
1. check (Ray tasks): content hash, skip rule, media header. Cheap, so the whole batch is checked
   first; the driver then knows what is finished, what is broken and how much audio is left.
2. analyse (an actor pool of ``workers``): each actor holds one ``Analyzer`` (models loaded once)
   and analyses one call at a time; it writes the call's JSON exactly as ``emotrace analyze``
   does, then the call's finished record. Results stream back to the driver as they finish.
3. tables (Ray tasks, ``datasets.py``): every finished call's JSON becomes rows of the Parquet
   datasets ``segments/``, ``events/``, ``calls/`` (and ``scorecards/`` when results carry one).
   The datasets are rebuilt from all finished calls in the folder, so a resumed run ends with
   complete tables.

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
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

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
MAX_CHECK_BLOCKS = 2000  # upper bound on check tasks; a block holds several calls beyond that

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs (what it computes is ``config``)."""

    out: Path  # output folder: per-call JSON, Parquet datasets, failures.csv
    config: AnalysisConfig = field(default_factory=AnalysisConfig)
    address: str | None = None  # "auto" or "ray://host:port" joins a cluster; None: local Ray
    workers: int | None = None  # analysis actors; None: as many as the CPUs allow
    worker_cpus: int = 1  # CPUs (and engine threads) per analysis actor
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
    stages: dict[str, float] = field(default_factory=dict)  # ray start, check, analyse, tables
    engine_s: dict[str, float] = field(default_factory=dict)  # engine stages summed over calls
    worker_peak_mb: list[float] = field(default_factory=list)  # peak RSS of each analysis actor
    workers: int = 0  # size of the actor pool
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


# ---- stage 1: check ----------------------------------------------------------------------
def check_call(row: Row) -> Row:
    """Ray task: hash the call, apply the skip rule, read the media header."""
    from ..hashing import content_hash
    from ..media import MediaError, probe_media

    row = dict(row)
    try:
        row["call_id"] = content_hash(row["path"])
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
    return row | {"status": "todo", "duration_s": float(info.duration_s or 0.0)}


# ---- stage 2: analyse --------------------------------------------------------------------
class AnalyzeCalls:
    """Ray actor: one Analyzer (models loaded once), one call per ``__call__``."""

    def __init__(
        self, config: AnalysisConfig, out: str, use_gpu: bool, extra_outputs: tuple[str, ...]
    ) -> None:
        from ..pipeline import Analyzer

        self.out = out
        self.extra_outputs = extra_outputs
        self.analyzer = Analyzer(config)
        self.device = "cpu"
        if use_gpu:
            self.device = _move_to_gpu(self.analyzer)

    def __call__(self, row: Row) -> Row:
        started = time.perf_counter()
        config = call_config(self.analyzer.config, row["channels"], row["transcript"])
        try:
            result = self.analyzer.analyze(row["path"], config=config)
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
                "device": self.device,
            }
        )


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

    ``on_result`` is called with each call's row as it finishes (status ``done`` or ``failed``).
    Raises BatchInputError / ModelError for problems with the inputs or the models (usage
    errors); a call that cannot be analysed is a failure row, never an exception.
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
    with _only_batch_in(out), _ray_runtime(options) as (workers, ray_start_s):
        failures = _FailureLog(out / FAILURES_CSV)
        summary.workers = workers
        summary.stages["ray start"] = ray_start_s
        config = options.config.replace(ser_threads=options.worker_cpus)
        started = time.perf_counter()
        if options.progress:
            print(f"checking {len(calls)} calls (content hash, finished results)", file=sys.stderr)
        rows = _check(calls, config, checksums, out)
        summary.stages["check"] = time.perf_counter() - started
        todo = [r for r in rows if r["status"] == "todo"]
        summary.skipped = sum(r["status"] == "skipped" for r in rows)
        for r in rows:
            if r["status"] == "failed":
                summary.failed += 1
                failures.add(r)
        started = time.perf_counter()
        peaks: dict[int, float] = {}
        nodes: set[str] = set()
        for row in _analyse(todo, config, options, workers, out):
            if row["status"] == "done":
                summary.analysed += 1
                summary.audio_s += row["duration_s"]
                for step, s in json.loads(row["timings"]).items():
                    summary.engine_s[step] = summary.engine_s.get(step, 0.0) + s
            else:
                summary.failed += 1
                failures.add(row)
            peaks[row["worker"]] = max(peaks.get(row["worker"], 0.0), row["peak_rss_mb"])
            nodes.add(row["node"])
            if on_result is not None:
                on_result(row)
        summary.worker_peak_mb = sorted(peaks.values())
        summary.nodes = len(nodes)
        summary.stages["analyse"] = time.perf_counter() - started
        started = time.perf_counter()
        finished = [_finished_meta(out, c) for c in calls]
        write_tables(out, [m for m in finished if m is not None])
        summary.stages["tables"] = time.perf_counter() - started
    summary.wall_s = time.perf_counter() - clock
    return summary


def _check(
    calls: list[CallInput],
    config: AnalysisConfig,
    checksums: dict[str, str | None],
    out: Path,
) -> list[Row]:
    import ray

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
    blocks = min(len(items), MAX_CHECK_BLOCKS)
    ds = ray.data.from_items(items, override_num_blocks=blocks).map(check_call)
    checked = {r["stem"]: r for r in ds.take_all()}
    return [checked[c.stem] for c in calls]  # in input order


def _analyse(
    todo: list[Row], config: AnalysisConfig, options: BatchOptions, workers: int, out: Path
) -> Iterator[Row]:
    """Yield each call's row as its actor finishes it, with a live progress bar."""
    if not todo:
        return
    import ray
    from tqdm import tqdm

    use_gpu = options.gpus > 0
    actors = max(1, min(workers, len(todo)))
    ds = ray.data.from_items(todo, override_num_blocks=len(todo)).map(
        cast(Any, AnalyzeCalls),  # Ray's hints take a function; a class is its actor form
        fn_constructor_kwargs={
            "config": config,
            "out": str(out),
            "use_gpu": use_gpu,
            "extra_outputs": options.extra_outputs,
        },
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=options.worker_cpus,
        num_gpus=options.gpus / actors if use_gpu else None,
    )
    audio_total = sum(r["duration_s"] for r in todo)
    bar = tqdm(
        total=len(todo),
        unit="call",
        desc="batch",
        file=sys.stderr,
        disable=not options.progress,
        dynamic_ncols=True,
    )
    done_audio, failed = 0.0, 0
    try:
        for row in ds.iter_rows():
            if row["status"] == "done":
                done_audio += row["duration_s"]
            else:
                failed += 1
            bar.update(1)
            bar.set_postfix_str(
                f"{done_audio / 3600:.2f}/{audio_total / 3600:.2f} h audio, {failed} failed"
            )
            yield row
    finally:
        bar.close()


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


@contextmanager
def _ray_runtime(options: BatchOptions) -> Iterator[tuple[int, float]]:
    """Join the cluster at ``options.address`` or start a local runtime; yields (actors, seconds
    it took). A runtime started here is shut down on exit; one already running is left alone."""
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
    if ray.is_initialized():
        pass
    elif options.address:
        ray.init(address=options.address, logging_level=logging.WARNING)
        ours = True
    else:
        wanted = options.workers or max(1, (os.cpu_count() or 1) // options.worker_cpus)
        ray.init(
            address="local",  # a new runtime, even when another one runs on this machine
            num_cpus=wanted * options.worker_cpus,
            num_gpus=int(options.gpus) if options.gpus else None,
            object_store_memory=options.object_store_mb * 1024 * 1024,
            include_dashboard=False,
            logging_level=logging.WARNING,
        )
        ours = True
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # ours counts calls; Ray's would count blocks
        ctx.print_on_execution_start = False
        cluster_resources: Callable[[], dict[str, float]] = ray.cluster_resources
        cpus = int(cluster_resources().get("CPU", 1))
        workers = options.workers or max(1, cpus // options.worker_cpus)
        yield workers, time.perf_counter() - started
    finally:
        if ours:
            ray.shutdown()


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
