"""What the command line accepts: the sampling defaults it offers, argparse types that give the
allowed range, `--mix`, and the files and folders a user names, checked before any work; a
mistake is a one-line `UsageError`."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from aitunes_lib import files, tasks
from aitunes_lib.generate import GenerateConfig

DEFAULTS = GenerateConfig()  # the sampling defaults the CLI offers, from the one place that sets them


class UsageError(ValueError):
    """Flags that do not fit together, or a value the command cannot use."""


def whole(low: int, high: int | None = None) -> Any:
    """An argparse type: a whole number in [low, high]; the message gives the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {low} to {high}" if high is not None
                                             else f"{value} is out of range: use {low} or more")
        return value

    return parse


def number(low: float, high: float | None = None, above: bool = False) -> Any:
    """An argparse type: a finite number in [low, high] (or above low); the message gives the range."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        wrong = not math.isfinite(value) or value < low or (above and value == low) or (high is not None and value > high)
        if wrong:
            side = f"above {low:g}" if above else f"{low:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: use {side} to {high:g}" if high is not None
                                             else f"{text} is out of range: use {side} or more")
        return value

    return parse


def device(text: str) -> str:
    """An argparse type: cpu, cuda, cuda:N or mps, and one that this machine's torch can use."""
    if text in ("cpu", "cuda", "mps") or (text.startswith("cuda:") and text[5:].isdigit()):
        from aitunes_lib.backends.local.settings import device_problem

        problem = device_problem(text)
        if problem:
            raise argparse.ArgumentTypeError(f"{text}: {problem}; use cpu, or leave --device out to use what is there")
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a device: use cpu, cuda, cuda:0 (a GPU's number) or mps")


def candidates(text: str) -> int:
    """An argparse type: how many candidates, from 1 to what this machine's memory allows."""
    from aitunes_lib.decoding.settings import CANDIDATE_MB, max_candidates

    value = whole(1)(text)
    if value > max_candidates():
        raise argparse.ArgumentTypeError(f"{value} is too many at once: at most {max_candidates()} on this machine "
                                         f"(about {CANDIDATE_MB} MB of memory each); generate in several runs")
    return value


SEED = whole(0, 2**32 - 1)


def parse_mix(text: str) -> dict[str, int]:
    """`song=1,phrase=2,chords=2` → {"song": 1, "phrase": 2, "chords": 2} (records per song)."""
    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        task, _, count = part.partition("=")
        if task not in tasks.names() or not count.strip().isdigit():
            raise UsageError(f"--mix {text!r}: write task=count pairs with tasks from {', '.join(tasks.names())}, e.g. song=1,phrase=2,chords=2")
        mix[task] = int(count)
    return mix


def writable(folder: str | Path, flag: str = "--out") -> Path:
    """`folder`, created if needed, once a file can be written there; else a one-line UsageError (before any work)."""
    folder = Path(folder)
    reason = files.unwritable(folder)
    if reason == files.IS_A_FILE:
        raise UsageError(f"{flag} {folder} is a file: choose a folder")
    if reason:
        raise UsageError(f"{flag} {folder}: cannot write there ({reason}); choose another folder")
    return folder


MAX_INPUT_BYTES = 1_000_000  # read before any check: ten times `abc.MAX_ABC_CHARS`


def read_input(path: str | Path, flag: str) -> str:
    """A text file a user names, or a one-line UsageError (a folder, a binary file, too big, not UTF-8)."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder: give a file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise UsageError(f"{path} has {path.stat().st_size:,} bytes, more than the {MAX_INPUT_BYTES:,} an ABC input may have "
                         "(a song takes a few thousand): give the ABC file itself")
    raw = path.read_bytes()
    if b"\0" in raw[:4096]:
        raise UsageError(f"{path}: a binary file, not ABC text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from error
