"""What a song will be, decided before the first token: the user's settings and each candidate's draws.

`SongShape` is what a user (or a benchmark) sets: the form, the cadence, which levers are on
and how hard they lean. `draw_plans(shape, n, seed)` turns it into one `SongPlan` per
candidate: its form bar by bar, its ending, closing bars, pickup, range, rhythm and the aims
the levers steer toward, each drawn from the real songs' tables (`tables.json`) on its own
named random stream, so that switching one choice off leaves every other draw as it was.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from fractions import Fraction
from typing import Sequence

import numpy as np

from aitunes_lib import abc
from aitunes_lib.decoding.harmony import ChartDrawer, dominant_of, one_chord_a_bar, tonic_endings, tonic_of
from aitunes_lib.decoding.tables import Tables, load

SECTION_BARS = 8
MAX_SECTIONS = 8
MODES = ("major", "minor")
METERS = ("4/4", "2/2", "3/4", "6/8")  # what a song may be written in (`L:1/4`: a 6/8 bar is 3 quarters)


def bar_quarters(meter: str) -> Fraction:
    """A bar's length in quarters.

    >>> bar_quarters("3/4"), bar_quarters("6/8"), bar_quarters("2/2")
    (Fraction(3, 1), Fraction(3, 1), Fraction(4, 1))
    """
    top, bottom = meter.split("/")
    return Fraction(int(top) * 4, int(bottom))


class Stream(enum.IntEnum):
    """The random streams of a seed: each kind of draw takes its own (the numbers keep old seeds' songs)."""

    FORMS = 0  # drawn from the seed itself
    ENDINGS = 1
    MOTIFS = 2
    RANGES = 3
    MOVES = 4
    PACE = 5
    CHROMATIC = 6
    CHORD_TONES = 7
    RESTS = 8
    RETUNE = 9
    TAILS = 11
    TAILS_REPEATED = 12
    PICKUPS = 13
    RHYTHMS = 14
    VOLTAS = 15
    HARMONY = 16
    BREATHS = 17


def stream(seed: int | None, which: Stream) -> np.random.Generator:
    """The generator of one kind of draw for a seed (None: fresh entropy)."""
    if seed is None:
        return np.random.default_rng(None)
    return np.random.default_rng(seed if which == Stream.FORMS else [seed, int(which)])


def check_form(form: str) -> str:
    """A form as the tables write it (letters A–H, at most 8 sections, `*k` for k passes), or a clear error."""
    match = re.fullmatch(r"([A-H]{1,8})(?:\*([1-4]))?", form or "")
    if not match:
        raise ValueError(f"form {form!r}: write 1 to 8 section letters, such as AABA or ABAC, optionally *2 to play it twice")
    return form


@dataclasses.dataclass(frozen=True)
class SongShape:
    """How a whole song is shaped while it is decoded: the user-facing settings, defaults in one place.

    `planned=False` leaves the model alone with the bar rules (no form, no cadence, no levers).
    A lever's weight of 0 (or False) switches it off; `benchmarks/bench_realism.py` ablates each.
    """

    planned: bool = True
    meter: str = "4/4"  # one of `METERS`; the prompt names any but 4/4, and every bar keeps its length
    mode: str = "major"  # or "minor": written in A minor (`K:Am`), the chart centred on Am and its E7, ending on A over Am
    form: str | None = "auto"  # "auto": drawn per candidate from the real songs' forms; "AABA", "AB*2"; None: nothing returns
    section_bars: int = SECTION_BARS
    vary: tuple[int, ...] = (0, 1)  # bars left free when a section first returns (for a new cadence), candidates in turn
    cadence: bool = True  # the last bar ends as a real song does (`Tables.endings`)
    closing: bool = True  # closing bars, pickups, first and second endings as often as real songs have them
    motifs: bool = True  # free bars repeat the bar 1, 2 or 4 before as often as real melodies (`Tables.motifs`)
    echo: float = 0.10  # and, from the ninth bar, the bar in the same place of an earlier phrase
    echo_alone: float = 0.25  # the same, in a form where no section returns
    retune: float = 0.15  # share of copied bars that keep their melody and take new chord symbols
    ranges: bool = True  # each melody keeps to a range drawn from the real songs' (`levers.register`)
    rhythms: bool = True  # each melody keeps to one real song's set of note lengths (`levers.rhythm`)
    chord_tones: float = 1.75  # logit bonus for notes on the sounding chord's tones (`levers.chord_tones`)
    intervals: float = 0.5  # weight of the real songs' melodic moves (`levers.moves`)
    balance: float = 4.0  # how hard each melody leans toward its own drawn aims (moves, ties, density, ...)
    chord_tone_aims: bool = True  # the balance also aims each melody's share of chord tones
    widen: float = 3.0  # the moves' and chord tones' aims are drawn with this many times the real variance
    range_penalty: float = 3.0  # logit penalty for a note past the drawn range
    harmony: bool = True  # plan each chord chart first (`decoding.harmony`), then write the melody over it
    breaths: bool = True  # a free bar that closes a phrase strikes its last note as real ones do (`masks.breath`; 4/4 and 2/2)
    tables: Tables | None = dataclasses.field(default=None, compare=False)  # None: the measured `tables.json`

    def problems(self) -> list[str]:
        """What is wrong with these settings, one line each (empty: nothing)."""
        out = []
        if self.mode not in MODES:
            out.append(f"mode={self.mode!r}: choose major or minor")
        if self.meter not in METERS:
            out.append(f"meter={self.meter!r}: choose one of {', '.join(METERS)}")
        if not 0 <= self.intervals <= 4:
            out.append(f"intervals={self.intervals!r}: use 0 (off) to 4")
        if not 0 <= self.balance <= 8:
            out.append(f"balance={self.balance!r}: use 0 (off) to 8")
        if not 0 <= self.retune <= 1:
            out.append(f"retune={self.retune!r}: use a share from 0 (copies keep their chords) to 1")
        if self.chord_tones < 0:
            out.append(f"chord_tones={self.chord_tones!r}: use 0 (off) or more")
        if not 0 <= self.echo <= 1 or not 0 <= self.echo_alone <= 1:
            out.append(f"echo={self.echo!r}, echo_alone={self.echo_alone!r}: use shares from 0 to 1")
        if self.widen < 1:
            out.append(f"widen={self.widen!r}: use 1 (the real spread) or more")
        if not isinstance(self.section_bars, int) or not 1 <= self.section_bars <= 16:
            out.append(f"section_bars={self.section_bars!r}: use 1 to 16")
        if self.form is not None and self.form != "auto":
            try:
                check_form(self.form)
            except ValueError as error:
                out.append(str(error))
        return out

    @property
    def key(self) -> str:
        """The key it is written in: C major or A minor (a user's other key is a transposition of the output)."""
        return "C" if self.mode == "major" else "Am"

    @property
    def measured(self) -> Tables:
        """The tables this shape draws from."""
        return self.tables if self.tables is not None else load()


@dataclasses.dataclass(frozen=True)
class Aims:
    """What the balance steers one melody toward (None or (): that aim is off)."""

    moves: tuple[float, ...] = ()  # its mix of repeats, steps, skips, leaps and larger leaps
    density: float | None = None  # notes struck per quarter
    chromatic: float | None = None  # share of note time off the C major scale
    rests: float | None = None  # share of time resting
    chord_tones: float | None = None  # share of note time under a chord on its tones


@dataclasses.dataclass(frozen=True)
class SongPlan:
    """One candidate's drawn choices. `steps` says what each bar of the form does: "free",
    "cadence", ("copy", b) (bar b again, chords and all) or ("tune", b) (its melody, new chords)."""

    form: str  # as drawn, "AABA*2" for a form played twice
    steps: tuple
    ending: str = "C:C"  # the last chord and the note the melody lands on
    cadence: bool = True
    section_bars: int = SECTION_BARS
    tail: int = 0  # bars after the sections (negative: the last section cut short)
    volta: int = 0  # bars of a first (and of a second) ending
    pickup: bool | None = None  # whether it opens with a short bar (None: the model's choice)
    span: int | None = None  # the widest range of its melody, in semitones (None: any)
    rhythm: str | None = None  # its note lengths ("1/2 1 2 4", "(3" for tuplets; None: any)
    aims: Aims = Aims()
    chart: tuple = ()  # per bar of the form: (chord on beat 1, chord on beat 3 or None); () leaves the chords to the model
    breaths: tuple = ()  # per bar of the form: the last eighth it may strike a note on (-1: none), or None (any)

    @property
    def passes(self) -> int:
        return int(self.form.split("*")[1]) if "*" in self.form else 1

    @property
    def sections(self) -> str:
        """The form's letters, one pass."""
        return self.form.split("*")[0]

    @property
    def chord(self) -> str:
        """The ending's chord symbol."""
        return self.ending.partition(":")[0]

    @functools.cached_property
    def landing(self) -> int:
        """The pitch class the melody lands on (a chord alone lands on C).

        >>> SongPlan("A", (), ending="Am:E").landing, SongPlan("A", (), ending="C6").landing
        (4, 0)
        """
        note = self.ending.partition(":")[2]
        return abc.pitch_class(note.lower()) % 12 if note else 0

    @functools.cached_property
    def lengths(self) -> frozenset[Fraction] | None:
        """The written note lengths its rhythm keeps to (None: any).

        >>> sorted(SongPlan("A", (), rhythm="1/2 1 2 (3").lengths)
        [Fraction(1, 2), Fraction(1, 1), Fraction(2, 1)]
        """
        return None if self.rhythm is None else frozenset(Fraction(w) for w in self.rhythm.split() if w != "(3")

    @property
    def tuplets(self) -> bool:
        return self.rhythm is None or "(3" in self.rhythm.split()

    @property
    def chart_text(self) -> str:
        """The planned chords of one pass of the form, a bar between bars ("C | G7 | C F | …"; "" with no chart)."""
        return " | ".join(" ".join(c for c in bar if c) for bar in self.chart)

    def context(self) -> dict:
        """What a candidate's `Song.context` records of its plan: the plan itself (for ranking, rendering
        and the studio) and its plain facts (kept in `candidates.jsonl`)."""
        return ({"plan": self, "form": self.form} | ({"planned_chart": self.chart_text} if self.chart else {}) | ({"tail": self.tail} if self.tail else {}) | ({"volta": self.volta} if self.volta and self.passes > 1 else {})
                | ({"ending": self.ending} if self.cadence else {}))

    @classmethod
    def of(cls, form: str = "AABA", section_bars: int = SECTION_BARS, vary: int = 1, cadence: bool = True, tail: int = 0,
           volta: int = 0, **choices) -> "SongPlan":
        """A plan written out by hand (tests, examples): the form's steps from `form_plan`, nothing drawn."""
        steps = form_plan(form.split("*")[0], section_bars, vary, cadence, tail, volta)
        return cls(form, steps, cadence=cadence, section_bars=section_bars, tail=tail, volta=volta, **choices)


def _draw(table, n: int, seed: int | None, which: Stream) -> list:
    """n keys of a table of counts, drawn by their counts on the seed's stream `which`."""
    return _choose(table, n, stream(seed, which))


def _choose(table, n: int, rng: np.random.Generator) -> list:
    """n keys of a table of counts, drawn by their counts."""
    names = list(table)
    weights = np.array([table[k] for k in names], dtype=float)
    return [names[i] for i in rng.choice(len(names), size=n, p=weights / weights.sum())]


def draw_forms(n: int, seed: int | None, form: str | None, tables: Tables) -> list[str]:
    """n forms: drawn from the real songs' ("auto"), one form for all, or with no section returning
    (None: the drawn forms' lengths, all letters new)."""
    if form not in (None, "auto"):
        return [check_form(form)] * n
    drawn = _draw(tables.forms, n, seed, Stream.FORMS)
    if form is None:
        drawn = [("ABCDEFGH"[: len(f.split("*")[0])] + ("*" + f.split("*")[1] if "*" in f else "")) for f in drawn]
    return drawn


def _shares(none: float, mean: float, spread: float, n: int, seed: int | None, which: Stream) -> list[float]:
    """n shares: 0 with chance `none`, else from a Beta with this mean and concentration."""
    rng = stream(seed, which)
    drawn = rng.beta(mean * spread, (1 - mean) * spread, size=n)
    return [0.0 if zero else float(x) for zero, x in zip(rng.random(n) < none, drawn)]


def widened(concentration: float, widen: float) -> float:
    """The concentration of a Beta or Dirichlet with `widen` times the variance of one with this concentration."""
    return (concentration + 1) / widen - 1


def draw_aims(shape: SongShape, n: int, seed: int | None) -> list[Aims]:
    """n melodies' aims, drawn around the real songs' (none when the balance is off)."""
    t = shape.measured
    if not shape.balance:
        return [Aims()] * n
    shares = np.array(t.moves) / sum(t.moves)
    moves = [tuple(float(x) for x in np.maximum(row, 1e-3))
             for row in stream(seed, Stream.MOVES).dirichlet(shares * widened(t.move_spread, shape.widen), size=n)]
    density = [float(x) for x in t.density * np.exp(t.density_spread * stream(seed, Stream.PACE).standard_normal(n))]
    chromatic = _shares(t.diatonic, t.chromatic, t.chromatic_spread, n, seed, Stream.CHROMATIC)
    rests = _shares(t.restless, t.resting, t.resting_spread, n, seed, Stream.RESTS)
    tones = (_shares(0.0, t.tone_share, widened(t.tone_spread, shape.widen), n, seed, Stream.CHORD_TONES)
             if shape.chord_tones and shape.chord_tone_aims else [None] * n)
    return [Aims(moves[i], density[i], chromatic[i], rests[i], tones[i]) for i in range(n)]


def draw_plans(shape: SongShape, n: int, seed: int | None) -> list[SongPlan]:
    """One plan per candidate: each choice drawn on its own stream of `seed`."""
    t = shape.measured
    forms = draw_forms(n, seed, shape.form, t)
    auto = shape.form in (None, "auto")  # a form asked for is played as written: no closing bars
    endings = _draw(tonic_endings(t.endings), n, seed, Stream.ENDINGS) if shape.mode == "major" else ["Am:A"] * n
    spans = _draw(t.ranges, n, seed, Stream.RANGES) if shape.ranges else [None] * n
    if shape.closing and auto:
        once, again = _draw(t.tails, n, seed, Stream.TAILS), _draw(t.tails_repeated, n, seed, Stream.TAILS_REPEATED)
        tails = [int(b if "*" in form else a) for form, a, b in zip(forms, once, again)]
    else:
        tails = [0] * n
    pickups = [bool(x) for x in _draw(t.pickups, n, seed, Stream.PICKUPS)] if shape.closing else [None] * n
    # the real songs' sets of note lengths are 4/4's and 2/2's: a 6/8 melody takes its own
    rhythms = _draw(t.rhythms, n, seed, Stream.RHYTHMS) if shape.rhythms and shape.meter != "6/8" else [None] * n
    voltas = ([v if "*" in form else 0 for form, v in zip(forms, _draw(t.voltas, n, seed, Stream.VOLTAS))]
              if shape.closing else [0] * n)
    aims = draw_aims(shape, n, seed)
    motifs, retunes = stream(seed, Stream.MOTIFS), stream(seed, Stream.RETUNE)
    plans = []
    for i, form in enumerate(forms):
        steps = form_plan(form.split("*")[0], shape.section_bars, shape.vary[i % len(shape.vary)], shape.cadence, tails[i], voltas[i])
        plans.append(SongPlan(form, steps, endings[i], shape.cadence, shape.section_bars, tails[i], voltas[i], pickups[i],
                              spans[i], rhythms[i], aims[i]))
    if shape.motifs:
        plans = [dataclasses.replace(p, steps=motif_plan(p.steps, motifs, t.motifs, shape.echo, shape.echo_alone,
                                                         phrase_ends(len(p.steps), p.section_bars) if shape.harmony else frozenset()))
                 for p in plans]
    if shape.harmony:  # the chart first (copied bars keep their source's chords; no copy takes new ones)
        drawer, rng = ChartDrawer(t), stream(seed, Stream.HARMONY)
        charts = [drawer.chart(p.sections, p.section_bars, p.steps, p.ending, rng) for p in plans]
        plans = [dataclasses.replace(p, chart=chart) for p, chart in zip(plans, charts)]
        plans = [cadenced(p) for p in plans]
        if shape.meter == "3/4":  # one chord a bar, in the plan itself: its `planned_chart` is what the song writes
            plans = [dataclasses.replace(p, chart=one_chord_a_bar(p.chart, p.steps[-1:] == ("cadence",))) for p in plans]
    elif shape.retune:
        plans = [dataclasses.replace(p, steps=retune_plan(p.steps, retunes, shape.retune)) for p in plans]
    if shape.breaths and bar_quarters(shape.meter) == 4 and t.breaths:  # measured in 4/4 and 2/2 bars of eight eighths
        rng = stream(seed, Stream.BREATHS)
        plans = [dataclasses.replace(p, breaths=breath_plan(p.steps, p.section_bars, t.breaths, rng)) for p in plans]
    return plans


def breath_plan(steps: tuple, section_bars: int, breaths: dict[str, dict[int, int]], rng: np.random.Generator) -> tuple:
    """Per bar: the last eighth on which a free bar that closes a phrase (`phrase_ends`) may strike
    a note, drawn as the real 8-bar blocks' fourth ("middle") and eighth ("end") bars strike theirs;
    None elsewhere (and in the first bar, which closes nothing).

    >>> breath_plan(("free",) * 4 + (("copy", 0),) * 3 + ("cadence",), 4, {"middle": {0: 1}, "end": {-1: 1}},
    ...             np.random.default_rng(0))
    (None, 0, None, -1, None, None, None, None)
    """
    ends = phrase_ends(len(steps), section_bars) - {0}
    out = []
    for b, step in enumerate(steps):
        table = breaths.get("end" if (b + 1) % section_bars == 0 else "middle") if step == "free" and b in ends else None
        out.append(int(_choose(table, 1, rng)[0]) if table else None)
    return tuple(out)


def cadenced(plan: SongPlan) -> SongPlan:
    """A free bar before the last ends on the dominant of the ending (an authentic cadence); a
    copied bar there keeps its source's chords, as the returning section keeps its melody."""
    steps, chart = list(plan.steps), list(plan.chart)
    if len(steps) < 2 or steps[-1] != "cadence" or len(chart) != len(steps) or steps[-2] != "free":
        return plan
    dominant = dominant_of(tonic_of(plan.chord))
    first, second = chart[-2]
    if (second or first) == dominant:
        return plan
    chart[-2] = (first, dominant) if first != dominant else (first, None)
    return dataclasses.replace(plan, chart=tuple(chart))


def form_plan(form: str, section_bars: int = SECTION_BARS, vary: int = 1, cadence: bool = True, tail: int = 0,
              volta: int = 0) -> tuple:
    """What each bar of a form does: a section whose letter came before copies that section's
    bars (its last `vary` bars free the first time it returns); with a `volta`, the form's last
    `volta` bars are free (the first ending) and as many free bars follow them (the second
    ending, which replaces the first on the last pass); `tail` free bars follow the sections
    (a negative tail cuts the last section short); the last bar is the cadence.

    >>> form_plan("AA", 4, vary=1)
    ('free', 'free', 'free', 'free', ('copy', 0), ('copy', 1), ('copy', 2), 'cadence')
    >>> form_plan("AA", 4, vary=1, tail=1)
    ('free', 'free', 'free', 'free', ('copy', 0), ('copy', 1), ('copy', 2), 'free', 'cadence')
    >>> form_plan("AA", 4, vary=0, volta=2)
    ('free', 'free', 'free', 'free', ('copy', 0), ('copy', 1), 'free', 'free', 'free', 'cadence')
    """
    plan: list = []
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for s, letter in enumerate(form):
        for i in range(section_bars):
            if letter not in last or (last[letter] == first[letter] and i >= section_bars - vary):
                plan.append("free")
            else:
                plan.append(("copy", last[letter] * section_bars + i))
        first.setdefault(letter, s)
        last[letter] = s
    volta = max(0, min(volta, len(plan) - 1))
    plan = plan[: len(plan) - volta] + ["free"] * (2 * volta)
    total = max(1, len(plan) + tail)
    plan = (plan + ["free"] * max(0, tail))[:total]
    if cadence:
        plan[-1] = "cadence"
    return tuple(plan)


def phrase_ends(bars: int, section_bars: int) -> frozenset[int]:
    """The bars that close a phrase (the middle and the end of each section), where the chart puts
    its half cadence and its way home.

    >>> sorted(phrase_ends(16, 8))
    [3, 7, 11, 15]
    """
    return frozenset(b for b in range(bars) if (b + 1) % section_bars in (0, section_bars // 2))


def motif_plan(steps: tuple, rng: np.random.Generator, shares: "dict[int, float]", echo: float, echo_alone: float,
               keep: frozenset[int] = frozenset()) -> tuple:
    """Some free bars made copies of the bar 1, 2 or 4 before (about `shares` of all bars at each
    distance), and about `echo` of them (`echo_alone` where no section returns) copies of the bar
    in the same place of an earlier phrase, 8 or more bars back. The bars in `keep` stay free: a
    copy would bring its source's chords over the chart's cadence there."""
    free = [b for b, step in enumerate(steps) if step == "free" and b not in keep]
    if not free:
        return steps
    plan = list(steps)
    scale = len(plan) / len(free)  # the shares are of all bars; only free bars can take them
    echo = echo if any(isinstance(step, tuple) for step in plan) else echo_alone
    distances = list(shares)
    edges = np.cumsum([shares[d] * scale for d in distances])  # a draw below edges[i] picks distances[i]
    for b in free:
        i = int(np.searchsorted(edges, rng.random(), side="right"))
        if i < len(distances) and b - distances[i] >= 0:
            plan[b] = ("copy", b - distances[i])
        elif echo and b >= 8 and rng.random() < echo * scale:
            plan[b] = ("copy", b - 4 * int(rng.integers(2, b // 4 + 1)))
    return tuple(plan)


def retune_plan(steps: tuple, rng: np.random.Generator, share: float) -> tuple:
    """About `share` of the copied bars made copies of the melody alone ("tune")."""
    return tuple(("tune", step[1]) if isinstance(step, tuple) and rng.random() < share else step for step in steps)


def cycled(values: Sequence, i: int, default=None):
    """Candidate i's value of a per-candidate tuple, repeating when there are more candidates than values.

    >>> cycled(("C:C", "Am:E"), 3), cycled((), 3, 0)
    ('Am:E', 0)
    """
    return values[i % len(values)] if values else default
