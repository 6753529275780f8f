"""The ABC writer, the article's encoding, and the music21 reader's limits we work around."""

from __future__ import annotations

import shutil
from fractions import Fraction

import music21 as m21
import pytest

from aitunes_lib import abc, prep


def written(path, prep_config=prep.PrepConfig()):
    """The prep record of one real song, which must be kept."""
    record = prep.process_file(path, prep_config)
    assert record["status"] == "kept", record["reason"]
    return record


def round_trip(stream_or_measures, title="t", composer="c", meter="4/4", key="C"):
    body = abc.part_body(stream_or_measures)
    parsed = abc.parse_abc(abc.abc_header(title, composer, meter, key) + body)
    return body, abc.differences(abc.signature(stream_or_measures), abc.signature(parsed))


def test_durations_and_pitches():
    assert [abc.duration_text(Fraction(q)) for q in ("4", "3/2", "1/3", "1/8")] == ["4", "3/2", "/3", "/8"]
    assert abc.pitch_text("G", 3, None) == "G,"
    assert abc.pitch_text("A", 6, -2) == "__a'"
    with pytest.raises(abc.AbcError):
        abc.duration_text(Fraction(0))


def test_accidentals_agree_for_every_reader():
    # music21 carries no accidental through the bar; abc2midi and ABC 2.1 do.
    part = m21.stream.Part()
    measure = m21.stream.Measure(number=1)
    measure.append(m21.meter.TimeSignature("4/4"))
    for name in ("F#4", "F#4", "F4", "F5"):
        measure.append(m21.note.Note(name, quarterLength=1))
    part.append(measure)
    body, diffs = round_trip(part)
    assert body.strip() == "^F ^F =F f |"
    assert diffs == []


def test_accidentals_against_a_key_signature():
    part = m21.stream.Part()
    measure = m21.stream.Measure(number=1)
    measure.append(m21.key.Key("G"))
    measure.append(m21.meter.TimeSignature("4/4"))
    for name in ("F#4", "F4", "F#4", "B-4"):
        measure.append(m21.note.Note(name, quarterLength=1))
    part.append(measure)
    body = abc.part_body(part)
    assert body.strip() == "F =F ^F _B |"
    parsed = abc.parse_abc(abc.abc_header("t", "c", "4/4", "G") + body)
    assert [n.nameWithOctave for n in parsed.recurse().notes] == ["F#4", "F4", "F#4", "B-4"]


def test_chord_change_in_the_middle_of_a_note_splits_it_with_a_tie():
    part = m21.stream.Part()
    measure = m21.stream.Measure(number=1)
    measure.append(m21.meter.TimeSignature("4/4"))
    measure.insert(0, m21.harmony.ChordSymbol("C"))
    measure.insert(0, m21.note.Note("E4", quarterLength=3))
    measure.insert(2, m21.harmony.ChordSymbol("G7"))
    measure.insert(3, m21.note.Rest(quarterLength=1))
    measure.insert(3.5, m21.harmony.ChordSymbol("F"))
    part.append(measure)
    body, diffs = round_trip(part)
    assert body.strip() == '"C"E2- "G7"E z/ "F"z/ |'
    assert diffs == []


def test_real_song_with_triplets_ties_and_pickup(song_path):
    record = written(song_path("You're_Getting_to_Be_a_Habit_with_Me"), prep.PrepConfig(verify=True))
    assert "(3" in record["body"] and "-" in record["body"]
    assert record["round_trip"] == []


def test_real_song_with_a_pickup_bar(song_path):
    record = written(song_path("I_Only_Have_Eyes_for_You"), prep.PrepConfig(verify=True))
    assert record["round_trip"] == []
    record = written(song_path("Happy_Birthday_to_You"), prep.PrepConfig(verify=True))
    assert record["irregular_bars"] == [{"bar": 0, "quarters": 2.0, "meter_quarters": 4.0, "where": "first"}]
    assert record["round_trip"] == []


def test_chord_at_the_end_of_a_short_bar_keeps_its_onset(song_path):
    # Bar 17 holds 1.5 beats of notes but lasts 2.5 in the source, with E-flat at its end:
    # the gap is written as a rest and the chord lands on the next bar's first beat.
    path = song_path("What_Do_You_Want_to_Make_Those_Eyes_at_Me_For?")
    record = written(path, prep.PrepConfig(verify=True))
    assert record["round_trip"] == []
    assert any(b["bar"] == 17 for b in record["irregular_bars"])


def test_general_tuplets_and_grace_notes(song_path):
    record = written(song_path("The_Holy_City"), prep.PrepConfig(verify=True))
    assert "(3:" in record["body"] and record["round_trip"] == []
    record = written(song_path("Tell_Me_Why"), prep.PrepConfig(verify=True))
    assert "{" in record["body"] and record["round_trip"] == []


def test_dangling_ties_are_not_written(song_path):
    # The source ties C4 into c5 (another octave): no reader can follow that tie.
    record = written(song_path("Tin_Roof_Blues"), prep.PrepConfig(verify=True))
    assert record["round_trip"] == []
    if shutil.which("abc2midi"):
        check = abc.abc2midi_check(abc.abc_header("t", "c") + record["body"])
        assert check.errors == ()


