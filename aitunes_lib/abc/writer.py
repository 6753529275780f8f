"""The writer from music21 to ABC: a part's bars, chord symbols at their exact onsets, accidentals
as every reader reads them, and the article's transposition to C.

It replaces the article's external `xml2abc -u -d 4` call: repeats unfolded, `L:1/4`, chord
symbols in quotes at their exact onsets, lyrics and annotations dropped.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Sequence

import music21 as m21

from aitunes_lib import chords
from aitunes_lib.abc.grammar import AbcError
from aitunes_lib.abc.headers import abc_header

DEFAULT_UNIT = Fraction(1)  # L:1/4, counted in quarter lengths
BARS_PER_LINE = 4

# The article's table: semitones that take a major key's tonic to C, keeping its register
# choice (up to a fourth, down to a tritone). Keyed by the tonic's pitch class.
SEMITONES_TO_C = {0: 0, 1: -1, 2: -2, 3: -3, 4: -4, 5: -5, 6: -6, 7: 5, 8: 4, 9: 3, 10: 2, 11: 1}


def transposition(key: m21.key.Key) -> m21.interval.Interval:
    """The interval that takes `key` to C major (or its relative minor to A minor), per the article's table.

    >>> import music21
    >>> str(transposition(music21.key.Key("G")).directedName), str(transposition(music21.key.Key("F#")).directedName)
    ('P4', 'A-4')
    """
    major_tonic = key.tonic if key.mode != "minor" else key.relative.tonic
    start = m21.pitch.Pitch(major_tonic.name + "4")
    semitones = SEMITONES_TO_C[major_tonic.pitchClass]
    end = m21.pitch.Pitch("C4")
    end.octave = 4 + (start.ps + semitones - 60) // 12
    assert end.ps == start.ps + semitones, (key, semitones)
    return m21.interval.Interval(noteStart=start, noteEnd=end)


def duration_text(quarters: Fraction) -> str:
    """A note length relative to `L:1/4`.

    >>> [duration_text(Fraction(q)) for q in ("1", "2", "1/2", "3/2", "1/4", "3/4")]
    ['', '2', '/', '3/2', '/4', '3/4']
    """
    q = Fraction(quarters) / DEFAULT_UNIT
    if q <= 0:
        raise AbcError(f"non-positive duration {q}")
    if q.denominator == 1:
        return "" if q == 1 else str(q.numerator)
    if q.numerator == 1:
        return "/" if q.denominator == 2 else f"/{q.denominator}"
    return f"{q.numerator}/{q.denominator}"


_ACCIDENTAL_TEXT = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}


def pitch_text(step: str, octave: int, accidental: int | None) -> str:
    """ABC for one pitch; `accidental` None means "write none".

    >>> pitch_text("C", 4, None), pitch_text("C", 5, 1), pitch_text("B", 3, -1), pitch_text("E", 6, 0)
    ('C', '^c', '_B,', "=e'")
    """
    letter = step.upper() if octave <= 4 else step.lower()
    marks = "," * (4 - octave) if octave < 4 else "'" * (octave - 5) if octave > 5 else ""
    return (_ACCIDENTAL_TEXT[accidental] if accidental is not None else "") + letter + marks


def chord_symbol_text(symbol: m21.harmony.Harmony) -> str:
    """A chord symbol as a lead sheet writes it (`Bb7b9`, `F#m7b5`; see `aitunes_lib.chords`)."""
    figure = chords.name(symbol)
    if '"' in figure or "`" in figure or "$" in figure:
        raise AbcError(f"chord symbol {figure!r} holds a character reserved by the encoding")
    return figure


def _abc_name(name: str) -> str:
    # music21's ABC reader turns one `b` after the letter into a flat but reads `Bbb` as
    # `B-b`, so a double flat keeps music21's own spelling (`B--`).
    return name.replace("-", "b") if name.count("-") == 1 else name


@dataclasses.dataclass
class _Event:
    """One written note or rest: a piece of a source note, cut where a chord symbol changes."""

    offset: Fraction  # in the bar
    quarters: Fraction  # sounding length
    note: m21.note.GeneralNote | None  # None: a rest that fills a gap in the source timeline
    chords: list[str]
    tie: bool
    tuplet: tuple[int, int] | None  # (actual, normal)
    tuplet_span: Fraction | None  # sounding length of a complete tuplet group
    graces: list[m21.note.Note] = dataclasses.field(default_factory=list)  # written before it


class _BarAccidentals:
    """Which accidental a reader infers for a note, tracked so that every reader agrees.

    ABC carries an accidental to the end of the bar (abc2midi: same pitch and octave;
    ABC 2.2's default: same letter in any octave), but music21's ABC reader carries none.
    A note gets an explicit accidental unless all three readings already give it.
    """

    def __init__(self, key_alters: dict[str, int]):
        self.key = key_alters
        self.by_octave: dict[tuple[str, int], int] = {}
        self.by_letter: dict[str, int] = {}

    def text(self, pitch: m21.pitch.Pitch) -> str:
        step, octave = pitch.step, pitch.octave if pitch.octave is not None else 4
        alter = int(pitch.alter)
        if alter != pitch.alter or abs(alter) > 2:
            raise AbcError(f"cannot write pitch {pitch.nameWithOctave} in ABC")
        key = self.key.get(step, 0)
        readings = (key, self.by_octave.get((step, octave), key), self.by_letter.get(step, key))
        explicit = any(r != alter for r in readings)
        self.by_octave[(step, octave)] = alter
        self.by_letter[step] = alter
        return pitch_text(step, octave, alter if explicit else None)


def _key_alters(key: m21.key.KeySignature | None) -> dict[str, int]:
    if key is None:
        return {}
    return {p.step: int(p.alter) for p in key.alteredPitches}


def key_text(key: m21.key.KeySignature | None) -> str:
    """The `K:` value for a music21 key or key signature (`C`, `Am`, `Bb`, `F#m`)."""
    if key is None:
        return "C"
    if not isinstance(key, m21.key.Key):
        key = key.asKey("major")
    name = _abc_name(key.tonic.name)
    return name + ("m" if key.mode == "minor" else "")


def _harmonies(measure: m21.stream.Measure) -> list[tuple[Fraction, m21.harmony.Harmony]]:
    found = [
        (Fraction(h.getOffsetInHierarchy(measure)), h)
        for h in measure.recurse().getElementsByClass(m21.harmony.Harmony)
    ]
    return sorted(found, key=lambda item: item[0])


def _sounding(measure: m21.stream.Measure) -> list[m21.note.GeneralNote]:
    found = []
    for element in measure.recurse().notesAndRests:
        if isinstance(element, m21.harmony.Harmony):
            continue
        if isinstance(element, m21.chord.Chord):
            raise AbcError(f"bar {measure.number}: chords in the melody are not supported (one voice expected)")
        found.append(element)
    return sorted(found, key=lambda n: Fraction(n.getOffsetInHierarchy(measure)))


def _bar_events(measure: m21.stream.Measure, carried: list[str]) -> tuple[list[_Event], list[str]]:
    """Cut the bar's notes and rests where chord symbols change.

    Returns the events and the chord symbols that fall exactly on the bar's end, which
    belong to the next bar's first onset (the same instant on the song's timeline)."""
    length = Fraction(measure.duration.quarterLength)
    chords = _harmonies(measure)
    pending = [(Fraction(0), text) for text in carried]
    pending += [(offset, chord_symbol_text(h)) for offset, h in chords]
    events: list[_Event] = []
    graces: list[m21.note.GeneralNote] = []
    cursor = Fraction(0)

    def take_chords(start: Fraction, end: Fraction) -> list[str]:
        nonlocal pending
        taken = [text for offset, text in pending if start <= offset < end]
        pending = [(offset, text) for offset, text in pending if not (start <= offset < end)]
        return taken

    def add(start: Fraction, quarters: Fraction, note, tie_out: bool, tuplet, span, graces=()) -> None:
        # cut at every chord onset strictly inside the note; the pieces of a note are tied
        cuts = sorted({o for o, _ in pending if start < o < start + quarters})
        bounds = [start, *cuts, start + quarters]
        is_note = note is not None and note.isNote
        for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
            last = i == len(bounds) - 2
            tie = tie_out if last else is_note
            events.append(_Event(a, b - a, note, take_chords(a, b), tie, tuplet, span, list(graces) if i == 0 else []))

    for element in _sounding(measure):
        if element.duration.isGrace:
            graces.append(element)
            continue
        start = Fraction(element.getOffsetInHierarchy(measure))
        if start > cursor:  # a silent gap in the source timeline: keep its length
            add(cursor, start - cursor, None, False, None, None)
        elif start < cursor:
            raise AbcError(f"bar {measure.number}: overlapping notes (more than one voice)")
        quarters = Fraction(element.duration.quarterLength)
        if quarters == 0:
            raise AbcError(f"bar {measure.number}: a zero-length note that is not a grace note")
        tuplet, span = None, None
        if element.duration.tuplets:
            if len(element.duration.tuplets) > 1:
                raise AbcError(f"bar {measure.number}: nested tuplets are not supported")
            t = element.duration.tuplets[0]
            tuplet = (t.numberNotesActual, t.numberNotesNormal)
            span = Fraction(t.totalTupletLength())
        tie = bool(element.isNote and element.tie is not None and element.tie.type in ("start", "continue"))
        add(start, quarters, element, tie, tuplet, span, graces)
        graces = []
        cursor = start + quarters
    if cursor < length:
        add(cursor, length - cursor, None, False, None, None)
    if graces:
        raise AbcError(f"bar {measure.number}: grace notes at the end of a bar")
    leftover = [text for offset, text in pending if offset >= max(cursor, length)]
    lost = [text for offset, text in pending if offset < max(cursor, length)]
    if lost:
        raise AbcError(f"bar {measure.number}: chord symbols {lost} could not be placed")
    return events, leftover


def _bar_text(events: list[_Event], accidentals: _BarAccidentals) -> str:
    words: list[str] = []
    group_left = Fraction(0)  # sounding time left in the open tuplet group
    for i, event in enumerate(events):
        prefix = ""
        if event.tuplet and group_left <= 0:
            group_left = event.tuplet_span or Fraction(0)
            count, used = 0, Fraction(0)
            for later in events[i:]:
                if later.tuplet != event.tuplet or used >= group_left:
                    break
                used += later.quarters
                count += 1
            actual, normal = event.tuplet
            prefix = f"({actual}" if (actual, normal) == (3, 2) and count == 3 else f"({actual}:{normal}:{count}"
        elif not event.tuplet:
            group_left = Fraction(0)
        written = event.quarters
        if event.tuplet:
            actual, normal = event.tuplet
            written = event.quarters * actual / normal
            group_left -= event.quarters
        chords = "".join(f'"{c}"' for c in event.chords)
        graces = "{" + "".join(_grace_text(g, accidentals) for g in event.graces) + "}" if event.graces else ""
        if event.note is not None and event.note.isNote:
            pitch = accidentals.text(event.note.pitch)
        else:
            pitch = "z"
        words.append(prefix + chords + graces + pitch + duration_text(written) + ("-" if event.tie else ""))
    return " ".join(words)


def _grace_text(note: m21.note.GeneralNote, accidentals: _BarAccidentals) -> str:
    if not note.isNote:
        raise AbcError("a grace rest cannot be written in ABC")
    return accidentals.text(note.pitch)


def part_body(
    bars: m21.stream.Stream | Sequence[m21.stream.Measure],
    bars_per_line: int = BARS_PER_LINE,
    key: m21.key.KeySignature | None = None,
) -> str:
    """The ABC body of one voice: bars, chord symbols, a line break every few bars.

    `bars` is a part with measures, or its measures in playing order (see `aitunes_lib.repeats`).
    Accidentals are written against `key` (default: the first key signature found).
    """
    bar_list = measures(bars)
    if not bar_list:
        raise AbcError("the part has no bars")
    if key is None:
        for measure in bar_list:
            found = list(measure.recurse().getElementsByClass(m21.key.KeySignature))
            if found:
                key = found[0]
                break
    key_alters = _key_alters(key)
    bars: list[list[_Event]] = []
    carried: list[str] = []
    for measure in bar_list:
        events, carried = _bar_events(measure, carried)
        bars.append(events)
    if carried:
        raise AbcError(f"chord symbols {carried} fall after the last note")
    _drop_dangling_ties([event for events in bars for event in events])
    lines, line = [], []
    for events in bars:
        text = _bar_text(events, _BarAccidentals(key_alters))
        line.append(f"{text} |" if text else "|")
        if len(line) == bars_per_line:
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def _drop_dangling_ties(events: list[_Event]) -> None:
    """A tie joins a note to the next one only if that is the same pitch; lead sheets also
    hold ties into a rest, another pitch or the end, which no reader can follow."""
    for event, following in zip(events, events[1:] + [None]):
        if event.tie and not (
            following is not None
            and following.note is not None
            and following.note.isNote
            and following.note.pitch.nameWithOctave == event.note.pitch.nameWithOctave
        ):
            event.tie = False


def measures(bars: m21.stream.Stream | Sequence[m21.stream.Measure]) -> list[m21.stream.Measure]:
    """The bars of a score's first part, of a part, or of a list of bars."""
    if isinstance(bars, m21.stream.Score):
        bars = bars.parts[0]
    if isinstance(bars, m21.stream.Stream):
        measures = list(bars.getElementsByClass(m21.stream.Measure))
        # music21's ABC reader makes no Measure for a one-bar tune: the part is the bar
        return measures or ([bars] if bars.recurse().notesAndRests else [])
    return list(bars)


def score_to_abc(
    score: m21.stream.Score,
    title: str | None = None,
    composer: str | None = None,
    bars_per_line: int = BARS_PER_LINE,
) -> str:
    """A whole ABC tune for the first part of a score: header, then body. Repeats are not
    expanded here (see `aitunes_lib.prep`)."""
    part = score.parts[0] if isinstance(score, m21.stream.Score) else score
    md = score.metadata
    title = title if title is not None else (md.bestTitle if md and md.bestTitle else "Untitled")
    composer = composer if composer is not None else (md.composer if md and md.composer else "Unknown")
    meters = list(part.recurse().getElementsByClass(m21.meter.TimeSignature))
    keys = list(part.recurse().getElementsByClass(m21.key.KeySignature))
    meter = meters[0].ratioString if meters else "4/4"
    return abc_header(title, composer, meter, key_text(keys[-1] if keys else None)) + part_body(part, bars_per_line)
