"""Bars that add up by construction: a token mask that tracks the running length of the bar.

The article's songs broke 4/4 by inserting extra eighth notes. A local decoder can refuse
to: before each token is sampled, `MeterRules.allowed` says which tokens keep the bar
legal, and `MeterProcessor` (a `transformers` `LogitsProcessor`) sets the others to -inf.

The rules, for the body of a song in the article's format (`L:1/4`, chords in backticks):
- a note or rest fits only if the bar can still be completed exactly after it;
- when the bar is full, only a bar line may follow (or a tie on the last note);
- the first bar may be a pickup: a bar line may close it at any length;
- a tuplet mark `(p:q:r` scales the next r notes by q/p and must fit as a whole;
- chord symbols and ties take no time; a tie follows a pitched note;
- grace notes and invisible rests (`x`, which music21 drops) are not generated;
- ` $` (the line break) may follow a bar line, and `<end>` may follow a bar line or ` $`.

Only tokens that are one whole event are ever allowed while the rules are on, so the
duration of every allowed token is known from its text alone.

`ChartRules` adds a chord chart (the `chords` task): each bar as long as the chart's, every
chord symbol forced at its onset, a token budget that always reaches the last bar, and an
optional bonus for notes on the sounding chord's tones.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from fractions import Fraction
from typing import Callable, ClassVar, Sequence

import numpy as np

from aitunes_lib.abc import (  # the one ABC event grammar
    BARLINE, CHORD_KIND, END_KIND, FORBIDDEN, LINEBREAK, NOTE_KIND, SPACE, TIE, TUPLET_KIND,
    bar_lengths, classify, note_length, pitch_class, pitch_number, read_bars, tuplet_ratio,
)

__all__ = ["BarState", "MeterRules", "ChartState", "ChartRules", "MeterProcessor", "make_processor", "WholeBars",
           "FollowChart", "classify", "note_length", "pitch_class", "read_bars", "bar_lengths", "tuplet_ratio", "BARLINE"]


@dataclasses.dataclass
class BarState:
    """Where one sequence stands: time used in the bar (ticks), which bar, open tuplet, last token."""

    elapsed: int = 0
    bar_index: int = 0
    tuplet_left: int = 0
    tuplet: tuple[int, int] = (1, 1)  # (p, q): notes inside last q/p of their written length
    last_rest: bool = False
    last: int = LINEBREAK  # the kind of the last token; the body starts like a new line
    ending: bool = False
    done: bool = False
    min_bars: int = 1  # `<end>` may come once this many bars are complete


def _finishing(state: BarState, kinds: np.ndarray) -> np.ndarray:
    """The mask once a sequence is done (anything: it is cut there) or ending (only `<end>`); else all False."""
    mask = np.zeros(len(kinds), dtype=bool)
    if state.done:
        mask[:] = True
    elif state.ending:
        mask[kinds == END_KIND] = True
    return mask


def _settled(state: "ChartState | FormState", kinds: np.ndarray) -> np.ndarray | None:
    """The mask when a sequence is done or ending, or when a forced token is due; else None."""
    mask = _finishing(state, kinds)
    if mask.any():
        return mask
    if state.forcing:
        mask[state.forcing[0]] = True
        return mask
    return None


class MeterRules:
    """Which tokens keep every bar of `bar` quarters exact, for a vocabulary of token texts."""

    def __init__(self, token_texts: Sequence[str], bar: Fraction = Fraction(4)):
        self.texts = list(token_texts)
        self.kinds = np.zeros(len(token_texts), dtype=np.int8)
        lengths: dict[int, Fraction] = {}
        self.tuplets: dict[int, tuple[int, int, int]] = {}
        for i, text in enumerate(token_texts):
            kind, value = classify(text)
            self.kinds[i] = kind
            if kind == NOTE_KIND:
                lengths[i] = value  # type: ignore[assignment]
            elif kind == TUPLET_KIND:
                self.tuplets[i] = value  # type: ignore[assignment]
        ratios = {Fraction(q, p) for p, q, _ in self.tuplets.values()} | {Fraction(1)}
        # one tick divides every note length, in or out of a tuplet, and the bar
        self.ticks_per_quarter = math.lcm(bar.denominator, *((w * f).denominator for w in lengths.values() for f in ratios))
        tpq = self.ticks_per_quarter
        self.bar = int(bar * tpq)
        self.note_ids = np.array(sorted(lengths), dtype=np.int64)
        self.note_texts = [token_texts[i] for i in self.note_ids]
        self.note_ticks = {Fraction(q, p): np.array([int(lengths[i] * Fraction(q, p) * tpq) for i in self.note_ids], dtype=np.int64)
                           for p, q, _ in [*self.tuplets.values(), (1, 1, 1)]}
        plain = self.note_ticks[Fraction(1)]
        # a remainder can be filled exactly when it is a multiple of the shortest plain note
        # (the others are multiples of it in this data; checked here)
        self.grain = int(plain.min()) if len(plain) else self.bar
        self._grain_divides = bool(len(plain)) and all(t % self.grain == 0 for t in plain)
        self.end_id = next((i for i, k in enumerate(self.kinds) if k == END_KIND), None)
        self.zero_time = np.isin(self.kinds, (CHORD_KIND,))
        self.is_rest = np.array([text.strip()[:1] == "z" for text in token_texts])

    def fillable(self, ticks: np.ndarray | int) -> np.ndarray | bool:
        """Whether a remainder of the bar can be filled exactly with plain notes."""
        ticks = np.asarray(ticks)
        ok = (ticks == 0) | ((ticks >= self.grain) & (ticks % self.grain == 0 if self._grain_divides else True))
        return ok

    def _fits(self, left: np.ndarray, pickup: bool, short: bool = False) -> np.ndarray:
        """Where what is left of the bar is not negative and, past the pickup, can still be filled
        (in a pickup that must stay `short`, where some of the bar is still left)."""
        if short:
            return left > 0
        return (left >= 0) if pickup else (left >= 0) & self.fillable(left)

    def allowed(self, state: BarState, pickup: bool | None = None) -> np.ndarray:
        """A boolean mask over the vocabulary: the tokens that keep the bar legal (the first bar
        may be a pickup, of any length, unless `pickup` is False; when it is True, the first bar
        must be one: no note may fill it)."""
        kinds = self.kinds
        mask = _finishing(state, kinds)
        if mask.any():
            return mask
        room = self.bar - state.elapsed
        short = state.bar_index == 0 and pickup is True
        pickup = state.bar_index == 0 and pickup is not False
        at_bar_start = state.elapsed == 0 and state.last in (BARLINE, LINEBREAK)
        # notes and rests; inside a tuplet, as if the rest of the group kept this length
        p, q = state.tuplet if state.tuplet_left else (1, 1)
        mask[self.note_ids[self._fits(room - self.note_ticks[Fraction(q, p)] * max(1, state.tuplet_left), pickup, short)]] = True
        if state.last == NOTE_KIND and not state.last_rest:
            mask[kinds == TIE] = True  # a tie belongs to the note before it, even at the bar's end
        if state.tuplet_left:
            mask[self.zero_time] = True
            return mask
        # tuplet marks: some note length must make the whole group fit
        for token, (p, q, r) in self.tuplets.items():
            mask[token] = room > 0 and bool(self._fits(room - self.note_ticks[Fraction(q, p)] * r, pickup, short).any())
        if room > 0:
            mask[self.zero_time] = True  # chord symbols
        if state.elapsed == self.bar or (pickup and state.elapsed > 0):
            mask[kinds == BARLINE] = True
        if state.elapsed == 0 and state.last == BARLINE:
            mask[kinds == LINEBREAK] = True
        if at_bar_start and state.bar_index >= max(1, state.min_bars):
            mask[kinds == END_KIND] = True
            if state.last == LINEBREAK:
                mask[kinds == SPACE] = True  # the article's ending is ` $ <end>`
        if not mask.any():  # cannot happen with this data's note lengths; never leave nothing to sample
            mask[kinds == BARLINE] = True
        return mask

    def advance(self, state: BarState, token: int) -> BarState:
        """The state after one token (in place, returned for convenience)."""
        kind = int(self.kinds[token]) if 0 <= token < len(self.kinds) else FORBIDDEN
        if state.done:
            return state
        if kind == END_KIND:
            state.done = True
        elif kind == SPACE:
            state.ending = True
        elif kind == NOTE_KIND:
            p, q = state.tuplet if state.tuplet_left else (1, 1)
            index = int(np.searchsorted(self.note_ids, token))
            state.elapsed += int(self.note_ticks[Fraction(q, p)][index])
            state.tuplet_left = max(0, state.tuplet_left - 1)
            state.last_rest = bool(self.is_rest[token])
        elif kind == TUPLET_KIND:
            p, q, r = self.tuplets[token]
            state.tuplet, state.tuplet_left = (p, q), r
        elif kind == BARLINE:
            state.elapsed, state.bar_index, state.tuplet_left = 0, state.bar_index + 1, 0
        state.last = kind
        return state


@dataclasses.dataclass
class ChartState(BarState):
    """A `BarState` that also knows which chord of the chart comes next."""

    next_chord: int = 0
    forcing: list[int] = dataclasses.field(default_factory=list)  # the rest of a chord's tokens
    emitted: int = 0  # tokens generated so far (against the budget)


class ChartRules:
    """The meter rules plus a chord chart: bar i lasts what the chart says, and each chord
    symbol is forced, token by token, at its onset; no other chord symbol may appear.

    `bars` holds each bar's length (quarters) and its chords as (onset, token ids), where the
    ids spell the chord symbol as the training text writes it (`` `G7` `` with its space).
    A note may not cross a chord's onset, so the chord lands exactly where the chart puts it.
    With a `budget` (the tokens left in the model's window), notes that would leave too few
    tokens to finish the chart are refused, so the melody always reaches the last bar.
    """

    def __init__(self, rules: MeterRules, bars: Sequence[tuple[Fraction, Sequence[tuple[Fraction, Sequence[int]]]]],
                 budget: int | None = None, tones: Sequence[frozenset[int]] = (), tone_bias: float = 0.0):
        self.rules = rules
        # optional: a logit bonus for notes on the sounding chord's tones (`tones`: one set per chord, in order)
        self.tones, self.tone_bias = list(tones), tone_bias
        self.note_pcs = np.array([pitch_class(text) for text in rules.note_texts], dtype=np.int64)
        tpq = rules.ticks_per_quarter
        self.kinds = rules.kinds
        self.bar_ticks = [_ticks(length, tpq) for length, _ in bars]
        self.chords = [(b, _ticks(onset, tpq), list(ids)) for b, (_, chords) in enumerate(bars) for onset, ids in chords]
        for b, at, ids in self.chords:
            if not ids:
                raise ValueError(f"bar {b + 1}: a chord symbol with no tokens")
        # the fewest plain notes that fill t ticks (coin change), for the token budget
        plain = sorted({int(t) for t in rules.note_ticks[Fraction(1)]})
        self.unit = math.gcd(*plain) if plain else 1  # counted in steps of the shortest common length
        most = max(self.bar_ticks, default=0) // self.unit
        self.fewest = np.full(most + 1, 10**6, dtype=np.int64)
        self.fewest[0] = 0
        coins = [c // self.unit for c in plain]
        for t in range(1, most + 1):
            self.fewest[t] = min((self.fewest[t - c] for c in coins if c <= t), default=10**6) + 1
        # tokens needed to write bars b… from their start (chords, notes, bar lines, then <end>)
        self.need_from = [0] * (len(self.bar_ticks) + 1)
        self.need_from[-1] = 1
        first = [sum(1 for bar, _, _ in self.chords if bar < b) for b in range(len(self.bar_ticks))]  # each bar's first chord
        for b in range(len(self.bar_ticks) - 1, -1, -1):
            self.need_from[b] = self._bar_need(b, 0, first[b]) + self.need_from[b + 1]
        self.budget = budget
        if budget is not None and self.need_from[0] > budget:
            raise ValueError(f"the chart needs at least {self.need_from[0]} tokens and only {budget} are left in the window")

    def _bar_need(self, b: int, elapsed: int, next_chord: int) -> int:
        """Fewest tokens to finish bar b from `elapsed`, chords from `next_chord` on still to write, bar line included."""
        need, at = 1, elapsed
        for bar, onset, ids in self.chords[next_chord:]:
            if bar != b:
                break
            need += self._fill(onset - at) + len(ids)
            at = onset
        return need + self._fill(self.bar_ticks[b] - at)

    def _fill(self, ticks: int | np.ndarray) -> int | np.ndarray:
        ticks = np.asarray(ticks)
        steps = np.clip(ticks // self.unit, 0, len(self.fewest) - 1)
        return np.where((ticks >= 0) & (ticks % self.unit == 0), self.fewest[steps], 10**6)

    def start(self) -> ChartState:
        return ChartState()

    def _due(self, state: ChartState) -> tuple[int, int, list[int]] | None:
        return self.chords[state.next_chord] if state.next_chord < len(self.chords) else None

    def allowed(self, state: ChartState) -> np.ndarray:  # type: ignore[override]
        """A boolean mask over the vocabulary: the tokens that keep the bar and the chart."""
        rules, kinds = self.rules, self.kinds
        settled = _settled(state, kinds)
        if settled is not None:
            return settled
        mask = np.zeros(len(kinds), dtype=bool)
        b = state.bar_index
        if b >= len(self.bar_ticks):  # every bar written: the article's ending ` $ <end>`, or `<end>` if out of budget
            left = math.inf if self.budget is None else self.budget - state.emitted
            if state.last == BARLINE and left >= 3:
                mask[kinds == LINEBREAK] = True
            if state.last == LINEBREAK and left >= 2:
                mask[kinds == SPACE] = True
            mask[kinds == END_KIND] = True
            return mask
        due = self._due(state)
        if due is not None and due[0] == b and due[1] == state.elapsed:
            mask[due[2][0]] = True
            return mask
        stop = due[1] if due is not None and due[0] == b else self.bar_ticks[b]
        room = stop - state.elapsed
        bar_room = self.bar_ticks[b] - state.elapsed
        p, q = state.tuplet if state.tuplet_left else (1, 1)
        ticks = rules.note_ticks[Fraction(q, p)]
        left = room - ticks * max(1, state.tuplet_left)
        fits = rules._fits(left, pickup=False)
        chord_stop = due is not None and due[0] == b
        if state.tuplet_left and chord_stop:  # a chord inside a tuplet: the group may land on its onset and go on
            fits |= self._lands(room, ticks, state.tuplet_left) & rules._fits(bar_room - ticks * state.tuplet_left, False)
        fits = fits if fits.any() else left >= 0  # an onset no plain note reaches: land on it anyway
        spare, tight = None, False
        if self.budget is not None and not state.tuplet_left:
            # tokens to spare after this one, were the rest of the chart written as briefly as possible
            spare = self.budget - state.emitted - 1 - self._bar_need(b, stop, state.next_chord) - self.need_from[b + 1]
            cost = np.where(fits, self._fill(room - ticks), 10**6)
            if (fits & (cost <= spare)).any():
                fits = fits & (cost <= spare)  # (the cost of a note that does not fit is a sentinel, never spare)
            elif (cost < 10**6).any():  # over budget already: the notes that finish soonest
                fits = cost == cost.min()
            tight = self._fill(room) > spare  # no room for a tie, a line break or a tuplet
        mask[rules.note_ids[fits]] = True
        if state.last == NOTE_KIND and not state.last_rest and (spare is None or not tight):
            mask[kinds == TIE] = True
        if not state.tuplet_left:
            for token, (tp, tq, tr) in rules.tuplets.items():
                if spare is not None and (tight or self._fill(room) + tr > spare):
                    continue
                group = rules.note_ticks[Fraction(tq, tp)]
                whole = rules._fits(room - group * tr, False)
                across = self._lands(room, group, tr) & rules._fits(bar_room - group * tr, False) & chord_stop
                mask[token] = room > 0 and bool((whole | across).any())
            if state.elapsed == self.bar_ticks[b] and (due is None or due[0] > b):
                mask[kinds == BARLINE] = True
            if state.elapsed == 0 and state.last == BARLINE and (spare is None or not tight):
                mask[kinds == LINEBREAK] = True
        if not mask.any():
            mask[kinds == BARLINE] = True
        return mask

    def bias(self, state: ChartState) -> np.ndarray | None:
        """`tone_bias` added to the logits of notes on the tones of the chord now sounding (a soft
        preference, applied after the mask; None when off or no chord has sounded yet)."""
        if not self.tone_bias or not self.tones or state.next_chord == 0 or state.forcing:
            return None
        tones = self.tones[state.next_chord - 1]
        bonus = np.zeros(len(self.kinds), dtype=np.float32)
        bonus[self.rules.note_ids[np.isin(self.note_pcs, list(tones))]] = self.tone_bias
        return bonus

    @staticmethod
    def _lands(room: int, ticks: np.ndarray, notes: int) -> np.ndarray:
        """Where j ≤ `notes` notes of each length end exactly `room` ticks on."""
        return np.any([ticks * j == room for j in range(1, notes + 1)], axis=0)

    def advance(self, state: ChartState, token: int) -> ChartState:  # type: ignore[override]
        """The state after one token."""
        state.emitted += 1
        due = self._due(state)
        if state.forcing:
            state.forcing.pop(0)
        elif due is not None and due[0] == state.bar_index and due[1] == state.elapsed and token == due[2][0] and not state.done:
            state.forcing = list(due[2][1:])
        else:
            self.rules.advance(state, token)
            return state
        if not state.forcing:
            state.next_chord += 1
        state.last = CHORD_KIND
        return state


# --------------------------------------------------------------------------- constraints
#
# A task names the constraint its decoder should enforce; a decoder that can (the local
# backend) calls `build` with its vocabulary's rules and gets (rules, start state) for
# `MeterProcessor`. A backend that cannot (the OpenAI API) says so with `describe()`.


@dataclasses.dataclass(frozen=True)
class WholeBars:
    """Every bar whole: the meter rules. After `bars_before` bars in the prompt, no pickup;
    `<end>` only once `min_bars` bars are complete."""

    bars_before: int = 0
    min_bars: int = 1

    def describe(self) -> str:
        return "whole bars" + (f" after the {self.bars_before} bars given" if self.bars_before else "")

    def build(self, vocabulary: "MeterRules", encode: "Callable[[str], list[int]]", budget: int | None) -> tuple["MeterRules", BarState]:
        if self.bars_before:
            return vocabulary, BarState(bar_index=self.bars_before, last=BARLINE, min_bars=self.min_bars)
        return vocabulary, BarState(min_bars=self.min_bars)


@dataclasses.dataclass(frozen=True)
class FollowChart:
    """A chord chart followed exactly: each bar the chart's length, each chord symbol at its
    onset, and `tone_bias` added to the logits of notes on the sounding chord's tones."""

    bars: tuple[tuple[Fraction, tuple[tuple[Fraction, str], ...]], ...]  # (length, ((onset, name), …))
    tones: tuple[frozenset[int], ...]  # per chord, in order: its pitch classes
    tone_bias: float = 0.0

    def describe(self) -> str:
        return f"a chord chart of {len(self.bars)} bars"

    def build(self, vocabulary: "MeterRules", encode: "Callable[[str], list[int]]", budget: int | None) -> tuple["ChartRules", BarState]:
        # a chord's tokens as the tokenizer writes it there: stacked chords follow without a space
        bars = [(length, [(onset, encode(("" if i and chords[i - 1][0] == onset else " ") + f"`{name}`"))
                          for i, (onset, name) in enumerate(chords)]) for length, chords in self.bars]
        rules = ChartRules(vocabulary, bars, budget=budget, tones=list(self.tones), tone_bias=self.tone_bias)
        return rules, rules.start()


@dataclasses.dataclass
class FormState(BarState):
    """A `BarState` that also remembers every bar's tokens, the bar plan of its form, and the
    chord sounding now."""

    plan: tuple = ()  # per form bar: "free", "cadence", ("copy", earlier form bar) or ("tune", earlier form bar): its melody alone
    bars: list[list[int]] = dataclasses.field(default_factory=list)  # each finished bar's tokens, bar line included
    current: list[int] = dataclasses.field(default_factory=list)
    forcing: list[int] = dataclasses.field(default_factory=list)  # the rest of a copied bar or of the closing chord
    retuning: bool = False  # the copied bar keeps its melody: where it has a chord symbol, the model writes one (or none)
    closing: list[int] = dataclasses.field(default_factory=list)  # the tokens of the last bar's tonic chord (` `C6``)
    offset: int = 0  # 1 when the song opened with a pickup: form bars count from the first whole bar
    pickup: bool | None = None  # whether the song opens with a pickup (a short first bar); None: the model's choice
    chord: frozenset[int] = frozenset()  # the pitch classes of the chord symbol sounding now
    cadence_note: bool = False  # the last bar has its first note
    landing: int = 0  # the pitch class the melody lands on in the last bar (0: the tonic, C)
    last_pitch: int | None = None  # the last note's pitch (semitones above middle C), for the interval prior
    last_spelling: int = -1  # how the last note was written (`FormRules.spellings`): a tie continues that spelling
    tied: bool = False  # a tie follows the last note: the next note continues it (across a bar line too)
    span: int | None = None  # the widest range this melody may take, in semitones (None: any)
    low: int | None = None  # its lowest and highest pitch so far
    high: int | None = None
    emitted: int = 0  # tokens generated so far (against the window's budget)
    aim: tuple[float, ...] = ()  # this melody's mix of moves (`MOVE_SHARES`' groups) to steer toward; () for none
    moves: list[int] = dataclasses.field(default_factory=lambda: [0] * len(MOVE_SHARES))  # its moves so far, per group
    notes: int = 0  # its pitched notes so far, and how many of them were tied to the next
    ties: int = 0
    pace: float | None = None  # the notes per quarter this melody aims at (`DENSITY`); None for the model's own
    onsets: int = 0  # notes struck so far (a tied continuation is not struck again)
    colour: float | None = None  # the share of its note time this melody aims to spend off the C major scale (`CHROMATIC`)
    pause: float | None = None  # the share of its time it aims to rest (`RESTING`)
    harmony: float | None = None  # the share of its note time under a chord it aims to spend on the chord's tones (`TONE_SHARE`)
    lengths: frozenset[Fraction] | None = None  # the note lengths (quarters, as written) this melody keeps to; None: any
    tuplets: bool = True  # whether it may write tuplets
    rested: float = 0.0  # quarters of rests so far
    sung: float = 0.0  # quarters of notes so far, and how many of them off the scale
    off_scale: float = 0.0
    under: float = 0.0  # quarters of notes sung under a chord symbol, and how many of them on its tones
    on_chord: float = 0.0


# Besides whole sections, real melodies repeat a bar a short way on: of the training songs'
# 16,565 bars, 1.5% repeat the bar before (melody alone), 3.5% the bar 2 before, 3.7% the bar 4
# before ("Jingle bells, jingle bells"). `motif_plan` gives free bars the same chances.
MOTIF_SHARES = {1: 0.015, 2: 0.035, 4: 0.037}
# They also echo a bar of an earlier phrase, in the same place of the phrase, further back than
# a section's return: the 103 songs in which no section returns still repeat 28% of their bars
# (melody alone): besides the motifs, 9% of their bars repeat the bar 8, 16 or 24 before and 20%
# some other earlier bar, most often (63%, over all songs) in the same place of a 4-bar phrase.
# With motifs alone such songs repeated 9%. `motif_plan` makes a further share of the free bars
# from the ninth on (`ECHO`, scaled as the motifs are) copies of the bar 8, 12, 16, … before.
# On 200 candidates each, 0.10 took the classifier's AUC from 0.886 to 0.868, and 0.15 (with an
# earlier retuning) from 0.896 to 0.881; melody repeated bars 0.49 and 0.50 against the real 0.46.
ECHO = 0.10


def motif_plan(plan: tuple, rng: np.random.Generator) -> tuple:
    """A form's plan with some free bars made copies of the bar 1, 2 or 4 before, so that across
    the whole song about `MOTIF_SHARES` of the bars repeat at each distance, and about `ECHO`
    of them the bar in the same place of an earlier phrase, 8 or more bars back."""
    free = [b for b, step in enumerate(plan) if step == "free"]
    if not free:
        return plan
    plan = list(plan)
    scale = len(plan) / len(free)  # the shares are of all bars; only free bars can take them
    echo = ECHO if any(isinstance(step, tuple) for step in plan) else ECHO_ALONE
    distances = list(MOTIF_SHARES)
    edges = np.cumsum([MOTIF_SHARES[d] * scale for d in distances])  # a draw below edges[i] picks distances[i]
    for b in free:
        i = int(np.searchsorted(edges, rng.random(), side="right"))
        if i < len(distances) and b - distances[i] >= 0:
            plan[b] = ("copy", b - distances[i])
        elif echo and b >= 8 and rng.random() < echo * scale:  # the bar in the same place of an earlier phrase
            plan[b] = ("copy", b - 4 * int(rng.integers(2, b // 4 + 1)))
    return tuple(plan)


# A repeated melody does not always keep its chords: of the training songs' bars that repeat an
# earlier bar's melody, 12% do not repeat its chord symbols (a new chord, or none written where
# the last one carries on), and 10% of the 4-bar phrases that repeat a melody. With
# every copy taken whole, the generated songs repeated their chords with every melody, and that
# told them apart best (a linear classifier on the song features weighed it first). A share of
# copied bars (`RETUNE`) copy the melody alone: where the bar had a chord symbol, the model
# writes one anew (often the same; one that holds the next note gets the chord-tone bonus) or
# none, and the last chord carries on. The classifier's AUC on 200 candidates each, without
# echoes: 0.895 with every copy whole, 0.886 at 0.25, 0.913 at 0.5 (too few phrases kept their
# chords); with echoes, 0.855 at 0.15 and 0.868 at 0.25. Letting the model add a chord before any
# copied note instead gave 0.896 at 0.25 and 0.943 at 0.5 (1.55 chords a bar; real 1.25).
RETUNE = 0.15


def retune_plan(plan: tuple, rng: np.random.Generator, share: float = RETUNE) -> tuple:
    """A plan with about `share` of its copied bars ("copy") made copies of the melody alone ("tune")."""
    return tuple(("tune", step[1]) if isinstance(step, tuple) and rng.random() < share else step for step in plan)


def form_plan(form: str, section_bars: int = 8, vary: int = 1, cadence: bool = True, tail: int = 0,
              volta: int = 0) -> tuple:
    """What each bar of a form does: a section whose letter came before copies that section's
    bars (its last `vary` bars free the first time it returns); with a `volta`, the form's last
    `volta` bars are free (the first ending) and as many free bars follow them (the second
    ending, which replaces the first on the last pass: `tasks.SongTask.unfold`); `tail` free bars
    follow the sections (a negative tail cuts the last section short); the last bar is the cadence.

    >>> form_plan("AA", 4, vary=1)
    ('free', 'free', 'free', 'free', ('copy', 0), ('copy', 1), ('copy', 2), 'cadence')
    >>> form_plan("AA", 4, vary=1, tail=1)
    ('free', 'free', 'free', 'free', ('copy', 0), ('copy', 1), ('copy', 2), 'free', 'cadence')
    >>> form_plan("AA", 4, vary=0, volta=2)
    ('free', 'free', 'free', 'free', ('copy', 0), ('copy', 1), 'free', 'free', 'free', 'cadence')
    """
    plan: list = []
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for s, letter in enumerate(form):
        for i in range(section_bars):
            if letter not in last or (last[letter] == first[letter] and i >= section_bars - vary):
                plan.append("free")
            else:
                plan.append(("copy", last[letter] * section_bars + i))
        first.setdefault(letter, s)
        last[letter] = s
    volta = max(0, min(volta, len(plan) - 1))
    plan = plan[: len(plan) - volta] + ["free"] * (2 * volta)
    total = max(1, len(plan) + tail)
    plan = (plan + ["free"] * max(0, tail))[:total]
    if cadence:
        plan[-1] = "cadence"
    return tuple(plan)


# How far a melody moves from one note to the next in the OpenEWLD training songs (379 songs,
# 52,500 intervals, in semitones, 12 standing for an octave or more; each token's own
# accidental, as the decoder reads them; a tied note's continuation is not a move). A tiny
# model leaps about twice as often as real songs do; `FormRules` adds
# intervals × log(share / largest share) to each note's logit, so the model's choice is weighed
# against this table (a product of the two). `tests/test_meter.py` measures it again from the data.
INTERVAL_SHARES = (0.176, 0.175, 0.311, 0.129, 0.069, 0.064, 0.004, 0.027, 0.012, 0.014, 0.007, 0.001, 0.010)


# The prior weighs each move on its own, so a model that likes repeated notes still writes too
# many of them (0.22 of the moves against 0.15 in real songs, and 0.38 steps against 0.49).
# The balance watches the melody's own mix of moves in five groups (repeats, steps of 1-2
# semitones, skips of 3-4, leaps of 5-7, and 8 or more) and leans each note toward the group
# that is behind its aim. Songs differ: the aims are drawn per melody from a Dirichlet with the
# real songs' mean mix (`MOVE_SHARES`) and spread (`MOVE_SPREAD`, its concentration; the real
# songs' per-song shares have standard deviations 0.12, 0.13, 0.10, 0.06 and 0.04).
# `tests/test_meter.py` measures both again from the data.
MOVE_GROUPS = (0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4)  # the group of a move of 0, 1, ..., 12 (or more) semitones
MOVE_SHARES = (0.170, 0.488, 0.200, 0.100, 0.043)
MOVE_SPREAD = 13.0
# Real melodies tie 7.5% of their notes to the next (half of them across a bar line); at
# temperature 1 the tiny model tied 18%, which lengthens notes oddly. The balance leans on the
# tie the same way.
TIE_SHARE = 0.075
BALANCE_MEMORY = 6.0  # the aim counts as this many moves already made: the first notes are left mostly alone
# How busy a melody is: real songs strike 0.79 notes per quarter (geometric mean; 3.2 a bar),
# with a spread of 0.31 in log (a quarter of them under 0.63, a quarter over 0.98). The tiny
# model's melodies were busier, and more of them very busy (a tenth over 5.2 notes a bar, against
# 4.8). Each melody draws its pace from that spread; the balance leans toward longer notes when
# it runs ahead of its pace and toward shorter ones when it falls behind.
DENSITY = 0.79
DENSITY_SPREAD = 0.31
PACE_MEMORY = 8.0  # quarters: the pace counts as kept over this many already
# Off the scale: real melodies spend 5.7% of their note time off the C major scale (the mean;
# a tenth spend 13% or more), mostly on the tones of chromatic chords (D7's F#, A7's C#). With
# the chord-tone nudge the tiny model kept to the scale (2%). 18.5% of the songs never leave
# it (`DIATONIC`); the others spend 7.0% off it on average, a Beta with concentration 22. Each
# melody draws its share from that mixture: no chromatic note at all is a common choice, and
# every one of the balanced melodies had made some before.
DIATONIC = 0.185
CHROMATIC = 0.070
CHROMATIC_SPREAD = 22.0
TIME_MEMORY = 16.0  # quarters: the shares of note time and of rest count as kept over this many already
# Rests: 8.7% of the real songs never rest (`RESTLESS`); the others rest 6.5% of their time (the
# mean; a Beta with concentration 18). The model rested 3.8%, and every melody a little.
# `tests/test_meter.py` measures every one of these tables again from the data.
RESTLESS = 0.087
RESTING = 0.065
RESTING_SPREAD = 18.0
# An aim is a share; its lean is log((aim + floor) / (share so far + floor)), so that an aim of
# 0 (no chromatic note, no rest) means "avoid it" rather than a lean that grows without end
# while none is made, and a rare kind's first few make no wild swing.
SHARE_FLOOR = 0.01
# On the chord: real melodies spend 77.5% of their note time under a chord on its tones (the
# mean), and songs differ (a standard deviation of 0.10: a tenth under 0.65, a tenth over 0.90).
# The chord-tone nudge alone gave every melody about the same share (0.75, a tenth over 0.85),
# so each melody draws its own from a Beta with the real mean and concentration (widened, below),
# and the balance leans toward it as it does toward the others.
TONE_SHARE = 0.775
TONE_SPREAD = 16.0
# The model pulls every melody back toward its own habits, so melodies that aimed at the real
# songs' spread of moves and of chord tones came out alike: repeated notes 0.10-0.30 from the
# tenth to the ninetieth percentile (real: 0.04-0.34), chord tones 0.66-0.83 (real 0.65-0.90).
# Those two aims are drawn with `WIDEN` times the real songs' variance (`widened`). On 200
# candidates each (before the endings of `tasks.ENDINGS`), the classifier's AUC: 0.86 at the
# real spread, 0.83 at a concentration of 6 for the moves, 0.82 at 4, 0.80 with the chord
# tones' at 6 too; with the endings, 0.76 at WIDEN 3 (concentrations 3.7 and 4.7), 0.76 at 4
# and 6, 0.75 at 4 and 4: within the noise of one another.
WIDEN = 3.0
# A melody's drawn range is also a reach: notes that widen the melody toward it gain this logit
# bonus, times the share of the form already written. The range alone is only a limit, and
# melodies that stayed inside it ran narrower than real ones (a quarter spanned an octave
# exactly, against 12% of real songs).
REACH = 1.5
# Songs in which no section returns repeat more of their bars further back than the others do
# (see `ECHO`): their free bars echo at this share instead.
ECHO_ALONE = 0.25
AVOID = 8.0  # the logit penalty on what a melody aims never to do (an aim of 0: chromatic notes, rests; lengths outside its rhythm)
UNTIED = 30.0  # after a tie, other notes' logit penalty (the mask forbids them too); the bias keeps notes' total share


def _stream(seed: int | None, stream: int) -> np.random.Generator:
    """A generator for one kind of draw: each `stream` of a seed draws apart from the others."""
    return np.random.default_rng(None if seed is None else [seed, stream])


def _behind(done: "float | np.ndarray", total: float, aim: "float | np.ndarray", memory: float,
            floor: float = 0.0) -> "float | np.ndarray":
    """log((aim + floor) / (share so far + floor)): how far a melody is behind its aim
    (negative: ahead), where the share so far counts the aim as already kept over `memory`
    more of the total."""
    made = (done + memory * aim) / (total + memory)
    return np.log((aim + floor) / (made + floor))


def _shares(none: float, mean: float, spread: float, n: int, seed: int | None, stream: int) -> list[float]:
    """n shares, from their own seeded stream: 0 with chance `none`, else from a Beta with this
    mean and concentration."""
    rng = _stream(seed, stream)
    drawn = rng.beta(mean * spread, (1 - mean) * spread, size=n)
    return [0.0 if zero else float(x) for zero, x in zip(rng.random(n) < none, drawn)]


def colours(n: int, seed: int | None) -> list[float]:
    """n shares of note time off the C major scale, one per melody, as the real songs' (`DIATONIC`, `CHROMATIC`)."""
    return _shares(DIATONIC, CHROMATIC, CHROMATIC_SPREAD, n, seed, 6)


def harmonies(n: int, seed: int | None) -> list[float]:
    """n shares of note time on the sounding chord's tones, one per melody, as the real songs' (`TONE_SHARE`)."""
    return _shares(0.0, TONE_SHARE, widened(TONE_SPREAD), n, seed, 7)


def pauses(n: int, seed: int | None) -> list[float]:
    """n shares of time resting, one per melody, as the real songs' (`RESTLESS`, `RESTING`)."""
    return _shares(RESTLESS, RESTING, RESTING_SPREAD, n, seed, 8)


def paces(n: int, seed: int | None) -> list[float]:
    """n paces (notes per quarter), one per melody, drawn around the real songs' (`DENSITY`, `DENSITY_SPREAD`)."""
    rng = _stream(seed, 5)
    return [float(x) for x in DENSITY * np.exp(DENSITY_SPREAD * rng.standard_normal(n))]


def widened(concentration: float) -> float:
    """The concentration of a Beta or Dirichlet with `WIDEN` times the variance of one with this concentration."""
    return (concentration + 1) / WIDEN - 1


def move_aims(n: int, seed: int | None) -> list[tuple[float, ...]]:
    """n mixes of moves, one per melody, drawn around the real songs' (`MOVE_SHARES`, `MOVE_SPREAD`)."""
    rng = _stream(seed, 4)
    shares = np.array(MOVE_SHARES) / sum(MOVE_SHARES)
    return [tuple(float(x) for x in np.maximum(row, 1e-3)) for row in rng.dirichlet(shares * widened(MOVE_SPREAD), size=n)]


# A lead sheet names at most one chord per onset and rarely more than one per beat: 94% of the
# training songs' bars hold 0 to 2 chord symbols, 0.1% more than 4. Left alone, the tiny model at
# temperature 1 sometimes runs away, a chord on every note (14 per bar in one candidate).
MAX_CHORDS_PER_BAR = 4


# A note that would stretch the melody past its range gets this logit penalty: a soft limit, as
# a singer's range is (the cadence's forced tonic may still cross it).
RANGE_PENALTY = 3.0


# The note that ends a bar before a copied bar (or before the cadence) is weighed by its move
# into that bar's first note, at this multiple of the interval prior: without it, the moves
# into copied bars were a third leaps (real songs: a fifth of the moves across a bar line).
LEAD_IN = 2.0


def interval_prior(weight: float) -> np.ndarray:
    """The logit bias for a move of 0, 1, …, 12 (or more) semitones: weight × log(share / largest share)."""
    shares = np.maximum(np.array(INTERVAL_SHARES), 1e-3)
    return (weight * np.log(shares / shares.max())).astype(np.float32)


class FormRules:
    """The meter rules, in a form: sections that return are copied token for token, and the
    song ends after the form's last bar on its ending (mostly a tonic chord with the melody on C).

    With `tone_bias`, notes on the tones of the chord sounding now get that logit bonus; with
    `intervals`, each note is weighed by how often real melodies make its move (`interval_prior`).
    """

    def __init__(self, rules: MeterRules, tone_of: Callable[[int], frozenset[int]], tone_bias: float = 0.0,
                 intervals: float = 0.0, balance: float = 0.0):
        self.rules, self.kinds = rules, rules.kinds
        self.tone_of, self.tone_bias, self.intervals, self.balance = tone_of, tone_bias, intervals, balance
        self.groups = np.array(MOVE_GROUPS)
        self.quarters = (rules.note_ticks[Fraction(1)] / rules.ticks_per_quarter).astype(np.float64)
        self.written = [Fraction(int(t), rules.ticks_per_quarter) for t in rules.note_ticks[Fraction(1)]]  # each note token's length
        self._outside: dict[frozenset[Fraction], np.ndarray] = {}
        self.chord_pcs: tuple[np.ndarray, list[frozenset[int]]] | None = None  # the chord tokens and their pitch classes, read once
        self.doublings = np.log2(rules.note_ticks[Fraction(1)] / rules.ticks_per_quarter).astype(np.float32)  # 0 for a quarter
        numbers = [pitch_number(text) for text in rules.note_texts]
        self.pitch_of = {token: number for token, number in zip(rules.note_ids.tolist(), numbers) if number is not None}
        self.index_of = {token: i for i, token in enumerate(rules.note_ids.tolist())}  # a note token's place in the arrays below
        self.pitched = np.array([number is not None for number in numbers])
        self.note_numbers = np.array([number if number is not None else 0 for number in numbers], dtype=np.int64)
        self.prior = interval_prior(intervals)
        self.note_pcs = np.array([pitch_class(text) for text in rules.note_texts], dtype=np.int64)
        self.off_scale = self.pitched & ~np.isin(self.note_pcs % 12, (0, 2, 4, 5, 7, 9, 11))  # note tokens off C major
        written = [re.match(r"\s*([_^=]*[A-Ga-gz][,']*)", text) for text in rules.note_texts]  # accidental, letter, octave
        codes: dict[str, int] = {}
        self.spellings = np.array([codes.setdefault(m.group(1), len(codes)) if m else -1 for m in written], dtype=np.int64)
        self.landings = [rules.note_ids[(self.note_pcs == pc) & ~rules.is_rest[rules.note_ids]] for pc in range(12)]  # per pitch class
        self.rests = rules.note_ids[rules.is_rest[rules.note_ids]]
        self.bias_group = rules.note_ids  # the nudge moves probability among notes and rests only
        self.budget: int | None = None  # tokens the song may take (`SongForm.build`): the sampler slides its window over a long one

    def allowed(self, state: FormState) -> np.ndarray:
        kinds = self.kinds
        settled = _settled(state, kinds)
        if settled is not None:
            if state.retuning and state.forcing and not state.done and kinds[state.forcing[0]] == CHORD_KIND:
                settled[kinds == CHORD_KIND] = True  # where the copied bar has a chord symbol: any chord symbol, or none
                settled[state.forcing[1:2]] = True
            return settled
        mask = np.zeros(len(kinds), dtype=bool)
        b = state.bar_index - state.offset
        if state.bar_index > 0 and b >= len(state.plan):  # the form is complete: the article's ending ` $ <end>`
            if state.last == BARLINE:
                mask[kinds == LINEBREAK] = True
            elif state.last == LINEBREAK:
                mask[kinds == SPACE] = True
            mask[kinds == END_KIND] = True
            return mask
        mask = self.rules.allowed(state, state.pickup)  # a whole first bar when no pickup was drawn, a short one when one was
        mask[(kinds == END_KIND) | (kinds == SPACE)] = False  # no ending before the form's last bar
        if state.bar_index == 0 and state.pickup and not state.tuplet_left:
            mask[self.kinds == TUPLET_KIND] = False  # a drawn pickup of plain notes
        if state.last == CHORD_KIND or int((kinds[state.current] == CHORD_KIND).sum()) >= MAX_CHORDS_PER_BAR:
            mask[kinds == CHORD_KIND] = False  # one chord per onset, and no chord spam
        self._tie_rules(state, mask)
        if 0 <= b < len(state.plan) and state.plan[b] == "cadence":
            notes = np.zeros_like(mask)
            if not state.cadence_note:
                notes[self.landings[state.landing]] = True
            elif state.tied and state.last_pitch is not None:  # the landing note held on, in one note to the bar's end where one fits
                held = self._held(state)
                whole = held & (self.rules.note_ticks[Fraction(1)] == self.rules.bar - state.elapsed)
                notes[self.rules.note_ids[whole if whole.any() else held]] = True
            else:  # once landed, the melody holds its tonic (a tie) or rests: no more notes after the cadence's
                notes[self.rests] = True
            keep = mask & (notes | (kinds == TIE) | (kinds == BARLINE))
            if keep.any():
                mask = keep
        if self.budget is not None and not state.tuplet_left and 0 <= b < len(state.plan):
            # tokens left after this one, were the rest of the form written as briefly as it can be
            spare = self.budget - state.emitted - 1 - self._need(state, b)
            if spare < 0:  # tight: only notes that fill the bar (or the most of it), then the bar line
                notes = mask[self.rules.note_ids]
                room = self.rules.bar - state.elapsed
                ticks = self.rules.note_ticks[Fraction(1)]
                fits = notes & (ticks <= room)
                if fits.any():
                    longest = ticks[fits].max()
                    mask[self.rules.note_ids[notes & (ticks != longest)]] = False
                    mask[(kinds == TIE) | (kinds == LINEBREAK) | (kinds == CHORD_KIND) | (kinds == TUPLET_KIND)] = False
        if not mask.any():
            mask = self.rules.allowed(state, state.pickup)
        return mask

    def _untied(self, state: FormState) -> np.ndarray | None:
        """After a tie, the note tokens of any other pitch (or a rest); None when no tie is open
        (or in the cadence's bar, where the tonic wins over a copied bar's tie)."""
        b = state.bar_index - state.offset
        if not state.tied or state.last_pitch is None or (0 <= b < len(state.plan) and state.plan[b] == "cadence"):
            return None
        return self.rules.note_ids[~self._held(state)]

    def _held(self, state: FormState) -> np.ndarray:
        """Over the note tokens: the last note as it was written, at any length (what a tie continues)."""
        return self.pitched & (self.spellings == state.last_spelling)

    def _tie_rules(self, state: FormState, mask: np.ndarray) -> None:
        """A tie joins two notes of one pitch: after it, only that note as it was written (any
        length) may follow; a tie is offered only where such a note fits, and a note that ends
        the bar may be tied only into a next bar that opens on it (nothing past the last bar).
        Left free, the model tied notes into rests and into leaps, which no prior weighed."""
        other = self._untied(state)
        if other is not None and mask[self.rules.note_ids].sum() > mask[other].sum():  # a note of that pitch fits: keep only those
            mask[other] = False
            mask[self.kinds == TUPLET_KIND] = False  # and a plain one: a tuplet mark between would break the tie
        if not mask[self.kinds == TIE].any() or state.last_pitch is None:
            return
        room = self.rules.bar - state.elapsed
        if room > 0 and not state.tuplet_left:  # some note of this pitch must fit what is left of the bar
            first = state.bar_index == 0  # (a drawn pickup must stay short)
            fits = self.rules._fits(room - self.rules.note_ticks[Fraction(1)], first, first and state.pickup is True)
            if not (self._held(state) & fits).any():
                mask[self.kinds == TIE] = False
        elif room == 0:
            b = state.bar_index - state.offset + 1
            if b >= len(state.plan) > 0:  # the song ends here: nothing to tie into
                mask[self.kinds == TIE] = False
                return
            forced = 0 < b < len(state.plan) and state.plan[b] != "free"  # a copied bar or the cadence comes next
            ahead = self._next_pitch(state)
            if forced and (ahead is None or ahead[1] or ahead[2] != state.last_spelling):  # a rest, or another note, opens it
                mask[self.kinds == TIE] = False

    def _need(self, state: FormState, b: int) -> int:
        """The fewest tokens that finish the form from form bar b: a copied bar costs its source's
        tokens, any other bar one note and a bar line (two more for the cadence's chord), then the ending."""
        need = 0 if state.elapsed == self.rules.bar else 1  # the rest of this bar: at least one note
        need += 1  # its bar line
        for j in range(b + 1, len(state.plan)):
            step = state.plan[j]
            if isinstance(step, tuple) and step[1] + state.offset < len(state.bars):
                need += len(state.bars[step[1] + state.offset])
            else:
                need += 2 + (len(state.closing) if step == "cadence" else 0)
        return need + 3  # ` $`, ` ` and `<end>`

    def bias(self, state: FormState) -> np.ndarray | None:
        """The chord-tone nudge, the interval prior from the last note, and the range's limit."""
        nudge = self.tone_bias and state.chord
        untied = self._untied(state)
        moves = (self.intervals or (self.balance and state.aim)) and state.last_pitch is not None and not state.tied  # a tied note's continuation is not a move
        limit = state.span is not None and state.low is not None
        ahead = self._next_pitch(state) if self.intervals and not state.tuplet_left else None
        ties = self.balance and state.aim and state.last == NOTE_KIND and not state.last_rest
        pace = self.balance and state.pace is not None and untied is None and not state.tuplet_left
        colour = self.balance and state.colour is not None and untied is None
        resting = self.balance and state.pause is not None and untied is None
        rhythm = state.lengths is not None and untied is None
        if state.retuning and state.forcing and self.kinds[state.forcing[0]] == CHORD_KIND:  # a chord symbol over a copied melody
            return self._holding(state.forcing[1]) if self.tone_bias and len(state.forcing) > 1 else None
        if state.forcing or not (nudge or moves or limit or ties or pace or colour or resting or rhythm or ahead is not None
                                 or untied is not None):
            return None
        bonus = np.zeros(len(self.kinds), dtype=np.float32)
        if untied is not None:  # the tied pitch takes the notes' whole share (masked alone, chord symbols would gain it)
            bonus[untied] -= UNTIED
        if nudge:
            on = np.isin(self.note_pcs, list(state.chord)) & ~self.rules.is_rest[self.rules.note_ids]
            bonus[self.rules.note_ids[on]] += self.tone_bias
            if self.balance and state.harmony is not None and untied is None:  # on the chord as much as it aims to be, and off it
                bonus[self.rules.note_ids[on]] += self.balance * _behind(state.on_chord, state.under, state.harmony, TIME_MEMORY, SHARE_FLOOR)
                off = self.pitched & ~on
                bonus[self.rules.note_ids[off]] += self.balance * _behind(
                    state.under - state.on_chord, state.under, 1 - state.harmony, TIME_MEMORY, SHARE_FLOOR)
        if moves:
            distance = np.minimum(np.abs(self.note_numbers - state.last_pitch), len(self.prior) - 1)[self.pitched]
            shift = self.prior[distance]
            if self.balance and state.aim:  # lean toward the groups of moves this melody is behind on
                made, aim = np.array(state.moves), np.array(state.aim)
                lean = self.balance * _behind(made, made.sum(), aim, BALANCE_MEMORY, SHARE_FLOOR)
                shift = shift + lean.astype(np.float32)[self.groups[distance]]
            bonus[self.rules.note_ids[self.pitched]] += shift
        if pace:  # ahead of its pace: longer notes; behind: shorter (by each note's length in doublings)
            quarters = (state.bar_index * self.rules.bar + state.elapsed) / self.rules.ticks_per_quarter
            bonus[self.rules.note_ids] -= self.balance * _behind(state.onsets, quarters, state.pace, PACE_MEMORY) * self.doublings
        if resting:  # its share of time resting
            bonus[self.rests] += -AVOID if state.pause == 0 else self.balance * _behind(
                state.rested, state.sung + state.rested, state.pause, TIME_MEMORY, SHARE_FLOOR)
        if colour:  # off the scale as much as this melody aims to be
            bonus[self.rules.note_ids[self.off_scale]] += -AVOID if state.colour == 0 else self.balance * _behind(
                state.off_scale, state.sung, state.colour, TIME_MEMORY, SHARE_FLOOR)
        if rhythm:  # the melody's own note lengths, as a real song keeps to a few
            bonus[self.rules.note_ids[self.outside(state.lengths)]] -= AVOID
            if not state.tuplets:
                bonus[self.kinds == TUPLET_KIND] -= AVOID
        if ties:  # as often as real melodies tie a note
            bonus[self.kinds == TIE] += self.balance * _behind(state.ties, state.notes, TIE_SHARE, BALANCE_MEMORY)
        if ahead is not None:  # the note that ends the bar leads into the next bar's first note, as a move does
            target, tonic, _ = ahead
            distance = np.abs(self.note_numbers - target)
            if tonic:  # the cadence's landing note may fall in any octave: the nearest one
                distance = np.minimum((self.note_numbers - target) % 12, (target - self.note_numbers) % 12)
            last = self.pitched & (state.elapsed + self.rules.note_ticks[Fraction(1)] == self.rules.bar)
            bonus[self.rules.note_ids[last]] += LEAD_IN * self.prior[np.minimum(distance, len(self.prior) - 1)[last]]
        if limit:
            outside = self.pitched & ((self.note_numbers < state.high - state.span) | (self.note_numbers > state.low + state.span))
            bonus[self.rules.note_ids[outside]] -= RANGE_PENALTY
            b = state.bar_index - state.offset
            if REACH and 0 <= b < len(state.plan) and state.plan[b] == "free" and untied is None:  # toward the whole range,
                wider = self.pitched & ~outside & ((self.note_numbers < state.low) | (self.note_numbers > state.high))
                bonus[self.rules.note_ids[wider]] += REACH * b / len(state.plan)  # more as the song goes on (not in the cadence)
        return bonus

    def _holding(self, note: int) -> np.ndarray:
        """The chord-tone bonus on the chord symbols that hold this note's pitch class."""
        if self.chord_pcs is None:
            chords = np.flatnonzero(self.kinds == CHORD_KIND)
            self.chord_pcs = (chords, [self.tone_of(int(token)) for token in chords])
        bonus = np.zeros(len(self.kinds), dtype=np.float32)
        pc = self.note_pcs[self.index_of[note]] % 12 if note in self.index_of and not self.rules.is_rest[note] else None
        if pc is not None:
            chords, tones = self.chord_pcs
            bonus[chords[[pc in held for held in tones]]] = self.tone_bias
        return bonus

    def outside(self, lengths: frozenset[Fraction]) -> np.ndarray:
        """Over the note tokens: the pitched notes whose written length is not one of `lengths`."""
        if lengths not in self._outside:
            self._outside[lengths] = self.pitched & np.array([w not in lengths for w in self.written])
        return self._outside[lengths]

    def _next_pitch(self, state: FormState) -> tuple[int, bool, int] | None:
        """The first note of the next bar when it is already known, as (pitch, tonic, spelling):
        a copied bar's, or the cadence's landing pitch class `(landing, True, -1)`; None when the model will choose it
        or a rest opens it."""
        b = state.bar_index - state.offset + 1
        if state.bar_index == 0 and state.elapsed < self.rules.bar or not 0 < b < len(state.plan):
            return None
        step = state.plan[b]
        if step == "cadence":
            return (state.landing, True, -1)
        if not isinstance(step, tuple) or step[1] + state.offset >= len(state.bars):
            return None
        for token in state.bars[step[1] + state.offset]:
            if self.kinds[token] == NOTE_KIND:
                pitch = self.pitch_of.get(token)
                return None if pitch is None else (pitch, False, int(self.spellings[self.index_of[token]]))
        return None

    def advance(self, state: FormState, token: int) -> FormState:
        if state.done:
            return state
        kind = int(self.kinds[token]) if 0 <= token < len(self.kinds) else FORBIDDEN
        if state.forcing and state.retuning and self.kinds[state.forcing[0]] == CHORD_KIND and kind != CHORD_KIND:
            state.forcing.pop(0)  # no chord symbol written where the copied bar had one: the last one carries on
        if state.forcing and (state.forcing[0] == token or state.retuning and kind == CHORD_KIND == self.kinds[state.forcing[0]]):
            state.forcing.pop(0)
        elif state.forcing:  # a sampler that broke the forcing: follow the rules from here
            state.forcing = []
        state.current.append(token)
        state.emitted += 1
        if kind == CHORD_KIND:
            state.chord = self.tone_of(token)
        elif kind == TIE:
            state.tied = True
            state.ties += 1
        elif kind == NOTE_KIND and self.rules.is_rest[token]:
            state.rested += self.quarters[self.index_of[token]]
        elif kind == NOTE_KIND:
            pitch, tied = self.pitch_of.get(token), state.tied
            if pitch is not None and state.last_pitch is not None and not state.tied:
                state.moves[MOVE_GROUPS[min(abs(pitch - state.last_pitch), len(MOVE_GROUPS) - 1)]] += 1
            state.tied = False
            index = self.index_of[token]
            state.last_pitch, state.last_spelling = pitch, int(self.spellings[index])
            state.notes += pitch is not None
            state.onsets += not tied
            state.sung += self.quarters[index]
            state.off_scale += self.quarters[index] * self.off_scale[index]
            if pitch is not None and state.chord:
                state.under += self.quarters[index]
                state.on_chord += self.quarters[index] * (int(self.note_pcs[index]) % 12 in state.chord)
            if state.last_pitch is not None:
                state.low = state.last_pitch if state.low is None else min(state.low, state.last_pitch)
                state.high = state.last_pitch if state.high is None else max(state.high, state.last_pitch)
            if state.plan and state.bar_index - state.offset == len(state.plan) - 1:
                state.cadence_note = True
        pickup = state.bar_index == 0 and kind == BARLINE and 0 < state.elapsed < self.rules.bar
        self.rules.advance(state, token)
        if kind == BARLINE:
            state.offset = 1 if pickup else state.offset
            state.bars.append(state.current)
            state.current = []
            b = state.bar_index - state.offset
            step = state.plan[b] if 0 <= b < len(state.plan) else None
            state.retuning = isinstance(step, tuple) and step[0] == "tune"
            if isinstance(step, tuple):
                state.forcing = list(state.bars[step[1] + state.offset])
            elif step == "cadence":
                state.forcing = list(state.closing)
        return state


@dataclasses.dataclass(frozen=True)
class SongForm:
    """Whole bars in a song form: one form per candidate (`forms`, e.g. "AABA" in sections of
    `section_bars`), the returns copied, the last bar a cadence (one ending per candidate,
    `endings`, cycled like the forms: a chord symbol and the note the melody lands on, "C:C",
    "Am:E"; a chord alone lands on C), `tone_bias` for notes on the sounding
    chord's tones, `intervals`, the weight of the real songs' moves, `motifs`, short repeats,
    `ranges`, each melody's widest range, `balance`, how hard each melody leans toward aims
    drawn for it from the real songs' spread, `vary`, the bars left free when a section
    first returns (per candidate, cycled, when a tuple), `tails`, free bars after the last
    section (per candidate, cycled; negative: the last section cut short), `voltas`, the bars
    of a first and a second ending, for a form that is played more than once, `pickups`,
    whether each candidate opens with a pickup (cycled; () leaves it to the model), `rhythms`,
    each melody's set of note lengths (cycled), and `retune`, the share of copied bars that
    keep their melody and take new chord symbols."""

    slides: ClassVar[bool] = True  # a sampler may slide its window on over a long song: the rules keep every bar, the model need not
    forms: tuple[str, ...] = ("AABA",)
    section_bars: int = 8
    vary: int | tuple[int, ...] = 1  # bars free at a section's first return: one number, or one per candidate (cycled)
    cadence: bool = True
    endings: tuple[str, ...] = ("C:C",)  # "chord:note" per candidate (cycled); "C6" alone lands on C
    motifs: bool = False  # free bars may repeat the bar 1, 2 or 4 before, as real melodies do (`MOTIF_SHARES`)
    ranges: tuple[int, ...] = ()  # per candidate (cycled), the widest range its melody may take; () for any
    seed: int | None = None  # for the motifs' draw
    tone_bias: float = 0.0
    intervals: float = 0.0
    balance: float = 0.0  # how hard each melody leans toward its own aims (moves, ties, pace, colour, rests); 0: off
    tails: tuple[int, ...] = ()  # per candidate (cycled), bars after the form's sections before the cadence; () for none
    voltas: tuple[int, ...] = ()  # per candidate (cycled), the bars of a first ending (and of a second, after it); () for none
    pickups: tuple[bool, ...] = ()  # per candidate (cycled), whether it opens with a pickup; () for the model's choice
    rhythms: tuple[str, ...] = ()  # per candidate (cycled), its note lengths in quarters ("1/2 1 2 4", "(3" for tuplets); () for any
    retune: float = 0.0  # the share of copied bars that copy the melody alone, with chord symbols written anew (`RETUNE`)

    def describe(self) -> str:
        return f"the form {'/'.join(sorted(set(self.forms)))} with a cadence" if self.cadence else f"the form {'/'.join(self.forms)}"

    def build(self, vocabulary: "MeterRules", encode: "Callable[[str], list[int]]", budget: int | None) -> tuple["FormRules", list[FormState]]:
        from aitunes_lib.abc import chord_pitch_classes

        tones: dict[int, frozenset[int]] = {}

        def tone_of(token: int) -> frozenset[int]:  # a chord token's pitch classes, read once
            if token not in tones:
                tones[token] = chord_pitch_classes(vocabulary.texts[token].strip()[1:-1]) or frozenset()
            return tones[token]

        rules = FormRules(vocabulary, tone_of, self.tone_bias, self.intervals, self.balance)
        rules.budget = budget
        rng = _stream(self.seed, 2)
        varies = self.vary if isinstance(self.vary, tuple) else (self.vary,)
        plans = [form_plan(form, self.section_bars, cycled(varies, i), self.cadence, cycled(self.tails, i, 0), cycled(self.voltas, i, 0))
                 for i, form in enumerate(self.forms)]
        aims = move_aims(len(plans), self.seed) if self.balance else [()] * len(plans)
        strides = paces(len(plans), self.seed) if self.balance else [None] * len(plans)
        shades = colours(len(plans), self.seed) if self.balance else [None] * len(plans)
        rests = pauses(len(plans), self.seed) if self.balance else [None] * len(plans)
        fits = harmonies(len(plans), self.seed) if self.balance and self.tone_bias else [None] * len(plans)
        plans = [motif_plan(plan, rng) if self.motifs else plan for plan in plans]
        if self.retune:
            tunes = _stream(self.seed, 9)
            plans = [retune_plan(plan, tunes, self.retune) for plan in plans]
        starts = [FormState(plan=plan,
                            closing=encode(f" `{cycled(self.endings, i).partition(':')[0]}`"), landing=landing(cycled(self.endings, i)),
                            span=cycled(self.ranges, i), aim=aims[i], pace=strides[i],
                            colour=shades[i], pause=rests[i], harmony=fits[i], pickup=cycled(self.pickups, i),
                            **(read_rhythm(cycled(self.rhythms, i)) if self.rhythms else {}))
                  for i, plan in enumerate(plans)]
        return rules, starts


def cycled(values: Sequence, i: int, default=None):
    """Candidate i's value of a per-candidate tuple (`SongForm.tails`, `endings`, …), which
    repeats when there are more candidates than values; `default` when it is empty.

    >>> cycled(("C:C", "Am:E"), 3), cycled((), 3, 0)
    ('Am:E', 0)
    """
    return values[i % len(values)] if values else default


def landing(ending: str) -> int:
    """The pitch class an ending (`SongForm.endings`: "Am:E", or a chord alone) lands the melody on.

    >>> landing("Am:E"), landing("C6"), landing("G7:B")
    (4, 0, 11)
    """
    note = ending.partition(":")[2]
    return pitch_class(note.lower()) % 12 if note else 0


def read_rhythm(text: str) -> dict:
    """A rhythm as `SongForm.rhythms` writes it ("1/2 1 3/2 2 (3") as `FormState` fields.

    >>> rhythm = read_rhythm("1/2 1 2 (3")
    >>> sorted(rhythm["lengths"]), rhythm["tuplets"]
    ([Fraction(1, 2), Fraction(1, 1), Fraction(2, 1)], True)
    """
    words = text.split()
    return {"lengths": frozenset(Fraction(w) for w in words if w != "(3"), "tuplets": "(3" in words}


def _ticks(quarters: Fraction, ticks_per_quarter: int) -> int:
    ticks = Fraction(quarters) * ticks_per_quarter
    if ticks.denominator != 1:
        raise ValueError(f"a chord onset or bar length of {quarters} quarters falls between the notes this model can write")
    return int(ticks)


class MeterProcessor:
    """A `transformers` logits processor: -inf for every token that would break the bar.

    It reads the tokens generated after the prompt (`prompt_length` of them are the prompt),
    one state per row, so it works with `num_return_sequences` and batched prompts.
    """

    def __init__(self, rules: "MeterRules | ChartRules", prompt_length: int, start: "BarState | Sequence[BarState] | None" = None):
        self.rules = rules
        self.prompt_length = prompt_length
        self.start = start if start is not None else BarState()  # one state for every row, or one per row
        self.states: list[BarState] = []
        self.seen = prompt_length

    def __call__(self, input_ids, scores):
        import torch

        rows, length = input_ids.shape
        if not self.states:
            starts = self.start if isinstance(self.start, (list, tuple)) else [self.start] * rows
            self.states = [copy.deepcopy(starts[i % len(starts)]) for i in range(rows)]
        new = input_ids[:, self.seen:length].tolist()
        self.seen = length
        masks, biases = [], []
        for state, tokens in zip(self.states, new):
            for token in tokens:
                self.rules.advance(state, token)
            masks.append(self.rules.allowed(state))
            biases.append(self.rules.bias(state) if hasattr(self.rules, "bias") else None)  # type: ignore[union-attr]
        if any(b is not None for b in biases):
            bonus = np.stack([b if b is not None else np.zeros(len(masks[0]), dtype=np.float32) for b in biases])
            width = min(bonus.shape[1], scores.shape[1])
            scores = scores.clone()
            shift = torch.from_numpy(bonus[:, :width]).to(scores.device, scores.dtype)
            group = getattr(self.rules, "bias_group", None)  # tokens whose total probability the bonus keeps
            if group is not None:
                notes = torch.from_numpy(group).to(scores.device)
                before = torch.logsumexp(scores[:, notes], dim=1, keepdim=True)
                after = torch.logsumexp(scores[:, notes] + shift[:, notes], dim=1, keepdim=True)
                shift[:, notes] -= after - before  # chord-tone notes gain at other notes' expense, not at chords' or bar lines'
            scores[:, :width] += shift
        mask = torch.from_numpy(np.stack(masks)).to(scores.device)
        mask = mask[:, : scores.shape[1]]
        if mask.shape[1] < scores.shape[1]:  # rows of the embedding beyond the tokenizer (padding)
            mask = torch.cat([mask, torch.zeros(rows, scores.shape[1] - mask.shape[1], dtype=torch.bool, device=scores.device)], 1)
        return scores.masked_fill(~mask, float("-inf"))


def make_processor(rules: "MeterRules | ChartRules | FormRules", prompt_length: int, start: "BarState | Sequence[BarState] | None" = None):
    """`MeterProcessor` as a real `transformers.LogitsProcessor` subclass."""
    from transformers import LogitsProcessor

    class _Processor(MeterProcessor, LogitsProcessor):
        pass

    return _Processor(rules, prompt_length, start)
