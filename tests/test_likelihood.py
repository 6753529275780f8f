"""What the model alone thinks of a song: the mean log-probability per token that ranking reads."""

from __future__ import annotations

import math

import pytest

from aitunes_lib import abc
from aitunes_lib.backends.local import BASE_CHECKPOINT, LocalBackend


@pytest.fixture(scope="module")
def base():
    return LocalBackend(BASE_CHECKPOINT)


def test_a_real_tune_is_likelier_than_the_same_notes_scrambled(base, few_texts):
    import numpy as np

    text = few_texts[1]  # Jingle Bells
    prompt, completion = text[: text.index("<song>") + 6], text[text.index("<song>") + 6:]
    events = completion.split(" ")
    scrambled = " ".join(np.random.default_rng(0).permutation(events[1:-2]).tolist())
    real, mixed = base.likelihood(prompt, [completion, " " + scrambled + " $ <end>"])
    assert mixed < real - 0.5 and real < 0  # (the folk base has seen no chord symbol: about 5 nats a token here)


def test_a_song_longer_than_the_window_is_read_whole(base):
    prompt = abc.seed_prompt("Long", "Song")
    bar = " `C`c2 e2 | `G7`d2 B2 |"
    short, long = base.likelihood(prompt, [bar * 20 + " $ <end>", bar * 400 + " $ <end>"])
    assert math.isfinite(long) and long > short  # the longer repeat is ever more predictable, read window by window
