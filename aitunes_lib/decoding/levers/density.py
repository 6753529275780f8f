"""How busy a melody is: notes struck per quarter.

Each melody draws a density around the real songs' (`Tables.density`: 0.79 notes a quarter,
3.2 a bar, a spread of 0.31 in log); ahead of it, longer notes gain; behind, shorter ones:
bonus(note) = −balance × behind(onsets, quarters so far, density) × log2(its length in quarters).
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.decoding.levers.base import behind
from aitunes_lib.decoding.masks.ties import tie_open
from aitunes_lib.decoding.state import SongState

MEMORY = 8.0  # quarters: the density counts as kept over this many already


class Density:
    def __init__(self, rules, tracker, shape):
        from fractions import Fraction

        self.rules, self.balance = rules, shape.balance
        self.doublings = np.log2(rules.note_ticks[Fraction(1)] / rules.ticks_per_quarter).astype(np.float32)  # 0 for a quarter

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        aim = state.plan.aims.density
        if not self.balance or aim is None or tie_open(state) or state.tuplet_left:
            return False
        quarters = (state.bar_index * self.rules.bar + state.elapsed) / self.rules.ticks_per_quarter
        bonus[self.rules.note_ids] -= self.balance * behind(state.melody.onsets, quarters, aim, MEMORY) * self.doublings
        return True
