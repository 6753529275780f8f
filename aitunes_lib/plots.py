"""Plots of the scores: where each candidate sits against the training distribution."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from aitunes_lib.metrics import FEATURES, kde

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
            ax.plot(xs, kde(values, xs), color="0.4", linewidth=1)
        ax.axvline(stats[name]["mean"], color="0.2", linestyle="--", linewidth=1, label="training mean")
        for colour, row in zip(colours, candidates.itertuples()):
            value = getattr(row, name, np.nan)
            if getattr(row, "valid", True) and np.isfinite(value):
                ax.axvline(value, color=colour, linewidth=2, label=f"candidate {row.candidate}")
        ax.set_title(name)
        ax.set_yticks([])
    axes[0].legend(fontsize="x-small", loc="upper right")
    return figure


def loss_curve(history: "pd.DataFrame", title: str = "training loss") -> "matplotlib.figure.Figure":
    """Train loss per step (thin) and validation loss at each evaluation (dots), in nats per token."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.2), layout="constrained")
    axes = figure.subplots()
    if len(history):
        axes.plot(history["step"], history["train_loss"], lw=0.8, alpha=0.7, label="train")
        val = history.dropna(subset=["val_loss"])
        axes.plot(val["step"], val["val_loss"], "o-", ms=4, label="validation")
        axes.legend()
    axes.set(xlabel="step", ylabel="loss (nats/token)", title=title)
    axes.grid(alpha=0.3)
    return figure


class LiveLoss:
    """Pass as `callback=` to training: the loss plot redraws in the notebook as it learns."""

    def __init__(self, every: int = 10):
        self.every, self.rows, self._handle = every, [], None

    def __call__(self, row: dict) -> None:
        import pandas as pd

        self.rows.append(row)
        if row["step"] % self.every and row["val_loss"] != row["val_loss"]:  # redraw every few steps and at evaluations
            return
        figure = loss_curve(pd.DataFrame(self.rows))
        try:
            from IPython.display import display

            if self._handle is None:
                self._handle = display(figure, display_id=True)
            else:
                self._handle.update(figure)
        except ImportError:  # outside IPython there is nothing to redraw
            pass
