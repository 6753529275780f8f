"""Tonality features (Tymoczko), the article's NDM ranking, and the checks it lacked.

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

import collections.abc
import dataclasses
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Hashable, Iterable, Mapping, Sequence

import numpy as np

from aitunes_lib import files

if TYPE_CHECKING:
    import music21
    import pandas as pd

    from aitunes_lib.song import Song

SPAN = 32  # 16th notes per window: two bars of 4/4
HOP = 4  # a quarter note
LM_LOW, LM_HIGH = 5, 8
FEATURES = ("CMM", "LM", "CENT", "CONS", "HC")
ARTICLE_FEATURES = ("CMM", "LM", "CENT")
VARIANTS = ("article", "corrected")

# Huron (1994), "Interval-class content in equally tempered pitch-class sets", Music
# Perception 11(3): 289-305, table 3: consonance of each interval class 1..6 (ic0, the
# unison or octave, taken as the most consonant, 1.5).
INTERVAL_CLASS_CONSONANCE = np.array([1.5, -1.428, -0.582, 0.594, 0.386, 1.240, -0.453])


# --------------------------------------------------------------------------- note arrays


def _score(song: "Song | str | music21.stream.Stream") -> "music21.stream.Stream":
    from aitunes_lib.song import Song

    if isinstance(song, Song):
        return song.score
    if isinstance(song, str):
        from aitunes_lib.abc import parse_abc

        return parse_abc(song)
    return song


def note_array(song: "str | music21.stream.Stream", variant: str = "article") -> np.ndarray:
    """`[[midi_pitch, sixteenths], ...]` of the melody; `sixteenths = int(quarterLength * 4 + 0.5)`.

    article: as the article built it, which its published statistics depend on. Every
    iterable child of the first part is walked and the `music21.note.Note`s (exact type)
    in it are kept. That walks the measures, but also spanners: a slur yields its notes again,
    at the end. A chord symbol lying directly in a part (a one-bar ABC tune has no Measure)
    yields its tones. Ties are not merged; a grace note gets 0 sixteenths.
    corrected: the notes of each measure, once each, in order.
    """
    import music21 as m21

    score = _score(song)
    part = score.parts[0] if isinstance(score, m21.stream.Score) and score.parts else score
    bars = [child for child in part if isinstance(child, m21.stream.Stream)] or [part]  # no Measure: one bar
    if variant == "article":
        children = bars + [c for c in part if isinstance(c, collections.abc.Iterable) and not isinstance(c, m21.stream.Stream)]
        children.sort(key=lambda c: part.index(c) if c is not part else -1)  # the part's own order
    elif variant == "corrected":
        children = bars
    else:
        raise ValueError(f"unknown variant {variant!r}: choose one of {VARIANTS}")
    rows = [(int(n.pitch.ps), int(n.quarterLength * 4 + 0.5)) for child in children for n in child if type(n) is m21.note.Note]
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def pc_mask(pitch_classes: Iterable[int]) -> int:
    """A pitch-class set as a 12-bit integer (bit k = pitch class k).

    >>> pc_mask([0, 4, 7])
    145
    """
    mask = 0
    for pc in pitch_classes:
        mask |= 1 << (int(pc) % 12)
    return mask


@dataclasses.dataclass(frozen=True)
class NoteEvents:
    """The melody with time and harmony: one row per note (ties merged), and the chord
    symbols as pitch-class masks with how long each sounds."""

    onset: np.ndarray  # quarter lengths from the start
    duration: np.ndarray  # quarter lengths
    pitch: np.ndarray  # MIDI numbers
    chord: np.ndarray  # pitch-class mask of the chord symbol sounding at each note's onset (0: none)
    chords: np.ndarray  # every chord symbol's mask in order (N.C. left out)
    chord_durations: np.ndarray  # how long each lasts: to the next chord symbol, N.C., or the end

    def to_json(self) -> dict[str, list]:
        return {f.name: getattr(self, f.name).tolist() for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "NoteEvents":
        return cls(**{name: np.asarray(data[name], dtype=kind) for name, kind in _EVENT_TYPES.items()})


_EVENT_TYPES = {"onset": float, "duration": float, "pitch": np.int64, "chord": np.int64, "chords": np.int64, "chord_durations": float}


def _stack(songs: Sequence[NoteEvents], *fields: str) -> tuple[np.ndarray, ...]:
    """(the song number of each row, then each field of all songs laid end to end)."""
    counts = np.array([len(getattr(e, fields[0])) for e in songs], dtype=np.int64)
    song = np.repeat(np.arange(len(songs)), counts)
    return (song, *(_concat([getattr(e, f) for e in songs], _EVENT_TYPES[f]) for f in fields))


def note_events(song: "str | music21.stream.Stream | Sequence[music21.stream.Measure]") -> NoteEvents:
    """Onsets, lengths and pitches of the melody (ties merged), each with the chord symbol
    sounding at its onset. A chord symbol sounds until the next one (N.C. stops it)."""
    import music21 as m21

    from aitunes_lib.abc import chord_pitch_classes, song_length, timeline

    score = _score(song) if isinstance(song, (str, m21.stream.Stream)) else song
    items: list[tuple[float, int, Any]] = []  # (onset, 0 chord / 1 note, item): chords first
    for onset, element in timeline(score):
        at = float(onset)
        if isinstance(element, m21.harmony.Harmony):
            mask = pc_mask(chord_pitch_classes(element) or ())
            items.append((at, 0, mask))
        elif element.isNote and not element.duration.isGrace:
            items.append((at, 1, element))
    start = float(song_length(score))
    items.sort(key=lambda item: (item[0], item[1]))
    onsets, durations, pitches, under = [], [], [], []
    chord_onsets, chord_masks = [], []
    sounding = 0
    tie_open = False
    for at, kind, item in items:
        if kind == 0:
            sounding = item
            chord_onsets.append(at)
            chord_masks.append(item)
            continue
        quarters = float(item.duration.quarterLength)
        midi = int(item.pitch.ps)
        if tie_open and pitches and pitches[-1] == midi and abs(onsets[-1] + durations[-1] - at) < 1e-9:
            durations[-1] += quarters
        else:
            onsets.append(at)
            durations.append(quarters)
            pitches.append(midi)
            under.append(sounding)
        tie_open = item.tie is not None and item.tie.type in ("start", "continue")
    ends = chord_onsets[1:] + [max(start, chord_onsets[-1])] if chord_onsets else []
    lasting = [(m, e - o) for m, o, e in zip(chord_masks, chord_onsets, ends) if m]
    return NoteEvents(
        np.array(onsets, dtype=float), np.array(durations, dtype=float), np.array(pitches, dtype=np.int64),
        np.array(under, dtype=np.int64), np.array([m for m, _ in lasting], dtype=np.int64),
        np.array([d for _, d in lasting], dtype=float),
    )


def grid(notes: np.ndarray) -> np.ndarray:
    """The article's 16th-note grid: each pitch, then zeros to fill its length.

    >>> grid(np.array([[60, 4], [62, 2], [60, 0]])).tolist()
    [60, 0, 0, 0, 62, 0, 60]
    """
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 2)
    if len(notes) == 0:
        return np.zeros(0, dtype=np.int64)
    slots = np.maximum(notes[:, 1], 1)  # a 0-length (grace) note still takes its onset slot
    out = np.zeros(int(slots.sum()), dtype=np.int64)
    out[np.concatenate(([0], np.cumsum(slots)[:-1]))] = notes[:, 0]
    return out


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


def _concat(arrays: Sequence[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if len(arrays) else np.zeros(0, dtype)


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


# --------------------------------------------------------------------------- NDM


def training_stats(rows: Iterable[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Mean, population standard deviation and values of each feature over the training songs."""
    table = list(rows)
    stats = {}
    for name in FEATURES:
        values = np.array([r.get(name, math.nan) for r in table], dtype=float)
        values = values[~np.isnan(values)]
        stats[name] = {"mean": float(values.mean()) if len(values) else math.nan,
                       "std": float(values.std()) if len(values) else math.nan, "songs": int(len(values)),
                       "values": [round(float(v), 6) for v in values]}  # for distribution plots
    return stats


