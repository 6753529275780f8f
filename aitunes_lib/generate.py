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
    """n candidates for a request, as `Song`s carrying their task, number and violations.

    Bad input (an unknown task, an unreadable opening or chart) raises `tasks.TaskInputError`
    before the model runs.
    """
    task = tasks.get(task)
    prompt = task.prompt(request or Request(), config)
    constraint = prompt.constraint if config.enforce else None
    completions = backend.sample(prompt.text, config.n, config, constraint)
    songs = [task.song(prompt, completion, i) for i, completion in enumerate(completions)]
    judge = getattr(backend, "likelihood", None)  # what the model alone thinks of each (`metrics.rank` orders by it)
    if judge is not None and songs:
        songs = [song.with_scores(likelihood=value) for song, value in zip(songs, judge(prompt.text, completions))]
    return songs


def save_candidates(songs: Sequence[Song], folder: str | Path, midi: bool = True) -> Path:
    """Each song as `candidate_<i>.abc` (and `.mid` when it can be played), plus
    `candidates.jsonl` with every song and its scores; returns the JSONL's path."""
    from aitunes_lib import render

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
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
        lines.append(json.dumps(record, ensure_ascii=False))
    path = folder / "candidates.jsonl"
    files.write_text(path, "\n".join(lines) + "\n" if lines else "")
    return path


def load_candidates(path: str | Path) -> list[Song]:
    """The songs written by `save_candidates` (a folder or its `candidates.jsonl`)."""
    path = Path(path)
    path = path / "candidates.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no candidates here (generate some first)")
    return [Song.from_json(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
