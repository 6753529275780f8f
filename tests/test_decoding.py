"""Decoding: no interior bar can overflow or fall short, whatever the logits say; forms, cadences and levers."""

from __future__ import annotations

import dataclasses
import copy
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aitunes_lib import abc, tasks
from aitunes_lib.abc import BARLINE, TIE, bar_lengths, classify, pitch_class
from aitunes_lib.backends.base import as_completion
from aitunes_lib.decoding import constraints
from aitunes_lib.decoding.masks.bars import BarState, MeterRules
from aitunes_lib.decoding.plan import (
    SongPlan, SongShape, Stream, cycled, draw_aims, form_plan, motif_plan, phrase_ends, retune_plan, stream,
)
from aitunes_lib.decoding.processor import make_processor
from aitunes_lib.decoding.tables import load as load_tables
from aitunes_lib.tokenizer import EVENT, AbcTokenizer

TABLES = load_tables()
DEFAULTS = SongShape()


def SongForm(forms, section_bars=8, vary=1, cadence=True, endings=("C:C",), motifs=False, ranges=(), seed=None, tone_bias=0.0,
             intervals=0.0, balance=0.0, tails=(), voltas=(), pickups=(), rhythms=(), retune=0.0) -> constraints.SongForm:
    """The constraint for forms written out by hand, one per candidate (levers off unless named),
    the rest drawn as `draw_plans` draws them."""
    shape = SongShape(chord_tones=tone_bias, intervals=intervals, balance=balance, motifs=motifs, retune=retune, cadence=cadence,
                      section_bars=section_bars)
    varies = vary if isinstance(vary, tuple) else (vary,)
    aims = draw_aims(shape, len(forms), seed)
    plans = [SongPlan.of(form, section_bars, cycled(varies, i), cadence, cycled(tails, i, 0), cycled(voltas, i, 0),
                         ending=cycled(endings, i), pickup=cycled(pickups, i), span=cycled(ranges, i), rhythm=cycled(rhythms, i),
                         aims=aims[i]) for i, form in enumerate(forms)]
    rng, tunes = stream(seed, Stream.MOTIFS), stream(seed, Stream.RETUNE)
    if motifs:
        plans = [dataclasses.replace(p, steps=motif_plan(p.steps, rng, TABLES.motifs, DEFAULTS.echo, DEFAULTS.echo_alone)) for p in plans]
    if retune:
        plans = [dataclasses.replace(p, steps=retune_plan(p.steps, tunes, retune)) for p in plans]
    return constraints.SongForm(tuple(plans), shape)


def aiming(state, **aims):
    """The state with other aims in its plan (what the melody would do, had it drawn these)."""
    state.plan = dataclasses.replace(state.plan, aims=dataclasses.replace(state.plan.aims, **aims))
    return state

PROMPT = abc.seed_prompt("Random Logits", "Hypothesis")


@pytest.fixture(scope="module")
def vocab(few_texts):
    tokenizer = AbcTokenizer.train(few_texts)
    texts = [tokenizer.decode([i]) for i in range(tokenizer.vocab_size)]
    return tokenizer, MeterRules(texts)


def test_token_kinds():
    assert classify(" ^c'3/2") == (1, Fraction(3, 2))
    assert classify(" `Cmaj7`")[0] == 2 and classify(" -")[0] == 3 and classify(" |")[0] == 4
    assert classify(" $")[0] == 5 and classify(" (3:2:2") == (6, (3, 2, 2)) and classify("<end>")[0] == 8
    assert classify("3/2")[0] == 0 and classify("^")[0] == 0 and classify("<song>")[0] == 0  # fragments never allowed


def test_vocabulary_of_real_songs(vocab):
    tokenizer, rules = vocab
    assert rules.ticks_per_quarter % 3 == 0  # triplets of the Habit song are in the vocabulary
    assert rules.bar == 4 * rules.ticks_per_quarter and rules.end_id == tokenizer.token_id("<end>")
    full = BarState(elapsed=rules.bar, bar_index=2, last=1)
    allowed = {tokenizer.decode([i]) for i in np.flatnonzero(rules.allowed(full))}
    assert " |" in allowed and all(t.strip() in ("|", "-") for t in allowed)  # only a bar line (or a tie)


def test_training_songs_obey_the_rules(few_texts):
    """Every real song walks through the rules event by event, except where its own bars are irregular."""
    songs = [re.findall(EVENT, text.split("<song>", 1)[1].split("<end>", 1)[0]) + ["<end>"] for text in few_texts]
    vocabulary = sorted({event for song in songs for event in song})
    rules, index = MeterRules(vocabulary), {event: i for i, event in enumerate(vocabulary)}
    checked = 0
    for events in songs:
        state, lengths = BarState(), bar_lengths("".join(events))
        refused = []
        for event in events:
            if not rules.allowed(state)[index[event]]:
                refused.append(event)
            rules.advance(state, index[event])
        assert state.done
        if "{" in events:
            assert "{" in refused  # grace notes are not generated under the rules
        elif all(length == 4 for length in lengths[1:]):
            assert refused == [], "".join(events)[:80]
            checked += 1
        else:
            assert refused  # an irregular bar of the source is refused
    assert checked >= 5


def walk(rules, rng: np.random.Generator, steps: int, end_weight: float = 0.0, state=None) -> list[int]:
    """Sample tokens from random logits through the rules (or a chart's), as generation would."""
    state, ids = state if state is not None else BarState(), []
    for _ in range(steps):
        mask = rules.allowed(state)
        assert mask.any(), "the rules left nothing to sample"
        logits = rng.normal(size=len(mask))
        logits[rules.kinds == 8] += end_weight
        logits[~mask] = -np.inf
        token = int(np.argmax(logits))
        ids.append(token)
        rules.advance(state, token)
        if state.done:
            break
    return ids


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), end_weight=st.sampled_from([-3.0, 0.0, 1.0]))
def test_random_logits_never_break_a_bar(vocab, seed, end_weight):
    tokenizer, rules = vocab
    ids = walk(rules, np.random.default_rng(seed), 300, end_weight)
    text = tokenizer.decode(ids)
    if "<end>" not in text:
        text = text[: text.rindex("|") + 1] if "|" in text else ""
    lengths = bar_lengths(text)
    assert all(length == 4 for length in lengths[1:]), lengths  # the pickup may be short, no other bar
    if len(lengths) < 2:
        return
    # and music21, reading the ABC on its own, agrees
    score = abc.parse_abc(abc.decode_seed(PROMPT, as_completion(text)))
    measures = list(score.parts[0].getElementsByClass("Measure"))
    assert len(measures) == len(lengths)
    assert [m.duration.quarterLength for m in measures[1:]] == [4.0] * (len(measures) - 1)


