"""Filtering, transposition, bad input, and the cached batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import music21 as m21
import pytest

from aitunes_lib import prep


@pytest.mark.parametrize(
    "key, semitones",
    [("C", 0), ("G", 5), ("A-", 4), ("A", 3), ("B-", 2), ("B", 1), ("D-", -1), ("C#", -1),
     ("D", -2), ("E-", -3), ("E", -4), ("F", -5), ("F#", -6), ("G-", -6)],
)
def test_the_articles_transposition_table(key, semitones):
    interval = prep.transposition(m21.key.Key(key))
    assert interval.semitones == semitones
    assert m21.pitch.Pitch(key + "4").transpose(interval).name == "C"


def test_minor_keys_go_to_a_minor():
    for key in ("e", "d", "c#", "g"):
        interval = prep.transposition(m21.key.Key(key))
        assert m21.pitch.Pitch(key.upper() + "4").transpose(interval).name == "A"


def test_a_real_song_is_transposed_with_its_chords(song_path):
    record = prep.process_file(song_path("Sleepy_Time_Gal"))  # in G: up a fourth
    assert record["status"] == "kept" and record["key"] == "G" and record["transposed_by"] == "P4"
    assert record["abc_key"] == "C"
    assert record["body"].startswith('"C"') or '"C"' in record["body"].split("|")[0]
    assert '"Ab7"' in record["body"]  # E-flat 7 in G becomes A-flat 7 in C


def test_meter_and_mode_filters_give_reasons(song_path):
    waltz = prep.process_file(song_path("Let_Me_Call_You_Sweetheart"))
    assert waltz["status"] == "skipped" and waltz["reason"] == "meter 3/4 not in 4/4/2/2"


def test_bad_inputs_are_skipped_with_a_reason(tmp_path, song_path):
    good = song_path("Sleepy_Time_Gal")
    truncated = tmp_path / "truncated.mxl"
    truncated.write_bytes(good.read_bytes()[:2000])
    not_xml = tmp_path / "notes.mxl"
    not_xml.write_text("this is not MusicXML")
    no_parts = tmp_path / "no_parts.musicxml"
    no_parts.write_text(
        '<?xml version="1.0"?><score-partwise version="3.1"><part-list/></score-partwise>'
    )
    rests = m21.stream.Score()
    part = m21.stream.Part()
    measure = m21.stream.Measure(number=1)
    measure.append(m21.meter.TimeSignature("4/4"))
    measure.append(m21.note.Rest(quarterLength=4))
    part.append(measure)
    rests.append(part)
    no_notes = Path(rests.write("musicxml", fp=tmp_path / "rests.musicxml"))
    missing = tmp_path / "missing.mxl"

    records = prep.run_batch([truncated, good, not_xml, no_parts, no_notes, missing],
                             prep.PrepConfig(cache=False, workers=1), progress=False)
    reasons = [r["reason"] for r in records]
    assert reasons[0].startswith("unreadable:")
    assert records[1]["status"] == "kept"  # the batch goes on
    assert reasons[2].startswith("unreadable:")
    assert reasons[3].startswith(("no parts", "unreadable:"))
    assert reasons[4] == "no notes"
    assert reasons[5] == f"unreadable: FileNotFoundError: no such file: {missing}"
    assert [r["status"] for r in records].count("kept") == 1


def test_cache_gives_the_same_records_and_follows_the_content(tmp_path, song_path):
    paths = [song_path("Sleepy_Time_Gal"), song_path("Jingle_Bells")]
    config = prep.PrepConfig(cache_dir=tmp_path / "cache", workers=2)
    cold = prep.run_batch(paths, config, progress=False)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2
    warm = prep.run_batch(paths, config, progress=False)
    assert warm == cold
    # the same bytes under another name hit the cache; a changed config does not
    copy = tmp_path / "copy.mxl"
    shutil.copy(paths[0], copy)
    assert prep.run_batch([copy], config, progress=False)[0]["body"] == cold[0]["body"]
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2
    prep.run_batch([copy], prep.PrepConfig(cache_dir=tmp_path / "cache", bars_per_line=8), progress=False)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 3


def test_parallel_and_serial_agree(song_path):
    paths = [song_path(s) for s in ("Sleepy_Time_Gal", "Jingle_Bells", "Tell_Me_Why", "Happy_Birthday_to_You")]
    serial = prep.run_batch(paths, prep.PrepConfig(cache=False, workers=1), progress=False)
    parallel = prep.run_batch(paths, prep.PrepConfig(cache=False, workers=2), progress=False)
    assert json.dumps(serial) == json.dumps(parallel)


def test_prepare_dedupes_and_reports(tmp_path, song_path):
    folder = tmp_path / "OpenEWLD" / "dataset"
    for name, stem in (("a", "Sleepy_Time_Gal"), ("b", "Sleepy_Time_Gal"), ("c", "Let_Me_Call_You_Sweetheart")):
        target = folder / name / stem
        target.mkdir(parents=True)
        shutil.copy(song_path(stem), target / f"{stem}.mxl")
    result = prep.prepare(tmp_path / "OpenEWLD", prep.PrepConfig(cache=False, workers=1), progress=False)
    assert len(result.songs) == 1
    assert result.report["songs"] == 3 and result.report["kept"] == 1
    assert result.report["reasons"] == {"duplicate": 1, "kept": 1, "meter 3/4 not in 4/4/2/2": 1}
    first = str(folder / "a" / "Sleepy_Time_Gal" / "Sleepy_Time_Gal.mxl")
    assert list(result.index["reason"].dropna()) == [f"duplicate of {first}", "meter 3/4 not in 4/4/2/2"]
    assert "songs read                 3" in prep.summary(result.report)


def test_a_key_signature_that_disagrees_with_the_music_is_corrected_by_the_music(song_path):
    """Avalon's signature says C, its music is in F (it ends on F over F): it is moved to C by its music."""
    from aitunes_lib import abc

    record = prep.process_file(song_path("Avalon"))
    assert record["status"] == "kept" and record["key_by_music"] == "F" and record["abc_key"] == "C"
    body = abc.encode_body(record["body"]).split(abc.END)[0]
    chords = [m.group(0)[1:-1] for m in abc.CHORD.finditer(body)]
    notes = [m.group(0) for m in abc.NOTE.finditer(abc.CHORD.sub(" ", body)) if abc.pitch_number(m.group(0)) is not None]
    assert chords[-1] == "C" and abc.pitch_class(notes[-1]) == 0  # it ends on its tonic, now C
    plain = prep.process_file(song_path("Jingle_Bells"))  # a song whose signature is right is left alone
    assert "key_by_music" not in plain and plain["transposed_by"] == "P4"
