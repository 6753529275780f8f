"""The user's input as the tasks read it: an opening (`Phrase`) and a chord chart (`ChordChart`)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from aitunes_lib import abc


@dataclasses.dataclass(frozen=True)
class Phrase:
    """A user's opening bars, ready for the `phrase` task."""

    prefix: str  # the encoded bars (` `C`c2 e2 | … |`), whole bars, key of C
    bars: int
    transposed_from: str | None = None  # the key it was written in, when not C

    @property
    def quarters(self) -> float:
        """How long the prefix lasts, in quarter notes (where the continuation starts)."""
        return float(sum(length for length, _ in ChordChart.from_body(self.prefix).bars))


@dataclasses.dataclass(frozen=True)
class ChordChart:
    """Each bar's length and its chord symbols with their onsets (quarters from the bar start).

    `breaks` are the bars after which the lead sheet starts a new line.
    """

    bars: tuple[tuple[Fraction, tuple[tuple[Fraction, str], ...]], ...]
    breaks: frozenset[int] = frozenset()

    @property
    def chords(self) -> list[tuple[int, Fraction, str]]:
        """Every chord as (bar, onset, symbol), in order."""
        return [(b, onset, name) for b, (_, chords) in enumerate(self.bars) for onset, name in chords]

    def text(self) -> str:
        """The chart in the article's encoding: `` `C`x2 `G7`x2 | `F`x4 |`` (x: an invisible rest)."""
        out = []
        for b, (length, chords) in enumerate(self.bars):
            onsets = sorted({onset for onset, _ in chords})
            pieces = [] if 0 in onsets else [f"x{abc.duration_text(onsets[0] if onsets else length)}"]
            for i, onset in enumerate(onsets):
                names_here = "".join(f"`{name}`" for at, name in chords if at == onset)
                until = onsets[i + 1] if i + 1 < len(onsets) else length
                pieces.append(f"{names_here}x{abc.duration_text(until - onset)}")
            out.append("".join(" " + p for p in pieces) + " |" + (" $" if b in self.breaks and b < len(self.bars) - 1 else ""))
        return "".join(out)

    def section(self, start: int, stop: int) -> "ChordChart":
        """Bars start … stop − 1 as a chart of their own."""
        return ChordChart(self.bars[start:stop], frozenset(b - start for b in self.breaks if start <= b < stop))

    @classmethod
    def from_body(cls, encoded: str) -> "ChordChart":
        """The chart of an encoded body (a melody with chords, or a chart written with x or z rests)."""
        bars = abc.read_bars(encoded)
        return cls(tuple((length, tuple(chords)) for length, chords, _ in bars),
                   frozenset(b for b, (_, _, newline) in enumerate(bars) if newline))
