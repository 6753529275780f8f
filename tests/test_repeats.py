"""Unfolding repeats, voltas, D.C./D.S., Fine and Coda into playing order."""

from __future__ import annotations

import music21 as m21
import pytest

from aitunes_lib import repeats


def make_part(*bars: str) -> m21.stream.Part:
    """Bars named by letters, with marks: `|:` start, `:|` end, `1`/`2` volta, `S` segno,
    `F` fine, `DC`/`DS` (al Fine), `DSC` (al Coda), `TC` to-coda at the end, `C` coda target."""
    part = m21.stream.Part()
    measures = []
    for number, spec in enumerate(bars, start=1):
        name, *marks = spec.split()
        measure = m21.stream.Measure(number=number)
        measure.append(m21.note.Note("C4", quarterLength=4))
        measure.name = name
        if "|:" in marks:
            measure.leftBarline = m21.bar.Repeat(direction="start")
        if ":|" in marks:
            measure.rightBarline = m21.bar.Repeat(direction="end")
        if "S" in marks:
            measure.insert(0, m21.repeat.Segno())
        if "C" in marks:
            measure.insert(0, m21.repeat.Coda())
        if "TC" in marks:
            measure.insert(4, m21.repeat.Coda())
        if "F" in marks:
            measure.insert(4, m21.repeat.Fine())
        if "DC" in marks:
            measure.insert(4, m21.repeat.DaCapoAlFine())
        if "DS" in marks:
            measure.insert(4, m21.repeat.DalSegnoAlFine())
        if "DSC" in marks:
            measure.insert(4, m21.repeat.DalSegnoAlCoda())
        measures.append((measure, [m for m in marks if m.isdigit()]))
        part.append(measure)
    for number in ("1", "2"):
        spanned = [m for m, v in measures if number in v]
        if spanned:
            part.insert(0, m21.spanner.RepeatBracket(spanned, number=int(number)))
    return part


def order(part: m21.stream.Part) -> str:
    return "".join(m.name for m in repeats.playing_order(part))


@pytest.mark.parametrize(
    "bars, expected",
    [
        (["A", "B", "C"], "ABC"),
        (["A |:", "B :|", "C"], "ABABC"),
        (["A", "B :|", "C"], "ABABC"),  # a repeat never opened goes back to the start
        (["A |: :|", "B", "C :|"], "AABCBC"),  # ... or to just after the previous repeat
        (["A |:", "B 1 :|", "C 2", "D"], "ABACD"),  # first and second endings
        (["A", "B F", "C", "D DC"], "ABCDAB"),  # D.C. al Fine
        (["A", "B S", "C TC", "D DSC", "E C"], "ABCDBCE"),  # D.S. al Coda
        (["A |:", "B 1 :|", "C 2 F", "D DC"], "ABACDAC"),  # after D.C. only the last ending
        (["A", "B F", "C :|"], "ABCAB"),  # Fine after a plain repeat
        (["A TC", "B :|", "C C"], "ABAC"),  # to-coda on the second pass
    ],
)
def test_playing_order(bars, expected):
    assert order(make_part(*bars)) == expected


def test_real_song_with_voltas_and_da_capo_al_fine(song_path):
    # |: 1..6 [1 7 8:| [fine 9] ... 18 D.C. al Fine (the Fine sits in the first-ending bracket)
    score = m21.converter.parse(song_path("I_Wanna_Be_Loved_by_You"))
    numbers = [m.number for m in repeats.playing_order(score.parts[0])]
    assert numbers == [*range(1, 9), *range(1, 7), *range(10, 19), *range(1, 10)]


def test_real_song_with_dal_segno_al_fine(song_path):
    score = m21.converter.parse(song_path("Joshua_Fit_the_Battle_of_Jericho"))
    numbers = [m.number for m in repeats.playing_order(score.parts[0])]
    assert numbers == [*range(1, 17), *range(1, 17), *range(17, 25), *range(9, 24), 25]
