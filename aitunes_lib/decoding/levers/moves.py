"""Melodic moves as real melodies make them.

The prior: bonus(note) = intervals × log(share(d) / max share), d the move in semitones from
the last note (12 for an octave or more), shares from the training songs (`Tables.intervals`:
steps of 2 semitones are the most common, 31%). A small model alone leaps about twice as often.

The balance: each melody draws its own mix of moves in five groups (repeats, steps, skips,
leaps, larger leaps; `Aims.moves`, around the real songs' mean `Tables.moves`) and every note
also gets balance × behind(moves made in its group, moves made, aim), so a melody that has
repeated too many notes leans toward steps. A tied note's continuation is not a move.
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.decoding.levers.base import SHARE_FLOOR, behind
from aitunes_lib.decoding.state import MOVE_GROUPS, SongState

MEMORY = 6.0  # the aim counts as this many moves already made: the first notes are left mostly alone


def interval_prior(weight: float, shares) -> np.ndarray:
    """The logit bias for a move of 0, 1, …, 12 (or more) semitones: weight × log(share / largest share)."""
    shares = np.maximum(np.array(shares), 1e-3)
    return (weight * np.log(shares / shares.max())).astype(np.float32)


class Moves:
    def __init__(self, rules, tracker, shape):
        self.vocab, self.intervals, self.balance = rules.vocab, shape.intervals, shape.balance
        self.prior = interval_prior(shape.intervals, shape.measured.intervals)
        self.groups = np.array(MOVE_GROUPS)

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        melody, vocab, aim = state.melody, self.vocab, state.plan.aims.moves
        if not (self.intervals or (self.balance and aim)) or melody.last_pitch is None or melody.tied:
            return False
        distance = np.minimum(np.abs(vocab.numbers - melody.last_pitch), len(self.prior) - 1)[vocab.pitched]
        shift = self.prior[distance]
        if self.balance and aim:
            made = np.array(melody.moves)
            lean = self.balance * behind(made, made.sum(), np.array(aim), MEMORY, SHARE_FLOOR)
            shift = shift + lean.astype(np.float32)[self.groups[distance]]
        bonus[vocab.note_ids[vocab.pitched]] += shift
        return True
