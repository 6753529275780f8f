"""A song in another key: the models write in C major (A minor); a student may want it in G or Bb."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from aitunes_lib.abc.grammar import AbcError

if TYPE_CHECKING:
    from aitunes_lib.song import Song

# the keys offered (major; a minor song moves with its relative major), as ABC's K: field writes them
KEYS = ("C", "G", "D", "A", "E", "F", "Bb", "Eb", "Ab")


def in_key(song: "Song", key: str) -> "Song":
    """The song moved from C to `key` (chords and all, by the smallest step, up or down), written
    again as compact ABC; `key` is one of `KEYS`. A song already in `key` comes back as it is.

    >>> from aitunes_lib.song import Song
    >>> moved = in_key(Song("t", "c", '"C"C E G2 | "G7"B,2 "C"C2 |'), "F")
    >>> moved.key, moved.body.split("|")[0].strip()
    ('F', '"F"F A c2')
    """
    import music21 as m21

    from aitunes_lib.abc.writer import part_body

    if key not in KEYS:
        raise AbcError(f"unknown key {key!r}: choose one of {', '.join(KEYS)}")
    if key == song.key:
        return song
    if song.key not in ("C", "Am"):
        raise AbcError(f"the song is in {song.key}; only songs in C (or A minor) are moved to another key")
    steps = (m21.pitch.Pitch(key.replace("b", "-")).pitchClass + 6) % 12 - 6  # -6..5 semitones: the nearer way
    tonic = m21.pitch.Pitch(key.replace("b", "-") + "4")
    tonic.octave += -1 if tonic.ps - 60 > steps else 0  # spelled as the key is (G#, not Ab; Bb, not A#)
    moved = song.score.transpose(m21.interval.Interval(noteStart=m21.pitch.Pitch("C4"), noteEnd=tonic))
    part = moved.parts[0] if moved.parts else moved
    for signature in part.recurse().getElementsByClass(m21.key.KeySignature):
        signature.activeSite.replace(signature, m21.key.Key(key.replace("b", "-")))
    target = key if song.key == "C" else m21.key.Key(key.replace("b", "-")).relative.tonic.name.replace("-", "b") + "m"
    return dataclasses.replace(song, body=part_body(part), key=target,
                               context={**song.context, "transposed_to": target, "transposed_by": steps})
