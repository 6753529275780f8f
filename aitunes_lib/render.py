"""See a song: MIDI with chord accompaniment, a piano roll, engraved sheet music, and exports."""

from __future__ import annotations

import dataclasses
import html
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from aitunes_lib import abc, chords, config, files
from aitunes_lib.song import Song

if TYPE_CHECKING:
    import matplotlib.figure
    import music21

MELODY_VELOCITY, CHORD_VELOCITY = 64, 48  # the article's: accompaniment softer than the melody
MELODY_CHANNEL, CHORD_CHANNEL = 0, 1
TICKS_PER_QUARTER = 480


class RenderError(ValueError):
    """A song that cannot be shown or played, with the reason."""


def to_score(song: "Song | str | music21.stream.Score") -> "music21.stream.Score":
    """A music21 score from a `Song`, plain ABC, or ABC in the article's format (a prompt and
    completion joined, or a completion alone); `L:1/4`, `M:4/4`, `K:C` filled in if missing."""
    import music21 as m21

    if isinstance(song, m21.stream.Score):
        return song
    if isinstance(song, Song):
        return song.score
    return abc.parse_abc(plain_abc(song))


def plain_abc(text: str) -> str:
    """ABC text from plain ABC or the article's format (a prompt and completion joined, or a
    completion alone); a missing header is filled in (`L:1/4`, `M:4/4`, `K:C`)."""
    text = text.strip()
    if "<song>" in text:  # "X: 1 $ T: … $ C: … $ <song>" then the completion
        prompt, completion = text.split("<song>", 1)
        return abc.decode_seed(prompt + "<song>", completion)
    if "`" in text or " $ " in text or text.endswith("<end>"):
        return abc.complete_header(abc.decode_body(text))
    return abc.complete_header(text)


@dataclasses.dataclass(frozen=True)
class _Chord:
    start: Fraction
    end: Fraction
    figure: str
    root: int  # pitch class
    bass: int
    tones: tuple[int, ...]  # pitch classes


@dataclasses.dataclass(frozen=True)
class Layout:
    """What sounds when: melody notes (ties merged), chord symbols held to the next one, bars."""

    notes: tuple[tuple[Fraction, Fraction, int], ...]  # (onset, length, MIDI pitch)
    chords: tuple[_Chord, ...]
    bars: tuple[Fraction, ...]  # onsets
    length: Fraction


def layout(song: "Song | str | music21.stream.Score") -> Layout:
    """The song on one timeline in quarter notes. A chord symbol sounds until the next one,
    as the article played it; N.C. silences it. A song with nothing in it is an error."""
    import music21 as m21

    score = to_score(song)
    length = abc.song_length(score)
    if length == 0:
        raise RenderError("the song is empty: it has no notes or rests to show or play")
    signature = abc.signature(score)
    notes = tuple((at, quarters, int(m21.pitch.Pitch(name).midi)) for at, name, quarters in signature.notes)
    symbols = [(at, e) for at, e in abc.timeline(score) if isinstance(e, m21.harmony.Harmony)]
    chords = []
    for i, (at, symbol) in enumerate(symbols):
        end = symbols[i + 1][0] if i + 1 < len(symbols) else length
        if isinstance(symbol, m21.harmony.NoChord) or end <= at:
            continue
        tones = tuple(sorted(abc.chord_pitch_classes(symbol) or ()))
        chords.append(_Chord(at, end, abc.chord_symbol_text(symbol), symbol.root().pitchClass, symbol.bass().pitchClass, tones))
    return Layout(notes, tuple(chords), tuple(at for at, _ in signature.bars), length)


def voicing(chord: _Chord) -> list[int]:
    """A closed voicing in a lower register: root in C3–B3, the other tones above it within an
    octave, and a different bass note an octave below.

    >>> voicing(_Chord(Fraction(0), Fraction(4), "G7", 7, 7, (2, 5, 7, 11)))
    [55, 59, 62, 65]
    """
    root = 48 + chord.root
    pitches = sorted({root + (pc - chord.root) % 12 for pc in chord.tones} | {root})
    if chord.bass != chord.root:
        pitches.insert(0, 36 + chord.bass)
    return pitches


TEMPO_RANGE = (20.0, 400.0)  # beats per minute


def check_tempo(tempo_bpm: float) -> float:
    """`tempo_bpm` if it is a number in `TEMPO_RANGE`, else a ValueError that gives the range."""
    low, high = TEMPO_RANGE
    try:
        ok = low <= float(tempo_bpm) <= high
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"tempo_bpm={tempo_bpm!r}: use a tempo from {low:g} to {high:g} beats per minute")
    return float(tempo_bpm)


