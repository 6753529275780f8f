"""The one data type that flows through the pipeline: a song as ABC text plus what we know of it."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import music21


@dataclasses.dataclass(frozen=True)
class Song:
    """A lead sheet in compact ABC (`L:1/4`): header facts plus the ABC body.

    `body` is plain ABC (quoted chord symbols, newlines between lines of bars); the seed
    encoding with backticks and ` $ ` lives in `aitunes_lib.abc`. `scores` holds
    metric values once a later stage has computed them.
    """

    title: str
    composer: str
    body: str
    meter: str = "4/4"
    key: str = "C"
    source: str | None = None
    scores: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def abc(self) -> str:
        """The full ABC tune: header and body."""
        from aitunes_lib.abc import abc_header

        return abc_header(self.title, self.composer, self.meter, self.key) + self.body

    @cached_property
    def score(self) -> "music21.stream.Score":
        """The music21 score parsed from `abc`, built on first use."""
        from aitunes_lib.abc import parse_abc

        return parse_abc(self.abc)

    def with_scores(self, **scores: Any) -> "Song":
        """A copy with more metric values attached."""
        return dataclasses.replace(self, scores={**self.scores, **scores})
