"""Whole-dataset checks (slow; `make test` runs them): the article's counts, a faithful
round trip of every kept song, abc2midi on every song, and repeats against music21."""

from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import music21 as m21
import pytest

from aitunes_lib import abc, dataset, prep, repeats

pytestmark = pytest.mark.slow

# The only song whose round trip differs, and why: the source bar 10 holds five beats in
# 4/4. The ABC keeps it as one bar (abc2midi reads it so, and warns, as the source bar is
# irregular), but music21's ABC reader cuts an over-full bar in two (see test_abc).
KNOWN_ROUND_TRIP = {"Didn't_My_Lord_Deliver_Daniel": "bars"}

# Songs where our playing order and music21's `expandRepeats` disagree by convention:
# music21 ignores Fine, Coda and D.C./D.S. marks once repeats are present, and sends a
# `:|` never opened back to bar 1 even after an earlier finished repeat.
KNOWN_REPEAT_CONVENTIONS = {
    "West_End_Blues", "Pick_Yourself_Up", "Remind_Me", "I'm_Mandy_Fly_Me",
    "Zing!_Went_the_Strings_of_My_Heart", "A_Hundred_Years_from_Today",
    "Daddy_Wouldn't_Buy_Me_a_Bow-Wow", "The_Lady_Is_a_Tramp",  # Fine / Coda / D.C. / D.S.
    "La_paloma", "My_Mammy",  # unopened end repeat after a finished one
}


def test_the_articles_counts(prepared):
    report = prepared[0].report
    assert (report["songs"], report["in_meter"], report["eligible"], report["converted"]) == (502, 381, 379, 379)
    assert report["kept"] == 379  # no two songs are the same music


def test_every_kept_song_round_trips(prepared):
    index = prepared[0].index
    kept = index[index["status"] == "kept"]
    failures = {Path(row.path).stem: row.round_trip for row in kept.itertuples() if row.round_trip}
    assert {stem: diffs[0].split(":")[0] for stem, diffs in failures.items()} == KNOWN_ROUND_TRIP


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="Debian abcmidi not installed (make setup installs it)")
def test_abc2midi_accepts_every_song(prepared):
    index = prepared[0].index
    problems = {}
    for row in index[index["status"] == "kept"].itertuples():
        result = abc.abc2midi_check(abc.abc_header(row.title, row.composer, row.meter, row.abc_key) + row.body)
        unexpected_bars = set(result.short_or_long_bars) - set(row.irregular_written)
        if result.errors or result.warnings or unexpected_bars:
            problems[Path(row.path).stem] = (result.errors[:2], result.warnings[:2], sorted(unexpected_bars)[:3])
    assert problems == {}


def test_the_training_file_validates(prepared):
    records = [dataset.seed_record(song) for song in prepared[0].songs]
    report = dataset.validation_report(records, show=False)
    assert report["ok"], report["problems"]
    assert report["pairs"] == 379


def test_warm_run_reads_the_cache(prepared, openewld):
    result, cache = prepared
    warm = prep.prepare(openewld, prep.PrepConfig(verify=True, cache_dir=cache, workers=2), progress=False)
    assert warm.songs == result.songs


def _orders(path: str):
    part = m21.converter.parse(path).parts[0]
    ours = [m.number for m in repeats.playing_order(part)]
    try:
        theirs = [m.number for m in part.expandRepeats().getElementsByClass(m21.stream.Measure)]
    except Exception:  # noqa: BLE001 - ExpanderException, or IndexError on some songs
        theirs = None
    return Path(path).stem, ours, theirs


def test_playing_order_agrees_with_music21_where_it_can_expand(prepared):
    index = prepared[0].index
    paths = list(index[index["status"] == "kept"]["path"])
    with ProcessPoolExecutor(2) as pool:
        orders = list(pool.map(_orders, paths, chunksize=8))
    compared = [(stem, ours == theirs) for stem, ours, theirs in orders if theirs is not None]
    assert len(compared) == 317  # music21 refuses the other 62 songs
    assert {stem for stem, same in compared if not same} == KNOWN_REPEAT_CONVENTIONS


def test_build_index(prepared, openewld):
    from aitunes_lib import data, prep

    index = prep.build_index(openewld, cache_dir=prepared[1], verify=True, workers=2)  # the warm cache
    assert list(index.columns) == data.INDEX_COLUMNS + ["status", "reason"]
    assert len(index) == 502 and (index["status"] == "kept").sum() == 379
    assert index["has_chords"].all()  # OpenEWLD's lead sheets all carry chord symbols
    assert index.loc[index["meter"].isin(["4/4", "2/2"]), "mode"].value_counts().to_dict() == {"major": 379, "minor": 2}
