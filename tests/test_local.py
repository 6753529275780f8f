"""The local backend: real (small) trainings on real songs, save/load, resume, generation, bad input."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from aitunes_lib import abc, dataset, tasks
from aitunes_lib.backends import local
from aitunes_lib.backends.base import ModelHandle
from aitunes_lib.generate import GenerateConfig, Request, SongShape, generate
from aitunes_lib.abc import bar_lengths
from aitunes_lib.decoding.constraints import WholeBars

QUICK = dict(preset="tiny", block_size=128, batch_size=4, warmup_steps=5, eval_every=10, save_every=1000, learning_rate=2e-3)
PROMPT = abc.seed_prompt("Moonlight on the Harbour", "The Paper Lanterns")


def sample(backend, prompt, n=5, enforce_meter=True, **settings):
    """The backend's own sampling, with the meter rules (a song's constraint) unless switched off."""
    return backend.sample(prompt, n, GenerateConfig(n=max(n, 0), **settings), WholeBars() if enforce_meter else None)


@pytest.fixture(scope="module")
def train_file(few_texts, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "songs.jsonl"
    records = [{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6 :]} for t in few_texts]
    return dataset.write_jsonl(records, path)


@pytest.fixture(scope="module")
def trained(train_file, tmp_path_factory):
    """A real training of 40 steps on a dozen songs (seconds on 2 cores)."""
    out = tmp_path_factory.mktemp("model")
    backend = local.LocalBackend()
    handle = backend.fine_tune(train_file, local.TrainConfig(max_steps=40, **QUICK), out=out, progress=False)
    return backend, handle, out


def test_training_reduces_the_loss_and_saves_everything(trained):
    backend, handle, out = trained
    history = backend.history
    assert list(history["step"]) == list(range(1, 41))
    assert history["train_loss"].iloc[0] > math.log(backend.tokenizer.vocab_size) - 1  # starts near chance
    assert history["train_loss"].tail(5).mean() < 0.7 * history["train_loss"].iloc[0]
    assert history["val_loss"].notna().sum() == 4
    for name in ("config.json", "model.safetensors", "tokenizer.json", "handle.json", "history.csv", "checkpoint.pt"):
        assert (out / name).is_file(), name
    assert handle == ModelHandle.load(out / "handle.json") and handle.backend == "local" and handle.details["steps"] == 40


def test_generate_after_loading_from_disk(trained):
    _, _, out = trained
    backend = local.LocalBackend(out)
    songs = sample(backend, PROMPT, n=3, max_tokens=120, seed=1)
    assert len(songs) == 3 and all(s.endswith(" $ <end>") and s.startswith(" ") for s in songs)
    for song in songs:
        lengths = bar_lengths(song)
        assert len(lengths) >= 2 and set(lengths[1:]) == {4}, song
    assert sample(backend, PROMPT, n=3, max_tokens=120, seed=1) == songs  # the seed decides
    for song in songs:  # the sampler says where its bars end, as reading the text would
        assert song.bar_ends is not None and song.bar_ends == tuple(tasks.bar_ends(str(song)))
    assert sample(backend, PROMPT, n=0) == []
    with pytest.raises(ValueError):
        sample(backend, PROMPT, n=-1)


def test_a_song_longer_than_the_window_slides_it_on(trained):
    """A 64-bar form on a model that reads 128 tokens: the sampler slides its window on, and the
    rules, which keep every bar, still copy the returns and land the cadence."""
    _, _, out = trained
    backend = local.LocalBackend(out)
    window = local.context_length(backend.model.config)
    songs = generate(backend, "song", Request("Moonlight on the Harbour", "The Paper Lanterns"),
                     GenerateConfig(n=2, seed=4, song=SongShape(form="AABACCDC")))
    for song in songs:
        completion = abc.encode_body(song.body)
        assert song.violations == () and len(backend.tokenizer.encode(completion)) > 2 * window, song.body
        lengths = bar_lengths(completion)
        tunes = [re.sub(r"`[^`]*`|\s", "", b) for b in completion.replace(" $", "").split("|")][:-1][len(lengths) - 64:]  # the melody
        assert len(tunes) == 64 and tunes[8:15] == tunes[:7] and tunes[24:31] == tunes[:7]  # A returns (its last bar free at first)
        assert tunes[40:47] == tunes[32:39] and tunes[56:63] == tunes[40:47]  # so does C, long out of the window's view
    assert generate(backend, "song", Request("Moonlight on the Harbour", "The Paper Lanterns"),
                    GenerateConfig(n=2, seed=4, song=SongShape(form="AABACCDC"))) == songs  # the seed still decides
    config = GenerateConfig(n=2, seed=4, song=SongShape(form="AABACCDC"))
    prompt = tasks.get("song").prompt(Request("Moonlight on the Harbour", "The Paper Lanterns"), config)
    sampled = backend.sample(prompt.text, 2, config, prompt.constraint)
    assert all(len(c.bar_ends) > 16 and c.bar_ends == tuple(tasks.bar_ends(str(c))) for c in sampled)  # across the slides


def test_unseen_characters_in_a_prompt_still_generate(trained):
    backend = local.LocalBackend(trained[2])
    prompt = abc.seed_prompt("Ωμέγα Blues 🎷", "Zoë & the Ñandúes")
    assert len(backend.tokenizer.encode(prompt)) > len(prompt) // 2  # bytes stand in for unseen characters
    songs = sample(backend, prompt, n=2, max_tokens=60, seed=0, temperature=0)
    assert len(songs) == 2 and songs[0] == songs[1]  # temperature 0 is greedy


def test_generation_without_the_rules_is_also_possible(trained):
    songs = sample(local.LocalBackend(trained[2]), PROMPT, n=2, max_tokens=80, seed=3, enforce_meter=False)
    assert len(songs) == 2 and all(s.endswith(" $ <end>") for s in songs)


def test_an_interrupted_training_resumes_where_it_stopped(train_file, tmp_path):
    config = local.TrainConfig(max_steps=12, **QUICK)
    texts = local.training_texts(train_file)
    straight = local.train(texts, tmp_path / "straight", config, progress=False)

    def stop_at_7(row):
        if row["step"] == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as stop:  # a KeyboardInterrupt still: a script stops
        local.train(texts, tmp_path / "stopped", config, progress=False, callback=stop_at_7)
    assert stop.value._render_traceback_() == [  # in Jupyter, the one line that says what to do
        f"TrainingStopped: stopped at step 7 of 12; the checkpoint in {tmp_path / 'stopped'} is saved: "
        "run the training again to go on from step 7"]
    assert json.loads((tmp_path / "stopped" / "handle.json").read_text())["details"]["stopped"] == "interrupted"
    resumed = local.train(texts, tmp_path / "stopped", config, progress=False)
    assert list(resumed.history["step"]) == list(range(1, 13))
    np.testing.assert_allclose(resumed.history["train_loss"], straight.history["train_loss"], rtol=1e-4)


def test_a_wall_clock_budget_stops_cleanly_and_saves(train_file, tmp_path):
    result = local.train(local.training_texts(train_file), tmp_path, local.TrainConfig(max_steps=10_000, max_minutes=0.05, **QUICK),
                         progress=False)
    assert result.stopped == "max_minutes" and 0 < len(result.history) < 10_000
    assert sample(local.LocalBackend(tmp_path), PROMPT, n=1, max_tokens=20, seed=0)


def test_fine_tune_from_a_foreign_checkpoint(train_file, tmp_path):
    """A Hugging Face checkpoint without our tokenizer (as `gpt2` would be): its layers carry over."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    foreign = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_layer=2, n_head=2, n_embd=64, n_positions=256))
    foreign.save_pretrained(tmp_path / "foreign")
    before = foreign.transformer.h[1].mlp.c_fc.weight.detach().clone()
    config = local.TrainConfig(base=str(tmp_path / "foreign"), max_steps=8, **{**QUICK, "learning_rate": 1e-4})
    handle = local.LocalBackend().fine_tune(train_file, config, out=tmp_path / "tuned", progress=False)
    assert handle.base == str(tmp_path / "foreign")
    tuned = local.LocalBackend(tmp_path / "tuned")
    assert tuned.model.config.n_layer == 2 and tuned.model.config.vocab_size == tuned.tokenizer.vocab_size
    after = tuned.model.transformer.h[1].mlp.c_fc.weight.detach()
    assert torch.nn.functional.cosine_similarity(before.flatten(), after.flatten(), dim=0) > 0.9
    assert sample(tuned, PROMPT, n=1, max_tokens=30, seed=0)


