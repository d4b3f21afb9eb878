"""Who is talking on screen: mouth movement turned into evidence for the diarizer.

In a video call the faces of the people talking are usually on screen together (a gallery of
tiles), and the one talking moves their mouth while the others listen. That says what voices
alone find hard on similar voices: how many people take part and, at each moment, which of them
speaks. The diarizer (``audio.speakers.diarize``) uses it as anchors for its voices; the audio
still places every boundary and covers every moment no face is seen.

Steps:
1. On-screen persons: face tracks that are never on screen together and sit at the same place
   (a tile; a face lost and found again) are one person.
2. Each person's mouth movement (``speakers.mouth_movement``, over TALK_WINDOW_S), on the
   analysed frames, scaled to the person's own range: 0 at its STILL_PERCENTILE (a mouth at
   rest: pauses are too short to tell it, as the window spills into them), 1 at its
   TALK_PERCENTILE while someone speaks (at least MIN_RANGE and SCALE_SHARE of the widest
   person's range apart, so a listening face's jitter is never stretched into talking).
3. Margin: a person's scaled movement minus the largest of the others on screen at that frame;
   only where at least two persons are on screen (one face alone says nothing of who else
   might be talking off screen).
4. Talking persons: those whose margin reaches MARGIN for at least MIN_TALK_S of speech and
   MIN_TALK_SHARE of the speech seen with everyone on screen, counting only leads held for
   MIN_RUN_S (a turn; a frame counts as leading where LEAD_SHARE of the second around it
   leads, as a small tile's lead flickers). A listener who nods and smiles while the other
   talks does not reach it: the talker moves more at those moments, and the listener leads
   only in the talker's brief still moments.

A speaker view (one camera at a time, cut to whoever talks) never shows two faces together, so
none of this applies there; ``camera_feeds`` recognises one and, where SPEAKER_VIEW is set, the
camera shown a moment later is the evidence instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.cluster.hierarchy import fcluster, linkage

from ..arrays import FloatArray, IntArray
from ..segment import Segment
from .faces import look_distance
from .speakers import mouth_movement, voice_activity
from .timeline import FaceTimeline

TALK_WINDOW_S = 0.6  # s, mouth movement averaged over this (a turn change is often ~0.5 s)
STILL_PERCENTILE = 10.0  # percentile of a person's movement taken as their mouth at rest
TALK_PERCENTILE = 80.0  # percentile of a person's movement during speech scaled to 1
MIN_RANGE = 0.01  # mouth_open change per observation: the least range a person's scale spans
MARGIN = 0.35  # scaled movement by which the talking person leads every other one on screen
MIN_TALK_S = 2.0  # s of leading during speech before a person counts as talking
MIN_TALK_SHARE = 0.1  # and this share of the speech seen with two or more persons on screen
SCALE_SHARE = 0.5  # no person's range is taken below this share of the widest one (a face
# that only listens would otherwise have its jitter stretched into talking)
MIN_RUN_S = 1.0  # s; only leads held this long count (a turn, not a talker's brief still mouth)
LEAD_SHARE: float | None = 0.4  # a frame leads where this share of the frames in the MIN_RUN_S
# around it lead (a talker's lead flickers in a small gallery tile); None: every frame of an
# unbroken run of MIN_RUN_S must (before round 7 of benchmarks.av_diarization: validation
# gallery-three 0.109 -> 0.056, the other sets unchanged)
SPEAKER_VIEW = True  # read a speaker view's camera switches as who talks (``camera_feeds``;
# benchmarks.av_diarization, speaker view round 3: validation three voices 0.109 -> 0.041,
# two same-gender voices 0.149 -> 0.027; rounds 1-2 failed where two cameras look alike)
SPEAKER_VIEW_LAG_S = 1.0  # s a speaker view's switch to a talker follows their first words
SAME_FEED = 0.04  # average look distance (``faces.look_distance``) of the shots of one camera
# (round 2 of the speaker view in benchmarks.av_diarization: 0.12 took two cameras for one)
SHOT_CUT = 0.04  # look distance between consecutive frames that ends a shot: one camera's
# frames differ by under 0.01, two cameras by 0.06 and more (round 3 of the speaker view)
ONE_FACE_SHARE = 0.9  # a speaker view shows one face in at least this share of frames with any
MIN_SWITCHES = 3  # switches between cameras a speaker view makes at least
MIN_PRESENT_S = 3.0  # s a person is seen (with mouth movement) to count as on screen
SAME_PLACE = 0.5  # box centres nearer than this many box widths are one tile
MAX_LOOKUP_S = 0.3  # s; a time further than this from an analysed frame has no evidence


@dataclass(frozen=True)
class TalkingFaces:
    """Mouth evidence of who talks when.

    times: float64 [T] s, the analysed frames; margin: float64 [T, P] per on-screen person (NaN
    where fewer than two persons are on screen or the person is not); persons: the track ids of
    each person; talking: indices of the persons counted as talking (see the module); present:
    how many persons were on screen for MIN_PRESENT_S or more, talking or not; view: "faces"
    (mouths compared on screen together) or "speaker" (a speaker view's cameras, see
    ``camera_feeds``).
    """

    times: FloatArray
    margin: FloatArray
    persons: list[list[int]]
    talking: list[int]
    present: int = 0
    view: str = "faces"

    def at(self, times: FloatArray) -> FloatArray:
        """float64 [n, len(talking)]: the talking persons' margins at ``times`` (s), from the
        nearest analysed frame; NaN where none is within MAX_LOOKUP_S."""
        times = np.asarray(times, dtype=np.float64)
        out = np.full((len(times), len(self.talking)), np.nan)
        if not len(self.times) or not self.talking:
            return out
        idx = np.clip(np.searchsorted(self.times, times), 1, len(self.times) - 1)
        left = self.times[idx - 1]
        nearest = np.where(times - left <= self.times[idx] - times, idx - 1, idx)
        if len(self.times) == 1:
            nearest = np.zeros(len(times), dtype=int)
        close = np.abs(self.times[nearest] - times) <= MAX_LOOKUP_S
        out[close] = self.margin[nearest[close]][:, self.talking]
        return out


def on_screen_persons(timeline: FaceTimeline) -> list[list[int]]:
    """Track ids grouped into persons: tracks never on screen together whose boxes sit at the
    same place (within SAME_PLACE box widths) are one person, in order of first appearance."""
    persons: list[list[int]] = []
    where: list[tuple[FloatArray, float, set[int]]] = []  # centre, width, frames
    for track in timeline.tracks:
        box = np.median(track.boxes, axis=0) if len(track) else np.zeros(4)
        centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        width = float(max(box[2] - box[0], 1.0))
        frames = {int(f) for f in track.frames}
        for p, (c, w, seen) in enumerate(where):
            if not frames & seen and np.linalg.norm(centre - c) <= SAME_PLACE * max(w, width):
                persons[p].append(track.id)
                seen |= frames
                break
        else:
            persons.append([track.id])
            where.append((centre, width, frames))
    return persons


def camera_feeds(timeline: FaceTimeline) -> IntArray | None:
    """The camera each analysed frame shows (0, 1, ... in order of appearance; -1 where no face
    is seen) when the video is a speaker view: one face at a time, the picture cut from one
    camera to another (SHOT_CUT between two frames) at least MIN_SWITCHES times between two or more
    cameras each seen with a face for MIN_PRESENT_S; None for any other video. Shots (the
    frames between two cuts) are grouped into cameras by the average linkage of their mean
    looks, up to SAME_FEED apart (two cameras taken for one would join two people's voices;
    one camera split in two only gives anchors the audio's check refuses)."""
    looks = timeline.looks
    if looks is None or len(looks) < 2:
        return None
    with_face = timeline.faces > 0
    if not with_face.any() or (timeline.faces[with_face] == 1).mean() < ONE_FACE_SHARE:
        return None
    step = float(np.median(np.diff(timeline.times)))
    jumps = [look_distance(looks[i], looks[i - 1]) > SHOT_CUT for i in range(1, len(looks))]
    shot = np.concatenate([[0], np.cumsum(jumps)])
    shots = [
        f for k in range(int(shot[-1]) + 1) if len(f := np.flatnonzero((shot == k) & with_face))
    ]
    if len(shots) < 2:
        return None
    means = [looks[f].mean(axis=0) for f in shots]
    far = [
        look_distance(means[a], means[b])
        for a in range(len(means))
        for b in range(a + 1, len(means))
    ]
    groups = fcluster(linkage(np.asarray(far), "average"), SAME_FEED, "distance")
    order = {g: i for i, g in enumerate(dict.fromkeys(groups))}  # cameras by first appearance
    feeds = np.full(len(looks), -1)
    for frames, g in zip(shots, groups):
        feeds[frames] = order[g]
    seen = np.bincount(feeds[feeds >= 0], minlength=len(order)) * step
    shown = feeds[feeds >= 0]
    switches = int((shown[1:] != shown[:-1]).sum())
    if (seen >= MIN_PRESENT_S).sum() < 2 or switches < MIN_SWITCHES:
        return None
    out: IntArray = feeds
    return out


def talking_faces(timeline: FaceTimeline, speech: list[Segment]) -> TalkingFaces:
    """The mouth evidence of ``timeline`` given the call's ``speech`` (anyone's, seconds); for
    a speaker view (``camera_feeds``, where SPEAKER_VIEW is set) the evidence of which camera
    is shown instead."""
    feeds = camera_feeds(timeline) if SPEAKER_VIEW else None
    if feeds is not None:
        return _speaker_view(timeline, feeds, speech)
    times = timeline.times
    persons = on_screen_persons(timeline)
    movement = np.full((len(times), len(persons)), np.nan)
    for p, ids in enumerate(persons):
        for track_id in ids:
            track = timeline.track(track_id)
            mid, moved = mouth_movement(
                track.times, track.cues["mouth_open"], window_s=TALK_WINDOW_S
            )
            if not len(mid):
                continue
            # each observation after the first takes the movement that ends at it
            movement[track.frames[1:], p] = moved
    speaking = voice_activity(times, speech) > 0
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    present = int((np.isfinite(movement).sum(axis=0) * step >= MIN_PRESENT_S).sum())
    floors = np.full(len(persons), np.nan)
    ranges = np.zeros(len(persons))
    for p in range(len(persons)):
        m = movement[:, p]
        loud = m[np.isfinite(m) & speaking]
        if not len(loud):
            continue
        floors[p] = float(np.percentile(m[np.isfinite(m)], STILL_PERCENTILE))
        ranges[p] = float(np.percentile(loud, TALK_PERCENTILE)) - floors[p]
    scale = np.maximum(np.maximum(ranges, MIN_RANGE), SCALE_SHARE * ranges.max(initial=0.0))
    scaled = (movement - floors) / scale
    margin = np.full_like(scaled, np.nan)
    if len(persons) < 2:
        return TalkingFaces(times, margin, persons, [], present)
    seen = np.isfinite(scaled)
    several = seen.sum(axis=1) >= 2
    for p in range(len(persons)):
        others = np.delete(scaled, p, axis=1)
        best_other = np.nanmax(np.where(np.isfinite(others), others, -np.inf), axis=1)
        ok = several & seen[:, p]
        margin[ok, p] = scaled[ok, p] - best_other[ok]
    shared_speech = float((several & speaking).sum()) * step
    talking = []
    min_run = max(1, int(round(MIN_RUN_S / step))) if step > 0 else 1
    for p in range(len(persons)):
        ahead = margin[:, p] >= MARGIN
        if LEAD_SHARE is not None:
            ahead = (_window_share(ahead, min_run) >= LEAD_SHARE) & np.isfinite(margin[:, p])
        leads = _long_runs(ahead & speaking, min_run)
        lead_s = float(leads.sum()) * step
        if lead_s >= MIN_TALK_S and lead_s >= MIN_TALK_SHARE * shared_speech:
            talking.append(p)
    return TalkingFaces(times, margin, persons, talking, present)


def _long_runs(mask: NDArray[np.bool_], min_len: int) -> NDArray[np.bool_]:
    """``mask`` with its runs of True shorter than ``min_len`` cleared."""
    out = np.zeros_like(mask)
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a >= min_len:
            out[a:b] = True
    return out


def _window_share(mask: NDArray[np.bool_], width: int) -> FloatArray:
    """Per frame, the share of True in the ``width`` frames centred on it (fewer at the ends)."""
    kernel = np.ones(width)
    hits = np.convolve(mask.astype(np.float64), kernel, mode="same")
    frames = np.convolve(np.ones(len(mask)), kernel, mode="same")
    share: FloatArray = hits / np.maximum(frames, 1.0)
    return share


def _speaker_view(timeline: FaceTimeline, feeds: IntArray, speech: list[Segment]) -> TalkingFaces:
    """Evidence of a speaker view: the platform shows whoever talks, switching to a new talker
    SPEAKER_VIEW_LAG_S after their first words (and keeping them through short remarks of the
    others), so the camera shown at t + lag says who talks at t: margin +1 for that camera's
    person, -1 for every other (NaN where no face is shown). Persons are the cameras (the
    tracks seen in each); each counts as talking when shown for MIN_TALK_S and MIN_TALK_SHARE
    of the speech."""
    n = int(feeds.max()) + 1
    times = timeline.times - SPEAKER_VIEW_LAG_S
    margin = np.full((len(times), n), np.nan)
    shown = feeds >= 0
    margin[shown] = -1.0
    margin[np.flatnonzero(shown), feeds[shown]] = 1.0
    persons: list[list[int]] = [[] for _ in range(n)]
    for track in timeline.tracks:
        cams = feeds[track.frames]
        cams = cams[cams >= 0]
        if len(cams):
            persons[int(np.bincount(cams).argmax())].append(int(track.id))
    speaking = voice_activity(times, speech) > 0
    step = float(np.median(np.diff(timeline.times)))
    shared = float((shown & speaking).sum()) * step
    on = [float((speaking & (feeds == f)).sum()) * step for f in range(n)]
    present = int(sum(float((feeds == f).sum()) * step >= MIN_PRESENT_S for f in range(n)))
    talking = [f for f in range(n) if on[f] >= MIN_TALK_S and on[f] >= MIN_TALK_SHARE * shared]
    return TalkingFaces(times, margin, persons, talking, present, view="speaker")
