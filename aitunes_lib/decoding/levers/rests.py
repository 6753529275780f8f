"""Rests as real songs rest.

8.7% of the real songs never rest (`Tables.restless`); the others rest 6.5% of their time
(`Tables.resting`). Each melody draws its share; bonus(rest) = balance × behind(rested time,
time so far, aim), or −AVOID when it aims never to rest.
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.decoding.levers.base import time_share
from aitunes_lib.decoding.masks.ties import tie_open
from aitunes_lib.decoding.state import SongState


class Rests:
    def __init__(self, rules, tracker, shape):
        self.vocab, self.balance = rules.vocab, shape.balance

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        aim, melody = state.plan.aims.rests, state.melody
        if not self.balance or aim is None or tie_open(state):
            return False
        bonus[self.vocab.rest_ids] += time_share(self.balance, melody.rested, melody.sung + melody.rested, aim)
        return True
