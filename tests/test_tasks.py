"""The task registry: each task's records, prompts from checked input, constraints and checks;
and a task registered by a test, run through the CLI and the studio with no library edit."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from aitunes_lib import abc, dataset, tasks
from aitunes_lib.decoding.constraints import Register, SongForm, WholeBars
from aitunes_lib.decoding.plan import SongPlan, SongShape, draw_plans
from aitunes_lib.song import Song

REAL = {"prompt": "X: 1 $ T: Oh, Johnny! $ C: Abe Olman $ <song>",
        "completion": " `C`G2 F E | G2 F E | `G7`F E F D- | D3 z | $ A2 G F | A2 G ^F | `C`G ^F G E- | E G `Cdim`A `G7`B |"
                      " $ `C`c2 c2 | `Cdim`c3 A | `G7`F4- | F G A ^A | $ B2 B2 | `G7+`B2 G2 | `C6`z A `Cdim`A B |"
                      " `G7`A G `Cdim`^F `G7`=F | $ `C`G2 F E | G2 F E | `G7`F E F D- | D3 G | $ `C``F7`c4- | `C`c3 z | $ <end>"}


def test_phrase_records_cut_at_a_bar_line_and_keep_the_text():
    record = tasks.PHRASE.record(REAL, 4)
    assert record["prompt"] == "X: 1 $ T: Oh, Johnny! $ C: Abe Olman $ <phrase> `C`G2 F E | G2 F E | `G7`F E F D- | D3 z |"
    assert record["completion"].startswith(" $ A2 G F |") and record["completion"].endswith(" $ <end>")
    assert record["prompt"].split("<phrase>")[1] + record["completion"] == REAL["completion"]  # nothing lost or added
    assert tasks.PHRASE.record(REAL, 20) is None  # too few bars left to continue
    assert tasks.task_of(record["prompt"]) == "phrase" and dataset.song_key(record["prompt"]) == dataset.song_key(REAL["prompt"])


def test_chord_records_chart_every_chord_at_its_onset():
    record = tasks.CHORDS.record(REAL, 0)
    chart_text = record["prompt"].split("<chords>")[1]
    assert chart_text.startswith(" `C`x4 | x4 | `G7`x4 | x4 | $ x4 | x4 | `C`x4 | x2 `Cdim`x `G7`x | $")
    assert chart_text.endswith(" $ <song>")
    chart = tasks.ChordChart.from_body(chart_text)
    assert len(chart.bars) == 16 and chart == tasks.ChordChart.from_body(record["completion"])
    assert tasks.chart_violations(chart, record["completion"]) == []
    second = tasks.CHORDS.record(REAL, 1)
    assert second["completion"].startswith(" `C`G2 F E |") and " `C``F7`x4 |" in second["prompt"]  # stacked chords
    assert tasks.CHORDS.record(REAL, 2) is None
    assert abc.parse_abc(abc.decode_body(chart_text.split(" $ <song>")[0])).recurse().getElementsByClass("ChordSymbol")


def test_task_mixture_and_no_leak_across_the_split(few_texts):
    from aitunes_lib.backends import local

    songs = [{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6:]} for t in few_texts]
    mixed = tasks.training_records(songs, {"song": 1, "phrase": 2, "chords": 1}, seed=3)
    kinds = [tasks.task_of(r["prompt"]) for r in mixed]
    assert kinds.count("song") == len(songs) and kinds.count("phrase") > len(songs) and kinds.count("chords") >= len(songs)
    assert tasks.training_records(songs, {"song": 1, "phrase": 2, "chords": 1}, seed=3) == mixed  # seeded
    texts = [r["prompt"] + r["completion"] for r in mixed]
    train, val = local.split_songs(texts, 0.25, seed=0)
    assert val and not {dataset.song_key(t) for t in train} & {dataset.song_key(t) for t in val}
    assert len({dataset.song_key(t) for t in val}) == 3  # a quarter of the songs, with all their records
    with pytest.raises(tasks.TaskInputError, match="unknown task 'melody'"):
        tasks.training_records(songs, {"melody": 1})


def test_a_prefix_in_another_key_is_transposed_and_other_meters_refused():
    phrase = tasks.phrase_input('X:1\nM:4/4\nL:1/4\nK:G\n"G"B2 d2 | "D7"c4 |')
    assert phrase == tasks.Phrase(" `C`e2 g2 | `G7`f4 |", 2, "G")  # up a fourth, as prep moves G
    same = tasks.phrase_input('"C"c2 e2 | "G7"d4')  # already in C: kept verbatim, bar line added
    assert same.prefix == " `C`c2 e2 | `G7`d4 |" and same.transposed_from is None
    with pytest.raises(tasks.TaskInputError, match="3/4"):
        tasks.phrase_input("M:3/4\nc d e |")
    with pytest.raises(tasks.TaskInputError, match="ends inside bar 2"):
        tasks.phrase_input("c d e f | g a |")
    with pytest.raises(tasks.TaskInputError, match="bar 2 .* lasts 5"):
        tasks.phrase_input("c d e f | g a b c' d' | c4 |")
    with pytest.raises(tasks.TaskInputError, match="empty"):
        tasks.phrase_input("  ")


def test_chord_charts_from_abc_or_lists_and_bad_charts_refused():
    chart, moved = tasks.chart_input('M:4/4\nK:F\n"F"x4 | "C7"x2 "F"x2 |')
    assert moved == "F" and chart.text() == " `C`x4 | `G7`x2 `C`x2 |"
    chart, moved = tasks.chart_input(["C", "Am F", "Dm G7 Em A7"])
    assert moved is None and chart.bars[2][1][1] == (Fraction(1), "G7")
    lead_sheet, _ = tasks.chart_input(REAL["completion"])  # a whole lead sheet: its notes are dropped
    assert len(lead_sheet.bars) == 22 and lead_sheet.chords[0] == (0, Fraction(0), "C")
    with pytest.raises(tasks.TaskInputError, match="empty"):
        tasks.chart_input([])
    with pytest.raises(tasks.TaskInputError, match="empty"):
        tasks.chart_input("c d e f |")  # notes but no chord symbol
    with pytest.raises(tasks.TaskInputError, match="'Hq7' in bar 2"):
        tasks.chart_input(["C", "Hq7"])
    with pytest.raises(tasks.TaskInputError, match="'Xm7b' in bar 1"):
        tasks.chart_input('"Xm7b"x4 |')
    with pytest.raises(tasks.TaskInputError, match="3 chords"):
        tasks.chart_input(["C G F"])
    with pytest.raises(tasks.TaskInputError, match="6/8"):
        tasks.chart_input('M:6/8\n"C"x3 |')


def test_chart_violations_name_the_bar():
    chart, _ = tasks.chart_input(["C", "Am F"])
    assert tasks.chart_violations(chart, " `C`c4 | `Am`A2 `F`A2 | $ <end>") == []
    problems = tasks.chart_violations(chart, " `C`c4 | `Am`A3 `F`A | `G`g4 | $ <end>")
    assert problems == ["3 bars, the chart has 2", "bar 2: chords Am@0 F@3, expected Am@0 F@2"]


# --------------------------------------------------------------------------- the registry


def test_prompts_name_their_constraints():
    song = tasks.get("song").prompt(tasks.Request("Tea", "Me"))  # no settings: the defaults, a planned song
    assert song.text == "X: 1 $ T: Tea $ C: Me $ <song>" and isinstance(song.constraint, SongForm)
    phrase = tasks.get("phrase").prompt(tasks.Request("Tea", "Me", '"C"c2 e2 | "G7"d4 |'))
    assert phrase.text.endswith("<phrase> `C`c2 e2 | `G7`d4 |") and phrase.prefix == " `C`c2 e2 | `G7`d4 |"
    assert phrase.constraint == WholeBars(bars_before=2, min_bars=6, register=Register(6, 22, 14))  # c..e widened to 16 semitones
    assert phrase.context["prefix_quarters"] == 8
    from aitunes_lib.generate import GenerateConfig

    chords = tasks.get("chords").prompt(tasks.Request(text=["C", "G7"]), GenerateConfig(song=SongShape(chord_tones=1.5)))
    assert chords.constraint.tone_bias == 1.5 and chords.constraint.tones == (frozenset({0, 4, 7}), frozenset({2, 5, 7, 11}))
    candidate = tasks.get("chords").song(chords, " `C`c4 | `G7`B2 d2 | $ <end>", 3)
    assert candidate.task == "chords" and candidate.candidate == 3 and candidate.violations == ()
    assert tasks.get("chords").song(chords, " `C`c4 | `F`A4 | $ <end>", 0).violations == ("bar 2: chords F@0, expected G7@0",)
    assert tasks.names() == ("song", "phrase", "chords") and tasks.markers() == ("<song>", "<phrase>", "<chords>")
    with pytest.raises(ValueError, match="registered already"):
        tasks.register(tasks.SongTask())
    with pytest.raises(tasks.TaskInputError, match="needs a chord chart"):
        tasks.get("chords").prompt(tasks.Request())


class EightBars(tasks.Task):
    """A test's own task: a whole song of at least eight bars, its records re-marked."""

    name, marker, label = "eight", "<eight>", "eight bars"
    input_help = "nothing: a song of at least eight bars"

    def records(self, record, count, rng):
        return [{"prompt": record["prompt"].replace("<song>", self.marker), "completion": record["completion"]}] * count

    def prompt(self, request, config=None):
        # the marker the base model knows, and the meter rules with a floor of eight bars
        return tasks.Prompt(self.name, abc.seed_prompt(request.title, request.composer), request.title, request.composer,
                            WholeBars(min_bars=8))

    def violations(self, prompt, completion):
        bars = len(abc.read_bars(completion))
        return [] if bars >= 8 else [f"{bars} bars, fewer than 8"]


