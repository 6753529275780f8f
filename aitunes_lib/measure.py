"""Measure the real songs' tables that decoding aims at (`decoding/tables.json`).

    python -m aitunes_lib tables            # prep (cached) + measure + write tables.json

Every figure is read from the prepared training songs, as the decoder reads notes (each
token's own accidental; a tied note's continuation is not a move). Counts are kept for the
values more than one song shares (a table the decoder draws from); shares are rounded to
three places, concentrations to whole numbers.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from aitunes_lib import abc, dataset, files, metrics
from aitunes_lib.decoding.masks.ties import one_note
from aitunes_lib.decoding.plan import MAX_SECTIONS, SECTION_BARS
from aitunes_lib.decoding.state import MOVE_GROUPS
from aitunes_lib.decoding.tables import PATH, Tables
from aitunes_lib.song import Song

INTERVAL_BINS = 13  # moves of 0 … 11 semitones, and 12 for an octave or more


def _beta(shares: np.ndarray) -> tuple[float, float, float]:
    """(share of zeros, mean of the rest, their Beta concentration by the moments)."""
    some = shares[shares > 0]
    return (round(float(np.mean(shares == 0)), 3), round(float(some.mean()), 3),
            float(round(float(some.mean() * (1 - some.mean()) / some.var() - 1))))


def melody_tables(completions: Sequence[str]) -> dict:
    """Moves, ties, density, chromatic share and rests, from the training completions."""
    counts = np.zeros(INTERVAL_BINS)
    mixes, notes, ties, paces, off_scale, resting = [], 0, 0, [], [], []
    for completion in completions:
        body = abc.CHORD.sub(" ", completion.split(abc.END)[0])  # `<end>` holds no notes
        struck = notes - ties
        last, tied = None, False
        mix = np.zeros(max(MOVE_GROUPS) + 1)
        sung = off = rests = 0.0  # quarters
        for match in abc.NOTE.finditer(body):
            number, quarters = abc.pitch_number(match.group(0)), float(abc.note_length(match.group(0)) or 0)
            if number is None:
                rests += quarters
                continue
            sung, off = sung + quarters, off + quarters * (number % 12 not in (0, 2, 4, 5, 7, 9, 11))
            if last is not None and not tied:
                counts[min(abs(number - last), INTERVAL_BINS - 1)] += 1
                mix[MOVE_GROUPS[min(abs(number - last), len(MOVE_GROUPS) - 1)]] += 1
            last, tied = number, body[match.end():match.end() + 1] == "-"
            notes, ties = notes + 1, ties + tied
        if mix.sum() >= 10:
            mixes.append(mix / mix.sum())
        paces.append((notes - ties - struck) / float(sum(abc.bar_lengths(completion))))  # notes struck per quarter
        off_scale.append(off / sung)
        resting.append(rests / (rests + sung))
    mixes = np.array(mixes)
    mean, variance = mixes.mean(axis=0), mixes.var(axis=0)
    diatonic, chromatic, chromatic_spread = _beta(np.array(off_scale))
    restless, resting_share, resting_spread = _beta(np.array(resting))
    return {"intervals": tuple(round(float(x), 3) for x in counts / counts.sum()),
            "moves": tuple(round(float(x), 3) for x in mean),
            "move_spread": float(round(float((mean * (1 - mean)).sum() / variance.sum() - 1))),
            "tie_share": round(ties / notes, 3),
            "density": round(float(np.exp(np.log(paces).mean())), 2), "density_spread": round(float(np.log(paces).std()), 2),
            "diatonic": diatonic, "chromatic": chromatic, "chromatic_spread": chromatic_spread,
            "restless": restless, "resting": resting_share, "resting_spread": resting_spread}


def tone_tables(bodies: Iterable[str]) -> dict:
    """The share of note time on the sounding chord's tones, as the realism features read it (music21)."""
    fits = np.array([metrics.chord_fit(body) for body in bodies])
    fits = fits[~np.isnan(fits)]
    return {"tone_share": round(float(fits.mean()), 3),
            "tone_spread": float(round(float(fits.mean() * (1 - fits.mean()) / fits.var() - 1)))}


def _tied_lengths(melody: str) -> list[str]:
    """The ties inside a bar whose summed length no one note holds, as "held next" (quarters; a
    chain of ties counts what it has held so far), skipping triplets' notes.

    >>> _tied_lengths(" c/ c/- c2 z | d- d c2- | c c/- c/ z2 |")
    ['1/2 2']
    """
    found = []
    for bar in melody.replace(" $", "").split("|"):
        held = Fraction(0)
        for match in abc.NOTE.finditer(bar):
            length = abc.note_length(match.group(0)) or Fraction(0)
            if held and not abc.TUPLET.search(bar) and not one_note(held + length):
                found.append(f"{held} {length}")
            held = held + length if bar[match.end():match.end() + 1] == "-" else Fraction(0)
    return found


