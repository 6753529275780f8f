"""Model folders: which files make one, the run fingerprint that allows a resume, checkpoints read
as data only, and the model and tokenizer loaded from safetensors and JSON."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

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


def load_model(folder: str | Path):
    """The causal LM of one of our model folders, from safetensors only; a damaged file is named."""
    from transformers import AutoModelForCausalLM

    folder = Path(folder)
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise ModelFileError(f"{folder / name}: missing; train the model again or use another folder")
    try:
        json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except ValueError as error:
        raise ModelFileError(f"{folder / 'config.json'}: not valid JSON ({error}); train the model again") from error
    quiet_transformers()
    try:
        return AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    except Exception as error:  # noqa: BLE001 - safetensors, transformers and torch each raise their own
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise ModelFileError(f"{folder / 'model.safetensors'} or config.json cannot be loaded ({reason}); "
                             "train the model again or use another folder") from error
