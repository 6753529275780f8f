"""Bad input on the OpenAI side, second round: secrets never printed, replies that are not
OpenAI's, few-shot replies in the ABC people write, inputs checked before any paid request, and
model facts that cannot be read. The real CLI in a fresh process (`CASES`), and the real
`openai` SDK over real HTTP to the local stand-in."""

from __future__ import annotations

import argparse
import json
import secrets
import tracemalloc
import warnings

import pytest

from aitunes_lib import abc, cli, config, dataset, fewshot, metrics, prep, tasks
from aitunes_lib.backends.openai_backend import (
    MODELS, OpenAIBackend, OpenAIBackendError, OpenAIConfig, replacement_for, replacements_for,
)
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate
from bad_cases import Case, run_case
from openai_standin import StandIn

KEY = "sk-proj-" + secrets.token_hex(16)  # made here, so no file can hold it
DEAD = "http://127.0.0.1:9/v1"  # nothing answers there: a case that sent a request would say "cannot reach"
PROMPT = "X: 1 $ T: Harbour Lights $ C: The Lanterns $ <song>"

# a 32-bar song as a chat model writes it in the article's format, and the same in the ABC people write
A = "`C`E G c2 | `F`A c f c | `G7`B d g2 | `C`c4 | $ `Am`A c e2 | `Dm`F A d2 | `G7`G B d2 | `C`c4 |"
GOOD = " ".join([A] * 4)
QUOTED = GOOD.replace("`", '"').replace(" $ ", "\n")  # "G7" chords, and new lines where GOOD has ' $ ' 
IN_D = ("Here is your song:\n```abc\nX:1\nT:Harbour Lights\nM:4/4\nL:1/4\nK:D\n"
        + "\n".join(['"D"F A d2 | "G"B d g d | "A7"c e a2 | "D"d4 |', '"Bm"B d f2 | "Em"G B e2 | "A7"A c e2 | "D"d4 |'] * 4)
        + "\n```\nEnjoy!")  # the same song a tone higher: F, c and f are sharp in D
WALTZ = "X:1\nM:3/4\nL:1/4\nK:C\n" + "\n".join(['"C"E G c | "F"A c f | "G7"B d g | "C"c3 |'] * 8)


def _write(name: str, text: str):
    def setup(folder):
        (folder / name).write_text(text, encoding="utf-8")
    return setup


def _stats(table: object) -> str:
    return json.dumps(table)


GOOD_TABLE = {"article": {k: dict(v) for k, v in metrics.ARTICLE_STATS.items()}}
SONG_ABC = 'X:1\nT:t\nM:4/4\nL:1/4\nK:C\n"C"C E G c | "F"A c "G7"B d | "C"c4 |\n'
OPENAI = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": DEAD}
GEN = ("generate", "--backend", "openai", "--model", "gpt-4o-mini", "--out", "{tmp}/out")