@pytest.fixture
def eight_bars():
    task = tasks.register(EightBars())
    yield task
    tasks.unregister(task.name)


def test_a_task_of_ones_own_runs_through_the_cli_and_the_studio(eight_bars, tmp_path, capsys, few_texts):
    """The issue's check: register a task here, generate with it through the CLI and the studio,
    and rank the result; no library file knows of it."""
    import matplotlib

    matplotlib.use("Agg")
    from aitunes_lib import cli, metrics
    from aitunes_lib.backends.local import BASE_CHECKPOINT
    from aitunes_lib.generate import load_candidates
    from aitunes_lib.studio import Studio, default_backends, modes

    records = [{"prompt": t[: t.index("<song>") + 6], "completion": t[t.index("<song>") + 6:]} for t in few_texts[:3]]
    mixed = tasks.training_records(records, {"song": 1, "eight": 1})
    assert [tasks.task_of(r["prompt"]) for r in mixed] == ["song", "eight"] * 3
    assert "<eight>" in __import__("aitunes_lib.tokenizer", fromlist=["specials"]).specials()

    status = cli.main(["generate", "--model", str(BASE_CHECKPOINT), "--task", "eight", "-n", "3", "--seed", "4",
                       "--title", "Eight Days", "--band", "The Octets", "--out", str(tmp_path / "cli"),
                       "--stats", str(tmp_path / "none.json")])
    assert status == 0, capsys.readouterr().err
    songs = load_candidates(tmp_path / "cli")
    assert len(songs) == 3 and {s.task for s in songs} == {"eight"} and all(s.title == "Eight Days" for s in songs)
    assert all(len(abc.read_bars(abc.encode_body(s.body))) >= 8 for s in songs)  # the floor held while decoding
    assert all(s.violations == () for s in songs) and "eight:" in capsys.readouterr().out

    studio = Studio(default_backends(), folder=tmp_path / "studio", model=str(BASE_CHECKPOINT))
    assert modes()["eight bars"] == "eight"
    studio.set_mode("eight bars")
    assert studio.task_input.layout.display == "none"  # this task takes no input
    studio.n.value = 2
    table = studio.generate()
    assert table is not None, studio.status.value
    assert len(table) == 2 and set(table["task"]) == {"eight"} and table["task_kept"].all()
    ranked = metrics.rank(songs)
    assert list(ranked.columns[:3]) == ["candidate", "task", "valid"] and ranked["song"].iloc[0].scores["valid"] in (True, False)


