"""A drawn pickup is written in plain notes (the bar rules keep it short: `MeterRules.allowed(pickup=True)`)."""

from __future__ import annotations

import numpy as np

from aitunes_lib.abc import TUPLET_KIND
from aitunes_lib.decoding.state import SongState


class Pickup:
    """No tuplet mark in a drawn pickup."""

    def __init__(self, rules, tracker, shape):
        self.kinds = rules.kinds

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        kinds = self.kinds
        if state.bar_index == 0 and state.plan.pickup and not state.tuplet_left:
            mask[kinds == TUPLET_KIND] = False
