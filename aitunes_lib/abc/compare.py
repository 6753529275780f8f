"""Comparing a song before and after a conversion: its timeline, its signature (bars, notes and
chord symbols), their differences, and what Debian's `abc2midi` says of the ABC."""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import music21 as m21

from aitunes_lib.abc.writer import measures


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
