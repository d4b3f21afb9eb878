"""Synthetic stereo customer-service calls with known truth, for the coaching benchmark.

Voices are the speakers held out of every model measured with them (shared/CONTRACTS.md):
RAVDESS actors 17-20 and EmoDB speaker 11, from ``shared/data/speech``. Each call has the agent
on one channel and the customer on the other (which one is drawn), and knows:

* the opening: the agent's greeting first, or the customer's short "hello?" first;
* the customer's arc: neutral, then angry for three turns, then calm again (``recovers``) or
  still angry at the end;
* the agent's cut-ins on the customer (``k_agent``) and the customer's on the agent
  (``k_customer``): the cut-in starts inside the other's voiced speech, overlaps it by 0.7-1.0 s,
  and the interrupted side stops there;
* quiet backchannels: 0.5-0.7 s of the agent's voice, 20 dB below the customer's speech level,
  in the middle of the customer's speech;
* line bleed on both channels: the other channel 25 dB down and 20 ms late (``Line``: other
  levels, delays and a filter on the bleed path can be chosen, to check that nothing is tuned to
  one line); a third of the calls go through a telephone line (8 kHz, 300-3400 Hz, mu-law) on
  both the channels and the bleed path.

``build_pair`` makes a calm and a mirroring version of one call: they share the voices, the
customer's turns (clips, times) and every cut-in; only the agent's clips while the customer is
angry differ (neutral for the calm agent, angry for the mirroring one), each placed in a slot
long enough for both, so every time in the two calls matches.

Reference speech of a channel: the analyzer's own voice activity settings run on that channel
alone (before bleed is added), as ``benchmarks/simcalls.py`` does for clips.
"""

from __future__ import annotations

import csv
import pickle
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from analyzer.segment import Segment

SR = 16000
DATA = Path("/work/shared/data")
VOICES = ("ravdess_17", "ravdess_18", "ravdess_19", "ravdess_20", "emodb_11")
SPEECH_DBFS = -26.0  # speech level of each party, +-2 dB per call (shouts peak near 0 dBFS)
ANGRY_GAIN_DB = 6.0  # angry clips are levelled this much above calm ones
PEAK_MAX = 0.9  # a party whose shouts would clip is turned down (no clipping in the truth)
NOISE_DBFS = -65.0  # line noise on each channel
BLEED_DB = -25.0  # bleed level relative to the other channel
BLEED_DELAY_S = 0.02
BACKCHANNEL_DB = -20.0  # backchannel level relative to the other party's speech
CUSTOMER_ARC = ("neutral", "neutral", "angry", "angry", "angry", "neutral", "neutral")
NOT_RECOVERED_ARC = ("neutral", "neutral", "angry", "angry", "angry", "angry", "angry")
CLIP_PAUSE_S = (0.1, 0.2)  # pause between clips inside a turn (bridged by the VAD)
TURN_GAP_S = (0.5, 1.2)  # gap between turns (the reply latency)


@dataclass(frozen=True)
class Line:
    """The bleed path between the two channels: the other channel ``db`` down, ``delay_s``
    late, through ``filter``: "flat" (a pure gain), "lowpass" (a one-pole low-pass at
    LOWPASS_HZ, a handset's acoustic path) or "echo" (a second reflection ECHO_S later,
    ECHO_DB below the first, a short multipath)."""

    db: float = BLEED_DB
    delay_s: float = BLEED_DELAY_S
    filter: str = "flat"


LINE_FILTERS = ("flat", "lowpass", "echo")
LOWPASS_HZ = 1500.0
ECHO_S = 0.008
ECHO_DB = -6.0


@dataclass(frozen=True)
class CallSpec:
    seed: int
    agent_voice: str
    customer_voice: str
    agent_first: bool
    agent_channel: int  # 0 or 1
    k_agent: int  # agent cut-ins on the customer
    k_customer: int  # customer cut-ins on the agent
    recovers: bool
    telephone: bool
    backchannels: int = 2


@dataclass
class Call:
    spec: CallSpec
    mood: str  # "calm" | "mirroring"
    audio: np.ndarray  # float32 [2, samples]
    clean: np.ndarray  # float32 [2, samples]: each channel alone (no bleed)
    k_agent: int  # cut-ins actually placed
    k_customer: int
    backchannels: list[Segment]
    customer_turns: list[tuple[Segment, str]]  # (span, emotion)
    agent_turns: list[tuple[Segment, str]]
    extras: dict = field(default_factory=dict)

    @property
    def channel_of(self) -> dict[str, int]:
        a = self.spec.agent_channel
        return {"agent": a, "customer": 1 - a}