def test_encoding_round_trip():
    body = '"C"E3/2 F/ G2 | "G7"(3B/c/d/ z3 |\n"C"c4 |\n'
    completion = abc.encode_body(body)
    assert completion == " `C`E3/2 F/ G2 | `G7`(3B/c/d/ z3 | $ `C`c4 | $ <end>"
    assert abc.decode_body(completion) == body
    prompt = abc.seed_prompt("Hello $ Dolly", "Jerry Herman")
    assert prompt == "X: 1 $ T: Hello S Dolly $ C: Jerry Herman $ <song>"
    assert abc.parse_prompt(prompt) == ("Hello S Dolly", "Jerry Herman")
    tune = abc.decode_seed(prompt, completion, meter="2/2")
    assert tune.startswith("X:1\nT:Hello S Dolly\nC:Jerry Herman\nL:1/4\nM:2/2\nK:C\n")
    score = abc.parse_abc(tune)
    assert len(score.parts[0].getElementsByClass("Measure")) == 3
    assert [c.figure for c in score.recurse().getElementsByClass("ChordSymbol")] == ["C", "G7", "C"]


def test_parse_abc_fills_in_a_missing_header():
    score = abc.parse_abc('"C"C D E F | G4 |')
    assert [n.nameWithOctave for n in score.recurse().notes if n.isNote][:2] == ["C4", "D4"]
    assert score.recurse().getElementsByClass("TimeSignature")[0].ratioString == "4/4"


def test_music21_drops_stacked_chords_and_parse_abc_restores_them():
    tune = 'X:1\nT:t\nL:1/4\nM:4/4\nK:C\n"A7""D7"A4 |\n'
    plain = m21.converter.parse(tune, format="abc")
    assert [c.figure for c in plain.recurse().getElementsByClass("ChordSymbol")] == ["A7"]  # music21's limit
    ours = abc.parse_abc(tune)
    assert [(c.offset, c.figure) for c in ours.recurse().getElementsByClass("ChordSymbol")] == [(0.0, "A7"), (0.0, "D7")]


def test_music21_splits_an_overfull_bar():
    # The one known exception of the whole-dataset round trip: a 5-beat bar in 4/4 is kept
    # in the ABC (abc2midi reads it as one bar) but music21's ABC reader cuts it in two.
    score = abc.parse_abc("X:1\nT:t\nL:1/4\nM:4/4\nK:C\nC4 | C D E F G | C4 |\n")
    lengths = [m.duration.quarterLength for m in score.parts[0].getElementsByClass("Measure")]
    assert lengths == [4.0, 4.0, 1.0, 4.0]


def test_chord_symbols_are_written_as_lead_sheets_write_them_and_read_back():
    part = m21.stream.Part()
    measure = m21.stream.Measure(number=1)
    measure.append(m21.meter.TimeSignature("4/4"))
    for figure in ("B-7 add b9", "E-/B-", "B--9", "F#m7"):
        measure.append(m21.harmony.ChordSymbol(figure))
        measure.append(m21.note.Note("C4"))
    part.append(measure)
    body, diffs = round_trip(part)
    assert body.strip() == '"Bb7b9"C "Eb/Bb"C "Bbb9"C "F#m7"C |'
    assert diffs == []


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="Debian abcmidi not installed (make setup installs it)")
def test_abc2midi_reads_a_written_song(song_path):
    record = written(song_path("I_Only_Have_Eyes_for_You"))
    result = abc.abc2midi_check(abc.abc_header(record["title"], record["composer"]) + record["body"])
    assert result.errors == ()
    assert set(result.short_or_long_bars) <= set(record["irregular_written"])
    assert result.short_or_long_bars  # this song has two 2-beat bars in the source
    # lead-sheet spellings: abc2midi knows m7b5 and dim7 (not music21's ø7 and o7), not the altered ninths
    assert "7b9" in result.unknown_chords and not {"m7b5", "dim7", "ø7", "o7"} & set(result.unknown_chords)


def test_abc2midi_flags_a_bad_bar():
    result = abc.abc2midi_check("X:1\nT:t\nL:1/4\nM:4/4\nK:C\nC4 | C3 | C4 |\n") if shutil.which("abc2midi") else None
    if result is not None:
        assert result.short_or_long_bars == (1,)


def test_signature_sees_a_changed_note():
    part = m21.stream.Part()
    measure = m21.stream.Measure(number=1)
    for name in ("C4", "D4", "E4", "F4"):
        measure.append(m21.note.Note(name))
    part.append(measure)
    other = abc.parse_abc("X:1\nT:t\nL:1/4\nM:4/4\nK:C\nC D ^D F |\n")
    assert abc.differences(abc.signature(part), abc.signature(other)) == ["notes: expected (2, E4, 1), found (2, D#4, 1)"]


def test_chords_on_an_over_full_bar_are_still_read():
    # music21 cuts a 5-beat bar in two, so its notes no longer line up with the written ones:
    # the parse falls back to music21 placing each note's first chord itself
    score = abc.parse_abc('X:1\nT:t\nL:1/4\nM:4/4\nK:C\n"C"C D E F "G7"G | "F"A4 |\n')
    figures = [c.figure for c in score.recurse().getElementsByClass("ChordSymbol")]
    assert figures == ["C", "G7", "F"]


def test_parsing_leaves_music21_beaming_as_it_was():
    beam = m21.stream.Stream.makeBeams
    score = abc.parse_abc('X:1\nT:t\nL:1/4\nM:4/4\nK:C\nC/D/E/F/ G/A/B/c/ | c4 |\n')
    assert m21.stream.Stream.makeBeams is beam  # the parse skips it, then puts it back
    assert not score.parts[0].streamStatus.beams  # so the MusicXML writer beams when engraving
