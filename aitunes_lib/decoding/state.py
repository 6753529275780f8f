"""Where one candidate stands while it is decoded: its bar, its form, and what its melody has done.

`SongState` extends the bar arithmetic's `BarState` with the candidate's `SongPlan`, the
tokens of each bar so far (a returning section copies them) and a `Melody` record that
`Tracker.advance` keeps up to date, once per token, for every mask and lever to read.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from aitunes_lib.abc import BARLINE, CHORD_KIND, FORBIDDEN, NOTE_KIND, TIE
from aitunes_lib.decoding.masks.bars import BarState, MeterRules
from aitunes_lib.decoding.plan import SongPlan

# The group of a move of 0, 1, ..., 12 (or more) semitones: repeats, steps (1-2), skips (3-4),
# leaps (5-7) and larger leaps (8 or more).
MOVE_GROUPS = (0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4)


@dataclasses.dataclass
class Melody:
    """What the melody has done so far (quarters are written lengths)."""

    chord: frozenset[int] = frozenset()  # the pitch classes of the chord symbol sounding now
    last_pitch: int | None = None  # the last note's pitch, semitones above middle C
    last_spelling: int = -1  # how the last note was written (`Vocab.spellings`): a tie continues that spelling
    tied: bool = False  # a tie follows the last note: the next note continues it (across a bar line too)
    struck_at: int = 0  # ticks into its bar where the sounding note began (a tie carries it on; a bar line restarts it at 0)
    low: int | None = None  # its lowest and highest pitch so far
    high: int | None = None
    moves: list[int] = dataclasses.field(default_factory=lambda: [0] * (max(MOVE_GROUPS) + 1))  # moves per group
    notes: int = 0  # pitched notes, and how many of them were tied to the next
    ties: int = 0
    onsets: int = 0  # notes struck (a tied continuation is not struck again)
    rested: float = 0.0  # quarters of rests
    sung: float = 0.0  # quarters of notes, and how many of them off the C major scale
    off_scale: float = 0.0
    under: float = 0.0  # quarters of notes sung under a chord symbol, and how many of them on its tones
    on_chord: float = 0.0


@dataclasses.dataclass
class SongState(BarState):
    """A `BarState` in a planned song."""

    plan: SongPlan = SongPlan("A", ())
    closing: list[int] = dataclasses.field(default_factory=list)  # the tokens of the ending's chord symbol
    bars: list[list[int]] = dataclasses.field(default_factory=list)  # each finished bar's tokens, bar line included
    current: list[int] = dataclasses.field(default_factory=list)
    forcing: list[int] = dataclasses.field(default_factory=list)  # the rest of a copied bar or of the closing chord
    retuning: bool = False  # the copied bar keeps its melody: where it has a chord symbol, the model writes one (or none)
    offset: int = 0  # 1 when the song opened with a pickup: form bars count from the first whole bar
    emitted: int = 0  # tokens generated so far (against the window's budget)
    cadence_note: bool = False  # the last bar has its first note
    chart: list = dataclasses.field(default_factory=list)  # per form bar, the planned chords as (onset in ticks, token ids)
    chord_due: int = 0  # how many of this bar's planned chords are written
    melody: Melody = dataclasses.field(default_factory=Melody)

    @property
    def form_bar(self) -> int:
        """The bar of the form being written (-1 in a pickup)."""
        return self.bar_index - self.offset

    def step(self, bar: int | None = None):
        """What a bar of the form does (`SongPlan.steps`; this bar by default), None outside the form."""
        b = self.form_bar if bar is None else bar
        return self.plan.steps[b] if 0 <= b < len(self.plan.steps) else None

    @property
    def in_cadence(self) -> bool:
        return self.step() == "cadence"

    def planned_chord(self) -> tuple[int, list[int]] | None:
        """The planned chord still to write in this free bar, as (onset in ticks, token ids); None when none is left."""
        b = self.form_bar
        if not self.chart or not 0 <= b < len(self.chart) or self.step() != "free" or self.chord_due >= len(self.chart[b]):
            return None
        return self.chart[b][self.chord_due]

    def retuning_chord(self, kinds: np.ndarray) -> bool:
        """A copied melody's chord symbol is due: the model may write any chord symbol there, or none."""
        return self.retuning and bool(self.forcing) and kinds[self.forcing[0]] == CHORD_KIND


