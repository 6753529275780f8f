"""The real songs' figures that decoding aims at, measured from the training songs.

They live in `tables.json` beside this file, written by `python -m aitunes_lib tables`
(`aitunes_lib.measure`) with a header naming the data, the command and the date; a slow test
measures them again and compares. Nothing here is typed in by hand.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Mapping

PATH = Path(__file__).with_name("tables.json")


@dataclasses.dataclass(frozen=True)
class Tables:
    """Counts (how many training songs do each thing) and shares, by what decoding draws or aims at."""

    intervals: tuple[float, ...]  # share of melodic moves of 0, 1, …, 12 (or more) semitones
    moves: tuple[float, ...]  # mean per-song mix of moves in five groups (`MOVE_GROUPS`)
    move_spread: float  # the Dirichlet concentration of those mixes
    tie_share: float  # share of notes tied to the next
    density: float  # notes struck per quarter (geometric mean over songs)
    density_spread: float  # its standard deviation in log
    diatonic: float  # share of songs that never leave the C major scale
    chromatic: float  # in the others, the mean share of note time off it
    chromatic_spread: float  # and the Beta concentration of that share
    restless: float  # share of songs that never rest
    resting: float  # in the others, the mean share of time resting
    resting_spread: float
    tone_share: float  # mean share of note time under a chord on the chord's tones
    tone_spread: float
    motifs: Mapping[int, float]  # share of bars that repeat the bar 1, 2 or 4 before (melody alone)
    forms: Mapping[str, int]  # songs per form (8-bar sections, `*2` played twice)
    tails: Mapping[int, int]  # songs per count of bars after the last whole section (played once)
    tails_repeated: Mapping[int, int]  # the same, for forms played more than once
    pickups: Mapping[bool, int]  # songs that open with a pickup, and those that do not
    voltas: Mapping[int, int]  # repeated songs per length of their first (and second) ending
    rhythms: Mapping[str, int]  # songs per set of note lengths ("1/2 1 2 4", "(3" for tuplets)
    tied_lengths: Mapping[str, int]  # in-bar ties to a length no one note holds, "held next" in quarters ("1/2 2": c/ c- c2)
    endings: Mapping[str, int]  # songs per ending, "last chord:landing note"
    ranges: Mapping[int, int]  # songs per melodic range in semitones
    holds: Mapping[str, float] = dataclasses.field(default_factory=dict)  # share of half-bars a chord holds on: "bar" (beat 1), "half" (beat 3)
    starts: Mapping[str, int] = dataclasses.field(default_factory=dict)  # songs per first chord
    progressions: Mapping[str, int] = dataclasses.field(default_factory=dict)  # chord changes, "from to": how many
    phrase_chords: Mapping[str, Mapping[str, int]] = dataclasses.field(default_factory=dict)  # 8-bar blocks per chord at the end of bar 4 ("middle") and the start of bar 7 ("arrival")
    breaths: Mapping[str, Mapping[int, int]] = dataclasses.field(default_factory=dict)  # 8-bar blocks per eighth of the last note struck in bar 4 ("middle") and bar 8 ("end"); -1: none
    provenance: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # data, command, date

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Tables":
        keyed = {"motifs": int, "tails": int, "tails_repeated": int, "voltas": int, "ranges": int,
                 "pickups": lambda k: k == "true"}
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        for name, key in keyed.items():
            values[name] = {key(k): v for k, v in data[name].items()}
        for name in ("intervals", "moves"):
            values[name] = tuple(values[name])
        values["breaths"] = {kind: {int(k): v for k, v in counts.items()} for kind, counts in data.get("breaths", {}).items()}
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in ("motifs", "tails", "tails_repeated", "voltas", "ranges", "pickups"):
            out[name] = {(str(k).lower() if name == "pickups" else str(k)): v for k, v in out[name].items()}
        out["intervals"], out["moves"] = list(self.intervals), list(self.moves)
        return {"provenance": out.pop("provenance"), **out}


@functools.lru_cache(maxsize=None)
def load(path: Path = PATH) -> Tables:
    """The committed tables (read once)."""
    return Tables.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
