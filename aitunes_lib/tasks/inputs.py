"""Checking the user's input before any work: an opening or a chord chart in ABC, moved to C; bad input says what to change."""

from __future__ import annotations

import itertools
import re
from fractions import Fraction
from typing import Sequence

from aitunes_lib import abc
from aitunes_lib.tasks.base import BAR, METERS, TaskInputError, bar_ends
from aitunes_lib.tasks.charts import ChordChart, Phrase

MAX_INPUT_BARS = 128  # an opening or a chart; the longest OpenEWLD song has 122 bars
MAX_INPUT_CHARS = 20_000  # about eight times the longest OpenEWLD song's body
MAX_CHORD_CHARS = 24  # `Bbm7b5/Ab` has 9
# what the models write: notes and rests, chords in quotes, bar lines, ties, tuplets, grace braces, line breaks
_WRITTEN = (abc.NOTE_KIND, abc.CHORD_KIND, abc.TIE, abc.BARLINE, abc.LINEBREAK, abc.TUPLET_KIND, abc.SPACE,
            abc.GRACE_OPEN, abc.GRACE_CLOSE)
_C_MAJOR = re.compile(r"(?i)c(?:\s*(?:maj|ion)[a-z]*)?|none")  # C major as written; anything else goes through music21
_MINOR = re.compile(r"(?i)[a-g][#b]?\s*(?:m(?!aj|ix)|aeo)")  # the relative major's signature, moved to A minor


def known_chord(name: str) -> bool:
    """Whether music21 reads the chord symbol `name` (as written in ABC) as a chord or N.C."""
    return len(name) <= MAX_CHORD_CHARS and '"' not in name and abc.chord_pitch_classes(name) is not None


def _checked(text: str, what: str) -> str:
    """The user's ABC once it is within bounds (bars, then characters, then ABC's limits and key),
    all checked on the text, before music21 reads it: the parse costs the square of the length."""
    text = text.strip()
    if not text:
        raise TaskInputError(f"the {what} is empty: write some bars of ABC")
    if "`" in text or " $" in text:  # the article's encoding: back to plain ABC
        text = abc.decode_body(text)
    bars = sum(1 for _ in abc.iter_bars(abc.split_header(text)[1]))
    if bars > MAX_INPUT_BARS:
        raise TaskInputError(f"the {what} has {bars:,} bars; give at most {MAX_INPUT_BARS}")
    if len(text) > MAX_INPUT_CHARS:
        raise TaskInputError(f"the {what} has {len(text):,} characters; give at most {MAX_INPUT_CHARS:,} (a few bars)")
    problem = abc.limits_problem(text)
    if problem:
        raise TaskInputError(f"the {what} cannot be used: {problem}")
    return text


def _foreign(encoded: str) -> str | None:
    """The first piece of an encoded body that the models never write (`!trill!`, `>`, a stray letter)."""
    for piece in re.findall(abc.EVENT, encoded):
        bare = piece.strip()
        if abc.classify(" z" + bare[1:] if bare[:1] == "x" else piece)[0] not in _WRITTEN:  # x: the invisible rest
            return bare
    return None


def _in_c(text: str, what: str) -> tuple[str, str | None]:
    """(the encoded body in C major, the key it was transposed from): meter checked, header dropped."""
    import music21 as m21

    text = _checked(text, what)
    fields, body = abc.split_header(text)
    meter_field = fields.get("M", "4/4")
    if meter_field.replace("C|", "2/2").replace("C", "4/4") not in METERS:
        raise TaskInputError(f"the {what} is in {meter_field}; the models write 4/4 and 2/2 only. Rewrite it in 4/4.")
    unit = fields.get("L", "1/4")
    key = fields.get("K", "").strip() or "C"
    encoded = abc.encode_body(body)[: -len(abc.LINE_BREAK + abc.END)]
    if unit == "1/4" and _C_MAJOR.fullmatch(key) and _foreign(encoded) is None:
        return encoded, None
    try:  # another key or unit: transpose with music21 and write it again in the training style
        # music21 reads the invisible rest x as a note C: make it a rest (outside chord quotes)
        pieces = text.split('"')
        text = '"'.join(p if i % 2 else re.sub(r"(?m)(?<![A-Za-z:])x", "z", p) for i, p in enumerate(pieces))
        score = abc.parse_abc(text)
        part = score.parts[0] if score.parts else score
        if not part.getElementsByClass(m21.stream.Measure):  # music21 leaves a tune of one bar without measures
            part = part.makeMeasures()
        keys = list(part.recurse().getElementsByClass(m21.key.KeySignature))
        signature = keys[0] if keys else m21.key.KeySignature(0)
        mode = "minor" if _MINOR.match(key) else "major"
        tonic = signature.asKey(mode)
        interval = abc.transposition(tonic)  # to C major, or A minor
        if interval.semitones:
            part.transpose(interval, inPlace=True)
        new_keys = list(part.recurse().getElementsByClass(m21.key.KeySignature))
        body = abc.part_body(list(part.getElementsByClass(m21.stream.Measure)), key=new_keys[0] if new_keys else None)
    except Exception as error:  # noqa: BLE001
        raise TaskInputError(f"the {what} could not be read as ABC in K:{key}: {error}") from error
    # the key as ABC's K: field spells it (Eb, not music21's E-), as the user wrote it and `abc.in_key` takes it
    moved_from = tonic.tonic.name.replace("-", "b") + ("m" if mode == "minor" else "") if interval.semitones else None
    encoded = abc.encode_body(body)[: -len(abc.LINE_BREAK + abc.END)]
    if (foreign := _foreign(encoded)) is not None:
        raise TaskInputError(f"the {what} holds {foreign[:20]!r}, which is not a note, rest, chord or bar line: write plain ABC")
    return encoded, moved_from


