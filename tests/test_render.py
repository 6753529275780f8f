"""MIDI with chords, the piano roll, sheet music and exports, on real OpenEWLD songs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")
import mido
import music21 as m21
import pytest

from aitunes_lib import abc, prep, render
from aitunes_lib.song import Song


@pytest.fixture(scope="module")
def song(song_path) -> Song:
    r = prep.process_file(song_path("Sleepy_Time_Gal"))
    return Song(r["title"], r["composer"], r["body"], r["meter"], r["abc_key"])


def midi_notes(path, channel):
    """(onset, length, pitch) in quarters of every note on a channel."""
    midi = mido.MidiFile(path)
    now, open_notes, found = 0, {}, []
    for message in mido.merge_tracks(midi.tracks):
        now += message.time
        if message.type == "note_on" and message.velocity > 0 and message.channel == channel:
            open_notes.setdefault(message.note, []).append((now, message.velocity))
        elif message.type in ("note_off", "note_on") and getattr(message, "channel", None) == channel:
            start, velocity = open_notes[message.note].pop(0)
            found.append((Fraction(start, midi.ticks_per_beat), Fraction(now - start, midi.ticks_per_beat), message.note, velocity))
    return sorted(found)


def test_midi_melody_equals_the_score(song, tmp_path):
    path = render.to_midi(song, 120, tmp_path / "s.mid")
    melody = midi_notes(path, render.MELODY_CHANNEL)
    expected = [(at, q, m21.pitch.Pitch(name).midi) for at, name, q in abc.signature(song.score).notes]
    assert [(a, q, p) for a, q, p, _ in melody] == expected
    assert {v for *_, v in melody} == {64}


def test_every_chord_sounds_from_its_onset_to_the_next(song, tmp_path):
    path = render.to_midi(song, 120, tmp_path / "s.mid")
    chords = midi_notes(path, render.CHORD_CHANNEL)
    plan = render.layout(song)
    symbols = [(at, e) for at, e in abc.timeline(song.score) if isinstance(e, m21.harmony.Harmony)]
    # every chord onset sounds (of two symbols stacked on one onset, the second one sounds)
    assert [c.start for c in plan.chords] == sorted({at for at, e in symbols if not isinstance(e, m21.harmony.NoChord)})
    for chord in plan.chords:
        sounding = {p % 12 for at, q, p, v in chords if at == chord.start and at + q == chord.end}
        assert sounding == set(chord.tones) | {chord.bass}, chord.figure
        assert all(v == 48 for at, q, p, v in chords if at == chord.start)
    for a, b in zip(plan.chords, plan.chords[1:]):
        assert a.end == b.start  # held until the next chord symbol
    assert plan.chords[-1].end == plan.length


def test_tempo_is_in_the_file(song, tmp_path):
    midi = mido.MidiFile(render.to_midi(song, 90, tmp_path / "s.mid"))
    assert midi.length == pytest.approx(float(render.layout(song).length) * 60 / 90, abs=0.01)


def test_voicing_is_low_and_closed():
    chord = render._Chord(Fraction(0), Fraction(4), "C/E", 0, 4, (0, 4, 7))
    assert render.voicing(chord) == [40, 48, 52, 55]


def test_piano_roll_counts(song, tmp_path):
    figure = render.piano_roll(song, song.title)
    figure.savefig(tmp_path / "roll.png")
    plan = render.layout(song)
    patches = [p for ax in figure.axes for p in ax.patches]
    assert sum(p.get_gid() == "note" for p in patches) == len(plan.notes) == 220
    assert sum(line.get_gid() == "bar" for ax in figure.axes for line in ax.lines) == len(plan.bars) == 65
    assert any(p.get_gid() == "chord" for p in patches)
    names = [t.get_text() for ax in figure.axes for t in ax.texts if t.get_gid() == "chord-name"]
    assert names == [c.figure for c in plan.chords]
    assert (tmp_path / "roll.png").stat().st_size > 10_000


def test_piano_roll_is_readable_at_notebook_width(song):
    """Rows of 8 bars at a notebook's width (a 65-bar song was one 3,800-pixel strip, shrunk
    until its chord names could not be read): bar numbers on each row, chord names never touching."""
    figure = render.piano_roll(song, song.title)
    assert figure.get_size_inches()[0] == render.ROLL_WIDTH_INCHES and len(figure.axes) == 9  # ceil(65 / 8)
    assert [t.get_text() for t in figure.axes[1].get_xticklabels()][:2] == ["9", "10"]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in figure.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_gid() == "chord-name"]
        for i, a in enumerate(boxes):
            assert not any(a.overlaps(b) for b in boxes[i + 1:]), "two chord names overlap"
        assert all(t.get_fontsize() >= 8 for t in ax.texts)
    with pytest.raises(ValueError, match="bars_per_row"):
        render.piano_roll(song, bars_per_row=0)


def test_sheet_music_is_svg_with_one_glyph_group_per_note(song):
    svg = render.sheet_music(song)
    root = ET.fromstring(svg)
    groups = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if "note" in (g.get("class") or "").split()]
    notated = [n for n in song.score.recurse().notes if not isinstance(n, m21.harmony.Harmony)]
    assert len(groups) == len(notated)


def test_exports(song, tmp_path):
    paths = render.export(song, tmp_path, "sleepy")
    assert sorted(paths) == ["abc", "mid", "musicxml"]
    assert paths["abc"].read_text().startswith("X:1\nT:Sleepy Time Gal")
    back = m21.converter.parse(paths["musicxml"])
    assert abc.signature(back).notes == abc.signature(song.score).notes


def test_the_articles_format_and_empty_songs():
    completion = " `C`E G c2 | `G7`B4 | $ `C`c4 | $ <end>"
    assert len(render.layout(completion).notes) == 5
    assert len(render.layout("X: 1 $ T: a $ C: b $ <song>" + completion).notes) == 5
    with pytest.raises(render.RenderError, match="empty"):
        render.layout("X:1\nT:t\nK:C\n")
    assert render.plain_abc(completion).startswith("X:1\nT:Untitled\nL:1/4\nM:4/4\nK:C\n\"C\"E G c2 |")
    with pytest.raises(render.RenderError, match="empty"):
        render.sheet_music("X:1\nT:t\nK:C\n")


@pytest.mark.parametrize("stem", ["Sleepy_Time_Gal", "Jingle_Bells", "Swanee", "Dinah", "Careless_Love"])
def test_lead_sheets_are_in_treble_clef(song_path, stem, tmp_path):
    """music21 alone picked bass clef for many songs (the chord symbols' low voicings counted)."""
    r = prep.process_file(song_path(stem))
    song = Song(r["title"], r["composer"], r["body"], r["meter"], r["abc_key"])
    clefs = list(song.score.recurse().getElementsByClass(m21.clef.Clef))
    assert clefs and all(isinstance(c, (m21.clef.TrebleClef, m21.clef.Treble8vbClef)) for c in clefs)
    xml = render.export(song, tmp_path)["musicxml"].read_text()
    assert "<sign>G</sign>" in xml and "<sign>F</sign>" not in xml
    svg = render.sheet_music(song)
    assert "E050" in svg and "E062" not in svg  # verovio draws the G clef (SMuFL U+E050), never the F clef (U+E062)


def test_a_low_melody_is_written_an_octave_down_in_treble(tmp_path):
    low = Song("Low", "x", '"C"C, E, G, C | "G7"B,, D, F, G, |')
    clef = low.score.parts[0].getElementsByClass(m21.stream.Measure).first().clef
    assert isinstance(clef, m21.clef.Treble8vbClef)


def test_verovio_keeps_its_import_warnings_to_itself(capfd):
    """A tie to a different pitch (the model writes such) left verovio's "ties left open" warning in
    the notebook's output; it is not news to a reader of the lead sheet."""
    capfd.readouterr()
    svg = render.sheet_music(Song.from_abc("X:1\nM:4/4\nL:1/4\nK:C\n C- D E F | G4 |"))
    said = capfd.readouterr()
    assert "<svg" in svg and "Warning" not in said.out + said.err


def test_chord_symbols_on_one_onset_are_spread_for_engraving(song_path):
    """OpenEWLD writes "Dm7 G7" over a whole-bar rest at one onset (moved apart only on its page);
    engraved as they are, the two names print on top of each other."""
    r = prep.process_file(song_path("I_Only_Have_Eyes_for_You"))
    song = Song(r["title"], r["composer"], r["body"], r["meter"], r["abc_key"])
    bar = lambda score: [(h.offset, h.figure) for h in list(score.recurse().getElementsByClass("Measure"))[3]
                         .getElementsByClass("Harmony")]
    assert bar(song.score) == [(0.0, "Dm7"), (0.0, "G7")]
    spread = render.spread_stacked_chords(song.score)
    assert bar(spread) == [(0.0, "Dm7"), (2.0, "G7")] and bar(song.score) == [(0.0, "Dm7"), (0.0, "G7")]
    assert not any(len(group) > 1 for group in render._stacks(spread))
    plain = Song.from_abc("X:1\nM:4/4\nL:1/4\nK:C\n\"C\"C D E F | \"G7\"G4 |")
    assert render.spread_stacked_chords(plain.score) is plain.score  # nothing to spread: no copy


def test_offer_downloads_links_here_and_sends_in_colab(tmp_path, request):
    path = tmp_path / "song.abc"
    path.write_text("X:1\nT:t\nK:C\nC4|\n")
    assert 'download="song.abc"' in render.offer_downloads([path])  # not Colab: a link carrying the file
    sent = request.getfixturevalue("colab_downloads")
    shown = render.offer_downloads({"abc": path, "missing": tmp_path / "nope.mid"})
    assert sent == [str(path)] and "song.abc" in shown and "data:" not in shown


def test_sheet_music_prints_chord_names_as_written_and_only_the_melodys_accidentals():
    names = ["D9sus4", "G/B", "F#m7b5", "B7b9", "Bbm69", "CmMaj7", "C#dim7/E", "C"]
    text = ('X:1\nT:t\nM:4/4\nL:1/4\nK:C\n"D9sus4"C "G/B"D "F#m7b5"F "B7b9"F | "Bbm69"D "CmMaj7"E "C#dim7/E"C ^D |'
            ' "C"=D4 |\n')
    root = ET.fromstring(render.sheet_music(text))
    groups = list(root.iter("{http://www.w3.org/2000/svg}g"))
    smufl = str.maketrans({"\uea64": "b", "\uea66": "#", "\uea65": "(natural)"})  # verovio's chord-symbol glyphs
    printed = ["".join("".join(g.itertext()).split()).translate(smufl) for g in groups if "harm" in (g.get("class") or "").split()]
    assert printed == names  # not D9sus4(9), B7b9(b9) or G(natural)/B(natural)
    # the melody's own accidentals only: the sharp and its cancelling natural, none after F#m7b5 or Bbm69
    assert len([g for g in groups if "accid" in (g.get("class") or "").split()]) == 2
