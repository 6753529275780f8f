"""A planned chart followed in the free bars (`SongShape.harmony`): each planned chord symbol
at its beat, or with the first note after it where a note is held across the beat (as real
lead sheets place a chord under a syncopated note), and no other chord symbol.

At a bar's start the chord comes right after the bar line (or the line break that may follow
it); in a pickup no chord is written. Copied bars and the cadence bring their own chords.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.abc import BARLINE, CHORD_KIND, LINEBREAK, NOTE_KIND, TIE
from aitunes_lib.decoding.state import SongState


class Harmony:
    def __init__(self, rules, tracker, shape):
        self.rules, self.kinds = rules, rules.kinds

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        if not state.chart:
            return
        kinds, rules = self.kinds, self.rules
        if state.form_bar < 0 or state.bar_index == 0 and state.plan.pickup:  # a pickup: no chord yet
            mask[kinds == CHORD_KIND] = False
            return
        if state.step() != "free":
            return
        next_chord = state.planned_chord()
        if next_chord is not None and next_chord[0] <= state.elapsed < rules.bar:
            keep = np.zeros_like(mask)
            keep[next_chord[1][0]] = True
            if state.elapsed == 0 and state.last == BARLINE:
                keep |= mask & (kinds == LINEBREAK)  # a line break may come between the bar line and the chord
            if state.last == NOTE_KIND and not state.last_rest:
                keep |= mask & (kinds == TIE)  # a note tied across the chord's onset: the chord comes after the tie
            mask[:] = keep
            return
        mask[kinds == CHORD_KIND] = False
        if next_chord is not None and not state.tuplet_left:  # a note may cross the chord's beat, not fill the bar past it
            fills = state.elapsed + rules.note_ticks[Fraction(1)] >= rules.bar
            notes = mask[rules.note_ids]
            if (notes & ~fills).any():
                mask[rules.note_ids[fills]] = False