def test_a_song_prompt_carries_one_plan_per_candidate_and_is_played_as_written():
    from aitunes_lib.generate import GenerateConfig

    config = GenerateConfig(n=3, seed=0, song=SongShape(form="AB*2"))
    prompt = tasks.get("song").prompt(tasks.Request("Tea", "Me"), config)
    assert prompt.constraint == SongForm(prompt.plans, config.song) and prompt.plans == tuple(draw_plans(config.song, 3, 0))
    assert [p.form for p in prompt.plans] == ["AB*2"] * 3 and all(p.tail == 0 for p in prompt.plans)  # a form asked for: as written
    song = tasks.get("song").song(prompt, " `C`c4 | $ <end>", 1)
    assert song.body == '"C"c4 |\n"C"c4 |\n' and song.context["form"] == "AB*2"  # one pass written, played twice
    assert song.context["plan"] is prompt.plans[1]  # the candidate's own plan rides along for ranking, render and studio
    assert "plan" not in song.to_json()["context"] and Song.from_json(song.to_json()).context["form"] == "AB*2"
    assert song.violations[0].startswith("1 bars; the form AB*2")  # a cut-short pass is reported
    off = tasks.get("song").prompt(tasks.Request(), GenerateConfig(song=SongShape(planned=False)))
    assert off.constraint == WholeBars() and off.plans == ()  # the model alone, with the bar rules
    for bad in ("ABACABACD", "xyz", "AB*9", "ABIJ"):
        with pytest.raises(ValueError, match="section letters"):
            GenerateConfig(song=SongShape(form=bad))
    with pytest.raises(ValueError, match=r"retune=1.5: use a share from 0"):
        GenerateConfig(song=SongShape(retune=1.5))


