"""Distributions: Gaussian kernel densities, and how much two samples' distributions overlap."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from aitunes_lib.metrics.tonality import FEATURES

if TYPE_CHECKING:
    import pandas as pd


def kde(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Gaussian kernel density with Scott's bandwidth."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.zeros_like(at)
    spread = values.std(ddof=1) if len(values) > 1 else 0.0
    bandwidth = max(spread * len(values) ** (-1 / 5), 1e-3 * max(1.0, abs(values).max()))
    z = (at[:, None] - values[None, :]) / bandwidth
    return np.exp(-0.5 * z * z).sum(axis=1) / (len(values) * bandwidth * math.sqrt(2 * math.pi))


def overlap_area(a: Sequence[float], b: Sequence[float], points: int = 512) -> float:
    """Area under min(KDE(a), KDE(b)): 1 when two samples share one distribution, 0 when
    they do not overlap (Yang & Lerch's mgeval comparison). NaN if either is empty."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return math.nan
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    pad = (hi - lo) * 0.5 + 1e-6
    xs = np.linspace(lo - pad, hi + pad, points)
    return float(np.trapezoid(np.minimum(kde(a, xs), kde(b, xs)), xs))


def compare_distributions(
    candidates: "pd.DataFrame", stats: Mapping[str, Mapping[str, Any]], features_used: Sequence[str] = FEATURES
) -> dict[str, float]:
    """Overlap area, per feature, between the valid candidates' values and the training
    songs' values (kept in `stats` by `training_stats`)."""
    valid = candidates[candidates["valid"]] if "valid" in candidates else candidates
    return {
        name: overlap_area(valid[name].to_numpy(dtype=float), stats[name].get("values", []))
        for name in features_used
        if name in valid and name in stats
    }
