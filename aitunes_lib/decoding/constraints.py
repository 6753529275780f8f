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

from aitunes_lib.abc import BARLINE, CHORD_KIND
from aitunes_lib.decoding.masks.bars import BarState, MeterRules
from aitunes_lib.decoding.masks.chart import ChartRules
from aitunes_lib.decoding.plan import SongPlan, SongShape
from aitunes_lib.decoding.processor import SongRules
from aitunes_lib.decoding.state import SongState

Encode = Callable[[str], "list[int]"]


@dataclasses.dataclass(frozen=True)
class WholeBars:
    """Every bar whole: the bar rules. After `bars_before` bars in the prompt, no pickup;
    `<end>` only once `min_bars` bars are complete."""

    bars_before: int = 0
    min_bars: int = 1

    def describe(self) -> str:
        return "whole bars" + (f" after the {self.bars_before} bars given" if self.bars_before else "")

    def build(self, rules: MeterRules, encode: Encode, budget: int | None) -> tuple[MeterRules, BarState]:
        if self.bars_before:
            return rules, BarState(bar_index=self.bars_before, last=BARLINE, min_bars=self.min_bars)
        return rules, BarState(min_bars=self.min_bars)


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
        song = SongRules(rules, self.shape, budget)
        starts = [SongState(plan=plan, closing=encode(f" `{plan.chord}`"), chart=self.chart_tokens(plan, rules, encode))
                  for plan in self.plans]
        return song, starts

    @staticmethod
    def chart_tokens(plan: SongPlan, rules: MeterRules, encode: Encode) -> list:
        """A plan's chart as each bar's (onset in ticks, token ids); a chord the vocabulary cannot
        write as one chord token is left out (the chord before it holds)."""
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
