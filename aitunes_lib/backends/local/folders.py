"""Model folders: which files make one, the run fingerprint that allows a resume, checkpoints read
as data only, the model and tokenizer loaded from safetensors and JSON (a config that names code,
or asks for an absurd size, refused before anything is built; weights that do not fit the config
refused, not filled with random layers), and the lock that keeps one training run a folder."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from aitunes_lib import files
from aitunes_lib.backends.base import ModelFileError
from aitunes_lib.backends.local.settings import LocalBackendError, TrainConfig
from aitunes_lib.tokenizer import AbcTokenizer

CHECKPOINT = "checkpoint.pt"  # optimizer state, step and history: tensors and plain types only
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", CHECKPOINT)
FINGERPRINT_NAMES = {"preset": "the preset", "base": "the base model", "block": "the window", "seed": "the seed",
                     "val_fraction": "the validation share", "vocab_size": "the vocabulary ceiling",
                     "data": "the training data", "vocabulary": "the vocabulary texts", "tokenizer": "tokenizer.json",
                     "lora_rank": "the LoRA rank"}
FINGERPRINT_DEFAULTS = {"lora_rank": "0"}  # what a checkpoint saved before a field existed meant by it


# The largest shape a config may ask for (GPT-2 names, then the Llama-style ones): past these it is a
# damaged or hostile file, refused before a single tensor is allocated. Past the machine's memory, too.
SHAPE_LIMITS: dict[str, int] = {
    "n_layer": 256, "num_hidden_layers": 256, "n_head": 256, "num_attention_heads": 256, "num_key_value_heads": 256,
    "n_embd": 16_384, "hidden_size": 16_384, "n_inner": 65_536, "intermediate_size": 65_536,
    "n_positions": 131_072, "max_position_embeddings": 131_072, "vocab_size": 1_000_000,
}
LOCK = ".training.lock"  # in a model folder while a run trains into it


def is_model_folder(path: str | Path) -> bool:
    """A folder written by this backend (weights, config and our tokenizer)."""
    path = Path(path)
    return (path / "config.json").is_file() and (path / "tokenizer.json").is_file()


def text_digest(texts: Sequence[str]) -> str:
    """A short SHA-256 of a list of texts (order matters)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()[:16]


