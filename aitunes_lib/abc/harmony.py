"""The pitch classes of a chord symbol, as music21 reads it: one definition for the metrics, the
renderer and the chord tasks."""

from __future__ import annotations

import functools

import music21 as m21

from aitunes_lib.abc.parsing import parse_abc


def chord_pitch_classes(symbol: "m21.harmony.Harmony | str") -> frozenset[int] | None:
    """The pitch classes of a chord symbol, as music21 reads it: a `Harmony`, or a name as written
    in ABC (`"Cm7"`). An empty set for N.C.; None for a name music21 does not know.

    The one definition that the metrics, the renderer and the chord tasks share.
    >>> sorted(chord_pitch_classes("G7")), chord_pitch_classes("N.C."), chord_pitch_classes("Hm7b")
    ([2, 5, 7, 11], frozenset(), None)
    """
    if isinstance(symbol, str):
        return _named_chord_pitch_classes(symbol)
    if isinstance(symbol, m21.harmony.NoChord):
        return None if "unknown_name" in symbol.editorial else frozenset()
    return frozenset(p.pitchClass for p in symbol.pitches) or None


@functools.lru_cache(maxsize=4096)
def _named_chord_pitch_classes(name: str) -> frozenset[int] | None:
    try:
        found = list(parse_abc(f'"{name}"z4|').recurse().getElementsByClass(m21.harmony.Harmony))
    except Exception:  # noqa: BLE001 - unreadable means unknown
        return None
    return chord_pitch_classes(found[0]) if len(found) == 1 else None
