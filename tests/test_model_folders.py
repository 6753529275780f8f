"""A model folder holds data, never code; it is resumed only by the same run; a damaged file is named.

Real (tiny) trainings on real OpenEWLD songs; the planted checkpoint is a real pickle whose
loading would run code.
"""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile

import pytest

from aitunes_lib import abc, cli, dataset
from aitunes_lib.backends import local
from aitunes_lib.backends.base import ModelFileError, ModelHandle
from aitunes_lib.generate import GenerateConfig
from aitunes_lib.decoding.constraints import WholeBars

QUICK = dict(preset="tiny", block_size=64, batch_size=2, warmup_steps=1, eval_every=2, save_every=1000)
PROMPT = abc.seed_prompt("Harbour Lights", "The Lanterns")


@pytest.fixture(scope="module")
def texts(few_texts):
    return few_texts[:6]


@pytest.fixture(scope="module")
def folder(texts, tmp_path_factory):
    """A model folder of a real 3-step training (with its checkpoint)."""
    out = tmp_path_factory.mktemp("model") / "m"
    local.train(texts, out, local.TrainConfig(max_steps=3, **QUICK), progress=False)
    return out


def copy_of(folder, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


class _RunsCode:
    """Unpickling this calls `open(marker, "w")`: what a planted checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant(path, marker):
    """A checkpoint.pt in torch's zip layout whose pickle runs code when loaded without weights_only."""
    payload = pickle.dumps({"optimizer": _RunsCode(marker), "step": 1, "history": []}, protocol=2)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/byteorder", "little")


def test_a_planted_code_running_checkpoint_runs_nothing(folder, texts, tmp_path, capsys):
    out = copy_of(folder, tmp_path)
    marker = tmp_path / "ran"
    plant(out / local.CHECKPOINT, marker)
    control = tmp_path / "control"
    plant(tmp_path / "control.pt", control)
    import torch

    loaded = torch.load(tmp_path / "control.pt", weights_only=False)  # the old way of loading it ...
    loaded["optimizer"].close()
    assert control.exists()  # ... ran the planted code: the plant is real
    with pytest.raises(ModelFileError, match=r"checkpoint\.pt: refused"):
        local.train(texts, out, local.TrainConfig(max_steps=5, **QUICK), progress=False)
    assert not marker.exists()
    # generating from the folder never reads the checkpoint at all
    assert local.LocalBackend(out).sample(PROMPT, 1, GenerateConfig(n=1, max_tokens=20, seed=0), WholeBars())
    assert not marker.exists()
    # the CLI says it in one line, exit code 2
    data = dataset.write_jsonl([{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6:]}
                                for t in texts], tmp_path / "songs.jsonl")
    code = cli.main(["train", "--data", str(data), "--out", str(out), "--steps", "5", "--quiet"])
    assert code == 2 and not marker.exists()
    assert "checkpoint.pt: refused" in capsys.readouterr().err


def test_pickled_weights_are_never_loaded(folder, tmp_path):
    """A folder that offers only pytorch_model.bin (a pickle) instead of safetensors is refused, unread."""
    out = copy_of(folder, tmp_path)
    marker = tmp_path / "ran"
    (out / "model.safetensors").unlink()
    plant(out / "pytorch_model.bin", marker)
    with pytest.raises(ModelFileError, match="model.safetensors: missing"):
        local.LocalBackend(out).model
    assert not marker.exists()


def test_the_same_run_resumes_and_says_when_there_is_nothing_to_do(folder, texts, tmp_path, capsys):
    out = copy_of(folder, tmp_path)
    result = local.train(texts, out, local.TrainConfig(max_steps=5, **QUICK), progress=False)
    assert list(result.history["step"]) == [1, 2, 3, 4, 5]
    with pytest.warns(UserWarning, match="already trained to 5 steps"):
        local.train(texts, out, local.TrainConfig(max_steps=5, **QUICK), progress=False)
    local.train(texts, out, local.TrainConfig(max_steps=5, **QUICK), progress=True)  # with a progress bar: one printed line
    assert "already trained to 5 steps, so there is nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize("change, says", [
    (dict(data=True), "the training data"),
    (dict(preset="small"), r"the preset \(tiny then, small now\)"),
    (dict(seed=7), r"the seed \(0 then, 7 now\)"),
])
def test_a_different_run_is_refused_before_any_work(folder, texts, tmp_path, change, says):
    out = copy_of(folder, tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    other = texts[1:] if change.pop("data", False) else texts
    with pytest.raises(local.LocalBackendError, match=says) as error:
        local.train(other, out, local.TrainConfig(max_steps=5, **{**QUICK, **change}), progress=False)
    assert "--restart" in str(error.value)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched; handle.json still true


def test_a_swapped_tokenizer_is_a_different_run(folder, texts, tmp_path):
    out = copy_of(folder, tmp_path)
    tokenizer = json.loads((out / "tokenizer.json").read_text())
    tokenizer["added_tokens"] = tokenizer["added_tokens"][:-1]
    (out / "tokenizer.json").write_text(json.dumps(tokenizer))
    with pytest.raises(local.LocalBackendError, match="tokenizer.json"):
        local.train(texts, out, local.TrainConfig(max_steps=5, **QUICK), progress=False)


def test_a_foreign_model_is_never_overwritten_unless_asked(folder, texts, tmp_path):
    out = copy_of(folder, tmp_path)
    (out / local.CHECKPOINT).unlink()  # a model someone handed over: no checkpoint of this run
    weights = (out / "model.safetensors").read_bytes()
    with pytest.raises(local.LocalBackendError, match="already holds a model that this run did not make"):
        local.train(texts, out, local.TrainConfig(max_steps=2, **QUICK), progress=False)
    assert (out / "model.safetensors").read_bytes() == weights
    local.train(texts, out, local.TrainConfig(max_steps=2, resume=False, **QUICK), progress=False)  # on purpose
    handle = ModelHandle.load(out / "handle.json")
    assert handle.details["steps"] == 2 and handle.details["preset"] == "tiny"


def test_a_truncated_checkpoint_is_named_not_a_crash(folder, texts, tmp_path):
    out = copy_of(folder, tmp_path)
    data = (out / local.CHECKPOINT).read_bytes()
    (out / local.CHECKPOINT).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"checkpoint\.pt: refused") as error:
        local.train(texts, out, local.TrainConfig(max_steps=5, **QUICK), progress=False)
    assert "--restart" in str(error.value)
    local.train(texts, out, local.TrainConfig(max_steps=4, resume=False, **QUICK), progress=False)  # the way out works