# ---- clips ----------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _vad():
    from analyzer.audio.vad import VoiceActivityDetector

    return VoiceActivityDetector()


CACHE = Path(tempfile.gettempdir()) / "emotrace_coaching" / "voice_clips.pkl"


@lru_cache(maxsize=1)
def voice_clips() -> dict[str, dict[str, list[tuple[np.ndarray, tuple[Segment, ...]]]]]:
    """Per held-out voice and label: clips cut to their voice, with their voiced intervals
    (cached on disk under the temporary folder: the VAD pass is slow on a busy machine)."""
    if CACHE.is_file():
        with open(CACHE, "rb") as fh:
            return pickle.load(fh)
    from analyzer.audio.vad import speech_segments

    with open(DATA / "speech" / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["speaker"] in VOICES]
    out: dict[str, dict[str, list]] = {v: {} for v in VOICES}
    for r in rows:
        if r["label"] not in ("neutral", "angry"):
            continue
        wav = sf.read(DATA / r["path"], dtype="float32")[0]
        speech = speech_segments(_vad().probabilities(wav), pad_s=0.0, duration_s=len(wav) / SR)
        if not speech:
            continue
        a, b = int(speech[0].start * SR), int(np.ceil(speech[-1].end * SR))
        voiced = tuple(Segment(s.start - a / SR, s.end - a / SR) for s in speech)
        out[r["speaker"]].setdefault(r["label"], []).append((wav[a:b].copy(), voiced))
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with open(CACHE, "wb") as fh:
        pickle.dump(out, fh)
    return out


def _level(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(wave.astype(np.float64) ** 2)) + 1e-12)


def _scaled(wave: np.ndarray, dbfs: float) -> np.ndarray:
    return (wave / _level(wave) * 10 ** (dbfs / 20)).astype(np.float32)


# ---- calls ----------------------------------------------------------------------------------
def specs(n_pairs: int, seed: int = 0) -> list[CallSpec]:
    """Pair specifications: openings alternate (half agent-first, half customer-first), agent
    channel, voices, cut-in counts (0-3 by the agent, 0-1 by the customer), recovery and line
    drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_pairs):
        agent, customer = rng.choice(len(VOICES), size=2, replace=False)
        out.append(
            CallSpec(
                seed=int(rng.integers(1 << 30)),
                agent_voice=VOICES[agent],
                customer_voice=VOICES[customer],
                agent_first=i % 2 == 0,
                agent_channel=int(rng.integers(2)),
                k_agent=int(i % 4),
                k_customer=int((i // 2) % 2),
                recovers=bool((i // 4) % 2 == 0),
                telephone=bool(i % 3 == 1),
            )
        )
    return out


def build_pair(spec: CallSpec, line: Line | None = None) -> tuple[Call, Call]:
    """The calm and the mirroring version of one call (see the module docstring), with the
    bleed of ``line`` (default: ``Line()``, 25 dB down, 20 ms late, flat)."""
    line = line or Line()
    rng = np.random.default_rng(spec.seed)
    clips = voice_clips()
    agent, customer = clips[spec.agent_voice], clips[spec.customer_voice]
    # The random draws below happen in this order; keep it, every seed's call depends on it.
    turns = _layout_turns(_plan_turns(spec, agent, customer, rng), rng)
    cut_turns = _choose_cuts(spec, turns, rng)
    starts, ends = _turn_times(turns, cut_turns, rng)
    n = int((max(ends) + 1.0) * SR)
    bc_spans = _backchannel_spans(spec, turns, cut_turns, starts, rng)
    bc_waves = [_backchannel_wave(agent, span, rng) for span in bc_spans]
    levels = {
        "agent": SPEECH_DBFS + float(rng.uniform(-2, 2)),
        "customer": SPEECH_DBFS + float(rng.uniform(-2, 2)),
    }
    noise = rng.normal(size=(2, n)).astype(np.float32)
    k_agent = sum(1 for i in cut_turns if turns[i]["role"] == "agent")
    k_customer = sum(1 for i in cut_turns if turns[i]["role"] == "customer")
    calls = []
    for version, mood in enumerate(("calm", "mirroring")):
        chans, cust_turns, agent_turns = _place_turns(turns, starts, ends, version, n)
        _level_parties(chans, levels)
        _add_backchannels(chans["agent"], bc_spans, bc_waves, levels["customer"])
        clean = _clean_channels(spec, chans, noise)
        calls.append(
            Call(
                spec, mood, np.clip(_with_bleed(clean, line), -1, 1), clean, k_agent, k_customer,
                bc_spans, cust_turns, agent_turns,
            )
        )  # fmt: skip
    return calls[0], calls[1]


def _pick(rng: np.random.Generator, bank: dict, label: str, n: int) -> list:
    """n clips of ``label``, each levelled: acted anger can be 20-30 dB above acted calm,
    far more than a phone line's level control lets through; ANGRY_GAIN_DB keeps it louder."""
    idx = rng.choice(len(bank[label]), size=n, replace=n > len(bank[label]))
    gain_db = ANGRY_GAIN_DB if label == "angry" else 0.0
    return [(_scaled(bank[label][i][0], -26.0 + gain_db), bank[label][i][1]) for i in idx]


