"""NDM, the article's ranking: the training songs' statistics, kept in `stats.json`, and the
normalized distance of a candidate's features to their mean."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from aitunes_lib import files
from aitunes_lib.metrics.notes import VARIANTS
from aitunes_lib.metrics.tonality import ARTICLE_FEATURES, FEATURES


def training_stats(rows: Iterable[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Mean, population standard deviation and values of each feature over the training songs."""
    table = list(rows)
    stats = {}
    for name in FEATURES:
        values = np.array([r.get(name, math.nan) for r in table], dtype=float)
        values = values[~np.isnan(values)]
        stats[name] = {"mean": float(values.mean()) if len(values) else math.nan,
                       "std": float(values.std()) if len(values) else math.nan, "songs": int(len(values)),
                       "values": [round(float(v), 6) for v in values]}  # for distribution plots
    return stats


def format_stats(stats: Mapping[str, Mapping[str, float]]) -> str:
    """The training statistics as the article printed them: mean ± standard deviation."""
    names = {"CMM": "Conjunct melodic motion", "LM": "Limited macroharmony", "CENT": "Centricity",
             "CONS": "Acoustic consonance", "HC": "Harmonic consistency"}
    return "\n".join(
        f"{names[k]:<24s} ({k:<4s}): {stats[k]['mean']:.4f} ± {stats[k]['std']:.4f}" for k in FEATURES if k in stats
    )


class StatsError(ValueError):
    """A statistics file is damaged or not one that prep wrote; the message names it."""


def save_stats(stats: Mapping[str, Any], path: str | Path) -> Path:
    """Write training statistics as JSON (usually `stats.json` beside the training file)."""
    return files.write_json(path, stats)


def load_stats(path: str | Path) -> dict[str, dict[str, float]]:
    """Read statistics written by `save_stats`; a missing file says which command makes it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training statistics (run `python -m aitunes_lib prep` to write them)")
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise StatsError(f"{path}: not a statistics file ({str(error).splitlines()[0][:120]}); "
                         "run `python -m aitunes_lib prep` to write it again") from error
    if not isinstance(stats, dict) or not stats or not all(isinstance(v, (dict, list)) for v in stats.values()):
        raise StatsError(f"{path}: not a statistics file written by prep; run `python -m aitunes_lib prep` to write it again")
    return stats


def stats_table(stats: Mapping[str, Any], variant: str = "article", source: str | Path = "the statistics") -> dict[str, Any]:
    """The `variant` table of statistics read by `load_stats`, checked before anything is ranked:
    it is there, and each feature NDM reads has a finite mean and a standard deviation above 0.
    Anything else is a one-line `StatsError` that names `source`."""
    again = "run `python -m aitunes_lib prep` to write it again"
    if variant not in VARIANTS:
        raise StatsError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    table = stats.get(variant)
    if not isinstance(table, Mapping):
        held = ", ".join(sorted(map(str, stats))) or "nothing"
        raise StatsError(f"{source}: no {variant!r} statistics table (it holds {held}); {again}")
    for name in ARTICLE_FEATURES:  # what `ndm` reads, in both variants
        entry = table.get(name)
        mean, std = (entry.get("mean"), entry.get("std")) if isinstance(entry, Mapping) else (None, None)
        if not (_finite(mean) and _finite(std) and std > 0):
            raise StatsError(f"{source}: the {variant!r} table needs {name} with a finite mean and a standard deviation "
                             f"above 0 (it has mean={mean!r}, std={std!r}); {again}")
    return dict(table)


def realism_table(stats: Mapping[str, Any], source: str | Path = "the statistics") -> dict[str, list[float]] | None:
    """The real songs' values under "realism" (`realism_reference`), checked: None when absent,
    else each feature's values a list of finite numbers; anything else a one-line `StatsError`."""
    reference = stats.get("realism")
    if reference is None:
        return None
    if not isinstance(reference, Mapping) or not all(
            isinstance(values, list) and all(_finite(v) for v in values) for values in reference.values()):
        raise StatsError(f"{source}: its \"realism\" entry is not lists of numbers per feature; "
                         "run `python -m aitunes_lib prep` to write it again")
    return {str(name): list(values) for name, values in reference.items()}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# The article's published table, for reproducing its ranking exactly.
ARTICLE_STATS = {
    "CMM": {"mean": 2.2715, "std": 0.4831}, "LM": {"mean": 2.0305, "std": 0.5386}, "CENT": {"mean": 0.3042, "std": 0.0891},
}


def ndm(
    values: Mapping[str, float],
    stats: Mapping[str, Mapping[str, float]],
    variant: str = "article",
    features_used: Sequence[str] = ARTICLE_FEATURES,
) -> float:
    """Normalized distance to the training mean.

    article: z_CMM² + z_LM² + ((CENT − mean_CENT) / std_CMM)², the article's sum of squares,
    slip included (centricity divided by CMM's standard deviation).
    corrected: √(Σ z²) over `features_used`, each by its own standard deviation.
    """
    if variant == "article":
        z = [
            (values["CMM"] - stats["CMM"]["mean"]) / stats["CMM"]["std"],
            (values["LM"] - stats["LM"]["mean"]) / stats["LM"]["std"],
            (values["CENT"] - stats["CENT"]["mean"]) / stats["CMM"]["std"],
        ]
        return float(sum(v * v for v in z))
    if variant == "corrected":
        z = [(values[f] - stats[f]["mean"]) / stats[f]["std"] for f in features_used]
        return float(math.sqrt(sum(v * v for v in z)))
    raise ValueError(f"unknown variant {variant!r}: choose one of {VARIANTS}")
