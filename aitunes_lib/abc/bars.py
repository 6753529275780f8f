"""Reading bars from ABC text: the bars of a body, and their lengths and chord symbols as the
article's text writes them."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Iterator, Sequence

from aitunes_lib.abc.grammar import (
    BARLINE, CHORD_KIND, EVENT, GRACE_CLOSE, GRACE_OPEN, LINEBREAK, NOTE_KIND, TIE, TUPLET_KIND, classify,
)


def iter_bars(body: str) -> Iterator[str]:
    """The bars of an ABC body, without the bar lines."""
    for line in body.splitlines():
        for bar in line.split("|"):
            if bar.strip():
                yield bar.strip()


def read_bars(body: str) -> list[tuple[Fraction, list[tuple[Fraction, str]], bool]]:
    """Every bar of a body in the article's text: (its length in quarters, its chord symbols as
    (onset, name), whether a line break follows). A plain reading from the text, for reports and
    charts; `x` (invisible) rests count like `z`, grace notes take no time.

    >>> read_bars(" `C`c2 (3c/d/e/ `G7`d | z4 | $ <end>")
    [(Fraction(4, 1), [(Fraction(0, 1), 'C'), (Fraction(3, 1), 'G7')], False), (Fraction(4, 1), [], True)]
    """
    return [(length, chords, linebreak) for length, chords, _, linebreak in _walk(body)]


def bar_onsets(body: str) -> list[tuple[Fraction, list[Fraction]]]:
    """Every bar's length and the onsets of the notes struck in it (not rests, not a tied note's
    continuation), in quarters.

    >>> bar_onsets(" `C`c2- c/ z/ (3c/d/e/ | c4- | c2 z2 | $ <end>")
    [(Fraction(4, 1), [Fraction(0, 1), Fraction(3, 1), Fraction(10, 3), Fraction(11, 3)]), (Fraction(4, 1), [Fraction(0, 1)]), (Fraction(4, 1), [])]
    """
    return [(length, onsets) for length, _, onsets, _ in _walk(body)]


def _walk(body: str) -> list[tuple[Fraction, list[tuple[Fraction, str]], list[Fraction], bool]]:
    """Per bar: (length, chord symbols as (onset, name), struck notes' onsets, a line break follows)."""
    bars: list[tuple[Fraction, list[tuple[Fraction, str]], list[Fraction], bool]] = []
    current, chords, onsets, tuplet_left, ratio, grace, tied = Fraction(0), [], [], 0, Fraction(1), False, False
    for piece in re.findall(EVENT, re.split(r"<end>|<song>", body, maxsplit=1)[0]):
        bare = piece.strip()
        kind, value = classify(" z" + bare[1:] if bare[:1] == "x" else piece)
        if kind == NOTE_KIND and not grace:
            if bare[:1] not in ("x", "z") and not tied:
                onsets.append(current)
            tied = False
            current += value * (ratio if tuplet_left else 1)  # type: ignore[operator]
            tuplet_left = max(0, tuplet_left - 1)
        elif kind == TIE:
            tied = True
        elif kind == TUPLET_KIND:
            p, q, r = value  # type: ignore[misc]
            ratio, tuplet_left = Fraction(q, p), r
        elif kind == CHORD_KIND and not grace:
            chords.append((current, bare[1:-1]))
        elif kind == BARLINE:
            bars.append((current, chords, onsets, False))
            current, chords, onsets, tuplet_left = Fraction(0), [], [], 0
        elif kind == LINEBREAK and bars:
            bars[-1] = (*bars[-1][:3], True)
        elif kind in (GRACE_OPEN, GRACE_CLOSE):
            grace = kind == GRACE_OPEN
    if current or chords:
        bars.append((current, chords, onsets, False))
    return bars


def bar_lengths(body: str) -> list[Fraction]:
    """The length of every bar of a generated body (the article's text), in quarters, from its text.

    A plain reading for reports; tests check the rules against music21's own parse.
    >>> bar_lengths(" `C`c2 (3c/d/e/ d | z4 | $ <end>")
    [Fraction(4, 1), Fraction(4, 1)]
    """
    return [length for length, _, _ in read_bars(body)]


def opens_with_pickup(lengths: Sequence[Fraction]) -> bool:
    """Whether bars of these lengths (`bar_lengths`) open with a pickup: a first bar shorter than the second.

    >>> opens_with_pickup(bar_lengths(" C | c4 | $ <end>")), opens_with_pickup([Fraction(4)])
    (True, False)
    """
    return len(lengths) > 1 and lengths[0] < lengths[1]

