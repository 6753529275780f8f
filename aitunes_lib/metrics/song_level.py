"""Song-level features and realism.

NDM compares three tonality features with the training mean, so a bland, stepwise
candidate scores as well as a real song. These features describe what a listener hears
(form, ending, harmony, rhythm), and `realism` asks how typical each value is of real
OpenEWLD songs: the log-density of the value under the training songs' distribution.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Hashable, Iterable, Mapping, Sequence

import numpy as np

from aitunes_lib.metrics.distributions import kde
from aitunes_lib.metrics.fit import chord_fit
from aitunes_lib.metrics.notes import NoteEvents, _score, note_events

if TYPE_CHECKING:
    import music21

    from aitunes_lib.song import Song

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


def song_features(song: "Song | str | music21.stream.Stream", events: "NoteEvents | None" = None,
                  chord_tones: float | None = None) -> dict[str, float]:
    """What a listener hears of a whole song, one number each (see `SONG_FEATURES`); NaN where
    undefined (no notes, no chords). The key is C (major), as prep writes every song.

    - pitch use: range, pitch-class entropy (bits, time-weighted), share of time on the C major scale;
    - intervals: shares of steps (1–2 semitones), leaps (5 or more) and repeated notes; the mean size;
    - rhythm: entropy of note lengths (bits), share of onsets off the beat, share of time resting;
    - harmony: chord symbols per bar, distinct chord symbols, share of melody time on chord tones;
    - form: share of bars that repeat an earlier bar, share of 4-bar phrases that repeat an earlier one,
      each with the chord symbols and for the melody alone (as the song is sung; the issue's figures);
    - ending: the last note is the tonic; the last chord symbol is the tonic triad (C).

    `events` and `chord_tones`, when a caller has read them from the same score already, are not read again.
    """
    import music21 as m21

    from aitunes_lib.abc import chord_pitch_classes, measures, timeline

    score = _score(song)
    events = note_events(score) if events is None else events
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
    row["chord_tones"] = chord_fit(score, events) if chord_tones is None else chord_tones
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
