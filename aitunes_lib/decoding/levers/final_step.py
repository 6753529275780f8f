"""Step into the final note: the note that ends the bar before the cadence moves by a step.

bonus(note) = final_step where the note ends the bar before the cadence's bar and lies 1 or 2
semitones from the landing note (in its nearest octave). Most real melodies reach their last
note by step (a toy lever: it shows what adding one takes).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.decoding.state import SongState


class FinalStep:
    def __init__(self, rules, tracker, shape):
        self.rules, self.vocab, self.weight = rules, rules.vocab, shape.final_step

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        if not self.weight or state.step(state.form_bar + 1) != "cadence" or state.tuplet_left:
            return False
        landing, numbers = state.plan.landing, self.vocab.numbers
        distance = np.minimum((numbers - landing) % 12, (landing - numbers) % 12)
        ends = self.vocab.pitched & (state.elapsed + self.rules.note_ticks[Fraction(1)] == self.rules.bar)
        bonus[self.vocab.note_ids[ends & (distance >= 1) & (distance <= 2)]] += self.weight
        return True
