"""After a tie, the tied pitch takes the notes' whole share.

bonus(other notes) = -UNTIED while a tie is open. The tie mask forbids those notes too; the
penalty matters because the processor keeps the notes' total probability (`SongRules.bias_group`):
masked alone, the notes' share would flow to chord symbols and bar lines instead.
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.decoding.masks.ties import tie_open
from aitunes_lib.decoding.state import SongState

UNTIED = 30.0


class HeldTie:
    def __init__(self, rules, tracker, shape):
        self.vocab = rules.vocab

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        if not tie_open(state):
            return False
        bonus[self.vocab.note_ids[~self.vocab.held(state.melody.last_spelling)]] -= UNTIED
        return True
