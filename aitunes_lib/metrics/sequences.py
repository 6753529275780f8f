"""What a musician hears in order, not on average: harmony's motion and the melody's patterns.

`theory_rates` gives music-theory rates of one song (in C, as prep writes every song):

- `dominant_resolution`: of the dominant-seventh chords followed by another chord, the share
  whose next root lies a fourth above (G7 → C, A7 → Dm: a dominant resolving to its tonic);
- `fifth_motion`: of the chord changes, the share whose root moves by a fourth or a fifth;
- `diatonic_chords`: the share of chord time on chords whose tones all lie in C major;
- `strong_beat_changes`: of the chord symbols, the share placed on beat 1 or 3 of a bar;
- `breathing_phrases`: of the 4-bar phrases, the share whose last bar ends on a note of at
  least a half or on a rest (a phrase that breathes before the next begins).

`sequence_tokens` gives the bags a sequence judge classifies (`benchmarks/bench_judges.py`):
1- to 3-grams of melodic intervals, each bar's rhythm (its onsets in eighths), chord roots
relative to the key with their motion and quality, and the melody's degree over the sounding
chord's root on strong beats.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aitunes_lib.metrics.notes import _score

if TYPE_CHECKING:
    import music21

    from aitunes_lib.metrics.notes import NoteEvents
    from aitunes_lib.song import Song

C_MAJOR = frozenset({0, 2, 4, 5, 7, 9, 11})
_ROOT = re.compile(r"^([A-Ga-g])([#b♯♭-]?)")
_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass(frozen=True)
class ChordEvent:
    onset: float  # quarters from the start
    bar: int
    beat: float  # quarters from the bar's start
    length: float  # how long it sounds (to the next chord or the end)
    name: str
    root: int  # pitch class
    tones: frozenset[int]

    @property
    def dominant(self) -> bool:
        """A dominant seventh: major third and minor seventh above the root."""
        return {(self.root + 4) % 12, (self.root + 10) % 12} <= self.tones and (self.root + 3) % 12 not in self.tones

    @property
    def quality(self) -> str:
        return chord_quality(self.root, self.tones)


def chord_quality(root: int, tones: frozenset[int]) -> str:
    """A chord's third and seventh as a short code: "M", "m", "x" (neither third), then "7", "M7" or nothing.

    >>> chord_quality(7, frozenset({7, 11, 2, 5})), chord_quality(9, frozenset({9, 0, 4}))
    ('M7', 'm')
    """
    third = "M" if (root + 4) % 12 in tones else "m" if (root + 3) % 12 in tones else "x"
    seventh = "7" if (root + 10) % 12 in tones else "M7" if (root + 11) % 12 in tones else ""
    return third + seventh


def root_of(name: str) -> int | None:
    """The root's pitch class of a chord symbol as written (`"Bb7"` → 10; a slash chord's own root)."""
    match = _ROOT.match(name.strip())
    if not match:
        return None
    shift = {"#": 1, "♯": 1, "b": -1, "♭": -1, "-": -1}.get(match.group(2), 0)
    return (_STEP[match.group(1).upper()] + shift) % 12


def _bars_and_chords(score: "music21.stream.Stream") -> tuple[list[tuple[float, float]], list[ChordEvent]]:
    import music21 as m21

    from aitunes_lib.abc import chord_pitch_classes, measures

    bars, found, at = [], [], 0.0
    for b, measure in enumerate(measures(score)):
        length = float(measure.duration.quarterLength)
        for element in measure.recurse().getElementsByClass(m21.harmony.Harmony):
            if isinstance(element, m21.harmony.NoChord):
                continue
            beat = float(element.getOffsetInHierarchy(measure))
            name = element.figure
            root = root_of(name)
            tones = chord_pitch_classes(element)
            if root is not None and tones:
                found.append((at + beat, b, beat, name, root, tones))
        bars.append((at, length))
        at += length
    found.sort()
    chords = [ChordEvent(o, b, beat, (found[i + 1][0] if i + 1 < len(found) else at) - o, name, root, tones)
              for i, (o, b, beat, name, root, tones) in enumerate(found)]
    return bars, chords


def theory_rates(song: "Song | str | music21.stream.Stream", events: "NoteEvents | None" = None) -> dict[str, float]:
    """The music-theory rates of one song (see the module's docstring); NaN where undefined
    (`events`: its notes, when a caller has read them already)."""
    from aitunes_lib.metrics.notes import note_events

    score = _score(song)
    bars, chords = _bars_and_chords(score)
    rates = {name: math.nan for name in RATES}
    changes = [(a, b) for a, b in zip(chords, chords[1:]) if a.root != b.root or a.quality != b.quality]
    resolving = [(a, b) for a, b in changes if a.dominant]
    if resolving:
        rates["dominant_resolution"] = sum((b.root - a.root) % 12 == 5 for a, b in resolving) / len(resolving)
    moving = [(a, b) for a, b in changes if a.root != b.root]
    if moving:
        rates["fifth_motion"] = sum((b.root - a.root) % 12 in (5, 7) for a, b in moving) / len(moving)
    total = sum(c.length for c in chords)
    if total:
        rates["diatonic_chords"] = sum(c.length for c in chords if c.tones <= C_MAJOR) / total
    if chords:
        rates["strong_beat_changes"] = sum(c.beat % 2 == 0 for c in chords) / len(chords)
    events = note_events(score) if events is None else events
    start = 1 if len(bars) > 1 and bars[0][1] < bars[1][1] else 0  # after a pickup
    phrase_ends = [bars[b] for b in range(start + 3, len(bars), 4)]
    if phrase_ends and len(events.onset):
        breathing = 0
        for at, length in phrase_ends:
            inside = [(o, d) for o, d in zip(events.onset, events.duration) if at <= o < at + length]
            last = max(inside, default=None)
            breathing += last is None or last[1] >= 2 or last[0] + last[1] < at + length - 1e-6
        rates["breathing_phrases"] = breathing / len(phrase_ends)
    return rates


RATES = ("dominant_resolution", "fifth_motion", "diatonic_chords", "strong_beat_changes", "breathing_phrases")


def coherence(rates: dict[str, float]) -> float:
    """How the harmony moves: the mean of `dominant_resolution` and `fifth_motion` (those defined; NaN: no chord change)."""
    values = [rates[k] for k in ("dominant_resolution", "fifth_motion") if rates.get(k) == rates.get(k) and k in rates]
    return sum(values) / len(values) if values else math.nan


def sequence_tokens(song: "Song | str | music21.stream.Stream") -> dict[str, Counter]:
    """Bags of the song's sequences (see the module's docstring), each a `Counter` of strings."""
    from aitunes_lib.metrics.notes import note_events

    score = _score(song)
    bars, chords = _bars_and_chords(score)
    events = note_events(score)
    pitches = [int(p) for p in events.pitch]
    steps = [b - a for a, b in zip(pitches, pitches[1:])]
    intervals = Counter()
    for n in (1, 2, 3):
        intervals.update("i" + ",".join(map(str, steps[i:i + n])) for i in range(len(steps) - n + 1))
    rhythm = Counter()
    for at, length in bars:
        onsets = [round((o - at) * 2) for o in events.onset if at <= o < at + length]
        rhythm["r" + ",".join(map(str, onsets))] += 1
    roots = Counter(f"c{c.root}{c.quality}" for c in chords)
    roots.update(f"m{(b.root - a.root) % 12}{b.quality}" for a, b in zip(chords, chords[1:]))
    degrees = Counter()
    starts = [c.onset for c in chords]
    for onset, pitch in zip(events.onset, pitches):
        bar = next(((at, length) for at, length in bars if at <= onset < at + length), None)
        if bar is None or (onset - bar[0]) % 2:
            continue  # strong beats only (1 and 3)
        k = bisect.bisect_right(starts, onset) - 1
        if k >= 0:
            degrees[f"d{(pitch - chords[k].root) % 12}{chords[k].quality}"] += 1
    return {"intervals": intervals, "rhythm": rhythm, "roots": roots, "degrees": degrees}
