"""Ranking: every feature and check of one candidate (`evaluate`), and candidates best first (`rank`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from aitunes_lib.metrics.distance import ARTICLE_STATS, ndm
from aitunes_lib.metrics.fit import chord_fit, continuation
from aitunes_lib.metrics.notes import note_array, note_events
from aitunes_lib.metrics.novelty import TrainingBars, _bar_texts, repetition
from aitunes_lib.metrics.rhythm import rhythm_validity
from aitunes_lib.metrics.sequences import coherence, theory_rates
from aitunes_lib.metrics.song_level import realism, song_features
from aitunes_lib.metrics.tonality import features

if TYPE_CHECKING:
    import pandas as pd

    from aitunes_lib.song import Song


def evaluate(
    candidate: "Song | str",
    stats: Mapping[str, Mapping[str, float]] | None = None,
    training: TrainingBars | None = None,
    variant: str = "article",
    meter_quarters: float = 4.0,
    reference: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Every feature and check of one candidate (a `Song`, or ABC text); never raises.

    With a `reference` (the real songs' feature values), also the song-level features and
    `realism`, read from the same parse.

    A candidate music21 cannot parse, or one past `abc.limits_problem`'s limits (absurd
    lengths or meters, not ABC at all), comes back with `valid=False` and the reason. Chord
    names music21 cannot read are listed in `unknown_chords` and named in the reason.
    """
    from aitunes_lib.abc import limits_problem, parse_abc, split_header, unknown_chords
    from aitunes_lib.song import Song

    text = candidate.abc if isinstance(candidate, Song) else candidate  # ABC text keeps its own L: and K:
    context = candidate.context if isinstance(candidate, Song) else {}
    row: dict[str, Any] = {"valid": False, "reason": "", "notes": 0}
    if not isinstance(text, str):
        row["reason"] = f"not ABC text but {type(text).__name__}"
        return row
    problem = limits_problem(text)
    if problem:
        row["reason"] = problem
        return row
    try:
        score = candidate.score if isinstance(candidate, Song) else parse_abc(text)  # a Song's one parse, shared with render
    except Exception as error:  # noqa: BLE001 - a bad candidate is a row, not a crash
        row["reason"] = f"does not parse: {type(error).__name__}: {str(error).strip().splitlines()[0][:200] if str(error).strip() else ''}"
        return row
    notes = note_array(score, variant)
    events = note_events(score)
    row.update(features(notes, events, variant))
    row["notes"] = int(len(notes))
    row["chord_fit"] = chord_fit(score, events)
    rates = theory_rates(score, events)
    row.update(rates, coherence=coherence(rates))
    row.update(rhythm_validity(score, meter_quarters))
    bars = _bar_texts(split_header(text)[1])
    row["distinct_bars"] = repetition(bars)
    if training is not None:
        row["longest_copy"] = training.longest_copy(bars)
        row["shared_4bar"] = training.shared_ngrams(bars)
    reasons = []
    if len(notes) == 0:
        reasons.append("no notes")
    elif len(notes) == 1:
        reasons.append("one note: CMM undefined")
    if len(events.chords) == 0:
        reasons.append("no chord symbols: CONS and HC undefined")
    unknown = unknown_chords(score)
    row["unknown_chords"] = ", ".join(dict.fromkeys(unknown))
    if unknown:
        reasons.append(f"unknown chord symbols, not counted: {row['unknown_chords'][:120]}")
    row["valid"] = len(notes) > 0
    if stats is not None and row["valid"]:
        try:
            row["NDM"] = ndm(row, stats, variant)
        except (KeyError, ZeroDivisionError) as error:
            reasons.append(f"NDM: {error}")
    if context.get("prefix_quarters") is not None and row["valid"]:
        row.update(continuation(score, float(context["prefix_quarters"])))
    if reference is not None and row["valid"]:
        shape = song_features(score, events, row["chord_fit"])
        row.update(shape, realism=realism(shape, reference), bars=int(shape["bars"]))  # a count: 33, not 33.000
    row["reason"] = "; ".join(reasons)
    return row


def listener(likelihood: float, harmony: float) -> float:
    """likelihood + coherence: the model's mean log-probability per token of its own song (nats,
    about −1; higher: the model finds the song more idiomatic) plus the share of the harmony
    that moves as tonal harmony does (`sequences.coherence`, 0 to 1; 0.5 where no chord moves).
    Neither is a statistic that the decoder pushes toward an average."""
    return float(likelihood) + (0.5 if harmony != harmony else float(harmony))


def rank(
    songs: "Sequence[Song | str]",
    stats: Mapping[str, Mapping[str, float]] = ARTICLE_STATS,
    training: TrainingBars | None = None,
    variant: str = "article",
    reference: Mapping[str, Sequence[float]] | None = None,
) -> "pd.DataFrame":
    """One row per candidate, best first (invalid last): its features, NDM, checks and reasons.

    Candidates that carry the model's likelihood (`Song.scores["likelihood"]`, which `generate`
    attaches when the backend can read it) are ordered by `listener`, best first: what the
    model thinks of its own song plus how its harmony moves (see `listener`). Otherwise, with a
    `reference` (the real songs' values, `stats.json`'s "realism"), by realism, most
    real-sounding first; without one, by the article's NDM, lowest first. NDM and realism are
    columns either way.

    `candidate` is the song's candidate number (its position when it has none), `task_kept`
    and `violations` say whether it kept its task, and `song` holds the `Song` itself with
    its scores attached (`table.song.iloc[0]` is the best). A phrase continuation (a song
    whose context says where the user's bars end) also gets `continuation`'s columns.
    """
    import pandas as pd

    from aitunes_lib.song import Song

    rows = []
    for position, item in enumerate(songs):
        song = item if isinstance(item, Song) else Song.from_abc(item)
        scores = evaluate(song if isinstance(item, Song) else item, stats, training, variant, reference=reference)
        if "likelihood" in song.scores:  # the model's own view, and the harmony's direction
            scores["likelihood"] = float(song.scores["likelihood"])
            if scores["valid"]:
                scores["listener"] = listener(scores["likelihood"], scores.get("coherence", math.nan))
        number = song.candidate if song.candidate is not None else position
        rows.append({"candidate": number, "task": song.task, **scores, **({"form": song.context["form"]} if "form" in song.context else {}),
                     "task_kept": not song.violations,
                     "violations": "; ".join(song.violations), "song": song.with_scores(**scores)})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["candidate", "task", "valid", "NDM", "reason", "task_kept", "violations", "song"])
    if "NDM" not in table:
        table["NDM"] = math.nan
    if "listener" in table and table["listener"].notna().any():
        order, ascending = ["valid", "task_kept", "listener", "NDM"], [False, False, False, True]
    elif reference is not None:
        if "realism" not in table:
            table["realism"] = math.nan
        order, ascending = ["valid", "task_kept", "realism", "NDM"], [False, False, False, True]
    else:
        order, ascending = ["valid", "task_kept", "NDM"], [False, False, True]
    return table.sort_values(order, ascending=ascending, na_position="last").reset_index(drop=True)