def test_fine_tune_from_a_llama_checkpoint_with_a_short_context(train_file, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = dict(vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                 num_key_value_heads=2, max_position_embeddings=96)
    LlamaForCausalLM(LlamaConfig(**shape)).save_pretrained(tmp_path / "llama")
    config = local.TrainConfig(base=str(tmp_path / "llama"), max_steps=3, **QUICK)  # QUICK's window (128) > 96
    result = local.train(local.training_texts(train_file), tmp_path / "tuned", config, progress=False)
    assert result.stopped == "max_steps" and result.history["train_loss"].notna().all()
    songs = sample(local.LocalBackend(tmp_path / "tuned"), PROMPT, n=2, max_tokens=500, seed=0)
    assert len(songs) == 2


def test_fine_tune_from_our_own_base_keeps_its_tokenizer(trained, train_file, tmp_path):
    base = trained[2]
    config = local.TrainConfig(base=str(base), max_steps=5, **QUICK)
    local.LocalBackend().fine_tune(train_file, config, out=tmp_path, progress=False)
    assert (tmp_path / "tokenizer.json").read_text() == (base / "tokenizer.json").read_text()


def test_bad_input_gives_clear_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(dataset.DatasetError, match="empty"):
        local.LocalBackend().fine_tune(empty, progress=False)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "X: 1", "completion": " c4 | $ <end>"}\n{"prompt": oops}\n')
    with pytest.raises(dataset.DatasetError, match="line 2"):
        local.LocalBackend().fine_tune(broken, progress=False)
    fields = tmp_path / "fields.jsonl"
    fields.write_text('{"prompt": "X: 1"}\n')
    with pytest.raises(dataset.DatasetError, match="completion"):
        local.LocalBackend().fine_tune(fields, progress=False)
    with pytest.raises(FileNotFoundError, match="not a local model folder"):
        local.LocalBackend(tmp_path / "no-model")
    with pytest.raises(local.LocalBackendError, match="no model chosen"):
        sample(local.LocalBackend(), PROMPT)
    with pytest.raises(local.LocalBackendError, match="cannot load the base model"):
        local.train(["X: 1 $ T: a $ C: b $ <song> c4 | $ <end>"] * 3, tmp_path / "m",
                    local.TrainConfig(base=str(tmp_path / "nowhere"), max_steps=1), progress=False)
    with pytest.raises(ValueError, match="preset"):
        local.TrainConfig(preset="huge")


