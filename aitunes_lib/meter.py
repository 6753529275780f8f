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
"""

from __future__ import annotations

import dataclasses
import math
import re
from fractions import Fraction
from typing import Sequence

import numpy as np

NOTE = re.compile(r"(?:[_^=]*[A-Ga-g][,']*|z)(\d*)(/*)(\d*)")
CHORD = re.compile(r"`[^`\n]*`")
TUPLET = re.compile(r"\((\d)(?::(\d*))?(?::(\d*))?")
BAR = re.compile(r"\[?:*\|+:*\]?")  # |, ||, |], [|, :|, |:

# kinds of token
FORBIDDEN, NOTE_KIND, CHORD_KIND, TIE, BARLINE, LINEBREAK, TUPLET_KIND, SPACE, END, GRACE_OPEN, GRACE_CLOSE = range(11)


def note_length(text: str) -> Fraction | None:
    """The written length of one note or rest in quarters (`L:1/4`), or None if `text` is not one.

    >>> [note_length(t) for t in (" c", "^G,3/2", "z/", "e//", "B3", "`C`")]
    [Fraction(1, 1), Fraction(3, 2), Fraction(1, 2), Fraction(1, 4), Fraction(3, 1), None]
    """
    match = NOTE.fullmatch(text.strip())
    if not match:
        return None
    number, slashes, denominator = match.groups()
    length = Fraction(int(number) if number else 1)
    if slashes:
        length /= int(denominator) if denominator else 2 ** len(slashes)
    return length


def tuplet_ratio(text: str) -> tuple[int, int, int] | None:
    """(p, q, r) of a tuplet mark `(p:q:r`, with ABC's defaults for q and r (simple meters).

    >>> tuplet_ratio("(3"), tuplet_ratio(" (3:2:2"), tuplet_ratio("(5")
    ((3, 2, 3), (3, 2, 2), (5, 2, 5))
    """
    match = TUPLET.fullmatch(text.strip())
    if not match:
        return None
    p = int(match.group(1))
    q = int(match.group(2)) if match.group(2) else {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 2)
    r = int(match.group(3)) if match.group(3) else p
    return (p, q, r) if p > 0 and q > 0 and r > 0 else None


def classify(text: str) -> tuple[int, Fraction | tuple[int, int, int] | None]:
    """The kind of one token's text, with its length (notes) or ratio (tuplet marks)."""
    bare = text.strip()
    if text == "<end>":
        return END, None
    if text == " ":
        return SPACE, None
    if not bare or bare.startswith("<"):
        return FORBIDDEN, None
    if (length := note_length(text)) is not None:
        return (NOTE_KIND, length) if length > 0 else (FORBIDDEN, None)
    if CHORD.fullmatch(bare):
        return CHORD_KIND, None
    if bare == "-":
        return TIE, None
    if bare == "$":
        return LINEBREAK, None
    if BAR.fullmatch(bare):
        return BARLINE, None
    if (ratio := tuplet_ratio(text)) is not None:
        return TUPLET_KIND, ratio
    if bare == "{":
        return GRACE_OPEN, None
    if bare == "}":
        return GRACE_CLOSE, None
    return FORBIDDEN, None


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


