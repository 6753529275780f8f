"""The soft preferences, one a file, added in this order to a candidate's logits after the masks.

Each file's docstring gives its formula and the real-song figure it aims at; each is switched
off by its `SongShape` weight. `benchmarks/bench_judges.py` ablates them: a lever that moved
neither judge nor any goal was removed (the lead-in to a known next note, the reach for the
range's edges; `benchmarks/results/judges_2026-12-07c.md`).
"""

from aitunes_lib.decoding.levers.base import Lever
from aitunes_lib.decoding.levers.chord_tones import ChordTones
from aitunes_lib.decoding.levers.chromatic import Chromatic
from aitunes_lib.decoding.levers.density import Density
from aitunes_lib.decoding.levers.held_tie import HeldTie
from aitunes_lib.decoding.levers.moves import Moves
from aitunes_lib.decoding.levers.register import Register
from aitunes_lib.decoding.levers.rests import Rests
from aitunes_lib.decoding.levers.rhythm import Rhythm
from aitunes_lib.decoding.levers.ties import TieShare

# the order of the sum (floating point: keep it, and a candidate's logits stay the same bits)
ORDER = (HeldTie, ChordTones, Moves, Density, Rests, Chromatic, Rhythm, TieShare, Register)

__all__ = ["Lever", "ORDER", *(lever.__name__ for lever in ORDER)]