def test_learning_rate_warms_up_then_decays():
    config = local.TrainConfig(max_steps=100, warmup_steps=10, learning_rate=1.0, min_lr_ratio=0.1)
    rates = [local.learning_rate(s, config) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[10:], rates[11:])) and rates[-1] == pytest.approx(0.1, abs=0.01)


def test_holdout_is_a_stable_tenth():
    texts = [f"X: 1 $ T: Song number {i} $ C: Someone $ <song> c4 | $ <end>" for i in range(2000)]
    kept, held = local.holdout(texts)
    assert len(kept) + len(held) == len(texts) and 0.08 < len(held) / len(texts) < 0.12
    assert local.holdout(list(reversed(texts)))[1] == list(reversed(held))  # by content, not position
    changed = [t.replace("c4", "e4") for t in texts]  # the prompt alone decides
    assert local.holdout(changed)[1] == [t.replace("c4", "e4") for t in held]


def test_pretraining_on_folk_tunes_shares_the_openewld_vocabulary(train_file, tmp_path, monkeypatch):
    """`pretrain` on a few of music21's folk tunes in any meter (prepared like OpenEWLD), a few steps."""
    import dataclasses

    from aitunes_lib import corpus

    monkeypatch.setenv("AITUNES_CACHE", str(tmp_path / "cache"))
    songs, report = corpus.prepare_folk(progress=False, limit=12)
    assert len(songs) >= 8 and all(s.meter in corpus.METERS and s.key in ("C", "Am") for s in songs)
    other = [s for s in songs if s.meter != "4/4"]  # every meter is kept, and its text names it
    assert other and all(f"$ M: {s.meter} $" in corpus.pretraining_text(s) for s in other)
    config = dataclasses.replace(local.PRETRAIN, max_steps=3, block_size=128, batch_size=2, eval_every=3, save_every=100)
    result = local.pretrain(tmp_path / "base", train_file, config, progress=False, limit=12)
    assert result.stopped == "max_steps" and local.is_model_folder(tmp_path / "base")
    tokenizer = local.LocalBackend(tmp_path / "base").tokenizer
    chords = {t for text in local.training_texts(train_file) for t in re.findall(r" `[^`]+`", text)}
    assert sum(len(tokenizer.encode(c)) == 1 for c in chords) > 0.5 * len(chords)  # OpenEWLD's chord symbols are tokens


