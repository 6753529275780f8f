"""Notes off the C major scale, as often as real melodies sing them.

Real melodies spend 5.7% of their note time off the scale (mostly the tones of chromatic
chords); 18.5% never leave it (`Tables.diatonic`). Each melody draws its share;
bonus(note off the scale) = balance × behind(time off, time sung, aim), or −AVOID for an aim of 0.
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.decoding.levers.base import time_share
from aitunes_lib.decoding.masks.ties import tie_open
from aitunes_lib.decoding.state import SongState


class Chromatic:
    def __init__(self, rules, tracker, shape):
        self.vocab, self.balance = rules.vocab, shape.balance

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        aim, melody = state.plan.aims.chromatic, state.melody
        if not self.balance or aim is None or tie_open(state):
            return False
        bonus[self.vocab.note_ids[self.vocab.off_scale]] += time_share(self.balance, melody.off_scale, melody.sung, aim)
        return True
