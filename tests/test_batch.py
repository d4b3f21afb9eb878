"""emotrace batch: input discovery, tables, the resume rule, and whole runs on a local Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from analyzer.batch import BatchInputError, discover, resume, tables
from analyzer.config import AnalysisConfig
from analyzer.hashing import content_hash
from analyzer.models import DEFAULT_MODELS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "sample_call.wav"


def _clip(path: Path, start_s: float, length_s: float) -> Path:
    """A piece of the bundled stereo call (real speech on both channels)."""
    audio, sr = sf.read(SAMPLE, dtype="int16")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio[int(start_s * sr) : int((start_s + length_s) * sr)], sr)
    return path


def _broken(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVE" + bytes(range(200)))
    return path


# ---- discovery -----------------------------------------------------------------------------
def test_discovery_walks_folders_and_reads_manifests(tmp_path):
    rec = tmp_path / "rec"
    for name in ("b.wav", "sub/a.mp3", "sub/deeper/c.MP4", "notes.txt", ".hidden.wav"):
        (rec / name).parent.mkdir(parents=True, exist_ok=True)
        (rec / name).write_bytes(b"x")
    (rec / ".cache" / "x.wav").parent.mkdir()
    (rec / ".cache" / "x.wav").write_bytes(b"x")
    (rec / "out" / "old.wav").parent.mkdir()  # the output folder inside the input is not walked
    (rec / "out" / "old.wav").write_bytes(b"x")
    manifest = tmp_path / "list.csv"
    manifest.write_text(
        "path,agent,channels,transcript\n"
        'rec/b.wav,ann,"customer,agent",b.srt\n'
        f"{tmp_path / 'missing.wav'},,,\n"
    )
    calls = discover([rec, manifest, tmp_path / "single.wav"], exclude=rec / "out")
    assert [c.file for c in calls] == [
        "b.wav",
        "sub/a.mp3",
        "sub/deeper/c.MP4",
        "rec/b.wav",
        str(tmp_path / "missing.wav"),
        str(tmp_path / "single.wav"),
    ]
    # A manifest's calls mirror relative to the manifest's folder; a missing file stays a call
    # (it fails in the batch, where failures.csv records it).
    assert [c.stem for c in calls] == [
        "b.wav", "sub/a.mp3", "sub/deeper/c.MP4", "rec/b.wav", "missing.wav", "single.wav",
    ]  # fmt: skip
    row = calls[3]
    assert (row.agent, row.channels) == ("ann", ("customer", "agent"))
    assert row.transcript == str(tmp_path / "b.srt")
    assert row.path == str(tmp_path / "rec" / "b.wav")


def test_bad_manifests_and_empty_inputs_are_usage_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,agent\nx.wav,ann\n")
    with pytest.raises(BatchInputError, match="'path' column"):
        discover([bad])
    bad.write_text("path,colour\nx.wav,red\n")
    with pytest.raises(BatchInputError, match="unknown column"):
        discover([bad])
    bad.write_text('path,channels\nx.wav,"a,a"\n')
    with pytest.raises(BatchInputError, match="distinct"):
        discover([bad])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchInputError, match="no media files"):
        discover([tmp_path / "empty"])


# ---- tables --------------------------------------------------------------------------------
def _doc(with_face: bool, scorecard: bool) -> dict:
    modalities = {"voice": {"confidence": 0.5, "probs": {"angry": 0.9}}}
    if with_face:
        modalities["face"] = {"confidence": 0.2, "cues": {"smile": 0.1}}
    doc = {
        "schema_version": "1.0",
        "media": {"duration_s": 12.0, "channels": 2, "has_video": with_face, "container": "wav"},
        "speakers": [{"id": "agent", "role": "agent"}, {"id": "customer", "role": "customer"}],
        "segments": [
            {
                "kind": "turn",
                "start": 0.0,
                "end": 2.0,
                "speaker": "agent",
                "emotion": "angry",
                "probs": {"angry": 0.9, "neutral": 0.1},
                "arousal": 0.7,
                "valence": -0.6,
                "confidence": 0.5,
                "overlap": False,
                "speech": True,
                "modalities": modalities,
            },
            {
                "kind": "window",
                "start": 0.0,
                "end": 3.0,
                "speaker": "customer",
                "emotion": None,
                "probs": {},
                "arousal": None,
                "valence": None,
                "confidence": 0.0,
                "speech": False,
            },
        ],  # fmt: skip
        "events": [{"kind": "long_silence", "start": 3.0, "end": 9.0, "speaker": None}],
    }
    if scorecard:
        doc["scorecard"] = {
            "customer": {
                "customer_recovery": {"value": "recovered", "unit": "", "evidence": [[1, 2]]},
                "talk_share": {"value": 0.4, "unit": "share", "explanation": {"code": "x"}},
            }
        }
    return doc


def test_tables_have_one_schema_whatever_the_call_had():
    meta = {"call_id": "c1", "file": "a.wav", "result": "a.wav.json"}
    plain = tables.to_arrow("segments", tables.rows("segments", _doc(False, False), meta))
    video = tables.to_arrow("segments", tables.rows("segments", _doc(True, False), meta))
    assert plain.schema == video.schema
    assert plain.column("call_id").to_pylist() == ["c1", "c1"]
    assert plain.column("role").to_pylist() == ["agent", "customer"]
    assert plain.column("p_angry").to_pylist() == [0.9, None]
    assert json.loads(video.column("modalities")[0].as_py())["face"]["cues"] == {"smile": 0.1}
    calls = tables.rows("calls", _doc(False, False), meta)
    assert calls[0]["negative_share"] == 1.0 and calls[0]["n_segments"] == 2
    assert tables.rows("scorecards", _doc(False, False), meta) == []
    cards = tables.to_arrow("scorecards", tables.rows("scorecards", _doc(False, True), meta))
    by_metric = {r["metric"]: r for r in cards.to_pylist()}
    assert by_metric["customer_recovery"]["value_text"] == "recovered"
    assert by_metric["customer_recovery"]["value"] is None
    assert by_metric["talk_share"]["value"] == 0.4
    assert tables.to_arrow("events", []).num_rows == 0


# ---- resume rule ---------------------------------------------------------------------------
def test_finished_record_needs_same_content_settings_and_an_intact_result(tmp_path):
    out = tmp_path / "out"
    result = out / "sub" / "a.wav.json"
    result.parent.mkdir(parents=True)
    result.write_text('{"schema_version": "1.0"}')
    config = AnalysisConfig(ser_model=None, fer_model=None)
    sums = resume.model_checksums(config)
    fp = resume.fingerprint(config, sums)
    assert not resume.is_finished(out, "sub/a.wav", "hash1", fp)  # no record yet
    resume.write_record(out, "sub/a.wav", call_id="hash1", fp=fp, file="sub/a.wav")
    assert resume.is_finished(out, "sub/a.wav", "hash1", fp)
    assert not resume.is_finished(out, "sub/a.wav", "hash2", fp)  # the recording changed
    other = resume.fingerprint(config.replace(fps=2.0), sums)
    assert not resume.is_finished(out, "sub/a.wav", "hash1", other)  # the settings changed
    # Thread counts change speed, not results: they keep the fingerprint.
    assert resume.fingerprint(config.replace(ser_threads=1), sums) == fp
    result.write_text('{"schema_version": "1.0", "edited": true}')
    assert not resume.is_finished(out, "sub/a.wav", "hash1", fp)  # the result was damaged


def test_model_checksums_follow_the_model_files():
    sums = resume.model_checksums(AnalysisConfig())
    for kind, name in (
        ("ser", DEFAULT_MODELS["ser"]),
        ("fer", DEFAULT_MODELS["fer"]),
        ("speaker", "speaker-ge2e-wccn"),
        ("speaker_count", "speaker-count-logreg"),
    ):
        listing = ROOT / "models" / name / "SHA256SUMS"
        if listing.is_file():
            assert sums[kind] == content_hash(listing)
    without = resume.model_checksums(AnalysisConfig(ser_model=None, fer_model=None))
    assert without["ser"] is None and without["fer"] is None
    assert without["speaker"] == sums["speaker"]  # the speaker space is not an option


# ---- whole runs on Ray ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install emotrace[cluster]")
    os.environ.setdefault("RAY_enable_metrics_collection", "0")
    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local", num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024**2
        )
    yield ray
    if started:
        ray.shutdown()


def _mtimes(out: Path) -> dict[str, int]:
    return {
        str(p.relative_to(out)): p.stat().st_mtime_ns
        for p in out.rglob("*.json")
        if "staging" not in p.parts
    }


@pytest.mark.slow
def test_batch_writes_results_failures_and_datasets_then_skips_finished_calls(local_ray, tmp_path):
    import pandas as pd

    from analyzer.batch import BatchOptions, run_batch

    rec = tmp_path / "rec"
    inputs = {
        "a.wav": _clip(rec / "a.wav", 0, 5),
        "sub/b.wav": _clip(rec / "sub" / "b.wav", 20, 5),
        "c.v1.wav": _clip(rec / "c.v1.wav", 40, 5),
    }
    _broken(rec / "sub" / "broken.wav")
    loose = _clip(tmp_path / "loose" / "a.wav", 10, 5)  # same name as rec/a.wav
    out = tmp_path / "out"
    options = BatchOptions(out=out, workers=2, progress=False)
    seen = []
    summary = run_batch([rec, loose], options, on_result=seen.append)

    assert (summary.total, summary.analysed, summary.failed, summary.skipped) == (5, 4, 1, 0)
    assert summary.audio_s == pytest.approx(20.0, abs=0.1)
    # broken.wav fails at the check (no analysis, no actor stats); the others are analysed.
    assert sorted((r["file"], r["status"]) for r in seen) == sorted(
        [(f, "done") for f in ("a.wav", "sub/b.wav", "c.v1.wav", str(loose))]
        + [("sub/broken.wav", "failed")]
    )
    assert [r for r in seen if r["status"] == "failed" and "worker" in r] == []
    for stem in ("a.wav", "sub/b.wav", "c.v1.wav", "a.wav~2"):
        doc = json.loads((out / f"{stem}.json").read_text())
        assert doc["media"]["duration_s"] == pytest.approx(5.0, abs=0.01)
    failures = pd.read_csv(out / "failures.csv")
    assert list(failures.columns) == ["file", "call_id", "error"]
    assert failures["file"].tolist() == ["sub/broken.wav"]
    assert failures["call_id"][0] == content_hash(rec / "sub" / "broken.wav")
    assert "broken.wav" in failures["error"][0]

    hashes = {content_hash(p) for p in [*inputs.values(), loose]}
    files = {"a.wav", "sub/b.wav", "c.v1.wav", str(loose)}
    calls = pd.read_parquet(out / "calls")
    assert set(calls["call_id"]) == hashes and set(calls["file"]) == files
    segments = pd.read_parquet(out / "segments")
    assert set(segments["kind"]) == {"turn", "window"}
    assert set(segments["call_id"]) == hashes and set(segments["file"]) == files
    n_segments = sum(
        len(json.loads((out / f"{s}.json").read_text())["segments"])
        for s in ("a.wav", "sub/b.wav", "c.v1.wav", "a.wav~2")
    )
    assert len(segments) == n_segments
    events = pd.read_parquet(out / "events")
    assert {"call_id", "file", "kind", "start", "end"} <= set(events.columns)
    # Every result now carries a scorecard: one row per call, speaker and metric.
    scorecards = pd.read_parquet(out / "scorecards")
    assert set(scorecards["call_id"]) <= hashes and set(scorecards["file"]) <= files
    n_metrics = sum(
        len(metrics)
        for s in ("a.wav", "sub/b.wav", "c.v1.wav", "a.wav~2")
        for metrics in json.loads((out / f"{s}.json").read_text())["scorecard"].values()
    )
    assert len(scorecards) == n_metrics

    # The same JSON as `analyze` writes (timings and the thread count aside).
    from analyzer import Analyzer

    direct = Analyzer().analyze(rec / "a.wav").to_dict()
    batch = json.loads((out / "a.wav.json").read_text())
    for doc in (direct, batch):
        doc.pop("timings")
        doc["config"].pop("ser_threads")
    assert [s["emotion"] for s in batch["segments"]] == [s["emotion"] for s in direct["segments"]]
    assert batch["turns"] == direct["turns"] and batch["speakers"] == direct["speakers"]
    got = [p for s in batch["segments"] for p in s["probs"].values()]
    want = [p for s in direct["segments"] for p in s["probs"].values()]
    np.testing.assert_allclose(got, want, atol=1e-4)

    # Second run: nothing is analysed again; the broken file is tried (and fails) again.
    before = _mtimes(out)
    again = run_batch([rec, loose], options)
    assert (again.analysed, again.skipped, again.failed) == (0, 4, 1)
    assert again.worker_peak_mb == []  # no analysis actor ran a call
    assert _mtimes(out) == before
    assert set(pd.read_parquet(out / "calls")["call_id"]) == hashes


def _synthetic_call(path: Path, seed: int, seconds: float = 1.5, sr: int = 8000) -> Path:
    """A short stereo call of its own: a voiced-like tone burst on each channel in faint noise
    (seeded, so every call has its own bytes and content hash)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 110 + 5 * seed
    burst = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32)
    left = 0.3 * burst * np.sin(2 * np.pi * f0 * t)
    right = 0.2 * (1 - burst) * np.sin(2 * np.pi * 1.5 * f0 * t)
    audio = np.stack([left, right], axis=1) + rng.normal(0, 0.005, (len(t), 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.astype(np.float32), sr, subtype="PCM_16")
    return path


def _start_batch(rec: Path, out: Path, *, calls: int, workers: int, stderr: int):
    """``python -m analyzer.batch batch`` over ``calls`` synthetic calls written to ``rec``,
    started in a process group of its own (the driver and the Ray it starts); stderr as text
    when piped."""
    for i in range(calls):
        _synthetic_call(rec / f"call{i:02d}.wav", seed=i)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    env["RAY_enable_metrics_collection"] = "0"
    cmd = [sys.executable, "-m", "analyzer.batch", "batch", str(rec), "--out", str(out)]
    return subprocess.Popen(
        [*cmd, "--workers", str(workers), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow
def test_a_terminated_batch_stops_like_an_interrupt(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install emotrace[cluster]")
    rec, out = tmp_path / "rec", tmp_path / "out"
    proc = _start_batch(rec, out, calls=40, workers=1, stderr=subprocess.PIPE)
    records = out / resume.STATE_DIR / "done"
    try:  # a service manager's stop: SIGTERM to the driver once a few calls are finished
        deadline = time.monotonic() + 600
        while len(list(records.glob("*.done.json"))) < 3:
            assert proc.poll() is None, "the batch ended before it could be stopped"
            assert time.monotonic() < deadline, "too few calls finished in time"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 143, err[-2000:]
    assert err.strip().splitlines()[-1] == "emotrace: terminated"
    assert "SIGTERM received" not in err  # not Ray's native stack dump
    for record in records.glob("*.done.json"):  # what finished is whole
        stem = record.name.removesuffix(".done.json")
        json.loads((out / f"{stem}.json").read_text())


@pytest.mark.slow
def test_killed_batch_resumes_without_recomputing_finished_calls(local_ray, tmp_path):
    from analyzer.batch import BatchOptions, run_batch

    n = 50
    rec, out = tmp_path / "rec", tmp_path / "out"
    proc = _start_batch(rec, out, calls=n, workers=2, stderr=subprocess.DEVNULL)
    records = out / resume.STATE_DIR / "done"
    try:  # kill it (SIGKILL: no clean-up of any kind) once a few calls are finished
        deadline = time.monotonic() + 600
        while len(list(records.glob("*.done.json"))) < 5:
            assert proc.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "too few calls finished in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # Ray's worker processes live in their own process groups: one may still finish the call in
    # hand and write its record before it notices its driver is gone. Wait until the records
    # stop changing (5 s), so "finished" is what the resumed run finds.
    finished: set[str] = set()
    quiet_since, deadline = time.monotonic(), time.monotonic() + 120
    while time.monotonic() - quiet_since < 5.0 and time.monotonic() < deadline:
        now = {p.name.removesuffix(".done.json") for p in records.glob("*.done.json")}
        if now != finished:
            finished, quiet_since = now, time.monotonic()
        time.sleep(0.2)
    assert 5 <= len(finished) < n, "the kill came too late to test a resume"
    before = {s: (out / f"{s}.json").stat().st_mtime_ns for s in finished}
    marks = {s: resume.record_path(out, s).stat().st_mtime_ns for s in finished}
    assert not (out / "calls").exists()  # killed before its tables

    seen: list[dict] = []
    summary = run_batch(
        [rec], BatchOptions(out=out, workers=2, progress=False), on_result=seen.append
    )
    assert summary.skipped == len(finished)
    assert summary.analysed == n - len(finished) and summary.failed == 0
    # No finished call was analysed again: each analysed call is one the killed run left
    # unfinished, its result and its record untouched.
    analysed = {r["stem"] for r in seen if r["status"] == "done"}
    assert len(analysed) == summary.analysed and not analysed & finished
    assert {r["stem"] for r in seen if r["status"] == "skipped"} == finished
    assert {s: (out / f"{s}.json").stat().st_mtime_ns for s in finished} == before
    assert {s: resume.record_path(out, s).stat().st_mtime_ns for s in finished} == marks
    assert len(list(records.glob("*.done.json"))) == n
    import pandas as pd

    calls = pd.read_parquet(out / "calls")
    assert len(calls) == n and set(calls["call_id"]) == {
        content_hash(rec / f"call{i:02d}.wav") for i in range(n)
    }


def test_importing_the_engine_or_the_batch_package_does_not_load_ray():
    code = (
        "import sys, analyzer, analyzer.batch, analyzer.batch.cli, analyzer.batch.runner; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_manifest_columns_become_the_call_config_and_its_fingerprint():
    from analyzer.batch.runner import call_config

    base = AnalysisConfig(ser_model=None, fer_model=None)
    assert call_config(base, "", "") is base
    own = call_config(base, "customer,agent", "/calls/a.srt")
    assert own.channels == ("customer", "agent") and own.transcript == "/calls/a.srt"
    sums = {"ser": None, "fer": None}
    assert resume.fingerprint(own, sums) != resume.fingerprint(base, sums)


def test_workers_share_out_this_machine_and_take_one_cpu_on_a_cluster():
    from analyzer.batch.runner import plan_workers

    assert plan_workers(2, None, None, local=True) == (2, 1)  # one worker per CPU
    assert plan_workers(2, 1, None, local=True) == (1, 2)  # one worker: every CPU, as analyze
    assert plan_workers(8, 3, None, local=True) == (3, 2)
    assert plan_workers(8, None, 4, local=True) == (2, 4)
    assert plan_workers(2, 4, None, local=True) == (4, 1)  # more workers than CPUs: 1 each
    assert plan_workers(64, None, None, local=False) == (64, 1)
    assert plan_workers(64, 8, None, local=False) == (8, 1)


def test_an_actor_holds_its_thread_pools_to_its_cpu_share():
    code = (
        "import numpy, threadpoolctl; from analyzer.batch.runner import limit_threads; "
        "h = limit_threads(1); import os; "
        "print(os.environ['OMP_NUM_THREADS'], "
        "{p['num_threads'] for p in threadpoolctl.threadpool_info()})"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(maxsplit=1) == ["1", "{1}\n"]


def test_calls_go_to_the_workers_biggest_file_first(tmp_path):
    from analyzer.batch.runner import longest_first

    rows = []
    for name, seconds in (("short", 1), ("long", 9), ("mid", 4)):
        path = _clip(tmp_path / f"{name}.wav", 0, seconds)
        rows.append({"path": str(path), "file": name})
    rows.append({"path": str(tmp_path / "gone.wav"), "file": "gone"})  # fails in its actor
    assert [r["file"] for r in longest_first(rows)] == ["long", "mid", "short", "gone"]


@pytest.mark.slow
def test_a_worker_that_dies_fails_its_call_only_and_is_replaced(local_ray):
    from analyzer.batch.runner import ActorPool

    class Worker:  # defined here: Ray ships it to the actors by value
        def __call__(self, row):
            if row["file"] == "crash":
                os._exit(3)  # as a crash in native code would: no exception, no clean-up
            return row | {"status": "done", "worker": os.getpid()}

    files = ["a", "crash", "b", "c", "d"]
    pool = ActorPool(Worker, (), size=2, cpus=1)
    rows = list(pool.run([{"file": f} for f in files]))

    assert sorted(r["file"] for r in rows) == sorted(files)  # every call comes back once
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["file"] for r in failed] == ["crash"]
    assert "worker died" in failed[0]["error"] and "\n" not in failed[0]["error"]
    assert {r["status"] for r in rows if r["file"] != "crash"} == {"done"}


def test_an_analysis_worker_keeps_freed_memory_for_its_next_arrays():
    """``keep_freed_memory`` (each analysis actor calls it): arrays of a few MB allocated and
    freed again and again, as the engine's stages do, come back without fresh page faults."""
    code = """
import resource, sys
import numpy as np
from analyzer.batch.runner import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def churn():
    arrays = [np.empty(6 << 17) for _ in range(6)]  # 6 x 6 MB, every page written
    for a in arrays:
        a.fill(1.0)
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    faults = {}
    for mode in ("keep", "default"):
        run = subprocess.run(
            [sys.executable, "-c", code, mode], capture_output=True, text=True, check=True
        )
        faults[mode] = int(run.stdout.split()[-1])
    pages = 3 * 36 * 2**20 // 4096  # what three rounds of fresh memory would fault in
    assert faults["keep"] < pages // 20
    assert faults["default"] > faults["keep"]