def _check_bars(chart: ChordChart, what: str) -> None:
    lengths = [length for length, _ in chart.bars]
    for run in (lengths, lengths[1:]):  # every bar alike, or every bar after a pickup: another meter
        if len(run) >= 2 and len(set(run)) == 1 and (length := run[0]) not in (0, BAR):
            meter = (f"{length}/4" if length.denominator == 1 else f"{length * 2}/8" if (length * 2).denominator == 1
                     else "another meter")
            raise TaskInputError(f"every bar of the {what} lasts {length} quarters, as in {meter}; "
                                 "the models write 4/4 and 2/2 only: rewrite it in 4/4")
    for b, (length, _) in enumerate(chart.bars):
        if length == 0:
            raise TaskInputError(f"bar {b + 1} of the {what} is empty")
        if 0 < b < len(chart.bars) - 1 and length != BAR:
            raise TaskInputError(f"bar {b + 1} of the {what} lasts {length} quarters; a 4/4 bar lasts 4. Fix its notes or rests.")


def phrase_input(text: str) -> Phrase:
    """A user's opening bars (ABC, with or without a header) → a `Phrase` in C; bad input says why.

    Another key is transposed to C (major) or A (minor); another meter is refused. The bars
    must be whole: the last one full, those in between four quarters each.
    """
    prefix, transposed = _in_c(text, "prefix")
    try:
        abc.parse_abc(abc.decode_body(prefix))
    except Exception as error:  # noqa: BLE001
        raise TaskInputError(f"the prefix does not parse as ABC: {error}") from error
    chart = ChordChart.from_body(prefix)
    if not chart.bars or not any(length for length, _ in chart.bars):
        raise TaskInputError("the prefix has no notes: write at least one bar")
    if not any(abc.pitch_number(piece) is not None for piece in re.findall(abc.EVENT, prefix)
               if abc.classify(piece)[0] == abc.NOTE_KIND):
        raise TaskInputError("the prefix has only rests: write at least one note for the model to continue")
    _check_bars(chart, "prefix")
    last = chart.bars[-1][0]
    if len(chart.bars) > 1 and last != BAR:
        raise TaskInputError(f"the prefix ends inside bar {len(chart.bars)} ({last} of 4 quarters): end it at a bar line")
    if not bar_ends(prefix) or prefix.rstrip()[-1] not in "|]":
        prefix = prefix.rstrip() + " |"
    return Phrase(prefix.rstrip(" $"), len(chart.bars), transposed)


def chart_input(chords: "str | Sequence[str]") -> tuple[ChordChart, str | None]:
    """A chord chart from ABC (a chart with x rests, or any lead sheet: its notes are dropped) or
    from a list of bars (`["C", "Am F", "Dm G7"]`: one, two or four chords, spread evenly).

    Returns (chart in C, the key it was transposed from). Refuses an empty chart and names an
    unknown chord symbol.
    """
    if isinstance(chords, str):
        body, transposed = _in_c(chords, "chord chart") if chords.strip() else ("", None)
        chart = ChordChart.from_body(body)
    else:
        chords = list(itertools.islice(chords, MAX_INPUT_BARS + 1))
        if len(chords) > MAX_INPUT_BARS:
            raise TaskInputError(f"the chord chart has more than {MAX_INPUT_BARS} bars; give at most {MAX_INPUT_BARS}")
        bars = []
        for b, bar in enumerate(chords):
            names_here = str(bar).split()
            if len(names_here) not in (1, 2, 4):
                raise TaskInputError(f"bar {b + 1} holds {len(names_here)} chords; give 1, 2 or 4 per bar (or write the chart in ABC)")
            step = BAR / len(names_here)
            bars.append((BAR, tuple((i * step, name) for i, name in enumerate(names_here))))
        chart, transposed = ChordChart(tuple(bars), frozenset(range(3, len(bars), 4))), None
    if not chart.chords:
        raise TaskInputError("the chord chart is empty: give at least one chord symbol")
    for b, _, name in chart.chords:
        if not known_chord(name):
            raise TaskInputError(f"unknown chord symbol {name[:MAX_CHORD_CHARS]!r} in bar {b + 1}: "
                                 "write it as music21 reads it (C, Cm7, C-7, G7, F/A, Bdim, …)")
    _check_bars(chart, "chord chart")
    return chart, transposed


def chart_violations(chart: ChordChart, completion: str) -> list[str]:
    """Where a melody's chords differ from the chart: bar count, missing, moved or extra chords."""
    got = ChordChart.from_body(completion)
    problems = []
    if len(got.bars) != len(chart.bars):
        problems.append(f"{len(got.bars)} bars, the chart has {len(chart.bars)}")

    def show(chords: Sequence[tuple[Fraction, str]]) -> str:
        return " ".join(f"{n}@{float(o):g}" for o, n in chords) or "none"

    for b, ((_, want), (_, have)) in enumerate(zip(chart.bars, got.bars)):
        if tuple(want) != tuple(have):
            problems.append(f"bar {b + 1}: chords {show(have)}, expected {show(want)}")
    return problems
