"""Voice activity of bleed-cancelled channels refined by each channel's own sound
(analyzer.audio.turns.refine_activity, analyzer.audio.bleed.level_over_floor_db)."""

from __future__ import annotations

import numpy as np
from test_bleed import DUR, SR, at_db, delayed, hop_range, loud_talker, noise, voice

from analyzer.audio.bleed import cancel_bleed, level_over_floor_db
from analyzer.audio.turns import SOUND_DB, channel_turns, refine_activity
from analyzer.audio.vad import VAD_HOP_S

N = 200  # hops (6.4 s)
LOUD = 30.0  # dB over the floor: plainly the party's own sound


def run(a: int, b: int) -> np.ndarray:
    out = np.zeros(N, bool)
    out[a:b] = True
    return out


def test_a_quiet_burst_under_the_other_side_is_a_backchannel_only_there():
    other = run(20, 150)
    burst = np.zeros(N)
    burst[80:98] = SOUND_DB + 5  # 0.58 s of the listener's own sound, the VAD deaf to it
    active = np.stack([np.zeros(N, bool), other])
    probs = np.where(np.stack([burst > 0, other]), 0.4, 0.01)  # heard, under the onset level
    out = refine_activity(active, np.stack([burst, np.zeros(N)]), probs)
    assert out[0, 80:98].all() and out[0].sum() == 18
    # A sound the VAD gives no chance of being voice (a click, a breath) is not added.
    deaf = refine_activity(active, np.stack([burst, np.zeros(N)]), np.full((2, N), 0.2))
    assert not deaf[0].any()
    # The same burst with nobody else talking is left to the VAD.
    alone = refine_activity(np.zeros((2, N), bool), np.stack([burst, np.zeros(N)]), probs)
    assert not alone.any()
    # A sound the VAD already hears is left as it is; nothing else on the channel moves.
    vad_heard = refine_activity(
        np.stack([run(80, 98), other]), np.stack([burst, np.zeros(N)]), probs
    )
    assert vad_heard[0].sum() == 18 and np.array_equal(vad_heard[1], other)
    # Too short to be speech (under min_burst_s), or under SOUND_DB: nothing added.
    short = np.zeros(N)
    short[80:85] = SOUND_DB + 5
    assert not refine_activity(active, np.stack([short, np.zeros(N)]), probs)[0].any()
    faint = np.where(burst > 0, SOUND_DB - 1, 0.0)
    assert not refine_activity(active, np.stack([faint, np.zeros(N)]), probs)[0].any()


def test_channel_turns_with_levels_find_the_backchannel_overlap():
    probs = np.zeros((2, N), np.float32)
    probs[1, 20:150] = 0.9
    probs[0, 85:90] = 0.4  # the VAD half hears the backchannel
    level = np.zeros((2, N))
    level[1, 20:150] = LOUD
    level[0, 80:98] = SOUND_DB + 5
    ids = ["agent", "customer"]
    plain = channel_turns(probs, duration_s=N * VAD_HOP_S, ids=ids)
    assert plain.of("agent") == [] and plain.overlaps == []
    refined = channel_turns(probs, level_db=level, duration_s=N * VAD_HOP_S, ids=ids)
    (bc,) = refined.of("agent")
    assert abs(bc.start - 80 * VAD_HOP_S) < 0.05 and abs(bc.end - 98 * VAD_HOP_S) < 0.05
    assert len(refined.overlaps) == 1


def test_after_cancellation_the_leak_is_under_the_sound_level_and_the_backchannel_over_it():
    """The physics the refinement rests on: -25 dB line bleed, once cancelled, stays under
    SOUND_DB over the line noise, while a backchannel 20 dB under the talker stands over it."""
    a = loud_talker(seed=41) + noise(42)
    own_b = noise(43)
    start, end = 2.5, 3.1
    mm = at_db(voice(end - start, f0=220, seed=44), -20)
    own_b[int(start * SR) : int(start * SR) + len(mm)] += mm
    g = 10 ** (-25 / 20)
    audio = np.stack([a + delayed(own_b, 0.02) * g, own_b + delayed(a, 0.02) * g])
    level = level_over_floor_db(cancel_bleed(audio, sr=SR).audio, sr=SR)
    n = level.shape[1]
    assert n == int(np.ceil(audio.shape[1] / 512))
    leak_only = hop_range(n, 0.7, 2.3) | hop_range(n, 3.3, DUR - 0.7)
    assert np.mean(level[1][leak_only] < SOUND_DB) > 0.95
    assert np.mean(level[1][hop_range(n, start + 0.05, end - 0.05)] >= SOUND_DB) > 0.9
    # Uncancelled, the same leak stands over the sound level: the cancellation is what counts.
    raw = level_over_floor_db(audio, sr=SR)
    assert np.mean(raw[1][leak_only] >= SOUND_DB) > 0.5


def test_a_short_run_under_the_other_side_starts_where_its_sound_starts():
    """The VAD fires a few hops into a quiet "mm-hm": on a cancelled channel the sound right
    before the run is the party's own, so a short run under the other side's talk moves back
    over it; a turn (longer than ONSET_MAX_S) and a short run while nobody else talks keep the
    VAD's onset."""
    from analyzer.audio.turns import ONSET_MAX_S, extend_onsets

    active = np.zeros((2, N), bool)
    active[0, 10:150] = True  # the other side talks
    active[1, 40:55] = True  # a backchannel as the VAD heard it (0.5 s)
    active[1, 100:140] = True  # a cut-in, 1.3 s, longer than ONSET_MAX_S
    active[1, 170:180] = True  # a short run after the other side stopped
    sound = np.zeros((2, N), bool)
    sound[1, 35:55] = sound[1, 95:140] = sound[1, 165:180] = True
    sound[1, 20:30] = True  # sound, but not joined to a run: left alone
    out = extend_onsets(active, sound)
    assert 40 * VAD_HOP_S > 0 and (55 - 40) * VAD_HOP_S <= ONSET_MAX_S
    assert out[1, 35:55].all() and not out[1, 34] and not out[1, 20:30].any()
    assert not out[1, 95:100].any() and not out[1, 165:170].any()
    assert np.array_equal(out[0], active[0])
    # refine_activity does it on its own result (onset_max_s=0 turns it off)
    level = np.where(sound, LOUD, 0.0)
    probs = active.astype(float)
    assert refine_activity(active, level, probs)[1, 35:40].all()
    assert not refine_activity(active, level, probs, onset_max_s=0)[1, 35:40].any()