def _plan_turns(
    spec: CallSpec, agent: dict, customer: dict, rng: np.random.Generator
) -> list[tuple[str, list, list, str, str]]:
    """The turns in order: (role, clips for calm, clips for mirroring, emotion calm, emotion
    mirroring). The customer's turns and the agent's greeting are shared by both versions."""
    arc = CUSTOMER_ARC if spec.recovers else NOT_RECOVERED_ARC
    plan: list[tuple[str, list, list, str, str]] = []
    if not spec.agent_first:
        wav, voiced = _pick(rng, customer, "neutral", 1)[0]
        cut = float(min(voiced[0].end, rng.uniform(0.4, 0.9)))
        hello = (wav[: int(cut * SR)].copy(), (Segment(0.0, cut),))
        plan.append(("customer", [hello], [hello], "neutral", "neutral"))
    greeting = _pick(rng, agent, "neutral", 2)
    plan.append(("agent", greeting, greeting, "neutral", "neutral"))
    for k, mood in enumerate(arc):
        n = int(rng.integers(1, 3)) if k else 2
        cust = _pick(rng, customer, mood, n)
        plan.append(("customer", cust, cust, mood, mood))
        n_a = int(rng.integers(1, 3))
        calm = _pick(rng, agent, "neutral", n_a)
        mirror = _pick(rng, agent, "angry", n_a) if mood == "angry" else calm
        plan.append(("agent", calm, mirror, "neutral", "angry" if mood == "angry" else "neutral"))
    return plan


def _layout(
    turn_clips: list, rng: np.random.Generator
) -> tuple[float, list[tuple[float, np.ndarray, tuple]]]:
    """A turn's clips one after another with short pauses: (length, [(offset, wave, voiced)])."""
    t, placed = 0.0, []
    for j, (wav, voiced) in enumerate(turn_clips):
        if j:
            t += float(rng.uniform(*CLIP_PAUSE_S))
        placed.append((t, wav, voiced))
        t += len(wav) / SR
    return t, placed


def _layout_turns(plan: list, rng: np.random.Generator) -> list[dict]:
    """Each planned turn laid out in both versions; a turn's slot fits both."""
    turns = []
    for role, calm, mirror, e_calm, e_mirror in plan:
        len_c, place_c = _layout(calm, rng)
        len_m, place_m = _layout(mirror, rng) if mirror is not calm else (len_c, place_c)
        turns.append(
            {"role": role, "len": max(len_c, len_m), "place": (place_c, place_m),
             "emotion": (e_calm, e_mirror), "voiced": _voiced(place_c), "voiced_m":
             _voiced(place_m)}
        )  # fmt: skip
    return turns


