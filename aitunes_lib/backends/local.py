"""The local backend: a small GPT-2-style transformer trained with PyTorch, no API key.

It fine-tunes on the same JSONL as the OpenAI backend (prompt + completion per song), from
scratch, from a base checkpoint made by `python -m aitunes_lib pretrain`, or from any
Hugging Face causal-LM checkpoint (a local folder or, with internet, a hub id such as
`gpt2`). It generates n candidates in one batched call, with the bar rules of
`aitunes_lib.decoding` on by default so that every bar adds up.

A model folder holds `config.json` + `model.safetensors` (Hugging Face), `tokenizer.json`
(`AbcTokenizer`), `handle.json`, `history.csv`, and `checkpoint.pt` (optimizer state, step,
history and the run's fingerprint, to resume). A folder holds data, never code: weights load
from safetensors only, the checkpoint with `weights_only=True`, and every file is written
atomically. A folder is resumed only by the same run (same preset, base, data, tokenizer).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from aitunes_lib import dataset, files
from aitunes_lib.backends.base import ModelFileError, ModelHandle, as_completion
from aitunes_lib.tokenizer import END, PAD, AbcTokenizer

if TYPE_CHECKING:
    import torch

    from aitunes_lib.decoding.settings import GenerateConfig

# GPT-2 shapes. tiny trains usefully on 2 CPU cores in minutes; small and base want a GPU.
# n_positions is also the training window: positions a model never trained on are never used.
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 4, "n_head": 4, "n_embd": 256, "n_positions": 512},
    "small": {"n_layer": 6, "n_head": 8, "n_embd": 512, "n_positions": 1024},
    "base": {"n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024},
}
BASE_CHECKPOINT = Path(__file__).resolve().parent.parent / "models" / "folk-tiny"


class LocalBackendError(RuntimeError):
    """A local model could not be trained, loaded or used; the message says why."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (saved with the model)."""

    preset: str = "tiny"
    base: str | None = None  # a model folder or hub id to start from; None trains from scratch
    block_size: int | None = None  # tokens per training sequence, packed across songs (default: the preset's n_positions)
    batch_size: int = 8
    max_steps: int = 300
    max_minutes: float | None = None  # stop cleanly (and save) after this much wall time
    learning_rate: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    dropout: float = 0.1
    val_fraction: float = 0.1  # songs held out for the validation loss
    eval_every: int = 50
    eval_tokens: int = 16384  # validation tokens per evaluation (at most)
    save_every: int = 200
    vocab_size: int = 4096  # the tokenizer's ceiling (it learns fewer on small data)
    seed: int = 0
    device: str | None = None  # None: cuda if present, else cpu
    resume: bool = True  # continue from checkpoint.pt if the folder holds one
    lora_rank: int = 0  # > 0: train LoRA adapters of this rank (peft) and the token table, not every weight; merged on save

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.max_steps < 1 or self.batch_size < 1 or (self.block_size is not None and self.block_size < 8):
            raise ValueError("max_steps and batch_size must be at least 1, block_size at least 8")
        if not isinstance(self.lora_rank, int) or not 0 <= self.lora_rank <= 256:
            raise ValueError(f"lora_rank={self.lora_rank!r}: use 0 (full fine-tuning) or a rank from 1 to 256 (8 is usual)")
        if self.lora_rank and not self.base:
            raise ValueError("lora_rank needs a pretrained base (base=...): a model trained from scratch has nothing to adapt")

    @property
    def block(self) -> int:
        return self.block_size or PRESETS[self.preset]["n_positions"]


# How to run, by machine: `hardware_settings("auto")` picks by what is there. The GPU settings
# suit a 16 GB card such as Colab's free T4 (see the README's estimate); a bigger card can
# raise batch_size.
HARDWARE: dict[str, dict[str, Any]] = {
    "cpu": {"device": "cpu", "batch_size": 8},
    "gpu": {"device": "cuda", "batch_size": 16},
}


def hardware_settings(hardware: str = "auto") -> dict[str, Any]:
    """`TrainConfig` fields for a kind of machine: "cpu", "gpu", or "auto" (the GPU when torch sees one)."""
    import torch

    if hardware == "auto":
        hardware = "gpu" if torch.cuda.is_available() else "cpu"
    if hardware not in HARDWARE:
        raise ValueError(f"hardware {hardware!r}: choose auto, {', '.join(HARDWARE)}")
    if hardware == "gpu" and not torch.cuda.is_available():
        raise LocalBackendError("hardware 'gpu' but torch sees no GPU here (in Colab: Runtime → Change runtime type → T4 GPU)")
    return dict(HARDWARE[hardware])


