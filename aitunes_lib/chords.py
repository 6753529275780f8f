"""Chord symbols spelled as lead sheets spell them, and read back the way music21 reads them.

music21 writes a MusicXML harmony's degrees in its own long form (`G7 add b9`, `F#ø7`,
`Csus add 7 add 9`, `Dbo7` for C#dim7) and misreads a few of them: MusicXML counts an added
degree from a dominant chord, so `suspended-fourth` plus `add 7` is C7sus4 (B flat), but music21
sounds a B. Here a symbol is spelled from its kind, its degrees and its bass (`G7b9`, `F#m7b5`,
`C9sus4`, `C#dim7`), and `music21_figure` turns such a name back into a figure music21 reads
with the right pitches. The two are inverse: `name(symbol(x)) == x` for every spelling.
"""

from __future__ import annotations

import copy
import functools
import re

import music21 as m21

NO_CHORD = "N.C."
NO_CHORD_NAMES = ("NC", "N.C.", "No Chord", "None")

# music21's chord kind (its names for the MusicXML kinds, plus the MusicXML kinds it does not
# know, which it keeps as they are) → the lead-sheet suffix
SUFFIX = {
    "": "",  # an empty <kind/>: read as the plain triad
    "major": "",
    "minor": "m",
    "augmented": "+",
    "diminished": "dim",
    "dominant-seventh": "7",
    "major-seventh": "maj7",
    "minor-seventh": "m7",
    "diminished-seventh": "dim7",
    "augmented-seventh": "7#5",
    "half-diminished-seventh": "m7b5",
    "minor-major-seventh": "mMaj7",
    "minor-major": "mMaj7",  # not a MusicXML kind, but in OpenEWLD (text "mMaj7")
    "major-sixth": "6",
    "minor-sixth": "m6",
    "maj69": "69",  # not a MusicXML kind, but in OpenEWLD (text "69")
    "dominant-ninth": "9",
    "major-ninth": "maj9",
    "minor-ninth": "m9",
    "augmented-ninth": "9#5",  # MusicXML's name; music21 knows it as augmented-dominant-ninth
    "augmented-dominant-ninth": "9#5",
    "dominant-11th": "11",
    "major-11th": "maj11",
    "minor-11th": "m11",
    "dominant-13th": "13",
    "major-13th": "maj13",
    "minor-13th": "m13",
    "suspended-second": "sus2",
    "suspended-fourth": "sus4",
    "suspended-fourth-seventh": "7sus4",
    "power": "5",
}

# suffixes music21 cannot read, or reads with other pitches → the figure it reads correctly
_TO_MUSIC21 = {
    "9sus4": "7sus4 add 9",
    "69": "6 add 9",
    "m69": "m6 add 9",
    "mMaj7": "mM7",
    "maj9": "M9",
    "maj11": "M11",
    "maj13": "M13",
    "5": "power",
    "9#5": "9 alter #5",
}
# the highest degree each base already holds: an altered degree up to it is an `alter`, above it an `add`
_TOP_DEGREE = {"9": 9, "m9": 9, "maj9": 9, "11": 11, "m11": 11, "maj11": 11, "13": 13, "m13": 13, "maj13": 13}
_DEGREE = re.compile(r"(add|no|b|#)(\d+)")
# a kind plus these degrees has a shorter name of its own: (kind, {(type, degree, semitones)}) → suffix
_MERGED = (
    ("suspended-fourth", {("add", 7, 0), ("add", 9, 0)}, "9sus4"),
    ("suspended-fourth", {("add", 7, 0)}, "7sus4"),
    ("suspended-fourth-seventh", {("add", 9, 0)}, "9sus4"),
    ("minor-seventh", {("alter", 5, -1)}, "m7b5"),
    ("major-sixth", {("add", 9, 0)}, "69"),
    ("minor-sixth", {("add", 9, 0)}, "m69"),
    ("major", {("alter", 5, 1)}, "+"),
    ("dominant-ninth", {("alter", 5, 1)}, "9#5"),
)
_BASES = set(SUFFIX.values()) | {merged for _, _, merged in _MERGED}
_NAME = re.compile(r"([A-G](?:#{1,2}|b{1,2})?)(.*?)(?:/([A-G](?:#{1,2}|b{1,2})?))?")
_SAFE_TEXT = re.compile(r"[A-Za-z0-9#+\-()]*")
_MINOR_MAJOR = re.compile(r"^m(?:maj|Maj|MAJ|ma|M|Δ|\^)(?=\d)")  # `C-maj7`, `C-M7`, `C-Δ7`: the minor-major seventh


