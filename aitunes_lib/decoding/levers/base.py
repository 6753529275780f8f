"""What every lever shares: its shape, and how far a melody is behind an aim."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from aitunes_lib.decoding.state import SongState

# An aim is a share; its lean is log((aim + floor) / (share so far + floor)), so that an aim of
# 0 (no chromatic note, no rest) means "avoid it" rather than a lean that grows without end
# while none is made, and a rare kind's first few make no wild swing.
SHARE_FLOOR = 0.01
AVOID = 8.0  # the logit penalty on what a melody aims never to do (chromatic notes, rests, lengths outside its rhythm)
TIME_MEMORY = 16.0  # quarters: a share of time counts as kept over this many already


class Lever(Protocol):
    """A soft preference: it adds logits for one candidate's next token, after the masks.

    Built once per vocabulary and shape (`__init__(rules, tracker, shape)`); `add` reads the
    candidate's `SongState` (its plan and its melody so far), adds to `bonus` in place, and
    says whether it added anything. No lever keeps state of its own: `Tracker` keeps it.
    """

    def add(self, state: SongState, bonus: np.ndarray) -> bool: ...


def behind(done: "float | np.ndarray", total: float, aim: "float | np.ndarray", memory: float,
           floor: float = 0.0) -> "float | np.ndarray":
    """log((aim + floor) / (share so far + floor)): how far a melody is behind its aim
    (negative: ahead), where the share so far counts the aim as already kept over `memory`
    more of the total.

    >>> round(float(behind(0, 10, 0.5, 10)), 3)  # none of 10 made, aiming at half: behind
    0.693
    """
    made = (done + memory * aim) / (total + memory)
    return np.log((aim + floor) / (made + floor))


def time_share(balance: float, done: float, total: float, aim: float) -> float:
    """The lean toward a share of time (rests, notes off the scale): −AVOID for an aim of none,
    else balance × behind(done, total, aim) over `TIME_MEMORY` with `SHARE_FLOOR`."""
    return -AVOID if aim == 0 else balance * behind(done, total, aim, TIME_MEMORY, SHARE_FLOOR)
