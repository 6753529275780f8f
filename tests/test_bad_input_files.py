"""Bad input, second round: model folders that hold code or absurd shapes, devices that are not
there, two runs into one folder, a cache or checkout that cannot be written, and the environment.

Real model folders (copies of the committed folk-tiny base), real OpenEWLD songs, the real CLI in a
fresh process; a planted `.py` file writes a marker file if it is ever imported.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from bad_cases import ROOT, Case, run_case

from aitunes_lib import cli, config, data, dataset, prep, workbook
from aitunes_lib.backends import local
from aitunes_lib.backends.base import ModelFileError
from aitunes_lib.generate import save_candidates
from aitunes_lib.song import Song

FOLK = ROOT / "aitunes_lib" / "models" / "folk-tiny"
SONGS = ("Jingle_Bells", "Tell_Me_Why")
MARKER = "code_ran"  # what the planted code writes, in the case's folder
PLANTED = """from pathlib import Path
Path({marker!r}).write_text("the model folder's code ran")
from transformers import GPT2Config, GPT2LMHeadModel

class EvilConfig(GPT2Config):
    model_type = "evil_tunes"

class EvilModel(GPT2LMHeadModel):
    config_class = EvilConfig
"""
AUTO_MAP = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}


# --------------------------------------------------------------------------- what the cases set up


@functools.cache
def _song_paths() -> tuple[Path, ...]:
    paths = {p.stem: p for p in data.song_paths(data.find_openewld(download=False))}
    return tuple(paths[stem] for stem in SONGS)


@functools.cache
def _training_lines() -> str:
    """songs.jsonl of two real songs, in the article's format."""
    records = []
    for path in _song_paths():
        record = prep.process_file(path)
        records.append(dataset.seed_record(Song(record["title"], record["composer"], record["body"])))
    return "".join(json.dumps(r) + "\n" for r in records)


def songs_file(folder: Path) -> None:
    (folder / "songs.jsonl").write_text(_training_lines(), encoding="utf-8")


def model_copy(folder: Path, name: str = "m", **changes) -> Path:
    """A copy of the committed base in `folder/name`, its config.json changed by `changes` (None deletes a key)."""
    target = folder / name
    shutil.copytree(FOLK, target)
    settings = json.loads((target / "config.json").read_text())
    settings.update(changes)
    (target / "config.json").write_text(json.dumps({k: v for k, v in settings.items() if v is not None}))
    return target


def with_config(**changes):
    return lambda folder: model_copy(folder, **changes)


def planted(folder: Path, tokenizer: bool = True) -> Path:
    """A model folder whose config.json's auto_map names `evil.py`, which writes the marker when imported."""
    target = model_copy(folder, "evil", auto_map=AUTO_MAP)
    if not tokenizer:  # a foreign base: transformers' own loading would ask to run the code
        (target / "tokenizer.json").unlink()
        settings = json.loads((target / "config.json").read_text())
        (target / "config.json").write_text(json.dumps({**settings, "model_type": "evil_tunes"}))
    (target / "evil.py").write_text(PLANTED.format(marker=str(folder / MARKER)))
    songs_file(folder)
    return target


def damaged(name: str, damage):
    def setup(folder: Path) -> None:
        target = model_copy(folder)
        damage(target / name)

    return setup


def mini_openewld(folder: Path) -> None:
    """Two real lead sheets, laid out as OpenEWLD is."""
    for path in _song_paths():
        target = folder / "mini" / "dataset" / path.parent.parent.name / path.parent.name / path.name
        target.parent.mkdir(parents=True)
        shutil.copy(path, target)
    (folder / "not_a_folder").write_text("a file where the cache folder would go")


_HELD: list[int] = []  # lock files held by this test process for the rest of its life: "another run"


def run_in_progress(folder: Path) -> None:
    """Another process holds the folder's training lock, as a live `train` run does."""
    import fcntl

    songs_file(folder)
    (folder / "model").mkdir()
    handle = os.open(folder / "model" / local.LOCK, os.O_RDWR | os.O_CREAT)
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(handle, str(os.getpid()).encode())
    _HELD.append(handle)


def a_file(folder: Path) -> None:
    (folder / "file").write_text("not a model")
    songs_file(folder)


def an_empty_folder(folder: Path) -> None:
    (folder / "empty").mkdir()
    songs_file(folder)


GENERATE = ("generate", "--model", "{tmp}/m", "--out", "{tmp}/gen", "-n", "1", "--seed", "0", "--title", "T", "--band", "B")
TRAIN = ("train", "--data", "{tmp}/songs.jsonl", "--out", "{tmp}/model", "--steps", "1", "--quiet")


