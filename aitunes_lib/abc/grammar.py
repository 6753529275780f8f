"""The one ABC event grammar: the patterns and token kinds that the tokenizer, the meter rules
and the readers share, and the article's markers (`<song>`, `<end>`, ` $ `)."""

from __future__ import annotations

import re
from fractions import Fraction

LINE_BREAK = " $ "  # the article's newline in the training text
END = "<end>"
SONG = "<song>"  # the article's marker: a whole song follows (the `song` task's; see `tasks`)

# ---- the ABC event grammar: the tokenizer cuts text with EVENT, the meter rules and the
# readers below classify each piece with these patterns. One definition, shared.
NOTE = re.compile(r"(?:[_^=]*[A-Ga-g][,']*|z)(\d*)(/*)(\d*)")  # a note or rest with its length
CHORD = re.compile(r"`[^`\n|$]*`")  # a chord name holds no bar line: one folk tune's stray backtick made such a token
TUPLET = re.compile(r"\((\d)(?::(\d*))?(?::(\d*))?")
BAR = re.compile(r"\[?:*\|+:*\]?")  # |, ||, |], [|, :|, |:
EVENT = (
    r" ?`[^`\n]*`"  # chord symbol
    r"| ?\(\d(?::\d*){0,2}"  # tuplet mark
    r"| ?[_^=]*[A-Ga-gzx][,']*\d*(?:/+\d*)?"  # note or rest with its length
    r"| ?-"  # tie
    r"| ?[|:\]\[]+"  # bar lines
    r"| ?\$"  # the article's line break
    r"| ?[{}]"  # grace-note braces
    r"|."  # anything else, one character at a time
)


class AbcError(ValueError):
    """A stream that cannot be written as ABC, with the reason."""


# kinds of token
FORBIDDEN, NOTE_KIND, CHORD_KIND, TIE, BARLINE, LINEBREAK, TUPLET_KIND, SPACE, END_KIND, GRACE_OPEN, GRACE_CLOSE = range(11)


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


_STEP_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL_SHIFT = {"^": 1, "^^": 2, "_": -1, "__": -2}


def pitch_class(text: str) -> int:
    """The pitch class of one note token in C major (its own accidental only); -1 for a rest.

    >>> [pitch_class(t) for t in (" c", "^F,", "_B2", "=e/", "z4")]
    [0, 6, 10, 4, -1]
    """
    match = re.fullmatch(r"([_^=]*)([A-Ga-g])[,']*\S*", text.strip())
    if not match:
        return -1
    return (_STEP_SEMITONES[match.group(2).upper()] + _ACCIDENTAL_SHIFT.get(match.group(1), 0)) % 12


def pitch_number(text: str) -> int | None:
    """Semitones above middle C (`C`) of one note token (its own accidental only); None for a rest.

    >>> [pitch_number(t) for t in (" C", "c", "^F,", "_b'2", "z4")]
    [0, 12, -6, 34, None]
    """
    match = re.fullmatch(r"([_^=]*)([A-Ga-g])([,']*)\S*", text.strip())
    if not match:
        return None
    accidental, step, marks = match.groups()
    octave = step.islower() + marks.count("'") - marks.count(",")
    return _STEP_SEMITONES[step.upper()] + _ACCIDENTAL_SHIFT.get(accidental, 0) + 12 * octave


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
    return (p, q, r) if p > 1 and q > 0 and r > 0 else None  # `(1` is no tuplet


def classify(text: str) -> tuple[int, Fraction | tuple[int, int, int] | None]:
    """The kind of one token's text, with its length (notes) or ratio (tuplet marks)."""
    bare = text.strip()
    if text == END:
        return END_KIND, None
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
