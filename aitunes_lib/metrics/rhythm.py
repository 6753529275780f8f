"""Rhythm: whether a candidate's bars add up to its meter (a check the article lacked)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import music21


def rhythm_validity(score: "music21.stream.Stream", meter_quarters: float = 4.0) -> dict[str, Any]:
    """Share of interior bars whose length equals the meter; the first and last bars may be
    partial (pickup, ending) and are reported, not failed."""
    from aitunes_lib.abc import measures

    lengths = [float(m.duration.quarterLength) for m in measures(score)]
    interior = lengths[1:-1]
    wrong = [i + 1 for i, q in enumerate(interior) if abs(q - meter_quarters) > 1e-9]
    return {
        "bars": len(lengths),
        "rhythm_ok": (1 - len(wrong) / len(interior)) if interior else (1.0 if lengths else math.nan),
        "bad_bars": wrong,
        "partial_ends": [i for i in (0, len(lengths) - 1) if lengths and abs(lengths[i] - meter_quarters) > 1e-9],
    }
