"""How to sample: `GenerateConfig`, the one settings object that the stages and the backends share."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from aitunes_lib.decoding.plan import SongShape


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    """How many candidates, how adventurous, how long, whether the rules hold, and the song's shape."""

    n: int = 5
    temperature: float = 1.0  # the model's own spread: lower plods in on-beat quarters on one scale (bench_realism)
    top_p: float = 1.0
    seed: int | None = None
    max_tokens: int = 1000
    enforce: bool = True  # let the decoder enforce the task's constraint (the local backend can)
    song: SongShape = SongShape()  # the form, cadence and levers of a whole song (`chord_tones` also over a chart)

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
        if not isinstance(self.song, SongShape):
            problems.append(f"song={self.song!r}: give a SongShape")
        else:
            problems.extend(self.song.problems())
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


