"""`python -m aitunes_lib prep` on a small real folder, and its errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from aitunes_lib import abc, tasks
from aitunes_lib.generate import load_candidates
from conftest import ROOT


def run(*args, env=None, timeout=300):
    """The CLI in a subprocess; the timeout only guards against a hang (the machines are shared)."""
    return subprocess.run([sys.executable, "-m", "aitunes_lib", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=timeout)


def dataset_task(record):
    return tasks.task_of(record["prompt"])


def test_prep_writes_the_training_file_index_and_report(tmp_path, song_path):
    folder = tmp_path / "OpenEWLD" / "dataset"
    for stem in ("Sleepy_Time_Gal", "Jingle_Bells", "Let_Me_Call_You_Sweetheart"):
        (folder / "x" / stem).mkdir(parents=True)
        shutil.copy(song_path(stem), folder / "x" / stem / f"{stem}.mxl")
    (folder / "x" / "Broken").mkdir()
    (folder / "x" / "Broken" / "Broken.mxl").write_bytes(b"PK\x03\x04 truncated")
    out = tmp_path / "out"
    result = run("prep", "--data", str(tmp_path / "OpenEWLD"), "--out", str(out), "--quiet", "--verify",
                 env={"AITUNES_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert "training pairs             2" in result.stdout
    records = [json.loads(line) for line in (out / "songs.jsonl").read_text().splitlines()]
    assert [r["prompt"].split(" $ ")[1] for r in records] == ["T: Jingle Bells", "T: Sleepy Time Gal"]
    assert all(r["completion"].endswith(" $ <end>") for r in records)
    assert len((out / "songs_chat.jsonl").read_text().splitlines()) == 2
    tasks = [json.loads(line) for line in (out / "tasks.jsonl").read_text().splitlines()]  # song ×1, phrase ×2, chords ×2
    assert sorted({(r["prompt"].split(" $ ")[1], dataset_task(r)) for r in tasks}) == [
        ("T: Jingle Bells", "chords"), ("T: Jingle Bells", "phrase"), ("T: Jingle Bells", "song"),
        ("T: Sleepy Time Gal", "chords"), ("T: Sleepy Time Gal", "phrase"), ("T: Sleepy Time Gal", "song")]
    assert len(tasks) == 10 and len((out / "tasks_chat.jsonl").read_text().splitlines()) == 10
    index = pd.read_csv(out / "index.csv")
    assert sorted(index["status"]) == ["kept", "kept", "skipped", "skipped"]
    report = json.loads((out / "report.json").read_text())
    assert report["songs"] == 4 and report["kept"] == 2
    assert report["round_trip_failures"] == {}
    assert report["validation"]["ok"]
    assert any(s["reason"].startswith("unreadable") for s in report["skipped"])


def test_prep_with_a_bad_data_path_says_what_to_do(tmp_path):
    result = run("prep", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "is not an OpenEWLD folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_and_generate_with_openai_through_the_stand_in(tmp_path, song_path):
    from aitunes_lib import dataset, prep
    from aitunes_lib.song import Song
    from openai_standin import StandIn

    songs = []
    for stem in ("Sleepy_Time_Gal", "Jingle_Bells"):
        r = prep.process_file(song_path(stem))
        songs.append(dataset.seed_record(Song(r["title"], r["composer"], r["body"])))
    train = dataset.write_jsonl(songs, tmp_path / "songs.jsonl")
    with StandIn(statuses=("queued", "running", "succeeded"), chat_replies=["`C`E G c2 | `G7`B4 | $ `C`c4 |"]) as standin:
        env = {"OPENAI_API_KEY": "sk-cli-test", "OPENAI_BASE_URL": standin.base_url}
        result = run("train", "--backend", "openai", "--data", str(train), "--yes", "--out", str(tmp_path / "model"), env=env)
        assert result.returncode == 0, result.stderr
        assert "info: Job is succeeded" in result.stdout
        result = run("generate", "--backend", "openai", "--model", str(tmp_path / "model"), "--title", "Mr. Clean",
                     "--band", "The Dishes", "-n", "3", "--out", str(tmp_path / "gen"), env=env)
        assert result.returncode == 0, result.stderr
    candidates = [json.loads(line) for line in (tmp_path / "gen" / "candidates.jsonl").read_text().splitlines()]
    assert len(candidates) == 3 and all(c["scores"]["valid"] for c in candidates)
    assert (candidates[0]["title"], candidates[0]["composer"], candidates[0]["task"]) == ("Mr. Clean", "The Dishes", "song")
    assert "warning: the OpenAI API cannot enforce the form" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "gen" / "candidate_0.abc").read_text().startswith("X:1\nT:Mr. Clean\nC:The Dishes\nL:1/4")
    assert (tmp_path / "gen" / "candidate_2.mid").stat().st_size > 50


def test_openai_without_a_key_says_how_to_give_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    result = subprocess.run([sys.executable, "-m", "aitunes_lib", "generate", "--backend", "openai", "--model", "x",
                             "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "No OpenAI API key" in result.stderr and "--backend local" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_and_generate_with_the_local_backend(tmp_path, few_texts):
    from aitunes_lib import dataset

    records = [{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6 :]} for t in few_texts]
    data = dataset.write_jsonl(records, tmp_path / "songs.jsonl")
    model = tmp_path / "model"
    result = run("train", "--backend", "local", "--data", str(data), "--preset", "tiny", "--base", "none", "--steps", "12",
                 "--out", str(model), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "from scratch" in result.stdout and "validation loss" in result.stdout
    out = tmp_path / "candidates"
    result = run("generate", "--backend", "local", "--model", str(model), "--title", "Paper Moon Parade", "--band", "The Quiet Owls",
                 "-n", "3", "--seed", "0", "--out", str(out), "--stats", str(tmp_path / "none.json"))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["title"] == "Paper Moon Parade" and r["composer"] == "The Quiet Owls" for r in records)
    assert sorted(r["candidate"] for r in records) == [0, 1, 2] and "NDM" in records[0]["scores"]
    for record in records:
        assert (out / record["abc_file"]).read_text().startswith("X:1\nT:Paper Moon Parade")
        valid = record["scores"]["valid"]
        assert (record["mid_file"] is not None) == valid and (not valid or (out / record["mid_file"]).stat().st_size > 0)
    assert [s.title for s in load_candidates(out)] == ["Paper Moon Parade"] * 3


    # the phrase and chord tasks, from ABC files
    (tmp_path / "opening.abc").write_text('X:1\nM:4/4\nL:1/4\nK:G\n"G"B2 d2 | "D7"c4 |\n')
    (tmp_path / "changes.abc").write_text('"C"x4 | "Am"x2 "F"x2 | "G7"x4 | "C"x4 |\n')
    result = run("generate", "--model", str(model), "--task", "phrase", "--prefix", str(tmp_path / "opening.abc"), "-n", "2",
                 "--seed", "1", "--out", str(tmp_path / "phrase"), "--stats", str(tmp_path / "none.json"))
    assert result.returncode == 0, result.stderr
    assert "moved from G to C, and the candidates back to G" in result.stdout and "join_interval" in result.stdout
    for record in map(json.loads, (tmp_path / "phrase" / "candidates.jsonl").read_text().splitlines()):  # in G, your bars as you wrote them
        assert record["task"] == "phrase" and record["body"].startswith('"G"B2 d2 | "D7"c4 |') and record["violations"] == []
        assert record["key"] == "G" and "K:G" in (tmp_path / "phrase" / record["abc_file"]).read_text()
    result = run("generate", "--model", str(model), "--task", "chords", "--chords", str(tmp_path / "changes.abc"), "-n", "2",
                 "--seed", "1", "--out", str(tmp_path / "chords"), "--stats", str(tmp_path / "none.json"))
    assert result.returncode == 0, result.stderr
    for record in map(json.loads, (tmp_path / "chords" / "candidates.jsonl").read_text().splitlines()):
        assert record["violations"] == [] and tasks.ChordChart.from_body(abc.encode_body(record["body"])).chords == [
            (0, 0, "C"), (1, 0, "Am"), (1, 2, "F"), (2, 0, "G7"), (3, 0, "C")]
    (tmp_path / "bad.abc").write_text('"C"x4 | "Qq"x4 |\n')
    result = run("generate", "--model", str(model), "--task", "chords", "--chords", str(tmp_path / "bad.abc"), "--out", str(tmp_path / "b"))
    assert result.returncode == 2 and "unknown chord symbol 'Qq' in bar 2" in result.stderr and "Traceback" not in result.stderr
    result = run("generate", "--model", str(model), "--task", "phrase", "--out", str(tmp_path / "b"))
    assert result.returncode == 2 and "--task phrase needs --input FILE.abc" in result.stderr
    result = run("generate", "--model", str(model), "-n", "-2", "--out", str(tmp_path / "b"))
    assert result.returncode == 2 and "argument -n: -2 is out of range" in result.stderr and "Traceback" not in result.stderr


def test_train_on_a_task_mixture(tmp_path, few_texts):
    from aitunes_lib import dataset

    records = [{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6 :]} for t in few_texts[:4]]
    data = dataset.write_jsonl(records, tmp_path / "songs.jsonl")
    result = run("train", "--data", str(data), "--mix", "song=1,phrase=1,chords=1", "--base", "none", "--steps", "3",
                 "--out", str(tmp_path / "m"), "--quiet")
    assert result.returncode == 0, result.stderr
    mixed = dataset.read_jsonl(tmp_path / "songs_song1_phrase1_chords1.jsonl")
    assert {tasks.task_of(r["prompt"]) for r in mixed} == {"song", "phrase", "chords"} and "records" in result.stdout
    result = run("train", "--data", str(data), "--mix", "verse=2", "--out", str(tmp_path / "m"))
    assert result.returncode == 2 and "task=count" in result.stderr


def test_generate_with_a_missing_local_model_says_so(tmp_path):
    result = run("generate", "--backend", "local", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "c"))
    assert result.returncode == 2 and "not a local model folder" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_the_demo_runs_end_to_end_on_the_defaults(tmp_path, openewld):
    """`make demo`'s job with few steps: prepare everything, fine-tune from the base, 5 ranked candidates."""
    out = tmp_path / "out"
    result = run("demo", "--out", str(out), "--quiet", "--steps", "3", env={"AITUNES_CACHE": str(tmp_path / "cache")}, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training pairs           379" in result.stdout
    assert "folk-tiny" in result.stdout  # fine-tuned from the committed base
    records = [json.loads(line) for line in (out / "candidates" / "candidates.jsonl").read_text().splitlines()]
    assert len(records) == 5 and sum(r["scores"]["valid"] for r in records) >= 4
    assert "NDM" in result.stdout and "wrote 5 candidates" in result.stdout
