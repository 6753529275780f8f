"""A phrase closes as real phrases close: the bar that ends it strikes its last note early, then
holds it or rests.

Real melodies breathe where their phrases end. In the training songs' 8-bar blocks (a song's
last bar aside), the fourth and the eighth bar strike fewer notes than the bars around them
(2.9 and 2.4 a bar, against 3.1 to 3.7), and the eighth strikes none at all (a held note or a
rest) in 16% of the blocks;
the candidates struck as many notes there as anywhere (3.0 to 3.3), and none in 2%. So each
free bar that closes a phrase draws, from those blocks (`Tables.breaths`), the eighth of the bar
on which its last note may be struck (`SongPlan.breaths`; -1: none).

- A bar that strikes none is held into: the note that ends the bar before it is tied over, as in
  401 of the real 441 such bars (after a rest, the breath bar strikes on its first beat rather
  than rest a whole bar in mid-song).
- Real phrases breathe by holding their last note, not by resting after a short one: the real
  fourth bars rest 0.21 quarters on average and the eighth 0.47. So the last note holds to the
  bar's end, or is two beats or more and rests after (`c2 z2`), and a rest before the breath
  ends before it. Left to rest after a short note, the candidates rested 0.50 and 0.78 quarters
  there, and 0.087 of their time in all (real songs: 0.060); now 0.40, 0.61 and 0.067.
- A planned chord later in the bar still gets its note at its beat, so that no chord symbol
  stands over a rest.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.abc import CHORD_KIND, NOTE_KIND, TIE, TUPLET_KIND
from aitunes_lib.decoding.masks.ties import tie_open
from aitunes_lib.decoding.state import SongState


class Breath:
    def __init__(self, rules, tracker, shape):
        self.rules, self.kinds = rules, rules.kinds
        self.eighth = Fraction(rules.ticks_per_quarter, 2)
        self.struck = rules.note_ids[rules.vocab.pitched]
        self.resting = rules.vocab.is_rest[rules.note_ids]
        self.ticks = rules.note_ticks[Fraction(1)]
        self.long = 2 * rules.ticks_per_quarter  # a note this long is a breath of its own (`c2 z2`)

    @staticmethod
    def drawn(state: SongState, b: int) -> int | None:
        """Bar b's drawn eighth (-1: none struck), or None where it has no breath (nor in a pickup)."""
        breaths = state.plan.breaths
        if state.bar_index == 0 and state.plan.pickup or not 0 <= b < len(breaths) or state.step(b) != "free":
            return None
        return breaths[b]

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        rules = self.rules
        ahead = self.drawn(state, state.form_bar + 1)
        if state.elapsed == rules.bar and ahead == -1 and state.last == NOTE_KIND and not state.last_rest:
            ties = mask & (self.kinds == TIE)
            if ties.any():  # the note holds on into a bar that strikes none
                mask[:] = ties
            return
        drawn = self.drawn(state, state.form_bar)
        if drawn is None:
            return
        # from this tick no note is struck (in a bar that strikes none and is not held into: after its first beat)
        breath = (max(drawn, 0) + 1) * self.eighth
        if not state.tuplet_left:
            mask[self.kinds == TUPLET_KIND] = False  # a tuplet would strike past the breath
        due = state.planned_chord()
        chord_note = due is not None and due[0] <= state.elapsed or state.last == CHORD_KIND
        if state.elapsed < breath or chord_note or tie_open(state):
            # a note struck (or held on) now ends before the breath, where another may follow, or holds:
            # to the bar's end, or two beats and more; a rest here ends before the breath
            ends = state.elapsed + self.ticks
            keep = (ends < breath) | ~self.resting & ((ends == rules.bar) | (self.ticks >= self.long))
            if mask[rules.note_ids[keep]].any():
                mask[rules.note_ids[~keep]] = False
            return
        mask[self.struck] = False
        whole = rules.filling_rest(state.elapsed)
        if mask[rules.note_ids[whole]].any():  # one rest where one fills the bar (`c2 z2`, not `c2 z z/ z/`)
            mask[rules.note_ids[~whole]] = False
