"""ABC text: written from music21 streams, encoded for training, decoded, and compared back.

The writer replaces the article's external `xml2abc -u -d 4` call: repeats unfolded,
`L:1/4`, chord symbols in quotes at their exact onsets, lyrics and annotations dropped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import re
import threading
import unicodedata
from pathlib import Path
from fractions import Fraction
from typing import Iterable, Iterator, Sequence

import music21 as m21
import numpy as np

from aitunes_lib import chords

DEFAULT_UNIT = Fraction(1)  # L:1/4, counted in quarter lengths
BARS_PER_LINE = 4
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
FIELD = re.compile(r"^([A-Za-z]):\s*(.*?)\s*$")  # one header line: `T: Title`, `K:C`
# The article's header, then a task marker (`<song>`, `<phrase>`, …) and the task's input
PROMPT = re.compile(r"^\s*X:\s*(\d+)\s*\$\s*T:(.*?)\$\s*C:(.*?)\$\s*(<[a-z]+>)(.*)$", re.S)


class AbcError(ValueError):
    """A stream that cannot be written as ABC, with the reason."""


# --------------------------------------------------------------------------- writing

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




def abc_header(title: str, composer: str, meter: str = "4/4", key: str = "C", x: int = 1) -> str:
    """The ABC header lines, ending with a newline."""
    return f"X:{x}\nT:{clean_text(title)}\nC:{clean_text(composer)}\nL:1/4\nM:{meter}\nK:{key}\n"


MAX_NAME_CHARS = 120


def clean_text(text: str) -> str:
    """A title or band name made safe for the article's format and a terminal.

    Control and format characters (ESC, BEL, zero-width, …) go; `$` (the training text's line
    break) becomes S, a backtick (the chord quote) an apostrophe; `<word>` markers such as
    `<end>` lose their angle brackets; white space folds to one space; at most
    `MAX_NAME_CHARS` characters.

    >>> clean_text("Blue\\x1b[31m Moon <end> `x` $5\\x07")
    "Blue[31m Moon end 'x' S5"
    """
    text = "".join(c if unicodedata.category(c)[0] != "C" or c in "\t\n" else "" for c in str(text))
    text = re.sub(r"<\s*([A-Za-z_]*)\s*>", r"\1", text.replace("$", "S").replace("`", "'"))
    return re.sub(r"\s+", " ", text).strip()[:MAX_NAME_CHARS].strip()


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


# --------------------------------------------------------------------------- the article's encoding


def seed_prompt(title: str, composer: str) -> str:
    """The article's prompt: `X: 1 $ T: <title> $ C: <composer> $ <song>`."""
    return f"X: 1{LINE_BREAK}T: {clean_text(title)}{LINE_BREAK}C: {clean_text(composer)}{LINE_BREAK}{SONG}"


def encode_body(body: str) -> str:
    """ABC body → the article's completion: chords in backticks, ` $ ` line breaks, ` $ <end>`."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    return " " + LINE_BREAK.join(lines).replace('"', "`") + LINE_BREAK + END


def decode_body(completion: str) -> str:
    """The article's completion → plain ABC body (stops at `<end>` if present)."""
    text = completion.split(END, 1)[0]
    lines = [line.strip() for line in text.replace("`", '"').split("$")]
    return "\n".join(line for line in lines if line) + "\n"


def header_prompt(title: str, composer: str) -> str:
    """The article's header in its encoding, before any task marker: `X: 1 $ T: … $ C: … $ `."""
    return f"X: 1{LINE_BREAK}T: {clean_text(title)}{LINE_BREAK}C: {clean_text(composer)}{LINE_BREAK}"


def split_prompt(prompt: str) -> tuple[str, str, str, str]:
    """(title, composer, marker, the task's input after the marker) of any task's prompt.

    >>> split_prompt("X: 1 $ T: Tea $ C: Me $ <phrase> `C`c4 |")
    ('Tea', 'Me', '<phrase>', ' `C`c4 |')
    """
    match = PROMPT.match(prompt)
    if not match:
        raise AbcError(f"not an article-format prompt: {prompt[:80]!r}")
    return match.group(2).strip(), match.group(3).strip(), match.group(4), match.group(5)


def parse_prompt(prompt: str) -> tuple[str, str]:
    """(title, composer) from an article-format prompt (any task's)."""
    return split_prompt(prompt)[:2]


def split_header(text: str) -> tuple[dict[str, str], str]:
    """(the header's fields, the body) of ABC text; a repeated field keeps its last value.

    >>> split_header("X:1\\nT: Tea\\nK:G\\nG2 B2 |")
    ({'X': '1', 'T': 'Tea', 'K': 'G'}, 'G2 B2 |')
    """
    fields: dict[str, str] = {}
    body = []
    for line in text.splitlines():
        match = FIELD.match(line)
        if match and not body:
            fields[match.group(1)] = match.group(2)
        elif line.strip():
            body.append(line)
    return fields, "\n".join(body)


def decode_seed(prompt: str, completion: str, meter: str = "4/4", key: str = "C") -> str:
    """Prompt + completion in the article's format → a full ABC tune that music21 parses."""
    title, composer = parse_prompt(prompt)
    return abc_header(title, composer, meter, key) + decode_body(completion)


