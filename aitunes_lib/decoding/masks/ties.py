"""A tie joins two notes of one pitch.

After a tie only that note, as it was written, may follow (at any length); a tie is offered
only where such a note fits, and a note that ends the bar may be tied only into a next bar
that opens on it (nothing past the last bar). Left free, a small model tied notes into rests
and into leaps.
"""

from __future__ import annotations

from fractions import Fraction

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
        if room > 0 and not state.tuplet_left:  # some note of this pitch must fit what is left of the bar
            first = state.bar_index == 0  # (a drawn pickup must stay short)
            fits = rules._fits(room - rules.note_ticks[Fraction(1)], first, first and state.plan.pickup is True)
            if not (self.vocab.held(melody.last_spelling) & fits).any():
                mask[self.kinds == TIE] = False
        elif room == 0:
            b = state.form_bar + 1
            steps = state.plan.steps
            if b >= len(steps) > 0:  # the song ends here: nothing to tie into
                mask[self.kinds == TIE] = False
                return
            forced = 0 < b < len(steps) and steps[b] != "free"  # a copied bar or the cadence comes next
            ahead = self.tracker.next_opening(state)
            if forced and (ahead is None or ahead[1] or ahead[2] != melody.last_spelling):  # a rest, or another note, opens it
                mask[self.kinds == TIE] = False