def drawn_tables(completions: Sequence[str]) -> dict:
    """Endings, ranges, rhythms and short repeats (motifs), from the training completions."""
    endings, ranges, repeats, rhythms, tied, bars_seen = Counter(), Counter(), Counter(), Counter(), Counter(), 0
    for completion in completions:
        body = completion.split(abc.END)[0]
        melody = abc.CHORD.sub(" ", body)
        tied.update(_tied_lengths(melody))
        sung = [m.group(0) for m in abc.NOTE.finditer(melody) if abc.pitch_number(m.group(0)) is not None]
        lengths = sorted({abc.note_length(note) for note in sung})
        rhythms[" ".join(map(str, lengths)) + (" (3" if abc.TUPLET.search(melody) else "")] += 1
        chords = [m.group(0)[1:-1] for m in abc.CHORD.finditer(body)]
        landing = {0: "C", 2: "D", 4: "E", 5: "F", 7: "G", 9: "A", 11: "B"}.get(abc.pitch_class(sung[-1]), "another")
        endings[f"{chords[-1] if chords else None}:{landing}"] += 1
        numbers = [abc.pitch_number(note) for note in sung]
        ranges[max(numbers) - min(numbers)] += 1
        bars = [abc.CHORD.sub("", b).strip() for b in body.replace(" $", "").split("|")][:-1]  # the melody alone
        bars_seen += len(bars)
        for i, bar in enumerate(bars):
            nearest = next((d for d in (1, 2, 4, 8, 16) if i >= d and bars[i - d] == bar), None)
            if nearest:
                repeats[nearest] += 1
    shared = lambda counts: {k: n for k, n in counts.most_common() if n >= 2}  # noqa: E731
    return {"endings": shared(endings), "ranges": dict(sorted(ranges.items())), "rhythms": shared(rhythms),
            "tied_lengths": shared(tied),
            "motifs": {d: round(repeats[d] / bars_seen, 3) for d in (1, 2, 4)}}


def form_tables(forms: Sequence[str], completions: Sequence[str]) -> dict:
    """The songs' forms (at most `MAX_SECTIONS` sections), and around them: bars after the last
    whole section, pickups, and how repeats end (the last bars that differ between passes)."""
    usable = [(form, c) for form, c in zip(forms, completions) if form and len(form.split("*")[0]) <= MAX_SECTIONS]
    counts = Counter(form for form, _ in usable)
    once, repeated, pickups, voltas = Counter(), Counter(), Counter(), Counter()
    for form, completion in usable:
        lengths = abc.bar_lengths(completion)
        pickup = len(lengths) > 1 and lengths[0] < lengths[1]
        left = (len(lengths) - pickup) % SECTION_BARS
        (repeated if "*" in form else once)[-1 if left == SECTION_BARS - 1 else left] += 1
        pickups[pickup] += 1
        if "*" in form:
            bars = [b.strip() for b in completion.split(abc.END, 1)[0].replace(" $", "").split("|")][:-1]
            size = len(form.split("*")[0]) * SECTION_BARS
            first, second = bars[int(pickup):int(pickup) + size], bars[int(pickup) + size:int(pickup) + 2 * size]
            if len(second) == size:
                voltas[next((e for e in range(size) if first[size - 1 - e] == second[size - 1 - e]), size)] += 1
    by_bars = lambda counts: {k: counts[k] for k in sorted(counts, key=lambda k: (k < 0, k))}  # noqa: E731 (a bar short last)
    return {"forms": dict(counts.most_common()), "tails": by_bars(once), "tails_repeated": by_bars(repeated),
            "pickups": {True: pickups[True], False: pickups[False]}, "voltas": dict(sorted(voltas.items()))}


def measure(songs: Sequence[Song], index: pd.DataFrame, provenance: dict | None = None) -> Tables:
    """Every table, from prepared songs and their index (its `form` column)."""
    completions = [dataset.seed_record(song)["completion"] for song in songs]
    kept = index[index["status"] == "kept"]
    form_of = dict(zip(kept["title"], kept["form"]))
    return Tables(**melody_tables(completions), **tone_tables(abc.decode_body(c) for c in completions),
                  **drawn_tables(completions), **form_tables([form_of.get(s.title, "") for s in songs], completions),
                  **harmony_tables(completions), **breath_tables(completions), provenance=provenance or {})


def data_hash(songs: Sequence[Song]) -> str:
    """A short hash of the prepared songs (titles and bodies), naming the data the tables came from."""
    digest = hashlib.sha256()
    for song in songs:
        digest.update(f"{song.title}\n{song.body}\n".encode())
    return digest.hexdigest()[:16]


def write(tables: Tables, path: Path = PATH) -> Path:
    """tables.json, atomically."""
    files.write_text(path, json.dumps(tables.to_json(), indent=1, ensure_ascii=False) + "\n")
    return path


def provenance(songs: Sequence[Song], source: str) -> dict:
    return {"command": "python -m aitunes_lib tables", "data": f"{source} ({len(songs)} prepared songs, sha256 {data_hash(songs)})",
            "songs": len(songs), "date": datetime.date.today().isoformat()}


