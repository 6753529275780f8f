"""A chord chart followed exactly (the `chords` task): each bar the chart's length, each chord
symbol forced at its onset, and a token budget that always reaches the last bar."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Sequence

import numpy as np

from aitunes_lib.abc import BARLINE, CHORD_KIND, END_KIND, LINEBREAK, NOTE_KIND, SPACE, TIE, pitch_class
from aitunes_lib.decoding.masks.bars import BarState, MeterRules, settled


def to_ticks(quarters: Fraction, ticks_per_quarter: int) -> int:
    """A length in quarters as whole ticks of the rules' grid, or a clear error."""
    value = Fraction(quarters) * ticks_per_quarter
    if value.denominator != 1:
        raise ValueError(f"a chord onset or bar length of {quarters} quarters falls between the notes this model can write")
    return int(value)


@dataclasses.dataclass
class ChartState(BarState):
    """A `BarState` that also knows which chord of the chart comes next."""

    next_chord: int = 0
    forcing: list[int] = dataclasses.field(default_factory=list)  # the rest of a chord's tokens
    emitted: int = 0  # tokens generated so far (against the budget)


class ChartRules:
    """The meter rules plus a chord chart: bar i lasts what the chart says, and each chord
    symbol is forced, token by token, at its onset; no other chord symbol may appear.

    `bars` holds each bar's length (quarters) and its chords as (onset, token ids), where the
    ids spell the chord symbol as the training text writes it (`` `G7` `` with its space).
    A note may not cross a chord's onset, so the chord lands exactly where the chart puts it.
    With a `budget` (the tokens left in the model's window), notes that would leave too few
    tokens to finish the chart are refused, so the melody always reaches the last bar.
    """

    def __init__(self, rules: MeterRules, bars: Sequence[tuple[Fraction, Sequence[tuple[Fraction, Sequence[int]]]]],
                 budget: int | None = None, tones: Sequence[frozenset[int]] = (), tone_bias: float = 0.0):
        self.rules = rules
        # optional: a logit bonus for notes on the sounding chord's tones (`tones`: one set per chord, in order)
        self.tones, self.tone_bias = list(tones), tone_bias
        self.note_pcs = np.array([pitch_class(text) for text in rules.note_texts], dtype=np.int64)
        tpq = rules.ticks_per_quarter
        self.kinds = rules.kinds
        self.bar_ticks = [to_ticks(length, tpq) for length, _ in bars]
        self.chords = [(b, to_ticks(onset, tpq), list(ids)) for b, (_, chords) in enumerate(bars) for onset, ids in chords]
        for b, at, ids in self.chords:
            if not ids:
                raise ValueError(f"bar {b + 1}: a chord symbol with no tokens")
        # the fewest plain notes that fill t ticks (coin change), for the token budget
        plain = sorted({int(t) for t in rules.note_ticks[Fraction(1)]})
        self.unit = math.gcd(*plain) if plain else 1  # counted in steps of the shortest common length
        most = max(self.bar_ticks, default=0) // self.unit
        self.fewest = np.full(most + 1, 10**6, dtype=np.int64)
        self.fewest[0] = 0
        coins = [c // self.unit for c in plain]
        for t in range(1, most + 1):
            self.fewest[t] = min((self.fewest[t - c] for c in coins if c <= t), default=10**6) + 1
        # tokens needed to write bars b… from their start (chords, notes, bar lines, then <end>)
        self.need_from = [0] * (len(self.bar_ticks) + 1)
        self.need_from[-1] = 1
        first = [sum(1 for bar, _, _ in self.chords if bar < b) for b in range(len(self.bar_ticks))]  # each bar's first chord
        for b in range(len(self.bar_ticks) - 1, -1, -1):
            self.need_from[b] = self._bar_need(b, 0, first[b]) + self.need_from[b + 1]
        self.budget = budget
        if budget is not None and self.need_from[0] > budget:
            raise ValueError(f"the chart needs at least {self.need_from[0]} tokens and only {budget} are left in the window")

    def _bar_need(self, b: int, elapsed: int, next_chord: int) -> int:
        """Fewest tokens to finish bar b from `elapsed`, chords from `next_chord` on still to write, bar line included."""
        need, at = 1, elapsed
        for bar, onset, ids in self.chords[next_chord:]:
            if bar != b:
                break
            need += self._fill(onset - at) + len(ids)
            at = onset
        return need + self._fill(self.bar_ticks[b] - at)

    def _fill(self, ticks: int | np.ndarray) -> int | np.ndarray:
        ticks = np.asarray(ticks)
        steps = np.clip(ticks // self.unit, 0, len(self.fewest) - 1)
        return np.where((ticks >= 0) & (ticks % self.unit == 0), self.fewest[steps], 10**6)

    def start(self) -> ChartState:
        return ChartState()

    def _due(self, state: ChartState) -> tuple[int, int, list[int]] | None:
        return self.chords[state.next_chord] if state.next_chord < len(self.chords) else None

    def allowed(self, state: ChartState) -> np.ndarray:  # type: ignore[override]
        """A boolean mask over the vocabulary: the tokens that keep the bar and the chart."""
        rules, kinds = self.rules, self.kinds
        forced = settled(state, kinds)
        if forced is not None:
            return forced
        mask = np.zeros(len(kinds), dtype=bool)
        b = state.bar_index
        if b >= len(self.bar_ticks):  # every bar written: the article's ending ` $ <end>`, or `<end>` if out of budget
            left = math.inf if self.budget is None else self.budget - state.emitted
            if state.last == BARLINE and left >= 3:
                mask[kinds == LINEBREAK] = True
            if state.last == LINEBREAK and left >= 2:
                mask[kinds == SPACE] = True
            mask[kinds == END_KIND] = True
            return mask
        due = self._due(state)
        if due is not None and due[0] == b and due[1] == state.elapsed:
            mask[due[2][0]] = True
            return mask
        stop = due[1] if due is not None and due[0] == b else self.bar_ticks[b]
        room = stop - state.elapsed
        bar_room = self.bar_ticks[b] - state.elapsed
        p, q = state.tuplet if state.tuplet_left else (1, 1)
        ticks = rules.note_ticks[Fraction(q, p)]
        left = room - ticks * max(1, state.tuplet_left)
        fits = rules._fits(left, pickup=False)
        chord_stop = due is not None and due[0] == b
        if state.tuplet_left and chord_stop:  # a chord inside a tuplet: the group may land on its onset and go on
            fits |= self._lands(room, ticks, state.tuplet_left) & rules._fits(bar_room - ticks * state.tuplet_left, False)
        fits = fits if fits.any() else left >= 0  # an onset no plain note reaches: land on it anyway
        spare, tight = None, False
        if self.budget is not None and not state.tuplet_left:
            # tokens to spare after this one, were the rest of the chart written as briefly as possible
            spare = self.budget - state.emitted - 1 - self._bar_need(b, stop, state.next_chord) - self.need_from[b + 1]
            cost = np.where(fits, self._fill(room - ticks), 10**6)
            if (fits & (cost <= spare)).any():
                fits = fits & (cost <= spare)  # (the cost of a note that does not fit is a sentinel, never spare)
            elif (cost < 10**6).any():  # over budget already: the notes that finish soonest
                fits = cost == cost.min()
            tight = self._fill(room) > spare  # no room for a tie, a line break or a tuplet
        mask[rules.note_ids[fits]] = True
        if state.last == NOTE_KIND and not state.last_rest and (spare is None or not tight):
            mask[kinds == TIE] = True
        if not state.tuplet_left:
            for token, (tp, tq, tr) in rules.tuplets.items():
                if spare is not None and (tight or self._fill(room) + tr > spare):
                    continue
                group = rules.note_ticks[Fraction(tq, tp)]
                whole = rules._fits(room - group * tr, False)
                across = self._lands(room, group, tr) & rules._fits(bar_room - group * tr, False) & chord_stop
                mask[token] = room > 0 and bool((whole | across).any())
            if state.elapsed == self.bar_ticks[b] and (due is None or due[0] > b):
                mask[kinds == BARLINE] = True
            if state.elapsed == 0 and state.last == BARLINE and (spare is None or not tight):
                mask[kinds == LINEBREAK] = True
        if not mask.any():
            mask[kinds == BARLINE] = True
        return mask

    def bias(self, state: ChartState) -> np.ndarray | None:
        """`tone_bias` added to the logits of notes on the tones of the chord now sounding (a soft
        preference, applied after the mask; None when off or no chord has sounded yet)."""
        if not self.tone_bias or not self.tones or state.next_chord == 0 or state.forcing:
            return None
        tones = self.tones[state.next_chord - 1]
        bonus = np.zeros(len(self.kinds), dtype=np.float32)
        bonus[self.rules.note_ids[np.isin(self.note_pcs, list(tones))]] = self.tone_bias
        return bonus

    @staticmethod
    def _lands(room: int, ticks: np.ndarray, notes: int) -> np.ndarray:
        """Where j ≤ `notes` notes of each length end exactly `room` ticks on."""
        return np.any([ticks * j == room for j in range(1, notes + 1)], axis=0)

    def advance(self, state: ChartState, token: int) -> ChartState:  # type: ignore[override]
        """The state after one token."""
        state.emitted += 1
        due = self._due(state)
        if state.forcing:
            state.forcing.pop(0)
        elif due is not None and due[0] == state.bar_index and due[1] == state.elapsed and token == due[2][0] and not state.done:
            state.forcing = list(due[2][1:])
        else:
            self.rules.advance(state, token)
            return state
        if not state.forcing:
            state.next_chord += 1
        state.last = CHORD_KIND
        return state
