"""Parsing ABC with music21: the limits checked before it sees text from outside, stacked chord
symbols kept, long songs parsed in chunks, and a lead sheet's clef."""

from __future__ import annotations

import contextlib
import re
import threading
from fractions import Fraction
from typing import Iterator

import music21 as m21
import numpy as np

from aitunes_lib import chords
from aitunes_lib.abc.bars import iter_bars
from aitunes_lib.abc.grammar import NOTE
from aitunes_lib.abc.headers import FIELD, complete_header, key_problem

# Limits on what is parsed (a candidate past one is invalid with the reason; nothing hangs).
MAX_ABC_CHARS = 100_000  # about 40 times the longest OpenEWLD song
MAX_BARS = 2_000  # the longest OpenEWLD song has 122
MAX_NOTE_QUARTERS = 64  # one note or rest: 16 bars of 4/4
METER_NUMERATORS = range(1, 33)
METER_DENOMINATORS = (1, 2, 4, 8, 16, 32)
UNIT_DENOMINATORS = (1, 2, 4, 8, 16, 32, 64)
WHOLE_PARSE_BARS = 128  # songs up to this long (every OpenEWLD song) parse in one piece; longer ones in chunks
CHUNK_BARS = 32
_QUOTED = re.compile(r'"[^"\n]*"|`[^`\n]*`|![^!\n]*!|\+[^+\n]*\+|%.*$', re.M)  # chord names, annotations, decorations, comments
_ABC_CHARACTERS = set("ABCDEFGabcdefgzZxy0123456789/,'^_=|:[]()<>{}-.~ \t\n$&HLMOPSTuv\\")  # a backslash continues a line


def _fraction(text: str) -> Fraction | None:
    match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    return Fraction(int(match.group(1)), int(match.group(2))) if match and int(match.group(2)) else None


def limits_problem(text: str) -> str | None:
    """Why ABC text is past this project's limits or is not ABC at all, or None when it is fine.

    Checked before music21 sees the text: its length, the meter, unit note length and key, the
    number of bars, each note's length, and characters that ABC does not use.

    >>> limits_problem("X:1\\nM:4/4\\nK:C\\nC D E F | G4 |") is None
    True
    >>> limits_problem("X:1\\nM:1000/1\\nK:C\\nC4 |")
    'meter M:1000/1 is past the limits (up to 32 beats of 1/1 to 1/32 notes)'
    >>> limits_problem("C1000000 |")
    'the note or rest C1000000 has an absurd length'
    >>> limits_problem("C999 |")
    'a note or rest of 999 quarters (C999) is longer than 64'
    >>> limits_problem("asdf;lkj }}}{{{")
    "not ABC: characters ABC does not use (';', 'j', 'k', 'l', 's')"
    >>> limits_problem("X:1\\nK:xyz\\nC4 |")[:23]
    'K:xyz is not a key: wri'
    """
    if len(text) > MAX_ABC_CHARS:
        return f"{len(text):,} characters is longer than the limit of {MAX_ABC_CHARS:,}"
    fields: dict[str, str] = {}
    body_lines = []
    for line in text.splitlines():
        match = FIELD.match(line)
        if match:
            fields.setdefault(match.group(1), match.group(2))
            if match.group(1) in "MLK":
                fields[match.group(1)] = match.group(2)
                problem = _field_problem(match.group(1), match.group(2))
                if problem:
                    return problem
        else:
            body_lines.append(line)
    body = _QUOTED.sub(" ", "\n".join(body_lines))
    for inline in re.finditer(r"\[K:([^\]\n]*)\]", body):  # a key change inside a line
        if problem := key_problem(inline.group(1)):
            return problem
    body = re.sub(r"\[[A-Za-z]:[^\]\n]*\]", " ", body)  # inline fields such as [K:G]
    unknown = sorted(set(body) - _ABC_CHARACTERS)
    if unknown:
        return f"not ABC: characters ABC does not use ({', '.join(map(repr, unknown[:8]))}{', …' if len(unknown) > 8 else ''})"
    bars = sum(1 for _ in iter_bars(body))
    if bars > MAX_BARS:
        return f"{bars:,} bars is more than the limit of {MAX_BARS:,}"
    unit = _fraction(fields.get("L", "1/4")) or Fraction(1, 4)
    for match in NOTE.finditer(body):
        number, slashes, denominator = match.groups()
        if len(number) > 6 or len(denominator) > 6:
            return f"the note or rest {match.group(0)[:20]} has an absurd length"
        length = Fraction(int(number) if number else 1) * unit * 4
        if slashes:
            length /= int(denominator) if denominator and int(denominator) else 2 ** min(len(slashes), 12)
        if length > MAX_NOTE_QUARTERS:
            return f"a note or rest of {length} quarters ({match.group(0)}) is longer than {MAX_NOTE_QUARTERS}"
    return None