def to_midi(song: "Song | str | music21.stream.Score", tempo_bpm: float = 120, path: str | Path = "song.mid") -> Path:
    """Melody on channel 1 (velocity 64); each chord symbol as a sustained voicing on channel 2
    (velocity 48) from its onset to the next chord symbol."""
    import mido

    check_tempo(tempo_bpm)
    plan = layout(song)
    ticks = lambda q: int(round(Fraction(q) * TICKS_PER_QUARTER))  # noqa: E731
    events: list[tuple[int, int, mido.Message]] = []  # (tick, order: offs first, message)
    for at, quarters, pitch in plan.notes:
        events.append((ticks(at), 1, mido.Message("note_on", channel=MELODY_CHANNEL, note=pitch, velocity=MELODY_VELOCITY)))
        events.append((ticks(at + quarters), 0, mido.Message("note_off", channel=MELODY_CHANNEL, note=pitch, velocity=0)))
    for chord in plan.chords:
        for pitch in voicing(chord):
            events.append((ticks(chord.start), 1, mido.Message("note_on", channel=CHORD_CHANNEL, note=pitch, velocity=CHORD_VELOCITY)))
            events.append((ticks(chord.end), 0, mido.Message("note_off", channel=CHORD_CHANNEL, note=pitch, velocity=0)))
    events.append((ticks(plan.length), 2, mido.MetaMessage("end_of_track")))
    track = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm)),
        mido.Message("program_change", channel=MELODY_CHANNEL, program=0),  # acoustic grand piano
        mido.Message("program_change", channel=CHORD_CHANNEL, program=4),  # electric piano
    ])
    now = 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_QUARTER, tracks=[track])
    path = Path(path)
    with files.replacing(path) as tmp:
        midi.save(tmp)
    return path


