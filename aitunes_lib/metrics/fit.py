"""How a melody fits, for the phrase and chord tasks: its chords (`chord_fit`), and a
continuation its prefix (`continuation`, by Krumhansl–Kessler keys)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from aitunes_lib.metrics.notes import NoteEvents, _score, note_events, pc_mask

if TYPE_CHECKING:
    import music21

# Krumhansl & Kessler's key profiles (probe-tone ratings, C major and C minor).
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_KEY_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def _melody_and_chords(song: "str | music21.stream.Stream", events: NoteEvents | None = None
                       ) -> tuple[NoteEvents, list[tuple[float, int]]]:
    """The melody's notes (ties merged; `events` when already read) and every chord change as
    (onset, pitch-class mask; 0 for N.C.)."""
    import music21 as m21

    from aitunes_lib.abc import chord_pitch_classes, timeline

    score = _score(song)
    changes = [(float(at), pc_mask(chord_pitch_classes(e) or ()))
               for at, e in timeline(score) if isinstance(e, m21.harmony.Harmony)]
    return (note_events(score) if events is None else events), changes


def chord_fit(song: "str | music21.stream.Stream", events: NoteEvents | None = None) -> float:
    """Σ time on chord tones / Σ time under a chord: the duration-weighted share of melody time
    whose pitch class belongs to the chord symbol sounding at that moment (a held note is split
    where the chord changes; time before the first chord or under N.C. is left out). NaN: none."""
    events, changes = _melody_and_chords(song, events)
    if not changes or not len(events.onset):
        return math.nan
    starts = np.array([at for at, _ in changes])
    masks = np.array([mask for _, mask in changes], dtype=np.int64)
    on = under = 0.0
    for onset, length, pitch in zip(events.onset, events.duration, events.pitch):
        end = onset + length
        # the chord changes inside [onset, end), and the one already sounding at onset
        first = max(0, int(np.searchsorted(starts, onset, side="right")) - 1)
        last = int(np.searchsorted(starts, end, side="left"))
        cuts = [onset, *[float(t) for t in starts[first + 1:last] if onset < t < end], end]
        for i, (a, b) in enumerate(zip(cuts, cuts[1:])):
            k = int(np.searchsorted(starts, a, side="right")) - 1
            if k < 0 or masks[k] == 0:
                continue
            under += b - a
            on += (b - a) * bool(masks[k] >> (int(pitch) % 12) & 1)
    return on / under if under else math.nan


def key_profile(events: NoteEvents, start: float = 0.0, stop: float = math.inf) -> np.ndarray:
    """Duration-weighted pitch-class histogram of the notes that start in [start, stop)."""
    keep = (events.onset >= start) & (events.onset < stop)
    return np.bincount(events.pitch[keep] % 12, weights=events.duration[keep], minlength=12).astype(float)


def best_key(profile: np.ndarray) -> str:
    """The Krumhansl–Kessler key whose profile correlates best with a pitch-class histogram."""
    if not profile.any():
        return ""
    scores = [(np.corrcoef(profile, np.roll(kk, tonic))[0, 1], _KEY_NAMES[tonic] + suffix)
              for kk, suffix in ((KK_MAJOR, ""), (KK_MINOR, "m")) for tonic in range(12)]
    return max(scores)[1]


def continuation(song: "str | music21.stream.Stream", prefix_quarters: float) -> dict[str, Any]:
    """How smoothly a continuation joins its prefix (the first `prefix_quarters` of the song).

    join_interval: semitones from the prefix's last note to the continuation's first;
    join_rhythm: |log2(first continuation note's length / last prefix note's length)|;
    key_r: correlation of the two halves' pitch-class profiles; same_key: both halves have the
    same best Krumhansl–Kessler key. NaN (or "") where a half has no notes.
    """
    events = note_events(_score(song))
    before, after = events.onset < prefix_quarters, events.onset >= prefix_quarters
    row: dict[str, Any] = {"join_interval": math.nan, "join_rhythm": math.nan, "key_r": math.nan,
                           "prefix_key": "", "continuation_key": "", "same_key": False}
    if not before.any() or not after.any():
        return row
    last, first = np.flatnonzero(before)[-1], np.flatnonzero(after)[0]
    row["join_interval"] = float(abs(events.pitch[first] - events.pitch[last]))
    row["join_rhythm"] = float(abs(math.log2(events.duration[first] / events.duration[last])))
    a, b = key_profile(events, 0, prefix_quarters), key_profile(events, prefix_quarters)
    row["key_r"] = float(np.corrcoef(a, b)[0, 1]) if a.std() and b.std() else math.nan
    row["prefix_key"], row["continuation_key"] = best_key(a), best_key(b)
    row["same_key"] = row["prefix_key"] == row["continuation_key"]
    return row