def complete_header(text: str) -> str:
    """ABC with `X`, `T`, `L:1/4`, `M:4/4` and `K:C` filled in where the header lacks them."""
    lines = [line for line in text.strip().splitlines()]
    is_field = [bool(FIELD.match(line)) for line in lines]
    body_start = is_field.index(False) if False in is_field else len(lines)
    head, body = lines[:body_start], lines[body_start:]
    present = {line[:2] for line in head}
    keys = [line for line in head if line.startswith("K:")] or ["K:C"]
    head = [line for line in head if not line.startswith(("K:", "X:"))]
    x = next((line for line in lines[:body_start] if line.startswith("X:")), "X:1")
    defaults = [f for f in ("T:Untitled", "L:1/4", "M:4/4") if f[:2] not in present]
    return "\n".join([x, *head, *defaults, keys[-1], *body]) + "\n"  # K: closes the header


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

    Checked before music21 sees the text: its length, the meter and unit note length, the
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
    """
    if len(text) > MAX_ABC_CHARS:
        return f"{len(text):,} characters is longer than the limit of {MAX_ABC_CHARS:,}"
    fields: dict[str, str] = {}
    body_lines = []
    for line in text.splitlines():
        match = FIELD.match(line)
        if match:
            fields.setdefault(match.group(1), match.group(2))
            if match.group(1) in "ML":
                fields[match.group(1)] = match.group(2)
                problem = _field_problem(match.group(1), match.group(2))
                if problem:
                    return problem
        else:
            body_lines.append(line)
    body = _QUOTED.sub(" ", "\n".join(body_lines))
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


# --------------------------------------------------------------------------- comparing


@dataclasses.dataclass(frozen=True)
class Signature:
    """What must survive a conversion: bar boundaries, notes and chord symbols, on one timeline."""

    bars: tuple[tuple[Fraction, Fraction], ...]  # (onset, length)
    notes: tuple[tuple[Fraction, str, Fraction], ...]  # (onset, pitch with octave, length)
    chords: tuple[tuple[Fraction, str], ...]  # (onset, music21 figure)


def timeline(bars: m21.stream.Stream | Sequence[m21.stream.Measure]) -> Iterator[tuple[Fraction, m21.base.Music21Object]]:
    """(onset, element) for every note, rest and chord symbol of one voice, in quarter notes,
    bars laid end to end by their actual lengths (a pickup moves everything after it, as it
    sounds); in order within each bar."""
    onset = Fraction(0)
    for measure in measures(bars):
        elements = sorted(measure.recurse().notesAndRests, key=lambda e: e.getOffsetInHierarchy(measure))
        for element in elements:
            yield onset + Fraction(element.getOffsetInHierarchy(measure)), element
        onset += Fraction(measure.duration.quarterLength)


def song_length(bars: m21.stream.Stream | Sequence[m21.stream.Measure]) -> Fraction:
    """The total length in quarter notes: the sum of the bars' actual lengths."""
    return sum((Fraction(m.duration.quarterLength) for m in measures(bars)), Fraction(0))


def signature(bars: m21.stream.Stream | Sequence[m21.stream.Measure]) -> Signature:
    """The musical content of one voice, ties merged, on one timeline in quarter lengths."""
    bar_list = measures(bars)
    onsets, notes, chords = [], [], []
    at_bar = Fraction(0)
    for measure in bar_list:
        onsets.append((at_bar, Fraction(measure.duration.quarterLength)))
        at_bar += Fraction(measure.duration.quarterLength)
    open_ties: dict[str, int] = {}  # pitch -> index in notes of a note whose tie is still open
    for at, element in timeline(bar_list):
        if isinstance(element, m21.harmony.Harmony):
            chords.append((at, "N.C." if isinstance(element, m21.harmony.NoChord) else element.figure))
            continue
        if not element.isNote:
            continue
        name, quarters = element.pitch.nameWithOctave, Fraction(element.duration.quarterLength)
        tie = element.tie.type if element.tie is not None else None
        k = open_ties.pop(name, None)
        if k is not None and notes[k][0] + notes[k][2] == at:  # a tie is marked on its first note
            notes[k] = (notes[k][0], name, notes[k][2] + quarters)
        else:
            notes.append((at, name, quarters))
            k = len(notes) - 1
        if tie in ("start", "continue"):
            open_ties[name] = k
    return Signature(tuple(onsets), tuple(sorted(notes)), tuple(sorted(chords)))


def differences(expected: Signature, actual: Signature, limit: int = 5) -> list[str]:
    """Human-readable differences between two signatures; empty when they agree."""
    found: list[str] = []
    for name in ("bars", "notes", "chords"):
        a, b = getattr(expected, name), getattr(actual, name)
        if a == b:
            continue
        if len(a) != len(b):
            found.append(f"{name}: {len(a)} expected, {len(b)} found")
        for x, y in zip(a, b):
            if x != y:
                found.append(f"{name}: expected {_show(x)}, found {_show(y)}")
                break
    return found[:limit]


