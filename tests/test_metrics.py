"""Tonality features, NDM, ranking and the checks, against hand-made songs and an oracle."""

from __future__ import annotations

import dataclasses

import json
import math

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

import reference_metrics as ref
from aitunes_lib import metrics as M
from aitunes_lib.plots import feature_distributions

HEADER = "X:1\nT:t\nL:1/4\nM:4/4\nK:C\n"


def arr(*pairs):
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def test_grid_and_cmm():
    notes = arr((60, 4), (62, 2), (60, 2), (67, 0))
    assert M.grid(notes).tolist() == [60, 0, 0, 0, 62, 0, 60, 0, 67]
    assert M.conjunct_melodic_motion(notes) == pytest.approx((2 + 2 + 7) / 3)


def test_lm_branches_in_one_window():
    scale = arr(*[(60 + k, 4) for k in range(8)])  # 8 distinct pitches in 32 steps: in range
    assert M.limited_macroharmony(scale) == 1
    assert M.limited_macroharmony(arr((60, 16), (62, 16))) == 4  # n = 2: (5 - 2) + 1
    chromatic = arr(*[(60 + k, 2) for k in range(16)])  # n = 16 counts from 5, not 8
    assert M.limited_macroharmony(chromatic) == 12


def test_article_window_count_is_fractional():
    # 16 quarter notes = 64 steps: (64 - 32) / 4 + 1 = 9 windows; 62 steps: 8.5, summed over 8
    notes = arr(*[(60 + k % 3, 4) for k in range(15)], (60, 2))  # 62 steps
    windows = np.lib.stride_tricks.sliding_window_view(M.grid(notes), 32)[::4][:8]
    per_window = [ref._lm_window(list(w)) for w in windows]
    assert len(M.grid(notes)) == 62
    assert M.limited_macroharmony(notes) == pytest.approx(sum(per_window) / 8.5)
    assert M.limited_macroharmony(notes, "corrected") == pytest.approx(sum(per_window) / 8)


def test_centricity_article_counts_runs_corrected_counts_pitch_classes():
    notes = arr((60, 4), (62, 4), (60, 4), (72, 4), (72, 4), (64, 4), (65, 4), (67, 4))
    assert M.centricity(notes) == pytest.approx(2 / 8)  # longest run: 72, 72
    assert M.centricity(notes, "corrected") == pytest.approx(4 / 8)  # pitch class C: 60, 60, 72, 72


def test_a_window_inside_one_long_note_scores_one():
    # 8 bars of one held note then a tune: windows starting inside the held note have no
    # onset; the reference divides by zero there; here the held note is the centre (1.0)
    notes = arr((60, 128), *[(62 + k % 5, 4) for k in range(16)])
    assert math.isfinite(M.centricity(notes))
    g = M.grid(notes)
    windows = np.lib.stride_tricks.sliding_window_view(g, 32)[::4]
    assert (windows != 0).sum(axis=1).min() == 0  # there are such windows
    assert M.centricity(notes) == pytest.approx(ref.cent(notes.tolist()), abs=1e-12)


@pytest.mark.parametrize("body, expected_notes", [("", 0), ("z4 |", 0), ("C4 |", 1), ("z2 C2 | z4 |", 1)])
def test_bad_songs_give_nan_not_errors(body, expected_notes):
    notes = M.note_array(HEADER + body) if body else arr()
    values = M.features(notes, M.note_events(HEADER + body) if body else None)
    assert len(notes) == expected_notes
    assert math.isnan(values["CMM"])
    assert math.isnan(values["CONS"]) and math.isnan(values["HC"])
    if expected_notes == 0:
        assert math.isnan(values["LM"]) and math.isnan(values["CENT"])
    else:
        assert values["LM"] == 5 and values["CENT"] == 1.0  # one pitch: (5 - 1) + 1


def test_note_arrays_follow_the_article():
    score = HEADER + '"C"C/ D/ E- E {F}G | z c3/2 B/ A G |'
    assert M.note_array(score).tolist() == [[60, 2], [62, 2], [64, 4], [64, 4], [65, 0], [67, 4],
                                            [72, 6], [71, 2], [69, 4], [67, 4]]


