"""Tonality features, computed for many songs at once.

Features, after Tymoczko, *A Geometry of Music* (2011), ch. 1, which names five:
- CMM, conjunct melodic motion: mean absolute semitone step between consecutive melody notes;
- LM, limited macroharmony: how far each window's count of distinct pitches is from 5–8;
- CENT, centricity: how much one pitch dominates each window;
- CONS, acoustic consonance: how consonant the melody is with the chord sounding under it;
- HC, harmonic consistency: how alike in structure the song's chords are.

The article scored the first three with `music-geometry-eval`, whose time-supported
definitions have quirks its published numbers depend on. `variant="article"` keeps them:
- a 16th-note grid with each pitch followed by zeros;
- windows of 32 steps hopping by 4;
- LM's upper branch measured from 5, not 8;
- CENT taken as the longest run of repeated pitches;
- the window sum divided by the fractional `(len(grid) - 32) / 4 + 1`.

`variant="corrected"` takes CENT as the share of the most frequent pitch class, and
divides by the number of windows actually summed.

Functions take note arrays or a `NoteEvents` and return floats; a feature that is
undefined for a song (no notes, one note, no chord symbols) is NaN, by design.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from aitunes_lib.metrics.notes import VARIANTS, NoteEvents, _concat, _stack, pc_mask

SPAN = 32  # 16th notes per window: two bars of 4/4
HOP = 4  # a quarter note
LM_LOW, LM_HIGH = 5, 8
FEATURES = ("CMM", "LM", "CENT", "CONS", "HC")
ARTICLE_FEATURES = ("CMM", "LM", "CENT")

# Huron (1994), "Interval-class content in equally tempered pitch-class sets", Music
# Perception 11(3): 289-305, table 3: consonance of each interval class 1..6 (ic0, the
# unison or octave, taken as the most consonant, 1.5).
INTERVAL_CLASS_CONSONANCE = np.array([1.5, -1.428, -0.582, 0.594, 0.386, 1.240, -0.453])


# --------------------------------------------------------------------------- CMM, LM, CENT
#
# Computed for many songs at once. Each window of the grid is the range of onsets whose grid
# position falls in it, so nothing is materialised step by step: a window's distinct pitches
# are its onsets whose previous same-pitch onset lies before the window, and its longest run
# of equal pitches is read from where each onset's run began.


@dataclasses.dataclass(frozen=True)
class _Windows:
    """Every window of every song, and the onsets inside each, flattened (ragged)."""

    pitch: np.ndarray  # all songs' onset pitches, concatenated
    notes: np.ndarray  # per song: how many notes
    first: np.ndarray  # per window: its first onset (into `pitch`)
    onsets: np.ndarray  # per window: how many onsets it holds
    filled: np.ndarray  # the windows holding at least one onset
    starts: np.ndarray  # per filled window: where its entries begin in `index`
    index: np.ndarray  # the onsets of the first filled window, then the next, ... (into `pitch`)
    entry_first: np.ndarray  # for each entry: the first onset of its window
    window_song: np.ndarray  # per window: its song
    divisor: dict[str, np.ndarray]  # per song and variant: what the window sum is divided by
    empty: np.ndarray  # per song: no notes at all

    def per_window(self, ufunc: np.ufunc, values: np.ndarray, dtype=None) -> np.ndarray:
        """`ufunc.reduceat` of one value per entry into one value per window (0 if empty)."""
        out = np.zeros(len(self.onsets), dtype=float)
        if len(self.starts):
            out[self.filled] = ufunc.reduceat(values, self.starts, dtype=dtype)
        return out


def _windows(songs: Sequence[np.ndarray]) -> _Windows:
    arrays = [np.asarray(n, dtype=np.int64).reshape(-1, 2) for n in songs]
    notes = np.array([len(a) for a in arrays], dtype=np.int64)
    table = _concat(arrays, np.int64).reshape(-1, 2)
    slots = np.maximum(table[:, 1], 1)  # a 0-length (grace) note keeps its onset slot
    positions = np.cumsum(slots) - slots  # grid position of each onset, songs laid end to end
    lengths = np.bincount(np.repeat(np.arange(len(arrays)), notes), weights=slots, minlength=len(arrays)).astype(np.int64)
    offsets = np.cumsum(lengths) - lengths
    exact = np.where(lengths > SPAN, (lengths - SPAN) / HOP + 1, np.where(lengths > 0, 1.0, 0.0))  # the article's count
    count = np.floor(exact).astype(np.int64)
    window_song = np.repeat(np.arange(len(arrays)), count)
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    start = offsets[window_song] + HOP * within
    # onsets before each grid slot (one more slot for the end): a window's onsets are a range
    before = np.zeros(int(lengths.sum()) + 1, dtype=np.int32)
    before[positions + 1] = 1
    before = np.cumsum(before, dtype=np.int32)
    first = before[start]
    onsets = before[start + np.minimum(lengths[window_song], SPAN)] - first
    filled = onsets > 0
    first_f, onsets_f = first[filled].astype(np.int32), onsets[filled].astype(np.int32)
    starts = (np.cumsum(onsets_f) - onsets_f).astype(np.int32)
    # the entries of window k are first_k, first_k + 1, ...: a running sum of steps of 1 that
    # jumps back to first_k where window k begins
    step = np.ones(int(onsets_f.sum()), dtype=np.int32)
    if len(starts):
        step[starts] = first_f - np.concatenate(([0], first_f[:-1] + onsets_f[:-1] - 1))
    return _Windows(table[:, 0], notes, first, onsets, filled, starts, np.cumsum(step, dtype=np.int32), np.repeat(first_f, onsets_f),
                    window_song, {"article": exact, "corrected": count.astype(float)}, lengths == 0)


def _per_song(w: _Windows, values: np.ndarray, variant: str) -> np.ndarray:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose one of {VARIANTS}")
    sums = np.bincount(w.window_song, weights=values, minlength=len(w.empty))
    with np.errstate(invalid="ignore", divide="ignore"):
        result = sums / w.divisor[variant]
    result[w.empty] = math.nan
    return result


def _previous_same(pitch: np.ndarray) -> np.ndarray:
    """For each onset, the index of the previous onset of the same pitch (-1 if none)."""
    order = np.argsort(pitch, kind="stable").astype(np.int32)
    previous = np.full(len(pitch), -1, dtype=np.int32)
    same = pitch[order][1:] == pitch[order][:-1]
    previous[order[1:][same]] = order[:-1][same]
    return previous


def limited_macroharmony_batch(songs: Sequence[np.ndarray], variant: str = "article", windows: _Windows | None = None) -> np.ndarray:
    """`limited_macroharmony` of many songs at once."""
    w = windows or _windows(songs)
    new = _previous_same(w.pitch)[w.index] < w.entry_first  # the first of its pitch in the window
    n = w.per_window(np.add, new, dtype=np.int32)
    values = np.where(n < LM_LOW, LM_LOW - n + 1, np.where(n > LM_HIGH, n - LM_LOW + 1, 1)).astype(float)
    return _per_song(w, values, variant)


def centricity_batch(songs: Sequence[np.ndarray], variant: str = "article", windows: _Windows | None = None) -> np.ndarray:
    """`centricity` of many songs at once."""
    w = windows or _windows(songs)
    if variant == "article":
        change = np.concatenate(([True], w.pitch[1:] != w.pitch[:-1]))
        run_begin = np.maximum.accumulate(np.where(change, np.arange(len(w.pitch)), 0)).astype(np.int32)
        run = w.index - np.maximum(run_begin[w.index], w.entry_first) + 1  # run length so far, in the window
        top = w.per_window(np.maximum, run)
    else:
        # onsets of each pitch class before each onset: a window's counts are one subtraction.
        # Kept modulo 256 (uint8): a window holds at most 32 onsets, so differences are exact.
        before = np.zeros((len(w.pitch) + 1, 12), dtype=np.uint8)
        np.cumsum(np.eye(12, dtype=np.uint8)[w.pitch % 12], axis=0, out=before[1:])
        top = (before[w.first + w.onsets] - before[w.first]).max(axis=1).astype(float)
    values = np.where(w.onsets > 0, top / np.maximum(w.onsets, 1), 1.0)
    return _per_song(w, values, variant)


def conjunct_melodic_motion_batch(songs: Sequence[np.ndarray], windows: _Windows | None = None) -> np.ndarray:
    """`conjunct_melodic_motion` of many songs at once."""
    w = windows or _windows(songs)
    counts, pitch = w.notes, w.pitch
    steps = np.abs(np.diff(pitch)) if len(pitch) > 1 else np.zeros(0)
    song = np.repeat(np.arange(len(counts)), counts)[1:]
    same_song = song == np.repeat(np.arange(len(counts)), counts)[:-1] if len(pitch) > 1 else np.zeros(0, bool)
    sums = np.bincount(song[same_song], weights=steps[same_song], minlength=len(counts))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts >= 2, sums / (counts - 1), math.nan)


def conjunct_melodic_motion(notes: np.ndarray) -> float:
    """CMM = mean |p[i+1] − p[i]| over consecutive melody notes, in semitones (NaN below two notes)."""
    return float(conjunct_melodic_motion_batch([notes])[0])


def limited_macroharmony(notes: np.ndarray, variant: str = "article") -> float:
    """LM = Σ_w v_w / windows, v_w = 1 if 5 ≤ n ≤ 8, (5 − n) + 1 if n < 5, (n − 5) + 1 if n > 8,
    n = distinct pitches with an onset in window w (the n > 8 branch counts from 5, as the
    reference does). NaN for a song with no notes."""
    return float(limited_macroharmony_batch([notes], variant)[0])


def centricity(notes: np.ndarray, variant: str = "article") -> float:
    """CENT = Σ_w c_w / windows.

    article: c_w = the longest run of consecutive equal onset pitches / the onsets in w.
    corrected: c_w = the share of w's onsets on its most frequent pitch class.
    A window with no onset (inside one held note) has only that note sounding: c_w = 1.
    """
    return float(centricity_batch([notes], variant)[0])


# --------------------------------------------------------------------------- the two harmonic features


_BITS = (np.arange(4096)[:, None] >> np.arange(12)[None, :]) & 1  # mask -> its 12 bits


_CONSONANCE: np.ndarray | None = None


def _consonance_table() -> np.ndarray:
    """[pitch class, chord mask] -> mean Huron consonance of the note with the chord's tones."""
    global _CONSONANCE  # a pure lookup table, built once on first use
    if _CONSONANCE is None:
        bits = _BITS.astype(float)  # (4096, 12)
        intervals = (np.arange(12)[None, :] - np.arange(12)[:, None]) % 12  # [note pc, chord pc]
        consonance = INTERVAL_CLASS_CONSONANCE[np.minimum(intervals, 12 - intervals)]  # (12, 12)
        with np.errstate(invalid="ignore", divide="ignore"):
            _CONSONANCE = (consonance @ bits.T) / bits.sum(axis=1)[None, :]  # (12, 4096)
    return _CONSONANCE


