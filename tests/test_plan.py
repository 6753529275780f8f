"""Plans: each candidate's choices drawn from the real songs' tables, each on its own stream."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aitunes_lib.decoding.plan import SongPlan, SongShape, Stream, draw_forms, draw_plans, stream
from aitunes_lib.decoding.tables import load

TABLES = load()


def test_forms_are_drawn_from_the_real_songs():
    drawn = draw_forms(400, 1, "auto", TABLES)
    assert drawn == draw_forms(400, 1, "auto", TABLES) and set(drawn) <= set(TABLES.forms)
    assert drawn.count("AABA") > drawn.count("ABCDE") > 0  # as common as among the real songs
    assert draw_forms(3, 0, "AB*2", TABLES) == ["AB*2"] * 3
    assert all(len(set(f.split("*")[0])) == len(f.split("*")[0]) for f in draw_forms(50, 2, None, TABLES))  # nothing returns


def test_the_draws_follow_the_real_songs():
    plans = draw_plans(SongShape(), 2000, 3)
    endings = [p.ending for p in plans]
    assert endings.count("C:C") > endings.count("C6:C") > 0 and endings.count("C:C") > 1000
    assert all(p.landing == 0 and p.chord in ("C", "C6", "Cmaj7", "C69") for p in plans)  # every song ends at home
    minor = draw_plans(SongShape(mode="minor"), 20, 3)
    assert {p.ending for p in minor} == {"Am:A"} and all(p.chart[0][0] == "Am" and p.chart[-1] == ("Am", None) for p in minor)
    assert set(p.span for p in plans) <= set(TABLES.ranges) and 13 <= np.median([p.span for p in plans]) <= 16
    tails = [p.tail for p in plans]
    assert set(tails) <= set(TABLES.tails) | set(TABLES.tails_repeated) and -1 not in [p.tail for p in plans if p.passes > 1]
    assert 0.4 < tails.count(1) / tails.count(0) < 1.0 and tails.count(-1) > 0  # often a closing bar, now and then a bar short
    assert 0.08 < sum(p.pickup for p in plans) / len(plans) < 0.13  # a tenth open with a pickup, as the real songs do
    repeated = [p for p in plans if p.passes > 1]
    assert 0.5 < sum(p.volta > 0 for p in repeated) / len(repeated) < 0.8  # 65% of real repeats have a first and second ending
    assert all(p.volta == 0 for p in plans if p.passes == 1)
    assert all(p.rhythm in TABLES.rhythms for p in plans) and all(len(p.aims.moves) == 5 for p in plans)


def test_each_choice_switches_off_alone_and_leaves_the_others_drawn_as_they_were():
    on = draw_plans(SongShape(harmony=False), 20, 7)  # (with a planned chart no copy takes new chords: `test_harmony`)
    bare = draw_plans(SongShape(closing=False, rhythms=False, retune=0.0, ranges=False, balance=0.0, harmony=False), 20, 7)
    assert all((p.tail, p.volta, p.pickup, p.rhythm, p.span) == (0, 0, None, None, None) for p in bare)
    assert all(p.aims == type(p.aims)() for p in bare)
    assert [p.form for p in bare] == [p.form for p in on] and [p.ending for p in bare] == [p.ending for p in on]
    assert not any(s[0] == "tune" for p in bare for s in p.steps if isinstance(s, tuple))
    assert any(s[0] == "tune" for p in on for s in p.steps if isinstance(s, tuple))
    no_rhythm = draw_plans(SongShape(rhythms=False, harmony=False), 20, 7)
    assert [dataclasses.replace(p, rhythm=None) for p in on] == no_rhythm  # the other draws, on their own streams, unchanged
    assert [p.aims.chord_tones for p in draw_plans(SongShape(chord_tone_aims=False), 5, 7)] == [None] * 5


def test_tables_can_be_replaced_for_an_ablation():
    tonic = dataclasses.replace(TABLES, endings={"C:C": 1}, voltas={0: 1})
    plans = draw_plans(SongShape(tables=tonic), 50, 1)
    assert {p.ending for p in plans} == {"C:C"} and {p.volta for p in plans} == {0}


def test_streams_are_named_and_apart():
    assert stream(5, Stream.FORMS).random() == np.random.default_rng(5).random()  # the forms keep the seed's own stream
    assert stream(5, Stream.ENDINGS).random() != stream(5, Stream.RANGES).random()


def test_a_plan_by_hand():
    plan = SongPlan.of("AB*2", section_bars=4, tail=1, volta=1, ending="Am:E", rhythm="1/2 1 (3")
    assert plan.passes == 2 and plan.sections == "AB" and plan.landing == 4 and plan.tuplets
    assert len(plan.steps) == 8 - 1 + 2 + 1 and plan.steps[-1] == "cadence"
    assert plan.context() == {"plan": plan, "form": "AB*2", "tail": 1, "volta": 1, "ending": "Am:E"}
    charted = SongPlan.of("A", section_bars=2, chart=(("C", None), ("G7", "C")))
    assert charted.context()["planned_chart"] == "C | G7 C"


@pytest.mark.parametrize("bad", [{"balance": 9}, {"intervals": -1}, {"chord_tones": -1}, {"widen": 0.5}, {"form": "xyz"}])
def test_bad_shapes_are_refused_in_one_line(bad):
    assert SongShape(**bad).problems()
