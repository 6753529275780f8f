"""Plots of the scores: where each candidate sits against the training distribution."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from aitunes_lib.metrics import BINARY_FEATURES, FEATURES, SONG_FEATURES, kde, overlap_area

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


def realism_distributions(
    candidates: "pd.DataFrame", reference: Mapping[str, Sequence[float]], features: Sequence[str] = SONG_FEATURES,
    columns: int = 5, label: str = "candidates",
) -> "matplotlib.figure.Figure":
    """One panel per song feature: the real songs' density (grey) against the candidates'
    (colour), with the overlap area of the two in the title (1: the same; 0: apart). A 0/1
    feature shows the two shares as bars."""
    from matplotlib.figure import Figure

    shown = [f for f in features if f in reference and f in candidates]
    rows = -(-len(shown) // columns)
    figure = Figure(figsize=(2.6 * columns, 2.1 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    valid = candidates[candidates["valid"]] if "valid" in candidates else candidates
    for ax, name in zip(axes, shown):
        real = np.asarray(reference[name], dtype=float)
        mine = valid[name].to_numpy(dtype=float)
        mine = mine[np.isfinite(mine)]
        if name in BINARY_FEATURES:
            ax.bar([0, 1], [real.mean() if len(real) else 0, mine.mean() if len(mine) else 0], color=["0.6", "C1"])
            ax.set_xticks([0, 1], ["real", label])
            ax.set_title(f"{name}", fontsize=9)
            continue
        both = np.concatenate([real, mine]) if len(mine) else real
        xs = np.linspace(both.min(), both.max(), 200) if len(both) else np.linspace(0, 1, 2)
        ax.fill_between(xs, kde(real, xs), color="0.8", label="real songs")
        if len(mine):
            ax.plot(xs, kde(mine, xs), color="C1", lw=2, label=label)
        ax.set_title(f"{name}  (overlap {overlap_area(real, mine):.2f})", fontsize=9)
        ax.set_yticks([])
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    if len(shown):
        axes[0].legend(fontsize="x-small")
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
