"""The OpenAI backend and LLM naming, through the real `openai` SDK over real HTTP to a
local stand-in whose answers are the SDK's own response types."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess

import pytest

from aitunes_lib import abc, config, dataset, naming, prep, tasks
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate
from aitunes_lib.backends.openai_backend import (
    DEFAULT_BASE_MODEL, DEFAULT_CHAT_MODEL, MODELS, FineTuneFailed, OpenAIBackend, OpenAIBackendError, OpenAIConfig, state_path,
)
from aitunes_lib.song import Song
from conftest import ROOT
from openai_standin import StandIn


@pytest.fixture(scope="module")
def key() -> str:
    return "sk-aitunes-test-" + secrets.token_hex(16)  # made here, so no file can hold it by accident


@pytest.fixture(scope="module")
def songs(song_path) -> list[Song]:
    out = []
    for stem in ("Sleepy_Time_Gal", "Jingle_Bells", "Tell_Me_Why"):
        r = prep.process_file(song_path(stem))
        out.append(Song(r["title"], r["composer"], r["body"], r["meter"], r["abc_key"]))
    return out


@pytest.fixture
def train(tmp_path, songs):
    return dataset.write_jsonl([dataset.seed_record(s) for s in songs], tmp_path / "songs.jsonl")


def backend(standin, key, lines=None, **settings):
    options = dict(base_url=standin.base_url if standin else "http://127.0.0.1:9/v1", poll_first=0.01, poll_max=0.02, max_retries=2)
    options.update(settings)
    return OpenAIBackend(settings=OpenAIConfig(**options), api_key=key,
                         report=(lines.append if lines is not None else lambda line: None))


def sent(standin, method, path):
    return [r for r in standin.requests if r["method"] == method and r["path"].split("?")[0] == path]


def test_happy_path_upload_train_watch_generate(train, key, capsys):
    lines: list[str] = []
    with StandIn(chat_replies=["`C`E G c2 | `G7`B4 | $ `C`c4 | $ <end>"]) as standin:
        b = backend(standin, key, lines)
        handle = b.fine_tune(train, confirm=True)
        assert handle.model == "ft:gpt-4o-mini:standin:aitunes:0001" and handle.base == "gpt-4o-mini"
        upload = sent(standin, "POST", "/v1/files")[0]
        assert b'name="purpose"\r\n\r\nfine-tune' in upload["body"]
        uploaded = [json.loads(line) for line in standin.files["file-0001"].decode().splitlines()]
        assert len(uploaded) == len(train.read_text().splitlines()) and uploaded[0]["messages"][0]["role"] == "system"
        job = json.loads(sent(standin, "POST", "/v1/fine_tuning/jobs")[0]["body"])
        assert job == {"model": "gpt-4o-mini", "training_file": "file-0001", "suffix": "aitunes", "seed": 42,
                       "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 5}}}}
        assert any("cost estimate" in line and "5 epochs" in line for line in lines)
        events = [line.strip() for line in lines if line.startswith("  ")]
        assert events == [f"info: {m}" for m in standin.jobs["ftjob-0001"]["events"]]  # each once, in order
        assert events[0] == "info: Created fine-tuning job: ftjob-0001" and events[-1] == "info: Job is succeeded"
        assert json.loads(state_path(train).read_text())["model_id"] == handle.model

        candidates = b.sample("X: 1 $ T: Mr. Clean $ C: The Dishes $ <song>", 5, GenerateConfig(n=5, temperature=0.95))
        request = json.loads(sent(standin, "POST", "/v1/chat/completions")[0]["body"])
        assert request["model"] == handle.model and request["n"] == 5 and request["temperature"] == 0.95
        assert request["messages"][-1] == {"role": "user", "content": "X: 1 $ T: Mr. Clean $ C: The Dishes $ <song>"}
        assert len(sent(standin, "POST", "/v1/chat/completions")) == 1  # all n in one request
        assert candidates == [" `C`E G c2 | `G7`B4 | $ `C`c4 | $ <end>"] * 5
        assert abc.parse_abc(abc.decode_seed("X: 1 $ T: x $ C: y $ <song>", candidates[0])).recurse().notes
        for request in standin.requests:  # the key travels in the header and nowhere else
            headers = {k.lower(): v for k, v in request["headers"].items()}
            assert headers["authorization"] == f"Bearer {key}"
            assert key.encode() not in request["body"] and key not in request["path"]
            assert all(key not in v for k, v in headers.items() if k != "authorization")
    out = capsys.readouterr()
    everything = "\n".join(lines) + out.out + out.err + state_path(train).read_text()
    assert key not in everything
    tracked = subprocess.run(["git", "grep", "-l", key], cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout == ""  # nor in the repository
    untracked = subprocess.run(["grep", "-rl", "--exclude-dir=.venv", "--exclude-dir=.git", key, str(ROOT)],
                               capture_output=True, text=True)
    assert untracked.stdout == ""


def test_a_failed_job_shows_its_error(train, key):
    with StandIn(statuses=("queued", "running", "failed"), failure="the training file has too few examples") as standin:
        with pytest.raises(FineTuneFailed, match="failed: the training file has too few examples"):
            backend(standin, key).fine_tune(train, confirm=True)
    assert json.loads(state_path(train).read_text())["status"] == "failed"


def test_a_bad_key_is_refused_once_without_retry(train, key):
    with StandIn() as standin:
        standin.always = 401
        with pytest.raises(OpenAIBackendError, match=r"refused the key \(401\)"):
            backend(standin, key).fine_tune(train, confirm=True)
        assert len(standin.requests) == 1
    assert not state_path(train).exists()


def test_rate_limits_and_server_errors_are_retried_then_reported(train, key):
    with StandIn() as standin:
        standin.fail_next = [429, 503]
        handle = backend(standin, key).fine_tune(train, confirm=True)
        assert handle.model.startswith("ft:gpt-4o-mini")
        assert [r["path"] for r in standin.requests[:3]] == ["/v1/models/gpt-4o-mini"] * 3  # two retries of the first call
    with StandIn() as standin:
        standin.fail_next = [500] * 10
        with pytest.raises(OpenAIBackendError, match=r"failed \(500\) after 2 retries"):
            backend(standin, key).use("gpt-4o-mini")
        assert len(standin.requests) == 3  # the first try and two retries
    with StandIn() as standin:
        standin.fail_next = [429] * 10
        b = backend(standin, key)
        b.model = "ft:gpt-4o-mini:x"
        with pytest.raises(OpenAIBackendError, match=r"rate-limited \(429\) after 2 retries"):
            b.sample("X: 1 $ T: a $ C: b $ <song>", 5, GenerateConfig())


def test_connection_refused(key):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = backend(None, key, base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    b.model = "ft:gpt-4o-mini:x"
    with pytest.raises(OpenAIBackendError, match="cannot reach the OpenAI API"):
        b.sample("X: 1 $ T: a $ C: b $ <song>", 5, GenerateConfig())


def test_a_restarted_notebook_resumes_the_same_job(train, key):
    with StandIn(statuses=("queued", "running", "running", "running", "succeeded")) as standin:
        first = backend(standin, key)
        job_id = first.start(train, confirm=True)  # the kernel dies here, mid-training
        state = json.loads(state_path(train).read_text())
        assert state["job_id"] == job_id and state["model_id"] is None
        lines: list[str] = []
        handle = backend(standin, key, lines).fine_tune(train, confirm=True)  # a fresh kernel
        assert standin.created_jobs == 1 and len(sent(standin, "POST", "/v1/files")) == 1
        assert any(f"resuming job {job_id}" in line for line in lines)
        assert handle.details["job_id"] == job_id
        # run once more: the finished model is reused, nothing is sent but nothing is lost either
        before = len(standin.requests)
        assert backend(standin, key).fine_tune(train).model == handle.model
        assert len(standin.requests) == before


def test_cancel_a_job_and_list_jobs(train, key):
    with StandIn(statuses=("queued", "running", "running", "running")) as standin:
        b = backend(standin, key)
        job_id = b.start(train, confirm=True)
        assert [j["id"] for j in b.jobs()] == [job_id]
        assert b.cancel(train) == "cancelled"
        assert json.loads(sent(standin, "POST", f"/v1/fine_tuning/jobs/{job_id}/cancel")[0]["body"] or b"{}") == {}
        with pytest.raises(FineTuneFailed, match="cancelled"):
            b.watch(job_id, state_path(train))
        # a cancelled job in the state file is not resumed: the next run starts a new one
        b.start(train, confirm=True)
        assert standin.created_jobs == 2


def test_unconfirmed_cost_starts_nothing(train, key):
    with StandIn() as standin:
        with pytest.raises(OpenAIBackendError, match="not confirmed"):
            backend(standin, key).fine_tune(train, confirm=False)
        assert standin.requests == []


def test_cost_estimate(train, key):
    with StandIn() as standin:
        cost = backend(standin, key, prices={"gpt-4o-mini": 0.01}).estimate_cost(train)
    tokens = dataset.validation_report(dataset.read_jsonl(train), show=False)["tokens_total"]
    assert cost == {"model": "gpt-4o-mini", "tokens_per_epoch": tokens, "epochs": 5, "billed_tokens": tokens * 5,
                    "usd_per_1k": 0.01, "usd": round(tokens * 5 / 1000 * 0.01, 2)}


def test_a_bad_training_file_is_refused_before_upload(tmp_path, key, songs):
    record = dataset.seed_record(songs[0])
    bad = dataset.write_jsonl([record, record, {"prompt": "", "completion": ""}], tmp_path / "bad.jsonl")
    with StandIn() as standin:
        with pytest.raises(dataset.DatasetError, match="failed validation and was not uploaded") as error:
            backend(standin, key).fine_tune(bad, confirm=True)
        assert "duplicate pairs: 1" in str(error.value)
        assert standin.requests == []


def test_an_unknown_model_id(key):
    with StandIn() as standin:
        with pytest.raises(OpenAIBackendError, match=r"find model 'ft:gpt-4o-mini:nobody:x'.*404.*does not exist"):
            backend(standin, key).use("ft:gpt-4o-mini:nobody:x")
        assert backend(standin, key).use("gpt-4o-mini").model == "gpt-4o-mini"


def test_a_shut_down_model_is_refused_in_one_line_with_a_replacement(train, key):
    """The workbook's first default, davinci-002, shut down on 2026-10-23; the API's list says so."""
    with StandIn() as standin:
        with pytest.raises(OpenAIBackendError, match=r"^davinci-002 was shut down on 2026-10-2\d .*use gpt-4o-mini") as error:
            backend(standin, key, base_model="davinci-002").fine_tune(train, confirm=True)
        assert "\n" not in str(error.value) and sent(standin, "POST", "/v1/files") == []  # nothing uploaded
        with pytest.raises(OpenAIBackendError, match="ft:gpt-3.5-turbo:org:x:1 was shut down"):
            standin.shutdowns["ft:gpt-3.5-turbo:org:x:1"] = None
            backend(standin, key).use("ft:gpt-3.5-turbo:org:x:1")
        standin.shutdowns["gpt-4o-mini"] = "2026-11-01"  # the API's own date wins over this project's table
        with pytest.raises(OpenAIBackendError, match="gpt-4o-mini was shut down on 2026-1"):
            backend(standin, key).use("gpt-4o-mini")
    assert not any(facts.shutdown and facts.shutdown <= "2026-11-25" for name, facts in MODELS.items()
                   if name in (DEFAULT_BASE_MODEL, DEFAULT_CHAT_MODEL))


def test_a_policy_refusal_to_fine_tune_is_one_line(train, key):
    with StandIn() as standin:
        standin.fail_next = []
        real = standin.handle

        def refuse(method, path, query, body):
            if method == "POST" and path.startswith("/v1/fine_tuning/jobs"):
                return 403, {"error": {"message": "Fine-tuning is not available for this organization.",
                                       "type": "invalid_request_error", "code": "fine_tuning_unavailable", "param": None}}
            return real(method, path, query, body)

        standin.handle = refuse
        with pytest.raises(OpenAIBackendError, match=r"OpenAI refused \(403\): Fine-tuning is not available.*local backend") as error:
            backend(standin, key).fine_tune(train, confirm=True)
        assert "\n" not in str(error.value)


def test_chat_models_get_the_chat_file_and_endpoint(train, key):
    with StandIn(chat_replies=["`C`C4 | `G7`G4 | $ <end>"]) as standin:
        b = backend(standin, key, base_model="gpt-4o-mini")
        handle = b.fine_tune(train, confirm=True)
        uploaded = [json.loads(line) for line in standin.files["file-0001"].decode().splitlines()]
        assert [m["role"] for m in uploaded[0]["messages"]] == ["system", "user", "assistant"]
        assert json.loads(sent(standin, "POST", "/v1/fine_tuning/jobs")[0]["body"])["model"] == "gpt-4o-mini"
        assert b.sample("X: 1 $ T: a $ C: b $ <song>", 2, GenerateConfig(n=2)) == [" `C`C4 | `G7`G4 | $ <end>"] * 2
        request = json.loads(sent(standin, "POST", "/v1/chat/completions")[0]["body"])
        assert request["model"] == handle.model and request["n"] == 2 and request["stop"] == ["$ <end>"]
        assert request["messages"][1] == {"role": "user", "content": "X: 1 $ T: a $ C: b $ <song>"}


def test_n_zero_and_no_model(key):
    with StandIn() as standin:
        b = backend(standin, key)
        assert b.sample("X: 1 $ T: a $ C: b $ <song>", 0, GenerateConfig(n=0)) == []
        with pytest.raises(OpenAIBackendError, match="no model"):
            b.sample("X: 1 $ T: a $ C: b $ <song>", 5, GenerateConfig())
        assert standin.requests == []


def test_missing_key_names_every_way_to_give_one(monkeypatch):
    monkeypatch.delenv(config.ENV_OPENAI_KEY, raising=False)
    with pytest.raises(config.MissingApiKey) as error:
        config.openai_api_key(ask=False)
    message = str(error.value)
    assert "OPENAI_API_KEY" in message and "Colab secrets" in message and "asked" in message
    assert "--backend local" in message and "\n" not in message
    monkeypatch.setenv(config.ENV_OPENAI_KEY, "sk-from-env")
    assert config.openai_api_key(ask=False) == "sk-from-env"


def test_offline_names_are_distinct_and_reproducible():
    for seed in range(100):
        pairs = naming.invent(5, seed=seed, titles=["Blue Moon", "Tea for Two", "Stormy Weather"])
        assert len(set(pairs)) == 5 and all(t.strip() and b.strip() for t, b in pairs)
        assert pairs == naming.invent(5, seed=seed, titles=["Blue Moon", "Tea for Two", "Stormy Weather"])
    assert naming.invent(5, seed=1) != naming.invent(5, seed=2)
    assert len({naming.invent(1, seed=s)[0] for s in range(100)}) > 90


def test_parse_names_well_formed_and_malformed():
    assert naming.parse_names("Band name: The Wizards\nSong title: I'll Get There\n###") == [("I'll Get There", "The Wizards")]
    assert naming.parse_names('- **Song Title**: "Paper Moon"\n- Band: Velvet Kites') == [("Paper Moon", "Velvet Kites")]
    assert naming.parse_names("I like turtles.\nSong title:\nBand name: Only a Band") == []


def test_llm_naming_through_the_stand_in(key):
    replies = ["Band name: The Wizards\nSong title: I'll Get There", "no idea, sorry", "Song title: Rain\nBand name: Umbrellas"]
    with StandIn(chat_replies=replies) as standin:
        pairs = naming.invent_with_llm(backend(standin, key), n=3, seed=7)
        request = json.loads(sent(standin, "POST", "/v1/chat/completions")[0]["body"])
    assert request["model"] == "gpt-4o-mini" and request["n"] == 3 and request["stop"] == ["###"]
    assert "Be creative!" in request["messages"][0]["content"]
    assert pairs[:2] == [("I'll Get There", "The Wizards"), ("Rain", "Umbrellas")]
    assert len(pairs) == 3 and len(set(pairs)) == 3  # the malformed reply was replaced offline


def test_mixed_tasks_upload_and_chord_violations_are_reported(tmp_path, key, songs):
    records = tasks.training_records([dataset.seed_record(s) for s in songs], {"song": 1, "phrase": 1, "chords": 1})
    mixed = dataset.write_jsonl(records, tmp_path / "tasks.jsonl")
    with StandIn(chat_replies=["`C`E G c2 | `G7`B4 | $ `C`c4 |"]) as standin:  # every reply
        b = backend(standin, key)
        b.fine_tune(mixed, confirm=True)
        uploaded = [json.loads(line) for line in standin.files["file-0001"].decode().splitlines()]
        assert {tasks.task_of(r["messages"][1]["content"]) for r in uploaded} == {"song", "phrase", "chords"}

        config = GenerateConfig(n=2, song=SongShape(chord_tones=1.0))  # a local-only knob, ignored here
        with pytest.warns(UserWarning, match="cannot enforce a chord chart of 3 bars"):
            kept = generate(b, "chords", Request(text=["C", "G7", "C"]), config)
        assert [s.body for s in kept] == ['"C"E G c2 | "G7"B4 |\n"C"c4 |\n'] * 2 and [s.violations for s in kept] == [(), ()]
        request = json.loads(sent(standin, "POST", "/v1/chat/completions")[-1]["body"])
        assert request["messages"][-1]["content"] == "X: 1 $ T: Untitled $ C: AI-Tunes $ <chords> `C`x4 | `G7`x4 | `C`x4 | $ <song>"
        with pytest.warns(UserWarning):
            broken = generate(b, "chords", Request(text=["C", "Am F", "C", "G7"]), config)
        assert broken[0].violations == ("3 bars, the chart has 4", "bar 2: chords G7@0, expected Am@0 F@2")

        with pytest.warns(UserWarning, match="cannot enforce whole bars after the 2 bars given"):
            songs_out = generate(b, "phrase", Request("Two Bars", "Us", '"C"c2 e2 | "G7"d4 |'), config)
        request = json.loads(sent(standin, "POST", "/v1/chat/completions")[-1]["body"])
        assert request["messages"][-1]["content"] == "X: 1 $ T: Two Bars $ C: Us $ <phrase> `C`c2 e2 | `G7`d4 |"
        assert songs_out[0].body == '"C"c2 e2 | "G7"d4 | "C"E G c2 | "G7"B4 |\n"C"c4 |\n' and songs_out[0].violations == ()
        with pytest.raises(tasks.TaskInputError, match="'Zz9'"):
            generate(b, "chords", Request(text=["Zz9"]))  # refused before any request
        assert len(sent(standin, "POST", "/v1/chat/completions")) == 3


def test_a_task_file_goes_to_a_chat_model_as_it_is(tmp_path, key, songs):
    """All three record kinds keep their prompts and completions in the chat upload (once, the
    phrase records raised and the chord records got a garbage composer)."""
    records = tasks.training_records([dataset.seed_record(s) for s in songs], {"song": 1, "phrase": 1, "chords": 1})
    mixed = dataset.write_jsonl(records, tmp_path / "tasks.jsonl")
    with StandIn(chat_replies=["`C`C4 | `G7`G4 | $ <end>"]) as standin:
        backend(standin, key, base_model="gpt-4o-mini").fine_tune(mixed, confirm=True)
        uploaded = [json.loads(line)["messages"] for line in standin.files["file-0001"].decode().splitlines()]
    assert len(uploaded) == len(records)
    for messages, record in zip(uploaded, records):
        assert messages[1] == {"role": "user", "content": record["prompt"]}
        assert messages[2] == {"role": "assistant", "content": record["completion"].strip()}
    assert {tasks.task_of(m[1]["content"]) for m in uploaded} == {"song", "phrase", "chords"}
    assert all(abc.parse_prompt(m[1]["content"])[1] in {s.composer for s in songs} for m in uploaded)
