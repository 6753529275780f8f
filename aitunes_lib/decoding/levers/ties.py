"""Ties as often as real melodies tie a note: 7.5% of notes (`Tables.tie_share`).

bonus(tie) = balance × behind(ties, notes, tie share) after a note. A small model at
temperature 1 tied 18%, which lengthens notes oddly.
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.abc import NOTE_KIND, TIE
from aitunes_lib.decoding.levers.base import behind
from aitunes_lib.decoding.levers.moves import MEMORY
from aitunes_lib.decoding.state import SongState


class TieShare:
    def __init__(self, rules, tracker, shape):
        self.kinds, self.balance, self.share = rules.kinds, shape.balance, shape.measured.tie_share

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        if not (self.balance and state.plan.aims.moves) or state.last != NOTE_KIND or state.last_rest:
            return False
        bonus[self.kinds == TIE] += self.balance * behind(state.melody.ties, state.melody.notes, self.share, MEMORY)
        return True