def with_lora(model, rank: int, dropout: float = 0.05):
    """The model with LoRA adapters of `rank` on its attention (peft picks the layers by model
    type: GPT-2's `c_attn`, Llama's `q_proj`/`v_proj`, …); the token table stays trainable too,
    since our ABC tokenizer's rows are new to any hub model."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:
        raise LocalBackendError("LoRA needs peft: pip install 'aitunes-lib[gpu]' (or pip install peft)") from error
    settings = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=dropout, task_type="CAUSAL_LM",
                          fan_in_fan_out=model.config.model_type == "gpt2")  # GPT-2 stores its layers transposed (Conv1D)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers' own deprecations, raised inside peft
        adapted = get_peft_model(model, settings)
    adapted.get_input_embeddings().weight.requires_grad_(True)
    adapted.get_output_embeddings().weight.requires_grad_(True)
    return adapted


def merged(model):
    """A plain transformers model to save: LoRA adapters folded into a copy of the weights."""
    import copy

    if not hasattr(model, "merge_and_unload"):
        return model
    return copy.deepcopy(model).merge_and_unload()


def pick_device(device: str | None = None) -> str:
    """`cuda` when a GPU is present (or asked for), else `cpu`."""
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


# --------------------------------------------------------------------------- data


MAX_RECORD_CHARS = 20_000  # about 8 times the longest OpenEWLD song; a longer record is skipped and reported


def training_texts(path: str | Path) -> list[str]:
    """Prompt + completion of every record of an article-format JSONL file; bad input says where.

    A record longer than `MAX_RECORD_CHARS` is skipped with a warning that names it.
    """
    records = dataset.read_jsonl(path)
    if not records:
        raise dataset.DatasetError(f"{path}: the training file is empty")
    texts, too_long = [], []
    for line, record in enumerate(records, start=1):
        if not isinstance(record.get("prompt"), str) or not isinstance(record.get("completion"), str):
            raise dataset.DatasetError(f"{path}, record {line}: a record needs string 'prompt' and 'completion' fields")
        text = record["prompt"] + record["completion"]
        if len(text) > MAX_RECORD_CHARS:
            too_long.append(line)
            continue
        texts.append(text)
    if too_long:
        shown = ", ".join(map(str, too_long[:10])) + (" …" if len(too_long) > 10 else "")
        warnings.warn(f"{path}: skipped {len(too_long)} record(s) longer than {MAX_RECORD_CHARS:,} characters "
                      f"(records {shown})", stacklevel=2)
    if not texts:
        raise dataset.DatasetError(f"{path}: no usable record (all longer than {MAX_RECORD_CHARS:,} characters)")
    return texts


def split_songs(texts: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, validation): a seeded share of songs is held out, with all their task records
    (none if there are fewer than 2 songs)."""
    keys = list(dict.fromkeys(dataset.song_key(t) for t in texts))  # the records of one song stay together
    order = np.random.default_rng(seed).permutation(len(keys))
    held = int(round(len(keys) * fraction)) if len(keys) >= 2 else 0
    held = max(held, 1) if fraction > 0 and len(keys) >= 2 else held
    val = {keys[i] for i in order[:held].tolist()}
    return [t for t in texts if dataset.song_key(t) not in val], [t for t in texts if dataset.song_key(t) in val]


def pack(tokenizer: AbcTokenizer, texts: Sequence[str]) -> np.ndarray:
    """All songs' tokens end to end (each song ends with `<end>`): no padding anywhere."""
    ids = [tokenizer.encode(text) for text in texts]
    return np.fromiter((t for song in ids for t in song), dtype=np.int64, count=sum(map(len, ids)))


# --------------------------------------------------------------------------- model