def note_name(pitch: m21.pitch.Pitch) -> str:
    """A root or bass as a lead sheet writes it: `Bb`, `F#`.

    >>> note_name(m21.pitch.Pitch("B-")), note_name(m21.pitch.Pitch("E--"))
    ('Bb', 'Ebb')
    """
    return pitch.name.replace("-", "b")


def _degrees(symbol: m21.harmony.ChordSymbol) -> set[tuple[str, int, int]]:
    return {(m.modType, int(m.degree), int(m.interval.semitones) if m.interval is not None else 0)
            for m in symbol.chordStepModifications}


def _degree_text(kind: str, degree: tuple[str, int, int]) -> str:
    mod, number, semitones = degree
    if mod == "subtract":
        return f"no{number}"
    if semitones:
        return ("b" if semitones < 0 else "#") * abs(semitones) + str(number)
    return f"add{number}" if mod == "add" else ""


def suffix(symbol: m21.harmony.ChordSymbol) -> str:
    """The lead-sheet suffix of a chord symbol: its kind, then its degrees from low to high.

    >>> suffix(m21.harmony.ChordSymbol("G7 add b9")), suffix(m21.harmony.ChordSymbol("Dø7"))
    ('7b9', 'm7b5')
    """
    kind, degrees = symbol.chordKind or "", _degrees(symbol)
    base = SUFFIX.get(kind)
    if base is None:  # a kind nobody listed: the source's own text, where it is safe to write
        text = symbol.chordKindStr or ""
        base = text if _SAFE_TEXT.fullmatch(text) else kind
    for merged_kind, merged, name in _MERGED:
        if kind == merged_kind and merged <= degrees:
            base, degrees = name, degrees - merged
            break
    return base + "".join(_degree_text(kind, d) for d in sorted(degrees, key=lambda d: (d[1], d[0])))


def name(symbol: m21.harmony.Harmony) -> str:
    """A chord symbol as a lead sheet writes it: root, suffix, and `/bass` when it differs.

    A name that music21 could not read when parsing is kept as written.
    >>> name(m21.harmony.ChordSymbol("B-7 add b9")), name(m21.harmony.ChordSymbol("C#o7/E"))
    ('Bb7b9', 'C#dim7/E')
    >>> name(m21.harmony.ChordSymbol(music21_figure("Gm69/Bb")))
    'Gm69/Bb'
    """
    if isinstance(symbol, m21.harmony.NoChord):
        return symbol.editorial.get("unknown_name", NO_CHORD)
    root, bass = symbol.root(), symbol.bass()
    text = note_name(root) + suffix(symbol)
    if bass is not None and bass.name != root.name:
        text += "/" + note_name(bass)
    return text