def _cuda_is_there() -> bool:
    import torch

    return torch.cuda.is_available()


CASES: list[Case] = [
    # a model folder is data, never code
    Case("base whose auto_map names code, answered y", (*TRAIN[:5], "--base", "{tmp}/evil"), "auto_map names Python code",
         lambda f: planted(f, tokenizer=False), stdin="y\n"),
    Case("model whose auto_map names code", (*GENERATE[:2], "{tmp}/evil", *GENERATE[3:]), "never code from a model folder",
         planted, stdin="y\n"),
    # a config's shape is checked before anything is built
    Case("config n_layer 1500", GENERATE, "n_layer = 1500 is not a whole number from 1 to 256", with_config(n_layer=1500)),
    Case("config n_embd 10**6", GENERATE, "n_embd = 1000000", with_config(n_embd=10**6)),
    Case("config vocab 10**9", GENERATE, "vocab_size = 1000000000", with_config(vocab_size=10**9)),
    Case("config negative n_layer", GENERATE, "n_layer = -3", with_config(n_layer=-3)),
    Case("config n_head not a number", GENERATE, 'n_head = "four"', with_config(n_head="four")),
    Case("config n_layer true", GENERATE, "n_layer = true", with_config(n_layer=True)),
    Case("config past the memory", GENERATE, "GiB of memory", with_config(n_layer=256, n_embd=16384)),
    # the weights must fit the config: no silently random layers
    Case("config n_layer 6 over 4 layers of weights", GENERATE, "missing from the weights", with_config(n_layer=6)),
    Case("config n_layer 2 over 4 layers of weights", GENERATE, "not in the config's model", with_config(n_layer=2)),
    Case("config n_embd 128 over 256-wide weights", GENERATE, "of another shape", with_config(n_embd=128)),
    Case("base config n_layer 6 over 4 layers", (*TRAIN, "--base", "{tmp}/m"), "do not fit config.json",
         lambda f: (model_copy(f, n_layer=6), songs_file(f))),
    # neighbours: what a model path can be instead of a model folder
    Case("model is a file", (*GENERATE[:2], "{tmp}/file", *GENERATE[3:]), "is a file, not a model folder", a_file),
    Case("model is an empty folder", (*GENERATE[:2], "{tmp}/empty", *GENERATE[3:]), "config.json and tokenizer.json missing",
         an_empty_folder),
    Case("model without tokenizer.json", GENERATE, "(tokenizer.json missing)", damaged("tokenizer.json", Path.unlink)),
    Case("model config.json not JSON", GENERATE, "config.json: not valid JSON", damaged("config.json", lambda p: p.write_text("{x"))),
    Case("model config.json a list", GENERATE, "not a JSON object", damaged("config.json", lambda p: p.write_text("[1, 2]"))),
    Case("model weights truncated", GENERATE, "model.safetensors",
         damaged("model.safetensors", lambda p: p.write_bytes(p.read_bytes()[:5000]))),
    Case("base is a file", (*TRAIN, "--base", "{tmp}/file"), "is a file: give a model folder", a_file),
    Case("base is an empty folder", (*TRAIN, "--base", "{tmp}/empty"), "config.json: missing", an_empty_folder),
    Case("base is a missing folder", (*TRAIN, "--base", "./nowhere/model"), "'./nowhere/model': no such folder", songs_file),
    # devices are checked as the arguments are read
    Case("train on a GPU that is not there", (*TRAIN, "--device", "cuda:99"), "leave --device out", songs_file),
    Case("generate on a GPU that is not there", (*GENERATE, "--device", "cuda:99"), "leave --device out", with_config()),
    # one training run a folder
    Case("train into a folder another run is training into", TRAIN, "in use by another training run", run_in_progress),
    # the cache and the environment
    Case("prep cache that cannot be written", ("prep", "--data", "{tmp}/mini", "--out", "{tmp}/out", "--workers", "1", "--quiet"),
         "--no-cache", mini_openewld, env={"AITUNES_CACHE": "{tmp}/not_a_folder/cache"}, exit_code=0),
    Case("AITUNES_OPENEWLD names a missing folder", ("prep", "--out", "{tmp}/out"), "$AITUNES_OPENEWLD is",
         env={"AITUNES_OPENEWLD": "{tmp}/no-such-openewld"}),
    Case("AITUNES_OPENEWLD names a folder of something else", ("prep", "--out", "{tmp}/out"), "not an OpenEWLD folder",
         env={"AITUNES_OPENEWLD": "{tmp}"}),
]
if not _cuda_is_there():
    CASES.append(Case("--device cuda on a CPU-only torch", (*TRAIN, "--device", "cuda"), "sees no CUDA GPU", songs_file))


