"""A melody keeps to a singer's range, and uses it.

Each melody draws the widest range it may take from the real songs' (`Tables.ranges`, mostly
12 to 17 semitones). A note that would stretch it further gets −range_penalty (a soft limit:
the cadence's landing note may still cross it). In free bars, notes that widen the melody
toward that range gain reach × (form bar / form bars): melodies that only kept inside the
limit ran narrower than real ones.
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.decoding.masks.ties import tie_open
from aitunes_lib.decoding.state import SongState


class Register:
    def __init__(self, rules, tracker, shape):
        self.vocab, self.penalty, self.reach = rules.vocab, shape.range_penalty, shape.reach

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        span, melody, vocab = state.plan.span, state.melody, self.vocab
        if span is None or melody.low is None:
            return False
        outside = vocab.pitched & ((vocab.numbers < melody.high - span) | (vocab.numbers > melody.low + span))
        bonus[vocab.note_ids[outside]] -= self.penalty
        b = state.form_bar
        if self.reach and state.step() == "free" and not tie_open(state):
            wider = vocab.pitched & ~outside & ((vocab.numbers < melody.low) | (vocab.numbers > melody.high))
            bonus[vocab.note_ids[wider]] += self.reach * b / len(state.plan.steps)
        return True
