"""Harmony first: charts drawn from real progressions, with cadences, followed exactly while decoding."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from aitunes_lib import abc
from aitunes_lib.decoding import constraints
from aitunes_lib.decoding.harmony import ChartDrawer, dominant_of, tonic_of
from aitunes_lib.decoding.masks.bars import MeterRules
from aitunes_lib.decoding import plan as plans_module
from aitunes_lib.decoding.plan import SongPlan, SongShape, draw_plans
from aitunes_lib.decoding.tables import load
from aitunes_lib.tokenizer import AbcTokenizer

TABLES = load()


def test_dominants_and_tonics():
    assert dominant_of("C") == "G7" and dominant_of("Am") == "E7" and dominant_of("F") == "C7"
    assert tonic_of("C6") == "C" and tonic_of("Cmaj7") == "C" and tonic_of("Am") == "Am"


def test_a_chart_has_its_cadences_and_its_returns():
    drawer, rng = ChartDrawer(TABLES), np.random.default_rng(0)
    for ending in ("C:C", "C6:C", "Am:A"):
        plan = SongPlan.of("AABA", ending=ending)
        chart = drawer.chart(plan.sections, 8, plan.steps, plan.ending, rng)
        tonic = "Am" if ending == "Am:A" else "C"  # the key (A minor ends on Am); the last bar closes on the ending's chord
        assert len(chart) == 32 and chart[-1] == (ending.partition(":")[0], None)  # the last bar: the ending's chord
        for section in range(3):  # in major, bar 4 ends and bar 7 opens where real 8-bar blocks do; in minor on V7 and I
            middle, arrival = chart[8 * section + 3][1] or chart[8 * section + 3][0], chart[8 * section + 6][0]
            if tonic == "C":
                assert middle in TABLES.phrase_chords["middle"] and arrival in TABLES.phrase_chords["arrival"]
            else:
                assert middle == dominant_of(tonic) and arrival == tonic
        assert chart[0][0] == tonic and chart[0:8] == chart[8:16] and chart[0:7] == chart[24:31]  # opens on I; A returns with its chart
        free = dataclasses.replace(plan, chart=chart, steps=(*plan.steps[:-2], "free", "cadence"))
        cadenced = plans_module.cadenced(free)  # a free bar before the last: V7, an authentic cadence
        assert (cadenced.chart[-2][1] or cadenced.chart[-2][0]) == dominant_of(tonic_of(ending.partition(":")[0]))
        assert plans_module.cadenced(dataclasses.replace(plan, chart=chart)).chart == chart  # a copied one keeps its chords


def test_a_phrase_arrives_where_real_phrases_arrive():
    """Over many charts, the middle of a section (the end of bar 4) and its arrival (bar 7) take
    the real 8-bar blocks' chords in about their shares: not V7 and I every time."""
    drawer, rng = ChartDrawer(TABLES), np.random.default_rng(2)
    middles, arrivals = Counter(), Counter()
    for _ in range(300):
        plan = SongPlan.of("AB")
        chart = drawer.chart(plan.sections, 8, plan.steps, plan.ending, rng)
        middles[chart[3][1] or chart[3][0]] += 1
        arrivals[chart[6][0]] += 1
    for drawn, real in ((middles, TABLES.phrase_chords["middle"]), (arrivals, TABLES.phrase_chords["arrival"])):
        total = sum(real.values())
        for chord in ("C", "G7"):
            assert abs(drawn[chord] / sum(drawn.values()) - real[chord] / total) < 0.07, (chord, drawn.most_common(5))
        assert len(drawn) >= 8  # more than a handful of arrivals


def test_a_free_bar_leads_into_a_copied_bar_as_real_charts_do():
    """A copied bar brings its source's chords; the free bar before it ends on a chord that real
    charts put before them (the copy used to follow whatever came first: G7 into F, D7 into C)."""
    drawer, checked = ChartDrawer(TABLES), 0
    for plan in draw_plans(SongShape(), 100, 5):
        for b, step in enumerate(plan.steps):
            if isinstance(step, tuple) and step[1] < b - 1 and plan.steps[b - 1] == "free":  # (a bar repeated at once is its own lead)
                first, second = plan.chart[b - 1]
                last, target = second or first, plan.chart[b][0]
                assert last == target or drawer.after.get(last, {}).get(target), (b, last, target)
                checked += 1
    assert checked > 20


def test_charts_move_as_real_charts_do():
    drawer, rng = ChartDrawer(TABLES), np.random.default_rng(1)
    moves, unheard = 0, 0
    for _ in range(50):
        plan = SongPlan.of("ABAC")
        halves = [c for a, b in drawer.chart(plan.sections, 8, plan.steps, plan.ending, rng) for c in (a, b or a)]
        for a, b in zip(halves, halves[1:]):
            if a != b:
                moves += 1
                unheard += a not in drawer.before.get(b, {}) and b not in (dominant_of("C"), "C")
    assert moves > 500 and unheard / moves < 0.05  # (a move into an anchor may be one no real chart makes)


def test_plans_carry_charts_only_when_asked_and_copies_keep_their_chords():
    assert all(p.chart == () for p in draw_plans(SongShape(harmony=False), 5, 3))
    assert all(len(p.chart) == len(p.steps) for p in draw_plans(SongShape(), 5, 3))  # on by default
    for plan in draw_plans(SongShape(harmony=True), 20, 3):
        assert len(plan.chart) == len(plan.steps)
        for b, step in enumerate(plan.steps):
            if isinstance(step, tuple):
                assert step[0] == "copy" and plan.chart[b] == plan.chart[step[1]]  # no retuned copies; a copy's chords are its source's
        if plan.steps[-2] == "free":
            assert (plan.chart[-2][1] or plan.chart[-2][0]) == dominant_of(tonic_of(plan.chord))


@pytest.fixture(scope="module")
def vocab(few_texts):
    tokenizer = AbcTokenizer.train(few_texts)
    return tokenizer, MeterRules([tokenizer.decode([i]) for i in range(tokenizer.vocab_size)])


@pytest.mark.parametrize("seed", range(6))
def test_random_logits_follow_the_planned_chart_exactly(vocab, seed):
    tokenizer, rules = vocab
    shape = SongShape(harmony=True, chord_tones=1.0, intervals=0.0, balance=0.0)
    plan = draw_plans(shape, 1, seed)[0]
    form = constraints.SongForm((plan,), shape)
    song, (state,) = form.build(rules, tokenizer.encode, None)
    planned = state.chart
    rng = np.random.default_rng(seed)
    ids = []
    for _ in range(4000):
        mask = song.allowed(state)
        logits = np.where(mask, rng.normal(size=len(mask)), -np.inf)
        ids.append(int(np.argmax(logits)))
        song.advance(state, ids[-1])
        if state.done:
            break
    assert state.done
    text = tokenizer.decode(ids)
    bars = abc.read_bars(text)
    offset = 1 if len(bars) > 1 and bars[0][0] < bars[1][0] else 0
    assert offset == 0 or not bars[0][1]  # no chord in a pickup
    for b, step in enumerate(plan.steps):
        if step != "free" or not planned[b]:
            continue
        written = bars[offset + b][1]
        want = [(at * 4 // rules.bar, tokenizer.decode(ids).strip()[1:-1]) for at, ids in planned[b]]  # (this vocabulary's chords)
        assert [name for _, name in written] == [name for _, name in want], (b, text)
        for (onset, _), (at, _), later in zip(written, want, [*(w[0] for w in want[1:]), 4]):
            assert at <= onset < later, (b, text)  # on its beat, or under the first note after a note held across it