def test_processor_masks_a_batch(vocab):
    import torch

    tokenizer, rules = vocab
    prompt = tokenizer.encode(PROMPT)
    processor = make_processor(rules, len(prompt))
    ids = torch.tensor([prompt] * 3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        scores = processor(ids, torch.randn(3, tokenizer.vocab_size + 7, generator=generator))  # padded embedding rows
        assert torch.isinf(scores[:, tokenizer.vocab_size:]).all()
        ids = torch.cat([ids, scores.argmax(1, keepdim=True)], 1)
    for row in ids[:, len(prompt):].tolist():
        text = tokenizer.decode(row)
        bars = bar_lengths(text[: text.rindex("|") + 1])
        assert len(bars) > 5 and set(bars[1:]) == {4}


# --------------------------------------------------------------------------- chord charts


from aitunes_lib.decoding.masks.chart import ChartRules  # noqa: E402
from aitunes_lib.decoding.masks.chords import MAX_CHORDS_PER_BAR  # noqa: E402
from aitunes_lib.decoding.masks.ties import TIED_SHARE, one_note  # noqa: E402
from aitunes_lib.decoding.levers.base import AVOID  # noqa: E402
from aitunes_lib.decoding.levers.held_tie import UNTIED  # noqa: E402
from aitunes_lib.decoding.levers.moves import interval_prior as prior_of  # noqa: E402


def moves_drawn(n, seed):
    return [a.moves for a in draw_aims(DEFAULTS, n, seed)]


def densities_drawn(n, seed):
    return [a.density for a in draw_aims(DEFAULTS, n, seed)]


def chromatic_drawn(n, seed):
    return [a.chromatic for a in draw_aims(DEFAULTS, n, seed)]


def rests_drawn(n, seed):
    return [a.rests for a in draw_aims(DEFAULTS, n, seed)]


def tones_drawn(n, seed):
    return [a.chord_tones for a in draw_aims(DEFAULTS, n, seed)]


def interval_prior(weight):
    return prior_of(weight, TABLES.intervals)


def chart_rules(tokenizer, rules, chart):
    """ChartRules for a tasks.ChordChart, built by the chords task's constraint (as the local backend does)."""

    return constraints.FollowChart(chart.bars, ()).build(rules, tokenizer.encode, budget=10**9)[0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), song=st.integers(0, 10), section=st.integers(0, 1))
def test_random_logits_keep_a_real_chart_exactly(vocab, few_texts, seed, song, section):

    tokenizer, rules = vocab
    text = few_texts[song]
    record = {"prompt": text[: text.index("<song>") + 6], "completion": text[text.index("<song>") + 6:]}
    chords = tasks.CHORDS.record(record, section) or tasks.CHORDS.record(record, 0)
    chart = tasks.ChordChart.from_body(chords["completion"])
    checker = chart_rules(tokenizer, rules, chart)
    state = checker.start()
    melody = as_completion(tokenizer.decode(walk(checker, np.random.default_rng(seed), 2000, state=state)))
    assert state.done and tasks.chart_violations(chart, melody) == [], melody
    assert bar_lengths(melody) == [length for length, _ in chart.bars]  # every bar as long as the chart's
    score = abc.parse_abc(abc.decode_seed(PROMPT, melody))  # and music21 reads the same bars
    assert [m.duration.quarterLength for m in score.parts[0].getElementsByClass("Measure")] == [float(length) for length, _ in chart.bars]


def test_a_chord_inside_a_triplet_is_reached(vocab):

    tokenizer, rules = vocab
    chart = tasks.ChordChart(((Fraction(4), ((Fraction(0), "C"), (Fraction(8, 3), "G7"))), (Fraction(4), ((Fraction(0), "C"),))))
    checker = chart_rules(tokenizer, rules, chart)
    for seed in range(10):
        melody = as_completion(tokenizer.decode(walk(checker, np.random.default_rng(seed), 2000, state=checker.start())))
        assert tasks.chart_violations(chart, melody) == [], melody


def test_the_phrase_task_starts_the_rules_after_the_prefix(vocab):
    tokenizer, rules = vocab
    state = BarState(bar_index=4, last=4)  # after four whole bars: no pickup any more
    mask = rules.allowed(state)
    assert not mask[rules.kinds == 4].any() and mask[rules.kinds == 5].any()  # no empty bar; a line break may come


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), slack=st.sampled_from([0, 3, 20]))
def test_a_token_budget_still_reaches_the_last_bar(vocab, few_texts, seed, slack):

    tokenizer, rules = vocab
    chart, _ = tasks.chart_input(["C", "Am F", "Dm G7", "C", "F", "C A7", "D7", "G7"])
    bars = [(length, [(onset, tokenizer.encode(f" `{name}`")) for onset, name in chords]) for length, chords in chart.bars]
    need = ChartRules(rules, bars).need_from[0]
    checker = ChartRules(rules, bars, budget=need + slack)
    rng, state, ids = np.random.default_rng(seed), checker.start(), []
    while not state.done:
        logits = np.where(checker.allowed(state), rng.normal(size=len(rules.kinds)), -np.inf)
        logits[rules.note_ids] += 2.0  # a model that loves short notes would overrun the window without the budget
        ids.append(int(np.argmax(logits)))
        checker.advance(state, ids[-1])
    assert len(ids) <= need + slack
    assert tasks.chart_violations(chart, as_completion(tokenizer.decode(ids))) == []
    with pytest.raises(ValueError, match="needs at least"):
        ChartRules(rules, bars, budget=need - 1)


def test_the_chord_tone_bonus_goes_to_the_sounding_chords_tones(vocab):

    tokenizer, rules = vocab
    chart, _ = tasks.chart_input(["C G7"])
    bars = [(length, [(onset, tokenizer.encode(f" `{name}`")) for onset, name in chords]) for length, chords in chart.bars]
    tones = [abc.chord_pitch_classes("C"), abc.chord_pitch_classes("G7")]
    assert tones == [frozenset({0, 4, 7}), frozenset({7, 11, 2, 5})]
    checker = ChartRules(rules, bars, tones=tones, tone_bias=1.5)
    state = checker.start()
    assert checker.bias(state) is None  # no chord has sounded yet
    for token in bars[0][1][0][1]:
        checker.advance(state, token)
    bonus = checker.bias(state)
    favoured = {tokenizer.decode([i]) for i in np.flatnonzero(bonus)}
    assert favoured and all(pitch_class(t) in (0, 4, 7) for t in favoured) and set(bonus[bonus > 0]) == {1.5}
    assert not any(t.strip().startswith("z") for t in favoured)  # rests get nothing
    assert ChartRules(rules, bars, tones=tones).bias(state) is None  # off by default in the rules


