"""The local backend's settings: the model shapes (`PRESETS`), `TrainConfig`, the settings by kind of
machine (`HARDWARE`), the device to run on, and `LocalBackendError`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

# GPT-2 shapes. tiny trains usefully on 2 CPU cores in minutes; small and base want a GPU.
# n_positions is also the training window: positions a model never trained on are never used.
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"n_layer": 4, "n_head": 4, "n_embd": 256, "n_positions": 512},
    "mini": {"n_layer": 6, "n_head": 5, "n_embd": 320, "n_positions": 512},
    "small": {"n_layer": 6, "n_head": 8, "n_embd": 512, "n_positions": 1024},
    "base": {"n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024},
}
BASE_CHECKPOINT = Path(__file__).resolve().parent.parent.parent / "models" / "folk-tiny"


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


def device_problem(device: str) -> str | None:
    """Why torch cannot run on `device` here (None when it can), so that a wrong one is refused
    before any work instead of deep inside torch."""
    import torch

    if device == "cpu":
        return None
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            return "this torch sees no CUDA GPU" + (" (it was built without CUDA)" if torch.version.cuda is None else "")
        count = torch.cuda.device_count()
        if int(device[5:] or 0) >= count:
            return f"this machine has {count} GPU(s), numbered from 0 to {count - 1}"
        return None
    if device == "mps":
        return None if torch.backends.mps.is_available() else "this torch sees no Apple GPU (mps)"
    return "not a device torch knows (cpu, cuda, cuda:0 or mps)"


def pick_device(device: str | None = None) -> str:
    """`cuda` when a GPU is present, else `cpu`; a device asked for is checked first."""
    import torch

    if device:
        problem = device_problem(device)
        if problem:
            raise LocalBackendError(f"device {device!r}: {problem}; use cpu, or leave the device out to use what is there")
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"
