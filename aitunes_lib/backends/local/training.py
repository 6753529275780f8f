"""The training loop, read top to bottom: the schedule, batches of the packed stream, the loss,
`train()` with exact resume and a save on Ctrl-C, and `pretrain()` on the folk tunes."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from aitunes_lib import dataset, files, tasks
from aitunes_lib.backends.base import ModelHandle
from aitunes_lib.backends.local.data import holdout, pack, split_songs, training_texts
from aitunes_lib.backends.local.folders import (
    CHECKPOINT, file_digest, load_model, load_tokenizer, quiet_transformers, resume_state, run_fingerprint, training_lock,
    writable_folder,
)
from aitunes_lib.backends.local.model import (
    context_length, flops_per_token, load_pretrained, matmul_peak, merged, new_model, with_lora,
)
from aitunes_lib.backends.local.settings import BASE_CHECKPOINT, TrainConfig, pick_device
from aitunes_lib.tokenizer import AbcTokenizer

if TYPE_CHECKING:
    import torch


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


class TrainingStopped(KeyboardInterrupt):
    """The stop button (or Ctrl-C) during training, after the checkpoint is saved; in Jupyter or
    Colab it shows as its one line, not a traceback. A KeyboardInterrupt still, so a script stops."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this list instead of the traceback
        return [f"{type(self).__name__}: {self}"]


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
    out = Path(out)
    texts = list(texts)
    if not texts:
        raise dataset.DatasetError("no training songs: the training file is empty")
    device = pick_device(config.device)
    writable_folder(out)
    with training_lock(out):  # one run a folder: a second one is refused, not mixed in
        return _train_locked(texts, out, config, device, progress, callback, tokenizer_texts, measure_peak)


def _train_locked(texts: list[str], out: Path, config: TrainConfig, device: str, progress: bool,
                  callback: Callable[[dict[str, Any]], None] | None, tokenizer_texts: Sequence[str],
                  measure_peak: bool) -> TrainResult:
    """`train` once `out` is this run's: resume or start, the loop, the saves."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    train_texts, val_texts = split_songs(texts, config.val_fraction, config.seed)
    fingerprint = run_fingerprint(config, texts, tokenizer_texts)
    state = resume_state(out, fingerprint) if config.resume else None

    if state is not None:  # resume: the weights and tokenizer saved in the folder
        model, tokenizer = load_model(out), load_tokenizer(out)
        if state["step"] >= config.max_steps:
            done = (f"{out} is already trained to {state['step']} steps, so there is nothing to do; "
                    f"ask for more steps, or start afresh (--restart / resume=False)")
            if progress:  # a notebook shows one line, not a warning with its source line
                print(done)
            else:
                warnings.warn(done, stacklevel=3)
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
        if progress and step < config.max_steps:  # never silently: the folder may hold another notebook's run
            print(f"resuming the run saved in {out} at step {step} of {config.max_steps}")

    peak = matmul_peak() if measure_peak and device == "cpu" else None
    per_token = flops_per_token(model, min(config.block, len(stream) - 1))
    tokens_per_step = config.batch_size * min(config.block, len(stream) - 1)
    # a GPU computes in bfloat16 where it can (A100, H100, L4); a T4 cannot, so float16 with a loss scaler
    half = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float16
    autocast = torch.autocast("cuda", dtype=half) if device.startswith("cuda") else torch.autocast("cpu", enabled=False)
    scaler = torch.amp.GradScaler("cuda", enabled=device.startswith("cuda") and half == torch.float16)

    learnt = sorted({tasks.task_of(text) for text in train_texts})  # what it can be asked (the studio's modes)

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
                "train_songs": len(train_texts), "val_songs": len(val_texts), "tasks": learnt,
            }).save(scratch / "handle.json")

    started, trained_tokens, train_seconds = time.perf_counter(), 0, 0.0
    stopped = "max_steps"
    bar = tqdm(total=config.max_steps, initial=step, desc="train", unit="step", disable=not progress)
    measured = next(({"val": f"{row['val_loss']:.3f}"} for row in reversed(history) if not math.isnan(row["val_loss"])), {})
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
            if not math.isnan(row["val_loss"]):  # the bar shows the last validation loss measured, none before the first
                measured = {"val": f"{row['val_loss']:.3f}"}
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", **measured)
            bar.update(1)
            if callback is not None:
                callback(row)
            if step % config.save_every == 0:
                save("running")
    except KeyboardInterrupt as stop:
        stopped = "interrupted"
        save(stopped)
        bar.close()
        raise TrainingStopped(f"stopped at step {step} of {config.max_steps}; the checkpoint in {out} is saved: "
                              f"run the training again to go on from step {step}") from stop
    bar.close()
    if history and math.isnan(history[-1]["val_loss"]):
        history[-1]["val_loss"] = evaluate(model, val_stream, config, device)
    save(stopped)
    speed = trained_tokens / train_seconds if train_seconds else 0.0
    if peak:  # the machine is shared: take the better of two readings, before and after
        peak = max(peak, matmul_peak())
    mfu = speed * per_token / peak if peak else None
    return TrainResult(out, pd.DataFrame(history), stopped, speed, mfu, peak)


# tiny, not a wider model: at the same CPU time it reached a lower held-out loss (benchmarks/bench_pretrain.py)
PRETRAIN = TrainConfig(preset="tiny", max_steps=2200, learning_rate=1e-3, warmup_steps=100, val_fraction=0.05,
                       eval_every=200, save_every=200, seed=0)
OPENEWLD_REPEATS = 4  # OpenEWLD's few hundred songs, read this often among the many thousand folk tunes


def pretraining_texts(openewld_jsonl: str | Path | None = None, progress: bool = True, limit: int | None = None,
                      folk_jsonl: str | Path | None = None) -> list[str]:
    """The base model's text: music21's folk tunes in every meter, major and minor
    (`corpus.pretraining_text`; or those `corpus.prepare_folk` wrote to `folk_jsonl` before),
    then OpenEWLD's training songs `OPENEWLD_REPEATS` times (without the benchmark's held-out songs)."""
    from aitunes_lib import corpus

    if folk_jsonl is not None:
        folk = [record["text"] for record in dataset.read_jsonl(folk_jsonl)][:limit]
    else:
        folk = [corpus.pretraining_text(song) for song in corpus.prepare_folk(progress=progress, limit=limit)[0]]
    extra = holdout(training_texts(openewld_jsonl))[0] if openewld_jsonl else []
    return folk + extra * OPENEWLD_REPEATS


def pretrain(out: str | Path = BASE_CHECKPOINT, openewld_jsonl: str | Path | None = None, config: TrainConfig = PRETRAIN,
             progress: bool = True, limit: int | None = None, folk_jsonl: str | Path | None = None) -> TrainResult:
    """Pretrain the base model for fine-tuning on `pretraining_texts`. The vocabulary also
    learns from OpenEWLD's songs; the benchmark's held-out songs are in neither."""
    texts = pretraining_texts(openewld_jsonl, progress, limit, folk_jsonl)
    extra = holdout(training_texts(openewld_jsonl))[0] if openewld_jsonl else []
    return train(texts, out, config, progress=progress, tokenizer_texts=extra)