# --------------------------------------------------------------------------- song forms


@settings(max_examples=16, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), form=st.sampled_from(["AABA", "ABAC", "AB", "A"]),
       ending=st.sampled_from(["C", "C6:C", "Cmaj7", "Am:E", "G7:B", "F:F"]), tail=st.sampled_from([-1, 0, 0, 2]),
       pickup=st.sampled_from([None, True, False]), retune=st.sampled_from([0.0, 1.0]), volta=st.sampled_from([0, 0, 1, 2]))
@example(seed=138, form="AABA", ending="C", tail=-1, pickup=True, retune=0.0, volta=0)  # a tie offered where only a note that filled the pickup fitted
def test_a_form_copies_its_returns_and_ends_on_its_ending(vocab, seed, form, ending, tail, pickup, retune, volta):
    from aitunes_lib import chords

    tokenizer, rules = vocab
    shape = SongForm((form,), section_bars=4, endings=(ending,), tone_bias=1.0, tails=(tail,), pickups=() if pickup is None else (pickup,),
                     retune=retune, seed=seed, voltas=(volta,))
    form_rules, starts = shape.build(rules, tokenizer.encode, None)
    state = starts[0]
    melody = as_completion(tokenizer.decode(walk(form_rules, np.random.default_rng(seed), 3000, state=state)))
    assert state.done, melody
    lengths = bar_lengths(melody)
    offset = 1 if lengths[0] < 4 else 0  # a pickup comes before the form
    assert pickup is None or offset == pickup, melody  # as drawn, when drawn
    volta = min(volta, 4 * len(form) - 1)
    assert set(lengths[offset:]) == {4} and len(lengths) == offset + 4 * len(form) + volta + tail, melody  # the endings and closing bars after it
    bars = [b.strip() for b in melody.replace(" $", "").split("|")][:-1]
    # random logits favour chords (a fifth of the vocabulary); still one per onset and at most 4 a bar
    assert max(len(abc.CHORD.findall(bar)) for bar in bars) <= MAX_CHORDS_PER_BAR
    assert not re.search(r"`[^`]*`\s*`", melody), melody
    body = abc.CHORD.sub(" ", melody.rsplit("|", 2)[0])  # before the cadence's bar, a tie joins two notes of one pitch
    notes = [(m.group(0), body[m.end():m.end() + 1] == "-") for m in abc.NOTE.finditer(body)]
    spelling = re.compile(r"[_^=]*[A-Ga-g][,']*")
    tied = [(spelling.match(a.strip()).group(0), spelling.match(b.strip()).group(0)) for (a, tie), (b, _) in zip(notes, notes[1:]) if tie]
    assert all(a == b for a, b in tied), melody  # one pitch, written alike (not Eb tied to D#)
    for bar in abc.CHORD.sub(" ", melody).replace(" $", "").split("|"):  # inside a bar (the last too), only a length no one note holds is tied
        run = Fraction(0)
        for m in abc.NOTE.finditer(bar):
            run += abc.note_length(m.group(0))
            if bar[m.end():m.end() + 1] != "-":
                assert run == abc.note_length(m.group(0)) or not one_note(run), (bar, melody)
                run = Fraction(0)
    assert not re.search(r"-[\s|$]*<end>", melody), melody  # nothing tied past the last note
    plan = state.plan.steps
    assert [s if s in ("free", "cadence") else ("copy", s[1]) for s in plan] == list(form_plan(form, 4, vary=1, tail=tail, volta=volta))
    assert all(s[0] == ("tune" if retune else "copy") for s in plan if isinstance(s, tuple))  # every copy, or none, its melody alone
    for b, step in enumerate(plan):
        if isinstance(step, tuple) and step[0] == "copy":
            assert bars[offset + b].lstrip("$ ") == bars[offset + step[1]].lstrip("$ "), (b, melody)
        elif isinstance(step, tuple):  # the same melody; the chord symbols the model's
            assert re.sub(r"[\s$]|`[^`]*`", "", bars[offset + b]) == re.sub(r"[\s$]|`[^`]*`", "", bars[offset + step[1]]), (b, melody)
    last = abc.parse_abc(abc.decode_seed(PROMPT, melody)).parts[0].getElementsByClass("Measure")[-1]
    assert [c.figure for c in last.recurse().getElementsByClass("ChordSymbol")] == [chords.music21_figure(ending.partition(":")[0])]
    assert {n.pitch.pitchClass for n in last.recurse().notes if n.isNote} == {SongPlan('A', (), ending=ending).landing}  # the melody lands on its note
    struck = [n for n in last.recurse().notes if n.isNote and (n.tie is None or n.tie.type == "start")]
    assert len(struck) <= 1, melody  # once: held on or followed by rests


def test_the_chord_tone_nudge_of_a_form_follows_the_last_chord(vocab):

    tokenizer, rules = vocab
    form_rules, starts = SongForm(("A",), section_bars=4, tone_bias=2.0).build(rules, tokenizer.encode, None)
    state = starts[0]
    assert form_rules.bias(state) is None  # no chord yet
    for token in tokenizer.encode(" `G7`"):
        form_rules.advance(state, token)
    bonus = form_rules.bias(state)
    favoured = {tokenizer.decode([i]) for i in np.flatnonzero(bonus)}
    assert favoured and {pitch_class(t) for t in favoured} <= {7, 11, 2, 5}


def events(rules: MeterRules, text: str) -> list[int]:
    """The token ids of space-separated events (note texts, `|`, `-`) in this vocabulary, whatever
    spacing its tokens carry (the few songs' tokenizer splits some, such as ` _A`, otherwise)."""
    by_text = {t.strip(): int(i) for i, t in zip(rules.note_ids, rules.note_texts)}
    by_text |= {"|": int(np.flatnonzero(rules.kinds == BARLINE)[0]), "-": int(np.flatnonzero(rules.kinds == TIE)[0])}
    return [by_text[t] for t in text.split()]


def note_bias_after(vocab, form, notes: str):
    """(each note token's bias after `notes`, the rules, the state), for a one-section form; the
    bias must be nothing before the first note."""
    tokenizer, rules = vocab
    form_rules, starts = form.build(rules, tokenizer.encode, None)
    state = starts[0]
    before = form_rules.bias(state)
    if not any(plan.rhythm for plan in form.plans):  # (a rhythm holds from the first note)
        assert before is None or np.abs(before).max() < 1e-5  # no note yet: nothing to move from, no range to keep, on every aim
    for token in tokenizer.encode(notes) if isinstance(notes, str) else notes:
        form_rules.advance(state, token)
    bonus = form_rules.bias(state)
    return {tokenizer.decode([int(i)]).strip(): bonus[i] for i in rules.note_ids}, form_rules, state