def test_saving_leaves_no_temporary_files(folder):
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "checkpoint.pt", "history.csv", "handle.json"])


@pytest.mark.parametrize("name, damage, says", [
    ("model.safetensors", lambda p: p.write_bytes(p.read_bytes()[:1000]), "model.safetensors"),
    ("model.safetensors", lambda p: p.unlink(), "model.safetensors: missing"),
    ("config.json", lambda p: p.write_text("{not json"), "config.json: not valid JSON"),
    ("tokenizer.json", lambda p: p.write_bytes(b"\xff\xfe garbage"), "tokenizer.json: not a readable tokenizer"),
    ("handle.json", lambda p: p.write_text("[1, 2"), "handle.json: not a model handle"),
])
def test_a_damaged_model_file_is_named(folder, tmp_path, name, damage, says):
    out = copy_of(folder, tmp_path)
    damage(out / name)
    with pytest.raises(ModelFileError, match=says):
        if name == "handle.json":
            ModelHandle.load(out / name)
        else:
            local.LocalBackend(out).sample(PROMPT, 1, GenerateConfig(n=1, max_tokens=10, seed=0), WholeBars())


def test_out_must_be_a_writable_folder(texts, tmp_path):
    file = tmp_path / "a_file"
    file.write_text("x")
    with pytest.raises(local.LocalBackendError, match="is a file, not a folder"):
        local.train(texts, file, local.TrainConfig(max_steps=1, **QUICK), progress=False)
    with pytest.raises(local.LocalBackendError, match="cannot write the model to"):
        local.train(texts, "/proc/aitunes-model", local.TrainConfig(max_steps=1, **QUICK), progress=False)


def test_a_checkpoint_of_an_older_version_is_named_as_such(folder, texts, tmp_path):
    import torch

    out = copy_of(folder, tmp_path)
    state = torch.load(out / local.CHECKPOINT, weights_only=True)
    del state["fingerprint"]  # what the previous version wrote
    torch.save(state, out / local.CHECKPOINT)
    with pytest.raises(local.LocalBackendError, match="from an older version of this project .*--restart"):
        local.train(texts, out, local.TrainConfig(max_steps=5, **QUICK), progress=False)


def test_loading_a_model_shows_no_third_party_bar(folder):
    """transformers drew a "Loading weights" bar before every training and generation; our own
    progress bar is the one a student needs. A fresh process, as a notebook's kernel is."""
    import subprocess
    import sys

    said = subprocess.run([sys.executable, "-c", f"from aitunes_lib.backends import local; local.load_model({str(folder)!r})"],
                          capture_output=True, text=True, check=True)
    assert "Loading weights" not in said.stdout + said.stderr and "%|" not in said.stderr, said.stderr


def test_a_checkpoint_saved_before_lora_existed_still_resumes(folder, texts, tmp_path):
    """The LoRA rank joined the run's fingerprint; a checkpoint without it meant rank 0 and resumes."""
    import torch

    out = copy_of(folder, tmp_path)
    state = local.read_checkpoint(out / local.CHECKPOINT)
    del state["fingerprint"]["lora_rank"]
    torch.save(state, out / local.CHECKPOINT)
    assert local.resume_state(out, local.run_fingerprint(local.TrainConfig(**QUICK), texts)) is not None
    with pytest.raises(local.LocalBackendError, match=r"the LoRA rank \(0 then, 4 now\)"):
        local.resume_state(out, local.run_fingerprint(local.TrainConfig(base="gpt2", lora_rank=4, **QUICK), texts)
                           | {"base": state["fingerprint"]["base"]})
