"""Monitoring plots (matplotlib). ``*_info`` functions compute, ``plot_*`` functions only draw.

Every ``plot_*`` takes an optional ``ax`` and returns the Axes (or a Figure for
:func:`plot_history`); none calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .history import history

_SEVERITY_COLORS = {"alert": "#c62828", "warn": "#ef6c00", "info": "#90a4ae", "ok": "#2e7d32"}


def _axes(ax, figsize=(7, 3.5)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def _batches(data, path=None) -> pd.DataFrame:
    return history(data, path=path) if data is None or isinstance(data, str) else data


def _findings(data, path=None) -> pd.DataFrame:
    return history(data, detail=True, path=path) if data is None or isinstance(data, str) else data


# --------------------------------------------------------------------------- info (computation)


def drift_matrix_info(
    detail: pd.DataFrame, stat: str = "psi", top: int | None = 30
) -> pd.DataFrame:
    """Drift statistic by feature (rows, most drifted first) and batch (columns).

    Parameters
    ----------
    detail : DataFrame
        ``history(name, detail=True)``.
    stat : {"psi", "wasserstein", "statistic"}, default="psi"
    top : int, optional
        Keep the features with the largest drift.
    """
    rows = detail[detail["check"].isin(["drift", "prediction_drift"])]
    if rows.empty:
        return pd.DataFrame()
    matrix = rows.pivot_table(index="feature", columns="batch", values=stat, aggfunc="first")
    order = matrix.max(axis=1).sort_values(ascending=False, na_position="last").index
    matrix = matrix.loc[order]
    return matrix.head(top) if top else matrix


def metric_history_info(batches: pd.DataFrame) -> pd.DataFrame:
    """Batches with a metric value: ``batch``, ``metric_value``, ``cv_score``, ``status``."""
    keep = batches.dropna(subset=["metric_value"]) if len(batches) else batches
    return keep[["batch", "metric", "metric_value", "cv_score", "status"]].reset_index(drop=True)


# --------------------------------------------------------------------------- plots (drawing)


def plot_metric_history(data=None, ax=None, path=None):
    """The model's metric on each labelled batch, with the CV estimate.

    Parameters
    ----------
    data : str or DataFrame, optional
        A model name, or ``history(name)``; None: every model.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    info = metric_history_info(_batches(data, path))
    ax = _axes(ax)
    metric = info["metric"].iloc[0] if len(info) else "metric"
    if len(info):
        ax.plot(info["batch"], info["metric_value"], marker="o", color="#1565c0", label="batch")
        ax.plot(info["batch"], info["cv_score"], ls="--", color="grey", label="CV estimate")
        for status, color in _SEVERITY_COLORS.items():
            sel = info["status"] == status
            if sel.any():
                ax.scatter(
                    info.loc[sel, "batch"],
                    info.loc[sel, "metric_value"],
                    color=color,
                    zorder=3,
                    s=30,
                )
        ax.legend(loc="best", fontsize="small")
    else:
        ax.text(
            0.5, 0.5, "no labelled batches yet", ha="center", va="center", transform=ax.transAxes
        )
    ax.set_title(f"{metric} over batches")
    ax.set_xlabel("batch")
    ax.set_ylabel(metric)
    return ax


def plot_drift_history(data=None, ax=None, stat: str = "psi", top: int = 5, path=None):
    """Drift of the most drifted features (and of the predictions) over batches.

    Returns
    -------
    matplotlib.axes.Axes
    """
    matrix = drift_matrix_info(_findings(data, path), stat=stat, top=None)
    ax = _axes(ax)
    if matrix.empty:
        ax.text(0.5, 0.5, "no batches yet", ha="center", va="center", transform=ax.transAxes)
    else:
        shown = list(matrix.index[:top])
        if "(prediction)" in matrix.index and "(prediction)" not in shown:
            shown.append("(prediction)")
        for feature in shown:
            series = matrix.loc[feature]
            ax.plot(
                series.index,
                series.to_numpy(),
                marker=".",
                label=str(feature),
                ls="--" if feature == "(prediction)" else "-",
            )
        ax.legend(loc="best", fontsize="small")
    ax.set_title(f"Drift over batches ({stat})")
    ax.set_xlabel("batch")
    ax.set_ylabel(stat)
    return ax


def plot_drift_heatmap(data=None, ax=None, stat: str = "psi", top: int = 30, path=None):
    """A heatmap of drift by feature (rows) and batch (columns).

    Returns
    -------
    matplotlib.axes.Axes
    """
    matrix = drift_matrix_info(_findings(data, path), stat=stat, top=top)
    ax = _axes(ax, figsize=(8, max(2.5, 0.3 * len(matrix) + 1)))
    if matrix.empty:
        ax.text(0.5, 0.5, "no batches yet", ha="center", va="center", transform=ax.transAxes)
    else:
        values = matrix.to_numpy(dtype=float)
        image = ax.imshow(
            np.ma.masked_invalid(values),
            aspect="auto",
            cmap="Reds",
            vmin=0,
            vmax=max(0.25, float(np.nanmax(values)) if np.isfinite(values).any() else 0.25),
        )
        ax.set_yticks(range(len(matrix)), [str(f) for f in matrix.index], fontsize="small")
        step = max(1, len(matrix.columns) // 15)
        ax.set_xticks(range(0, len(matrix.columns), step), [str(c) for c in matrix.columns[::step]])
        ax.figure.colorbar(image, ax=ax, label=stat)
    ax.set_title(f"Drift by feature and batch ({stat})")
    ax.set_xlabel("batch")
    return ax


def plot_report(report, ax=None, stat: str = "psi", top: int = 15):
    """Drift by feature for one report, bars coloured by severity.

    Returns
    -------
    matplotlib.axes.Axes
    """
    rows = report.findings[report.findings["check"].isin(["drift", "prediction_drift"])]
    rows = rows.dropna(subset=[stat]).sort_values(stat, ascending=False).head(top)[::-1]
    ax = _axes(ax, figsize=(7, max(2.5, 0.3 * len(rows) + 1)))
    ax.barh(
        [str(f) for f in rows["feature"]],
        rows[stat],
        color=[_SEVERITY_COLORS[s] for s in rows["severity"]],
    )
    ax.set_title(f"Drift by feature ({stat}), status {report.status}")
    ax.set_xlabel(stat)
    return ax


def plot_history(name: str | None = None, path=None):
    """Metric, drift over batches and the drift heatmap of a model, in one Figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    batches, detail = history(name, path=path), history(name, detail=True, path=path)
    fig, axes = plt.subplots(3, 1, figsize=(8, 10), constrained_layout=True)
    plot_metric_history(batches, ax=axes[0])
    plot_drift_history(detail, ax=axes[1])
    plot_drift_heatmap(detail, ax=axes[2])
    fig.suptitle(f"Monitoring history: {name or 'all models'}")
    return fig
