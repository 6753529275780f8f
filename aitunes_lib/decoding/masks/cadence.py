"""The last bar lands on the plan's note (mostly the tonic) and holds it.

Its first note is the landing note in any octave; once landed, the melody holds it or rests (in
one rest where one fills the bar): no other note follows. It is held by a tie only where one
note could not hold it to the bar's end (`c4` is written so, not `c2- c2`; `ties.one_note`).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.abc import BARLINE, TIE
from aitunes_lib.decoding.masks.ties import one_note
from aitunes_lib.decoding.state import SongState


class Cadence:
    def __init__(self, rules, tracker, shape):
        self.rules, self.vocab, self.kinds = rules, rules.vocab, rules.kinds

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        if not state.in_cadence:
            return
        rules, melody = self.rules, state.melody
        notes = np.zeros_like(mask)
        if not state.cadence_note:
            notes[self.vocab.landings[state.plan.landing]] = True
        elif melody.tied and melody.last_pitch is not None:  # the landing note held on
            held = self.vocab.held(melody.last_spelling)
            whole = held & (rules.note_ticks[Fraction(1)] == rules.bar - state.elapsed)
            notes[rules.note_ids[whole if whole.any() else held]] = True
        else:  # rests to the bar's end: one rest where one fills it (`c z3`, not `c z/ z/ z z/`)
            whole = rules.filling_rest(state.elapsed)
            notes[rules.note_ids[whole if mask[rules.note_ids[whole]].any() else self.vocab.is_rest[rules.note_ids]]] = True
        ties = self.kinds == TIE
        if state.cadence_note and not melody.tied and one_note(Fraction(rules.bar - melody.struck_at, rules.ticks_per_quarter)):
            ties = np.zeros_like(ties)  # held to the bar's end it is one note (`c4`, not `c2- c2`): the model writes it so, or rests
        keep = mask & (notes | ties | (self.kinds == BARLINE))
        if keep.any():
            mask[:] = keep