def export(song: "Song | str | music21.stream.Score", folder: str | Path, stem: str = "song", tempo_bpm: float = 120) -> dict[str, Path]:
    """`.mid`, `.musicxml` and `.abc` of a song, for notation software and downloads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    score = to_score(song)
    paths = {"mid": to_midi(score, tempo_bpm, folder / f"{stem}.mid")}
    with files.replacing(folder / f"{stem}.musicxml") as tmp:
        score.write("musicxml", fp=tmp)
    paths["musicxml"] = folder / f"{stem}.musicxml"
    text = song.abc if isinstance(song, Song) else plain_abc(song) if isinstance(song, str) else abc.score_to_abc(score)
    paths["abc"] = files.write_text(folder / f"{stem}.abc", text if text.endswith("\n") else text + "\n")
    return paths


MIME_TYPES = {".mid": "audio/midi", ".musicxml": "application/vnd.recordare.musicxml+xml", ".abc": "text/vnd.abc",
              ".wav": "audio/wav", ".png": "image/png", ".svg": "image/svg+xml", ".jsonl": "application/jsonl"}
MAX_LINK_BYTES = 20 * 2**20  # a link carries its file: larger files are named, not linked


def download_links(paths: "Mapping[str, Path] | Sequence[Path]") -> str:
    """HTML links that download files wherever the notebook runs (JupyterLab, classic Notebook,
    Voilà, Colab): each link carries its file as a `data:` URI, so no server path is involved."""
    import base64

    items = paths.items() if isinstance(paths, Mapping) else [(Path(p).suffix.lstrip("."), p) for p in paths]
    links = []
    for label, path in items:
        path = Path(path)
        if not path.is_file():
            continue
        if path.stat().st_size > MAX_LINK_BYTES:
            links.append(f"{html.escape(path.name)} (too large to link; it is in {html.escape(str(path.parent))})")
            continue
        mime = MIME_TYPES.get(path.suffix, "application/octet-stream")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        links.append(f'<a href="data:{mime};base64,{data}" download="{html.escape(path.name)}" '
                     f'title="{html.escape(path.name)}">{html.escape(str(label))}</a>')
    return " · ".join(links)


def offer_downloads(paths: "Mapping[str, Path] | Sequence[Path]", colab: bool | None = None) -> str:
    """Downloads that work where the notebook runs; returns HTML to show. In Colab (`colab`
    None: detected) `google.colab.files.download` sends each file to the browser, since Colab's
    sandboxed output frames do not follow download links; elsewhere, `download_links`."""
    if not (config.in_colab() if colab is None else colab):
        return download_links(paths)
    from google.colab import files as colab_files  # type: ignore[import-not-found]

    found = [Path(p) for p in (paths.values() if isinstance(paths, Mapping) else paths) if Path(p).is_file()]
    for path in found:
        colab_files.download(str(path))
    return "sent to your browser's downloads: " + (", ".join(html.escape(p.name) for p in found) or "nothing")


ROLL_WIDTH_INCHES = 11.0  # about a notebook's width at 100 dpi: the figure is shown at its own size, never squeezed
ROLL_BARS_PER_ROW = 8  # one phrase per row, as a lead sheet lays out two systems of four bars


def piano_roll(song: "Song | str | music21.stream.Score", title: str | None = None,
               bars_per_row: int = ROLL_BARS_PER_ROW) -> "matplotlib.figure.Figure":
    """Melody notes as bars on a pitch–time grid, the sounding chord's tones shaded behind them,
    bar lines, bar numbers and chord names, in rows of `bars_per_row` bars (a notebook's width:
    a long song gets more rows, not smaller type). Chord names that would touch are set on up to
    three levels. Works headless (no pyplot state)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if not isinstance(bars_per_row, int) or bars_per_row < 1:
        raise ValueError(f"bars_per_row={bars_per_row!r}: give a whole number of bars, at least 1")
    plan = layout(song)
    pitches = [p for _, _, p in plan.notes] or [60]
    low, high = min(pitches) - 3, max(pitches) + 3
    starts = [float(b) for b in plan.bars] or [0.0]
    rows = [starts[i:i + bars_per_row] for i in range(0, len(starts), bars_per_row)]
    row_quarters = 4.0 * bars_per_row if len(rows) > 1 else max(float(plan.length) - rows[0][0], 4.0)
    height = 0.35 + 1.9 * len(rows) + (0.4 if title else 0)
    char = 9 * 0.62 / 72 * row_quarters / (ROLL_WIDTH_INCHES * 0.88)  # one character's width at 9 pt, in quarters
    figure = Figure(figsize=(ROLL_WIDTH_INCHES, height), layout="constrained")
    axes = figure.subplots(len(rows), 1, squeeze=False)[:, 0]
    octave_cs = [p for p in range(low, high + 1) if p % 12 == 0]
    for number, (ax, row) in enumerate(zip(axes, rows)):
        left = row[0]
        right = rows[number + 1][0] if number + 1 < len(rows) else float(plan.length)
        ends = [-1e9, -1e9, -1e9]  # where each level's last chord name ends, in quarters
        for chord in plan.chords:
            start, end = max(float(chord.start), left), min(float(chord.end), right)
            if end <= start:
                continue
            for pitch in range(low, high + 1):
                if pitch % 12 in chord.tones:
                    ax.add_patch(Rectangle((start, pitch - 0.5), end - start, 1.0, color="tab:orange", alpha=0.12,
                                           linewidth=0, gid="chord"))
            if left <= float(chord.start) < right:  # its name where it begins, on the lowest level it fits
                at = float(chord.start)
                level = next((i for i, taken in enumerate(ends) if taken < at), min(range(len(ends)), key=ends.__getitem__))
                ax.text(at, high + 0.8 + 2.4 * level, chord.figure, fontsize=9, va="bottom", clip_on=False, gid="chord-name")
                ends[level] = at + char * (len(chord.figure) + 1)
        for at, quarters, pitch in plan.notes:
            if left <= float(at) < right:
                ax.add_patch(Rectangle((float(at), pitch - 0.4), float(quarters), 0.8, color="tab:blue", gid="note"))
        for at in row:
            ax.axvline(at, color="0.6", linewidth=0.6, gid="bar")
        ax.set_xlim(left, left + row_quarters)
        ax.set_ylim(low - 0.5, high + 0.5)
        ax.set_yticks(octave_cs, [f"C{p // 12 - 1}" for p in octave_cs], fontsize=8)
        first_bar = number * bars_per_row + 1
        ax.set_xticks(row, [str(first_bar + i) for i in range(len(row))], fontsize=8)
        ax.tick_params(axis="x", length=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1].set_xlabel("bar")
    if title:
        figure.suptitle(title)
    return figure


def lead_sheet_harmony(xml: str, score: "music21.stream.Score") -> str:
    """MusicXML whose chord symbols an engraver prints as the lead sheet spells them: each
    `<kind>` carries the lead-sheet suffix as its text (`9sus4`, `7b9`), and the `<degree>`,
    `<inversion>` and zero `-alter` elements that verovio would print again (`D9sus4(9)`) or as
    naturals (`G♮/B♮`) are left out. The chord symbols are those of `score`, in order."""
    import xml.etree.ElementTree as ET

    import music21 as m21

    symbols = [h for h in score.recurse().getElementsByClass(m21.harmony.Harmony)]
    tree = ET.fromstring(xml.encode("utf-8"))
    harmonies = tree.findall(".//harmony")
    suffixes = ([None if isinstance(h, m21.harmony.NoChord) else chords.suffix(h) for h in symbols]
                if len(symbols) == len(harmonies) else [None] * len(harmonies))
    for harmony, suffix in zip(harmonies, suffixes):
        kind = harmony.find("kind")
        if kind is None or kind.text == "none":
            continue
        if suffix is not None:
            kind.set("text", suffix)
        for child in list(harmony):
            if child.tag in ("degree", "inversion"):
                harmony.remove(child)
        for parent in (harmony.find("root"), harmony.find("bass")):
            for alter in [] if parent is None else [a for a in parent if a.tag.endswith("-alter") and float(a.text or 0) == 0]:
                parent.remove(alter)
    head = xml[: xml.index("<score-partwise")] if "<score-partwise" in xml else ""
    return head + ET.tostring(tree, encoding="unicode")


