"""Harmony first: each candidate's chord chart, planned before its melody.

A chart gives every bar of the form a chord on beat 1 and, where it changes, one on beat 3.
It is drawn from how the training songs' charts move (`Tables.progressions`: which chord
comes before which, counted half-bar by half-bar; `Tables.holds`: how often a chord holds),
drawn forward toward where each phrase must arrive, so that the harmony has a direction:

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
anchors, each half-bar holds its chord with the real songs' odds or moves as the real charts
move, given the anchors it must reach (`ChartDrawer.fill`). Walked backward instead (each chord
drawn among those that real charts put before the next), the charts over-used what comes before
the anchors (G7 before Dm7, D7 before C): in 300 charts their dominant sevenths went to their
tonic 58% of the time; drawn forward, 62% (the real charts' moves: 68%).
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


# Any chord may follow any other, this rarely (against counts of 2 to 1,562): a chain always reaches its anchors.
SMOOTH = 1e-4

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
        named = {c for pair in tables.progressions for c in pair.split(" ")} | set(self.starts)
        named |= {e.partition(":")[0] for e in tables.endings} | {NAMES[r] + q for r in range(12) for q in ("", "m", "7")}
        self.names = sorted(named)
        self.index = {c: i for i, c in enumerate(self.names)}
        counts = np.full((len(self.names),) * 2, SMOOTH)
        np.fill_diagonal(counts, 0.0)  # a change moves to another chord
        for pair, count in tables.progressions.items():
            a, b = pair.split(" ")
            counts[self.index[a], self.index[b]] += count
        self.moves = counts / counts.sum(axis=1, keepdims=True)  # where each chord goes when it changes

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
        """A chain of half-bar chords through the `anchors` into `last` (what follows the chain).

        It is drawn forward, as real charts move: each half-bar holds its chord with this chart's
        odds (`holds`) or changes as the real charts change (`Tables.progressions`), given that it
        must reach every anchor ahead (forward sampling on backward messages, so a chord is never
        picked only because it precedes where the chain must go). The first half-bar is weighed by
        `first` (the chords that may open it)."""
        n, index = len(self.names), self.index

        def at(chord: str) -> np.ndarray:
            one = np.zeros(n)
            one[index[chord]] = 1.0
            return one

        def hold(i: int) -> float:  # the odds that half-bar i's chord holds on into half-bar i + 1
            if i == slots - 1 and last in anchors.values():  # the last half-bar moves into an anchor's chord
                return 0.0
            return holds.get("bar" if (i + 1) % 2 == 0 else "half", 0.5)

        reach = [np.zeros(n)] * slots + [at(last)]  # reach[i]: how likely each chord there reaches what is fixed after it
        for i in range(slots - 1, -1, -1):
            ahead = hold(i) * reach[i + 1] + (1 - hold(i)) * (self.moves @ reach[i + 1])
            reach[i] = ahead * at(anchors[i]) if i in anchors else ahead
            reach[i] /= reach[i].max() or 1.0
        opening = np.array([first.get(c, 0.0) for c in self.names]) if first else np.ones(n)
        weights = opening * reach[0] if (opening * reach[0]).any() else reach[0]
        chart = [int(rng.choice(n, p=weights / weights.sum()))]
        for i in range(1, slots):
            x = chart[-1]
            weights = (1 - hold(i - 1)) * self.moves[x]
            weights[x] += hold(i - 1)  # holds on (a change never stays: the moves' diagonal is 0)
            weights *= reach[i]
            chart.append(int(rng.choice(n, p=weights / weights.sum())))
        return [self.names[x] for x in chart]

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
                if b > 0 and steps[b - 1] == "free" and step[1] != b - 1:  # the free bar before it leads into them as real charts do
                    chart[b - 1] = self.leading(chart[b - 1], chart[b][0], rng)
        return tuple(chart)

    def leading(self, bar: tuple, target: str, rng: np.random.Generator) -> tuple:
        """A bar whose last chord goes to `target` as real charts go (a move they make), else with
        its second half redrawn from the chords real charts put before `target`."""
        first, second = bar
        last = second or first
        if last == target or self.after.get(last, {}).get(target):
            return bar
        options = {c: n * (1 + self.after.get(first, {}).get(c, 0)) for c, n in self.before.get(target, {}).items()}
        chord = self._pick(rng, options)
        return bar if chord is None else (first, chord if chord != first else None)


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

