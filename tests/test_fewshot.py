"""Few-shot generation with a current chat model (no fine-tuning): real example songs chosen from
the prep output, the chat sent through the real `openai` SDK to the local stand-in, bars repaired,
unusable replies resampled, and every candidate ranked like the local ones."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from aitunes_lib import abc, cli, dataset, fewshot, metrics, prep, tasks
from aitunes_lib.backends.openai_backend import OpenAIBackend, OpenAIBackendError, OpenAIConfig
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate
from openai_standin import StandIn

KEY = "sk-fewshot-test"
# two replies as a chat model writes them: one clean 32-bar AABA song, one with bars that do not add up
A = "`C`E G c2 | `F`A c f c | `G7`B d g2 | `C`c4 | $ `Am`A c e2 | `Dm`F A d2 | `G7`G B d2 | `C`c4 |"
B = "`F`A4 | `F`A2 G2 | `G7`G4 | `G7`B2 d2 | $ `Am`A4 | `Dm`F4 | `G7`G4 | `C`G4 |"
GOOD = " ".join([A, "$", A, "$", B, "$", A])
BROKEN = GOOD.replace("`C`c4 |", "`C`c3 |", 1).replace("`F`A4 |", "`F`A4 c2 |", 1)  # one bar short, one long


@pytest.fixture(scope="module")
def records(song_path) -> list[dict]:
    stems = ("Sleepy_Time_Gal", "Jingle_Bells", "Tell_Me_Why", "Happy_Birthday_to_You", "Careless_Love")
    return [dataset.seed_record(_song(song_path(stem))) for stem in stems]


def _song(path):
    from aitunes_lib.song import Song

    r = prep.process_file(path)
    return Song(r["title"], r["composer"], r["body"], r["meter"], r["abc_key"])


def chat_backend(standin, examples, lines=None):
    return OpenAIBackend("gpt-4o-mini", OpenAIConfig(base_url=standin.base_url, max_retries=0), api_key=KEY,
                         report=(lines.append if lines is not None else lambda line: None), examples=examples)


def chats(standin):
    return [json.loads(r["body"]) for r in standin.requests if r["path"] == "/v1/chat/completions"]


def test_examples_are_real_songs_chosen_for_variety_or_by_form(records):
    chosen = fewshot.choose(records, 3, seed=0)
    assert len(chosen) == 3 and all(c in records for c in chosen)
    assert fewshot.choose(records, 3, seed=0) == chosen  # seeded
    forms = [fewshot.text_form(r["completion"]) for r in records]
    wanted = forms[0]
    first = fewshot.choose(records, 2, seed=5, form=wanted)[0]
    assert fewshot.text_form(first["completion"]) == wanted  # the requested form comes first
    with pytest.raises(fewshot.FewShotError, match="1 to 20"):
        fewshot.choose(records, 0)
    with pytest.raises(fewshot.FewShotError, match="no usable example"):
        fewshot.choose([{"prompt": "x", "completion": "y"}], 2)


def test_text_form_agrees_with_the_music21_form(records):
    for record in records:
        song = dataset.song_from_record(record)
        assert fewshot.text_form(record["completion"]) == metrics.song_form(song), record["prompt"]


def test_repair_makes_every_bar_whole_and_leaves_real_songs_alone(records):
    fixed, changed = fewshot.repair_bars(abc.encode_body(BROKEN) if "$" not in BROKEN else " " + BROKEN + " $ <end>")
    assert changed == 2 and set(abc.bar_lengths(fixed)) == {Fraction(4)}
    assert abc.parse_abc(abc.complete_header(abc.decode_seed("X: 1 $ T: t $ C: c $ <song>", fixed)))  # music21 reads it
    good = " " + GOOD + " $ <end>"
    assert fewshot.repair_bars(good) == (good, 0)
    for record in records:  # these real songs' bars add up: nothing to repair
        assert fewshot.repair_bars(record["completion"])[1] == 0


def test_few_shot_end_to_end_over_http_with_ranking_and_the_repair_rate(records, tmp_path):
    lines: list[str] = []
    examples = fewshot.choose(records, 3, seed=0)
    with StandIn(chat_replies=[GOOD, BROKEN, "Sorry, I cannot help with that."], rolling=True) as standin:
        standin.chat_replies.append(GOOD)  # the resampled answer
        backend = chat_backend(standin, examples, lines)
        with pytest.warns(UserWarning, match="few-shot asks for it in words"):
            songs = generate(backend, "song", Request("Harbour Lights", "The Lanterns"), GenerateConfig(n=3, seed=1, song=SongShape(form="AABA")))
        sent = chats(standin)
    first = sent[0]["messages"]
    assert first[0]["role"] == "system" and "exactly four quarter" in first[0]["content"]
    assert [m["role"] for m in first[1:-1]] == ["user", "assistant"] * 3  # k examples, each a request and its song
    assert [m["content"] for m in first[2:-1:2]] == [e["completion"].strip() for e in examples]
    assert "T: Harbour Lights" in first[-1]["content"] and "Form: AABA" in first[-1]["content"] and "End on C" in first[-1]["content"]
    assert sent[0]["n"] == 3 and sent[1]["n"] == 1  # one request for the form, one to resample the refusal
    repairs = backend.repairs
    assert (repairs.candidates, repairs.repaired, repairs.bars, repairs.resampled) == (3, 1, 2, 1)
    assert repairs.rate == pytest.approx(2 / 3) and "repair rate 67%" in lines[-1]
    assert len(songs) == 3 and all(set(abc.bar_lengths(abc.encode_body(s.body))) == {Fraction(4)} for s in songs)
    table = metrics.rank(songs, metrics.ARTICLE_STATS)
    assert table["valid"].all() and (table["rhythm_ok"] == 1.0).all() and "form" in table


def test_few_shot_is_refused_for_a_shut_down_model_and_other_tasks(records):
    with StandIn(chat_replies=[GOOD]) as standin:
        standin.shutdowns["gpt-4o-mini"] = "2026-11-01"
        with pytest.raises(OpenAIBackendError, match="gpt-4o-mini was shut down"):
            generate(chat_backend(standin, records[:2]), "song", Request("A", "B"), GenerateConfig(n=1))
        standin.shutdowns["gpt-4o-mini"] = "2027-01-14"
        with pytest.raises(OpenAIBackendError, match="few-shot writes whole songs"):
            generate(chat_backend(standin, records[:2]), "phrase", Request("A", "B", tasks.get("phrase").example), GenerateConfig(n=1))


def test_the_cli_few_shot(records, tmp_path, monkeypatch, capsys):
    data = dataset.write_jsonl(records, tmp_path / "songs.jsonl")
    with StandIn(chat_replies=[GOOD, BROKEN]) as standin:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
        code = cli.main(["generate", "--backend", "openai", "--few-shot", "2", "--data", str(data), "-n", "2",
                         "--title", "Harbour Lights", "--band", "The Lanterns", "--out", str(tmp_path / "out"),
                         "--stats", str(tmp_path / "none.json"), "--form", "AABA", "--seed", "1"])  # one ending for both: one request
        said = capsys.readouterr().out
        assert code == 0 and "few-shot: 1 of 2 candidates had bars repaired (2 bars)" in said
        assert len(chats(standin)[0]["messages"]) == 1 + 2 * 2 + 1
    assert (tmp_path / "out" / "candidates.jsonl").is_file()
    assert cli.main(["generate", "--backend", "local", "--few-shot", "2", "--out", str(tmp_path / "x")]) == 2
    assert "--few-shot is for --backend openai" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:
        cli.main(["generate", "--backend", "openai", "--few-shot", "0", "--out", str(tmp_path / "x")])
    assert stopped.value.code == 2 and "--few-shot: 0 is out of range: use 1 to 20" in capsys.readouterr().err


def test_the_form_request_asks_for_the_closing_bars_in_words():
    assert fewshot.form_request("AABA", cadence=False) == (
        "Form: AABA in sections of 8 bars (32 bars); a returning letter repeats its section's bars.")
    assert "AABA in sections of 8 bars (32 bars), then 1 closing bar;" in fewshot.form_request("AABA", tail=1)
    assert "AB in sections of 8 bars (16 bars), played 2 times, then 2 closing bars;" in fewshot.form_request("AB*2", tail=2)
    assert "(32 bars), the last section a bar short;" in fewshot.form_request("ABAC", tail=-1)
    assert fewshot.form_request(None, cadence=False) == ""
    assert ("(16 bars), then a second ending of 2 bars (it replaces the last 2 when the form repeats), then 1 closing bar;"
            in fewshot.form_request("AB", tail=1, volta=2))
    assert fewshot.form_request(None, ending="Am:E") == "End on E over a `Am` chord." != fewshot.form_request(None)
