""""Can you tell?": real OpenEWLD songs against songs the committed base model generates here,
rendered by FluidSynth, answers in a CSV file, and the class's accuracy."""

from __future__ import annotations

import shutil
from fractions import Fraction

import pytest

from aitunes_lib import abc, dataset, prep
from aitunes_lib.listening import ListeningError, ListeningTest, excerpt, p_value
from aitunes_lib.song import Song

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="Debian fluidsynth not installed (make setup installs it)")


@pytest.fixture(scope="module")
def real(song_path) -> list[Song]:
    songs = []
    for stem in ("Sleepy_Time_Gal", "Jingle_Bells", "Tell_Me_Why", "Careless_Love"):
        r = prep.process_file(song_path(stem))
        songs.append(Song(r["title"], r["composer"], r["body"], r["meter"], r["abc_key"]))
    return songs


@pytest.fixture(scope="module")
def generated():
    from aitunes_lib.backends.local import BASE_CHECKPOINT, LocalBackend
    from aitunes_lib.generate import GenerateConfig, Request, generate

    return generate(LocalBackend(BASE_CHECKPOINT), "song", Request("Harbour Lights", "The Lanterns"), GenerateConfig(n=2, seed=3))


def seconds(path) -> float:
    import soundfile

    heard = soundfile.info(str(path))
    assert heard.format == "MP3"  # compact, so that a notebook of many rounds stays small
    return heard.duration


def test_an_excerpt_is_whole_bars_without_the_pickup(real):
    clip = excerpt(real[0], 8)
    lengths = abc.bar_lengths(abc.encode_body(clip.body))
    assert lengths == [Fraction(4)] * 8
    assert clip.score is not None and excerpt(real[0], 500) is None


@needs_fluidsynth
def test_rounds_are_blind_equal_and_answers_are_kept(real, generated, tmp_path):
    test = ListeningTest(real, generated, tmp_path / "answers.csv", tmp_path, bars=4, tempo=100, seed=1, listener="ada")
    sides = []
    for i in range(6):
        played = test.next_round()
        assert abs(seconds(played.a) - seconds(played.b)) < 0.05  # the same length: nothing gives the real one away
        assert abs(seconds(played.a) - 4 * 4 * 60 / 100) < 0.5  # 4 bars at 100 bpm, and the release
        sides.append(played.real_side)
        test.answer(played.real_side if i < 4 else ("B" if played.real_side == "A" else "A"), listener="ada" if i % 2 else "bo")
    assert set(sides) == {"A", "B"}  # random order
    table = test.table()
    assert len(table) == 6 and table["correct"].sum() == 4 and set(table["listener"]) == {"ada", "bo"}
    summary = test.summary().set_index("listener")
    assert summary.loc["everyone", "accuracy"] == pytest.approx(4 / 6)
    assert summary.loc["everyone", "p_guessing"] == pytest.approx(p_value(4, 6)) and "ada" in summary.index
    assert "4 of 6 right" in test.verdict() and "fools you" in test.verdict()
    again = ListeningTest(real, generated, tmp_path / "answers.csv", tmp_path, bars=4)
    assert len(again.table()) == 6  # a class pools one file


def test_bad_input_is_refused_in_one_line(real, generated, tmp_path):
    with pytest.raises(ListeningError, match="2 to 32 bars"):
        ListeningTest(real, generated, tmp_path / "a.csv", tmp_path, bars=1)
    with pytest.raises(ListeningError, match="no generated song has 8 whole bars"):
        ListeningTest(real, [Song("t", "c", "C4 | D4 |")], tmp_path / "a.csv", tmp_path)
    test = ListeningTest(real, generated, tmp_path / "a.csv", tmp_path, bars=4)
    with pytest.raises(ListeningError, match="call next_round"):
        test.answer("A")
    test.current = object()  # a round in progress
    with pytest.raises(ListeningError, match="answer A or B"):
        test.answer("maybe")
    (tmp_path / "b.csv").write_text("name,score\nx,1\n")
    with pytest.raises(ListeningError, match="not an answers file"):
        ListeningTest(real, generated, tmp_path / "b.csv", tmp_path, bars=4).table()


@needs_fluidsynth
def test_the_widget_plays_a_pair_and_takes_a_guess(real, generated, tmp_path):
    test = ListeningTest(real, generated, tmp_path / "answers.csv", tmp_path, bars=4, seed=2)
    name, again, players, guesses, status, score = test.widget.children
    a_is_real, b_is_real = guesses.children
    assert a_is_real.disabled and score.value == "no answers yet"  # nothing to guess before a pair
    again.click()
    assert not a_is_real.disabled and "Which one is the real song?" in status.value
    side = test.current.real_side
    (a_is_real if side == "A" else b_is_real).click()
    assert status.value.startswith("<b>right</b>") and "1 of 1 right" in score.value and a_is_real.disabled