def file_digest(path: str | Path) -> str:
    """A short SHA-256 of a file's bytes ("missing" when there is no file)."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"


def run_fingerprint(config: TrainConfig, texts: Sequence[str], tokenizer_texts: Sequence[str] = ()) -> dict[str, str]:
    """What makes two training runs the same run: resuming is allowed only when all of it matches
    (the saved tokenizer's digest is added when a checkpoint is written)."""
    return {"preset": config.preset, "base": str(config.base), "block": str(config.block), "seed": str(config.seed),
            "val_fraction": str(config.val_fraction), "vocab_size": str(config.vocab_size), "lora_rank": str(config.lora_rank),
            "data": text_digest(texts), "vocabulary": text_digest(tokenizer_texts)}


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint loaded as data only (`weights_only=True`): a file that would need code to load is refused."""
    import torch

    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:  # noqa: BLE001 - unpickling refusals, truncated archives and I/O all mean "not usable"
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise ModelFileError(f"{path}: refused, not a checkpoint of plain data ({reason}); "
                             "delete it, or start afresh there (--restart)") from error
    if not isinstance(state, dict) or not {"optimizer", "step", "history"} <= state.keys():
        raise ModelFileError(f"{path}: not a checkpoint this project wrote; delete it, or start afresh there (--restart)")
    return state


def resume_state(out: Path, fingerprint: dict[str, str]) -> dict[str, Any] | None:
    """The checkpoint to resume in `out`, None for a fresh folder; refuses a folder that holds another model or run."""
    checkpoint = out / CHECKPOINT
    if not checkpoint.is_file():
        present = [name for name in MODEL_FILES if (out / name).exists()]
        if present:
            raise LocalBackendError(f"{out} already holds a model that this run did not make ({', '.join(present)}): "
                                    "choose a new folder, or replace it on purpose (--restart)")
        return None
    state = read_checkpoint(checkpoint)
    saved = dict(state.get("fingerprint") or {})
    if not saved:
        raise LocalBackendError(f"{out} holds a checkpoint from an older version of this project (no run fingerprint), "
                                "so it cannot be checked as the same run: start afresh there (--restart) or choose a new folder")
    saved = {**FINGERPRINT_DEFAULTS, **saved}
    now = {**fingerprint, "tokenizer": file_digest(out / "tokenizer.json")}
    differs = [name for name in now if saved.get(name) != now[name]]
    if differs:
        what = ", ".join(f"{FINGERPRINT_NAMES[name]} ({saved[name]} then, {now[name]} now)"
                         if name in ("preset", "base", "block", "seed", "val_fraction", "vocab_size", "lora_rank") and name in saved
                         else f"{FINGERPRINT_NAMES[name]}" for name in differs)
        raise LocalBackendError(f"{out} holds a different training run: {what} differ; start afresh there (--restart) "
                                "or choose a new folder")
    return state


def writable_folder(out: Path) -> None:
    """Create `out` if needed and make sure a file can be written there, before any work."""
    reason = files.unwritable(out)
    if reason == files.IS_A_FILE:
        raise LocalBackendError(f"{out} is a file, not a folder: choose a folder for the model")
    if reason:
        raise LocalBackendError(f"cannot write the model to {out} ({reason}); choose a folder you can write to")


def load_tokenizer(folder: str | Path) -> AbcTokenizer:
    """The tokenizer of a model folder; a damaged file is named."""
    try:
        return AbcTokenizer.load(folder)
    except ValueError as error:
        raise ModelFileError(str(error)) from error


def quiet_transformers() -> None:
    """No "Loading weights" bar and no info-level notes (embedding resizes) from transformers in a
    notebook's output: our own progress bar and messages say what matters to the student."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def available_memory() -> int | None:
    """Bytes of memory this machine can give now (Linux's MemAvailable, else half the RAM), None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return None


def model_bytes(settings: Mapping[str, Any]) -> int:
    """About how many bytes a config's float32 weights take: token and position tables, and per
    layer 4·d² of attention plus 2·d·inner of MLP (GPT-2 and Llama alike, to within a factor of 1.5)."""
    width = settings.get("n_embd") or settings.get("hidden_size") or 0
    layers = settings.get("n_layer") or settings.get("num_hidden_layers") or 0
    inner = settings.get("n_inner") or settings.get("intermediate_size") or 4 * width
    positions = settings.get("n_positions") or 0  # learned positions (GPT-2); rotary ones cost nothing
    tables = (settings.get("vocab_size") or 0) * width * (1 if settings.get("tie_word_embeddings", True) else 2)
    return 4 * (tables + positions * width + layers * (4 * width * width + 3 * width * inner))


def check_config(settings: Any, where: str) -> None:
    """Refuse a model config that names code (`auto_map`) or asks for a shape past `SHAPE_LIMITS` or
    past this machine's memory, before anything is built; `where` names it in the message."""
    if not isinstance(settings, Mapping):
        raise ModelFileError(f"{where}: not a JSON object of model settings; use another model folder")
    if settings.get("auto_map"):
        raise ModelFileError(f"{where}: its auto_map names Python code to run ({', '.join(map(str, settings['auto_map']))}); "
                             "this project loads only transformers' own model types, never code from a model folder")
    for key, limit in SHAPE_LIMITS.items():
        value = settings.get(key)
        if value is None and key in ("n_inner", "num_key_value_heads"):  # None: the default (4·n_embd, n_head)
            continue
        if key in settings and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit):
            raise ModelFileError(f"{where}: {key} = {json.dumps(value)[:40]} is not a whole number from 1 to {limit:,}; "
                                 "the file is damaged or not a model this project can run: use another model folder")
    needed, memory = model_bytes(settings), available_memory()
    if memory is not None and needed > memory:
        raise ModelFileError(f"{where}: a model of this shape needs about {needed / 2**30:,.1f} GiB of memory and this "
                             f"machine has {memory / 2**30:,.1f} GiB free; use a smaller model")


