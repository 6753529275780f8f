"""The local model itself: a new GPT-2 of a preset's shape, a pretrained base, LoRA adapters, and
what a model costs to run (its window, its FLOPs per token, this machine's peak)."""

from __future__ import annotations

import math
import time
import warnings
from typing import Sequence

from pathlib import Path

from aitunes_lib.backends.base import ModelFileError
from aitunes_lib.backends.local.folders import (
    check_config, is_model_folder, load_model, load_strictly, load_tokenizer, read_config,
)
from aitunes_lib.backends.local.settings import PRESETS, LocalBackendError
from aitunes_lib.tokenizer import END, PAD, AbcTokenizer


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


def check_base(base: str) -> None:
    """Refuse a base that cannot be one, before any work: a file, a missing folder, a folder
    without a config or whose config names code or an absurd size. A hub id is checked as it loads."""
    path = Path(base).expanduser()
    if path.is_file():
        raise ModelFileError(f"{base} is a file: give a model folder (config.json, model.safetensors) or a hub id such as gpt2")
    if path.is_dir():
        read_config(path)
    elif base.startswith((".", "/", "~")) or base.count("/") > 1 or "\\" in base:  # a path, not a hub id (OWNER/NAME)
        raise LocalBackendError(f"cannot load the base model {base!r}: no such folder; give a model folder or a hub id such as gpt2")


def load_pretrained(base: str, texts: Sequence[str], vocab_size: int):
    """(model, tokenizer) from a base: one of our folders, or any Hugging Face causal LM.

    A foreign checkpoint (`gpt2`, or a folder without our tokenizer) keeps its transformer
    layers; its embedding matrix is resized to an ABC tokenizer learned from `texts`, and
    those rows are learned during fine-tuning.
    """
    from transformers import AutoConfig

    check_base(base)
    if is_model_folder(base):
        model, tokenizer = load_model(base), load_tokenizer(base)
        if tokenizer.add_specials():  # a base saved before the task markers: new rows, learned in fine-tuning
            model.resize_token_embeddings(tokenizer.vocab_size)
        return model, tokenizer
    try:
        settings = AutoConfig.from_pretrained(base, trust_remote_code=False)
        check_config(settings.to_dict(), base)  # a hub config is read only now: the same checks as a folder's
        model = load_strictly(base, config=settings, use_safetensors=True)
    except ModelFileError:
        raise
    except (OSError, ValueError) as error:
        raise LocalBackendError(f"cannot load the base model {base!r}: {str(error).splitlines()[0]}") from error
    tokenizer = AbcTokenizer.train(texts, vocab_size)
    model.resize_token_embeddings(tokenizer.vocab_size)
    model.config.update({"eos_token_id": tokenizer.token_id(END), "bos_token_id": tokenizer.token_id(END),
                         "pad_token_id": tokenizer.token_id(PAD)})
    model.generation_config.update(eos_token_id=tokenizer.token_id(END), bos_token_id=tokenizer.token_id(END),
                                   pad_token_id=tokenizer.token_id(PAD))
    return model, tokenizer


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
