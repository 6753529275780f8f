"""The pretraining corpus: public-domain folk tunes that ship with music21, prepared like OpenEWLD.

music21's corpus holds about 13,000 tunes in ABC (Essen, O'Neill's 1850, Ryan's Mammoth,
Aird's Airs, …), in every common meter, major and minor. Each tune of a collection file is
written to its own `.abc` file in the user cache, then goes through `prep.run_batch`, the
same path as an OpenEWLD song: transposition to C major or A minor, unfolded repeats, the
article's text. Nothing is downloaded.

The pretraining text names a tune's meter and key where they are not the article's 4/4 in C
(`pretraining_text`), so that the model learns to write 3/4, 6/8 or A minor when a prompt asks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from aitunes_lib import config, dataset, files, prep
from aitunes_lib.song import Song

COLLECTIONS = ("essenFolksong", "oneills1850", "airdsAirs", "ryansMammoth", "miscFolk")
_METER = re.compile(r"^M:\s*(\S+)", re.M)
METERS = ("4/4", "2/2", "3/4", "6/8", "2/4", "3/8", "9/8", "12/8", "3/2", "6/4")  # the meters kept (nearly all tunes)
MODES = ("major", "minor")
_SYMBOLS = {"C": "4/4", "C|": "2/2"}


def _collection(path: Path) -> str:
    parts = path.parts
    return parts[parts.index("corpus") + 1] if "corpus" in parts else path.parent.name


def split_tunes(text: str) -> list[str]:
    """The tunes of an ABC collection file, each starting at its `X:` line.

    >>> [t.splitlines()[0] for t in split_tunes("%abc\\nX:1\\nT:a\\n\\nX:2\\nT:b\\n")]
    ['X:1', 'X:2']
    """
    return [chunk.strip() + "\n" for chunk in re.split(r"\n(?=X:)", "\n" + text) if chunk.strip().startswith("X:")]


def tune_files(collections: Sequence[str] = COLLECTIONS, folder: str | Path | None = None,
               meters: Sequence[str] = METERS) -> list[Path]:
    """Write each tune of music21's ABC collections in one of `meters` to its own file; returns the files.

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
            if not meter or _SYMBOLS.get(meter.group(1), meter.group(1)) not in meters:
                continue
            # dataset/<composer>/<collection>/<tune>.abc, the layout prep reads a composer from
            target = folder / "Traditional" / name / f"{path.stem}_{number:05d}.abc"
            if not target.is_file() or target.read_text(encoding="utf-8", errors="replace") != tune:
                files.write_text(target, tune)
            written.append(target)
    return written


PREP = prep.PrepConfig(meters=METERS, modes=MODES)


def pretraining_text(song: Song) -> str:
    """A tune as the base model reads it: the article's prompt, with `M:` and `K:` lines where the
    tune is not in 4/4 and C major, then the completion.

    >>> pretraining_text(Song("Tea", "Trad", "c3 | z3 |\\n", meter="3/4", key="Am"))
    'X: 1 $ T: Tea $ C: Trad $ M: 3/4 $ K: Am $ <song> c3 | z3 | $ <end>'
    """
    from aitunes_lib import abc

    return abc.seed_prompt(song.title, song.composer, song.meter, song.key) + abc.encode_body(song.body)


def prepare_folk(
    out: str | Path | None = None, collections: Sequence[str] = COLLECTIONS, prep_config: prep.PrepConfig = PREP,
    progress: bool = True, limit: int | None = None,
) -> tuple[list[Song], dict]:
    """Folk tunes → songs in the article's format (and `folk.jsonl` in `out`), with a report."""
    paths = tune_files(collections, meters=prep_config.meters)[:limit]
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
        dataset.write_jsonl([{"text": pretraining_text(s)} for s in songs], Path(out) / "folk.jsonl")
    return songs, report