def test_note_events_carry_the_sounding_chord():
    events = M.note_events(HEADER + '"C"C/ D/ E- E "G7"G2 | "N.C."z c2 "F"A |')
    assert events.pitch.tolist() == [60, 62, 64, 67, 72, 69]
    assert events.duration.tolist() == [0.5, 0.5, 2.0, 2.0, 2.0, 1.0]  # the tie merged
    c, g7, f = M.pc_mask([0, 4, 7]), M.pc_mask([7, 11, 2, 5]), M.pc_mask([5, 9, 0])
    assert events.chord.tolist() == [c, c, c, g7, 0, f]
    assert events.chords.tolist() == [c, g7, f]
    assert events.chord_durations.tolist() == [3.0, 2.0, 1.0]  # G7 stops at N.C.


def test_consonance_and_consistency_by_hand():
    events = M.note_events(HEADER + '"C"C2 E2 | "G7"F2 "Am"B2 |')
    # C over C: (1.5 + ic4 0.386 + ic5 1.240)/3; E over C: (0.386 + 1.5 + 0.594)/3; ...
    expected = ref.consonance(events.to_json())
    assert M.acoustic_consonance(events) == pytest.approx(expected, abs=1e-12)
    assert M.acoustic_consonance(events) == pytest.approx(
        (2 * (1.5 + 0.386 + 1.240) / 3  # C over C-E-G: unison, ic4, ic5
         + 2 * (0.386 + 1.5 + 0.594) / 3  # E over C-E-G: ic4, unison, ic3
         + 2 * (-0.582 + -0.453 + 0.594 + 1.5) / 4  # F over G-B-D-F: ic2, ic6, ic3, unison
         + 2 * (-0.582 + -1.428 + 1.240) / 3) / 8)  # B over A-C-E: ic2, ic1, ic5
    # C and Am are both set class 3-11 (major/minor triad): 2/4 + ... G7 alone 1/4
    assert M.harmonic_consistency(events) == pytest.approx((3 / 4) ** 2 + (1 / 4) ** 2)


def test_ndm_article_slip_and_corrected():
    values = {"CMM": 3.124, "LM": 1.5614, "CENT": 0.2244}
    # the article's third candidate: NDM 3.8996, with CENT's deviation over CMM's std (its
    # features were printed rounded to 4 decimals, hence the tolerance; without the slip the
    # NDM would be 0.77 higher)
    assert M.ndm(values, M.ARTICLE_STATS) == pytest.approx(3.8996, abs=1e-3)
    for cmm_, lm_, cent_, published in [(2.3385, 3.5488, 0.5213, 8.1677), (3.828, 2.3396, 0.2677, 10.7161),
                                        (2.0206, 3.4195, 0.4869, 7.0639), (3.2644, 1.4132, 0.2436, 5.5533)]:
        assert M.ndm({"CMM": cmm_, "LM": lm_, "CENT": cent_}, M.ARTICLE_STATS) == pytest.approx(published, abs=1e-3)
    z = [(3.124 - 2.2715) / 0.4831, (1.5614 - 2.0305) / 0.5386, (0.2244 - 0.3042) / 0.0891]
    assert M.ndm(values, M.ARTICLE_STATS, "corrected") == pytest.approx(math.sqrt(sum(v * v for v in z)))
    with pytest.raises(ValueError, match="unknown variant"):
        M.ndm(values, M.ARTICLE_STATS, "other")


def test_stats_round_trip(tmp_path):
    stats = M.training_stats([{"CMM": 1.0, "LM": 2.0}, {"CMM": 3.0, "LM": math.nan}])
    assert stats["CMM"]["mean"] == 2.0 and stats["CMM"]["std"] == 1.0 and stats["LM"]["songs"] == 1
    path = M.save_stats(stats, tmp_path / "stats.json")
    assert M.load_stats(path)["CMM"]["mean"] == 2.0
    with pytest.raises(FileNotFoundError, match="python -m aitunes_lib prep"):
        M.load_stats(tmp_path / "missing.json")


def test_novelty_repetition_and_rhythm():
    training = M.TrainingBars(['"C"C D E F | G4 | A G F E | D4 | C4 |\n', "E4 | F4 |\n"])
    copied = ["x", '"C"C D E F', "G4", "A G F E", "D4", "y"]
    assert training.longest_copy(copied) == 4
    assert training.longest_copy(["G4", "F4"]) == 1  # bars from two songs do not join
    assert training.shared_ngrams(copied) == pytest.approx(1 / 3)
    assert M.repetition(["a", "b", "a", "a"]) == 0.5
    rhythm = M.rhythm_validity(M._score(HEADER + "C | C4 | C3 | C4 | C2 |"))
    assert rhythm["rhythm_ok"] == pytest.approx(2 / 3) and rhythm["bad_bars"] == [2]
    assert rhythm["partial_ends"] == [0, 4]


