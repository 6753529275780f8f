"""The note that ends a bar leads into the next bar's first note, when that note is known.

Before a copied bar or the cadence, the last note of the bar is weighed by its move into the
next bar's first note: bonus = lead_in × prior(move) (the landing note in its nearest octave).
Without it, a third of the moves into copied bars were leaps (real songs: a fifth across a bar line).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.decoding.levers.moves import interval_prior
from aitunes_lib.decoding.state import SongState


class LeadIn:
    def __init__(self, rules, tracker, shape):
        self.rules, self.vocab, self.tracker, self.weight = rules, rules.vocab, tracker, shape.lead_in
        self.intervals = shape.intervals
        self.prior = interval_prior(shape.intervals, shape.measured.intervals)

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        if not self.intervals or state.tuplet_left:
            return False
        ahead = self.tracker.next_opening(state)
        if ahead is None:
            return False
        target, tonic, _ = ahead
        numbers = self.vocab.numbers
        distance = np.abs(numbers - target)
        if tonic:  # the cadence's landing note may fall in any octave: the nearest one
            distance = np.minimum((numbers - target) % 12, (target - numbers) % 12)
        last = self.vocab.pitched & (state.elapsed + self.rules.note_ticks[Fraction(1)] == self.rules.bar)
        bonus[self.vocab.note_ids[last]] += self.weight * self.prior[np.minimum(distance, len(self.prior) - 1)[last]]
        return True
