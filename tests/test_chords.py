"""Chord symbols spelled as lead sheets spell them, from real OpenEWLD harmony, and read back."""

from __future__ import annotations

import re
import shutil

import music21 as m21
import pytest

from aitunes_lib import abc, chords, prep

LONG_FORMS = re.compile(r" add | alter |ø|o7|sus add|pedal|power")


def source_names(path) -> set[str]:
    score = m21.converter.parse(str(path))
    return {chords.name(h) for h in score.recurse().getElementsByClass(m21.harmony.ChordSymbol)}


def test_real_harmony_is_spelt_from_kind_degrees_and_bass(song_path):
    # MusicXML: dominant + <degree> add 9 -1, half-diminished, suspended-fourth + add 7 + add 9,
    # diminished-seventh, dominant + alter 5 +1 + add 9 -1, dominant-ninth + add 11 +1, a bass
    names = source_names(song_path("I_Only_Have_Eyes_for_You"))
    assert {"G7b9", "F#m7b5", "Dm7b5", "D9sus4", "G9sus4", "Cdim7", "E7#5b9", "F9#11", "A7/C#", "G7/F"} <= names
    assert not [n for n in names if LONG_FORMS.search(n)]
    assert {"Dm69", "Bb7b5", "Em7b5"} <= source_names(song_path("Bernie's_Tune"))


def test_kinds_music21_does_not_know_keep_their_chord(song_path):
    # MusicXML's augmented-ninth and OpenEWLD's minor-major: music21 sounds only the root
    score = m21.converter.parse(str(song_path("If_I_Should_Lose_You")))
    ninths = [h for h in score.recurse().getElementsByClass(m21.harmony.ChordSymbol) if h.chordKind == "augmented-ninth"]
    assert ninths and {len(h.pitches) for h in ninths} == {1}
    assert chords.respell(score) >= len(ninths)
    respelt = [h for h in score.recurse().getElementsByClass(m21.harmony.ChordSymbol) if chords.name(h).endswith("9#5")]
    assert len(respelt) == len(ninths) and {len(h.pitches) for h in respelt} == {5}


def test_an_added_seventh_on_a_suspended_chord_is_the_flat_seventh(song_path):
    # MusicXML counts an added degree from a dominant chord; music21 adds the major seventh
    score = m21.converter.parse(str(song_path("Blue_Moon")))
    sus = [h for h in score.recurse().getElementsByClass(m21.harmony.ChordSymbol) if chords.name(h).endswith("7sus4")]
    assert sus
    wrong = sus[0].root().transpose(11).pitchClass
    assert wrong in {p.pitchClass for p in sus[0].pitches}  # music21's own reading
    chords.respell(score)
    fixed = [h for h in score.recurse().getElementsByClass(m21.harmony.ChordSymbol) if chords.name(h).endswith("7sus4")]
    assert fixed and all({h.root().transpose(10).pitchClass, h.root().transpose(5).pitchClass}
                         <= {p.pitchClass for p in h.pitches} for h in fixed)
    assert not any(h.root().transpose(11).pitchClass in {p.pitchClass for p in h.pitches} for h in fixed)


@pytest.mark.parametrize("root", ["C", "F#", "Bb", "Ebb"])
def test_every_spelling_reads_back_as_itself(root):
    suffixes = sorted(set(chords.SUFFIX.values()) - {""}) + ["", "7b9", "7#9", "7b5", "7#5b9", "9#11", "13b9", "m9b5",
                                                            "9sus4", "69", "m69", "add9", "m#5", "7sus4"]
    for suffix in suffixes:
        for bass in ("", "/E", "/Bb") if root != "Bb" else ("", "/E"):  # a bass that is the root is not written
            text = root + suffix + bass
            symbol = chords.symbol(text)
            assert not isinstance(symbol, m21.harmony.NoChord), text
            assert chords.name(symbol) == text


def test_names_music21_cannot_read_are_kept_as_written():
    unknown = chords.symbol("Hm7b")
    assert isinstance(unknown, m21.harmony.NoChord) and chords.name(unknown) == "Hm7b"
    assert chords.name(chords.symbol("N.C.")) == "N.C."


def test_prep_writes_lead_sheet_names_and_the_round_trip_holds(song_path):
    record = prep.process_file(song_path("I_Only_Have_Eyes_for_You"), prep.PrepConfig(verify=True))
    assert record["status"] == "kept" and record["round_trip"] == []
    names = set(re.findall(r'"([^"]*)"', record["body"]))
    assert {"G7b9", "D9sus4", "E7#5b9", "F#m7b5", "Cdim7"} <= names  # the song is in C already
    assert not [n for n in names if LONG_FORMS.search(n)]
    assert record["respelled_chords"] > 0  # the sus chords' sevenths


def test_parsed_names_sound_their_pitches():
    score = abc.parse_abc('X:1\nT:t\nM:4/4\nL:1/4\nK:C\n"C9sus4"C "G13b9"D "CmMaj7""Ab69"E F |\n')
    found = {chords.name(h): sorted(p.pitchClass for p in h.pitches)
             for h in score.recurse().getElementsByClass(m21.harmony.ChordSymbol)}
    assert found == {"C9sus4": [0, 2, 5, 7, 10], "G13b9": [0, 2, 4, 5, 7, 8, 11], "CmMaj7": [0, 3, 7, 11],
                     "Ab69": [0, 3, 5, 8, 10]}


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="Debian abcmidi not installed (make setup installs it)")
def test_abc2midi_reads_the_names_it_knows():
    result = abc.abc2midi_check('X:1\nT:t\nM:4/4\nL:1/4\nK:C\n"Cmaj7"C "Dm7b5"D "G7sus4"E "Cdim7"F | "C9sus4"C4 |\n')
    assert result.errors == ()