COMMON_CHORD = 20  # chord symbols heard in at least this many half-bars keep their name; rarer ones are simplified


def _slots(completion: str) -> list[str | None]:
    """The chord sounding on beats 1 and 3 of every bar after any pickup (None before the first)."""
    bars = abc.read_bars(completion)
    bars = bars[abc.opens_with_pickup([length for length, _, _ in bars]):]
    sounding, slots = None, []
    for length, chords, _ in bars:
        for slot in (0, 2):
            here = [name for onset, name in chords if slot <= onset < slot + 2]
            sounding = here[0] if here else sounding
            slots.append(sounding)
    return slots


def simplified(name: str) -> str | None:
    """A chord symbol as its root and basic quality (`"D9"` → `"D7"`, `"Fm6"` → `"Fm"`); None when unreadable."""
    from aitunes_lib.metrics.sequences import chord_quality, root_of

    tones, root = abc.chord_pitch_classes(name), root_of(name)
    if not tones or root is None:
        return None
    quality = chord_quality(root, tones)
    spelled = name.strip()[: 2 if name.strip()[1:2] in ("#", "b") else 1]
    return spelled + {"M": "", "m": "m", "M7": "maj7", "m7": "m7", "7": "7", "mM7": "m", "x7": "7", "x": "dim"}.get(quality, "")


# Where a phrase arrives in an 8-bar block, in half-bars: the end of bar 4 and the start of bar 7
PHRASE_SLOTS = {"middle": 7, "arrival": 12}


# Where a phrase closes in an 8-bar block, in bars: the fourth (its middle) and the eighth (its end)
BREATH_BARS = {"middle": 3, "end": 7}


def last_onsets(completion: str) -> list[int]:
    """Per bar after any pickup: the eighth of the bar in which its last note is struck (-1: none is
    struck; the bar rests, or holds a note tied over from the bar before).

    >>> last_onsets(" C | `C`c2 e2 | g4- | g2 z2 | c/ c3/2 z2 |")
    [4, 0, -1, 1]
    """
    bars = abc.bar_onsets(completion)
    bars = bars[abc.opens_with_pickup([length for length, _ in bars]):]
    return [int(max(onsets) * 2) if onsets else -1 for _, onsets in bars]


def breath_tables(completions: Sequence[str]) -> dict:
    """How the 8-bar blocks' phrases close (`breaths`): in how many blocks the fourth and the
    eighth bar strike their last note on each eighth of the bar (-1: none struck). A song's last
    bar is left out: it is the cadence's, which draws no breath."""
    breaths = {kind: Counter() for kind in BREATH_BARS}
    for completion in completions:
        last = last_onsets(completion)
        for s in range(0, len(last) - SECTION_BARS + 1, SECTION_BARS):
            for kind, bar in BREATH_BARS.items():
                if s + bar < len(last) - 1:
                    breaths[kind][last[s + bar]] += 1
    return {"breaths": {kind: dict(sorted(counts.items())) for kind, counts in breaths.items()}}


def harmony_tables(completions: Sequence[str]) -> dict:
    """How real charts move, half-bar by half-bar: how often a chord holds on beat 1 and on
    beat 3, which chord a song starts on, which chord comes before which (`progressions`:
    "from to" counts of chord changes, rare chord symbols simplified), and which chords the
    8-bar blocks reach where a phrase arrives (`phrase_chords`, `PHRASE_SLOTS`)."""
    charts = [_slots(c) for c in completions]
    heard = Counter(name for chart in charts for name in chart if name)
    names = {name: (name if n >= COMMON_CHORD else simplified(name)) for name, n in heard.items()}
    holds = {"bar": [0, 0], "half": [0, 0]}
    changes, starts = Counter(), Counter()
    phrases = {kind: Counter() for kind in PHRASE_SLOTS}
    for chart in charts:
        chart = [names.get(name) if name else None for name in chart]
        for s in range(0, len(chart) - 2 * SECTION_BARS + 1, 2 * SECTION_BARS):  # every whole 8-bar block
            for kind, slot in PHRASE_SLOTS.items():
                if chart[s + slot]:
                    phrases[kind][chart[s + slot]] += 1
        known = [name for name in chart if name]
        if known:
            starts[known[0]] += 1
        for i in range(1, len(chart)):
            if chart[i] is None or chart[i - 1] is None:
                continue
            kind = "bar" if i % 2 == 0 else "half"
            holds[kind][0] += chart[i] == chart[i - 1]
            holds[kind][1] += 1
            if chart[i] != chart[i - 1]:
                changes[f"{chart[i - 1]} {chart[i]}"] += 1
    return {"holds": {kind: round(held / total, 3) for kind, (held, total) in holds.items()},
            "starts": {k: n for k, n in starts.most_common() if n >= 2},
            "progressions": {k: n for k, n in changes.most_common() if n >= 2},
            "phrase_chords": {kind: {k: n for k, n in counts.most_common() if n >= 2} for kind, counts in phrases.items()}}
