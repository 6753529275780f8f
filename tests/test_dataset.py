"""The article's training records, JSONL, and the validation report."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from aitunes_lib import abc, dataset, prep
from aitunes_lib.song import Song

SONG = Song(title="Hello Tune", composer="A. Writer", body='"C"E3/2 F/ G2 | "G7"B4 |\n"C"c4 |\n')


def test_seed_record_is_the_articles_format():
    assert dataset.seed_record(SONG) == {
        "prompt": "X: 1 $ T: Hello Tune $ C: A. Writer $ <song>",
        "completion": " `C`E3/2 F/ G2 | `G7`B4 | $ `C`c4 | $ <end>",
    }


def test_chat_record_and_decoding_back():
    chat = dataset.chat_record(SONG)
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant"]
    assert chat["messages"][2]["content"] == "`C`E3/2 F/ G2 | `G7`B4 | $ `C`c4 | $ <end>"
    back = dataset.song_from_record(dataset.seed_record(SONG))
    assert back == SONG
    assert len(back.score.parts[0].getElementsByClass("Measure")) == 3


def test_real_song_round_trips_through_the_training_text(song_path):
    record = prep.process_file(song_path("Sleepy_Time_Gal"), prep.PrepConfig(verify=True))
    song = Song(record["title"], record["composer"], record["body"], record["meter"], record["abc_key"])
    back = dataset.song_from_record(dataset.seed_record(song), meter=song.meter)
    assert back.body == song.body
    assert abc.signature(back.score) == abc.signature(song.score)


def test_jsonl_round_trip_and_malformed_lines(tmp_path):
    path = dataset.write_jsonl([dataset.seed_record(SONG), {"prompt": "é", "completion": " x $ <end>"}], tmp_path / "a.jsonl")
    assert dataset.read_jsonl(path)[1]["prompt"] == "é"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(dataset.seed_record(SONG)) + "\n\n{not json}\n")
    with pytest.raises(dataset.DatasetError, match=r"bad.jsonl, line 3: not valid JSON"):
        dataset.read_jsonl(bad)
    (tmp_path / "list.jsonl").write_text("[1, 2]\n")
    with pytest.raises(dataset.DatasetError, match="line 1: expected a JSON object"):
        dataset.read_jsonl(tmp_path / "list.jsonl")
    with pytest.raises(dataset.DatasetError, match="no such training file"):
        dataset.read_jsonl(tmp_path / "missing.jsonl")


def test_validation_report_finds_problems(capsys):
    good = dataset.seed_record(SONG)
    long = {"prompt": good["prompt"].replace("Hello", "Long"), "completion": " " + "C D E F | " * 1500 + "$ <end>"}
    report = dataset.validation_report([good, good, {"prompt": "", "completion": " $ <end>"}, long, {"prompt": 1}])
    assert report["pairs"] == 4
    assert report["duplicate_pairs"] == 1
    assert report["empty"] == [2]
    assert report["too_long"] == [3]
    assert report["completion_suffix"].endswith(" $ <end>")
    assert report["prompt_prefix"] == ""
    assert not report["ok"] and len(report["problems"]) == 4
    assert "problems:" in capsys.readouterr().out


def test_validation_report_on_a_clean_file():
    other = Song(title="Other", composer="B", body='"F"F4 |\n')
    report = dataset.validation_report([dataset.seed_record(SONG), dataset.seed_record(other)], show=False)
    assert report["ok"] and report["problems"] == []
    assert report["prompt_prefix"] == "X: 1 $ T: " and report["prompt_suffix"] == " $ <song>"
    encoding = dataset.token_encoding()
    assert report["tokens_total"] == sum(
        len(encoding.encode(r["prompt"])) + len(encoding.encode(r["completion"]))
        for r in map(dataset.seed_record, (SONG, other))
    )


# --------------------------------------------------------------------------- phrase and chord tasks

REAL = {"prompt": "X: 1 $ T: Oh, Johnny! $ C: Abe Olman $ <song>",
        "completion": " `C`G2 F E | G2 F E | `G7`F E F D- | D3 z | $ A2 G F | A2 G ^F | `C`G ^F G E- | E G `Cdim`A `G7`B |"
                      " $ `C`c2 c2 | `Cdim`c3 A | `G7`F4- | F G A ^A | $ B2 B2 | `G7+`B2 G2 | `C6`z A `Cdim`A B |"
                      " `G7`A G `Cdim`^F `G7`=F | $ `C`G2 F E | G2 F E | `G7`F E F D- | D3 G | $ `C``F7`c4- | `C`c3 z | $ <end>"}


def test_phrase_records_cut_at_a_bar_line_and_keep_the_text():
    record = dataset.phrase_record(REAL, 4)
    assert record["prompt"] == "X: 1 $ T: Oh, Johnny! $ C: Abe Olman $ <phrase> `C`G2 F E | G2 F E | `G7`F E F D- | D3 z |"
    assert record["completion"].startswith(" $ A2 G F |") and record["completion"].endswith(" $ <end>")
    assert record["prompt"].split("<phrase>")[1] + record["completion"] == REAL["completion"]  # nothing lost or added
    assert dataset.phrase_record(REAL, 20) is None  # too few bars left to continue
    assert dataset.task_of(record["prompt"]) == "phrase" and dataset.song_key(record["prompt"]) == dataset.song_key(REAL["prompt"])


def test_chord_records_chart_every_chord_at_its_onset():
    record = dataset.chords_record(REAL, 0)
    chart_text = record["prompt"].split("<chords>")[1]
    assert chart_text.startswith(" `C`x4 | x4 | `G7`x4 | x4 | $ x4 | x4 | `C`x4 | x2 `Cdim`x `G7`x | $")
    assert chart_text.endswith(" $ <song>")
    chart = dataset.ChordChart.from_body(chart_text)
    assert len(chart.bars) == 16 and chart == dataset.ChordChart.from_body(record["completion"])
    assert dataset.chart_violations(chart, record["completion"]) == []
    second = dataset.chords_record(REAL, 1)
    assert second["completion"].startswith(" `C`G2 F E |") and " `C``F7`x4 |" in second["prompt"]  # stacked chords
    assert dataset.chords_record(REAL, 2) is None
    assert abc.parse_abc(abc.decode_body(chart_text.split(" $ <song>")[0])).recurse().getElementsByClass("ChordSymbol")


def test_task_mixture_and_no_leak_across_the_split(few_texts):
    from aitunes_lib.backends import local

    songs = [{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6:]} for t in few_texts]
    mixed = dataset.task_records(songs, {"song": 1, "phrase": 2, "chords": 1}, seed=3)
    tasks = [dataset.task_of(r["prompt"]) for r in mixed]
    assert tasks.count("song") == len(songs) and tasks.count("phrase") > len(songs) and tasks.count("chords") >= len(songs)
    assert dataset.task_records(songs, {"song": 1, "phrase": 2, "chords": 1}, seed=3) == mixed  # seeded
    texts = [r["prompt"] + r["completion"] for r in mixed]
    train, val = local.split_songs(texts, 0.25, seed=0)
    assert val and not {dataset.song_key(t) for t in train} & {dataset.song_key(t) for t in val}
    assert len({dataset.song_key(t) for t in val}) == 3  # a quarter of the songs, with all their records
    with pytest.raises(ValueError, match="unknown task"):
        dataset.task_records(songs, {"melody": 1})


def test_a_prefix_in_another_key_is_transposed_and_other_meters_refused():
    phrase = dataset.phrase_input('X:1\nM:4/4\nL:1/4\nK:G\n"G"B2 d2 | "D7"c4 |')
    assert phrase == dataset.Phrase(" `C`e2 g2 | `G7`f4 |", 2, "G")  # up a fourth, as prep moves G
    same = dataset.phrase_input('"C"c2 e2 | "G7"d4')  # already in C: kept verbatim, bar line added
    assert same.prefix == " `C`c2 e2 | `G7`d4 |" and same.transposed_from is None
    with pytest.raises(dataset.TaskInputError, match="3/4"):
        dataset.phrase_input("M:3/4\nc d e |")
    with pytest.raises(dataset.TaskInputError, match="ends inside bar 2"):
        dataset.phrase_input("c d e f | g a |")
    with pytest.raises(dataset.TaskInputError, match="bar 2 .* lasts 5"):
        dataset.phrase_input("c d e f | g a b c' d' | c4 |")
    with pytest.raises(dataset.TaskInputError, match="empty"):
        dataset.phrase_input("  ")


def test_chord_charts_from_abc_or_lists_and_bad_charts_refused():
    chart, moved = dataset.chart_input('M:4/4\nK:F\n"F"x4 | "C7"x2 "F"x2 |')
    assert moved == "F" and chart.text() == " `C`x4 | `G7`x2 `C`x2 |"
    chart, moved = dataset.chart_input(["C", "Am F", "Dm G7 Em A7"])
    assert moved is None and chart.bars[2][1][1] == (Fraction(1), "G7")
    lead_sheet, _ = dataset.chart_input(REAL["completion"])  # a whole lead sheet: its notes are dropped
    assert len(lead_sheet.bars) == 22 and lead_sheet.chords[0] == (0, Fraction(0), "C")
    with pytest.raises(dataset.TaskInputError, match="empty"):
        dataset.chart_input([])
    with pytest.raises(dataset.TaskInputError, match="empty"):
        dataset.chart_input("c d e f |")  # notes but no chord symbol
    with pytest.raises(dataset.TaskInputError, match="'Hq7' in bar 2"):
        dataset.chart_input(["C", "Hq7"])
    with pytest.raises(dataset.TaskInputError, match="'Xm7b' in bar 1"):
        dataset.chart_input('"Xm7b"x4 |')
    with pytest.raises(dataset.TaskInputError, match="3 chords"):
        dataset.chart_input(["C G F"])
    with pytest.raises(dataset.TaskInputError, match="6/8"):
        dataset.chart_input('M:6/8\n"C"x3 |')


def test_chart_violations_name_the_bar():
    chart, _ = dataset.chart_input(["C", "Am F"])
    assert dataset.chart_violations(chart, " `C`c4 | `Am`A2 `F`A2 | $ <end>") == []
    problems = dataset.chart_violations(chart, " `C`c4 | `Am`A3 `F`A | `G`g4 | $ <end>")
    assert problems == ["3 bars, the chart has 2", "bar 2: chords Am@0 F@3, expected Am@0 F@2"]
