"""Shared fixtures: the real OpenEWLD copy beside the project, and songs from it by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from aitunes_lib import data, prep

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def openewld() -> Path:
    """The OpenEWLD folder the project would use (never downloaded in tests)."""
    try:
        return data.find_openewld(download=False)
    except data.DatasetError as error:  # a clear failure, not a skip: the tests need real data
        pytest.fail(f"the tests need OpenEWLD at ../shared/OpenEWLD or $AITUNES_OPENEWLD: {error}")


@pytest.fixture(scope="session")
def song_path(openewld):
    """`song_path("Jingle_Bells")` → the path of that lead sheet."""

    def find(stem: str) -> Path:
        matches = [p for p in data.song_paths(openewld) if p.stem == stem]
        assert len(matches) == 1, f"{stem}: {len(matches)} matches"
        return matches[0]

    return find


@pytest.fixture(scope="session")
def prepared(openewld, tmp_path_factory):
    """(the whole dataset prepared and verified, its cache folder): slow tests share one run."""
    cache = tmp_path_factory.mktemp("prep-cache")
    return prep.prepare(openewld, prep.PrepConfig(verify=True, cache_dir=cache, workers=2), progress=False), cache


FEW = ("Sleepy_Time_Gal", "Jingle_Bells", "Tell_Me_Why", "Happy_Birthday_to_You", "You're_Getting_to_Be_a_Habit_with_Me",
       "Dinah", "Swanee", "Careless_Love", "Drifting_and_Dreaming", "Oh!_Susanna", "After_You've_Gone")


@pytest.fixture(scope="session")
def few_texts(song_path):
    """Prompt + completion of a dozen real songs (triplets and stacked chords among them)."""
    from aitunes_lib import dataset
    from aitunes_lib.song import Song

    texts = []
    for stem in FEW:
        record = prep.process_file(song_path(stem))
        if record["status"] == "kept":
            record = dataset.seed_record(Song(record["title"], record["composer"], record["body"]))
            texts.append(record["prompt"] + record["completion"])
    assert len(texts) == len(FEW), "every chosen song is 4/4 or 2/2 and major"
    return texts


@pytest.fixture
def colab_downloads(monkeypatch) -> list[str]:
    """Colab's `google.colab.files` cannot run here: a module with its `download(path)` signature
    records what would be sent to the browser."""
    import sys
    import types

    sent: list[str] = []
    files = types.ModuleType("google.colab.files")
    files.download = lambda path: sent.append(path)
    colab = types.ModuleType("google.colab")
    colab.files = files
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.files", files)
    return sent

