"""The one data type that flows through the pipeline: a song as ABC text plus what we know of it."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import music21


@dataclasses.dataclass(frozen=True, repr=False)
class Song:
    """A lead sheet in compact ABC (`L:1/4`): header facts plus the ABC body.

    `body` is plain ABC (quoted chord symbols, newlines between lines of bars); the seed
    encoding with backticks and ` $ ` lives in `aitunes_lib.abc`. A generated song also
    carries its task, its candidate number and what it broke of the task (`violations`);
    `context` holds the task's facts the scoring needs (for example where a user's opening
    ends). `scores` holds metric values once `metrics.rank` has computed them.
    """

    title: str
    composer: str
    body: str
    meter: str = "4/4"
    key: str = "C"
    source: str | None = None
    task: str = "song"
    candidate: int | None = None
    violations: tuple[str, ...] = ()
    context: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)
    scores: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def abc(self) -> str:
        """The full ABC tune: header and body."""
        from aitunes_lib.abc import abc_header

        return abc_header(self.title, self.composer, self.meter, self.key) + self.body

    @cached_property
    def score(self) -> "music21.stream.Score":
        """The music21 score parsed from `abc`, built on first use (raises on ABC it cannot read)."""
        from aitunes_lib.abc import parse_abc

        return parse_abc(self.abc)

    def with_scores(self, **scores: Any) -> "Song":
        """A copy with more metric values attached (and the parse already made, so nothing parses twice)."""
        copy = dataclasses.replace(self, scores={**self.scores, **scores})
        if "score" in self.__dict__:
            copy.__dict__["score"] = self.__dict__["score"]
        return copy

    @classmethod
    def from_abc(cls, text: str, **facts: Any) -> "Song":
        """A song from ABC text: a whole tune (its T:, C:, M: and K: fields are read) or a bare body.

        >>> Song.from_abc("X:1\\nT:Tea\\nK:G\\nG2 B2 |").title, Song.from_abc("c4 |").body
        ('Tea', 'c4 |\\n')
        """
        from aitunes_lib.abc import split_header

        fields, body = split_header(text)
        return cls(title=fields.get("T", "Untitled"), composer=fields.get("C", "Unknown"), body=body + "\n",
                   meter=fields.get("M", "4/4"), key=fields.get("K", "C"), **facts)

    def to_json(self) -> dict[str, Any]:
        """The song as a JSON object (`from_json` reads it back); of the context and the scores,
        the plain values (the form, where an opening ends, …)."""
        plain = (int, float, str, bool, type(None))
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("context", "scores")}
        data["violations"] = list(self.violations)
        data["context"] = {k: v for k, v in self.context.items() if isinstance(v, plain)}
        data["scores"] = {k: v for k, v in self.scores.items() if isinstance(v, plain)}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Song":
        """A song written by `to_json`."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["violations"] = tuple(values.get("violations", ()))
        return cls(**values)

    def __repr__(self) -> str:
        bars = sum(line.count("|") for line in self.body.splitlines())
        which = f", candidate {self.candidate}" if self.candidate is not None else ""
        return f"Song({self.title!r} by {self.composer!r}, {self.task}{which}, {bars} bars)"
