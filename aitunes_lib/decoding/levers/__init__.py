"""The soft preferences, one a file, added in this order to a candidate's logits after the masks.

Each file's docstring gives its formula and the real-song figure it aims at; each is switched
off by its `SongShape` weight. `benchmarks/bench_realism.py` ablates them.
"""

from aitunes_lib.decoding.levers.base import Lever
from aitunes_lib.decoding.levers.chord_tones import ChordTones
from aitunes_lib.decoding.levers.chromatic import Chromatic
from aitunes_lib.decoding.levers.density import Density
from aitunes_lib.decoding.levers.held_tie import HeldTie
from aitunes_lib.decoding.levers.lead_in import LeadIn
from aitunes_lib.decoding.levers.moves import Moves
from aitunes_lib.decoding.levers.register import Register
from aitunes_lib.decoding.levers.rests import Rests
from aitunes_lib.decoding.levers.rhythm import Rhythm
from aitunes_lib.decoding.levers.ties import TieShare

# the order of the sum (floating point: keep it, and a candidate's logits stay the same bits)
ORDER = (HeldTie, ChordTones, Moves, Density, Rests, Chromatic, Rhythm, TieShare, LeadIn, Register)

__all__ = ["Lever", "ORDER", *(lever.__name__ for lever in ORDER)]