def new_model(tokenizer: AbcTokenizer, preset: str = "tiny", dropout: float = 0.1, block: int | None = None):
    """A GPT-2 model of a preset's shape with random weights, sized to the tokenizer."""
    from transformers import GPT2Config, GPT2LMHeadModel

    shape = {**PRESETS[preset], "n_positions": block or PRESETS[preset]["n_positions"]}
    config = GPT2Config(
        vocab_size=tokenizer.vocab_size, **shape,
        resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
        bos_token_id=tokenizer.token_id(END), eos_token_id=tokenizer.token_id(END), pad_token_id=tokenizer.token_id(PAD),
    )
    return GPT2LMHeadModel(config)


def is_model_folder(path: str | Path) -> bool:
    """A folder written by this backend (weights, config and our tokenizer)."""
    path = Path(path)
    return (path / "config.json").is_file() and (path / "tokenizer.json").is_file()


def load_pretrained(base: str, texts: Sequence[str], vocab_size: int):
    """(model, tokenizer) from a base: one of our folders, or any Hugging Face causal LM.

    A foreign checkpoint (`gpt2`, or a folder without our tokenizer) keeps its transformer
    layers; its embedding matrix is resized to an ABC tokenizer learned from `texts`, and
    those rows are learned during fine-tuning.
    """
    from transformers import AutoModelForCausalLM

    if is_model_folder(base):
        model, tokenizer = load_model(base), load_tokenizer(base)
        if tokenizer.add_specials():  # a base saved before the task markers: new rows, learned in fine-tuning
            model.resize_token_embeddings(tokenizer.vocab_size)
        return model, tokenizer
    quiet_transformers()
    try:
        model = AutoModelForCausalLM.from_pretrained(base)
    except (OSError, ValueError) as error:
        raise LocalBackendError(f"cannot load the base model {base!r}: {str(error).splitlines()[0]}") from error
    tokenizer = AbcTokenizer.train(texts, vocab_size)
    model.resize_token_embeddings(tokenizer.vocab_size)
    model.config.update({"eos_token_id": tokenizer.token_id(END), "bos_token_id": tokenizer.token_id(END),
                         "pad_token_id": tokenizer.token_id(PAD)})
    model.generation_config.update(eos_token_id=tokenizer.token_id(END), bos_token_id=tokenizer.token_id(END),
                                   pad_token_id=tokenizer.token_id(PAD))
    return model, tokenizer


def context_length(config) -> int:
    """How many positions a model reads (GPT-2: n_positions; Llama and others: max_position_embeddings)."""
    return int(getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None) or 1024)


def flops_per_token(model, block_size: int) -> float:
    """Training FLOPs per token (forward + backward): 6N + 12·L·d·T, as in the PaLM appendix.

    N leaves out the position table (a lookup, no arithmetic); the token table counts, since
    the output layer shares it.
    """
    config = model.config
    positions = getattr(getattr(model, "transformer", None), "wpe", None)
    n_params = sum(p.numel() for p in model.parameters()) - (positions.weight.numel() if positions is not None else 0)
    layers = getattr(config, "n_layer", None) or config.num_hidden_layers
    width = getattr(config, "n_embd", None) or config.hidden_size
    return 6 * n_params + 12 * layers * width * block_size


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """This machine's fp32 matmul speed in FLOP/s, measured now (the denominator of MFU)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm up
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def holdout(texts: Sequence[str], fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """(kept, held out): a fixed share of songs, chosen by a hash of each song's prompt.

    The benchmark evaluates on the held-out songs, and pretraining leaves them out of its
    vocabulary, so the committed base model has never seen them.
    """
    return [t for t in texts if not dataset.held_out(t, fraction)], [t for t in texts if dataset.held_out(t, fraction)]


# --------------------------------------------------------------------------- training


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warmup, then cosine decay to `min_lr_ratio` of the peak at `max_steps`."""
    peak = config.learning_rate
    if step < config.warmup_steps:
        return peak * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps))
    return peak * (config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def get_batch(stream: np.ndarray, config: TrainConfig, step: int, device: str) -> tuple["torch.Tensor", "torch.Tensor"]:
    """B random windows of the packed stream: inputs x and next-token targets y, both (B, T).

    The windows depend only on the seed and the step, so a resumed run sees the same data.
    """
    import torch

    block = min(config.block, len(stream) - 1)
    starts = np.random.default_rng([config.seed, step]).integers(0, len(stream) - block, size=config.batch_size)
    windows = np.stack([stream[s : s + block + 1] for s in starts])  # (B, T+1)
    x = torch.from_numpy(windows[:, :-1]).to(device)  # (B, T)
    y = torch.from_numpy(windows[:, 1:]).to(device)  # (B, T)
    return x, y


def loss_of(model, x: "torch.Tensor", y: "torch.Tensor") -> "torch.Tensor":
    """Mean next-token cross-entropy in nats."""
    import torch.nn.functional as F

    logits = model(input_ids=x).logits  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1))