def test_rank_never_raises_and_puts_bad_candidates_last():
    good = HEADER + '"C"E G c G | "F"A c f c | "G7"B d g d | "C"c4 |'
    flat = HEADER + '"C"C4 | C4 | C4 | C4 |'
    table = M.rank([good, "X:1\nK:C\n(0C D |", HEADER + "z4 |", flat, HEADER + "C D E F | G A B c |"])
    assert list(table.columns[:4]) == ["candidate", "task", "valid", "reason"]
    assert [s.candidate for s in table["song"]] == [None] * 5 and table["song"].iloc[0].scores["NDM"] == table["NDM"].iloc[0]
    assert table["valid"].tolist() == [True, True, True, False, False]
    assert table.iloc[-2:]["candidate"].tolist() in ([1, 2], [2, 1])
    bad = table.set_index("candidate")
    assert bad.loc[2, "reason"] == "no notes; no chord symbols: CONS and HC undefined"
    assert "no chord symbols: CONS and HC undefined" in bad.loc[4, "reason"]
    assert table["NDM"].iloc[:3].is_monotonic_increasing


def test_an_unparseable_candidate_keeps_the_parser_message():
    row = M.evaluate(HEADER + "C D (0E F |", M.ARTICLE_STATS)
    assert row["valid"] is False
    assert row["reason"] == "does not parse: ABCTokenException: cannot handle tuplet of form: '(0'"


def test_the_article_recipe_walks_spanners_and_loose_chord_symbols():
    # one bar, so music21 makes no Measure: the article's recipe walks the chord symbol
    # itself and takes its tones for melody; the corrected recipe does not
    tune = 'X:1\nK:C\n"C"z4 |'
    assert M.note_array(tune).tolist() == [[48, 4], [52, 4], [55, 4]]  # music21 voices C3-E3-G3
    row = M.evaluate(tune, variant="corrected")
    assert row["notes"] == 0 and row["valid"] is False and row["reason"].startswith("no notes")


def test_the_article_recipe_repeats_slurred_notes(song_path):
    # a slur is an iterable spanner in the part: the article's walk yields its notes again
    import music21 as m21

    score = m21.converter.parse(song_path("Lulu's_Back_in_Town"))
    article, corrected = M.note_array(score), M.note_array(score, "corrected")
    assert len(article) == len(corrected) + 2
    at = next(i for i, (a, b) in enumerate(zip(article.tolist(), corrected.tolist())) if a != b)
    assert article[:at].tolist() + article[at + 2 :].tolist() == corrected.tolist()  # two notes inserted


def test_rank_takes_songs_and_puts_broken_tasks_after_kept_ones():
    from aitunes_lib.song import Song

    kept = Song("A", "B", '"C"E G c G | "F"A c f c | "G7"B d g d | "C"c4 |\n', task="chords", candidate=0)
    broken = dataclasses.replace(kept, candidate=1, body='"C"C D E F | "F"F E D C |\n', violations=("bar 3: missing",))
    table = M.rank([broken, kept])
    assert table["candidate"].tolist() == [0, 1] and table["task_kept"].tolist() == [True, False]
    assert table["violations"].tolist() == ["", "bar 3: missing"] and table["song"].iloc[1].violations == ("bar 3: missing",)
    assert M.rank([]).empty


def test_compare_distributions_reads_the_training_values():
    rng = np.random.default_rng(0)
    values = rng.normal(2.0, 0.5, 300)
    stats = {"CMM": {"mean": 2.0, "std": 0.5, "values": values.tolist()}}
    near = pd.DataFrame({"valid": [True] * 50, "CMM": rng.normal(2.0, 0.5, 50)})
    far = pd.DataFrame({"valid": [True] * 50, "CMM": rng.normal(6.0, 0.5, 50)})
    assert M.compare_distributions(near, stats, ["CMM"])["CMM"] > 0.7
    assert M.compare_distributions(far, stats, ["CMM"])["CMM"] < 0.05


def test_overlap_area():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 400), rng.normal(0, 1, 400)
    assert M.overlap_area(a, b) > 0.85
    assert M.overlap_area(a, b + 10) < 0.01
    assert math.isnan(M.overlap_area([], b))


