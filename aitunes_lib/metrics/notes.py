"""Note arrays: the melody as `[[midi_pitch, sixteenths], ...]` (the article's), as `NoteEvents`
(time and harmony), and the article's 16th-note grid."""

from __future__ import annotations

import collections.abc
import dataclasses
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    import music21

    from aitunes_lib.song import Song

VARIANTS = ("article", "corrected")


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


def _concat(arrays: Sequence[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if len(arrays) else np.zeros(0, dtype)
