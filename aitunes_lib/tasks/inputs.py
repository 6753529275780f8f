"""Checking the user's input before any work: an opening or a chord chart in ABC, moved to C; bad input says what to change."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Sequence

from aitunes_lib import abc
from aitunes_lib.tasks.base import BAR, METERS, TaskInputError, bar_ends
from aitunes_lib.tasks.charts import ChordChart, Phrase


def known_chord(name: str) -> bool:
    """Whether music21 reads the chord symbol `name` (as written in ABC) as a chord or N.C."""
    return abc.chord_pitch_classes(name) is not None


def _in_c(text: str, what: str) -> tuple[str, str | None]:
    """(the encoded body in C major, the key it was transposed from): meter checked, header dropped."""
    import music21 as m21

    text = text.strip()
    if not text:
        raise TaskInputError(f"the {what} is empty: write some bars of ABC")
    if "`" in text or " $" in text:  # the article's encoding: back to plain ABC
        text = abc.decode_body(text)
    fields, body = abc.split_header(text)
    meter_field = fields.get("M", "4/4")
    if meter_field.replace("C|", "2/2").replace("C", "4/4") not in METERS:
        raise TaskInputError(f"the {what} is in {meter_field}; the models write 4/4 and 2/2 only. Rewrite it in 4/4.")
    unit = fields.get("L", "1/4")
    key = (fields.get("K", "").split() or ["C"])[0]
    if unit == "1/4" and key in ("C", "Cmaj", "CMaj", "Cmajor"):
        return abc.encode_body(body)[: -len(abc.LINE_BREAK + abc.END)], None
    try:  # another key or unit: transpose with music21 and write it again in the training style
        # music21 reads the invisible rest x as a note C: make it a rest (outside chord quotes)
        pieces = text.split('"')
        text = '"'.join(p if i % 2 else re.sub(r"(?m)(?<![A-Za-z:])x", "z", p) for i, p in enumerate(pieces))
        score = abc.parse_abc(text)
        part = score.parts[0] if score.parts else score
        keys = list(part.recurse().getElementsByClass(m21.key.KeySignature))
        signature = keys[0] if keys else m21.key.KeySignature(0)
        mode = "minor" if key.lower().endswith(("m", "min", "minor")) and not key.lower().endswith("maj") else "major"
        tonic = signature.asKey(mode)
        interval = abc.transposition(tonic)  # to C major, or A minor
        if interval.semitones:
            score.transpose(interval, inPlace=True)
        new_keys = list(part.recurse().getElementsByClass(m21.key.KeySignature))
        body = abc.part_body(list(part.getElementsByClass(m21.stream.Measure)), key=new_keys[0] if new_keys else None)
    except Exception as error:  # noqa: BLE001
        raise TaskInputError(f"the {what} could not be read as ABC in K:{key}: {error}") from error
    moved_from = tonic.tonic.name + ("m" if mode == "minor" else "") if interval.semitones else None
    return abc.encode_body(body)[: -len(abc.LINE_BREAK + abc.END)], moved_from


def _check_bars(chart: ChordChart, what: str) -> None:
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
            raise TaskInputError(f"unknown chord symbol {name!r} in bar {b + 1}: write it as music21 reads it (C, Cm7, G7, F/A, Bdim, …)")
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