def melody_accidentals(score: "music21.stream.Score") -> "music21.stream.Score":
    """A copy of the score whose accidentals are set from the melody alone, as a lead sheet
    prints them. music21 counts a chord symbol's pitches as if they sounded in the staff, so
    after `F#m7b5` the next F got a natural sign."""
    import copy

    import music21 as m21

    if not any(score.recurse().getElementsByClass(m21.harmony.Harmony)):
        return score
    score = copy.deepcopy(score)
    for part in score.parts:
        held = [(h.activeSite, h.offset, h) for h in part.recurse().getElementsByClass(m21.harmony.Harmony)]
        for site, _, symbol in held:
            site.remove(symbol)
        part.makeAccidentals(inPlace=True)  # sets streamStatus: the MusicXML writer leaves them be
        for site, offset, symbol in held:
            site.insert(offset, symbol)
    return score


def spread_stacked_chords(score: "music21.stream.Score") -> "music21.stream.Score":
    """A copy of the score in which chord symbols that share one onset (170 of the 379 training
    songs have some: OpenEWLD's MusicXML puts both on a whole-bar rest and moves the second only
    on the page) are spread evenly over the note or rest they sit on, so that an engraver prints
    them side by side instead of on top of each other. The score itself is left as it is."""
    import copy

    import music21 as m21

    if not any(len(group) > 1 for group in _stacks(score)):
        return score
    score = copy.deepcopy(score)
    for measure, stack in ((m, g) for m in score.recurse().getElementsByClass(m21.stream.Measure) for g in _stacks(m)):
        if len(stack) < 2:
            continue
        onset = stack[0].offset
        under = [n for n in measure.notesAndRests if not isinstance(n, m21.harmony.Harmony) and n.offset == onset]
        span = under[0].quarterLength if under else 0
        for i, symbol in enumerate(stack[1:], 1):
            if span:
                measure.remove(symbol)
                measure.insert(onset + span * i / len(stack), symbol)
    return score


def _stacks(stream: "music21.stream.Stream") -> "list[list[music21.harmony.Harmony]]":
    """Chord symbols grouped by onset, per measure (a stream that is not a measure: each of its measures)."""
    import music21 as m21

    measures = [stream] if isinstance(stream, m21.stream.Measure) else list(stream.recurse().getElementsByClass(m21.stream.Measure))
    groups: list[list] = []
    for measure in measures:
        by_onset: dict = {}
        for symbol in measure.getElementsByClass(m21.harmony.Harmony):
            by_onset.setdefault(symbol.offset, []).append(symbol)
        groups += list(by_onset.values())
    return groups


def sheet_music(song: "Song | str | music21.stream.Score", scale: int = 40, page_width: int = 2100) -> str:
    """Engraved notation as one SVG (verovio, from MusicXML): a lead sheet on one tall page.

    Any thread may call it (the studio's widget callbacks run on ipykernel's other threads):
    verovio's default font path is set per thread, by the thread that imported it, so each
    toolkit is given the path itself.
    """
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    score = to_score(song)
    if abc.song_length(score) == 0:
        raise RenderError("the song is empty: it has no notes or rests to engrave")
    xml = lead_sheet_harmony(GeneralObjectExporter(melody_accidentals(spread_stacked_chords(score))).parse().decode("utf-8"),
                             score)
    return _engrave(xml, scale, page_width)


def _engrave(xml: str, scale: int, page_width: int) -> str:
    import importlib.resources

    import verovio

    verovio.enableLog(verovio.LOG_ERROR)  # its import warnings (ties left open in a candidate) are no news to a reader
    toolkit = verovio.toolkit(False)  # (True would read the importing thread's font path: empty on any other thread)
    if not toolkit.setResourcePath(str(importlib.resources.files("verovio") / "data")):
        raise RenderError("verovio's fonts are missing from its package: reinstall verovio")
    toolkit.setOptions({"pageWidth": page_width, "pageHeight": 60000, "adjustPageHeight": True,
                        "scale": scale, "footer": "none", "breaks": "auto"})
    if not toolkit.loadData(xml):
        raise RenderError("verovio could not read the song's MusicXML")
    return toolkit.renderToSVG(1)