@pytest.mark.slow  # a fresh `python -m aitunes_lib` process a case (about 3 s each); CI runs them
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_cli_cases(case, tmp_path):
    outcome = run_case(case, tmp_path)
    assert outcome.ok, outcome.output


# --------------------------------------------------------------------------- code in a model folder


def test_the_planted_code_is_real(tmp_path):
    """What the cases guard against: trusting the folder runs its code (in a process of its own)."""
    folder = planted(tmp_path, tokenizer=False)
    script = ("from transformers import AutoConfig; "
              f"AutoConfig.from_pretrained({str(folder)!r}, trust_remote_code=True)")
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                   env={**os.environ, "HF_MODULES_CACHE": str(tmp_path / "hf_modules")})
    assert (tmp_path / MARKER).exists()


@pytest.mark.parametrize("tokenizer, argv", [(False, (*TRAIN[:5], "--base", "{tmp}/evil")),
                                             (True, (*GENERATE[:2], "{tmp}/evil", *GENERATE[3:]))])
def test_code_in_a_model_folder_never_runs_whatever_the_answer(tmp_path, tokenizer, argv):
    case = Case("auto_map", argv, "auto_map", lambda f: planted(f, tokenizer), stdin="y\n")
    outcome = run_case(case, tmp_path)
    assert outcome.ok, outcome.output
    assert not (tmp_path / MARKER).exists()
    assert len([line for line in outcome.output.splitlines() if line.strip()]) == 1, outcome.output
    assert "evil" in outcome.answer and "[y/N]" not in outcome.output
    assert not (tmp_path / "model").exists()  # train refuses the base before it makes its folder


def test_a_python_file_beside_the_weights_is_never_imported(tmp_path):
    folder = model_copy(tmp_path)
    (folder / "modeling_gpt2.py").write_text(PLANTED.format(marker=str(tmp_path / MARKER)))
    (folder / "evil.py").write_text(PLANTED.format(marker=str(tmp_path / MARKER)))
    model = local.load_model(folder)
    assert model.config.n_layer == 4
    base, _ = local.load_pretrained(str(folder), [], 64)
    assert base.config.n_layer == 4
    assert not (tmp_path / MARKER).exists()


def test_a_foreign_base_folder_with_auto_map_is_refused_by_the_library(tmp_path):
    folder = planted(tmp_path, tokenizer=False)
    with pytest.raises(ModelFileError, match=r"evil/config\.json: its auto_map names Python code"):
        local.load_pretrained(str(folder), [], 64)
    assert not (tmp_path / MARKER).exists()


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("changes, says", [
    (dict(n_layer=1500), "n_layer = 1500"),
    (dict(n_layer=2.5), "n_layer = 2.5"),
    (dict(n_positions=0), "n_positions = 0"),
    (dict(n_inner=10**7), "n_inner = 10000000"),
    (dict(n_layer=6), "24 tensors missing from the weights"),
    (dict(n_layer=3), "tensors not in the config's model"),
    (dict(vocab_size=1000), r"tensors of another shape \(transformer.wte.weight: \[VOCAB, 256\] in the weights, \[1000, 256\]"),
])
def test_a_config_that_does_not_fit_is_refused_by_name(tmp_path, changes, says):
    folder = model_copy(tmp_path, **changes)
    says = says.replace("VOCAB", str(json.loads((FOLK / "config.json").read_text())["vocab_size"]))  # the committed base's
    with pytest.raises(ModelFileError, match=says) as error:
        local.load_model(folder)
    assert str(folder) in str(error.value)


def test_a_sane_shape_is_still_accepted():
    local.check_config({**json.loads((FOLK / "config.json").read_text()), "n_inner": None}, "folk-tiny")
    assert local.load_model(FOLK).config.n_layer == 4


# --------------------------------------------------------------------------- devices