def test_the_interval_prior_favours_real_moves_and_leaves_a_tie_alone(vocab):

    assert interval_prior(1.0)[2] == 0.0 and interval_prior(0.0).max() == interval_prior(0.0).min() == 0.0
    tokenizer, _ = vocab
    by_text, form_rules, state = note_bias_after(vocab, SongForm(("A",), section_bars=4, intervals=1.0), " E")
    # moves of 2, 0, 1, 3, 5 and 8 semitones, as often as real melodies make them
    assert by_text["D"] == 0.0 > by_text["E"] > by_text["F"] > by_text["G"] > by_text["A"] > by_text["c"]
    assert by_text.get("z", 0.0) == 0.0  # rests are not moves
    for token in events(form_rules.rules, "- |"):
        form_rules.advance(state, token)
    assert state.melody.tied and state.bar_index == 1
    after_tie = form_rules.bias(state)  # the note after a tie, across the bar line too, continues the tied note: no move weighed
    assert {after_tie[i] for i in form_rules.rules.note_ids if abc.pitch_number(tokenizer.decode([int(i)])) == abc.pitch_number("E")} == {0.0}
    assert after_tie[form_rules.rules.note_ids].min() == -UNTIED  # and every other note gives way to it
    for token in tokenizer.encode(" E"):
        form_rules.advance(state, token)
    assert form_rules.bias(state) is not None  # and after it, moves count again


@pytest.mark.slow
def test_the_interval_prior_makes_the_base_models_melodies_move_by_step():
    """The committed base writes wider leaps alone; the prior brings its moves toward real songs'."""
    from aitunes_lib import metrics
    from aitunes_lib.backends import local
    from aitunes_lib.generate import GenerateConfig, Request, generate

    backend = local.LocalBackend(local.BASE_CHECKPOINT)

    def mean_interval(weight: float) -> float:
        songs = generate(backend, "song", Request("Interval Test", "Pytest"), GenerateConfig(n=6, seed=3, song=SongShape(intervals=weight, balance=0.0, harmony=False)))  # the prior alone
        values = [metrics.song_features(s)["mean_interval"] for s in songs if s.scores.get("valid", True)]
        return float(np.nanmedian(values))

    assert mean_interval(1.5) < mean_interval(0.0) - 0.3


@pytest.mark.slow
def test_the_balance_brings_the_base_models_melodies_to_a_real_pace_and_colour():
    """The committed base alone strikes about 4.4 notes a bar and all but never leaves the scale;
    the balance brings both to real songs' levels (3.2 notes a bar, 4% of the time off the scale).
    The breaths are off in both: they thin the bars that close a phrase, and this is the balance's test."""
    from aitunes_lib import metrics
    from aitunes_lib.backends import local
    from aitunes_lib.generate import GenerateConfig, Request, generate

    backend = local.LocalBackend(local.BASE_CHECKPOINT)

    def medians(balance: float) -> tuple[float, float]:
        songs = generate(backend, "song", Request("Balance Test", "Pytest"), GenerateConfig(n=6, seed=3, song=SongShape(balance=balance, harmony=False, breaths=False)))
        rows = [metrics.song_features(s) for s in songs if s.scores.get("valid", True)]
        return tuple(float(np.nanmedian([r[k] for r in rows])) for k in ("notes_per_bar", "in_scale"))

    (busy, scale), (paced, coloured) = medians(0.0), medians(4.0)
    assert abs(paced - 3.2) < abs(busy - 3.2) - 1 and coloured < scale


def test_motifs_repeat_a_bar_a_short_way_back_as_often_as_real_melodies():

    plan = form_plan("ABCD", 8)  # nothing returns: every bar but the cadence is free
    rng = np.random.default_rng(0)
    drawn = [motif_plan(plan, rng, TABLES.motifs, DEFAULTS.echo, DEFAULTS.echo_alone) for _ in range(500)]
    copies = [(b, step[1]) for p in drawn for b, step in enumerate(p) if isinstance(step, tuple)]
    assert all(source >= 0 for _, source in copies)
    near = [(b, source) for b, source in copies if b - source in TABLES.motifs]
    echoes = [(b, source) for b, source in copies if b - source not in TABLES.motifs]
    assert {b - source for b, source in near} == set(TABLES.motifs)
    assert all((b - source) % 4 == 0 and b - source >= 8 for b, source in echoes)  # the same place of an earlier phrase
    assert len({b - source for b, source in echoes}) >= 5  # 8, 12, 16, 20, 24, …
    later = sum(1 for p in drawn for b, step in enumerate(p) if b >= 8 and (step == "free" or isinstance(step, tuple) and b - step[1] >= 8))
    assert abs(len(echoes) / later - DEFAULTS.echo_alone * len(plan) / 31) < 0.02  # of the free bars from the ninth on (31 of 32 bars are free)
    returning = form_plan("ABAC", 8)  # where a section returns, free bars echo less often
    echoed = [b - step[1] for p in (motif_plan(returning, rng, TABLES.motifs, DEFAULTS.echo, DEFAULTS.echo_alone) for _ in range(500)) for b, step in enumerate(p)
              if isinstance(step, tuple) and returning[b] == "free" and b - step[1] not in TABLES.motifs]
    free_later = sum(1 for b, step in enumerate(returning) if b >= 8 and step == "free")
    assert DEFAULTS.echo < DEFAULTS.echo_alone and abs(len(echoed) / (500 * free_later) - DEFAULTS.echo * len(returning) / 24) < 0.03
    drawn = [motif_plan(plan, rng, TABLES.motifs, DEFAULTS.echo, 0.0) for _ in range(500)]  # no echoes where nothing returns
    copies = [(b, step[1]) for p in drawn for b, step in enumerate(p) if isinstance(step, tuple)]
    assert {b - source for b, source in copies} == set(TABLES.motifs)
    share = len(copies) / (500 * len(plan))
    assert abs(share - sum(TABLES.motifs.values())) < 0.015  # the real songs' share, less the first bars' lost chances
    assert all(p[-1] == "cadence" for p in drawn)
    aaba = form_plan("AABA", 8)
    assert all(step == original for p in (motif_plan(aaba, rng, TABLES.motifs, DEFAULTS.echo, DEFAULTS.echo_alone) for _ in range(50))
               for step, original in zip(p, aaba) if original != "free")  # returns and cadence stay as planned
    ends = phrase_ends(len(plan), 8)  # with a chart, the bars that close a phrase stay free for its cadence
    kept = [motif_plan(plan, rng, TABLES.motifs, DEFAULTS.echo, DEFAULTS.echo_alone, ends) for _ in range(200)]
    assert all(p[b] in ("free", "cadence") for p in kept for b in ends)
    assert sum(isinstance(step, tuple) for p in kept for step in p) > 0.8 * sum(isinstance(step, tuple) for p in drawn[:200] for step in p)