def evaluate(model, stream: np.ndarray, config: TrainConfig, device: str) -> float:
    """Mean loss (nats per token) over consecutive windows of the validation stream."""
    import torch

    if len(stream) < 2:
        return float("nan")
    block = min(config.block, len(stream) - 1)
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, min(len(stream) - 1, config.eval_tokens), block):
            window = torch.from_numpy(stream[start : start + block + 1]).to(device)[None]  # (1, ≤T+1)
            if window.shape[1] < 2:
                break
            n = window.shape[1] - 1
            total += loss_of(model, window[:, :-1], window[:, 1:]).item() * n
            count += n
    model.train()
    return total / count


@dataclasses.dataclass
class TrainResult:
    """What a run leaves: the model folder and its loss history."""

    folder: Path
    history: pd.DataFrame
    stopped: str  # "max_steps", "max_minutes" or "interrupted"
    tokens_per_second: float
    mfu: float | None  # model-FLOPs utilisation against `peak` (None when not measured)
    peak: float | None


# --------------------------------------------------------------------------- model folders

CHECKPOINT = "checkpoint.pt"  # optimizer state, step and history: tensors and plain types only
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", CHECKPOINT)
FINGERPRINT_NAMES = {"preset": "the preset", "base": "the base model", "block": "the window", "seed": "the seed",
                     "val_fraction": "the validation share", "vocab_size": "the vocabulary ceiling",
                     "data": "the training data", "vocabulary": "the vocabulary texts", "tokenizer": "tokenizer.json",
                     "lora_rank": "the LoRA rank"}
FINGERPRINT_DEFAULTS = {"lora_rank": "0"}  # what a checkpoint saved before a field existed meant by it


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


