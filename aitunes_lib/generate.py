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
import os
from pathlib import Path
from typing import Any, Protocol, Sequence

from aitunes_lib import files, meter, tasks
from aitunes_lib.song import Song
from aitunes_lib.tasks import Request

__all__ = ["GenerateConfig", "Request", "Sampler", "generate", "save_candidates", "load_candidates"]

# Notes on the sounding chord's tones get this logit bonus. Over a chart the tiny model alone
# put 56% of its melody time on chord tones (real melodies: 75%), and 1.0 brought it to about
# 78% (benchmarks/bench_tasks.py). Whole songs at temperature 1 with motifs came to 0.71-0.72 at
# 1.0 (real: 0.78) and 0.77 at 1.25; with the balance, whose leans also fall on notes, 1.25 gave
# 0.71-0.72 and 1.75 gives 0.76-0.79 (benchmarks/bench_realism.py). 0 leaves the model's own choice.
CHORD_TONE_BIAS = 1.75
# The weight of the interval prior (`meter.interval_prior`): the tiny model alone leaps about
# twice as often as real melodies (benchmarks/bench_realism.py measures it, with and without).
INTERVAL_WEIGHT = 0.5
# How hard the balance steers each melody toward its own aims, drawn from the real songs'
# spread: its mix of repeats, steps, skips and leaps (`meter.move_aims`), how often it ties,
# its pace (`meter.paces`), its share off the scale (`meter.colours`) and its rests
# (`meter.pauses`). The prior alone left 0.22 repeated notes and 0.38 steps (real: 0.15,
# 0.49); a lean of 1 moved them a third of the way, 3 most of it (0.18, 0.44), and 4 gave the
# best mean overlap on two sets of seeds
# (0.854 against 0.845 at 3; benchmarks/bench_realism.py).
MOVE_BALANCE = 4.0


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    """How to sample: how many candidates, how adventurous, how long, and which rules hold."""

    n: int = 5
    temperature: float = 1.0  # the model's own spread: lower plods in on-beat quarters on one scale (bench_realism)
    top_p: float = 1.0
    seed: int | None = None
    max_tokens: int = 1000
    enforce: bool = True  # let the decoder enforce the task's constraint (the local backend can)
    chord_tones: float = CHORD_TONE_BIAS  # logit bonus for notes on the sounding chord's tones (0: off)
    shape: bool = True  # song: give it a song's shape (the knobs below); False: the meter rules alone, as before
    form: str | None = "auto"  # song: a form per candidate drawn from the real songs', one like "AABA", or None
    cadence: bool = True  # song: the last bar ends as real songs end (`tasks.ENDINGS`: mostly a tonic chord, the melody on C)
    intervals: float = INTERVAL_WEIGHT  # song: weight of the real songs' melodic moves (`meter.INTERVAL_SHARES`; 0: off)
    balance: float = MOVE_BALANCE  # song: steer each melody's moves, ties, pace, chromatic share, rests and chord tones toward aims drawn from the real songs' (0: off)
    motifs: bool = True  # song: free bars may repeat the bar 1, 2 or 4 before, as often as in real melodies (`meter.MOTIF_SHARES`)
    ranges: bool = True  # song: each melody keeps to a range drawn from the real songs' (`tasks.RANGES`), a soft limit
    # (without it the balanced melodies spanned 17 semitones, real ones 15)
    retune: float = meter.RETUNE  # song: the share of copied bars that copy the melody alone, the chord symbols written anew
    closing: bool = True  # song: closing bars after a drawn form, a pickup, and first and second endings, as often as real songs have them (`tasks.TAILS`, `tasks.PICKUPS`, `tasks.VOLTAS`)
    rhythms: bool = True  # song: each melody keeps to a set of note lengths drawn from the real songs' (`tasks.RHYTHMS`)

    def __post_init__(self):
        problems = []
        if not isinstance(self.n, int) or self.n < 0:
            problems.append(f"n={self.n!r}: give 0 or more candidates")
        elif self.n > max_candidates():
            problems.append(f"n={self.n}: at most {max_candidates()} candidates at once on this machine "
                            f"(about {CANDIDATE_MB} MB of memory each); generate in several runs")
        if self.seed is not None and (not isinstance(self.seed, int) or not 0 <= self.seed < 2**32):
            problems.append(f"seed={self.seed!r}: use a whole number from 0 to 2**32 - 1, or None")
        if not 0 <= self.temperature <= 2:
            problems.append(f"temperature={self.temperature!r}: use 0 (greedy) to 2")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p={self.top_p!r}: use a share above 0 and at most 1")
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            problems.append(f"max_tokens={self.max_tokens!r}: give at least 1")
        if not 0 <= self.intervals <= 4:
            problems.append(f"intervals={self.intervals!r}: use 0 (off) to 4")
        if not 0 <= self.balance <= 8:
            problems.append(f"balance={self.balance!r}: use 0 (off) to 8")
        if not 0 <= self.retune <= 1:
            problems.append(f"retune={self.retune!r}: use a share from 0 (copies keep their chords) to 1")
        if self.chord_tones < 0:
            problems.append(f"chord_tones={self.chord_tones!r}: use 0 (off) or more")
        if self.form is not None and self.form != "auto":
            try:
                tasks.check_form(self.form)
            except tasks.TaskInputError as error:
                problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))


CANDIDATE_MB = 64  # a generous bound on one candidate's decoding memory (model states, logits, rule states)
CANDIDATE_CEILING = 200  # more than a person listens to; also what one batched call handles well
CANDIDATE_FLOOR = 16  # always allowed, however busy the machine


def max_candidates() -> int:
    """How many candidates one call may ask for: half of the available memory at `CANDIDATE_MB`
    each, between `CANDIDATE_FLOOR` and `CANDIDATE_CEILING`."""
    available = None
    try:  # Linux: MemAvailable counts the page cache that can be dropped (free memory alone does not)
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        try:
            available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
        except (ValueError, OSError, AttributeError):  # not on this platform: the ceiling alone
            return CANDIDATE_CEILING
    return max(CANDIDATE_FLOOR, min(CANDIDATE_CEILING, available // (CANDIDATE_MB * 2**20) // 2))


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
    return [task.song(prompt, completion, i) for i, completion in enumerate(completions)]


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
