"""The generate stage: a task's request → n candidate `Song`s, through any backend.

```python
songs = generate(backend, "song", Request("Mr. Clean", "The Dishes"), GenerateConfig(n=5))
table = metrics.rank(songs, stats)             # best first; table.song[0] is the best Song
```

Every front end (CLI, studio, notebooks, benchmarks) goes through `generate`. A backend only
samples text (`sample(prompt, n, config, constraint)`); the task builds the prompt, names the
constraint, turns each completion into a `Song` and checks it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Protocol, Sequence

from aitunes_lib import files, tasks
from aitunes_lib.decoding.plan import SongShape
from aitunes_lib.decoding.settings import GenerateConfig, max_candidates
from aitunes_lib.song import Song
from aitunes_lib.tasks import Request

__all__ = ["GenerateConfig", "SongShape", "max_candidates", "Request", "Sampler", "generate", "save_candidates", "load_candidates"]

class Sampler(Protocol):
    """What `generate` needs of a backend: n completions of a prompt in the article's format."""

    def sample(self, prompt: str, n: int, config: GenerateConfig, constraint: Any = None) -> list[str]: ...


def generate(backend: Sampler, task: "str | tasks.Task" = "song", request: "Request | None" = None,
             config: GenerateConfig = GenerateConfig()) -> list[Song]:
    """n candidates for a request, as `Song`s carrying their task, number and violations, and in
    their `context` the temperature they were sampled at.

    Bad input (an unknown task, an unreadable opening or chart) raises `tasks.TaskInputError`
    before the model runs.
    """
    task = tasks.get(task)
    prompt = task.prompt(request or Request(), config)
    constraint = prompt.constraint if config.enforce else None
    completions = backend.sample(prompt.text, config.n, config, constraint)
    songs = [task.song(prompt, completion, i) for i, completion in enumerate(completions)]
    songs = [dataclasses.replace(song, context={**song.context, "temperature": config.temperature}) for song in songs]
    judge = getattr(backend, "likelihood", None)  # what the model alone thinks of each (`metrics.rank` orders by it)
    if judge is not None and songs:
        songs = [song.with_scores(likelihood=value) for song, value in zip(songs, judge(prompt.text, completions))]
    return songs


def save_candidates(songs: Sequence[Song], folder: str | Path, midi: bool = True) -> Path:
    """Each song as `candidate_<i>.abc` (and `.mid` when it can be played), plus
    `candidates.jsonl` with every song, its scores and its files' digests; returns the JSONL's path.

    A folder never mixes two runs: the files of the run before that this one does not rewrite are
    removed, but only those its `candidates.jsonl` lists with the digest they still have, never a
    file someone changed or added."""
    from aitunes_lib import render

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    earlier = _written_before(folder)
    lines, written = [], set()
    for position, song in enumerate(songs):
        number = song.candidate if song.candidate is not None else position
        stem = folder / f"candidate_{number}"
        files.write_text(stem.with_suffix(".abc"), song.abc)
        record = {**song.to_json(), "abc_file": stem.with_suffix(".abc").name, "mid_file": None}
        if midi and song.scores.get("valid", True):
            try:
                render.to_midi(song, path=stem.with_suffix(".mid"))
                record["mid_file"] = stem.with_suffix(".mid").name
            except Exception:  # noqa: BLE001 - an unplayable candidate keeps its ABC and row
                pass
        record["digests"] = {name: _digest(folder / name) for name in (record["abc_file"], record["mid_file"]) if name}
        written |= set(record["digests"])
        lines.append(json.dumps(record, ensure_ascii=False))
    _remove_earlier(folder, {name: digest for name, digest in earlier.items() if name not in written})
    path = folder / "candidates.jsonl"
    files.write_text(path, "\n".join(lines) + "\n" if lines else "")
    return path


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _written_before(folder: Path) -> dict[str, str]:
    """{file name: digest} of what the previous `save_candidates` wrote in `folder` (its manifest)."""
    manifest = folder / "candidates.jsonl"
    found: dict[str, str] = {}
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines() if manifest.is_file() else []
    except (OSError, UnicodeError):
        return found
    for line in lines:
        try:
            digests = json.loads(line).get("digests") or {}
        except (ValueError, AttributeError):  # a damaged manifest: what it lists is left alone
            continue
        if isinstance(digests, dict):
            found |= {str(name): str(value) for name, value in digests.items() if Path(str(name)).name == str(name)}
    return found