def test_a_repeated_form_opens_with_its_pickup_once_and_closes_once():
    """`AB*2` with a pickup and two closing bars: the pickup opens the first pass only, the closing bars end the last only."""
    pass_ = " C | " + " | ".join(f"`C`c{i % 4 + 1} z{4 - i % 4 - 1}" if i % 4 != 3 else "`G7`G4" for i in range(16)) + " | d4 | `C`c4 | $ <end>"
    body = tasks.SongTask.unfold(pass_, 2, 16)
    bars = [b.strip() for b in body.replace("\n", " ").split("|") if b.strip()]
    assert len(bars) == 1 + 16 + 16 + 2 and bars[0] == "C"  # the pickup, two passes of 16, the closing bars
    assert bars[1:17] == bars[17:33] and bars[-2:] == ["d4", '"C"c4']
    assert tasks.SongTask.unfold(pass_, 3, 16).count('"G7"G4') == 12  # a third pass: the form once more, closing once
    for unruly in (" c4 <end> | d4 | e4 |", " | | c4 | ] x |", " c4 `C` | (3 |", "", " hello $ <end>"):  # what a model left free may write
        assert isinstance(tasks.SongTask.unfold(unruly, 2, 16), str)
    prompt = tasks.Prompt("song", "", "T", "C", plans=(SongPlan.of("AB*2", tail=2),))
    song = tasks.get("song").song(prompt, pass_, 0)
    assert song.violations == () and song.context["tail"] == 2 and song.body == body
    assert tasks.get("song").song(dataclasses.replace(prompt, plans=(SongPlan.of("AB*2"),)), pass_, 0).violations == (
        "18 bars; the form AB*2 has 16",)


def test_a_repeated_form_with_a_volta_closes_each_pass_with_its_own_ending():
    """`AB*2` with a first and a second ending of 2 bars: the first closes every pass but the last, the second the last."""
    sections = [f"`C`c{i % 4 + 1} z{4 - i % 4 - 1}" if i % 4 != 3 else "`G7`G4" for i in range(14)]
    pass_ = " " + " | ".join(sections + ["e4", "`G7`d4", "f4", "`C`c4"]) + " | $ <end>"  # 14 bars, the 1st ending, the 2nd
    body = tasks.SongTask.unfold(pass_, 3, 16, volta=2)
    bars = [b.strip() for b in body.replace("\n", " ").split("|") if b.strip()]
    assert len(bars) == 48 and bars[:16] == bars[16:32]  # three passes of 16 bars, the first two alike
    assert bars[14:16] == ["e4", '"G7"d4'] and bars[32:46] == bars[:14] and bars[46:] == ["f4", '"C"c4']
    prompt = tasks.Prompt("song", "", "T", "C", plans=(SongPlan.of("AB*3", volta=2),))
    song = tasks.get("song").song(prompt, pass_, 0)
    assert song.violations == () and song.context["volta"] == 2 and song.body == body
    once = tasks.get("song").song(dataclasses.replace(prompt, plans=(SongPlan.of("AB", volta=2),)), pass_, 0)
    assert once.violations == ("18 bars; the form AB has 16",) and "volta" not in once.context  # a form played once has no volta


def test_an_ending_off_the_tonic_is_kept_and_checked():
    """A candidate drawn to end on E over Am must land on E; C there is a violation."""
    prompt = tasks.Prompt("song", "", "T", "C", plans=(SongPlan.of("A", section_bars=1, ending="Am:E"),))
    assert tasks.get("song").song(prompt, " `Am`e4 | $ <end>", 0).violations == ()
    assert tasks.get("song").song(prompt, " `Am`c4 | $ <end>", 0).violations == ("the melody does not end on E",)
