"""Plots of the scores: where each candidate sits against the training distribution."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from aitunes_lib.metrics import FEATURES, _kde

if TYPE_CHECKING:
    import matplotlib.figure
    import pandas as pd


def feature_distributions(
    candidates: "pd.DataFrame",
    stats: Mapping[str, Mapping],
    features: Sequence[str] = FEATURES,
) -> "matplotlib.figure.Figure":
    """One panel per feature: the training songs' distribution (histogram and density), its
    mean (dashed), and one line per valid candidate, labelled with its number."""
    from matplotlib.figure import Figure

    shown = [f for f in features if f in stats]
    figure = Figure(figsize=(3.0 * len(shown), 2.6), layout="constrained")
    axes = figure.subplots(1, len(shown), squeeze=False)[0]
    colours = [f"C{i % 10}" for i in range(len(candidates))]
    for ax, name in zip(axes, shown):
        values = np.asarray(stats[name].get("values", []), dtype=float)
        if len(values):
            ax.hist(values, bins=30, density=True, color="0.85", label="training songs")
            xs = np.linspace(values.min(), values.max(), 200)
            ax.plot(xs, _kde(values, xs), color="0.4", linewidth=1)
        ax.axvline(stats[name]["mean"], color="0.2", linestyle="--", linewidth=1, label="training mean")
        for colour, row in zip(colours, candidates.itertuples()):
            value = getattr(row, name, np.nan)
            if getattr(row, "valid", True) and np.isfinite(value):
                ax.axvline(value, color=colour, linewidth=2, label=f"candidate {row.candidate}")
        ax.set_title(name)
        ax.set_yticks([])
    axes[0].legend(fontsize="x-small", loc="upper right")
    return figure