CASES: list[Case] = [
    Case("key-with-a-line-break", GEN, "has a space or line break inside it",
         env={"OPENAI_API_KEY": KEY[:20] + "\n" + KEY[20:], "OPENAI_BASE_URL": DEAD}),
    Case("key-with-a-space", GEN, "has a space or line break inside it",
         env={"OPENAI_API_KEY": KEY[:20] + " " + KEY[20:], "OPENAI_BASE_URL": DEAD}),
    Case("key-with-an-invisible-character", GEN, "invisible or non-ASCII character",
         env={"OPENAI_API_KEY": KEY[:20] + "\u200b" + KEY[20:], "OPENAI_BASE_URL": DEAD}),
    Case("key-that-is-a-whole-file", GEN, "characters long, not a key", env={"OPENAI_API_KEY": "x" * 5000, "OPENAI_BASE_URL": DEAD}),
    Case("key-empty", GEN, "No OpenAI API key", env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": DEAD}),
    Case("base-url-with-a-password", GEN, "holds a user name, password or key",
         env={"OPENAI_API_KEY": "sk-ok", "OPENAI_BASE_URL": f"https://me:{KEY}@api.example.com/v1"}),
    Case("base-url-with-a-key-in-its-query", GEN, "holds a user name, password or key",
         env={"OPENAI_API_KEY": "sk-ok", "OPENAI_BASE_URL": f"https://api.example.com/v1?api_key={KEY}"}),
    Case("timeout-zero", (*GEN, "--timeout", "0"), "--timeout: 0 is out of range", env=OPENAI),
    Case("timeout-not-a-number", (*GEN, "--timeout", "soon"), "'soon' is not a number", env=OPENAI),
    Case("train-timeout-too-long", ("train", "--backend", "openai", "--data", "{tmp}/songs.jsonl", "--timeout", "1e9"),
         "out of range", env=OPENAI),
    Case("generate-stats-without-the-article-table", (*GEN, "--stats", "{tmp}/stats.json"),
         "no 'article' statistics table (it holds corrected)", setup=_write("stats.json", '{"corrected": {}}'), env=OPENAI),
    Case("generate-stats-not-json", (*GEN, "--stats", "{tmp}/stats.json"), "not a statistics file",
         setup=_write("stats.json", "CMM 2.27 0.48"), env=OPENAI),
    Case("generate-stats-with-a-zero-deviation", (*GEN, "--stats", "{tmp}/stats.json"), "standard deviation above 0",
         setup=_write("stats.json", _stats({"article": {**GOOD_TABLE["article"], "LM": {"mean": 2.0, "std": 0}}})), env=OPENAI),
    Case("generate-stats-with-a-broken-realism", (*GEN, "--stats", "{tmp}/stats.json"), '"realism" entry is not lists of numbers',
         setup=_write("stats.json", _stats({**GOOD_TABLE, "realism": {"range": "wide"}})), env=OPENAI),
    Case("score-stats-without-the-article-table", ("score", "{tmp}/song.abc", "--stats", "{tmp}/stats.json"),
         "no 'article' statistics table (it holds corrected)",
         setup=lambda folder: (_write("song.abc", SONG_ABC)(folder), _write("stats.json", '{"corrected": {}}')(folder))),
    Case("score-corrected-variant-missing", ("score", "{tmp}/song.abc", "--stats", "{tmp}/stats.json", "--variant", "corrected"),
         "no 'corrected' statistics table (it holds article)",
         setup=lambda folder: (_write("song.abc", SONG_ABC)(folder), _write("stats.json", _stats(GOOD_TABLE))(folder))),
    Case("train-openai-out-is-a-file", ("train", "--backend", "openai", "--data", "{tmp}/songs.jsonl", "--out", "{tmp}/taken"),
         "is a file: choose a folder", setup=_write("taken", "mine"), env=OPENAI),
]


@pytest.mark.slow  # a fresh `python -m aitunes_lib` process a case (about 3 s each); CI runs them
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_cli_cases(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.ok, outcome.output
    assert KEY not in outcome.output and KEY[:20] not in outcome.output and KEY[20:] not in outcome.output


# --------------------------------------------------------------------------- secrets


def test_redact_hides_the_key_its_pieces_and_anything_shaped_like_one():
    broken = KEY[:20] + "\n" + KEY[20:]
    said = f"Illegal header value b'Bearer {broken!r}' and {KEY[3:15]} and sk-other1234567890abcd, for aitunes_lib"
    hidden = config.redact(said, broken)
    assert KEY[:20] not in hidden and KEY[20:] not in hidden and KEY[3:15] not in hidden and "other1234567890" not in hidden
    assert hidden.count(config.HIDDEN) >= 3 and hidden.endswith("for aitunes_lib")  # the rest stays readable
    assert config.redact("nothing secret here", KEY) == "nothing secret here"


def test_a_malformed_key_is_refused_before_any_request(monkeypatch):
    with StandIn() as standin:
        for key, says in ((KEY[:9] + "\n" + KEY[9:], "line break"), (KEY + "\x07", "invisible"), (KEY + "é", "non-ASCII")):
            with pytest.raises(config.BadApiKey, match=says) as error:
                OpenAIBackend(settings=OpenAIConfig(base_url=standin.base_url), api_key=key)
            assert KEY[:9] not in str(error.value) and KEY[9:] not in str(error.value)
        monkeypatch.setenv("OPENAI_API_KEY", KEY[:9] + "\r\n" + KEY[9:])
        with pytest.raises(config.BadApiKey, match=r"\$OPENAI_API_KEY has a space or line break"):
            OpenAIBackend(settings=OpenAIConfig(base_url=standin.base_url))
        assert config.has_openai_key()  # there, so that using it says what is wrong
        assert standin.requests == []


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_a_server_that_echoes_the_key_has_it_hidden(status):
    with StandIn() as standin:
        standin.echo_key, standin.fail_next = True, [status]
        backend = OpenAIBackend(settings=OpenAIConfig(base_url=standin.base_url, max_retries=0), api_key=KEY)
        with pytest.raises(OpenAIBackendError, match=rf"\({status}\).*for key \[hidden\]") as error:
            backend.use("gpt-4o-mini")
        assert KEY not in str(error.value) and KEY[:12] not in str(error.value)
        assert error.value.__cause__ is None  # nor in a chained traceback (--debug)


def test_the_cli_hides_an_echoed_key_and_a_failed_jobs_message(records, tmp_path, monkeypatch, capsys):
    with StandIn() as standin:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
        standin.echo_key, standin.fail_next = True, [403]
        assert cli.main(["generate", "--backend", "openai", "--model", "gpt-4o-mini", "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert "OpenAI refused (403)" in err and "[hidden]" in err and KEY not in err and KEY[8:20] not in err
    with StandIn(statuses=("queued", "failed"), failure=f"the key {KEY} may not fine-tune") as standin:
        lines: list[str] = []
        backend = OpenAIBackend(settings=OpenAIConfig(base_url=standin.base_url, poll_first=0.01, poll_max=0.02),
                                api_key=KEY, report=lines.append)
        train = dataset.write_jsonl(records, tmp_path / "songs.jsonl")
        with pytest.raises(OpenAIBackendError, match=r"failed: the key \[hidden\] may not fine-tune") as error:
            backend.fine_tune(train, confirm=True)
        assert KEY not in str(error.value) and not any(KEY in line for line in lines)
        assert any("[hidden]" in line for line in lines)  # the job's events said it too


def test_the_clis_last_line_of_defence_hides_a_key(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError(f"something quoted {KEY}")

    def tiny_parser():
        root = argparse.ArgumentParser()
        root.set_defaults(handler=boom)
        return root

    monkeypatch.setattr(cli, "parser", tiny_parser)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: something quoted [hidden]" in err and KEY not in err


# --------------------------------------------------------------------------- replies that are not OpenAI's


def _backend(standin, **settings):
    options = dict(base_url=standin.base_url, max_retries=1, request_timeout=5.0)
    return OpenAIBackend("gpt-4o-mini", OpenAIConfig(**{**options, **settings}), api_key=KEY, report=lambda line: None)


@pytest.mark.parametrize("name, content_type, body, says", [
    ("malformed JSON", "application/json", b'{"id": "x", "choices": [ {"index": 0, ', "its reply is not JSON: Expecting"),
    ("an HTML page", "text/html", b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
     "it sent an HTML page, not JSON: '<!DOCTYPE html>"),
    ("no choices", "application/json", b'{"id": "x", "object": "chat.completion"}', "its reply has no choices"),
    ("empty choices", "application/json", b'{"id": "x", "choices": []}', "its reply has no choices"),
    ("a choice without a message", "application/json", b'{"id": "x", "choices": [{"index": 0}]}', "a choice has no message"),
    ("a JSON list", "application/json", b"[1, 2]", "it sent a JSON list, not an object"),
])
def test_a_reply_that_is_not_openais_is_one_line(name, content_type, body, says):
    with StandIn() as standin:
        standin.raw["/v1/chat/completions"] = (content_type, body)
        with pytest.raises(OpenAIBackendError, match="did not answer like OpenAI") as error:
            _backend(standin).chat([{"role": "user", "content": "hello"}])
    message = str(error.value)
    assert message.startswith(f"chat: the server at {standin.base_url.removesuffix('/v1')} ") and says in message
    assert "\n" not in message and len(message) < 400


def test_a_completions_reply_without_text_is_one_line():
    with StandIn() as standin:
        standin.raw["/v1/completions"] = ("application/json", b'{"id": "x", "choices": [{"index": 0, "text": 7}]}')
        backend = _backend(standin, base_model="davinci-002")
        backend.model = "ft:davinci-002:org:x:1"
        with pytest.raises(OpenAIBackendError, match="generate: .*did not answer like OpenAI .a choice has no text"):
            backend.sample(PROMPT, 2, GenerateConfig(n=2))


def test_a_huge_reply_is_refused_as_it_arrives_without_a_retry():
    with StandIn() as standin:
        standin.raw["/v1/chat/completions"] = ("application/json", b'{"choices": [' + b" " * 20_000_000 + b"]}")
        backend = _backend(standin, max_reply_mb=4, max_retries=3)
        tracemalloc.start()
        try:
            with pytest.raises(OpenAIBackendError, match=r"sent a reply of more than 4 MB .* refused unread"):
                backend.chat([{"role": "user", "content": "hello"}])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 10_000_000  # neither the 20 MB nor a parse of it
        assert len(standin.requests) == 1


def test_a_server_that_never_answers_is_left_after_timeout_times_tries():
    with StandIn() as standin:
        standin.slow["/v1/chat/completions"] = 1e9  # until the stand-in closes
        with pytest.raises(OpenAIBackendError, match=r"did not answer within 0.3 s \(2 tries\).*--timeout"):
            _backend(standin, request_timeout=0.3, max_retries=1).chat([{"role": "user", "content": "hello"}])
        assert len(standin.requests) == 2


def test_a_reply_that_trickles_in_is_cut_at_the_timeout():
    with StandIn() as standin:
        standin.drip = 0.05  # 1 KB every 50 ms: 200 KB would take 10 s
        standin.raw["/v1/chat/completions"] = ("application/json", b'{"choices": [' + b" " * 200_000 + b"]}")
        with pytest.raises(OpenAIBackendError, match=r"still sending its reply after 0.5 s"):
            _backend(standin, request_timeout=0.5).chat([{"role": "user", "content": "hello"}])
        assert len(standin.requests) == 1


def test_the_cli_timeout_reaches_the_requests(tmp_path, monkeypatch, capsys):
    with StandIn() as standin:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
        standin.slow["/v1/models/gpt-4o-mini"] = 1e9
        code = cli.main(["generate", "--backend", "openai", "--model", "gpt-4o-mini", "--timeout", "0.2", "--out", str(tmp_path / "o")])
        assert code == 2 and "did not answer within 0.2 s (4 tries)" in capsys.readouterr().err
        assert len(standin.requests) == 4  # the first try and the default three retries


@pytest.mark.parametrize("settings, says", [
    ({"request_timeout": 0}, "request_timeout=0"), ({"request_timeout": float("nan")}, "request_timeout=nan"),
    ({"max_reply_mb": -1}, "max_reply_mb=-1"), ({"max_retries": -1}, "max_retries=-1"), ({"max_retries": 2.5}, "max_retries=2.5"),
])
def test_openai_settings_out_of_range_are_refused(settings, says):
    with pytest.raises(ValueError, match=says):
        OpenAIConfig(**settings)


# --------------------------------------------------------------------------- few-shot replies in the ABC people write


@pytest.fixture(scope="module")
def records(song_path) -> list[dict]:
    from aitunes_lib.song import Song

    out = []
    for stem in ("Sleepy_Time_Gal", "Jingle_Bells", "Tell_Me_Why"):
        r = prep.process_file(song_path(stem))
        out.append(dataset.seed_record(Song(r["title"], r["composer"], r["body"], r["meter"], r["abc_key"])))
    return out


def _sounding(song) -> list[tuple[str, int]]:
    """(chord symbol or note, pitch class) in order: what a listener hears, however it is spelled."""
    import music21 as m21

    out = []
    for element in song.score.recurse().getElementsByClass((m21.harmony.ChordSymbol, m21.note.Note)):
        if isinstance(element, m21.harmony.ChordSymbol):
            out.append(("chord", element.root().pitchClass))
        else:
            out.append(("note", element.pitch.pitchClass))
    return out


def _few_shot(standin, records, n, lines=None):
    backend = OpenAIBackend("gpt-4o-mini", OpenAIConfig(base_url=standin.base_url, max_retries=0), api_key=KEY,
                            report=(lines.append if lines is not None else lambda line: None), examples=records[:2])
    return backend, generate(backend, "song", Request("Harbour Lights", "The Lanterns"),
                             GenerateConfig(n=n, seed=1, song=SongShape(planned=False)))


def test_standard_abc_chords_and_a_header_in_d_read_as_the_song_in_c(records):
    with StandIn(chat_replies=[GOOD, QUOTED, IN_D]) as standin:
        backend, songs = _few_shot(standin, records, 3)
    assert backend.repairs.resampled == 0 and backend.repairs.repaired == 0
    table = metrics.rank(songs, metrics.ARTICLE_STATS)
    assert table["valid"].all() and table["task_kept"].all() and not table["reason"].str.contains("chord").any()
    heard = [_sounding(song) for song in songs]
    assert heard[1] == heard[0]  # "G7" read as the chord G7, not as a note G
    assert heard[2] == heard[0]  # K:D honoured: F is F sharp, and the song is moved to C
    assert songs[2].key == "C" and songs[2].meter == "4/4" and "Enjoy" not in songs[2].body and "Here is" not in songs[2].body


def test_a_reply_in_three_four_is_asked_again_then_kept_in_its_meter_and_flagged(records):
    lines: list[str] = []
    with StandIn(chat_replies=[GOOD, WALTZ, WALTZ], rolling=True) as standin:
        backend, songs = _few_shot(standin, records, 2, lines)
        asked = [json.loads(r["body"])["n"] for r in standin.requests if r["path"] == "/v1/chat/completions"]
    assert asked == [2, 1]  # the waltz was asked for again once
    assert backend.repairs.other_meter == 1 and "1 written in another meter than 4/4" in lines[-1]
    waltz = songs[1]
    assert waltz.meter == "3/4" and "M:3/4" in waltz.abc and "[M:" not in waltz.body
    assert waltz.violations == ("written in 3/4, the model was asked for 4/4",)
    assert set(abc.bar_lengths(abc.encode_body(waltz.body))) == {3}  # its bars were left as written, not "repaired"
    table = metrics.rank(songs, metrics.ARTICLE_STATS)
    assert list(table["candidate"]) == [0, 1] and not table.iloc[1]["task_kept"]
    assert table.iloc[1]["violations"] == "written in 3/4, the model was asked for 4/4"


def test_a_planned_song_in_its_own_meter_keeps_its_bars_and_its_plan_checks():
    song_task = tasks.get("song")
    prompt = song_task.prompt(Request("A", "B"), GenerateConfig(n=1, seed=0, song=SongShape(form="AABA")))
    completion = fewshot.clean_reply(WALTZ)
    assert completion.startswith(" [M:3/4] ") and not fewshot.usable(completion) and fewshot.repair_bars(completion) == (completion, 0)
    song = song_task.song(prompt, completion, 0)
    assert song.meter == "3/4" and "[M:" not in song.body
    bars = tasks.own_meter(completion)[1]  # the plan's checks count the bars as written, without the field
    assert song.violations == ("written in 3/4, the model was asked for 4/4", *song_task.form_violations(prompt.plans[0], bars))


def test_other_unit_lengths_prose_and_empty_replies():
    eighths = "X:1\nL:1/8\nK:C\n" + '"C"E2 G2 c4 | "G7"B2 d2 g4 |'
    assert fewshot.clean_reply(eighths) == fewshot.clean_reply('"C"E G c2 | "G7"B d g2 |')
    assert fewshot.clean_reply("Sure! Here you go.\n" + QUOTED + "\nI hope you like it.") == fewshot.clean_reply(GOOD)
    assert fewshot.clean_reply("K:Qq\nnot music at all |") .strip().endswith("<end>")  # unreadable key: no crash
    assert not fewshot.usable(fewshot.clean_reply("")) and not fewshot.usable(fewshot.clean_reply("K:Zz\n" + QUOTED))


def test_an_empty_reply_is_asked_again_then_an_invalid_candidate(records):
    with StandIn(chat_replies=["", ""], rolling=True) as standin:
        backend, songs = _few_shot(standin, records, 1)
    assert backend.repairs.resampled == 1
    row = metrics.rank(songs, metrics.ARTICLE_STATS).iloc[0]
    assert not row["valid"] and "no notes" in row["reason"]


# --------------------------------------------------------------------------- checks before the money is spent


def test_broken_stats_are_refused_before_any_request(records, tmp_path, monkeypatch, capsys):
    data = dataset.write_jsonl(records, tmp_path / "songs.jsonl")
    (tmp_path / "corrected.json").write_text('{"corrected": {}}')
    (tmp_path / "broken.json").write_text("{not json")
    with StandIn(chat_replies=[GOOD]) as standin:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
        for stats, says in (("corrected.json", "no 'article' statistics table"), ("broken.json", "not a statistics file")):
            for model in (["--few-shot", "2", "--data", str(data)], ["--model", "ft:gpt-4o-mini:org:x:1"]):
                code = cli.main(["generate", "--backend", "openai", *model, "--stats", str(tmp_path / stats),
                                 "--out", str(tmp_path / "out")])
                assert code == 2 and says in capsys.readouterr().err
        assert standin.requests == []  # nothing sent, nothing paid


def test_score_with_a_table_of_another_variant_is_one_line(tmp_path, capsys):
    (tmp_path / "song.abc").write_text(SONG_ABC)
    (tmp_path / "stats.json").write_text('{"corrected": {}}')
    assert cli.main(["score", str(tmp_path / "song.abc"), "--stats", str(tmp_path / "stats.json")]) == 2
    assert "no 'article' statistics table (it holds corrected)" in capsys.readouterr().err
    assert metrics.stats_table(GOOD_TABLE, "article") == GOOD_TABLE["article"]
    with pytest.raises(metrics.StatsError, match="CENT with a finite mean"):
        metrics.stats_table({"article": {**GOOD_TABLE["article"], "CENT": {"mean": float("nan"), "std": 1.0}}})


def test_train_checks_its_out_folder_before_the_paid_job(tmp_path, monkeypatch, capsys):
    (tmp_path / "taken").write_text("mine")
    train = dataset.write_jsonl([{"prompt": PROMPT, "completion": " " + GOOD + " $ <end>"}] * 10, tmp_path / "songs.jsonl")
    with StandIn() as standin:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
        assert cli.main(["train", "--backend", "openai", "--data", str(train), "--out", str(tmp_path / "taken"), "--yes"]) == 2
        assert "is a file" in capsys.readouterr().err and standin.requests == []
    assert (tmp_path / "taken").read_text() == "mine"


# --------------------------------------------------------------------------- model facts


@pytest.mark.parametrize("date", ["soon", "2026-02-30", 1e20, -1e20, True, {"when": "later"}])
def test_an_unreadable_shutdown_date_counts_as_unknown(date):
    with StandIn() as standin:
        standin.shutdowns["gpt-4o-mini"] = date
        backend = _backend(standin)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert backend.use("gpt-4o-mini").model == "gpt-4o-mini"  # this project's table: live until 2027-01-14
        assert any("not a date" in str(w.message) for w in caught)


def test_a_retired_model_is_never_its_own_replacement():
    with StandIn() as standin:
        standin.shutdowns["gpt-4o-mini"] = "2026-11-01"  # the API retired it before this project's table says
        with pytest.raises(OpenAIBackendError, match="gpt-4o-mini was shut down on 2026-11-01") as error:
            _backend(standin).use("gpt-4o-mini")
        assert "use gpt-4o-mini " not in str(error.value) and "local backend" in str(error.value)
        standin.shutdowns["gpt-4o-mini-2024-07-18"] = "2027-06-01"  # a snapshot the API still serves
        with pytest.raises(OpenAIBackendError, match=r"use gpt-4o-mini-2024-07-18 \(--base-model"):
            _backend(standin).use("gpt-4o-mini")
    import datetime

    assert replacement_for("gpt-4o-mini", datetime.date(2030, 1, 1)) is None  # every model in the table retired
    for name in MODELS:
        assert name not in replacements_for(name) and replacement_for(name) != name
