"""Novelty (checks the article lacked): bars copied verbatim from the training songs, shared
4-bar n-grams, and how often a candidate repeats its own bars."""

from __future__ import annotations

import math
from typing import Iterable, Sequence


def _bar_texts(body: str) -> list[str]:
    from aitunes_lib.abc import iter_bars

    return [" ".join(bar.split()) for bar in iter_bars(body)]


class TrainingBars:
    """The training songs' bars, for novelty: verbatim copies and shared 4-bar n-grams."""

    def __init__(self, bodies: Iterable[str], n: int = 4):
        self.n = n
        self.songs = [_bar_texts(body) for body in bodies]
        self.ngrams = {tuple(bars[i : i + n]) for bars in self.songs for i in range(len(bars) - n + 1)}
        self.index: dict[str, list[tuple[int, int]]] = {}
        for s, bars in enumerate(self.songs):
            for i, bar in enumerate(bars):
                self.index.setdefault(bar, []).append((s, i))

    def longest_copy(self, bars: Sequence[str]) -> int:
        """The longest run of consecutive bars found verbatim, in order, in one training song."""
        best = 0
        runs: dict[tuple[int, int], int] = {}  # (song, bar) where a run ends -> its length
        for bar in bars:
            current = {}
            for s, i in self.index.get(bar, ()):
                current[(s, i)] = runs.get((s, i - 1), 0) + 1
            runs = current
            best = max(best, max(runs.values(), default=0))
        return best

    def shared_ngrams(self, bars: Sequence[str]) -> float:
        """Share of the candidate's n-bar windows that occur in some training song."""
        grams = [tuple(bars[i : i + self.n]) for i in range(len(bars) - self.n + 1)]
        return sum(g in self.ngrams for g in grams) / len(grams) if grams else math.nan


def repetition(bars: Sequence[str]) -> float:
    """Share of distinct bars (1 = no bar repeats; low values loop one phrase)."""
    return len(set(bars)) / len(bars) if bars else math.nan