class MeterRules:
    """Which tokens keep every bar of `bar` quarters exact, for a vocabulary of token texts."""

    def __init__(self, token_texts: Sequence[str], bar: Fraction = Fraction(4)):
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
        self.note_ticks = {Fraction(q, p): np.array([int(lengths[i] * Fraction(q, p) * tpq) for i in self.note_ids], dtype=np.int64)
                           for p, q, _ in [*self.tuplets.values(), (1, 1, 1)]}
        plain = self.note_ticks[Fraction(1)]
        # a remainder can be filled exactly when it is a multiple of the shortest plain note
        # (the others are multiples of it in this data; checked here)
        self.grain = int(plain.min()) if len(plain) else self.bar
        self._grain_divides = bool(len(plain)) and all(t % self.grain == 0 for t in plain)
        self.end_id = next((i for i, k in enumerate(self.kinds) if k == END), None)
        self.zero_time = np.isin(self.kinds, (CHORD_KIND,))
        self.is_rest = np.array([text.strip()[:1] == "z" for text in token_texts])

    def fillable(self, ticks: np.ndarray | int) -> np.ndarray | bool:
        """Whether a remainder of the bar can be filled exactly with plain notes."""
        ticks = np.asarray(ticks)
        ok = (ticks == 0) | ((ticks >= self.grain) & (ticks % self.grain == 0 if self._grain_divides else True))
        return ok

    def _fits(self, left: np.ndarray, pickup: bool) -> np.ndarray:
        """Where what is left of the bar is not negative and, past the pickup, can still be filled."""
        return (left >= 0) if pickup else (left >= 0) & self.fillable(left)

    def allowed(self, state: BarState) -> np.ndarray:
        """A boolean mask over the vocabulary: the tokens that keep the bar legal."""
        kinds = self.kinds
        mask = np.zeros(len(kinds), dtype=bool)
        if state.done:
            mask[:] = True
            return mask
        if state.ending:
            mask[kinds == END] = True
            return mask
        room = self.bar - state.elapsed
        pickup = state.bar_index == 0
        at_bar_start = state.elapsed == 0 and state.last in (BARLINE, LINEBREAK)
        # notes and rests; inside a tuplet, as if the rest of the group kept this length
        p, q = state.tuplet if state.tuplet_left else (1, 1)
        mask[self.note_ids[self._fits(room - self.note_ticks[Fraction(q, p)] * max(1, state.tuplet_left), pickup)]] = True
        if state.last == NOTE_KIND and not state.last_rest:
            mask[kinds == TIE] = True  # a tie belongs to the note before it, even at the bar's end
        if state.tuplet_left:
            mask[self.zero_time] = True
            return mask
        # tuplet marks: some note length must make the whole group fit
        for token, (p, q, r) in self.tuplets.items():
            mask[token] = room > 0 and bool(self._fits(room - self.note_ticks[Fraction(q, p)] * r, pickup).any())
        if room > 0:
            mask[self.zero_time] = True  # chord symbols
        if state.elapsed == self.bar or (pickup and state.elapsed > 0):
            mask[kinds == BARLINE] = True
        if state.elapsed == 0 and state.last == BARLINE:
            mask[kinds == LINEBREAK] = True
        if at_bar_start and state.bar_index >= 1:
            mask[kinds == END] = True
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
        if kind == END:
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


class MeterProcessor:
    """A `transformers` logits processor: -inf for every token that would break the bar.

    It reads the tokens generated after the prompt (`prompt_length` of them are the prompt),
    one state per row, so it works with `num_return_sequences` and batched prompts.
    """

    def __init__(self, rules: MeterRules, prompt_length: int):
        self.rules = rules
        self.prompt_length = prompt_length
        self.states: list[BarState] = []
        self.seen = prompt_length

    def __call__(self, input_ids, scores):
        import torch

        rows, length = input_ids.shape
        if not self.states:
            self.states = [BarState() for _ in range(rows)]
        new = input_ids[:, self.seen:length].tolist()
        self.seen = length
        masks = []
        for state, tokens in zip(self.states, new):
            for token in tokens:
                self.rules.advance(state, token)
            masks.append(self.rules.allowed(state))
        mask = torch.from_numpy(np.stack(masks)).to(scores.device)
        mask = mask[:, : scores.shape[1]]
        if mask.shape[1] < scores.shape[1]:  # rows of the embedding beyond the tokenizer (padding)
            mask = torch.cat([mask, torch.zeros(rows, scores.shape[1] - mask.shape[1], dtype=torch.bool, device=scores.device)], 1)
        return scores.masked_fill(~mask, float("-inf"))


def make_processor(rules: MeterRules, prompt_length: int):
    """`MeterProcessor` as a real `transformers.LogitsProcessor` subclass."""
    from transformers import LogitsProcessor

    class _Processor(MeterProcessor, LogitsProcessor):
        pass

    return _Processor(rules, prompt_length)


def bar_lengths(body: str) -> list[Fraction]:
    """The length of every bar of a generated body (the article's text), in quarters, from its text.

    A plain reading for reports; tests check the rules against music21's own parse.
    >>> bar_lengths(" `C`c2 (3c/d/e/ d | z4 | $ <end>")
    [Fraction(4, 1), Fraction(4, 1)]
    """
    text = body.split("<end>", 1)[0]
    bars, current, tuplet_left, ratio, grace = [], Fraction(0), 0, Fraction(1), False
    from aitunes_lib.tokenizer import EVENT

    for piece in re.findall(EVENT, text):
        kind, value = classify(piece)
        if kind == NOTE_KIND and not grace:
            current += value * (ratio if tuplet_left else 1)  # type: ignore[operator]
            tuplet_left = max(0, tuplet_left - 1)
        elif kind == TUPLET_KIND:
            p, q, r = value  # type: ignore[misc]
            ratio, tuplet_left = Fraction(q, p), r
        elif kind == BARLINE:
            bars.append(current)
            current, tuplet_left = Fraction(0), 0
        elif kind == GRACE_OPEN:
            grace = True
        elif kind == GRACE_CLOSE:
            grace = False
    if current:
        bars.append(current)
    return bars