def format_stats(stats: Mapping[str, Mapping[str, float]]) -> str:
    """The training statistics as the article printed them: mean ± standard deviation."""
    names = {"CMM": "Conjunct melodic motion", "LM": "Limited macroharmony", "CENT": "Centricity",
             "CONS": "Acoustic consonance", "HC": "Harmonic consistency"}
    return "\n".join(
        f"{names[k]:<24s} ({k:<4s}): {stats[k]['mean']:.4f} ± {stats[k]['std']:.4f}" for k in FEATURES if k in stats
    )


class StatsError(ValueError):
    """A statistics file is damaged or not one that prep wrote; the message names it."""


def save_stats(stats: Mapping[str, Any], path: str | Path) -> Path:
    """Write training statistics as JSON (usually `stats.json` beside the training file)."""
    return files.write_json(path, stats)


def load_stats(path: str | Path) -> dict[str, dict[str, float]]:
    """Read statistics written by `save_stats`; a missing file says which command makes it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training statistics (run `python -m aitunes_lib prep` to write them)")
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise StatsError(f"{path}: not a statistics file ({str(error).splitlines()[0][:120]}); "
                         "run `python -m aitunes_lib prep` to write it again") from error
    if not isinstance(stats, dict) or not stats or not all(isinstance(v, (dict, list)) for v in stats.values()):
        raise StatsError(f"{path}: not a statistics file written by prep; run `python -m aitunes_lib prep` to write it again")
    return stats


# The article's published table, for reproducing its ranking exactly.
ARTICLE_STATS = {
    "CMM": {"mean": 2.2715, "std": 0.4831}, "LM": {"mean": 2.0305, "std": 0.5386}, "CENT": {"mean": 0.3042, "std": 0.0891},
}


def ndm(
    values: Mapping[str, float],
    stats: Mapping[str, Mapping[str, float]],
    variant: str = "article",
    features_used: Sequence[str] = ARTICLE_FEATURES,
) -> float:
    """Normalized distance to the training mean.

    article: z_CMM² + z_LM² + ((CENT − mean_CENT) / std_CMM)², the article's sum of squares,
    slip included (centricity divided by CMM's standard deviation).
    corrected: √(Σ z²) over `features_used`, each by its own standard deviation.
    """
    if variant == "article":
        z = [
            (values["CMM"] - stats["CMM"]["mean"]) / stats["CMM"]["std"],
            (values["LM"] - stats["LM"]["mean"]) / stats["LM"]["std"],
            (values["CENT"] - stats["CENT"]["mean"]) / stats["CMM"]["std"],
        ]
        return float(sum(v * v for v in z))
    if variant == "corrected":
        z = [(values[f] - stats[f]["mean"]) / stats[f]["std"] for f in features_used]
        return float(math.sqrt(sum(v * v for v in z)))
    raise ValueError(f"unknown variant {variant!r}: choose one of {VARIANTS}")


# --------------------------------------------------------------------------- checks the article lacked


def _bar_texts(body: str) -> list[str]:
    from aitunes_lib.abc import iter_bars

    return [" ".join(bar.split()) for bar in iter_bars(body)]


def rhythm_validity(score: "music21.stream.Stream", meter_quarters: float = 4.0) -> dict[str, Any]:
    """Share of interior bars whose length equals the meter; the first and last bars may be
    partial (pickup, ending) and are reported, not failed."""
    from aitunes_lib.abc import measures

    lengths = [float(m.duration.quarterLength) for m in measures(score)]
    interior = lengths[1:-1]
    wrong = [i + 1 for i, q in enumerate(interior) if abs(q - meter_quarters) > 1e-9]
    return {
        "bars": len(lengths),
        "rhythm_ok": (1 - len(wrong) / len(interior)) if interior else (1.0 if lengths else math.nan),
        "bad_bars": wrong,
        "partial_ends": [i for i in (0, len(lengths) - 1) if lengths and abs(lengths[i] - meter_quarters) > 1e-9],
    }


class TrainingBars:
    """The training songs' bars, for novelty: verbatim copies and shared 4-bar n-grams."""

    def __init__(self, bodies: Iterable[str], n: int = 4):
        self.n = n
        self.songs = [_bar_texts(body) for body in bodies]
        self.ngrams = {tuple(bars[i : i + n]) for bars in self.songs for i in range(len(bars) - n + 1)}
        self.index: dict[str, list[tuple[int, int]]] = {}
        for s, bars in enumerate(self.songs):
            for i, bar in enumerate(bars):
                self.index.setdefault(bar, []).append((s, i))

    def longest_copy(self, bars: Sequence[str]) -> int:
        """The longest run of consecutive bars found verbatim, in order, in one training song."""
        best = 0
        runs: dict[tuple[int, int], int] = {}  # (song, bar) where a run ends -> its length
        for bar in bars:
            current = {}
            for s, i in self.index.get(bar, ()):
                current[(s, i)] = runs.get((s, i - 1), 0) + 1
            runs = current
            best = max(best, max(runs.values(), default=0))
        return best

    def shared_ngrams(self, bars: Sequence[str]) -> float:
        """Share of the candidate's n-bar windows that occur in some training song."""
        grams = [tuple(bars[i : i + self.n]) for i in range(len(bars) - self.n + 1)]
        return sum(g in self.ngrams for g in grams) / len(grams) if grams else math.nan


def repetition(bars: Sequence[str]) -> float:
    """Share of distinct bars (1 = no bar repeats; low values loop one phrase)."""
    return len(set(bars)) / len(bars) if bars else math.nan


def evaluate(
    candidate: "Song | str",
    stats: Mapping[str, Mapping[str, float]] | None = None,
    training: TrainingBars | None = None,
    variant: str = "article",
    meter_quarters: float = 4.0,
    reference: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Every feature and check of one candidate (a `Song`, or ABC text); never raises.

    With a `reference` (the real songs' feature values), also the song-level features and
    `realism`, read from the same parse.

    A candidate music21 cannot parse, or one past `abc.limits_problem`'s limits (absurd
    lengths or meters, not ABC at all), comes back with `valid=False` and the reason. Chord
    names music21 cannot read are listed in `unknown_chords` and named in the reason.
    """
    from aitunes_lib.abc import limits_problem, parse_abc, split_header, unknown_chords
    from aitunes_lib.song import Song

    text = candidate.abc if isinstance(candidate, Song) else candidate  # ABC text keeps its own L: and K:
    context = candidate.context if isinstance(candidate, Song) else {}
    row: dict[str, Any] = {"valid": False, "reason": "", "notes": 0}
    if not isinstance(text, str):
        row["reason"] = f"not ABC text but {type(text).__name__}"
        return row
    problem = limits_problem(text)
    if problem:
        row["reason"] = problem
        return row
    try:
        score = parse_abc(text)
    except Exception as error:  # noqa: BLE001 - a bad candidate is a row, not a crash
        row["reason"] = f"does not parse: {type(error).__name__}: {str(error).strip().splitlines()[0][:200] if str(error).strip() else ''}"
        return row
    notes = note_array(score, variant)
    events = note_events(score)
    row.update(features(notes, events, variant))
    row["notes"] = int(len(notes))
    row["chord_fit"] = chord_fit(score)
    row.update(rhythm_validity(score, meter_quarters))
    bars = _bar_texts(split_header(text)[1])
    row["distinct_bars"] = repetition(bars)
    if training is not None:
        row["longest_copy"] = training.longest_copy(bars)
        row["shared_4bar"] = training.shared_ngrams(bars)
    reasons = []
    if len(notes) == 0:
        reasons.append("no notes")
    elif len(notes) == 1:
        reasons.append("one note: CMM undefined")
    if len(events.chords) == 0:
        reasons.append("no chord symbols: CONS and HC undefined")
    unknown = unknown_chords(score)
    row["unknown_chords"] = ", ".join(dict.fromkeys(unknown))
    if unknown:
        reasons.append(f"unknown chord symbols, not counted: {row['unknown_chords'][:120]}")
    row["valid"] = len(notes) > 0
    if stats is not None and row["valid"]:
        try:
            row["NDM"] = ndm(row, stats, variant)
        except (KeyError, ZeroDivisionError) as error:
            reasons.append(f"NDM: {error}")
    if context.get("prefix_quarters") is not None and row["valid"]:
        row.update(continuation(score, float(context["prefix_quarters"])))
    if reference is not None and row["valid"]:
        shape = song_features(score)
        row.update(shape, realism=realism(shape, reference))
    row["reason"] = "; ".join(reasons)
    return row


def rank(
    songs: "Sequence[Song | str]",
    stats: Mapping[str, Mapping[str, float]] = ARTICLE_STATS,
    training: TrainingBars | None = None,
    variant: str = "article",
    reference: Mapping[str, Sequence[float]] | None = None,
) -> "pd.DataFrame":
    """One row per candidate, best first (invalid last): its features, NDM, checks and reasons.

    With a `reference` (the real songs' values, `stats.json`'s "realism"), each row also gets
    the song-level features and `realism`, and the order is by realism, most real-sounding
    first; without one, by the article's NDM, lowest first. NDM is a column either way.

    `candidate` is the song's candidate number (its position when it has none), `task_kept`
    and `violations` say whether it kept its task, and `song` holds the `Song` itself with
    its scores attached (`table.song.iloc[0]` is the best). A phrase continuation (a song
    whose context says where the user's bars end) also gets `continuation`'s columns.
    """
    import pandas as pd

    from aitunes_lib.song import Song

    rows = []
    for position, item in enumerate(songs):
        song = item if isinstance(item, Song) else Song.from_abc(item)
        scores = evaluate(item, stats, training, variant, reference=reference)
        number = song.candidate if song.candidate is not None else position
        rows.append({"candidate": number, "task": song.task, **scores, **({"form": song.context["form"]} if "form" in song.context else {}),
                     "task_kept": not song.violations,
                     "violations": "; ".join(song.violations), "song": song.with_scores(**scores)})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["candidate", "task", "valid", "NDM", "reason", "task_kept", "violations", "song"])
    if "NDM" not in table:
        table["NDM"] = math.nan
    if reference is not None:
        if "realism" not in table:
            table["realism"] = math.nan
        order, ascending = ["valid", "task_kept", "realism", "NDM"], [False, False, False, True]
    else:
        order, ascending = ["valid", "task_kept", "NDM"], [False, False, True]
    return table.sort_values(order, ascending=ascending, na_position="last").reset_index(drop=True)


# --------------------------------------------------------------------------- the phrase and chord tasks

# Krumhansl & Kessler's key profiles (probe-tone ratings, C major and C minor).
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_KEY_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def _melody_and_chords(song: "str | music21.stream.Stream") -> tuple[NoteEvents, list[tuple[float, int]]]:
    """The melody's notes (ties merged) and every chord change as (onset, pitch-class mask; 0 for N.C.)."""
    import music21 as m21

    from aitunes_lib.abc import chord_pitch_classes, timeline

    score = _score(song)
    changes = [(float(at), pc_mask(chord_pitch_classes(e) or ()))
               for at, e in timeline(score) if isinstance(e, m21.harmony.Harmony)]
    return note_events(score), changes


def chord_fit(song: "str | music21.stream.Stream") -> float:
    """Σ time on chord tones / Σ time under a chord: the duration-weighted share of melody time
    whose pitch class belongs to the chord symbol sounding at that moment (a held note is split
    where the chord changes; time before the first chord or under N.C. is left out). NaN: none."""
    events, changes = _melody_and_chords(song)
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


# --------------------------------------------------------------------------- song-level features and realism
#
# NDM compares three tonality features with the training mean, so a bland, stepwise
# candidate scores as well as a real song. These features describe what a listener hears
# (form, ending, harmony, rhythm), and `realism` asks how typical each value is of real
# OpenEWLD songs: the log-density of the value under the training songs' distribution.

SONG_FEATURES = (
    "bars", "notes_per_bar", "pitch_range", "pc_entropy", "in_scale", "steps", "leaps", "repeated_notes",
    "mean_interval", "duration_entropy", "offbeat", "rests", "chords_per_bar", "distinct_chords", "chord_tones",
    "repeated_bars", "repeated_phrases", "melody_repeated_bars", "melody_repeated_phrases", "ends_on_tonic", "ends_on_tonic_chord",
)
BINARY_FEATURES = ("ends_on_tonic", "ends_on_tonic_chord")
MAJOR_SCALE = frozenset({0, 2, 4, 5, 7, 9, 11})


def _entropy(weights: np.ndarray) -> float:
    """Shannon entropy in bits of a histogram (NaN when empty)."""
    total = weights.sum()
    if total <= 0:
        return math.nan
    p = weights[weights > 0] / total
    return float(-(p * np.log2(p)).sum())


def _bar_keys(score: "music21.stream.Stream") -> list[tuple]:
    """Each bar's content (notes with onsets and lengths, rests, chord symbols): equal keys, equal bars."""
    import music21 as m21

    from aitunes_lib.abc import measures

    keys = []
    for measure in measures(score):
        items = []
        for element in sorted(measure.recurse().notesAndRests, key=lambda e: e.getOffsetInHierarchy(measure)):
            at = round(float(element.getOffsetInHierarchy(measure)), 4)
            if isinstance(element, m21.harmony.Harmony):
                items.append((at, "chord", element.figure))
            elif element.isNote:
                items.append((at, element.pitch.midi, round(float(element.quarterLength), 4), element.tie is not None))
            elif element.isRest:
                items.append((at, "rest", round(float(element.quarterLength), 4)))
        keys.append(tuple(items))
    return keys


def _repeats(keys: Sequence[Hashable], start: int) -> tuple[float, float]:
    """The share of bars equal to an earlier bar, and of 4-bar phrases (from bar `start`) equal
    to an earlier phrase (NaN under 4 bars)."""
    bars = sum(key in keys[:i] for i, key in enumerate(keys)) / len(keys)
    phrases = [tuple(keys[i:i + 4]) for i in range(start, len(keys) - 3, 4)]
    return bars, sum(p in phrases[:i] for i, p in enumerate(phrases)) / len(phrases) if phrases else math.nan


def song_features(song: "Song | str | music21.stream.Stream") -> dict[str, float]:
    """What a listener hears of a whole song, one number each (see `SONG_FEATURES`); NaN where
    undefined (no notes, no chords). The key is C (major), as prep writes every song.

    - pitch use: range, pitch-class entropy (bits, time-weighted), share of time on the C major scale;
    - intervals: shares of steps (1–2 semitones), leaps (5 or more) and repeated notes; the mean size;
    - rhythm: entropy of note lengths (bits), share of onsets off the beat, share of time resting;
    - harmony: chord symbols per bar, distinct chord symbols, share of melody time on chord tones;
    - form: share of bars that repeat an earlier bar, share of 4-bar phrases that repeat an earlier one,
      each with the chord symbols and for the melody alone (as the song is sung; the issue's figures);
    - ending: the last note is the tonic; the last chord symbol is the tonic triad (C).
    """
    import music21 as m21

    from aitunes_lib.abc import chord_pitch_classes, measures, timeline

    score = _score(song)
    events = note_events(score)
    bars = measures(score)
    row: dict[str, float] = {name: math.nan for name in SONG_FEATURES}
    row["bars"] = float(len(bars))
    if not bars:
        return row
    pitches, lengths = events.pitch, events.duration
    rest_time = sum(float(e.quarterLength) for _, e in timeline(bars) if e.isRest and not isinstance(e, m21.harmony.Harmony))
    total = sum(float(b.duration.quarterLength) for b in bars)
    chords = [e for _, e in timeline(bars) if isinstance(e, m21.harmony.Harmony)]
    row["chords_per_bar"] = len(chords) / len(bars)
    row["distinct_chords"] = float(len({c.figure for c in chords}))
    row["rests"] = rest_time / total if total else math.nan
    keys = _bar_keys(bars)
    start = 1 if len(bars) > 1 and bars[0].duration.quarterLength < bars[1].duration.quarterLength else 0  # after a pickup
    row["repeated_bars"], row["repeated_phrases"] = _repeats(keys, start)
    tunes = [tuple(item for item in key if item[1] != "chord") for key in keys]  # the melody alone, as it is sung
    row["melody_repeated_bars"], row["melody_repeated_phrases"] = _repeats(tunes, start)
    last_chord = next((c for c in reversed(chords)), None)
    row["ends_on_tonic_chord"] = float(last_chord is not None and not isinstance(last_chord, m21.harmony.NoChord)
                                       and chord_pitch_classes(last_chord) == frozenset({0, 4, 7}))
    if not len(pitches):
        return row
    row["notes_per_bar"] = len(pitches) / len(bars)
    row["pitch_range"] = float(pitches.max() - pitches.min())
    pcs = pitches % 12
    row["pc_entropy"] = _entropy(np.bincount(pcs, weights=lengths, minlength=12))
    row["in_scale"] = float(lengths[np.isin(pcs, list(MAJOR_SCALE))].sum() / lengths.sum())
    _, counts = np.unique(np.round(lengths, 4), return_counts=True)
    row["duration_entropy"] = _entropy(counts.astype(float))
    beat = np.round(events.onset, 4) % 1.0
    row["offbeat"] = float((beat > 1e-6).mean())
    row["ends_on_tonic"] = float(pcs[-1] == 0)
    row["chord_tones"] = chord_fit(score)
    if len(pitches) > 1:
        steps = np.abs(np.diff(pitches))
        row["steps"] = float(((steps >= 1) & (steps <= 2)).mean())
        row["leaps"] = float((steps >= 5).mean())
        row["repeated_notes"] = float((steps == 0).mean())
        row["mean_interval"] = float(steps.mean())
    return row


def song_form(song: "Song | str | music21.stream.Stream", section_bars: int = 8) -> str:
    """The song's form in sections of `section_bars` bars after any pickup: a section takes the
    letter of the first earlier one it shares at least half its bars with; a form played k
    times (an unfolded repeat) is written `AABA*2`. Leftover bars are left out.

    >>> song_form("|".join(["c4", "d4"] * 4 + ["e4"] * 8 + ["c4", "d4"] * 4) + "|", 8)
    'ABA'
    """
    from aitunes_lib.abc import measures

    score = _score(song)
    bars = measures(score)
    pickup = len(bars) > 1 and bars[0].duration.quarterLength < bars[1].duration.quarterLength
    return form_of_bars(_bar_keys(bars), pickup, section_bars)


def form_of_bars(keys: Sequence[Hashable], pickup: bool = False, section_bars: int = 8) -> str:
    """The form of bars given as comparable keys (a pickup first, if `pickup`), by `song_form`'s
    rule; the one place it is written, for music21 bars and for bars read from text alike.

    >>> form_of_bars(["c", "d"] * 4 + ["e"] * 8 + ["c", "d"] * 4)
    'ABA'
    """
    start = 1 if pickup else 0
    sections = [keys[i:i + section_bars] for i in range(start, len(keys) - section_bars + 1, section_bars)]
    letters: list[str] = []
    for i, section in enumerate(sections):
        same = next((letters[j] for j in range(i) if sum(a == b for a, b in zip(section, sections[j])) * 2 >= section_bars), None)
        letters.append(same or "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[len(set(letters)) % 26])
    form = "".join(letters)
    for passes in (4, 3, 2):
        if form and len(form) % passes == 0 and form == form[: len(form) // passes] * passes:
            core = form[: len(form) // passes]
            names: dict[str, str] = {}
            return "".join(names.setdefault(c, "ABCDEFGH"[len(names) % 8]) for c in core) + f"*{passes}"
    return form


def realism_reference(rows: Iterable[Mapping[str, float]]) -> dict[str, list[float]]:
    """The training songs' values of every song feature (kept in `stats.json` under "realism")."""
    table = list(rows)
    return {name: [round(float(r[name]), 6) for r in table if r.get(name) == r.get(name) and name in r]
            for name in SONG_FEATURES}


def realism(row: Mapping[str, float], reference: Mapping[str, Sequence[float]]) -> float:
    """How typical a song's features are of the reference songs: the mean over features of
    log(density at the value / density at the reference's mode), each floored at log(1e-3).

    0 means every feature sits at the most common real value; −6.9 means every one is far
    outside. Densities are Gaussian KDEs (Scott's bandwidth); the 0/1 features use their
    frequencies. A feature the song lacks (NaN) counts as unusual when real songs have it.
    """
    scores = []
    for name, values in reference.items():
        values_array = np.asarray(values, dtype=float)
        if len(values_array) < 2:
            continue
        value = row.get(name, math.nan)
        if name in BINARY_FEATURES:
            share = float(values_array.mean())
            p = share if value == 1 else 1 - share
            scores.append(math.log(max(p / max(share, 1 - share), 1e-3)))
            continue
        if value != value:
            scores.append(math.log(1e-3))
            continue
        grid = np.linspace(values_array.min(), values_array.max(), 128)
        peak = kde(values_array, grid).max()
        density = float(kde(values_array, np.array([float(value)]))[0])
        scores.append(math.log(max(density / peak, 1e-3)) if peak > 0 else 0.0)
    return float(np.mean(scores)) if scores else math.nan


# --------------------------------------------------------------------------- distributions


def kde(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Gaussian kernel density with Scott's bandwidth."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.zeros_like(at)
    spread = values.std(ddof=1) if len(values) > 1 else 0.0
    bandwidth = max(spread * len(values) ** (-1 / 5), 1e-3 * max(1.0, abs(values).max()))
    z = (at[:, None] - values[None, :]) / bandwidth
    return np.exp(-0.5 * z * z).sum(axis=1) / (len(values) * bandwidth * math.sqrt(2 * math.pi))


def overlap_area(a: Sequence[float], b: Sequence[float], points: int = 512) -> float:
    """Area under min(KDE(a), KDE(b)): 1 when two samples share one distribution, 0 when
    they do not overlap (Yang & Lerch's mgeval comparison). NaN if either is empty."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return math.nan
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    pad = (hi - lo) * 0.5 + 1e-6
    xs = np.linspace(lo - pad, hi + pad, points)
    return float(np.trapezoid(np.minimum(kde(a, xs), kde(b, xs)), xs))


def compare_distributions(
    candidates: "pd.DataFrame", stats: Mapping[str, Mapping[str, Any]], features_used: Sequence[str] = FEATURES
) -> dict[str, float]:
    """Overlap area, per feature, between the valid candidates' values and the training
    songs' values (kept in `stats` by `training_stats`)."""
    valid = candidates[candidates["valid"]] if "valid" in candidates else candidates
    return {
        name: overlap_area(valid[name].to_numpy(dtype=float), stats[name].get("values", []))
        for name in features_used
        if name in valid and name in stats
    }
