"""A tie joins two notes of one pitch, across a bar line.

After a tie only that note, as it was written, may follow (at any length). A tie is offered
only at the end of a bar, into a next bar that opens on that note (nothing past the last bar):
inside a bar one note of the summed length says the same (`c- c` is `c2`), and a lead sheet
writes it so. Left free, a small model tied notes into rests, into leaps, and within a bar
(23 times in one song).
"""

from __future__ import annotations


import numpy as np

from aitunes_lib.abc import TIE, TUPLET_KIND
from aitunes_lib.decoding.state import SongState


def tie_open(state: SongState) -> bool:
    """A tie waits for its note (in the cadence's bar the landing note wins over a copied tie)."""
    return state.melody.tied and state.melody.last_pitch is not None and not state.in_cadence


class Ties:
    def __init__(self, rules, tracker):
        self.rules, self.vocab, self.kinds, self.tracker = rules, rules.vocab, rules.kinds, tracker

    def others(self, state: SongState) -> np.ndarray | None:
        """After a tie, the note tokens of any other pitch (or a rest); None when no tie is open."""
        return self.vocab.note_ids[~self.vocab.held(state.melody.last_spelling)] if tie_open(state) else None

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        rules, melody = self.rules, state.melody
        other = self.others(state)
        if other is not None and mask[rules.note_ids].sum() > mask[other].sum():  # a note of that pitch fits: keep only those
            mask[other] = False
            mask[self.kinds == TUPLET_KIND] = False  # and a plain one: a tuplet mark between would break the tie
        if not mask[self.kinds == TIE].any() or melody.last_pitch is None:
            return
        room = rules.bar - state.elapsed
        if room > 0:  # inside the bar: one longer note, not a tie
            mask[self.kinds == TIE] = False
        else:
            b = state.form_bar + 1
            steps = state.plan.steps
            if b >= len(steps) > 0:  # the song ends here: nothing to tie into
                mask[self.kinds == TIE] = False
                return
            forced = 0 < b < len(steps) and steps[b] != "free"  # a copied bar or the cadence comes next
            ahead = self.tracker.next_opening(state)
            if forced and (ahead is None or ahead[1] or ahead[2] != melody.last_spelling):  # a rest, or another note, opens it
                mask[self.kinds == TIE] = False
