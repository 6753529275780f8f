"""Music-theory rates and sequence bags, by hand and on real songs."""

from __future__ import annotations

import math

import pytest

from aitunes_lib import metrics
from aitunes_lib.metrics.sequences import coherence, root_of, sequence_tokens, theory_rates
from aitunes_lib.song import Song


def song(body: str) -> Song:
    return Song("t", "c", body)


def test_roots_as_written():
    assert [root_of(n) for n in ("C", "Bb7", "F#m7", "Ebdim7", "G/B", "x")] == [0, 10, 6, 3, 7, None]


def test_a_dominant_that_resolves_and_one_that_does_not():
    home = theory_rates(song('"C"c4 | "G7"B4 | "C"c4 | "A7"c4 | "Dm"d4 |'))
    assert home["dominant_resolution"] == 1.0 and home["fifth_motion"] == 0.75  # G7 → C and A7 → Dm; C → A7 moves a sixth
    assert home["diatonic_chords"] == pytest.approx(4 / 5)  # A7's C# leaves the scale
    astray = theory_rates(song('"C"c4 | "G7"B4 | "Am"A4 | "Db7"c4 | "Edim"c4 |'))
    assert astray["dominant_resolution"] == 0.0 and astray["fifth_motion"] == 0.25  # only C → G7 moves by a fifth
    assert coherence(home) == 0.875 and coherence(astray) == pytest.approx(0.125)


def test_chords_on_strong_beats_and_phrases_that_breathe():
    rates = theory_rates(song('"C"c c "F"A "G7"B | "C"c4 | c d e f | g4 | "C"c d e f | g a b c |'))
    assert rates["strong_beat_changes"] == pytest.approx(4 / 5)  # G7 on beat 4 is the one off a strong beat
    assert rates["breathing_phrases"] == 1.0  # the only whole 4-bar phrase ends on a long note
    none = theory_rates(song("c d e f | g a b c |"))
    assert math.isnan(none["dominant_resolution"]) and math.isnan(none["diatonic_chords"])


def test_the_bags_hold_intervals_rhythms_roots_and_degrees():
    bags = sequence_tokens(song('"C"c d e c | "G7"B2 d2 | "C"c4 |'))
    assert bags["intervals"]["i2"] == 2 and bags["intervals"]["i2,2"] == 1 and bags["intervals"]["i2,2,-4"] == 1
    assert bags["rhythm"]["r0,2,4,6"] == 1 and bags["rhythm"]["r0,4"] == 1 and bags["rhythm"]["r0"] == 1
    assert bags["roots"]["c0M"] == 2 and bags["roots"]["m7M7"] == 1 and bags["roots"]["m5M"] == 1  # C → G7 → C
    assert bags["degrees"]["d0M"] == 2 and bags["degrees"]["d4M7"] == 1  # c over C (twice), B over G7 (its third)


def test_ranking_reports_the_rates_and_orders_by_the_listener_when_the_model_spoke():
    plain, moving = song('"C"c4 | "Db7"c4 | "A"c4 | "C"c4 |'), song('"C"c4 | "G7"B4 | "Dm7"d4 | "G7"B2 d2 | "C"c4 |')
    table = metrics.rank([plain, moving])
    assert {"dominant_resolution", "fifth_motion", "coherence"} <= set(table.columns) and "listener" not in table
    spoken = [plain.with_scores(likelihood=-0.8), moving.with_scores(likelihood=-0.9)]
    table = metrics.rank(spoken)
    assert table["listener"].iloc[0] == pytest.approx(-0.9 + coherence(theory_rates(moving)))  # harmony outweighs 0.1 nats
    assert table["song"].iloc[0].body == moving.body
