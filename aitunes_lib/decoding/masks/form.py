"""A song's form: returning sections copied token for token, and the article's ending once the form is complete."""

from __future__ import annotations

import numpy as np

from aitunes_lib.abc import BARLINE, CHORD_KIND, END_KIND, LINEBREAK, SPACE
from aitunes_lib.decoding.masks.bars import settled
from aitunes_lib.decoding.state import SongState


def forced(state: SongState, kinds: np.ndarray) -> np.ndarray | None:
    """The mask when the form decides the next token alone (a copied bar, the closing chord, the
    ending after the last bar, or done); None when the bar rules and the other masks decide."""
    mask = settled(state, kinds)
    if mask is not None:
        if state.retuning_chord(kinds) and not state.done:
            mask[kinds == CHORD_KIND] = True  # where the copied bar has a chord symbol: any chord symbol, or none
            mask[state.forcing[1:2]] = True
        return mask
    if state.bar_index > 0 and state.form_bar >= len(state.plan.steps):  # the form is complete: ` $ <end>`
        mask = np.zeros(len(kinds), dtype=bool)
        if state.last == BARLINE:
            mask[kinds == LINEBREAK] = True
        elif state.last == LINEBREAK:
            mask[kinds == SPACE] = True
        mask[kinds == END_KIND] = True
        return mask
    return None


class Form:
    """No ending before the form's last bar (`forced` writes the ending after it)."""

    def __init__(self, rules, tracker, shape):
        self.kinds = rules.kinds

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        mask[(self.kinds == END_KIND) | (self.kinds == SPACE)] = False