def test_plot_puts_each_candidate_on_each_feature(tmp_path):
    stats = M.training_stats([{"CMM": 2 + 0.1 * k, "LM": 2, "CENT": 0.3, "CONS": 0.6, "HC": 0.4} for k in range(10)])
    table = pd.DataFrame([{"candidate": 0, "valid": True, **{k: 1.0 for k in M.FEATURES}},
                          {"candidate": 1, "valid": True, **{k: 2.0 for k in M.FEATURES}},
                          {"candidate": 2, "valid": False, **{k: math.nan for k in M.FEATURES}}])
    figure = feature_distributions(table, stats)
    figure.savefig(tmp_path / "features.png")
    assert len(figure.axes) == 5
    assert all(len(ax.lines) == 1 + 1 + 2 for ax in figure.axes)  # density, mean, two candidates
    assert (tmp_path / "features.png").stat().st_size > 5000


@pytest.mark.slow
def test_the_articles_training_statistics(prepared):
    kept = prepared[0].index[prepared[0].index["status"] == "kept"]
    assert len(kept) == 379
    stats = M.training_stats(features["article"] for features in kept["features"])
    published = {"CMM": "2.2715 ± 0.4831", "LM": "2.0305 ± 0.5386", "CENT": "0.3042 ± 0.0891"}
    assert {k: f"{stats[k]['mean']:.4f} ± {stats[k]['std']:.4f}" for k in published} == published


@pytest.mark.slow
@pytest.mark.parametrize("variant", M.VARIANTS)
def test_every_training_song_matches_the_oracle(prepared, variant):
    kept = prepared[0].index[prepared[0].index["status"] == "kept"]
    worst = {name: 0.0 for name in M.FEATURES}
    for row in kept.itertuples():
        notes = np.array(row.note_arrays[variant], dtype=np.int64).reshape(-1, 2)
        events = M.NoteEvents.from_json(row.events)
        ours = M.features(notes, events, variant)
        expected = ref.features(row.note_arrays[variant], row.events, variant)
        for name in M.FEATURES:
            assert math.isnan(ours[name]) == math.isnan(expected[name]), (row.path, name)
            if not math.isnan(expected[name]):
                worst[name] = max(worst[name], abs(ours[name] - expected[name]))
        assert ours == row.features[variant] or json.dumps(ours) == json.dumps(row.features[variant])
    assert max(worst.values()) <= 1e-12, worst


# --------------------------------------------------------------------------- phrase and chord tasks


def test_chord_fit_by_hand():
    # C: c2 (tone) d (not) e (tone); G7: B4 (tone); N.C. time is left out
    assert M.chord_fit(HEADER + '"C"c2 d e | "G7"B4 | "N.C."c4 |') == pytest.approx(7 / 8)
    # a note held across a chord change is split at the change: c4 is a tone of C, not of G7
    assert M.chord_fit(HEADER + '"C"c2 "G7"z2 | "C"c4- | "G7"c4 |') == pytest.approx(6 / 10)
    assert M.chord_fit(HEADER + 'c d e f |') != M.chord_fit(HEADER + 'c d e f |')  # no chords: NaN
    assert math.isnan(M.chord_fit(HEADER + '"C"z4 |'))  # no notes: NaN


def test_continuation_join_and_key():
    song = HEADER + '"C"c e g e | c4 | "G7"d f g b | "C"c2 e g | c4 |'
    row = M.continuation(song, 8.0)
    assert row["join_interval"] == 2.0 and row["join_rhythm"] == 2.0  # c (4 beats) to d (1 beat)
    assert row["prefix_key"] == row["continuation_key"] == "C" and row["same_key"] and row["key_r"] > 0.9
    far = M.continuation(HEADER + "c e g e | c4 | ^f ^a ^c' ^a | ^f4 |", 8.0)  # the same tune a tritone away
    assert far["join_interval"] == 6.0 and far["continuation_key"] == "F#" and not far["same_key"] and far["key_r"] < 0
    assert math.isnan(M.continuation(song, 100.0)["join_interval"])  # nothing after the prefix
    from aitunes_lib.song import Song

    table = M.rank([Song.from_abc(song, task="phrase", context={"prefix_quarters": 8.0})])
    assert {"join_interval", "same_key", "chord_fit"} <= set(table.columns)


def test_real_melodies_mostly_sit_on_chord_tones(few_texts):
    from aitunes_lib import abc

    fits = [M.chord_fit(abc.decode_seed(t[: t.index("<song>") + 6], t[t.index("<song>") + 6:])) for t in few_texts]
    assert 0.6 < float(np.nanmedian(fits)) < 0.95


# --------------------------------------------------------------------------- song features and realism