def test_a_melody_keeps_to_its_range(vocab):

    tokenizer, rules = vocab
    by_text, _, _ = note_bias_after(vocab, SongForm(("A",), section_bars=4, ranges=(12,)), " C c")
    assert by_text["G"] == by_text["c"] == by_text["C"] == 0.0  # inside the octave already spanned
    assert by_text["d"] == by_text["B,"] == -DEFAULTS.range_penalty  # a step past either end
    free = SongForm(("A",), section_bars=4).build(rules, tokenizer.encode, None)
    assert free[1][0].plan.span is None


def test_a_tie_joins_two_notes_of_one_pitch(vocab):

    tokenizer, rules = vocab
    form_rules, starts = SongForm(("A",), section_bars=4, intervals=0.5).build(rules, tokenizer.encode, None)
    state = starts[0]
    for token in events(rules, "E -"):
        form_rules.advance(state, token)
    mask = form_rules.allowed(state)
    after = {tokenizer.decode([int(i)]).strip() for i in rules.note_ids[mask[rules.note_ids]]}
    assert after and {t.rstrip("0123456789/") for t in after} == {"E"}  # E of any length, written alike; no rest, no leap
    # before a copied bar that opens on C, only a C may be tied over the bar line
    form_rules, starts = SongForm(("AA",), section_bars=2, vary=0, intervals=0.5).build(rules, tokenizer.encode, None)
    for last, tie in (("c", False), ("C", True)):
        state = copy.deepcopy(starts[0])
        for token in tokenizer.encode(f" C D E F | G A B {last}"):
            form_rules.advance(state, token)
        assert state.elapsed == rules.bar and state.plan.steps[2] == ("copy", 0)
        assert form_rules.allowed(state)[rules.kinds == TIE].any() == tie
    # inside a bar a tie only toward a length no one note holds, as the real songs tie there: `c/ c/- c2`, never `c- c` (`c2`)
    form_rules, starts = SongForm(("A",), section_bars=4, intervals=0.5).build(rules, tokenizer.encode, None)
    real = TABLES.tied_lengths
    pairs = {tuple(Fraction(x) for x in pair.split()) for pair, n in real.items() if n >= TIED_SHARE * sum(real.values())}
    assert (Fraction(1, 2), Fraction(2)) in pairs and all(not one_note(a + b) for a, b in pairs)
    tied = 0
    halves = [t for t in (tokenizer.decode([int(i)]) for i in rules.note_ids) if abc.note_length(t) == 2 and abc.pitch_number(t)]
    assert halves, "the vocabulary holds a half note"
    for opening in (" C D", " E/ E/", " C/ C/" + halves[0], " (3C D"):
        state = copy.deepcopy(starts[0])
        for token in tokenizer.encode(opening):
            form_rules.advance(state, token)
        room = Fraction(rules.bar - state.elapsed, rules.ticks_per_quarter)
        held = Fraction(state.elapsed - state.melody.struck_at, rules.ticks_per_quarter)  # the last note's length
        last = opening.split()[-1].rstrip("0123456789/")
        lengths = [abc.note_length(t) for t in (tokenizer.decode([int(i)]) for i in rules.note_ids) if t.strip().rstrip("0123456789/") == last]
        tieable = "(3" not in opening and any(b <= room and (held, b) in pairs for b in lengths)  # none inside a triplet
        assert 0 < room and held == abc.note_length(opening.split()[-1]) * (Fraction(2, 3) if "(3" in opening else 1)
        assert form_rules.allowed(state)[rules.kinds == TIE].any() == tieable, opening
        tied += tieable
        if tieable:
            form_rules.advance(state, int(np.flatnonzero(rules.kinds == TIE)[0]))
            allowed = form_rules.allowed(state)
            after = [abc.note_length(tokenizer.decode([int(i)])) for i in rules.note_ids[allowed[rules.note_ids]]]
            assert after and all((held, b) in pairs and b <= room for b in after), (opening, after)
    assert tied >= 1  # the cases above do reach a tie


def test_a_chord_symbol_stands_over_a_note_not_a_rest(vocab):
    tokenizer, rules = vocab
    form_rules, starts = SongForm(("A",), section_bars=4, intervals=0.5).build(rules, tokenizer.encode, None)
    for opening in (" `C`", " C2 `F`"):
        state = copy.deepcopy(starts[0])
        for token in tokenizer.encode(opening):
            form_rules.advance(state, token)
        allowed = form_rules.allowed(state)
        assert not allowed[rules.vocab.rest_ids].any() and allowed[rules.note_ids[rules.vocab.pitched]].any()


TRIPLET = re.compile(r"\(3((?:\s*[_^=]*[A-Ga-gz][,']*[0-9/]*-?){3})")


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), form=st.sampled_from(["AB", "AABA", "A"]))
def test_a_phrase_breathes_where_it_drew_to_and_a_triplet_is_a_real_one(vocab, seed, form):
    """Random logits through a planned song (chart, breaths, every mask): each free bar that closes
    a phrase strikes no note after its drawn eighth, except a planned chord's note (a chord comes
    with the first note at or after its beat); every triplet is three notes of one length, quarters or eighths."""
    from aitunes_lib.decoding.plan import draw_plans

    tokenizer, rules = vocab
    shape = SongShape(form=form, section_bars=4, chord_tones=0.0, intervals=0.0, balance=0.0, motifs=False, ranges=False,
                      rhythms=False, closing=False)
    plans = draw_plans(shape, 1, seed)
    assert plans[0].breaths, plans[0]  # a 4/4 song draws them
    form_rules, starts = constraints.SongForm(tuple(plans), shape).build(rules, tokenizer.encode, None)
    state = starts[0]
    ids = walk(form_rules, np.random.default_rng(seed), 3000, state=state)
    melody = as_completion(tokenizer.decode(ids))
    assert state.done, melody
    bars = abc.bar_onsets(melody)[state.offset:]  # after any pickup
    breaths = [(b, e) for b, e in enumerate(state.plan.breaths) if e is not None]
    assert breaths and all(state.plan.steps[b] == "free" for b, _ in breaths)
    for b, e in breaths:
        chords = [Fraction(at, rules.ticks_per_quarter) for at, _ in state.chart[b] if at > 0]  # beat 1's has its own note
        late = [o for o in bars[b][1] if o >= Fraction(max(e, 0) + 1, 2)]  # struck after the breath (-1: held into, else its first beat)
        assert len(late) <= len(chords), (b, e, chords, bars[b], melody)  # at most each later chord's own note
    groups = TRIPLET.findall(abc.CHORD.sub(" ", melody))
    assert len(groups) == int((rules.kinds[ids] == abc.TUPLET_KIND).sum()), melody  # every tuplet mark opens one
    for group in groups:
        notes = [m.group(0).strip() for m in abc.NOTE.finditer(group)]
        assert len(notes) == 3 and not any(n.startswith("z") for n in notes), (group, melody)
        assert len({abc.note_length(n) for n in notes}) == 1 and abc.note_length(notes[0]) in (1, Fraction(1, 2)), (group, melody)


