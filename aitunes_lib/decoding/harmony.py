"""Harmony first: each candidate's chord chart, planned before its melody.

A chart gives every bar of the form a chord on beat 1 and, where it changes, one on beat 3.
It is drawn from how the training songs' charts move (`Tables.progressions`: which chord
comes before which, counted half-bar by half-bar; `Tables.holds`: how often a chord holds),
walking backward from where each phrase must arrive, so that the harmony has a direction:

- the middle: the fourth bar of an 8-bar section ends on a chord drawn as the real 8-bar blocks
  end their fourth bar (`Tables.phrase_chords`: I 17%, V7 16%, VI7 7%, II7 5%, ...). Always V7
  there (a half cadence in every section), with I always opening bar 7, put more G7 and C in
  the charts than real songs have (14% and 15% of the chords, against 9% and 12%);
- the arrival: the seventh bar opens on a chord drawn the same way (I 24%, V7 15%, ii7 9%, ...),
  and the eighth walks back to the tonic (a turnaround, most often through V7, as the real
  charts' do); the next section opens on a chord that follows V7 in the real charts;
- the final cadence: the bar before the song's last bar ends on the dominant of its ending
  chord, and the last bar is the ending chord (`SongPlan.ending`).

A section that returns brings its chart back (it is drawn once per letter). Between the
anchors, each half-bar holds its chord with the real songs' odds, or changes to a chord that
the real charts put before the next one, weighed by how often it follows the chord before it.
"""

from __future__ import annotations

import functools

import numpy as np

from aitunes_lib.abc import chord_pitch_classes
from aitunes_lib.decoding.tables import Tables
from aitunes_lib.metrics.sequences import root_of

NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@functools.lru_cache(maxsize=None)
def _moves(progressions: tuple[tuple[str, int], ...]) -> tuple[dict, dict]:
    """(chords before each chord, chords after each chord), as {chord: {other: count}}."""
    before: dict[str, dict[str, int]] = {}
    after: dict[str, dict[str, int]] = {}
    for pair, count in progressions:
        a, b = pair.split(" ")
        before.setdefault(b, {})[a] = count
        after.setdefault(a, {})[b] = count
    return before, after


def dominant_of(chord: str) -> str:
    """The dominant seventh a fifth above a chord's root (`"C"` → `"G7"`, `"Am"` → `"E7"`)."""
    root = root_of(chord)
    return NAMES[(root + 7) % 12] + "7" if root is not None else "G7"


def tonic_of(chord: str) -> str:
    """The plain triad of an ending chord, the tonic phrases arrive on (`"C6"` → `"C"`, `"Am7"` → `"Am"`)."""
    root = root_of(chord)
    if root is None:
        return "C"
    tones = chord_pitch_classes(chord) or frozenset()
    return NAMES[root] + ("m" if (root + 3) % 12 in tones and (root + 4) % 12 not in tones else "")


def tonic_endings(endings: dict[str, int]) -> dict[str, int]:
    """The real songs' endings that land on the tonic over a tonic chord (C, C6, Cmaj7, C69 with C
    on top; about nine in ten of them): a song ends at home. The rest (C over G7, E over C, songs
    that end off the tonic) read as unfinished when a song is new.

    >>> tonic_endings({"C:C": 9, "C6:C": 2, "G7:C": 1, "C:E": 1, "Am:A": 1})
    {'C:C': 9, 'C6:C': 2}
    """
    def home(ending: str) -> bool:
        chord, _, note = ending.partition(":")
        tones = chord_pitch_classes(chord) or frozenset()
        return note.upper() == "C" and chord[:1] == "C" and chord[1:2] not in ("#", "b") and {0, 4, 7} <= tones and 3 not in tones

    return {ending: count for ending, count in endings.items() if home(ending)} or dict(endings)


# Songs differ in how fast their harmony moves: each chart draws its own odds of holding a
# chord, around the real songs' (`Tables.holds`), this many logits apart (a standard deviation).
HOLD_SPREAD = 1.5


