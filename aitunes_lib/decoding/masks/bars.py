"""Bars that add up by construction: the mask that tracks the running length of the bar.

The article's songs broke 4/4 by inserting extra eighth notes. A local decoder can refuse
to: before each token is sampled, `MeterRules.allowed` says which tokens keep the bar legal.

The rules, for the body of a song in the article's format (`L:1/4`, chords in backticks):
- a note or rest fits only if the bar can still be completed exactly after it;
- when the bar is full, only a bar line may follow (or a tie on the last note);
- the first bar may be a pickup: a bar line may close it at any length;
- a tuplet mark `(p:q:r` scales the next r notes by q/p and must fit as a whole;
- chord symbols and ties take no time; a tie follows a pitched note;
- grace notes and invisible rests (`x`, which music21 drops) are not generated;
- ` $` (the line break) may follow a bar line, and `<end>` may follow a bar line or ` $`.

Only tokens that are one whole event are ever allowed while the rules are on, so the
duration of every allowed token is known from its text alone.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Sequence

import numpy as np

from aitunes_lib.abc import BARLINE, CHORD_KIND, END_KIND, FORBIDDEN, LINEBREAK, NOTE_KIND, SPACE, TIE, TUPLET_KIND
from aitunes_lib.decoding.vocab import Vocab


@dataclasses.dataclass
class BarState:
    """Where one sequence stands: time used in the bar (ticks), which bar, open tuplet, last token."""

    elapsed: int = 0
    bar_index: int = 0
    tuplet_left: int = 0
    tuplet: tuple[int, int] = (1, 1)  # (p, q): notes inside last q/p of their written length
    last_rest: bool = False
    last: int = LINEBREAK  # the kind of the last token; the body starts like a new line
    ending: bool = False
    done: bool = False
    min_bars: int = 1  # `<end>` may come once this many bars are complete


def finishing(state: BarState, kinds: np.ndarray) -> np.ndarray:
    """The mask once a sequence is done (anything: it is cut there) or ending (only `<end>`); else all False."""
    mask = np.zeros(len(kinds), dtype=bool)
    if state.done:
        mask[:] = True
    elif state.ending:
        mask[kinds == END_KIND] = True
    return mask


class MeterRules:
    """Which tokens keep every bar of `bar` quarters exact, for a vocabulary of token texts."""

    def __init__(self, token_texts: "Sequence[str] | Vocab", bar: Fraction = Fraction(4)):
        self.vocab = vocab = token_texts if isinstance(token_texts, Vocab) else Vocab(token_texts)
        self.texts, self.kinds, self.tuplets = vocab.texts, vocab.kinds, vocab.tuplets
        self.note_ids, self.note_texts, self.end_id, self.is_rest = vocab.note_ids, vocab.note_texts, vocab.end_id, vocab.is_rest
        lengths = vocab.lengths
        ratios = {Fraction(q, p) for p, q, _ in self.tuplets.values()} | {Fraction(1)}
        # one tick divides every note length, in or out of a tuplet, and the bar
        self.ticks_per_quarter = math.lcm(bar.denominator, *((w * f).denominator for w in lengths.values() for f in ratios))
        tpq = self.ticks_per_quarter
        self.bar = int(bar * tpq)
        self.note_ticks = {Fraction(q, p): np.array([int(lengths[i] * Fraction(q, p) * tpq) for i in self.note_ids], dtype=np.int64)
                           for p, q, _ in [*self.tuplets.values(), (1, 1, 1)]}
        plain = self.note_ticks[Fraction(1)]
        # a remainder can be filled exactly when it is a multiple of the shortest plain note
        # (the others are multiples of it in this data; checked here)
        self.grain = int(plain.min()) if len(plain) else self.bar
        self._grain_divides = bool(len(plain)) and all(t % self.grain == 0 for t in plain)
        self.zero_time = np.isin(self.kinds, (CHORD_KIND,))
        self._other_bars: dict[Fraction, MeterRules] = {}  # `for_bar`'s rules for other bar lengths, made once

    def for_bar(self, bar: Fraction) -> "MeterRules":
        """The same vocabulary's rules for bars of `bar` quarters (this one when it is the same length)."""
        if Fraction(bar) * self.ticks_per_quarter == self.bar:
            return self
        if bar not in self._other_bars:
            self._other_bars[bar] = MeterRules(self.vocab, Fraction(bar))
        return self._other_bars[bar]

    def filling_rest(self, elapsed: int) -> np.ndarray:
        """Over the note tokens: the rests that fill what is left of the bar in one (`c z3`, not `c z z2`)."""
        return self.is_rest[self.note_ids] & (self.note_ticks[Fraction(1)] == self.bar - elapsed)

    def fillable(self, ticks: np.ndarray | int) -> np.ndarray | bool:
        """Whether a remainder of the bar can be filled exactly with plain notes."""
        ticks = np.asarray(ticks)
        ok = (ticks == 0) | ((ticks >= self.grain) & (ticks % self.grain == 0 if self._grain_divides else True))
        return ok

    def _fits(self, left: np.ndarray, pickup: bool, short: bool = False) -> np.ndarray:
        """Where what is left of the bar is not negative and, past the pickup, can still be filled
        (in a pickup that must stay `short`, where some of the bar is still left)."""
        if short:
            return left > 0
        return (left >= 0) if pickup else (left >= 0) & self.fillable(left)

    def allowed(self, state: BarState, pickup: bool | None = None) -> np.ndarray:
        """A boolean mask over the vocabulary: the tokens that keep the bar legal (the first bar
        may be a pickup, of any length, unless `pickup` is False; when it is True, the first bar
        must be one: no note may fill it)."""
        kinds = self.kinds
        mask = finishing(state, kinds)
        if mask.any():
            return mask
        room = self.bar - state.elapsed
        short = state.bar_index == 0 and pickup is True
        pickup = state.bar_index == 0 and pickup is not False
        at_bar_start = state.elapsed == 0 and state.last in (BARLINE, LINEBREAK)
        # notes and rests; inside a tuplet, as if the rest of the group kept this length
        p, q = state.tuplet if state.tuplet_left else (1, 1)
        mask[self.note_ids[self._fits(room - self.note_ticks[Fraction(q, p)] * max(1, state.tuplet_left), pickup, short)]] = True
        if state.last == NOTE_KIND and not state.last_rest:
            mask[kinds == TIE] = True  # a tie belongs to the note before it, even at the bar's end
        if state.tuplet_left:
            mask[self.zero_time] = True
            return mask
        # tuplet marks: some note length must make the whole group fit
        for token, (p, q, r) in self.tuplets.items():
            mask[token] = room > 0 and bool(self._fits(room - self.note_ticks[Fraction(q, p)] * r, pickup, short).any())
        if room > 0:
            mask[self.zero_time] = True  # chord symbols
        if state.elapsed == self.bar or (pickup and state.elapsed > 0):
            mask[kinds == BARLINE] = True
        if state.elapsed == 0 and state.last == BARLINE:
            mask[kinds == LINEBREAK] = True
        if at_bar_start and state.bar_index >= max(1, state.min_bars):
            mask[kinds == END_KIND] = True
            if state.last == LINEBREAK:
                mask[kinds == SPACE] = True  # the article's ending is ` $ <end>`
        if not mask.any():  # cannot happen with this data's note lengths; never leave nothing to sample
            mask[kinds == BARLINE] = True
        return mask

    def advance(self, state: BarState, token: int) -> BarState:
        """The state after one token (in place, returned for convenience)."""
        kind = int(self.kinds[token]) if 0 <= token < len(self.kinds) else FORBIDDEN
        if state.done:
            return state
        if kind == END_KIND:
            state.done = True
        elif kind == SPACE:
            state.ending = True
        elif kind == NOTE_KIND:
            p, q = state.tuplet if state.tuplet_left else (1, 1)
            index = int(np.searchsorted(self.note_ids, token))
            state.elapsed += int(self.note_ticks[Fraction(q, p)][index])
            state.tuplet_left = max(0, state.tuplet_left - 1)
            state.last_rest = bool(self.is_rest[token])
        elif kind == TUPLET_KIND:
            p, q, r = self.tuplets[token]
            state.tuplet, state.tuplet_left = (p, q), r
        elif kind == BARLINE:
            state.elapsed, state.bar_index, state.tuplet_left = 0, state.bar_index + 1, 0
        state.last = kind
        return state


def settled(state, kinds: np.ndarray) -> np.ndarray | None:
    """The mask when a sequence is done or ending, or when a forced token is due (`state.forcing`); else None."""
    mask = finishing(state, kinds)
    if mask.any():
        return mask
    if state.forcing:
        mask[state.forcing[0]] = True
        return mask
    return None
