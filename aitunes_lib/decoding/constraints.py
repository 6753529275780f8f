"""What a task asks its decoder to enforce, and how a decoder that can builds it.

A task puts one of these in its prompt; a backend that can enforce it (the local one) calls
`build(rules, encode, budget)` with its vocabulary's `MeterRules` and gets (rules, start
state or one per candidate) for `ConstraintProcessor`. One that cannot (the OpenAI API) says
so with `describe()`.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Callable, ClassVar

import numpy as np

from aitunes_lib.abc import BARLINE, CHORD_KIND
from aitunes_lib.decoding.masks.bars import BarState, MeterRules
from aitunes_lib.decoding.masks.chart import ChartRules
from aitunes_lib.decoding.plan import SongPlan, SongShape, bar_quarters
from aitunes_lib.decoding.processor import SongRules
from aitunes_lib.decoding.state import SongState

Encode = Callable[[str], "list[int]"]


@dataclasses.dataclass(frozen=True)
class WholeBars:
    """Every bar whole: the bar rules. After `bars_before` bars in the prompt, no pickup;
    `<end>` only once `min_bars` bars are complete."""

    bars_before: int = 0
    min_bars: int = 1
    bar: Fraction = Fraction(4)  # quarters a bar
    register: "Register | None" = None  # a continuation keeps near its opening's notes

    def describe(self) -> str:
        return "whole bars" + (f" after the {self.bars_before} bars given" if self.bars_before else "")

    def build(self, rules: MeterRules, encode: Encode, budget: int | None) -> tuple["MeterRules | InRegister", BarState]:
        rules = rules.for_bar(self.bar)
        built = InRegister(rules, self.register, self.bars_before) if self.register is not None else rules
        if self.bars_before:
            return built, BarState(bar_index=self.bars_before, last=BARLINE, min_bars=self.min_bars)
        return built, BarState(min_bars=self.min_bars)


@dataclasses.dataclass(frozen=True)
class Register:
    """Where a continuation's melody stays: `low` to `high` (semitones above middle C, the opening's
    range widened to `SPAN`), starting within a fifth of `last`, the opening's last note."""

    low: int
    high: int
    last: int
    SPAN: ClassVar[int] = 16  # the real songs' median range is about 14 semitones; a continuation may widen a little
    PENALTY: ClassVar[float] = 4.0  # logits off a note outside the range, or a first note leaping past a fifth

    @classmethod
    def around(cls, pitches: "list[int]") -> "Register | None":
        """The register of an opening's notes (None when it has none)."""
        if not pitches:
            return None
        low, high = min(pitches), max(pitches)
        room = max(0, cls.SPAN - (high - low))
        return cls(low - room // 2, high + room - room // 2, pitches[-1])


class InRegister:
    """The bar rules, plus a bias that keeps a continuation in its opening's `Register`."""

    def __init__(self, rules: MeterRules, register: Register, bars_before: int):
        self.rules, self.register, self.bars_before = rules, register, bars_before
        self.kinds, self.bias_group = rules.kinds, rules.note_ids
        numbers, pitched = rules.vocab.numbers, rules.vocab.pitched
        self.outside = np.zeros(len(rules.kinds), dtype=np.float32)
        self.outside[rules.note_ids[pitched & ((numbers < register.low) | (numbers > register.high))]] = -register.PENALTY
        self.first = self.outside.copy()  # the first note also starts near where the opening stopped
        self.first[rules.note_ids[pitched & (np.abs(numbers - register.last) > 7)]] = -register.PENALTY

    def allowed(self, state: BarState, pickup: bool | None = None) -> np.ndarray:
        return self.rules.allowed(state, pickup)

    def advance(self, state: BarState, token: int) -> BarState:
        return self.rules.advance(state, token)

    def bias(self, state: BarState) -> np.ndarray:
        starting = state.bar_index == self.bars_before and state.elapsed == 0
        return self.first if starting else self.outside


@dataclasses.dataclass(frozen=True)
class FollowChart:
    """A chord chart followed exactly: each bar the chart's length, each chord symbol at its
    onset, and `tone_bias` added to the logits of notes on the sounding chord's tones."""

    bars: tuple[tuple[Fraction, tuple[tuple[Fraction, str], ...]], ...]  # (length, ((onset, name), …))
    tones: tuple[frozenset[int], ...]  # per chord, in order: its pitch classes
    tone_bias: float = 0.0

    def describe(self) -> str:
        return f"a chord chart of {len(self.bars)} bars"

    def build(self, rules: MeterRules, encode: Encode, budget: int | None) -> tuple[ChartRules, BarState]:
        # a chord's tokens as the tokenizer writes it there: stacked chords follow without a space
        bars = [(length, [(onset, encode(("" if i and chords[i - 1][0] == onset else " ") + f"`{name}`"))
                          for i, (onset, name) in enumerate(chords)]) for length, chords in self.bars]
        chart = ChartRules(rules, bars, budget=budget, tones=list(self.tones), tone_bias=self.tone_bias)
        return chart, chart.start()


@dataclasses.dataclass(frozen=True)
class SongForm:
    """Whole songs, one `SongPlan` per candidate (`plan.draw_plans`), shaped by a `SongShape`."""

    slides: ClassVar[bool] = True  # a sampler may slide its window on over a long song: the rules keep every bar
    plans: tuple[SongPlan, ...]
    shape: SongShape = SongShape()

    def describe(self) -> str:
        forms = "/".join(sorted({plan.sections for plan in self.plans}))
        return f"the form {forms} with a cadence" if self.shape.cadence else f"the form {forms}"

    def build(self, rules: MeterRules, encode: Encode, budget: int | None) -> tuple[SongRules, list[SongState]]:
        rules = rules.for_bar(bar_quarters(self.shape.meter))
        song = SongRules(rules, self.shape, budget)
        starts = [SongState(plan=plan, closing=encode(f" `{plan.chord}`"), chart=self.chart_tokens(plan, rules, encode))
                  for plan in self.plans]
        return song, starts

    @staticmethod
    def chart_tokens(plan: SongPlan, rules: MeterRules, encode: Encode) -> list:
        """A plan's chart as each bar's (onset in ticks, token ids); a chord the vocabulary cannot
        write as one chord token is left out (the chord before it holds). The chart's half-bars
        fall on beat 3 in 4/4 and 2/2 and on the second dotted quarter in 6/8 (a 3/4 plan has
        one chord a bar: `harmony.one_chord_a_bar`)."""
        half = rules.bar // 2
        def ids(name: str) -> list[int] | None:
            tokens = encode(f" `{name}`")
            return tokens if len(tokens) == 1 and rules.kinds[tokens[0]] == CHORD_KIND else None

        out, sounding = [], None
        for first, second in plan.chart:  # a chord that holds over the bar line is not written again, as lead sheets do
            bar = ([(0, ids(first))] if first != sounding else []) + ([(half, ids(second))] if second else [])
            out.append([(at, tokens) for at, tokens in bar if tokens])
            sounding = second or first
        return out