def _field_problem(name: str, value: str) -> str | None:
    value = value.strip()
    if name == "K":
        return key_problem(value)
    if name == "M":
        if value in ("C", "C|", "none", ""):
            return None
        meter = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", value)
        if not meter or int(meter.group(1)) not in METER_NUMERATORS or int(meter.group(2)) not in METER_DENOMINATORS:
            return (f"meter M:{value} is past the limits (up to {METER_NUMERATORS.stop - 1} beats of "
                    f"1/{METER_DENOMINATORS[0]} to 1/{METER_DENOMINATORS[-1]} notes)")
    if name == "L":
        unit = _fraction(value)
        if unit is None or unit.numerator != 1 or unit.denominator not in UNIT_DENOMINATORS:
            return f"unit note length L:{value} is not one of 1/1 to 1/{UNIT_DENOMINATORS[-1]}"
    return None


def parse_abc(text: str) -> m21.stream.Score:
    """Parse ABC with music21 (header defaults filled in), keeping stacked chord symbols.

    music21's ABC translator keeps only the first of several chord symbols written on one
    note (`"A7""D7"A4`); here all are placed at the same onset, in order (`_place_chords`).

    Its cost grows with the square of a song's length (beaming and re-barring walk the whole
    part for every bar), so a song longer than `WHOLE_PARSE_BARS` is parsed in chunks of
    `CHUNK_BARS` bars whose measures are then laid end to end: linear in length. Call
    `limits_problem` first on text from outside: music21 can spend minutes on absurd input.
    """
    text = complete_header(text)
    lines = text.splitlines()
    head_end = next(i for i, line in enumerate(lines) if line.startswith("K:")) + 1
    head, body = lines[:head_end], lines[head_end:]
    if sum(line.count("|") for line in body) <= WHOLE_PARSE_BARS:
        return _parse_whole(text)
    chunks, chunk, bars = [], [], 0
    fields = {line[:2]: line for line in head if line[:2] in ("L:", "M:", "K:")}
    chunk_head = list(head)
    for line in body:
        if FIELD.match(line):  # a field inside the body (a key or meter change) carries on into later chunks
            fields[line[:2]] = line
        chunk.append(line)
        bars += line.count("|")
        if bars >= CHUNK_BARS:
            chunks.append([*chunk_head, *chunk])
            chunk_head = [line for line in head if line[:2] not in fields] + [fields[k] for k in ("L:", "M:") if k in fields]
            chunk_head.append(fields.get("K:", "K:C"))
            chunk, bars = [], 0
    if chunk:
        chunks.append([*chunk_head, *chunk])
    score = _parse_whole("\n".join(chunks[0]) + "\n")
    part = score.parts[0]
    number = max((m.number for m in part.getElementsByClass(m21.stream.Measure)), default=0)
    for lines_of_chunk in chunks[1:]:
        piece = _parse_whole("\n".join(lines_of_chunk) + "\n")
        for measure in list(piece.parts[0].getElementsByClass(m21.stream.Measure)) if piece.parts else []:
            for clef in measure.getElementsByClass(m21.clef.Clef):
                measure.remove(clef)
            number += 1
            measure.number = number
            part.coreAppend(measure)  # at the part's end: the bars follow on in time
        part.coreElementsChanged()
    return score


