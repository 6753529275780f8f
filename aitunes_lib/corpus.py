"""The pretraining corpus: public-domain folk tunes that ship with music21, prepared like OpenEWLD.

music21's corpus holds about 13,000 tunes in ABC (Essen, O'Neill's 1850, Ryan's Mammoth,
Aird's Airs, …), about 3,800 of them in 4/4 or 2/2. Each tune of a collection file is
written to its own `.abc` file in the user cache, then goes through `prep.run_batch`, the
same path as an OpenEWLD song: meter and mode filter, transposition to C, unfolded repeats,
the article's text. Nothing is downloaded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from aitunes_lib import config, dataset, files, prep
from aitunes_lib.song import Song

COLLECTIONS = ("essenFolksong", "oneills1850", "airdsAirs", "ryansMammoth", "miscFolk")
_METER = re.compile(r"^M:\s*(\S+)", re.M)
_WANTED_METERS = {"4/4": "4/4", "C": "4/4", "2/2": "2/2", "C|": "2/2"}


def _collection(path: Path) -> str:
    parts = path.parts
    return parts[parts.index("corpus") + 1] if "corpus" in parts else path.parent.name


def split_tunes(text: str) -> list[str]:
    """The tunes of an ABC collection file, each starting at its `X:` line.

    >>> [t.splitlines()[0] for t in split_tunes("%abc\\nX:1\\nT:a\\n\\nX:2\\nT:b\\n")]
    ['X:1', 'X:2']
    """
    return [chunk.strip() + "\n" for chunk in re.split(r"\n(?=X:)", "\n" + text) if chunk.strip().startswith("X:")]


def tune_files(collections: Sequence[str] = COLLECTIONS, folder: str | Path | None = None) -> list[Path]:
    """Write each 4/4 or 2/2 tune of music21's ABC collections to its own file; returns the files.

    The meter is read from the tune's first `M:` line here only to avoid parsing thousands of
    tunes in other meters; `prep` checks it again on the parsed score.
    """
    from music21 import corpus

    folder = Path(folder) if folder is not None else config.user_cache_dir() / "folk"
    written: list[Path] = []
    for path in sorted(corpus.getCorePaths(fileExtensions=("abc",)), key=str):
        path = Path(path)
        name = _collection(path)
        if name not in collections:
            continue
        text = path.read_text(encoding="latin-1")
        header = text.split("\nX:", 1)[0] if not text.startswith("X:") else ""
        for number, tune in enumerate(split_tunes(text)):
            meter = _METER.search(tune) or _METER.search(header)
            if not meter or meter.group(1) not in _WANTED_METERS:
                continue
            # dataset/<composer>/<collection>/<tune>.abc, the layout prep reads a composer from
            target = folder / "Traditional" / name / f"{path.stem}_{number:05d}.abc"
            if not target.is_file() or target.read_text(encoding="utf-8", errors="replace") != tune:
                files.write_text(target, tune)
            written.append(target)
    return written


def prepare_folk(
    out: str | Path | None = None, collections: Sequence[str] = COLLECTIONS, prep_config: prep.PrepConfig = prep.PrepConfig(),
    progress: bool = True, limit: int | None = None,
) -> tuple[list[Song], dict]:
    """Folk tunes → songs in the article's format (and `folk.jsonl` in `out`), with a report."""
    paths = tune_files(collections)[:limit]
    records = prep.run_batch(paths, prep_config, progress)
    songs, seen = [], set()
    for record in records:
        if record["status"] != "kept" or record["body"] in seen:
            continue
        seen.add(record["body"])
        songs.append(Song(title=record["title"], composer=record["composer"], body=record["body"],
                          meter=record["meter"], key=record["abc_key"], source=record["path"]))
    report = prep.batch_report(records, prep_config, 0.0)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        dataset.write_jsonl([dataset.seed_record(s) for s in songs], Path(out) / "folk.jsonl")
    return songs, report
