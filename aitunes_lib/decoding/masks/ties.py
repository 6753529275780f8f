"""A tie joins two notes of one pitch: across a bar line, or inside a bar where no one note can say it.

After a tie only that note, as it was written, may follow. At the end of a bar a tie leads into
a next bar that opens on that note (nothing past the last bar). Inside a bar a lead sheet writes
one note wherever one note holds the summed length (`c- c` is `c2`, `c- c/` is `c3/2`), and a tie
only where none can: a syncopation held for five eighths (688 of the real songs' 1,917 in-bar
ties) is a half note tied to an eighth. So inside a bar a tie is offered only toward such a
length, as the real songs tie there (`Tables.tied_lengths`: after an eighth, a half note; after
a half note, an eighth; ...), and the note after it must make one.

Left free, a small model tied notes into rests, into leaps, and within a bar (23 times in one
song). Forbidden inside a bar altogether, its rhythms lost the real songs' syncopations
(duration entropy 1.55 against their 1.88, off-beat onsets 0.22 against 0.31).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from aitunes_lib.abc import TIE, TUPLET_KIND
from aitunes_lib.decoding.state import SongState


# The pairs in at least this share of the real songs' in-bar ties (six of them: 1/2 2, 2 1/2, 3/2 2,
# 1/2 3/4, 2 3/4, 1/4 3/2). With the rare ones too, a model that wanted `c- c` was led to `c- c/4`.
TIED_SHARE = 0.02


def tie_open(state: SongState) -> bool:
    """A tie waits for its note (in the cadence's bar the landing note wins over a copied tie)."""
    return state.melody.tied and state.melody.last_pitch is not None and not state.in_cadence


def one_note(quarters: Fraction) -> bool:
    """Whether one note value holds this length: plain or dotted (2**k or 3 * 2**k quarters).

    >>> [one_note(Fraction(q)) for q in ("2", "3/2", "1/4", "5/2", "5/4", "7/4")]
    [True, True, True, False, False, False]
    """
    n, d = quarters.numerator, quarters.denominator
    power = lambda x: x > 0 and x & (x - 1) == 0  # noqa: E731
    return power(d) and (power(n) or (n % 3 == 0 and power(n // 3)))


class Ties:
    def __init__(self, rules, tracker, shape):
        self.rules, self.vocab, self.kinds, self.tracker = rules, rules.vocab, rules.kinds, tracker
        self.ticks = rules.note_ticks[Fraction(1)]  # over the note tokens, their plain lengths
        nexts: dict[int, list[int]] = {}
        tied = shape.measured.tied_lengths  # "held next" in quarters, as the real songs tie inside a bar
        for pair in (pair for pair, n in tied.items() if n >= TIED_SHARE * sum(tied.values())):
            held, after = (Fraction(x) * rules.ticks_per_quarter for x in pair.split())
            if held.denominator == after.denominator == 1:
                nexts.setdefault(int(held), []).append(int(after))
        self.after = {held: np.isin(self.ticks, after) for held, after in nexts.items()}

    def tied_on(self, state: SongState) -> np.ndarray:
        """Over the note tokens: the notes of the held pitch that a tie inside this bar may lead to
        (the real songs' `tied_lengths` after a note held this long, within what is left of the bar)."""
        after = self.after.get(state.elapsed - state.melody.struck_at)
        if after is None:
            return np.zeros(len(self.ticks), dtype=bool)
        return self.vocab.held(state.melody.last_spelling) & after & (self.ticks <= self.rules.bar - state.elapsed)

    def others(self, state: SongState) -> np.ndarray | None:
        """After a tie, the note tokens of any other pitch (or a rest); None when no tie is open."""
        return self.vocab.note_ids[~self.vocab.held(state.melody.last_spelling)] if tie_open(state) else None

    def restrict(self, state: SongState, mask: np.ndarray) -> None:
        rules, melody = self.rules, state.melody
        other = self.others(state)
        if other is not None and mask[rules.note_ids].sum() > mask[other].sum():  # a note of that pitch fits: keep only those
            mask[other] = False
            mask[self.kinds == TUPLET_KIND] = False  # and a plain one: a tuplet mark between would break the tie
            if 0 < state.elapsed and not state.tuplet_left:  # tied inside the bar: to a length no one note holds
                tied_on = self.tied_on(state)
                if mask[rules.note_ids[tied_on]].any():
                    mask[rules.note_ids[~tied_on]] = False
        if not mask[self.kinds == TIE].any() or melody.last_pitch is None:
            return
        room = rules.bar - state.elapsed
        if room > 0:  # inside the bar: one longer note, unless no one note can hold the length
            if state.tuplet_left or not mask[rules.note_ids[self.tied_on(state)]].any():
                mask[self.kinds == TIE] = False
        else:
            b = state.form_bar + 1
            steps = state.plan.steps
            if b >= len(steps) > 0:  # the song ends here: nothing to tie into
                mask[self.kinds == TIE] = False
                return
            forced = 0 < b < len(steps) and steps[b] != "free"  # a copied bar or the cadence comes next
            ahead = self.tracker.next_opening(state)
            if forced and (ahead is None or ahead[1] or ahead[2] != melody.last_spelling):  # a rest, or another note, opens it
                mask[self.kinds == TIE] = False
