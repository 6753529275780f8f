"""The article's training records, JSONL, and the validation report."""

from __future__ import annotations

import json

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
