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

One concern a module; every name is also here, as `local.train`, `local.LocalBackend`, …:

- `settings`: `PRESETS`, `BASE_CHECKPOINT`, `TrainConfig`, `HARDWARE` and `hardware_settings`,
  `pick_device` and `device_problem`, `LocalBackendError`;
- `data`: the training texts (`training_texts`, `MAX_RECORD_CHARS`), `split_songs`, `holdout`, `pack`;
- `model`: `new_model`, `check_base`, `load_pretrained`, `with_lora`, `merged`, `context_length`,
  `flops_per_token`, `matmul_peak`;
- `folders`: model-folder I/O (`is_model_folder`, `CHECKPOINT`, `MODEL_FILES`, the run
  fingerprint and digests, `read_checkpoint`, `resume_state`, `writable_folder`, `training_lock`,
  `read_config` and `check_config` (no code, `SHAPE_LIMITS`), `load_model` (strict), `load_tokenizer`,
  `quiet_transformers`);
- `training`: the loop (`learning_rate`, `get_batch`, `loss_of`, `evaluate`), `train` and its
  `TrainResult` (`TrainingStopped` when the stop button ends it), `pretrain` with `PRETRAIN` over `pretraining_texts`;
- `sampler`: `LocalBackend`, which fine-tunes, samples under a task's constraint, and measures loss.
"""

from aitunes_lib.backends.local.settings import (
    BASE_CHECKPOINT, HARDWARE, PRESETS, LocalBackendError, TrainConfig, device_problem, hardware_settings, pick_device,
)
from aitunes_lib.backends.local.data import MAX_RECORD_CHARS, holdout, pack, split_songs, training_texts
from aitunes_lib.backends.local.folders import (
    CHECKPOINT, FINGERPRINT_DEFAULTS, FINGERPRINT_NAMES, LOCK, MODEL_FILES, SHAPE_LIMITS, check_config, file_digest,
    is_model_folder, load_model, load_tokenizer, quiet_transformers, read_checkpoint, read_config, resume_state,
    run_fingerprint, text_digest, training_lock, writable_folder,
)
from aitunes_lib.backends.local.model import (
    check_base, context_length, flops_per_token, load_pretrained, matmul_peak, merged, new_model, with_lora,
)
from aitunes_lib.backends.local.training import (
    OPENEWLD_REPEATS, PRETRAIN, TrainingStopped, TrainResult, evaluate, get_batch, learning_rate, loss_of, pretrain, pretraining_texts, train,
)
from aitunes_lib.backends.local.sampler import LocalBackend
