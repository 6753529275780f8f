"""A studio session's batches: what each Generate click made, where its files go, and the
favourites bundled in one zip."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path
from typing import Sequence

import pandas as pd

from aitunes_lib import files, render
from aitunes_lib.song import Song


@dataclasses.dataclass
class Batch:
    """One Generate click: its songs, their ranking and the folder its files go to."""

    number: int
    title: str
    band: str
    mode: str
    seed: int | None
    made: str  # the time of day it was made
    folder: Path
    candidates: list[Song]
    table: pd.DataFrame

    @property
    def label(self) -> str:
        return f"#{self.number} {self.made}  {self.title} — {self.band} ({self.mode}, {len(self.candidates)})"

    def stem(self, candidate: int) -> str:
        """The file name of one candidate: its batch's title and its number (never another batch's)."""
        return f"{slug(self.title)}_{candidate}"


def slug(text: str) -> str:
    """A file-name-safe form of a title: `Blue Moon!` → `blue_moon`."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "song"


def bundle(chosen: Sequence[tuple[Batch, Song, int]], target: Path, tempo: int) -> Path:
    """One zip of the chosen candidates' files (ABC, MIDI, MusicXML), each as (its batch, the song as
    shown, its number), in a folder per batch; written whole or not at all."""
    with files.replacing(target) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for batch, song, candidate in chosen:
            for path in render.export(song, batch.folder, batch.stem(candidate), tempo).values():
                archive.write(path, f"{batch.folder.name}/{path.name}")
    return target