def acoustic_consonance_batch(songs: Sequence[NoteEvents]) -> np.ndarray:
    """`acoustic_consonance` of many songs at once."""
    song, pitch, duration, chord = _stack(songs, "pitch", "duration", "chord")
    under = chord > 0
    per_note = _consonance_table()[pitch[under] % 12, chord[under]]
    weights = np.bincount(song[under], weights=duration[under], minlength=len(songs))
    sums = np.bincount(song[under], weights=per_note * duration[under], minlength=len(songs))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weights > 0, sums / weights, math.nan)


def acoustic_consonance(events: NoteEvents) -> float:
    """CONS = Σ d·c / Σ d over melody notes sounding under a chord symbol, where c is the mean
    Huron (1994) interval-class consonance between the note and each chord tone and d its
    length. From about −1.4 (all minor seconds) to 1.5 (all unisons). NaN if no note has a chord."""
    return float(acoustic_consonance_batch([events])[0])


def set_class(mask: int) -> int:
    """The prime form of a pitch-class set, up to transposition and inversion, as a mask
    (the most packed rotation, Rahn's rule).

    >>> set_class(pc_mask([2, 6, 9])) == set_class(pc_mask([0, 3, 7])) == pc_mask([0, 3, 7])
    True
    """
    pcs = [k for k in range(12) if mask >> k & 1]
    if not pcs:
        return 0
    best = None
    for source in (pcs, sorted((-p) % 12 for p in pcs)):
        for i in range(len(source)):
            rotation = source[i:] + [p + 12 for p in source[:i]]
            form = tuple(p - rotation[0] for p in rotation)
            key = (form[-1], form[::-1])
            if best is None or key < best[0]:
                best = (key, form)
    return pc_mask(best[1])