def test_a_bar_that_strikes_no_note_is_held_into_or_strikes_on_its_first_beat(vocab):
    tokenizer, rules = vocab
    form_rules, starts = SongForm(("A",), section_bars=4, pickups=(False,)).build(rules, tokenizer.encode, None)
    pitched = rules.note_ids[rules.vocab.pitched]

    def after(text: str):
        state = copy.deepcopy(starts[0])
        state.plan = dataclasses.replace(state.plan, breaths=(None, -1, None, None))
        for token in tokenizer.encode(text):
            form_rules.advance(state, token)
        return form_rules.allowed(state)

    assert set(np.flatnonzero(after(" C D E E"))) == set(np.flatnonzero(rules.kinds == TIE))  # the last note is tied over
    held = after(" C D E E- |")
    assert {tokenizer.decode([int(t)]).strip()[:1] for t in pitched[held[pitched]]} == {"E"}  # the held note, then rests
    assert not after(" C D E E- | E")[pitched].any()
    fresh = after(" C D E z |")  # after a rest: its first beat only, and that note holds (or is very short)
    assert fresh[pitched].any()
    lengths = {abc.note_length(tokenizer.decode([int(t)])) for t in pitched[fresh[pitched]]}
    assert lengths and all(q == 4 or q >= 2 or q < Fraction(1, 2) for q in lengths), lengths
    struck = next(tokenizer.decode([int(t)]) for t in pitched[fresh[pitched]] if abc.note_length(tokenizer.decode([int(t)])) == 2)
    assert not after(" C D E z |" + struck)[pitched].any()


def test_a_triplet_is_three_notes_of_one_length_quarters_or_eighths(vocab):
    tokenizer, rules = vocab
    form_rules, starts = SongForm(("A",), section_bars=4, pickups=(False,)).build(rules, tokenizer.encode, None)

    def lengths_after(text: str) -> set:
        state = copy.deepcopy(starts[0])
        for token in tokenizer.encode(text):
            form_rules.advance(state, token)
        allowed = form_rules.allowed(state)
        notes = rules.note_ids[allowed[rules.note_ids]]
        assert not any(tokenizer.decode([int(t)]).strip().startswith("z") for t in notes)  # no rest inside
        return {abc.note_length(tokenizer.decode([int(t)])) for t in notes}

    assert lengths_after(" C (3") == {1, Fraction(1, 2)}  # its first note: a quarter or an eighth
    assert lengths_after(" C (3 D/") == {Fraction(1, 2)} and lengths_after(" C (3 D/ E/") == {Fraction(1, 2)}
    assert lengths_after(" C (3 D") == {1}
    state = copy.deepcopy(starts[0])
    for token in tokenizer.encode(" C D E z/"):  # half a beat left: no triplet starts
        form_rules.advance(state, token)
    assert not form_rules.allowed(state)[rules.kinds == abc.TUPLET_KIND].any()


def test_the_breaths_are_drawn_for_the_free_bars_that_close_a_phrase_in_four_four_only():
    plans = draw_plans_for(SongShape(form="AABA"), 20)
    for plan in plans:
        ends = phrase_ends(len(plan.steps), plan.section_bars)
        assert len(plan.breaths) == len(plan.steps)
        assert all((e is not None) == (b in ends and plan.steps[b] == "free") for b, e in enumerate(plan.breaths)), plan
    drawn = [e for plan in plans for e in plan.breaths if e is not None]
    assert set(drawn) <= set(range(-1, 8)) and len(set(drawn)) >= 4  # as the real blocks close: often early, sometimes not at all
    assert not any(plan.breaths for plan in draw_plans_for(SongShape(form="AABA", meter="3/4"), 5))
    assert not any(plan.breaths for plan in draw_plans_for(SongShape(form="AABA", breaths=False), 5))


def draw_plans_for(shape, n):
    from aitunes_lib.decoding.plan import draw_plans

    return draw_plans(shape, n, seed=5)


def test_the_balance_leans_toward_the_moves_a_melody_is_behind_on(vocab):

    steady = " E E E E | E E E E | E"  # nothing but repeated notes so far
    plain, _, _ = note_bias_after(vocab, SongForm(("A",), section_bars=8, intervals=0.5), steady)
    leaning, rules, state = note_bias_after(vocab, SongForm(("A",), section_bars=8, intervals=0.5, balance=1.0, seed=0), steady)
    assert state.melody.moves[0] == 8 and sum(state.melody.moves) == 8 and len(state.plan.aims.moves) == len(TABLES.moves)
    assert leaning["E"] - plain["E"] < 0 < leaning["F"] - plain["F"]  # away from another repeat, toward a step
    for token in events(vocab[1], "- E - E - E"):
        rules.advance(state, token)
    assert rules.bias(state)[rules.kinds == TIE].max() < 0  # three ties in 12 notes: the next tie is leaned against
    # the aims: one per melody, around the real songs' mix, DEFAULTS.widen times as varied as theirs
    aims = np.array(moves_drawn(4000, seed=1))
    assert moves_drawn(3, 5) == moves_drawn(3, 5) != moves_drawn(3, 6)
    assert np.allclose(aims.mean(axis=0), TABLES.moves, atol=0.01) and np.allclose(aims.sum(axis=1), 1, atol=0.01)
    assert abs(aims[:, 1].std() - 0.13 * DEFAULTS.widen ** 0.5) < 0.02  # the real songs' step shares: standard deviation 0.13


