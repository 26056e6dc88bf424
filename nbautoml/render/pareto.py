"""Score against cost: every successful trial, the Pareto front, the chosen and the best model.

The data comes from :func:`nbautoml.engine.prefer.pareto_info`; this module only draws.
"""

from __future__ import annotations


def _get_pareto_info(result, x: str = "latency"):
    """The plotted data of a fitted AutoML (see :func:`nbautoml.engine.prefer.pareto_info`)."""
    from ..engine.prefer import pareto_info

    result._check_fitted(pipeline=False)
    chosen = getattr(result, "best_trial_", None)
    best = getattr(result, "overall_best_trial_", chosen)
    return pareto_info(result.trials_, x, result.greater_is_better_,
                       chosen=None if chosen is None else chosen.trial_id,
                       best=None if best is None else best.trial_id)


def plot_pareto(result, x: str = "latency", ax=None, log: bool = True):
    """Plot CV score against prediction latency or model size, marking the Pareto front.

    Parameters
    ----------
    result : AutoML
        A fitted search.
    x : {"latency", "size"}, default="latency"
        Prediction latency (ms per 1,000 rows) or pickled model size (KB).
    ax : matplotlib Axes, optional
        Drawn on a new Figure (no pyplot state) when not given.
    log : bool, default=True
        Log scale for the cost axis (costs span orders of magnitude).

    Returns
    -------
    matplotlib.axes.Axes
    """
    info = _get_pareto_info(result, x)
    if ax is None:
        from .plots import NbFigure  # shown as PNG in a notebook without pyplot

        ax = NbFigure(figsize=(6.5, 4.2), layout="constrained").subplots()
    if info.empty:
        ax.text(0.5, 0.5, "no successful trial with a measured cost", ha="center", va="center",
                transform=ax.transAxes)
        return ax
    others = info[~info["on_front"]]
    front = info[info["on_front"]]
    ax.scatter(others["cost"], others["score"], s=22, color="#9aa7b8", label="trial")
    ax.plot(front["cost"], front["score"], "-o", color="#4c72b0", markersize=5, drawstyle="steps-post",
            label="Pareto front")
    best = info[info["best"]]
    chosen = info[info["chosen"]]
    ax.scatter(best["cost"], best["score"], s=140, facecolors="none", edgecolors="#333333",
               linewidths=1.5, label="best score", zorder=3)
    if not chosen.empty and not chosen["best"].all():
        ax.scatter(chosen["cost"], chosen["score"], s=160, marker="*", color="#c44e52",
                   label="chosen (prefer)", zorder=4)
    for _, row in front.iterrows():
        ax.annotate(row["model"], (row["cost"], row["score"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=7, color="#333333")
    if log and (info["cost"] > 0).all():
        ax.set_xscale("log")
    ax.set_xlabel(info.attrs.get("xlabel", x))
    ax.set_ylabel(f"CV {result.metric_}")
    better = "higher" if result.greater_is_better_ else "lower"
    ax.set_title(f"{result.metric_} ({better} is better) against cost")
    ax.legend(fontsize=8, loc="best")
    return ax