class ChartDrawer:
    """Draws charts from one set of tables."""

    def __init__(self, tables: Tables):
        self.before, self.after = _moves(tuple(tables.progressions.items()))
        self.holds = dict(tables.holds)  # the real songs' odds; each chart draws its own around them
        self.starts = dict(tables.starts)
        self.phrases = {kind: {c: n for c, n in counts.items() if c in self.before} for kind, counts in tables.phrase_chords.items()}

    def arrival(self, kind: str, tonic: str, rng: np.random.Generator) -> str:
        """Where a phrase arrives ("middle": the end of bar 4; "arrival": the start of bar 7): a chord
        drawn as the real 8-bar blocks reach there (C major), else V7 and I (and always in minor)."""
        options = self.phrases.get(kind) if tonic == "C" else None
        return (options and self._pick(rng, options)) or (dominant_of(tonic) if kind == "middle" else tonic)

    @staticmethod
    def _pick(rng: np.random.Generator, options: dict[str, float]) -> str | None:
        """One chord, drawn by the real charts' counts (`options`)."""
        names = list(options)
        weights = np.array([options[n] for n in names], dtype=float)
        if not names or weights.sum() <= 0:
            return None
        return names[int(rng.choice(len(names), p=weights / weights.sum()))]

    def fill(self, slots: int, anchors: dict[int, str], rng: np.random.Generator, first: dict[str, float] | None,
             last: str, holds: dict[str, float]) -> list[str]:
        """A chain of half-bar chords, walking backward from `last` (what follows the chain) through
        the `anchors`; the first half-bar is weighed by `first` (chords that may open it); `holds`
        is this chart's harmonic rhythm."""
        chart: list[str] = [""] * slots
        following = last
        for i in range(slots - 1, -1, -1):
            if i in anchors:
                chart[i] = following = anchors[i]
                continue
            kind = "bar" if (i + 1) % 2 == 0 else "half"  # the change, if any, falls on the next half-bar
            before = dict(self.before.get(following, {}))
            ahead = anchors.get(i - 1) if i > 0 else None  # a fixed chord before: weigh by what follows it
            if ahead is not None:
                before = {c: n * self.after.get(ahead, {}).get(c, 0.0) for c, n in before.items()}
            if i == 0 and first is not None:
                before = {c: n * first.get(c, 0.0) for c, n in before.items()}
            hold = holds.get(kind, 0.5)
            if i == slots - 1 and last in anchors.values():  # the last half-bar moves into what follows when that is an anchor's chord
                hold = 0.0
            if rng.random() < hold or not any(v > 0 for v in before.values()):
                chart[i] = following
            else:
                chart[i] = self._pick(rng, {c: n for c, n in before.items() if c != following}) or following
            following = chart[i]
        return chart

    def section(self, bars: int, tonic: str, rng: np.random.Generator, opening: bool, holds: dict[str, float]) -> list[str]:
        """A section's half-bars: the chord its first phrase reaches at the end of its first half,
        the chord its second-to-last bar opens on (`arrival`), and a way back to I from there; the
        first section opens on I, another on a chord that follows V7 in the real charts."""
        anchors = {0: tonic} if opening else {}
        if bars >= 4:
            anchors[2 * (bars // 2) - 1] = self.arrival("middle", tonic, rng)
        if bars >= 6:
            anchors[2 * (bars - 2)] = self.arrival("arrival", tonic, rng)
        first = None if opening else self.after.get(dominant_of(tonic))
        return self.fill(2 * bars, anchors, rng, first, tonic, holds)

    def chart(self, sections: str, section_bars: int, steps: tuple, ending: str, rng: np.random.Generator) -> tuple:
        """Per bar of the form: (chord on beat 1, chord on beat 3 or None where the first holds)."""
        closing = ending.partition(":")[0]
        tonic = "Am" if tonic_of(closing) == "Am" else "C"  # C major (as prep writes every song) or A minor, by the ending
        shift = float(rng.normal(0.0, HOLD_SPREAD))  # this song's harmonic rhythm
        holds = {kind: 1 / (1 + np.exp(-(np.log(p / (1 - p)) + shift))) for kind, p in self.holds.items()}
        letters: dict[str, list[str]] = {}
        halves: list[str] = []
        for s, letter in enumerate(sections):
            if letter not in letters:
                letters[letter] = self.section(section_bars, tonic, rng, s == 0, holds)
            halves += letters[letter]
        total = len(steps)
        halves = halves[: 2 * total]
        if len(halves) < 2 * total:  # closing bars and endings after the sections: walk back from the cadence
            more = 2 * total - len(halves)
            halves += self.fill(more, {more - 1: dominant_of(tonic)} if more >= 2 else {}, rng,
                                self.after.get(dominant_of(tonic)), closing, holds)
        if steps and steps[-1] == "cadence":  # the last bar: the ending's chord; the bar before ends on its dominant
            halves[-2:] = [closing, closing]
            if total >= 2:
                halves[-3] = dominant_of(tonic_of(closing))
        chart = [(halves[2 * b], halves[2 * b + 1] if halves[2 * b + 1] != halves[2 * b] else None) for b in range(total)]
        for b, step in enumerate(steps):  # a copied bar brings its own chords (a bar repeated is mostly heard over the same harmony)
            if isinstance(step, tuple) and step[1] < b:
                chart[b] = chart[step[1]]
        return tuple(chart)


def one_chord_a_bar(chart: tuple, cadence: bool) -> tuple:
    """A chart for 3/4, where a bar takes one chord: the half-bar's when the bar's first only
    holds on, else its first; the bar before a cadence keeps its dominant.

    >>> one_chord_a_bar((("C", None), ("C", "F"), ("Dm", "G7"), ("C", None)), cadence=True)
    (('C', None), ('F', None), ('G7', None), ('C', None))
    """
    sounding, single = None, []
    for b, (first, second) in enumerate(chart):
        chord = second if second and (first == sounding or cadence and b == len(chart) - 2) else first
        single.append((chord, None))
        sounding = chord
    return tuple(single)