def _choose_cuts(spec: CallSpec, turns: list[dict], rng: np.random.Generator) -> set[int]:
    """Indices of the turns that cut into the previous one: up to ``k_agent`` by the agent and
    ``k_customer`` by the customer, never two neighbours, only where a cut point exists."""
    want = {"agent": spec.k_agent, "customer": spec.k_customer}
    cut_candidates = {
        role: [i for i in range(2, len(turns)) if turns[i]["role"] == role] for role in want
    }
    cut_turns: set[int] = set()
    for role, k in want.items():
        cands = cut_candidates[role]
        order = rng.permutation(len(cands))
        for j in order:
            if sum(1 for i in cut_turns if turns[i]["role"] == role) >= k:
                break
            i = cands[j]
            if i - 1 in cut_turns or i + 1 in cut_turns:
                continue
            if _cut_point(turns[i - 1], rng, dry=True) is not None:
                cut_turns.add(i)
    return cut_turns


def _turn_times(
    turns: list[dict], cut_turns: set[int], rng: np.random.Generator
) -> tuple[list[float], list[float]]:
    """Start and end of every turn: a gap after the previous turn, or a cut-in into it (which
    ends the interrupted turn and records where in it the cut fell as its ``cut``)."""
    starts: list[float] = []
    ends: list[float] = []
    for i, turn in enumerate(turns):
        if i in cut_turns:
            prev = turns[i - 1]
            at, overlap = _cut_point(prev, rng)
            start = starts[i - 1] + at
            ends[i - 1] = start + overlap  # the interrupted side stops here
            prev["cut"] = start + overlap - starts[i - 1]
        else:
            start = (ends[-1] if ends else 0.0) + (float(rng.uniform(*TURN_GAP_S)) if ends else 0.3)
        starts.append(start)
        ends.append(start + turn["len"])
    return starts, ends


def _backchannel_spans(
    spec: CallSpec,
    turns: list[dict],
    cut_turns: set[int],
    starts: list[float],
    rng: np.random.Generator,
) -> list[Segment]:
    """Backchannels in the middle of the customer's longest uninterrupted voiced stretches."""
    bc_spans = []
    spots = []
    for i, turn in enumerate(turns):
        if turn["role"] != "customer" or i + 1 in cut_turns or "cut" in turn:
            continue
        for v in turn["voiced"]:
            if v.duration >= 1.6:
                spots.append((v.duration, starts[i] + v.start + v.duration / 2))
    spots.sort(reverse=True)
    for _, mid in spots[: spec.backchannels]:
        dur = float(rng.uniform(0.5, 0.7))
        bc_spans.append(Segment(mid - dur / 2, mid + dur / 2))
    bc_spans.sort()
    return bc_spans


def _backchannel_wave(agent: dict, span: Segment, rng: np.random.Generator) -> np.ndarray:
    """A piece of the agent's voice as long as ``span``, faded in and out."""
    wav, voiced = _pick(rng, agent, "neutral", 1)[0]
    v = max(voiced, key=lambda s: s.duration)
    a = int(v.start * SR)
    piece = wav[a : a + int(span.duration * SR)].copy()
    fade = int(0.02 * SR)
    piece[:fade] *= np.linspace(0, 1, fade)
    piece[-fade:] *= np.linspace(1, 0, fade)
    return piece


def _place_turns(
    turns: list[dict], starts: list[float], ends: list[float], version: int, n: int
) -> tuple[dict[str, np.ndarray], list, list]:
    """One version's clips on each party's track (an interrupted turn stops, faded, at its
    cut), with the customer's and the agent's turns as (span, emotion)."""
    chans = {"agent": np.zeros(n, np.float32), "customer": np.zeros(n, np.float32)}
    cust_turns, agent_turns = [], []
    for i, turn in enumerate(turns):
        place = turn["place"][version]
        buf = chans[turn["role"]]
        keep_s = turn.get("cut", turn["len"] + 1.0)
        for off, wav, _ in place:
            a = int((starts[i] + off) * SR)
            piece = wav[: max(0, min(len(wav), int((keep_s - off) * SR)))].copy()
            if len(piece) < len(wav) and len(piece) > 0:
                fade = min(len(piece), int(0.03 * SR))
                piece[-fade:] *= np.linspace(1, 0, fade)
            buf[a : a + len(piece)] += piece[: n - a]
        span = Segment(starts[i], min(ends[i], starts[i] + turn["len"]))
        (cust_turns if turn["role"] == "customer" else agent_turns).append(
            (span, turn["emotion"][version])
        )
    return chans, cust_turns, agent_turns