def test_song_features_by_hand():
    tune = HEADER + ('"C"c2 e2 | "G7"d B G2 | "C"c2 e2 | "G7"d B G2 |\n'
                     '"F"A/ c/ A/ c/ z2 | "G7"B2 d2 | "C"c2 e2 | "C"c4 |')
    f = M.song_features(tune)
    assert f["bars"] == 8 and f["notes_per_bar"] == 19 / 8 and f["pitch_range"] == 9  # G to e
    assert f["repeated_bars"] == 3 / 8  # bars 3, 4 and 7 came before
    assert f["repeated_phrases"] == 0  # the two 4-bar phrases differ
    assert f["melody_repeated_bars"] == 3 / 8 and f["melody_repeated_phrases"] == 0  # the same without the chord names
    sung = M.song_features(HEADER + '"C"c2 e2 | "G7"d4 | "C"c2 e2 | "G7"d4 |\n"Am"c2 e2 | "D7"d4 | "F"c2 e2 | "G7"d4 |')
    assert (sung["repeated_bars"], sung["repeated_phrases"]) == (3 / 8, 0)  # "Am"c2 e2 is a new bar with its chord...
    assert (sung["melody_repeated_bars"], sung["melody_repeated_phrases"]) == (6 / 8, 1 / 2)  # ...and a sung repeat
    assert f["ends_on_tonic"] == 1 and f["ends_on_tonic_chord"] == 1
    assert f["offbeat"] == pytest.approx(2 / 19)  # the second and fourth eighth notes of bar 5
    assert f["rests"] == pytest.approx(2 / 32) and f["chords_per_bar"] == 1 and f["distinct_chords"] == 3
    assert f["in_scale"] == 1 and f["repeated_notes"] == 0
    assert f["chord_tones"] == pytest.approx(M.chord_fit(tune))
    assert set(f) == set(M.SONG_FEATURES)
    assert math.isnan(M.song_features(HEADER + "z4 |")["pitch_range"])  # no notes: NaN by design


def test_song_form_of_real_songs(few_texts):
    from aitunes_lib import abc

    forms = {t.split(" $ ")[1][3:]: M.song_form(abc.decode_body(t.split("<song>")[1])) for t in few_texts}
    assert forms["Jingle Bells"] == "AABBAAB"  # verse, verse, chorus, chorus, and again without the last chorus
    verse, chorus = '"C"c2 e2 | d B G2 |\n' * 4, '"F"A4 | c4 |\n' * 4
    assert M.song_form(HEADER + verse + chorus) == "AB" and M.song_form(HEADER + (verse + chorus) * 2) == "AB*2"
    assert M.song_form(HEADER + verse + chorus + verse) == "ABA"


def test_realism_prefers_real_songs_to_a_plod(few_texts):
    from aitunes_lib import abc

    rows = [M.song_features(abc.decode_body(t.split("<song>")[1])) for t in few_texts]
    reference = M.realism_reference(rows)
    plod = HEADER + "\n".join(['"C"C C C C | D D D D | E E E E | F F F F |'] * 8)
    real = [M.realism(r, reference) for r in rows]
    assert M.realism(M.song_features(plod), reference) < min(real) and max(real) <= 0
    table = M.rank([plod, abc.decode_body(few_texts[1].split("<song>")[1])], reference=reference)
    assert table["candidate"].tolist() == [1, 0] and "repeated_bars" in table  # the real song first


def test_a_candidate_is_parsed_once_from_ranking_to_its_midi(monkeypatch, tmp_path, song_path):
    """rank → the best song's MIDI and piano roll: music21 reads each candidate once, and its notes once."""
    from aitunes_lib import abc, prep, render
    from aitunes_lib.metrics import fit, notes, ranking
    from aitunes_lib.song import Song

    bodies = [prep.process_file(song_path(stem))["body"] for stem in ("Jingle_Bells", "Dinah")]
    songs = [Song("A", "B", body) for body in bodies]
    parses, reads = [], []
    real_parse, real_events = abc.parse_abc, notes.note_events
    monkeypatch.setattr(abc, "parse_abc", lambda text, *a, **k: parses.append(1) or real_parse(text, *a, **k))
    for module in (notes, fit, ranking, M.song_level):
        monkeypatch.setattr(module, "note_events", lambda song, *a, **k: reads.append(1) or real_events(song, *a, **k))
    table = M.rank(songs, reference={"pitch_range": [12.0, 14.0]})
    assert len(parses) == 2 and len(reads) == 2 and table["chord_tones"].notna().all()  # once each
    best = table["song"].iloc[0]
    render.to_midi(best, path=tmp_path / "best.mid")
    assert len(parses) == 2  # the ranked Song carries its parse to the renderer