_SET_CLASS: np.ndarray | None = None


def _set_classes() -> np.ndarray:
    global _SET_CLASS  # a pure lookup table of 4096 entries, built once on first use
    if _SET_CLASS is None:
        _SET_CLASS = np.array([set_class(m) for m in range(4096)], dtype=np.int64)
    return _SET_CLASS


def harmonic_consistency_batch(songs: Sequence[NoteEvents]) -> np.ndarray:
    """`harmonic_consistency` of many songs at once."""
    song, chords, durations = _stack(songs, "chords", "chord_durations")
    groups, inverse = np.unique(song * 4096 + _set_classes()[chords], return_inverse=True)
    time_in_group = np.bincount(inverse, weights=durations, minlength=len(groups))
    totals = np.bincount(song, weights=durations, minlength=len(songs))
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = time_in_group / totals[groups // 4096]
        result = np.bincount(groups // 4096, weights=shares * shares, minlength=len(songs))
    return np.where(totals > 0, result, math.nan)


def harmonic_consistency(events: NoteEvents) -> float:
    """HC = Σ_k p_k², p_k the share of chord-symbol time in set class k (chords compared up
    to transposition and inversion): the chance that two moments of the song hear chords of
    the same structure. 1 = one structure throughout. NaN without chord symbols."""
    return float(harmonic_consistency_batch([events])[0])


def features_batch(
    songs: Sequence[np.ndarray], events: Sequence[NoteEvents] | None = None, variant: str = "article"
) -> dict[str, np.ndarray]:
    """All five features of many songs at once: one array per feature, one value per song."""
    windows = _windows(songs)
    nan = np.full(len(songs), math.nan)
    return {
        "CMM": conjunct_melodic_motion_batch(songs, windows),
        "LM": limited_macroharmony_batch(songs, variant, windows),
        "CENT": centricity_batch(songs, variant, windows),
        "CONS": acoustic_consonance_batch(events) if events is not None else nan,
        "HC": harmonic_consistency_batch(events) if events is not None else nan,
    }


def features(notes: np.ndarray, events: NoteEvents | None = None, variant: str = "article") -> dict[str, float]:
    """All five features of one song (CONS and HC are NaN without `events`)."""
    batch = features_batch([notes], [events] if events is not None else None, variant)
    return {name: float(values[0]) for name, values in batch.items()}