def _show(item: Iterable) -> str:
    return "(" + ", ".join(str(v) for v in item) + ")"


@dataclasses.dataclass(frozen=True)
class Abc2MidiResult:
    """What Debian's `abc2midi` said of a tune, sorted into what counts and what does not."""

    errors: tuple[str, ...]  # errors other than unknown chord names
    unknown_chords: tuple[str, ...]  # abc2midi knows few jazz chord names; these do not count
    short_or_long_bars: tuple[int, ...]  # written bar indices (0 = first) with the wrong length
    warnings: tuple[str, ...]  # any other warning


def abc2midi_check(text: str, timeout: float = 30.0) -> Abc2MidiResult:
    """Run `abc2midi` on an ABC tune (written to a temporary file) and sort its messages."""
    import shutil
    import subprocess
    import tempfile

    program = shutil.which("abc2midi")
    if program is None:
        raise FileNotFoundError("abc2midi is not installed: `apt-get install abcmidi` (Debian/Ubuntu)")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "tune.abc"
        source.write_text(text, encoding="utf-8")
        run = subprocess.run(
            [program, str(source), "-o", str(Path(tmp) / "tune.mid")],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    errors, chords, bars, warnings = [], [], [], []
    for line in (run.stdout + run.stderr).splitlines():
        if line.startswith("Error"):
            match = re.search(r'Unrecognized chord name "([^"]*)"', line)
            (chords if match else errors).append(match.group(1) if match else line)
        elif line.startswith("Warning"):
            match = re.search(r"Bar (\d+) has [\d/]+ time units", line)
            (bars if match else warnings).append(int(match.group(1)) if match else line)
    return Abc2MidiResult(tuple(errors), tuple(chords), tuple(bars), tuple(warnings))


def iter_bars(body: str) -> Iterator[str]:
    """The bars of an ABC body, without the bar lines."""
    for line in body.splitlines():
        for bar in line.split("|"):
            if bar.strip():
                yield bar.strip()


# --------------------------------------------------------------------------- reading the article's text, event by event


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


def read_bars(body: str) -> list[tuple[Fraction, list[tuple[Fraction, str]], bool]]:
    """Every bar of a body in the article's text: (its length in quarters, its chord symbols as
    (onset, name), whether a line break follows). A plain reading from the text, for reports and
    charts; `x` (invisible) rests count like `z`, grace notes take no time.

    >>> read_bars(" `C`c2 (3c/d/e/ `G7`d | z4 | $ <end>")
    [(Fraction(4, 1), [(Fraction(0, 1), 'C'), (Fraction(3, 1), 'G7')], False), (Fraction(4, 1), [], True)]
    """
    bars: list[tuple[Fraction, list[tuple[Fraction, str]], bool]] = []
    current, chords, tuplet_left, ratio, grace = Fraction(0), [], 0, Fraction(1), False
    for piece in re.findall(EVENT, re.split(r"<end>|<song>", body, maxsplit=1)[0]):
        bare = piece.strip()
        kind, value = classify(" z" + bare[1:] if bare[:1] == "x" else piece)
        if kind == NOTE_KIND and not grace:
            current += value * (ratio if tuplet_left else 1)  # type: ignore[operator]
            tuplet_left = max(0, tuplet_left - 1)
        elif kind == TUPLET_KIND:
            p, q, r = value  # type: ignore[misc]
            ratio, tuplet_left = Fraction(q, p), r
        elif kind == CHORD_KIND and not grace:
            chords.append((current, bare[1:-1]))
        elif kind == BARLINE:
            bars.append((current, chords, False))
            current, chords, tuplet_left = Fraction(0), [], 0
        elif kind == LINEBREAK and bars:
            bars[-1] = (*bars[-1][:2], True)
        elif kind in (GRACE_OPEN, GRACE_CLOSE):
            grace = kind == GRACE_OPEN
    if current or chords:
        bars.append((current, chords, False))
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


def chord_pitch_classes(symbol: "m21.harmony.Harmony | str") -> frozenset[int] | None:
    """The pitch classes of a chord symbol, as music21 reads it: a `Harmony`, or a name as written
    in ABC (`"Cm7"`). An empty set for N.C.; None for a name music21 does not know.

    The one definition that the metrics, the renderer and the chord tasks share.
    >>> sorted(chord_pitch_classes("G7")), chord_pitch_classes("N.C."), chord_pitch_classes("Hm7b")
    ([2, 5, 7, 11], frozenset(), None)
    """
    if isinstance(symbol, str):
        return _named_chord_pitch_classes(symbol)
    if isinstance(symbol, m21.harmony.NoChord):
        return None if "unknown_name" in symbol.editorial else frozenset()
    return frozenset(p.pitchClass for p in symbol.pitches) or None


@functools.lru_cache(maxsize=4096)
def _named_chord_pitch_classes(name: str) -> frozenset[int] | None:
    try:
        found = list(parse_abc(f'"{name}"z4|').recurse().getElementsByClass(m21.harmony.Harmony))
    except Exception:  # noqa: BLE001 - unreadable means unknown
        return None
    return chord_pitch_classes(found[0]) if len(found) == 1 else None