def test_the_balance_keeps_a_melody_near_its_pace(vocab):

    tokenizer, _ = vocab
    busy, _, state = note_bias_after(vocab, SongForm(("A",), section_bars=8, balance=1.0, seed=0), " E/ E/ E/ E/ E/ E/ E/ E/ |")
    assert state.melody.onsets == 8 and state.plan.aims.density is not None and 2 > state.plan.aims.density
    long, short = [next(t for t in busy if abc.pitch_number(t) == abc.pitch_number("E") and abc.note_length(t) == n)
                   for n in (2, Fraction(1, 2))]
    assert busy[long] > busy[short]  # two notes a quarter is ahead of its pace: longer notes now (the same move)
    calm, _, _ = note_bias_after(vocab, SongForm(("A",), section_bars=8, balance=1.0, seed=0), " E4 | E4 | E4 |")
    assert calm[long] < calm[short]  # one note a bar is behind: shorter ones
    plain, _, _ = note_bias_after(vocab, SongForm(("A",), section_bars=8, intervals=0.5, seed=0), " E4 | E4 | E4 |")
    assert plain[long] == plain[short]  # without the balance, no lean
    drawn = np.log(densities_drawn(4000, seed=1))
    assert densities_drawn(3, 5) == densities_drawn(3, 5) != densities_drawn(3, 6)
    assert abs(np.exp(drawn.mean()) - TABLES.density) < 0.02 and abs(drawn.std() - TABLES.density_spread) < 0.02


def test_the_balance_leaves_the_scale_as_often_as_real_melodies(vocab):

    form = SongForm(("A",), section_bars=8, balance=1.0, seed=0)
    diatonic, _, state = note_bias_after(vocab, form, " c e g e | d e c e |")
    assert state.melody.sung == 8 and state.melody.off_scale == 0 and state.plan.aims.chromatic is not None

    def gap(bias):  # D# against F: one semitone below and above the last note (e), so the same move
        return bias["^d"] - bias["f"]

    assert gap(diatonic) > 0.2  # 8 quarters on the scale: a D# is welcome
    chromatic, _, state = note_bias_after(vocab, form, events(vocab[1], "^c ^d ^f _A | _B ^c ^d e |"))
    assert state.melody.sung == 8 and state.melody.off_scale == 7
    assert gap(chromatic) < -0.5  # nearly all of it off the scale: back to it
    assert gap(note_bias_after(vocab, SongForm(("A",), section_bars=8, intervals=0.5, seed=0), " c e g e | d e c e |")[0]) == 0  # off: no lean
    drawn = np.array(chromatic_drawn(4000, seed=1))
    assert chromatic_drawn(3, 5) == chromatic_drawn(3, 5) != chromatic_drawn(3, 6)
    assert abs(np.mean(drawn == 0) - TABLES.diatonic) < 0.02  # a fifth never leave the scale
    assert abs(drawn.mean() - 0.057) < 0.005 and abs(drawn.std() - 0.055) < 0.01  # the real songs' mean and spread
    _, rules, state = note_bias_after(vocab, form, " c e g e | d e c e |")
    aiming(state, chromatic=0.0)  # the same melody, had it aimed never to leave the scale
    bonus = rules.bias(state)
    assert gap({vocab[0].decode([int(i)]).strip(): bonus[i] for i in rules.rules.note_ids}) < -5


def test_the_balance_rests_as_often_as_real_melodies(vocab):

    form = SongForm(("A",), section_bars=8, balance=1.0, seed=0)
    busy, rules, state = note_bias_after(vocab, form, " C E G E | D E C E |")
    assert state.melody.rested == 0 and state.plan.aims.rests is not None
    rest = rules.rules.vocab.rest_ids[0]
    assert busy[vocab[0].decode([int(rest)]).strip()] > 0.2  # 8 quarters without a breath: a rest is welcome
    resting, _, state = note_bias_after(vocab, form, events(vocab[1], "z z z z | z z C C |"))
    assert state.melody.rested == 6 and state.melody.sung == 2
    assert resting[vocab[0].decode([int(rest)]).strip()] < -1  # mostly rests so far: sing
    drawn = np.array(rests_drawn(4000, seed=1))
    assert rests_drawn(3, 5) == rests_drawn(3, 5) != rests_drawn(3, 6)
    assert abs(np.mean(drawn == 0) - TABLES.restless) < 0.02 and abs(drawn[drawn > 0].mean() - TABLES.resting) < 0.005
    assert abs(drawn.mean() - 0.059) < 0.005 and abs(drawn.std() - 0.057) < 0.01  # the real songs' mean and spread
    aiming(state, rests=0.0)  # a melody that aims never to rest
    assert rules.bias(state)[rest] < -5


@pytest.mark.parametrize("knob, top", [({"balance": -1.0}, 8), ({"balance": 9.0}, 8), ({"intervals": 5.0}, 4)])
def test_a_shaping_weight_out_of_range_is_refused(knob, top):
    from aitunes_lib.generate import GenerateConfig

    with pytest.raises(ValueError, match=f"{next(iter(knob))}=.*use 0 \\(off\\) to {top}"):
        GenerateConfig(song=SongShape(**knob))


def test_candidates_take_turns_repeating_a_section_exactly_or_with_a_new_last_bar():

    rules = MeterRules([" C", " |", " `C`", "<end>", " $", " "])
    _, starts = SongForm(("AAB", "AAB", "AAB"), section_bars=4, vary=(0, 1)).build(rules, lambda text: [2], None)
    assert [s.plan.steps for s in starts] == [form_plan("AAB", 4, vary=v) for v in (0, 1, 0)]
    assert starts[0].plan.steps[7] == ("copy", 3) and starts[1].plan.steps[7] == "free"  # the returning A's last bar: kept, or new
    assert starts[0].plan.steps[6] == starts[1].plan.steps[6] == ("copy", 2) and starts[0].plan.steps[11] == "cadence"


