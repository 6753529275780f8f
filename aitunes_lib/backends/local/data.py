"""Training data for the local model: the texts of an article-format JSONL file, the held-out
songs, and the songs' tokens packed end to end."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from aitunes_lib import dataset
from aitunes_lib.tokenizer import AbcTokenizer

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


def holdout(texts: Sequence[str], fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """(kept, held out): a fixed share of songs, chosen by a hash of each song's prompt.

    The benchmark evaluates on the held-out songs, and pretraining leaves them out of its
    vocabulary, so the committed base model has never seen them.
    """
    return [t for t in texts if not dataset.held_out(t, fraction)], [t for t in texts if dataset.held_out(t, fraction)]