@contextlib.contextmanager
def _unbeamed() -> Iterator[None]:
    """music21's ABC translator beams every part it reads: 40% of a long song's parse, for nothing
    that scoring, the piano roll or MIDI reads. Its MusicXML writer beams a part that has no beams
    (`streamStatus.beams`), so engraved sheet music still shows them."""
    beam = m21.stream.Stream.makeBeams
    with _UNBEAMED:
        m21.stream.Stream.makeBeams = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
        try:
            yield
        finally:
            m21.stream.Stream.makeBeams = beam  # type: ignore[method-assign]


_UNBEAMED = threading.Lock()


def _translate(handler: "m21.abcFormat.ABCHandler") -> m21.stream.Score:
    with _unbeamed():
        return m21.abcFormat.translate.abcToStreamScore(handler)


def _parse_whole(text: str) -> m21.stream.Score:
    handler = m21.abcFormat.ABCHandler()
    handler.process(text)
    names = _take_chord_names(handler)
    score = _translate(handler)
    if not _place_chords(names, score):  # music21 places each note's first chord itself, at a second parse's cost
        handler = m21.abcFormat.ABCHandler()
        handler.process(text)
        notes = [t for t in handler.tokens if isinstance(t, m21.abcFormat.ABCNote)]
        for token, written in zip(notes, names):
            token.chordSymbols = [chords.music21_figure(name) for name in written[:1]]
        score = _translate(handler)
    _melody_clef(score)
    return score


def _melody_clef(score: m21.stream.Score) -> None:
    """A lead sheet's clef from its melody alone: treble, or treble an octave down for a low song.

    music21 picks a clef from every pitch, chord symbols' low voicings included, and so
    engraved many melodies in bass clef with every note on ledger lines.
    """
    if not score.parts:
        return
    part = score.parts[0]
    first = part.getElementsByClass(m21.stream.Measure).first()
    pitches = [p.midi for n in part.recurse().notes if not isinstance(n, m21.harmony.Harmony) for p in n.pitches]
    if first is None or not pitches:
        return
    clef = m21.clef.TrebleClef() if float(np.median(pitches)) >= LOW_MELODY_MIDI else m21.clef.Treble8vbClef()
    for old in list(first.getElementsByClass(m21.clef.Clef)):
        first.remove(old)
    first.insert(0, clef)


LOW_MELODY_MIDI = 57  # A3: a melody whose middle lies below this reads better an octave down


def unknown_chords(score: m21.stream.Stream) -> list[str]:
    """The chord names of a parsed song that music21 could not read (see `chords.symbol`)."""
    return [h.editorial.unknown_name for h in score.recurse().getElementsByClass(m21.harmony.NoChord)
            if "unknown_name" in h.editorial]


def _take_chord_names(handler: "m21.abcFormat.ABCHandler") -> list[list[str]]:
    """Each note token's chord names as written, taken off the token: `_place_chords` places
    them, because music21's translator keeps only the first name on a note, builds every symbol
    anew (about 5 ms each: half of a long song's parse) and cannot read many lead-sheet names."""
    names = []
    for token in handler.tokens:
        if isinstance(token, m21.abcFormat.ABCNote):
            names.append([re.sub(r'["()]', "", raw).strip() for raw in token.chordSymbols])
            token.chordSymbols = []
    return names


def _place_chords(names: list[list[str]], score: m21.stream.Score) -> bool:
    """Every chord name on its note's onset, in order; one music21 cannot read becomes a
    `NoChord` keeping the name, so that the previous chord stops there. False when the notes
    read do not line up with the notes written (music21 split an over-full bar): nothing placed."""
    if not score.parts or not any(names):
        return True
    sounding = [e for e in score.parts[0].recurse().notesAndRests if not isinstance(e, m21.harmony.Harmony)]
    if len(sounding) != len(names):
        return False
    for written, element in zip(names, sounding):
        for name in written:
            element.activeSite.insert(element.offset, chords.symbol(name))
    return True