def test_a_melody_keeps_to_its_rhythm(vocab):

    tokenizer, _ = vocab
    straight = SongForm(("A",), section_bars=8, rhythms=("1 2 3 4",))
    bias, rules, state = note_bias_after(vocab, straight, " C D E F |")
    assert state.plan.lengths == SongPlan("A", (), rhythm="1 2 3 4").lengths and not state.plan.tuplets
    length = {t: abc.note_length(t) for t in bias}
    assert {length[t] for t in bias if bias[t] == -AVOID and abc.pitch_number(t) is not None} >= {Fraction(1, 2), Fraction(3, 2)}
    assert all(bias[t] == 0 for t in bias if length[t] in (1, 2, 3, 4) or abc.pitch_number(t) is None)  # its lengths, and rests, alone
    assert (rules.bias(state)[rules.kinds == abc.TUPLET_KIND] == -AVOID).all()  # no triplets either
    swung, _, state = note_bias_after(vocab, SongForm(("A",), section_bars=8, rhythms=("1/2 1 3/2 2 (3",)), " C D E F |")
    assert state.plan.tuplets and swung[next(t for t in swung if length[t] == Fraction(1, 2))] == 0
    free, _, state = note_bias_after(vocab, SongForm(("A",), section_bars=8, intervals=0.5), " C D E F |")
    assert state.plan.lengths is None and len({free[t] for t in free if abc.pitch_number(t) == abc.pitch_number("E")}) == 1  # none drawn: any
    from aitunes_lib.decoding.plan import draw_plans

    drawn = [p.rhythm for p in draw_plans(DEFAULTS, 2000, 1)]
    assert set(drawn) <= set(TABLES.rhythms)
    assert abs(drawn.count("1 2 3 4") / len(drawn) - TABLES.rhythms["1 2 3 4"] / sum(TABLES.rhythms.values())) < 0.02


def test_a_retuned_copy_keeps_the_melody_and_lets_the_model_choose_chords_that_hold_it(vocab):

    tokenizer, rules = vocab
    form_rules, starts = SongForm(("AA",), section_bars=2, tone_bias=1.0, retune=1.0, seed=0).build(rules, tokenizer.encode, None)
    state = starts[0]
    assert state.plan.steps == ("free", "free", ("tune", 0), "cadence")
    for token in tokenizer.encode(" `C` C D E F | `G` G A B c |"):
        form_rules.advance(state, token)
    assert state.retuning and [tokenizer.decode([t]).strip() for t in state.forcing] == ["`C`", "C", "D", "E", "F", "|"]
    allowed = {tokenizer.decode([int(i)]).strip() for i in np.flatnonzero(form_rules.allowed(state))}
    assert {"C", "`Am`", "`C`"} <= allowed and "D" not in allowed  # where the bar had a chord: any chord symbol, or none
    bonus = form_rules.bias(state)
    by_text = {tokenizer.decode([int(i)]).strip(): bonus[i] for i in np.flatnonzero(rules.kinds == abc.CHORD_KIND)}
    assert by_text["`Am`"] == by_text["`F`"] == 1.0 and by_text["`G`"] == 0.0  # chords that hold the next note, C
    retuned, kept = copy.deepcopy(state), copy.deepcopy(state)
    form_rules.advance(retuned, tokenizer.encode(" `Am`")[0])
    assert [tokenizer.decode([t]).strip() for t in retuned.forcing][:2] == ["C", "D"]  # a new chord symbol; the copy goes on
    assert {tokenizer.decode([int(i)]).strip() for i in np.flatnonzero(form_rules.allowed(retuned))} == {"C"}  # no chord where the bar had none
    form_rules.advance(kept, tokenizer.encode(" C")[0])
    assert [tokenizer.decode([t]).strip() for t in kept.forcing][:1] == ["D"] and kept.current[-1] == tokenizer.encode(" C")[0]  # none: C carries on


def test_the_balance_keeps_each_melody_on_the_chord_as_much_as_it_aims_to(vocab):

    tokenizer, vocabulary = vocab

    def lean(aim: float, notes: str) -> tuple[float, object]:  # E against F under C: a chord tone and its neighbour
        rules, starts = SongForm(("A",), section_bars=8, balance=1.0, tone_bias=1.0, seed=0).build(vocabulary, tokenizer.encode, None)
        state = aiming(starts[0], chord_tones=aim)
        for token in tokenizer.encode(" `C`" + notes):
            rules.advance(state, token)
        bonus = rules.bias(state)
        by_text = {tokenizer.decode([int(i)]).strip(): bonus[i] for i in vocabulary.note_ids}
        return by_text["e"] - by_text["f"], state

    on, state = lean(0.9, "d f a b |")  # 4 quarters, all off the chord, against an aim of 0.9: back to it
    assert state.melody.under == 4 and state.melody.on_chord == 0 and on > 1.0 + 0.5  # the tone bonus (1.0) and the lean
    off, state = lean(0.5, "c e g c | c e g c | c e g c |")  # all on it, against 0.5: away from it
    assert state.melody.on_chord == 12 and off < 1.0 - 0.5
    drawn = np.array(tones_drawn(4000, seed=1))
    assert tones_drawn(3, 5) == tones_drawn(3, 5) != tones_drawn(3, 6)
    assert abs(drawn.mean() - TABLES.tone_share) < 0.01 and abs(drawn.std() - 0.10 * DEFAULTS.widen ** 0.5) < 0.02  # real: 0.10


def test_a_melody_keeps_inside_its_range_and_the_cadence_lands(vocab):

    form = SongForm(("A",), section_bars=8, ranges=(12,), seed=0)
    late, _, state = note_bias_after(vocab, form, " c d e d |" * 6 + " c d e")
    assert late["A"] == late["g"] == late["d"] == 0 and late["C"] < 0 and late["G,"] < 0  # inside the octave: free; past it: the limit
    cadence, _, _ = note_bias_after(vocab, form, vocab[0].encode(" c d e d |" * 7) + vocab[0].encode(" `C`"))  # its chord, forced
    assert cadence["C"] < 0  # the last bar lands where its ending says


def test_the_landing_note_is_held_in_one_note_to_the_end_of_the_bar(vocab):
    """After the cadence's note and a tie, only the note of its pitch that fills the bar (not a chain of short tied notes)."""

    tokenizer, rules = vocab
    form_rules, starts = SongForm(("A",), section_bars=1).build(rules, tokenizer.encode, None)  # one bar: the cadence
    state = starts[0]
    for token in tokenizer.encode(" `C`") + events(rules, "c2 -"):
        form_rules.advance(state, token)
    notes = set(rules.note_ids.tolist())
    allowed = {tokenizer.decode([i]).strip() for i in np.flatnonzero(form_rules.allowed(state)).tolist() if i in notes}
    assert allowed == {"c2"}
    form_rules, starts = SongForm(("A",), section_bars=1).build(rules, tokenizer.encode, None)
    state = starts[0]  # landed and not held: the bar ends in one rest where one fills it
    for token in tokenizer.encode(" `C`") + events(rules, "c2"):
        form_rules.advance(state, token)
    allowed = form_rules.allowed(state)
    rests = {tokenizer.decode([int(i)]).strip() for i in rules.vocab.rest_ids[allowed[rules.vocab.rest_ids]]}
    assert rests == {"z2"} and not allowed[rules.kinds == TIE].any(), rests  # held to the bar's end it is one note (c4): no tie
