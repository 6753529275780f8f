"""The rest of the form still fits the tokens left (`SongRules.budget`, what the song may take).

When the tokens to spare run out, only the note that fills the most of the bar is left, then
the bar line: every candidate reaches its last bar.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.abc import CHORD_KIND, LINEBREAK, TIE, TUPLET_KIND
from aitunes_lib.decoding.state import SongState


class Budget:
    def __init__(self, rules, tracker, budget: int | None = None):
        self.rules, self.kinds, self.budget = rules, rules.kinds, budget

    def need(self, state: SongState, b: int) -> int:
        """The fewest tokens that finish the form from form bar b: a copied bar costs its source's
        tokens, any other bar one note and a bar line (and its planned chords, or the cadence's chord), then the ending."""
        need = 0 if state.elapsed == self.rules.bar else 1  # the rest of this bar: at least one note
        need += 1  # its bar line
        for j in range(b + 1, len(state.plan.steps)):
            step = state.plan.steps[j]
            if isinstance(step, tuple) and step[1] + state.offset < len(state.bars):
                need += len(state.bars[step[1] + state.offset])
            else:
                need += 2 + (len(state.closing) if step == "cadence" else 0)
                need += sum(len(ids) for _, ids in state.chart[j]) if step == "free" and j < len(state.chart) else 0
        return need + 3  # ` $`, ` ` and `<end>`

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        b = state.form_bar
        if self.budget is None or state.tuplet_left or not 0 <= b < len(state.plan.steps):
            return
        spare = self.budget - state.emitted - 1 - self.need(state, b)  # tokens left after this one
        if spare >= 0:
            return
        rules, kinds = self.rules, self.kinds
        notes = mask[rules.note_ids]
        if not notes.any():  # a planned chord is due: it is written first
            return
        room = rules.bar - state.elapsed
        ticks = rules.note_ticks[Fraction(1)]
        fits = notes & (ticks <= room)
        if fits.any():
            longest = ticks[fits].max()
            mask[rules.note_ids[notes & (ticks != longest)]] = False
            mask[(kinds == TIE) | (kinds == LINEBREAK) | (kinds == CHORD_KIND) | (kinds == TUPLET_KIND)] = False
