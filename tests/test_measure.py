"""The decoding tables are what the training songs do: measured again and compared (slow: the whole data set)."""

from __future__ import annotations

import dataclasses

import pytest

from aitunes_lib import measure
from aitunes_lib.decoding import tables


@pytest.mark.slow
def test_the_committed_tables_are_measured_again_from_the_training_songs(prepared):
    result = prepared[0]
    measured = measure.measure(result.songs, result.index)
    committed = tables.load()
    assert dataclasses.replace(measured, provenance={}) == dataclasses.replace(committed, provenance={})
    for field in ("forms", "tails", "tails_repeated", "endings", "rhythms", "ranges", "voltas"):  # the order draws take them in, too
        assert list(getattr(measured, field)) == list(getattr(committed, field)), field
    assert f"sha256 {measure.data_hash(result.songs)}" in committed.provenance["data"]  # from this data
    assert committed.provenance["command"] == "python -m aitunes_lib tables"


def test_the_tables_round_trip_through_json(tmp_path):
    committed = tables.load()
    path = measure.write(committed, tmp_path / "tables.json")
    assert tables.Tables.from_json(__import__("json").loads(path.read_text())) == committed
    assert list(tables.load(path).pickups) == [True, False] and tables.load(path).tails[-1] == committed.tails[-1]
