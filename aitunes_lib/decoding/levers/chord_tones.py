"""Notes on the sounding chord's tones.

bonus(note on the chord) = chord_tones, and with the balance on, each melody leans toward its
own drawn share of note time on the chord's tones (`Aims.chord_tones`; real songs: mean 0.775,
`Tables.tone_share`): balance × behind(on_chord, under, aim) on the chord's tones and
balance × behind(off, under, 1 − aim) on the others. Over a chart the small model alone put 56%
of its melody time on chord tones; real melodies 75%.

Where a copied melody takes a new chord symbol (`SongShape.retune`), the chord symbols that
hold the copied bar's next note get the bonus instead.
"""

from __future__ import annotations

import numpy as np

from aitunes_lib.abc import CHORD_KIND
from aitunes_lib.decoding.levers.base import SHARE_FLOOR, TIME_MEMORY, behind
from aitunes_lib.decoding.masks.ties import tie_open
from aitunes_lib.decoding.state import SongState



class ChordTones:
    def __init__(self, rules, tracker, shape):
        self.vocab, self.weight, self.balance = rules.vocab, shape.chord_tones, shape.balance
        self._chords: tuple[np.ndarray, list[frozenset[int]]] | None = None

    def add(self, state: SongState, bonus: np.ndarray) -> bool:
        melody, vocab = state.melody, self.vocab
        if not (self.weight and melody.chord):
            return False
        on = np.isin(vocab.pcs, list(melody.chord)) & ~vocab.is_rest[vocab.note_ids]
        bonus[vocab.note_ids[on]] += self.weight
        aim = state.plan.aims.chord_tones
        if self.balance and aim is not None and not tie_open(state):
            bonus[vocab.note_ids[on]] += self.balance * behind(melody.on_chord, melody.under, aim, TIME_MEMORY, SHARE_FLOOR)
            off = vocab.pitched & ~on
            bonus[vocab.note_ids[off]] += self.balance * behind(
                melody.under - melody.on_chord, melody.under, 1 - aim, TIME_MEMORY, SHARE_FLOOR)
        return True

    def holding(self, note: int) -> np.ndarray:
        """The bonus on the chord symbols that hold this note's pitch class (a retuned bar's chord)."""
        vocab = self.vocab
        if self._chords is None:
            chords = np.flatnonzero(vocab.kinds == CHORD_KIND)
            self._chords = (chords, [vocab.tones(int(token)) for token in chords])
        bonus = np.zeros(len(vocab.kinds), dtype=np.float32)
        pc = vocab.pcs[vocab.index_of[note]] % 12 if note in vocab.index_of and not vocab.is_rest[note] else None
        if pc is not None:
            chords, tones = self._chords
            bonus[chords[[pc in held for held in tones]]] = self.weight
        return bonus