def train(
    texts: Sequence[str], out: str | Path, config: TrainConfig = TrainConfig(), progress: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None, tokenizer_texts: Sequence[str] = (),
    measure_peak: bool = False,
) -> TrainResult:
    """Train (or fine-tune) on article-format texts; the model lands in `out`.

    `callback` sees every logged row (a notebook can plot the loss live); raising
    KeyboardInterrupt from it, or pressing stop, saves a checkpoint that a second call resumes.
    `tokenizer_texts` are extra texts for the vocabulary only (pretraining uses them).
    """
    import torch
    from tqdm.auto import tqdm

    out = Path(out)
    texts = list(texts)
    if not texts:
        raise dataset.DatasetError("no training songs: the training file is empty")
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    train_texts, val_texts = split_songs(texts, config.val_fraction, config.seed)
    fingerprint = run_fingerprint(config, texts, tokenizer_texts)
    writable_folder(out)
    state = resume_state(out, fingerprint) if config.resume else None

    if state is not None:  # resume: the weights and tokenizer saved in the folder
        model, tokenizer = load_model(out), load_tokenizer(out)
        if state["step"] >= config.max_steps:
            warnings.warn(f"{out} is already trained to {state['step']} steps, so there is nothing to do; "
                          f"ask for more steps, or start afresh (--restart / resume=False)", stacklevel=2)
    elif config.base:
        model, tokenizer = load_pretrained(config.base, [*train_texts, *tokenizer_texts], config.vocab_size)
    else:
        tokenizer = AbcTokenizer.train([*train_texts, *tokenizer_texts], config.vocab_size)
        model = new_model(tokenizer, config.preset, config.dropout, config.block)
    if config.lora_rank:  # resumed or new, the saved weights are plain: fresh adapters go on top
        model = with_lora(model, config.lora_rank, config.dropout)
    model.to(device).train()
    if context_length(model.config) < config.block:  # a base model that reads fewer positions sets the window
        config = dataclasses.replace(config, block_size=context_length(model.config))
    stream, val_stream = pack(tokenizer, train_texts), pack(tokenizer, val_texts)
    if len(stream) < 2:
        raise dataset.DatasetError("the training songs hold fewer than 2 tokens")

    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.dim() >= 2]  # matrices decay; biases and norms don't
    other = [p for p in trainable if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay}, {"params": other, "weight_decay": 0.0}],
                                  lr=config.learning_rate, betas=(0.9, 0.95), fused=device.startswith("cuda"))
    step, history = 0, []
    if state is not None:
        if not config.lora_rank:  # LoRA resumes with fresh adapters (the saved weights are merged), so a fresh optimizer
            optimizer.load_state_dict(state["optimizer"])
        step, history = state["step"], state["history"]

    peak = matmul_peak() if measure_peak and device == "cpu" else None
    per_token = flops_per_token(model, min(config.block, len(stream) - 1))
    tokens_per_step = config.batch_size * min(config.block, len(stream) - 1)
    # a GPU computes in bfloat16 where it can (A100, H100, L4); a T4 cannot, so float16 with a loss scaler
    half = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float16
    autocast = torch.autocast("cuda", dtype=half) if device.startswith("cuda") else torch.autocast("cpu", enabled=False)
    scaler = torch.amp.GradScaler("cuda", enabled=device.startswith("cuda") and half == torch.float16)

    def save(stopped: str) -> None:
        quiet_transformers()  # our own bar is enough
        with files.replacing_files(out) as scratch:  # every file whole, the set replaced together
            merged(model).save_pretrained(scratch)
            tokenizer.save(scratch)
            torch.save({"optimizer": optimizer.state_dict(), "step": step, "history": history,
                        "config": dataclasses.asdict(config), "fingerprint": {**fingerprint,
                        "tokenizer": file_digest(scratch / "tokenizer.json")}}, scratch / CHECKPOINT)
            pd.DataFrame(history).to_csv(scratch / "history.csv", index=False)
            ModelHandle("local", str(out), base=config.base, details={
                "preset": config.preset, "steps": step, "stopped": stopped, "device": device,
                "parameters": sum(p.numel() for name, p in model.named_parameters() if "lora_" not in name),
                "trained_parameters": sum(p.numel() for p in trainable), "lora_rank": config.lora_rank,
                "vocab_size": tokenizer.vocab_size,
                "train_songs": len(train_texts), "val_songs": len(val_texts),
            }).save(scratch / "handle.json")

    started, trained_tokens, train_seconds = time.perf_counter(), 0, 0.0
    stopped = "max_steps"
    bar = tqdm(total=config.max_steps, initial=step, desc="train", unit="step", disable=not progress)
    try:
        while step < config.max_steps:
            if config.max_minutes is not None and time.perf_counter() - started > 60 * config.max_minutes:
                stopped = "max_minutes"
                break
            lr = learning_rate(step, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(config.seed * 100_003 + step)  # dropout masks, reproducible on resume
            x, y = get_batch(stream, config, step, device)  # (B, T) each
            tick = time.perf_counter()
            with autocast:
                loss = loss_of(model, x, y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            train_seconds += time.perf_counter() - tick
            trained_tokens += tokens_per_step
            step += 1
            row = {"step": step, "train_loss": loss.item(), "val_loss": math.nan, "lr": lr,
                   "tokens": step * tokens_per_step, "seconds": round(time.perf_counter() - started, 2)}
            if step % config.eval_every == 0 or step == config.max_steps:
                row["val_loss"] = evaluate(model, val_stream, config, device)
            history.append(row)
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", val=f"{row['val_loss']:.3f}")
            bar.update(1)
            if callback is not None:
                callback(row)
            if step % config.save_every == 0:
                save("running")
    except KeyboardInterrupt:
        stopped = "interrupted"
        save(stopped)
        bar.close()
        raise
    bar.close()
    if history and math.isnan(history[-1]["val_loss"]):
        history[-1]["val_loss"] = evaluate(model, val_stream, config, device)
    save(stopped)
    speed = trained_tokens / train_seconds if train_seconds else 0.0
    if peak:  # the machine is shared: take the better of two readings, before and after
        peak = max(peak, matmul_peak())
    mfu = speed * per_token / peak if peak else None
    return TrainResult(out, pd.DataFrame(history), stopped, speed, mfu, peak)


PRETRAIN = TrainConfig(preset="tiny", max_steps=700, learning_rate=1e-3, warmup_steps=50, val_fraction=0.05,
                       eval_every=100, save_every=100, seed=0)


def pretrain(out: str | Path = BASE_CHECKPOINT, openewld_jsonl: str | Path | None = None, config: TrainConfig = PRETRAIN,
             progress: bool = True, limit: int | None = None) -> TrainResult:
    """Pretrain on music21's folk tunes (prepared like OpenEWLD): the base model for fine-tuning.

    The vocabulary also learns from OpenEWLD's songs (its chord symbols hardly occur in folk
    tunes), leaving out the benchmark's held-out songs.
    """
    from aitunes_lib import corpus

    songs, _ = corpus.prepare_folk(progress=progress, limit=limit)
    texts = [record["prompt"] + record["completion"] for record in map(dataset.seed_record, songs)]
    extra = holdout(training_texts(openewld_jsonl))[0] if openewld_jsonl else []
    return train(texts, out, config, progress=progress, tokenizer_texts=extra)


# --------------------------------------------------------------------------- generation


class LocalBackend:
    """Fine-tune and sample with a local model; follows `backends.base.Backend`.

    It enforces every constraint a task names (`decoding.constraints`: `WholeBars`, `FollowChart`, `SongForm`)
    while decoding: each one builds its rules over this model's vocabulary.
    """

    name = "local"

    def __init__(self, model: str | Path | None = None, device: str | None = None):
        self.device = device
        self.folder: Path | None = None
        self._model = None
        self._tokenizer: AbcTokenizer | None = None
        self._rules = None
        self.history: pd.DataFrame | None = None
        if model is not None:
            self.use(model)

    def fine_tune(self, train_jsonl: str | Path, config: TrainConfig | None = None, out: str | Path | None = None,
                  progress: bool = True, callback: Callable[[dict[str, Any]], None] | None = None) -> ModelHandle:
        """Train on an article-format JSONL file; the model goes to `out` (default: beside the data)."""
        config = config or TrainConfig()
        out = Path(out) if out is not None else Path(train_jsonl).parent / "local_model"
        result = train(training_texts(train_jsonl), out, config, progress=progress, callback=callback)
        self.use(out)
        self.history = result.history
        return ModelHandle.load(out / "handle.json")

    def use(self, model: str | Path | ModelHandle) -> None:
        """Generate with a trained model folder (or the handle of one)."""
        folder = Path(model.model if isinstance(model, ModelHandle) else model)
        if not is_model_folder(folder):
            raise FileNotFoundError(f"{folder}: not a local model folder (config.json and tokenizer.json missing); train one first")
        self.folder, self._model, self._rules = folder, None, None
        self._tokenizer = load_tokenizer(folder)
        history = folder / "history.csv"
        try:
            self.history = pd.read_csv(history) if history.is_file() and history.stat().st_size > 1 else None
        except (ValueError, OSError):  # the loss curve is a nicety: a damaged one is left out
            self.history = None

    @property
    def tokenizer(self) -> AbcTokenizer:
        if self._tokenizer is None:
            raise LocalBackendError("no model chosen: call fine_tune(...) or use(folder) first")
        return self._tokenizer

    @property
    def model(self):
        """The torch model, loaded on first use."""
        if self._model is None:
            if self.folder is None:
                raise LocalBackendError("no model chosen: call fine_tune(...) or use(folder) first")
            self._model = load_model(self.folder).to(pick_device(self.device)).eval()
            # rows that finished early are padded while the others go on; they are cut at <end>, so
            # transformers' "input_ids may be padded" warning does not apply (generate gets pad_token_id itself)
            self._model.config.pad_token_id = None
        return self._model

    @property
    def rules(self):
        from aitunes_lib.decoding.masks.bars import MeterRules

        if self._rules is None:
            tokenizer = self.tokenizer
            self._rules = MeterRules([tokenizer.decode([i]) for i in range(tokenizer.vocab_size)])
        return self._rules

    def sample(self, prompt: str, n: int, config: "GenerateConfig", constraint: Any = None) -> list[str]:
        """n completions in the article's format (` … $ <end>`), sampled in one batch, with the
        constraint (if any) enforced token by token. A constraint that `slides` (a song form)
        may run past the model's window: the candidates still writing go on with the last half
        of the window in view, their rules' states carried over, up to `config.max_tokens`."""
        import torch
        from transformers import LogitsProcessorList

        from aitunes_lib.decoding.processor import make_processor

        if n < 0:
            raise ValueError("n must be 0 or more")
        if n == 0:
            return []
        model, tokenizer = self.model, self.tokenizer
        prompt_ids = tokenizer.encode(prompt)
        window = context_length(model.config)
        room = window - len(prompt_ids)
        if room < 16:
            raise LocalBackendError(f"the prompt takes {len(prompt_ids)} tokens and this model reads at most {window}: "
                                    "the title or the task's input is too long; shorten it")
        slides = bool(getattr(constraint, "slides", False))  # a song form may run past the window: it slides on
        total = config.max_tokens if slides else min(config.max_tokens, room)
        rules, states = None, None
        if constraint is not None:
            try:
                rules, start = constraint.build(self.rules, tokenizer.encode, total)
            except ValueError as error:
                raise LocalBackendError(f"cannot follow {constraint.describe()} (the model reads {window} tokens): {error}") from error
            states = [copy.deepcopy(start[i % len(start)] if isinstance(start, (list, tuple)) else start) for i in range(n)]
        if config.seed is not None:
            torch.manual_seed(config.seed)
        device = next(model.parameters()).device
        end, pad = tokenizer.token_id(END), tokenizer.token_id(PAD)
        sample = config.temperature > 0
        written: list[list[int]] = [[] for _ in range(n)]  # each candidate's tokens after the prompt
        context = [list(prompt_ids) for _ in range(n)]  # what the model reads next: the prompt, then the last tokens in view
        active = list(range(n))
        while active:
            steps = min(total - len(written[active[0]]), window - len(context[active[0]]))
            inputs = torch.tensor([context[i] for i in active], device=device)  # (rows, L): still writing, all as long
            processors = LogitsProcessorList()
            if rules is not None:
                processors.append(make_processor(rules, inputs.shape[1], [states[i] for i in active]))
            with torch.no_grad():
                output = model.generate(
                    inputs, attention_mask=torch.ones_like(inputs), do_sample=sample, max_new_tokens=steps,
                    logits_processor=processors, eos_token_id=end, pad_token_id=pad,
                    **({"temperature": config.temperature, "top_p": config.top_p, "top_k": 0} if sample else {}),
                )  # (rows, L + new)
            carried = processors[0] if rules is not None else None
            still = []
            for row, i in enumerate(active):
                new = output[row, inputs.shape[1]:].tolist()
                written[i] += new
                if carried is not None:  # the rules' state, past the last token too (the processor never read it)
                    states[i] = carried.states[row] if carried.states else states[i]
                    for token in output[row, carried.seen:].tolist():
                        rules.advance(states[i], token)
                if end not in new and pad not in new and len(written[i]) < total and slides:
                    context[i] = (context[i] + new)[-(window // 2):]  # the window slides: the last half stays in view
                    still.append(i)
            active = still
        return [self._completion(ids) for ids in written]

    def _completion(self, ids: list[int]) -> str:
        tokenizer = self.tokenizer
        end, pad = tokenizer.token_id(END), tokenizer.token_id(PAD)
        finished = end in ids
        ids = [t for t in ids[: ids.index(end)] if t != pad] if finished else [t for t in ids if t != pad]
        text = tokenizer.decode(ids)
        if not finished and "|" in text:  # out of tokens: keep whole bars only
            text = text[: text.rindex("|") + 1]
        return as_completion(text)

    def loss(self, texts: Sequence[str]) -> dict[str, float]:
        """Held-out loss of whole songs: nats and bits per token, and bits per character."""
        import torch

        model, tokenizer = self.model, self.tokenizer
        device = next(model.parameters()).device
        total, tokens, chars = 0.0, 0, 0
        limit = context_length(model.config)
        with torch.no_grad():
            for text in texts:
                ids = tokenizer.encode(text)[:limit]
                window = torch.tensor([ids], device=device)
                total += loss_of(model, window[:, :-1], window[:, 1:]).item() * (len(ids) - 1)
                tokens += len(ids) - 1
                chars += len(tokenizer.decode(ids[1:]))
        return {"nats_per_token": total / tokens, "bits_per_token": total / tokens / math.log(2),
                "bits_per_char": total / chars / math.log(2), "tokens": tokens, "chars": chars}
