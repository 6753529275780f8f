"""Unfolding repeats, voltas, D.C., D.S., Fine and Coda into the order the bars are played.

music21's own `expandRepeats` refuses 62 of the 379 eligible OpenEWLD songs ("badly formed
repeats"): lead sheets often close a repeat they never opened, or mark a jump only
once. This module reads the same music21 objects (`bar.Repeat`, `spanner.RepeatBracket`,
`repeat.RepeatExpression`) and follows the conventions a player would:

- `:|` goes back to the last `|:`, or to the bar after the previous finished repeat, or to
  the start; it is taken `times - 1` times (twice played by default).
- A volta bar is played only on the passes its numbers name.
- D.C. and D.S. jump once, after their bar, to the start or the segno. After the jump,
  repeats are not taken again and only the last ending of each volta group is played.
- Fine ends the song, and an early Coda mark jumps to the last Coda mark (the coda),
  when their bar comes round again (after a repeat) or after a D.C./D.S.
"""

from __future__ import annotations

from collections import defaultdict

import music21 as m21


class RepeatError(ValueError):
    """Repeat marks that cannot be followed (for example a loop that never ends)."""


def _voltas(part: m21.stream.Stream, measures: list[m21.stream.Measure]) -> dict[int, set[int]]:
    where = {id(m): i for i, m in enumerate(measures)}
    numbers: dict[int, set[int]] = defaultdict(set)
    brackets = part.spannerBundle.getByClass(m21.spanner.RepeatBracket)
    for bracket in brackets:
        names = set(bracket.numberRange) or {1}  # a bracket with no number is a first ending
        # MusicXML marks only where an ending starts and stops: the bracket spans every bar between
        spanned = [where[id(e)] for e in bracket.getSpannedElements() if id(e) in where]
        for i in range(min(spanned), max(spanned) + 1) if spanned else ():
            numbers[i] |= names
    return numbers


def _last_endings(voltas: dict[int, set[int]], count: int) -> set[int]:
    """Volta bars that belong to the highest ending of their group of consecutive voltas."""
    last: set[int] = set()
    i = 0
    while i < count:
        if i not in voltas:
            i += 1
            continue
        j = i
        while j < count and j in voltas:
            j += 1
        top = max(max(voltas[k]) for k in range(i, j))
        last |= {k for k in range(i, j) if top in voltas[k]}
        i = j
    return last


def playing_order(part: m21.stream.Stream) -> list[m21.stream.Measure]:
    """The part's measures in the order they are played (the same objects, repeated)."""
    measures = list(part.getElementsByClass(m21.stream.Measure))
    count = len(measures)
    starts = {i for i, m in enumerate(measures) if isinstance(m.leftBarline, m21.bar.Repeat)}
    ends = {
        i: (m.rightBarline.times or 2)
        for i, m in enumerate(measures)
        if isinstance(m.rightBarline, m21.bar.Repeat) and m.rightBarline.direction == "end"
    }
    voltas = _voltas(part, measures)
    last_endings = _last_endings(voltas, count)
    marks: dict[int, list[tuple[str, bool]]] = defaultdict(list)  # bar -> (kind, at its end)
    codas = []
    segno = 0
    for i, measure in enumerate(measures):
        for mark in measure.getElementsByClass(m21.repeat.RepeatExpression):
            at_end = mark.offset > 0 and mark.offset >= measure.duration.quarterLength / 2
            if isinstance(mark, m21.repeat.Segno):
                segno = i
            elif isinstance(mark, m21.repeat.Coda):
                codas.append((i, at_end))
            elif isinstance(mark, m21.repeat.Fine):
                marks[i].append(("fine", True))
            elif isinstance(mark, (m21.repeat.DaCapo, m21.repeat.DaCapoAlFine, m21.repeat.DaCapoAlCoda)):
                marks[i].append(("dc", True))
            elif isinstance(mark, (m21.repeat.DalSegno, m21.repeat.DalSegnoAlFine, m21.repeat.DalSegnoAlCoda)):
                marks[i].append(("ds", True))
    coda_target = codas[-1][0] if len(codas) >= 2 else None
    for i, at_end in codas[:-1] if coda_target is not None else []:
        marks[i].append(("tocoda", at_end))

    order: list[int] = []
    played: defaultdict[int, int] = defaultdict(int)
    taken: defaultdict[int, int] = defaultdict(int)
    section_start, pass_number, finished_section = 0, 1, False
    jumped = False
    i = 0
    while i < count:
        if len(order) > 20 * count:
            raise RepeatError("the repeat marks form a loop that never ends")
        if i in starts and i != section_start and not jumped:
            section_start, pass_number, finished_section = i, 1, False
        if i not in voltas and finished_section:
            section_start, pass_number, finished_section = i, 1, False
        # Fine and to-coda count once the bar comes round again, or after a D.C./D.S.
        again = played[i] > 0 or jumped
        if again and any(kind == "tocoda" and not at_end for kind, at_end in marks[i]) and coda_target is not None:
            i = coda_target
            continue
        if i in voltas and not (i in last_endings if jumped else pass_number in voltas[i]):
            i += 1
            continue
        order.append(i)
        played[i] += 1
        kinds = {kind for kind, _ in marks[i]}
        if again and "fine" in kinds:
            break
        if again and coda_target is not None and any(k == "tocoda" and end for k, end in marks[i]):
            i = coda_target
            continue
        if i in ends and not jumped:
            if taken[i] < ends[i] - 1:
                taken[i] += 1
                pass_number += 1
                i = section_start
                continue
            finished_section = True
        if not jumped and kinds & {"dc", "ds"}:
            jumped = True
            i = 0 if "dc" in kinds else segno
            continue
        i += 1
    return [measures[k] for k in order]