def test_the_committed_base_checkpoint_loads_and_generates():
    assert local.is_model_folder(local.BASE_CHECKPOINT)
    assert (local.BASE_CHECKPOINT / "model.safetensors").stat().st_size < 20 * 2**20
    backend = local.LocalBackend(local.BASE_CHECKPOINT)
    assert backend.model.config.n_layer == local.PRESETS["tiny"]["n_layer"]
    songs = sample(backend, PROMPT, n=2, max_tokens=200, seed=0)
    assert all(set(bar_lengths(s)[1:-1]) <= {4} for s in songs)


# --------------------------------------------------------------------------- phrase and chord tasks


@pytest.fixture(scope="module")
def tasks_model(few_texts, tmp_path_factory):
    """A real training of 40 steps on the three tasks mixed, from a dozen songs."""
    songs = [{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6 :]} for t in few_texts]
    path = dataset.write_jsonl(tasks.training_records(songs), tmp_path_factory.mktemp("tasks") / "tasks.jsonl")
    out = tmp_path_factory.mktemp("tasks-model")
    backend = local.LocalBackend()
    backend.fine_tune(path, local.TrainConfig(max_steps=40, **{**QUICK, "block_size": 256}), out=out, progress=False)
    return backend, songs


def test_complete_phrase_keeps_the_prefix_and_the_meter(tasks_model):
    backend, _ = tasks_model
    prefix = 'X:1\nM:4/4\nL:1/4\nK:F\n"F"A2 c2 | "C7"B G E C | "F"F4 |'
    config = GenerateConfig(n=4, seed=2, max_tokens=150)
    songs = generate(backend, "phrase", Request(text=prefix), config)
    phrase = tasks.phrase_input(prefix)
    assert phrase.transposed_from == "F" and phrase.prefix == " `C`E2 G2 | `G7`F D B, G, | `C`C4 |"
    assert len(songs) == 4 and all(s.violations == () and s.task == "phrase" for s in songs)
    assert [s.candidate for s in songs] == [0, 1, 2, 3] and songs[0].context["transposed_from"] == "F"
    for song in songs:
        assert song.body.startswith(abc.decode_body(phrase.prefix).strip())
        lengths = bar_lengths(abc.encode_body(song.body))
        assert len(lengths) > 3 and set(lengths) == {4}, song.body  # no pickup after the prefix: every bar is whole
    assert generate(backend, "phrase", Request(text=prefix), config) == songs


