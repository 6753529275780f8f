"""A phrase closes as real phrases close: the bar that ends it strikes its last note early, then
holds it or rests.

Real melodies breathe where their phrases end. In the training songs' 8-bar blocks, the fourth
and the eighth bar strike fewer notes than the bars around them (2.9 and 2.2 a bar, against
3.1 to 3.7), and the eighth strikes none at all (a held note or a rest) in 19% of the blocks;
the candidates struck as many notes there as anywhere (3.0 to 3.3), and none in 2%. So each
free bar that closes a phrase draws, from those blocks (`Tables.breaths`), the eighth of the bar
on which its last note may be struck (`SongPlan.breaths`; -1: none). The last note holds: it
ends where another may still be struck, or at the bar's end, or lasts two beats or more and
rests after (`c2 z2`); a short note followed by rests put a fifth more rest time in the songs
than real songs have (0.087 of their time against 0.060). A planned chord later in the bar
still gets its note at its beat, so that no chord symbol stands over a rest.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.abc import CHORD_KIND, TUPLET_KIND
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

    def breath(self, state: SongState) -> Fraction | None:
        """The tick from which this bar strikes no note: the end of its drawn eighth (None: no breath here)."""
        b, breaths = state.form_bar, state.plan.breaths
        if not 0 <= b < len(breaths) or breaths[b] is None or state.step() != "free":
            return None
        return (breaths[b] + 1) * self.eighth

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        breath = self.breath(state)
        if breath is None:
            return
        if not state.tuplet_left:
            mask[self.kinds == TUPLET_KIND] = False  # a tuplet would strike past the breath
        due = state.planned_chord()
        striking = state.elapsed < breath or due is not None and due[0] <= state.elapsed or state.last == CHORD_KIND
        if tie_open(state):
            return  # the note held on
        rules = self.rules
        if striking:  # a note struck now ends before the breath (another may follow), or holds: to the bar's end, or two beats
            ends = state.elapsed + self.ticks
            holds = (ends < breath) | (ends == rules.bar) | (self.ticks >= self.long)
            if mask[rules.note_ids[~self.resting & holds]].any():
                mask[rules.note_ids[~self.resting & ~holds]] = False
            return
        mask[self.struck] = False
        whole = self.resting & (self.ticks == rules.bar - state.elapsed)
        if mask[rules.note_ids[whole]].any():  # one rest where one fills the bar (`c2 z2`, not `c2 z z/ z/`)
            mask[rules.note_ids[~whole]] = False
