"""A triplet as the real songs write one: three notes of one length, quarters or eighths, and no rest.

Of the training songs' 772 triplets, 474 are three quarters (`(3 c d e`) and 283 three eighths
(`(3 c/ d/ e/`); 14 hold a rest. Left to the bar rules alone, the model wrote 52 triplets in
100 candidates: 35 of them held rests, and 20 were in sixteenths or thirty-seconds
(`(3 z/8 z/8 z/8`), which no singer reads.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.abc import NOTE_KIND, TUPLET_KIND
from aitunes_lib.decoding.state import SongState

TRIPLET_LENGTHS = (Fraction(1), Fraction(1, 2))  # written lengths a triplet's notes take: quarters or eighths


class Tuplets:
    def __init__(self, rules, tracker, shape):
        self.rules, self.kinds, self.vocab = rules, rules.kinds, rules.vocab
        self.triplets = np.array([token for token, (p, q, r) in rules.vocab.tuplets.items() if (p, q, r) == (3, 2, 3)],
                                 dtype=np.int64)
        self.other_marks = (rules.kinds == TUPLET_KIND) & ~np.isin(np.arange(len(rules.kinds)), self.triplets)
        self.written = np.array([rules.vocab.lengths[token] for token in rules.note_ids], dtype=object)  # over the note tokens
        self.opening = np.array([w in TRIPLET_LENGTHS for w in self.written]) & rules.vocab.pitched
        self.quarter = rules.ticks_per_quarter

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        rules = self.rules
        if not state.tuplet_left:
            mask[self.other_marks] = False  # a triplet only, and only where a triplet of eighths fits (a quarter)
            if rules.bar - state.elapsed < self.quarter:
                mask[self.triplets] = False
            return
        before = next((t for t in reversed(state.current) if self.kinds[t] in (NOTE_KIND, TUPLET_KIND)), None)
        if before is None or self.kinds[before] == TUPLET_KIND:  # its first note: a quarter or an eighth, not a rest
            keep = self.opening
        else:  # the others as long as the first (a rest is not one of them)
            keep = (self.written == self.vocab.lengths[before]) & self.vocab.pitched
        if mask[rules.note_ids[keep]].any():
            mask[rules.note_ids[~keep]] = False