def test_a_device_that_is_not_there_is_refused_before_any_folder_is_made(tmp_path):
    with pytest.raises(local.LocalBackendError, match="cuda:99"):
        local.train(["X:1\nK:C\nC |"], tmp_path / "model", local.TrainConfig(device="cuda:99"), progress=False)
    assert not (tmp_path / "model").exists()
    songs_file(tmp_path)
    said = subprocess.run([sys.executable, "-m", "aitunes_lib", *[a.replace("{tmp}", str(tmp_path)) for a in TRAIN],
                           "--device", "cuda:99"], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert said.returncode == 2 and "Traceback" not in said.stderr and not (tmp_path / "model").exists()


# --------------------------------------------------------------------------- one run a folder


def test_a_second_run_into_a_folder_in_use_is_refused_and_changes_nothing(tmp_path, capsys):
    songs_file(tmp_path)
    out = tmp_path / "model"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with local.training_lock(out):
        assert (out / local.LOCK).read_text() == str(os.getpid())
        code = cli.main(["train", "--data", str(tmp_path / "songs.jsonl"), "--out", str(out), "--steps", "1", "--quiet"])
        assert code == 2 and f"{out} is in use by another training run (process {os.getpid()})" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == sorted([local.LOCK, "notes.txt"])
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # released, and the lock file gone


def test_a_lock_left_by_a_dead_run_does_not_block(tmp_path):
    """A run killed with -9 leaves its lock file; nobody holds it, so the next run goes ahead."""
    out = tmp_path / "model"
    out.mkdir()
    (out / local.LOCK).write_text("999999")
    with local.training_lock(out):
        assert (out / local.LOCK).read_text() == str(os.getpid())
    assert not (out / local.LOCK).exists()


def test_the_lock_is_released_when_training_fails(tmp_path):
    out = tmp_path / "model"
    base = model_copy(tmp_path, n_layer=6)
    with pytest.raises(ModelFileError, match="do not fit config.json"):
        local.train(["X:1\nK:C\nC |"], out, local.TrainConfig(max_steps=1, base=str(base)), progress=False)
    assert not (out / local.LOCK).exists()
    with local.training_lock(out):  # free again
        pass


# --------------------------------------------------------------------------- generate: one run a folder


def _songs(count: int, body: str = "C D E F | G A B c |") -> list[Song]:
    return [Song("Harbour Lights", "The Lanterns", body, candidate=i) for i in range(count)]


def test_generating_again_into_a_folder_leaves_only_this_runs_candidates(tmp_path):
    save_candidates(_songs(3), tmp_path, midi=False)
    (tmp_path / "candidate_7.abc").write_text("my own tune")  # the user's, named like ours
    (tmp_path / "candidate_2.abc").write_text("X:1\nK:C\nmy edit |")  # ours, edited since
    with pytest.warns(UserWarning, match=r"kept candidate_2.abc from an earlier run, changed since"):
        save_candidates(_songs(1, "c B A G | F E D C |"), tmp_path, midi=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["candidate_0.abc", "candidate_2.abc", "candidate_7.abc",
                                                         "candidates.jsonl"]
    assert "c B A G" in (tmp_path / "candidate_0.abc").read_text()
    assert (tmp_path / "candidate_7.abc").read_text() == "my own tune"
    records = [json.loads(line) for line in (tmp_path / "candidates.jsonl").read_text().splitlines()]
    assert [r["abc_file"] for r in records] == ["candidate_0.abc"] and set(records[0]["digests"]) == {"candidate_0.abc"}


def test_a_damaged_or_hostile_manifest_removes_nothing(tmp_path):
    import hashlib

    out = tmp_path / "gen"
    out.mkdir()
    (out / "candidate_1.abc").write_text("mine")
    (tmp_path / "outside.txt").write_text("mine too")
    digest = hashlib.sha256(b"mine too").hexdigest()
    (out / "candidates.jsonl").write_text('{"digests": {"../outside.txt": "%s"}}\n{not json\n[1]\n' % digest)
    save_candidates(_songs(1), out, midi=False)
    assert (out / "candidate_1.abc").read_text() == "mine" and (tmp_path / "outside.txt").exists()


def test_generate_three_then_one_through_the_cli(tmp_path, capsys):
    out = tmp_path / "gen"
    argv = ["generate", "--model", str(FOLK), "--out", str(out), "--seed", "0", "--title", "T", "--band", "B",
            "--no-shape", "--stats", str(tmp_path / "none.json")]
    assert cli.main([*argv, "-n", "3"]) == 0
    assert {"candidate_1.abc", "candidate_2.abc"} <= {p.name for p in out.iterdir()}
    assert cli.main([*argv, "-n", "1"]) == 0
    assert not {p.name for p in out.iterdir()} & {"candidate_1.abc", "candidate_2.abc", "candidate_1.mid", "candidate_2.mid"}
    assert len((out / "candidates.jsonl").read_text().splitlines()) == 1


# --------------------------------------------------------------------------- the prep cache


def test_a_cache_that_cannot_be_written_is_said_before_the_parse_and_skipped(tmp_path):
    (tmp_path / "file").write_text("in the way")
    settings = prep.PrepConfig(cache_dir=tmp_path / "file" / "cache", workers=1)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        records = prep.run_batch(_song_paths()[:1], settings, progress=False)
    assert records[0]["status"] == "kept"
    assert len(said) == 1 and "cannot be written" in str(said[0].message) and "--no-cache" in str(said[0].message)


# --------------------------------------------------------------------------- the environment


@pytest.mark.parametrize("value, says", [
    ('{"steps": "many"}', r"AITUNES_PARAMS: steps = \"many\" should be a whole number, like the notebook's default 300"),
    ('{"steps": true}', "steps = true should be a whole number"),
    ('{"temperature": "hot"}', "temperature = \"hot\" should be a number"),
    ('{"temperatures": [0.5, "x"]}', "temperatures = .* should be a JSON list"),
    ('{"minor_too": 1}', "minor_too = 1 should be true or false"),
    ('{"stpes": 10}', "unknown knob 'stpes'; the notebooks read base, candidates"),
    ("steps=10", "AITUNES_PARAMS is not JSON"),
    ("[10]", "must be a JSON object"),
])
def test_a_wrong_aitunes_params_names_the_knob(value, says, monkeypatch):
    monkeypatch.setenv(config.ENV_PARAMS, value)
    with pytest.raises(workbook.BadParams, match=says):  # one line in Jupyter, and a ValueError
        workbook.params(steps=300, temperature=1.0, temperatures=[0.5, 1.0], minor_too=False)


def test_right_aitunes_params_pass(monkeypatch):
    monkeypatch.setenv(config.ENV_PARAMS, '{"steps": 4, "temperature": 1, "candidates": 2, "base": null}')
    knobs = workbook.params(steps=300, temperature=1.0, base=None)
    assert (knobs.steps, knobs.temperature, knobs.base) == (4, 1, None)


def test_every_knob_a_notebook_reads_is_known():
    import re

    read = set()
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        for call in re.findall(r"params\(([^)]*)\)", path.read_text()):
            read |= set(re.findall(r"(\w+)=", call))
    assert read and read <= workbook.KNOBS, read - workbook.KNOBS


def test_a_wrong_aitunes_openewld_is_named(tmp_path, monkeypatch):
    real = data.find_openewld(download=False)
    monkeypatch.setenv(config.ENV_DATA, str(tmp_path / "gone"))
    with pytest.raises(data.DatasetError, match=r"\$AITUNES_OPENEWLD is .*gone: no such folder; correct the variable"):
        data.find_openewld(download=False)
    monkeypatch.setenv(config.ENV_DATA, str(real))
    assert data.find_openewld(download=False) == real


# --------------------------------------------------------------------------- the workbook's fork command


def _checkout(folder: Path) -> Path:
    (folder / "aitunes_lib").mkdir(parents=True)
    for name in workbook.CHECKOUT:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, folder / name)
    return folder


def _retarget(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aitunes_lib.workbook", *argv], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("name", ["../..", "./.", "..", "ada/..", "-ada/tunes", "ada/tunes/x", "ada/"])
def test_a_folder_or_bad_name_is_not_a_repository(tmp_path, name):
    clone = _checkout(tmp_path / "clone")
    before = {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()}
    said = _retarget(f"--repository={name}", "--root", str(clone))
    assert said.returncode == 2 and "OWNER/NAME" in said.stderr and len(said.stderr.splitlines()) == 1, said.stderr
    assert {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("make", [
    lambda folder: folder.mkdir(),
    lambda folder: (folder.mkdir(), (folder / "README.md").write_text(workbook.REPOSITORY)),
    lambda folder: (_checkout(folder), [p.unlink() for p in (folder / "notebooks").glob("*.ipynb")]),
])
def test_a_folder_that_is_not_the_project_is_not_rewritten(tmp_path, make):
    folder = tmp_path / "other"
    make(folder)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    said = _retarget("--repository", "ada/my-tunes", "--root", str(folder))
    assert said.returncode == 2 and "does not look like a checkout of this project" in said.stderr, said.stderr
    assert len(said.stderr.splitlines()) == 1
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_a_broken_notebook_stops_the_rewrite_before_any_file(tmp_path):
    clone = _checkout(tmp_path / "clone")
    (clone / "notebooks" / "zz_broken.ipynb").write_text("{not json")
    before = {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="zz_broken.ipynb: not a notebook"):
        workbook.retarget("ada/my-tunes", root=clone)
    assert {p: p.read_bytes() for p in clone.rglob("*") if p.is_file()} == before
    said = _retarget("--repository", "ada/my-tunes", "--root", str(_checkout(tmp_path / "good")))
    assert said.returncode == 0 and said.stdout.count("rewrote") == len(workbook.NOTEBOOKS) + 3
