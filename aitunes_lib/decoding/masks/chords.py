"""One chord symbol per onset, at most a few a bar, and none over a rest.

A lead sheet names at most one chord per onset and rarely more than one per beat: 94% of the
training songs' bars hold 0 to 2 chord symbols, 0.1% more than 4. Left alone, a small model at
temperature 1 sometimes writes a chord on every note.
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.abc import CHORD_KIND
from aitunes_lib.decoding.state import SongState

MAX_CHORDS_PER_BAR = 4


class ChordSpacing:
    """No chord symbol right after another, nor past `MAX_CHORDS_PER_BAR` in a bar; and a chord
    symbol stands over a note, not a rest (where a note may come)."""

    def __init__(self, rules, tracker, shape):
        self.kinds, self.rest_ids = rules.kinds, rules.vocab.rest_ids
        self.pitched_ids = rules.note_ids[rules.vocab.pitched]

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        kinds = self.kinds
        if state.last == CHORD_KIND or int((kinds[state.current] == CHORD_KIND).sum()) >= MAX_CHORDS_PER_BAR:
            mask[kinds == CHORD_KIND] = False
        if state.last == CHORD_KIND and mask[self.pitched_ids].any():
            mask[self.rest_ids] = False