def test_a_continuation_stays_near_its_opening(tasks_model):
    """The continuation keeps to the opening's register (widened to 16 semitones) and starts within
    a fifth of the opening's last note; without the register the same model wanders further."""
    from aitunes_lib.decoding.constraints import Register, WholeBars

    backend, _ = tasks_model
    opening = 'X:1\nM:4/4\nL:1/4\nK:C\n"C"E2 G2 | "G7"F D B, G, | "C"C E G c |'
    prompt = tasks.get("phrase").prompt(Request(text=opening), GenerateConfig(n=6, seed=3, max_tokens=150))
    register = prompt.constraint.register
    assert (register.low, register.high, register.last) == (-5, 12, 12)  # G, to c: already wider than 16 semitones

    def continuations(constraint):
        texts = backend.sample(prompt.text, 6, GenerateConfig(n=6, seed=3, max_tokens=150), constraint)
        return [[abc.pitch_number(e) for e in re.findall(abc.EVENT, re.sub(r"`[^`]*`", "", t)) if abc.pitch_number(e) is not None]
                for t in texts]

    kept, free = continuations(prompt.constraint), continuations(WholeBars(bars_before=3, min_bars=4))
    inside = lambda songs: sum(register.low <= n <= register.high for s in songs for n in s) / sum(map(len, songs))
    assert inside(kept) > 0.9 and inside(kept) > inside(free) + 0.05
    assert sum(abs(s[0] - 12) <= 7 for s in kept if s) >= 5  # the join: within a fifth of the opening's last c


def test_melody_for_chords_forces_every_chord_at_its_onset(tasks_model):
    backend, songs = tasks_model
    chart_abc = tasks.CHORDS.record(songs[4], 0)["prompt"].split("<chords>")[1].split(" $ <song>")[0]  # triplets, stacked chords
    for chords in (["C", "Am F", "Dm G7", "C13 Ebdim7"], chart_abc):  # C13 and Ebdim7 are not single tokens
        chart, _ = tasks.chart_input(chords)
        melodies = generate(backend, "chords", Request(text=chords), GenerateConfig(n=3, seed=5, temperature=1.0))
        assert [m.violations for m in melodies] == [()] * 3
        for melody in melodies:
            encoded = abc.encode_body(melody.body)
            assert tasks.chart_violations(chart, encoded) == []
            assert bar_lengths(encoded) == [length for length, _ in chart.bars]
            assert melody.score.recurse().notes
    assert len(backend.tokenizer.encode(" `C13`")) > 1


def test_the_chord_tone_bonus_raises_chord_fit(tasks_model):
    from aitunes_lib import metrics

    backend, _ = tasks_model
    chords = ["C", "Am", "F", "G7", "C", "Dm G7", "Em A7", "Dm G7"]

    def fit(bonus):
        melodies = generate(backend, "chords", Request(text=chords), GenerateConfig(n=4, seed=11, song=SongShape(chord_tones=bonus)))
        assert [m.violations for m in melodies] == [()] * 4
        return np.nanmedian([metrics.chord_fit(m) for m in melodies])

    assert fit(3.0) > fit(0.0) + 0.1


def test_task_input_errors_are_clear(tasks_model):
    backend, _ = tasks_model
    with pytest.raises(tasks.TaskInputError, match="empty"):
        generate(backend, "chords", Request(text=[]))
    with pytest.raises(tasks.TaskInputError, match="'Qx9'"):
        generate(backend, "chords", Request(text=["C", "Qx9"]))
    with pytest.raises(tasks.TaskInputError, match="6/8"):
        generate(backend, "phrase", Request(text="M:6/8\nc3 d3 |"))
    with pytest.raises(tasks.TaskInputError, match="needs an opening"):
        generate(backend, "phrase", Request())
    with pytest.raises(tasks.TaskInputError, match="unknown task 'fugue'"):
        generate(backend, "fugue", Request())
    with pytest.raises(local.LocalBackendError, match="too long"):
        generate(backend, "chords", Request(text=["C"] * 120))
    with pytest.raises(ValueError, match="temperature"):
        GenerateConfig(temperature=-1)