def _remove_earlier(folder: Path, earlier: dict[str, str]) -> None:
    """Remove the earlier run's files named in `earlier`, each only while it still has the digest it was written with."""
    import warnings

    kept = []
    for name, digest in sorted(earlier.items()):
        path = folder / name
        if not path.is_file():
            continue
        if _digest(path) == digest:
            path.unlink()
        else:
            kept.append(name)
    if kept:
        warnings.warn(f"{folder}: kept {', '.join(kept)} from an earlier run, changed since it was written; "
                      "they are not among this run's candidates", stacklevel=3)


MAX_CANDIDATES_BYTES = 64 * 2**20  # a run of 1,000 long candidates takes a few MB
# a candidate row's fields (`Song.to_json`) and the JSON types each may have; the first three are required
_CANDIDATE_FIELDS: dict[str, tuple[type, ...]] = {
    "title": (str,), "composer": (str,), "body": (str,), "meter": (str,), "key": (str,), "source": (str, type(None)),
    "task": (str,), "candidate": (int, type(None)), "violations": (list,), "context": (dict,), "scores": (dict,),
}
_PLAIN = (str, int, float, bool, type(None))


def load_candidates(path: str | Path) -> list[Song]:
    """The songs written by `save_candidates` (a folder or its `candidates.jsonl`).

    A row that is no song (damaged JSON, a list, a number, a missing or mistyped field) refuses
    the file in one line that names it and the line (`dataset.DatasetError`): the file is written
    whole by `save_candidates`, so a bad row means it was edited or damaged, and no candidate is
    dropped without a word. A row whose ABC is bad loads, and scores as invalid with the reason.
    """
    from aitunes_lib.dataset import DatasetError

    path = Path(path)
    path = path / "candidates.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no candidates here (generate some first)")
    if path.stat().st_size > MAX_CANDIDATES_BYTES:
        raise DatasetError(f"{path} has {path.stat().st_size:,} bytes, more than a candidates file's "
                           f"{MAX_CANDIDATES_BYTES:,}: give the candidates.jsonl that generate writes")
    songs = []
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            songs.append(_candidate(line))
        except ValueError as error:
            raise DatasetError(f"{path}, line {number}: {error}; fix or delete that line, "
                               "or generate the candidates again") from error
    return songs


def _candidate(line: bytes) -> Song:
    """One row of `candidates.jsonl` as a `Song`; a row that is no song raises ValueError with the reason."""
    try:
        row = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg}, column {error.colno})") from error
    if not isinstance(row, dict):
        raise ValueError(f"a JSON {_json_type(row)} where a candidate (a JSON object) belongs")
    missing = [name for name in ("title", "composer", "body") if name not in row]
    if missing:
        raise ValueError(f"the candidate has no {', '.join(missing)}")
    for name, types in _CANDIDATE_FIELDS.items():
        value = row.get(name, types[0]())
        if not isinstance(value, types) or isinstance(value, bool):
            raise ValueError(f"{name} is a JSON {_json_type(value)}, not a {_json_type(types[0]())}")
    if any(not isinstance(v, str) for v in row.get("violations", [])):
        raise ValueError("violations must be a list of strings")
    for name in ("context", "scores"):
        if any(not isinstance(v, _PLAIN) for v in row.get(name, {}).values()):
            raise ValueError(f"{name} must map names to plain values (text, numbers, true/false)")
    likelihood = row.get("scores", {}).get("likelihood")
    if likelihood is not None and (not isinstance(likelihood, (int, float)) or isinstance(likelihood, bool)):
        raise ValueError(f"scores.likelihood is a JSON {_json_type(likelihood)}, not a number")
    return Song.from_json(row)


def _json_type(value: Any) -> str:
    """What JSON calls a Python value's type: object, list, string, number, true/false, null."""
    kinds = ((bool, "true/false"), ((int, float), "number"), (str, "string"), (list, "list"), (dict, "object"))
    return next((kind for types, kind in kinds if isinstance(value, types)), "null")
