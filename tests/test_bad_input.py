"""Bad input never hurts: one test per category of what a careless user (or classmate) tries.

Model folders have their own file (`test_model_folders.py`). Real songs, real music21 parsing,
real FluidSynth, the real openai SDK against the local stand-in.
"""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest

from aitunes_lib import abc, audio, cli, dataset, metrics, prep, render, tasks
from aitunes_lib.backends import local
from aitunes_lib.backends.local import BASE_CHECKPOINT
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate
from aitunes_lib.song import Song

SONG = 'X:1\nT:t\nM:4/4\nL:1/4\nK:C\n"C"C E G c | "F"A c "G7"B d | "C"c4 |\n'


def long_song(bars: int) -> str:
    line = '"C"C D E F | "G7"G A B c | "Am"A G E C | "F"F A "G"G2 |'
    return "X:1\nT:long\nM:4/4\nL:1/4\nK:C\n" + "\n".join([line] * (bars // 4)) + "\n"


# --------------------------------------------------------------------------- scoring


@pytest.mark.parametrize("text, says", [
    ("X:1\nK:C\nC1000000 |", "absurd length"),
    ("X:1\nK:C\nC999 |", "longer than 64"),
    ("X:1\nM:1000/1\nK:C\nC4 |", "meter M:1000/1 is past the limits"),
    ("X:1\nL:1/3\nK:C\nC4 |", "unit note length L:1/3"),
    ("asdf;lkj }}}{{{", "not ABC"),
    (long_song(2004), "more than the limit of 2,000"),
    ("C" * (abc.MAX_ABC_CHARS + 1), "longer than the limit"),
])
def test_absurd_abc_is_invalid_with_its_reason_not_a_hang(text, says):
    row = metrics.evaluate(text)
    assert row["valid"] is False and says in row["reason"]


def test_a_thousand_bars_score_in_chunks_that_agree_with_one_piece():
    row = metrics.evaluate(long_song(1000))
    assert row["valid"] and row["bars"] == 1000 and row["rhythm_ok"] == 1.0
    # the chunked parse gives the same notes as one piece would: compare just past the whole-parse limit
    short = long_song(abc.WHOLE_PARSE_BARS + 32)
    chunked = metrics.note_array(abc.parse_abc(short))
    whole = metrics.note_array(abc._parse_whole(abc.complete_header(short)))  # noqa: SLF001 - the reference
    assert len(chunked) == len(whole) > 0
    np.testing.assert_array_equal(chunked, whole)


@pytest.mark.slow
def test_every_real_song_is_within_the_limits(prepared):
    result, _ = prepared
    assert result.songs
    for song in result.songs:
        assert abc.limits_problem(song.abc) is None, song.title


def test_unknown_chord_symbols_are_reported_not_silence_nor_the_previous_chord():
    known = '"C"C E G c | "C"C E G c |'
    unknown = '"C"C E G c | "Qzz"D F A d |'  # D F A d under C would all be misses
    row = metrics.evaluate(unknown)
    assert row["unknown_chords"] == "Qzz" and "Qzz" in row["reason"]
    assert row["chord_fit"] == 1.0  # bar 2 is left out, not counted under C
    assert metrics.evaluate(known)["chord_fit"] == 1.0 and metrics.evaluate(known)["unknown_chords"] == ""
    score = abc.parse_abc(unknown)
    assert abc.unknown_chords(score) == ["Qzz"] and abc.chord_pitch_classes("Qzz") is None


def test_rank_takes_anything_and_never_raises():
    table = metrics.rank([])
    assert table.empty and "valid" in table
    table = metrics.rank([SONG, "", "asdf;lkj }}}{{{", "X:1\nK:C\nC1000000 |", "z4 | z4 |"])
    assert len(table) == 5 and table.iloc[0]["valid"] and table["valid"].sum() == 1


# --------------------------------------------------------------------------- files


def test_a_damaged_cache_entry_is_named_dropped_and_recomputed(song_path, tmp_path):
    config = prep.PrepConfig(cache_dir=tmp_path / "cache", workers=1)
    path = song_path("Jingle_Bells")
    first = prep.run_batch([path], config, progress=False)[0]
    entry = next((tmp_path / "cache").iterdir())
    entry.write_text(entry.read_text()[:50])  # truncated, as a killed run used to leave it
    with pytest.warns(UserWarning, match=f"{entry.name}: damaged prep cache entry"):
        again = prep.run_batch([path], config, progress=False)[0]
    assert again["body"] == first["body"] and json.loads(entry.read_text())["body"] == first["body"]


def test_writes_are_atomic_a_failure_keeps_the_old_file(tmp_path):
    from aitunes_lib import files

    target = files.write_text(tmp_path / "a.json", "old")
    with pytest.raises(RuntimeError), files.replacing(target) as tmp:
        tmp.write_text("half of the ne")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_atomic_files_get_the_mode_a_plain_write_gives(tmp_path):
    """mkstemp's private 0600 made every output unreadable to a classmate or a web server."""
    import stat

    from aitunes_lib import files

    (tmp_path / "plain.txt").write_text("x")
    written = files.write_text(tmp_path / "atomic.txt", "x")
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)


def test_a_dataset_with_no_usable_song_says_why(tmp_path):
    folder = tmp_path / "ds" / "dataset" / "a" / "b"
    folder.mkdir(parents=True)
    (folder / "x.mxl").write_bytes(b"not a zip")
    with pytest.raises(Exception, match="no usable song among 1 files .*unreadable"):
        prep.prepare_to(tmp_path / "out", tmp_path / "ds", prep.PrepConfig(cache=False, workers=1), progress=False)


def test_bad_training_files(tmp_path):
    binary = tmp_path / "songs.jsonl"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(dataset.DatasetError, match="not UTF-8 text"):
        local.training_texts(binary)
    with pytest.raises(dataset.DatasetError, match="is a folder"):
        local.training_texts(tmp_path)
    good = {"prompt": abc.seed_prompt("A", "B"), "completion": " C D E F | $ <end>"}
    huge = {"prompt": abc.seed_prompt("Huge", "B"), "completion": " C" * local.MAX_RECORD_CHARS}
    dataset.write_jsonl([good, huge, good], tmp_path / "mixed.jsonl")
    with pytest.warns(UserWarning, match=r"skipped 1 record\(s\) longer than 20,000 characters \(records 2\)"):
        assert len(local.training_texts(tmp_path / "mixed.jsonl")) == 2


# --------------------------------------------------------------------------- the command line


def run_cli(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse refuses a value before any work
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize("argv, says", [
    (["prep", "--out", "x", "--workers", "-1"], "argument --workers: -1 is out of range"),
    (["train", "--data", "x", "--steps", "-5"], "argument --steps: -5 is out of range"),
    (["train", "--data", "x", "--max-minutes", "0"], "argument --max-minutes: 0 is out of range: use above 0"),
    (["train", "--data", "x", "--seed", "-1"], "argument --seed: -1 is out of range"),
    (["train", "--data", "x", "--device", "nonsense"], "argument --device: 'nonsense' is not a device"),
    (["generate", "--model", "m", "--out", "o", "--top-p", "-0.5"], "argument --top-p: -0.5 is out of range"),
    (["generate", "--model", "m", "--out", "o", "-n", "0"], "argument -n: 0 is out of range"),
    (["generate", "--model", "m", "--out", "o", "-n", "-3"], "argument -n: -3 is out of range"),
    (["generate", "--model", "m", "--out", "o", "-n", "100000"], "argument -n: 100000 is too many at once: at most"),
    (["generate", "--model", "m", "--out", "o", "--temperature", "-1"], "argument --temperature: -1 is out of range"),
    (["generate", "--model", "m", "--out", "o", "--temperature", "nan"], "argument --temperature: nan is out of range"),
])
def test_every_argument_is_checked_before_work(capsys, argv, says):
    code, err = run_cli(capsys, *argv)
    assert code == 2 and says in err and "Traceback" not in err


def test_files_a_user_names_are_checked_in_one_line(capsys, tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "binary.abc").write_bytes(b"\x00\x01\x02MThd")
    (tmp_path / "latin1.abc").write_bytes("T:Caf\xe9\nC D E F |".encode("latin-1"))
    (tmp_path / "stats.json").write_text("{broken")
    (tmp_path / "good.abc").write_text(SONG)
    cases = [
        (["prep", "--out", str(tmp_path / "a_file")], "is a file: choose a folder"),
        (["generate", "--model", "m", "--out", str(tmp_path / "a_file")], "is a file: choose a folder"),
        (["score", str(tmp_path)], "is a folder: give a file"),
        (["score", str(tmp_path / "binary.abc")], "a binary file, not ABC text"),
        (["score", str(tmp_path / "latin1.abc")], "not UTF-8 text"),
        (["score", str(tmp_path / "good.abc"), "--stats", str(tmp_path / "stats.json")], "stats.json: not a statistics file"),
        (["generate", "--model", str(tmp_path), "--out", str(tmp_path / "o"), "--task", "chords",
          "--input", str(tmp_path / "binary.abc")], "a binary file"),
    ]
    for argv, says in cases:
        code, err = run_cli(capsys, *argv)
        assert code == 2 and says in err and "Traceback" not in err and err.count("\n") == 1, (argv, err)


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    def broken(args):
        raise TypeError("something nobody foresaw")

    monkeypatch.setattr(cli, "_score", broken)
    parser = cli.parser
    monkeypatch.setattr(cli, "parser", lambda: _with_handler(parser(), "score", broken))
    code, err = run_cli(capsys, "score", "x.abc")
    assert code == 1 and err == "error: TypeError: something nobody foresaw (run again with --debug for the traceback)\n"
    with pytest.raises(TypeError):
        cli.main(["score", "x.abc", "--debug"])


def _with_handler(root, command, handler):
    for action in root._subparsers._group_actions:  # noqa: SLF001 - argparse keeps subcommands here
        action.choices[command].set_defaults(handler=handler)
    return root


# --------------------------------------------------------------------------- names and generation


def test_titles_cannot_break_the_format_or_the_terminal():
    request = Request("Blue `Moon` <end> $ \x1b[31m\x07", "The\tBand\x00 <song>")
    assert request.title == "Blue 'Moon' end S [31m" and request.composer == "The Band song"
    assert Request("\x1b\x07", "").title == "Untitled"


@pytest.mark.slow
def test_a_title_with_the_stop_marker_still_gives_every_candidate():
    from aitunes_lib.backends.local import LocalBackend

    backend = LocalBackend(BASE_CHECKPOINT)
    songs = generate(backend, "song", Request("Stop `<end>` here\x1b", "Band $ <end>"),
                     GenerateConfig(n=3, seed=0, max_tokens=120, song=SongShape(form=None)))
    assert len(songs) == 3 and all("<end>" not in s.title and "\x1b" not in s.abc for s in songs)
    assert metrics.rank(songs)["valid"].all()


# --------------------------------------------------------------------------- audio


def read_wav(path):
    with wave.open(str(path)) as f:
        return np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)


def test_a_song_of_rests_gives_a_silent_wav(tmp_path):
    samples = read_wav(audio.to_wav(Song("Rests", "x", "z4 | z4 | z4 |"), 120, tmp_path / "rests.wav"))
    assert len(samples) > 44100 and np.abs(samples).max() == 0
    loud = read_wav(audio.to_wav(Song.from_abc(SONG), 120, tmp_path / "song.wav"))
    assert np.abs(loud).max() > 0.8 * 32767  # a real song is still raised to the peak


@pytest.mark.parametrize("tempo", [0, -60, float("nan"), 10_000])
def test_tempo_must_be_sensible(tmp_path, tempo):
    with pytest.raises(ValueError, match="use a tempo from 20 to 400"):
        audio.to_wav(Song.from_abc(SONG), tempo, tmp_path / "a.wav")
    with pytest.raises(ValueError, match="use a tempo from 20 to 400"):
        render.to_midi(Song.from_abc(SONG), tempo, tmp_path / "a.mid")


def test_a_three_hour_song_is_refused_with_an_estimate_and_leaves_no_file(tmp_path):
    with pytest.raises(audio.AudioError, match=r"lasts \d+ minutes at 20 bpm \(a WAV of about [\d,]+ MB\)"):
        audio.to_wav(Song.from_abc(long_song(1000)), 20, tmp_path / "long.wav")
    assert not (tmp_path / "long.wav").exists()


# --------------------------------------------------------------------------- OpenAI


def test_openai_refusals_and_bad_addresses_are_one_line(tmp_path, monkeypatch):
    from openai_standin import StandIn

    from aitunes_lib.backends.openai_backend import OpenAIBackend, OpenAIBackendError, OpenAIConfig

    records = [dataset.seed_record(Song(f"Song {i}", "Band", f'"C"C E G {"cdefgab"[i % 7]} | "G7"B d f g | "C"c4 |'))
               for i in range(10)]
    train = dataset.write_jsonl(records, tmp_path / "songs.jsonl")
    with StandIn() as standin:
        for status, says in ((403, "OpenAI refused (403)"), (409, "conflict (409)"), (422, "could not process the request (422)")):
            standin.fail_next = [status]
            backend = OpenAIBackend(settings=OpenAIConfig(base_url=standin.base_url, max_retries=0), api_key="sk-test")
            with pytest.raises(OpenAIBackendError, match=says.replace("(", r"\(").replace(")", r"\)")) as error:
                backend.fine_tune(train, confirm=True)
            assert "\n" not in str(error.value)
    for url in ("htp:/nowhere", "http://", "http://host:99999/v1"):
        with pytest.raises(OpenAIBackendError, match="malformed"):
            OpenAIBackend(settings=OpenAIConfig(base_url=url), api_key="sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "not a url")
    with pytest.raises(OpenAIBackendError, match="malformed"):
        OpenAIBackend(api_key="sk-test")


def test_a_task_input_of_garbage_is_refused_in_one_line():
    with pytest.raises(tasks.TaskInputError):
        tasks.get("chords").prompt(Request("t", "c", '"C"x4 | "Qq"x4 |'))


# --------------------------------------------------------------------------- fuzzing

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(deadline=60_000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                derandomize=True)  # the bound catches a hang, not slowness; the same cases every run
PIECES = st.sampled_from(['"C"', '"G7"', '"Qq"', "C", "c'", "z", "x", "|", "||", ":|", "|:", "(3", "2", "/", "//", "999",
                          "1000000", "-", "^", "_", "=", ",", "[", "]", "{", "}", "<", ">", " ", "\n", "M:1000/1\n",
                          "L:1/64\n", "K:Zz\n", "$", "`", "%", "!trill!", "\x00", "é"])


@settings(FUZZ, max_examples=150)
@given(st.lists(PIECES, max_size=60), st.integers(0, 400))
def test_fuzz_evaluate_and_rank_never_raise_nor_hang(pieces, cut):
    text = SONG[:cut] + "".join(pieces) + SONG[cut:]
    row = metrics.evaluate(text)
    assert isinstance(row["valid"], bool) and isinstance(row["reason"], str)
    table = metrics.rank([text, SONG])
    assert len(table) == 2 and table["valid"].any()


@pytest.fixture(scope="module")
def musicxml(song_path, tmp_path_factory):
    """One real lead sheet as MusicXML text (what the fuzzer mutates)."""
    import music21 as m21

    out = tmp_path_factory.mktemp("xml") / "song.musicxml"
    m21.converter.parse(str(song_path("Jingle_Bells"))).write("musicxml", fp=out)
    return out.read_text(encoding="utf-8")


MUTATIONS = st.lists(st.tuples(st.sampled_from(["cut", "number", "garble", "drop"]), st.integers(0, 10**6),
                               st.sampled_from(["0", "-1", "99999999", "1e308", "nan", "<", "&", "\x00", "</note>", ""])),
                     min_size=1, max_size=4)


@settings(FUZZ, max_examples=30)
@given(MUTATIONS)
def test_fuzz_prep_on_mutated_musicxml_records_a_reason(musicxml, tmp_path_factory, mutations):
    import re

    text = musicxml
    for kind, at, value in mutations:
        at %= max(1, len(text))
        if kind == "cut":
            text = text[:at]
        elif kind == "number":  # a duration, a pitch, an octave … becomes absurd
            numbers = list(re.finditer(r">(-?\d+)<", text))
            if numbers:
                m = numbers[at % len(numbers)]
                text = text[: m.start(1)] + value + text[m.end(1):]
        elif kind == "garble":
            text = text[:at] + value + text[at:]
        else:  # drop an element
            tags = list(re.finditer(r"<(note|measure|time|key|harmony|pitch|duration)>.*?</\1>", text, re.S))
            if tags:
                m = tags[at % len(tags)]
                text = text[: m.start()] + text[m.end():]
    path = tmp_path_factory.mktemp("fuzz") / "song.musicxml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    record = prep.process_file(path)
    assert record["status"] in ("kept", "skipped")
    assert record["status"] == "kept" or isinstance(record["reason"], str) and record["reason"]
    if record["status"] == "kept":
        assert metrics.evaluate(abc.abc_header("t", "c") + record["body"])["valid"] in (True, False)