def test_an_older_base_gains_the_task_markers(tmp_path):
    """A base saved before the task markers existed (as the committed one was until its retrain)."""
    import json
    import shutil

    older = tmp_path / "older"
    shutil.copytree(local.BASE_CHECKPOINT, older)
    table = json.loads((older / "tokenizer.json").read_text())
    markers = {"<phrase>", "<chords>"}
    table["added_tokens"] = [t for t in table["added_tokens"] if t["content"] not in markers]
    vocab = table["model"]["vocab"]
    for marker in markers:  # their rows stay, under names no text holds, so nothing is renumbered
        row = vocab.pop(marker)
        vocab[f"<unused{row}>"] = row
    (older / "tokenizer.json").write_text(json.dumps(table))
    rows = local.load_tokenizer(older).vocab_size
    assert local.load_tokenizer(older).tokens("<phrase>") != ["<phrase>"]  # this base cannot say it

    model, tokenizer = local.load_pretrained(str(older), [], 4096)
    assert tokenizer.token_id("<phrase>") >= rows and tokenizer.token_id("<chords>") >= rows  # appended, nothing renumbered
    assert model.get_input_embeddings().weight.shape[0] == tokenizer.vocab_size
    assert tokenizer.tokens("X: 1 $ T: a $ C: b $ <phrase> `C`c4 |")[-4:] == ["<phrase>", " `C`", "c4", " |"]


@pytest.mark.parametrize("meter", ["3/4", "6/8"])
def test_a_song_in_another_meter_keeps_its_bars_and_says_its_meter(trained, meter):
    """A 3/4 or 6/8 song: the prompt names the meter, every bar after a pickup lasts three
    quarters, the song's header says it, and music21 reads it with whole bars."""
    from aitunes_lib import metrics

    _, _, out = trained
    backend = local.LocalBackend(out)
    config = GenerateConfig(n=2, seed=3, song=SongShape(meter=meter, form="AB"))
    prompt = tasks.get("song").prompt(Request("Waltz", "The Lanterns"), config)
    assert f"$ M: {meter} $ <song>" in prompt.text
    for song in generate(backend, "song", Request("Waltz", "The Lanterns"), config):
        lengths = bar_lengths(abc.encode_body(song.body))
        assert song.meter == meter and f"M:{meter}" in song.abc and song.violations == (), song.violations
        assert set(lengths[1:]) == {3} and len(lengths) >= 16
        assert metrics.evaluate(song)["valid"]
        if meter == "3/4":  # one chord a bar, in the plan that the context shows
            chart = song.context["planned_chart"].split(" | ")
            assert all(len(bar.split()) == 1 for bar in chart) and chart[-1].startswith("C"), chart
            assert song.context["plan"].steps[-2] != "free" or chart[-2] == "G7", chart  # a free bar before the last: V7 (a copy keeps its chords)
    with pytest.raises(ValueError, match="meter='5/4'"):
        GenerateConfig(song=SongShape(meter="5/4"))


def test_a_song_in_minor_is_written_in_a_minor_and_ends_at_home(trained):
    """`mode="minor"`: the prompt asks for A minor, the chart arrives on Am through E7, and the
    melody lands on A over Am."""
    _, _, out = trained
    backend = local.LocalBackend(out)
    config = GenerateConfig(n=2, seed=5, song=SongShape(mode="minor", form="AB"))
    assert "$ K: Am $ <song>" in tasks.get("song").prompt(Request("Rain", "The Lanterns"), config).text
    for song in generate(backend, "song", Request("Rain", "The Lanterns"), config):
        assert song.key == "Am" and "K:Am" in song.abc and song.violations == (), song.violations
        chart = song.context["planned_chart"].split(" | ")
        assert chart[-1] == "Am" and chart[-2].split()[-1] == "E7" and chart[0].split()[0] == "Am"
        notes = re.findall(r"[_^=]?[A-Ga-g][,']*", re.sub(r'"[^"]*"', "", song.body))
        assert notes[-1].strip("_^=,'").upper() == "A"