def read_config(folder: str | Path) -> dict[str, Any]:
    """A model folder's `config.json`, checked by `check_config` (no code, a sane shape); a damaged one is named."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ModelFileError(f"{path}: missing, so {Path(folder)} is not a model folder; train a model there or use another folder")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path}: not valid JSON ({error}); train the model again or use another folder") from error
    check_config(settings, str(path))
    return settings


def load_strictly(source: str | Path, **options: Any):
    """`AutoModelForCausalLM.from_pretrained`, never running code from the model, and refusing weights
    that do not fit the config (a missing, unexpected or mis-shaped tensor) instead of filling the gap
    with random numbers."""
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    model, info = AutoModelForCausalLM.from_pretrained(source, trust_remote_code=False, output_loading_info=True,
                                                      ignore_mismatched_sizes=True, **options)
    problems = _loading_problems(info)
    if problems:
        raise ModelFileError(f"{source}: the weights do not fit config.json: {'; '.join(problems)}; "
                             "the config or model.safetensors was changed or mixed up: train the model again or use another folder")
    return model


def _loading_problems(info: Mapping[str, Any]) -> list[str]:
    """What transformers' loading report says does not fit, in words (the first two tensors of each kind)."""
    said = []
    for kind, what in (("missing_keys", "missing from the weights"), ("unexpected_keys", "not in the config's model")):
        names = sorted(map(str, info.get(kind) or ()))
        if names:
            said.append(f"{len(names)} tensors {what} ({', '.join(names[:2])}{', …' if len(names) > 2 else ''})")
    shapes = sorted(info.get("mismatched_keys") or (), key=lambda item: str(item[0]))
    if shapes:
        name, stored, wanted = shapes[0][:3]
        said.append(f"{len(shapes)} tensors of another shape ({name}: {list(stored)} in the weights, {list(wanted)} by the config)")
    return said


def load_model(folder: str | Path):
    """The causal LM of one of our model folders, from safetensors only; a damaged file is named."""
    folder = Path(folder)
    read_config(folder)
    if not (folder / "model.safetensors").is_file():
        raise ModelFileError(f"{folder / 'model.safetensors'}: missing; train the model again or use another folder")
    try:
        return load_strictly(folder, use_safetensors=True)
    except ModelFileError:
        raise
    except Exception as error:  # noqa: BLE001 - safetensors, transformers and torch each raise their own
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise ModelFileError(f"{folder / 'model.safetensors'} or config.json cannot be loaded ({reason}); "
                             "train the model again or use another folder") from error


@contextlib.contextmanager
def training_lock(out: Path) -> Iterator[None]:
    """Hold `out` for one training run: a second run into it is refused (two runs would mix their
    files). An advisory `flock` on `out/.training.lock`, which the system releases when the process
    ends however it ends, so a lock never goes stale; the file is removed on the way out."""
    try:
        import fcntl
    except ImportError:  # Windows has no flock: one run a folder is then the user's care
        yield
        return
    path = out / LOCK
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by a live run
            holder = os.read(handle, 20).decode("ascii", "replace").strip()
            os.close(handle)
            raise LocalBackendError(f"{out} is in use by another training run (process {holder or 'unknown'}): "
                                    "wait for it to finish, or train into another folder") from None
        try:
            same = os.stat(path).st_ino == os.fstat(handle).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(handle)  # the run before ours removed the file while we opened it: lock the new one
    try:
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held, so no one locks a file that is gone
        os.close(handle)
