"""A melody keeps to one real song's set of note lengths (`SongPlan.rhythm`, from `Tables.rhythms`).

bonus(note of another length) = −AVOID, and the same on tuplet marks when the set has none.
Left to itself a small model writes a little of every length.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.abc import TUPLET_KIND
from aitunes_lib.decoding.levers.base import AVOID
from aitunes_lib.decoding.masks.ties import tie_open
from aitunes_lib.decoding.state import SongState


class Rhythm:
    def __init__(self, rules, tracker, shape):
        self.vocab, self.kinds = rules.vocab, rules.kinds
        self.written = [Fraction(int(t), rules.ticks_per_quarter) for t in rules.note_ticks[Fraction(1)]]
        self._outside: dict[frozenset[Fraction], np.ndarray] = {}

    def outside(self, lengths: frozenset[Fraction]) -> np.ndarray:
        """Over the note tokens: the pitched notes whose written length is not one of `lengths`."""
        if lengths not in self._outside:
            self._outside[lengths] = self.vocab.pitched & np.array([w not in lengths for w in self.written])
        return self._outside[lengths]

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        lengths = state.plan.lengths
        if lengths is None or tie_open(state):
            return False
        bonus[self.vocab.note_ids[self.outside(lengths)]] -= AVOID
        if not state.plan.tuplets:
            bonus[self.kinds == TUPLET_KIND] -= AVOID
        return True