def _level_parties(chans: dict[str, np.ndarray], levels: dict[str, float]) -> None:
    """Level each party by its speech (not its silences), turned down where it would clip."""
    for role in chans:
        voiced = chans[role][np.abs(chans[role]) > 1e-4]
        gain = 10 ** (levels[role] / 20) / _level(voiced)
        gain = min(gain, PEAK_MAX / max(1e-9, float(np.abs(chans[role]).max())))
        chans[role] *= gain


def _add_backchannels(
    agent_track: np.ndarray, spans: list[Segment], waves: list[np.ndarray], customer_dbfs: float
) -> None:
    """The backchannels on the agent's track, BACKCHANNEL_DB below the customer's speech."""
    n = len(agent_track)
    cust_level = 10 ** (customer_dbfs / 20)
    for span, piece in zip(spans, waves):
        a = int(span.start * SR)
        p = piece / _level(piece) * cust_level * 10 ** (BACKCHANNEL_DB / 20)
        agent_track[a : a + len(p)] += p[: n - a]


def _clean_channels(spec: CallSpec, chans: dict[str, np.ndarray], noise: np.ndarray) -> np.ndarray:
    """The two channels without bleed: each party on its channel, line noise, and the
    telephone line when the call has one."""
    n = noise.shape[1]
    clean = np.zeros((2, n), np.float32)
    clean[spec.agent_channel] = chans["agent"]
    clean[1 - spec.agent_channel] = chans["customer"]
    clean += noise * 10 ** (NOISE_DBFS / 20)
    if spec.telephone:
        from analyzer.audio.augment import telephone_channel

        clean = np.stack([telephone_channel(ch) for ch in clean])
    return clean


def _with_bleed(clean: np.ndarray, line: Line) -> np.ndarray:
    """Each channel plus the other one through ``line``."""
    from scipy.signal import lfilter

    n = clean.shape[1]
    d = int(round(line.delay_s * SR))
    g = 10 ** (line.db / 20)
    audio = clean.copy()
    for c in (0, 1):
        path = clean[1 - c]
        if line.filter == "lowpass":
            pole = np.exp(-2 * np.pi * LOWPASS_HZ / SR)
            path = lfilter([1 - pole], [1, -pole], path)
        elif line.filter == "echo":
            e = int(round(ECHO_S * SR))
            path = path + np.concatenate([np.zeros(e), path[: n - e]]) * 10 ** (ECHO_DB / 20)
        elif line.filter != "flat":
            raise ValueError(f"unknown line filter {line.filter!r} (one of {LINE_FILTERS})")
        leak = np.zeros(n, np.float32)
        leak[d:] = path[: n - d] * g
        audio[c] += leak
    return audio


def _voiced(place: list) -> list[Segment]:
    return [Segment(off + v.start, off + v.end) for off, _, voiced in place for v in voiced]


def _cut_point(turn: dict, rng: np.random.Generator, *, dry: bool = False):
    """Where in ``turn`` (seconds from its start) a cut-in can start, and the overlap: inside
    a voiced stretch of both versions, at least 1.0 s into the turn, leaving 0.7-1.0 s of voice
    to overlap. None when the turn has no such stretch."""
    overlap = 1.0 if dry else float(rng.uniform(0.7, 1.0))
    spans = [v for v in turn["voiced"] if v.end - max(v.start, 1.0) >= overlap + 0.2]
    both = [
        v for v in spans
        if any(w.start <= max(v.start, 1.0) and w.end >= max(v.start, 1.0) + overlap + 0.1
               for w in turn["voiced_m"])
    ]  # fmt: skip
    if not both:
        return None
    v = both[int(rng.integers(len(both)))] if not dry else both[0]
    return max(v.start, 1.0), overlap


def reference_speech(clean_channel: np.ndarray, *, duration_s: float) -> list[Segment]:
    """Where the channel's own voice is: the analyzer's VAD settings on the channel alone."""
    from analyzer.audio.vad import speech_segments
    from analyzer.config import AnalysisConfig

    cfg = AnalysisConfig()
    return speech_segments(
        _vad().probabilities(clean_channel),
        threshold=cfg.vad_threshold,
        min_speech_s=cfg.min_speech_s,
        min_silence_s=cfg.min_silence_s,
        duration_s=duration_s,
    )


def write_wav(call: Call, path: Path) -> Path:
    sf.write(path, call.audio.T, SR, subtype="PCM_16")
    return path