def music21_figure(text: str) -> str:
    """The figure music21 reads, with the right pitches, for a lead-sheet name (as written in ABC).

    >>> music21_figure("C9sus4"), music21_figure("Bb7b9/F"), music21_figure("Ebm69")
    ('C7sus4 add 9', 'B-7/F add b9', 'E-m6 add 9')

    Jazz writes minor as a minus after the root (`C-7`, `Bb-`, `C-maj7`); music21 would read
    that minus as a flat (C-flat 7), so it becomes `m` first.
    >>> music21_figure("C-7"), music21_figure("Bb-"), music21_figure("C-maj7"), music21_figure("F#-7b5")
    ('Cm7', 'B-m', 'CmM7', 'F#m7 alter b5')
    """
    text = re.sub(r'["()]', "", text).strip()
    if text in NO_CHORD_NAMES:
        return text
    found = _NAME.fullmatch(text)
    if not found:
        return m21.common.cleanedFlatNotation(text)
    root, rest, bass = found.groups()
    if rest.startswith("-"):  # the jazz minus: minor
        rest = _MINOR_MAJOR.sub("mMaj", "m" + rest[1:])
    base, _, degrees = _suffix_figure(rest).partition(" ")
    figure = _flat(root) + base + ("/" + _flat(bass) if bass else "")  # music21's order: the bass, then the degrees
    return figure + (" " + degrees if degrees else "")


def _suffix_figure(text: str) -> str:
    """A lead-sheet suffix → music21's: the base by name, each altered degree spelt out
    (music21 reads `G7b9` right but `G13b9` as a plain 13th)."""
    degrees = _DEGREE.findall(text)
    base = text[: len(text) - sum(len(a) + len(b) for a, b in degrees)] if degrees else text
    if "".join(a + b for a, b in degrees) != text[len(base):] or base not in _BASES:
        return _TO_MUSIC21.get(text, text)  # not a suffix this module writes: as music21 reads it
    words = [_TO_MUSIC21.get(base, base)]
    for mark, number in degrees:
        degree = int(number)
        if mark == "add":
            words.append(f"add {degree}")
        elif mark == "no":
            words.append(f"omit {degree}")
        else:
            held = degree <= 5 or degree <= _TOP_DEGREE.get(base, 7)
            words.append(f"{'alter' if held else 'add'} {mark}{degree}")
    return " ".join(words)


def _flat(note: str) -> str:
    return note[0] + note[1:].replace("b", "-")


@functools.lru_cache(maxsize=4096)
def _template(figure: str) -> m21.harmony.ChordSymbol | None:
    """music21's symbol of a figure, built once: building one costs about 5 ms (music21 derives
    its pitches through a scale network), copying it a tenth of that."""
    try:
        return m21.harmony.ChordSymbol(figure)
    except (ValueError, m21.harmony.HarmonyException, m21.pitch.PitchException):
        return None


def readable(figure: str) -> bool:
    """Whether music21 reads a chord figure."""
    return figure in NO_CHORD_NAMES or _template(figure) is not None


def symbol(text: str) -> m21.harmony.Harmony:
    """The music21 symbol of a lead-sheet name (a fresh object each call). A name music21 cannot
    read becomes a `NoChord` that keeps the name (shown as written; sounding as no known chord,
    not as the last one)."""
    figure = music21_figure(text)
    if figure in NO_CHORD_NAMES:
        return m21.harmony.NoChord()
    template = _template(figure)
    if template is not None:
        return copy.deepcopy(template)
    unknown = m21.harmony.NoChord(kindStr=text)
    unknown.editorial.unknown_name = text
    return unknown


def respell(stream: m21.stream.Stream) -> int:
    """Replace every chord symbol of a stream with the one its lead-sheet name reads back as,
    so that what is written, sounded and scored agree (music21's reading of some MusicXML
    degrees sounds other pitches than the name). Returns how many symbols changed pitches."""
    changed = 0
    for old in list(stream.recurse().getElementsByClass(m21.harmony.ChordSymbol)):
        if isinstance(old, m21.harmony.NoChord):
            continue
        new = symbol(name(old))
        if isinstance(new, m21.harmony.NoChord):
            continue  # unreadable either way: keep the source's symbol
        if {p.pitchClass for p in new.pitches} != {p.pitchClass for p in old.pitches}:
            changed += 1
        site = old.activeSite
        new.offset = old.offset
        site.replace(old, new)
    return changed
