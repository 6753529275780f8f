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