class Tracker:
    """Advances a `SongState` by one token: the bar arithmetic, the form's copies and the melody's record."""

    def __init__(self, rules: MeterRules):
        self.rules, self.vocab, self.kinds = rules, rules.vocab, rules.kinds
        self.quarters = (rules.note_ticks[Fraction(1)] / rules.ticks_per_quarter).astype(np.float64)

    def advance(self, state: SongState, token: int) -> SongState:
        """The state after one token (in place, returned for convenience)."""
        if state.done:
            return state
        vocab, melody = self.vocab, state.melody
        kind = int(self.kinds[token]) if 0 <= token < len(self.kinds) else FORBIDDEN
        if state.retuning_chord(self.kinds) and kind != CHORD_KIND:
            state.forcing.pop(0)  # no chord symbol written where the copied bar had one: the last one carries on
        if state.forcing and (state.forcing[0] == token or state.retuning and kind == CHORD_KIND == self.kinds[state.forcing[0]]):
            state.forcing.pop(0)
        elif state.forcing:  # a sampler that broke the forcing: follow the rules from here
            state.forcing = []
        state.current.append(token)
        state.emitted += 1
        if kind == CHORD_KIND and state.chart and not state.forcing:
            self._chart_chord(state, token)
        if kind == CHORD_KIND:
            melody.chord = vocab.tones(token)
        elif kind == TIE:
            melody.tied = True
            melody.ties += 1
        elif kind == NOTE_KIND and vocab.is_rest[token]:
            melody.rested += self.quarters[vocab.index_of[token]]
        elif kind == NOTE_KIND:
            pitch, tied = vocab.pitch_of.get(token), melody.tied
            if pitch is not None and melody.last_pitch is not None and not melody.tied:
                melody.moves[MOVE_GROUPS[min(abs(pitch - melody.last_pitch), len(MOVE_GROUPS) - 1)]] += 1
            melody.tied = False
            if not tied or state.elapsed == 0:
                melody.struck_at = state.elapsed
            index = vocab.index_of[token]
            melody.last_pitch, melody.last_spelling = pitch, int(vocab.spellings[index])
            melody.notes += pitch is not None
            melody.onsets += not tied
            melody.sung += self.quarters[index]
            melody.off_scale += self.quarters[index] * vocab.off_scale[index]
            if pitch is not None and melody.chord:
                melody.under += self.quarters[index]
                melody.on_chord += self.quarters[index] * (int(vocab.pcs[index]) % 12 in melody.chord)
            if melody.last_pitch is not None:
                melody.low = melody.last_pitch if melody.low is None else min(melody.low, melody.last_pitch)
                melody.high = melody.last_pitch if melody.high is None else max(melody.high, melody.last_pitch)
            if state.plan.steps and state.form_bar == len(state.plan.steps) - 1:
                state.cadence_note = True
        pickup = state.bar_index == 0 and kind == BARLINE and 0 < state.elapsed < self.rules.bar
        self.rules.advance(state, token)
        if kind == BARLINE:
            state.offset = 1 if pickup else state.offset
            state.bars.append(state.current)
            state.current = []
            state.chord_due = 0
            step = state.step()
            state.retuning = isinstance(step, tuple) and step[0] == "tune"
            if isinstance(step, tuple):
                state.forcing = list(state.bars[step[1] + state.offset])
            elif step == "cadence":
                state.forcing = list(state.closing)
        return state

    @staticmethod
    def _chart_chord(state: SongState, token: int) -> None:
        """A planned chord's first token written at (or after) its onset: the rest of its tokens follow."""
        due = state.planned_chord()
        if due is not None and due[0] <= state.elapsed and due[1][0] == token:
            state.forcing = list(due[1][1:])
            state.chord_due += 1

    def next_opening(self, state: SongState) -> tuple[int, bool, int] | None:
        """The first note of the next bar when it is already known, as (pitch, tonic, spelling):
        a copied bar's, or the cadence's landing pitch class `(landing, True, -1)`; None when the
        model will choose it or a rest opens it."""
        b = state.form_bar + 1
        if state.bar_index == 0 and state.elapsed < self.rules.bar or not 0 < b < len(state.plan.steps):
            return None
        step = state.plan.steps[b]
        if step == "cadence":
            return (state.plan.landing, True, -1)
        if not isinstance(step, tuple) or step[1] + state.offset >= len(state.bars):
            return None
        for token in state.bars[step[1] + state.offset]:
            if self.kinds[token] == NOTE_KIND:
                pitch = self.vocab.pitch_of.get(token)
                return None if pitch is None else (pitch, False, int(self.vocab.spellings[self.vocab.index_of[token]]))
        return None
