"""A plain-Python oracle for aitunes_lib.metrics: the same definitions, written the slow,
obvious way (loops, lists). Tests compare against it; the benchmark times it."""

from __future__ import annotations

import math
from itertools import groupby

SPAN, HOP = 32, 4
HURON = {0: 1.5, 1: -1.428, 2: -0.582, 3: 0.594, 4: 0.386, 5: 1.240, 6: -0.453}


def grid(notes):
    out = []
    for pitch, sixteenths in notes:
        out.append(pitch)
        out.extend([0] * (sixteenths - 1))
    return out


def cmm(notes):
    if len(notes) < 2:
        return math.nan
    steps = [abs(notes[i + 1][0] - notes[i][0]) for i in range(len(notes) - 1)]
    return sum(steps) / len(steps)


def _windows(g):
    if len(g) <= SPAN:
        return [g], 1.0
    count = (len(g) - SPAN) / HOP + 1
    return [g[i * HOP : i * HOP + SPAN] for i in range(int(count))], count


def _lm_window(window):
    n = len({p for p in window if p != 0})
    if 5 <= n <= 8:
        return 1
    return (5 - n) + 1 if n < 5 else (n - 5) + 1


def _cent_window(window, variant):
    onsets = [p for p in window if p != 0]
    if not onsets:
        return 1.0
    if variant == "article":
        runs = [len(list(group)) for _, group in groupby(onsets)]
        return max(runs) / sum(runs)
    counts = {}
    for p in onsets:
        counts[p % 12] = counts.get(p % 12, 0) + 1
    return max(counts.values()) / len(onsets)


def _song(values, count, variant):
    return sum(values) / count if variant == "article" else sum(values) / len(values)


def lm(notes, variant="article"):
    g = grid(notes)
    if not g:
        return math.nan
    windows, count = _windows(g)
    return _song([_lm_window(w) for w in windows], count, variant)


def cent(notes, variant="article"):
    g = grid(notes)
    if not g:
        return math.nan
    windows, count = _windows(g)
    return _song([_cent_window(w, variant) for w in windows], count, variant)


def _pcs(mask):
    return [k for k in range(12) if mask & (1 << k)]


def consonance(events):
    total, weight = 0.0, 0.0
    for pitch, duration, chord in zip(events["pitch"], events["duration"], events["chord"]):
        tones = _pcs(chord)
        if not tones:
            continue
        values = []
        for tone in tones:
            interval = (tone - pitch) % 12
            values.append(HURON[min(interval, 12 - interval)])
        total += duration * sum(values) / len(values)
        weight += duration
    return total / weight if weight > 0 else math.nan


def _canonical(pcs):
    forms = []
    for t in range(12):
        forms.append(tuple(sorted((p + t) % 12 for p in pcs)))
        forms.append(tuple(sorted((t - p) % 12 for p in pcs)))
    return min(forms)


def harmonic_consistency(events):
    time = {}
    for mask, duration in zip(events["chords"], events["chord_durations"]):
        key = _canonical(_pcs(mask))
        time[key] = time.get(key, 0.0) + duration
    total = sum(time.values())
    if total <= 0:
        return math.nan
    return sum((t / total) ** 2 for t in time.values())


def features(notes, events, variant="article"):
    return {
        "CMM": cmm(notes), "LM": lm(notes, variant), "CENT": cent(notes, variant),
        "CONS": consonance(events), "HC": harmonic_consistency(events),
    }
