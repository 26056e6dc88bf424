"""Plots of a search and of its best pipeline.

Each kind has two halves, as in optuna's visualization modules: ``_<kind>_info(result)``
computes the data (a small dataclass, tested on its own) and ``plot_<kind>(result, ax=None)``
only draws it and returns the Axes. :func:`plot` dispatches on a kind name and returns the
Figure. Figures are made with :class:`matplotlib.figure.Figure` directly, never through pyplot,
so plotting touches no global state and needs no ``plt.show()``; the figures render as PNG in
IPython without ``%matplotlib inline``.

Plots of the best pipeline's behaviour (confusion, roc, pr, calibration, residuals,
prediction) use its out-of-fold predictions: each row is predicted by a model that did not see
it during training, so they show what the cross-validation score measured.
"""

from __future__ import annotations

import io
import math
import weakref
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from ..words import counted
from .kinds import PLOT_KINDS, plot_kinds, resolve_kind

__all__ = ["PLOT_KINDS", "plot", "plot_kinds", "plot_calibration", "plot_confusion",
           "plot_convergence", "plot_hyperparameters", "plot_importance", "plot_leaderboard",
           "plot_pr", "plot_prediction", "plot_residuals", "plot_roc", "plot_threshold", "figure_png", "figure_alt_text",
           "png_display_bundle", "NbFigure"]

_MAX_CLASS_CURVES = 10  # one-vs-rest curves drawn for at most this many classes


class NbFigure(Figure):
    """A matplotlib Figure that IPython shows as PNG even without ``%matplotlib inline``.

    The PNG carries alternative text (:func:`figure_alt_text`) in its output metadata
    (``{"image/png": {"alt": ...}}``, as ``IPython.display`` puts it); nbconvert's classic
    template writes it into the ``<img>`` tag.
    """

    def _repr_png_(self) -> bytes:
        return figure_png(self)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return png_display_bundle(self)


def _suptitle(fig: Figure) -> str:
    return getattr(fig, "get_suptitle", lambda: "")()  # matplotlib >= 3.8


def figure_alt_text(fig: Figure) -> str:
    """A sentence per panel of ``fig`` for a screen reader: its title, axes and legend.

    Written from what the figure shows, so it stays true for any plot: for example
    "Convergence: best roc_auc so far. x axis: Trial (in the order the trials finished);
    y axis: CV roc_auc (higher is better); legend: trial score, best so far, best: 0.8779."
    """
    sentences = []
    suptitle = _suptitle(fig)
    if suptitle:
        sentences.append(f"{suptitle}.")
    visible = [ax for ax in fig.get_axes() if ax.get_visible() and (ax.axison or ax.texts)]
    panels = [ax for ax in visible if ax.get_label() != "<colorbar>"]
    for ax in visible:
        if ax.get_label() == "<colorbar>":
            scale = ax.get_ylabel() or ax.get_xlabel()
            if scale:
                sentences.append(f"Colour scale: {scale}.")
            continue
        number = panels.index(ax) + 1
        parts = []
        if ax.axison:
            for axis, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
                if label:
                    parts.append(f"{axis} axis: {label}")
        legend = ax.get_legend()
        if legend is not None:
            parts.append("legend: " + ", ".join(t.get_text() for t in legend.get_texts()))
        notes = [" ".join(t.get_text().split()) for t in ax.texts if not ax.axison]
        parts.extend(n for n in notes if n)
        title = ax.get_title() or ax.get_title("left") or f"Panel {number} of {len(panels)}"
        sentences.append(f"{title.rstrip('.')}. " + "; ".join(parts) + ("." if parts else ""))
    text = " ".join(s.strip() for s in sentences if s.strip())
    return text or "A matplotlib figure with no titled panels."


def png_display_bundle(fig: Figure, label: str = "", dpi: int = 100) -> tuple[dict, dict]:
    """``(data, metadata)`` to display ``fig`` as a PNG with alternative text.

    ``label`` names the figure in its text/plain form (default: its first title).
    """
    import base64

    titles = [_suptitle(fig), *(ax.get_title() for ax in fig.get_axes())]
    label = label or next((t for t in titles if t), "figure")
    data = {"image/png": base64.b64encode(figure_png(fig, dpi=dpi)).decode("ascii"),
            "text/plain": f"<Figure: {label}>"}
    return data, {"image/png": {"alt": figure_alt_text(fig)}}


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _new_axes(ax, figsize=(6.4, 4.4)):
    if ax is not None:
        return ax
    fig = NbFigure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


# --------------------------------------------------------------------------- dispatch


def plot(result, kind: str, ax=None, **kwargs) -> Figure:
    """Plot one aspect of a fitted search.

    Parameters
    ----------
    result : AutoML
        A fitted search.
    kind : str
        One of ``convergence``, ``leaderboard``, ``confusion``, ``roc``, ``pr``,
        ``calibration`` (classification), ``threshold`` (binary), ``residuals``, ``prediction`` (regression),
        ``importance``, ``hyperparameters``.
    ax : matplotlib Axes, optional
        Draw into this Axes; by default a new figure is made.
    **kwargs
        Passed to the ``plot_<kind>`` function (e.g. ``by="time"`` for convergence,
        ``top=20`` for leaderboard, ``trial=3`` for the out-of-fold plots).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        For an unknown kind (the message lists the valid ones), or a kind that does not
        fit the task (``roc`` on a regression).

    Examples
    --------
    >>> from nbautoml.render.plots import plot_kinds
    >>> plot_kinds("regression")
    ['convergence', 'leaderboard', 'residuals', 'prediction', 'importance', 'hyperparameters']
    """
    name = resolve_kind(kind, getattr(result, "task_", None))
    drawn = _PLOTTERS[name](result, ax=ax, **kwargs)
    first = drawn if not isinstance(drawn, (list, tuple, np.ndarray)) else np.ravel(drawn)[0]
    return first.figure


# --------------------------------------------------------------------------- helpers


def _metric_direction(result) -> bool:
    value = getattr(result, "greater_is_better_", None)
    if value is not None:
        return bool(value)
    from ..engine.metrics import METRICS

    metric = METRICS.get(getattr(result, "metric_", None))
    return True if metric is None else metric.greater_is_better


def _better_word(greater_is_better: bool) -> str:
    return "higher is better" if greater_is_better else "lower is better"


def _class_names(result) -> list[str]:
    classes = getattr(result, "classes_", None)
    return [str(c) for c in classes] if classes is not None else []


def _metric_needs(result) -> str:
    from ..engine.metrics import METRICS

    metric = METRICS.get(result.metric_)
    return metric.needs if metric is not None else "score"


def _trial_label(result, trial) -> str:
    """What the predictions come from: the model (an ensemble's weighted vote, whose out-of-fold
    predictions the plots then show) or one trial."""
    if trial is None:
        choice = getattr(result, "ensemble_", None)
        return "best pipeline" if choice is None else f"model (ensemble of {choice.size})"
    return f"trial {trial}"


def _check_training_data(result, what: str) -> None:
    if getattr(result, "_X", None) is None or getattr(result, "validation_", None) is None:
        raise ValueError(f"The {what} plot refits the pipeline on the training folds, which needs the "
                         "training data; it is kept only in the session that ran the search. "
                         "Run the search again in this session to draw it.")


def _one_thread():
    """Limit BLAS/OpenMP to one thread for the small refits done here.

    On a busy machine OpenMP estimators (HistGradientBoosting) can run 20-50x slower with
    a thread per core than with one, because the threads spin waiting for each other.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


# Probabilities recomputed on the validation folds, per (result, trial): a plot asked twice
# fits the folds once.
_PROBA_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fold_probabilities(result, trial=None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold class probabilities of a trial, refitting it on each training fold."""
    import warnings

    from ..engine.space import build_pipeline

    cache = _PROBA_CACHE.setdefault(result, {})
    if trial in cache:
        return cache[trial]
    _check_training_data(result, "probability")
    config = result.best_config_ if trial is None else result._trial(trial).config
    X = result._X
    y = np.searchsorted(result.classes_, result._y.to_numpy())
    proba = np.full((len(y), len(result.classes_)), np.nan)
    with warnings.catch_warnings(), _one_thread():
        warnings.simplefilter("ignore")
        for train_idx, val_idx in result.validation_.folds:
            pipeline = build_pipeline(config, result.plan_, result.task_, random_state=result.seed)
            pipeline.fit(X.iloc[train_idx], y[train_idx])
            if not hasattr(pipeline, "predict_proba"):
                raise ValueError(f"The {_trial_label(result, trial)} ({config['family']}) gives no "
                                 "probabilities, which this plot needs.")
            fold = pipeline.predict_proba(X.iloc[val_idx])
            columns = getattr(pipeline, "classes_", np.arange(fold.shape[1]))
            proba[np.ix_(val_idx, np.asarray(columns, dtype=int))] = fold
    mask = ~np.isnan(proba).all(axis=1)
    out = (y[mask], np.nan_to_num(proba[mask]))
    cache[trial] = out
    return out


def _is_probability(prediction: np.ndarray, n_classes: int) -> bool:
    return (prediction.ndim == 2 and prediction.shape[1] == n_classes
            and np.all((prediction >= -1e-9) & (prediction <= 1 + 1e-9))
            and np.allclose(prediction.sum(axis=1), 1.0, atol=1e-3))


def _oof_scores(result, trial=None, need_proba=False) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(y_codes, scores, is_proba)``: an (n, k) array of class scores for every OOF row.

    Uses the stored out-of-fold predictions when they are probabilities (or decision values,
    when probabilities are not needed); otherwise refits on the folds.
    """
    k = len(result.classes_)
    y, prediction = result.oof_predictions(trial)
    prediction = np.asarray(prediction, dtype=float)
    if _is_probability(prediction, k):
        return y.astype(int), prediction, True
    if not need_proba and _metric_needs(result) != "label":
        if prediction.ndim == 1 and k == 2:  # binary decision values: score of class 1
            return y.astype(int), np.column_stack([-prediction, prediction]), False
        if prediction.ndim == 2 and prediction.shape[1] == k:
            return y.astype(int), prediction, False
    y, proba = _fold_probabilities(result, trial)
    return y.astype(int), proba, True


def _oof_labels(result, trial=None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold true and predicted class codes (the model's at its decision threshold)."""
    y, prediction = result.oof_predictions(trial)
    prediction = np.asarray(prediction, dtype=float)
    if prediction.ndim == 2:
        from ..engine.threshold import predicted_codes

        labels = predicted_codes(prediction, _model_threshold(result, trial))
    elif _metric_needs(result) == "label":
        labels = np.rint(prediction).astype(int)
    else:  # binary decision values
        labels = (prediction > 0).astype(int)
    return np.asarray(y).astype(int), labels


# --------------------------------------------------------------------------- convergence


@dataclass
class ConvergenceInfo:
    metric: str
    greater_is_better: bool
    by: str
    x: np.ndarray  # one per finished trial (trial number in finishing order, or seconds)
    scores: np.ndarray  # NaN for failed trials
    best_so_far: np.ndarray  # NaN until the first success
    failed_x: np.ndarray
    failed_status: list[str]
    best_x: float | None
    best_score: float | None
    xlabel: str


def _convergence_info(result, by: str = "trial") -> ConvergenceInfo:
    """Score of every finished trial and the best score so far, in finishing order.

    ``result`` is anything with ``trials_`` and ``metric_`` (a fitted AutoML, or the live
    state of a running search).
    """
    if by not in ("trial", "time"):
        raise ValueError(f"by={by!r}: use by='trial' or by='time'.")
    greater = _metric_direction(result)
    done = [t for t in result.trials_ if t.status not in ("running", "interrupted")]
    done.sort(key=lambda t: (t.finished, t.trial_id))
    scores = np.array([t.score if t.status == "ok" and t.score is not None else np.nan for t in done],
                      dtype=float)
    x = (np.arange(1, len(done) + 1, dtype=float) if by == "trial"
         else np.array([t.finished for t in done], dtype=float))
    best = np.full(len(done), np.nan)
    current = np.nan
    for i, s in enumerate(scores):
        if not np.isnan(s) and (np.isnan(current) or (s > current if greater else s < current)):
            current = s
        best[i] = current
    failed = np.isnan(scores)
    if np.all(np.isnan(best)):
        best_x = best_score = None
    else:
        i = int(np.nanargmax(scores) if greater else np.nanargmin(scores))
        best_x, best_score = float(x[i]), float(scores[i])
    xlabel = ("Trial (in the order the trials finished)" if by == "trial"
              else "Seconds since the search started")
    return ConvergenceInfo(metric=result.metric_, greater_is_better=greater, by=by, x=x, scores=scores,
                           best_so_far=best, failed_x=x[failed],
                           failed_status=[t.status for t, f in zip(done, failed) if f],
                           best_x=best_x, best_score=best_score, xlabel=xlabel)


def draw_convergence(info: ConvergenceInfo, ax=None, compact: bool = False):
    """Draw a :class:`ConvergenceInfo` (used by the live panel as well)."""
    ax = _new_axes(ax)
    ok = ~np.isnan(info.scores)
    # the dots sit above the best-so-far line (a white rim keeps them apart from it)
    ax.scatter(info.x[ok], info.scores[ok], s=22 if not compact else 28, color="#78909c", alpha=0.9,
               edgecolors="white", linewidths=0.6, label="trial score", zorder=3.5)
    if ok.any():
        ax.step(info.x, info.best_so_far, where="post", color="#1565c0", lw=2, label="best so far",
                zorder=3)
    if info.best_x is not None:
        ax.scatter([info.best_x], [info.best_score], s=90, marker="*", color="#2e7d32", zorder=4,
                   label=f"best: {info.best_score:.4f}")
    if len(info.failed_x):
        ax.scatter(info.failed_x, np.full(len(info.failed_x), 0.03), marker="x", color="#c62828",
                   transform=ax.get_xaxis_transform(), clip_on=False, zorder=4,
                   label=f"failed or timed out ({len(info.failed_x)})")
    if not len(info.x):
        ax.text(0.5, 0.5, "no finished trials yet", ha="center", va="center", transform=ax.transAxes,
                color="#777")
    ax.set_title(f"Convergence: best {info.metric} so far", fontsize=10 if compact else 12)
    ax.set_xlabel(info.xlabel)
    ax.set_ylabel(f"CV {info.metric} ({_better_word(info.greater_is_better)})")
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    # keep a far-off score (an r2 of -50) from squashing the curve, and a few close scores
    # from spreading over the whole axis with five-decimal ticks
    limits = (_robust_limits(info.scores[ok], info.greater_is_better)
              or _min_span_limits(info.scores[ok]))
    if limits is not None:
        ax.set_ylim(*limits)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    if info.by == "trial":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(info.x):
            last = float(np.max(info.x))
            margin = max(0.5, 0.03 * last)
            ax.set_xlim(1 - margin, max(last, 2) + margin)
    ax.grid(alpha=0.3)
    if len(info.x):
        ax.legend(fontsize=7 if compact else 8, loc="best")
    return ax


def _robust_limits(scores: np.ndarray, greater_is_better: bool):
    """y limits that leave out scores far worse than the rest (3 IQR), or None to keep all."""
    if len(scores) < 5:
        return None
    q1, q3 = np.percentile(scores, [25, 75])
    spread = 3 * (q3 - q1)
    lo, hi = float(scores.min()), float(scores.max())
    if greater_is_better and lo < q1 - spread:
        lo = q1 - spread
    elif not greater_is_better and hi > q3 + spread:
        hi = q3 + spread
    else:
        return None
    pad = 0.08 * (hi - lo or abs(hi) or 1.0)
    return lo - pad, hi + pad


def _min_span_limits(scores: np.ndarray, relative: float = 0.02):
    """y limits spanning at least ``relative`` of the scores' magnitude (0.01 at least for
    scores under 0.5), centred on them, or None when they spread wider already."""
    if not len(scores):
        return None
    lo, hi = float(np.min(scores)), float(np.max(scores))
    min_span = relative * max(abs(lo), abs(hi), 0.5)
    if hi - lo >= min_span:
        return None
    middle = (lo + hi) / 2
    lo, hi = middle - min_span / 2, middle + min_span / 2
    pad = 0.1 * min_span
    return lo - pad, hi + pad


def plot_convergence(result, ax=None, by: str = "trial"):
    """Best score so far against the trial number (``by="trial"``) or seconds (``by="time"``).

    Grey dots are single trials, the blue steps the best score reached so far, red crosses
    at the bottom the trials that failed or timed out.
    """
    return draw_convergence(_convergence_info(result, by), ax)


# --------------------------------------------------------------------------- leaderboard


@dataclass
class LeaderboardInfo:
    metric: str
    greater_is_better: bool
    labels: list[str]
    scores: np.ndarray
    stds: np.ndarray
    tied: np.ndarray  # bool: not significantly different from the best
    n_folds: int
    n_ok: int


def _leaderboard_info(result, top: int = 15) -> LeaderboardInfo:
    board = result.leaderboard
    ok = board[board["status"] == "ok"].head(top)
    labels = [f"{int(r['rank'])}. {r['model']} (trial {int(r['trial'])})" for _, r in ok.iterrows()]
    tied = ok["tied_with_best"].fillna(False).to_numpy(dtype=bool).copy()
    if len(tied):
        tied[0] = False  # the best itself
    best_trial = getattr(result, "best_trial_", None)
    n_folds = len(best_trial.fold_scores) if best_trial is not None else 0
    return LeaderboardInfo(metric=result.metric_, greater_is_better=_metric_direction(result),
                           labels=labels, scores=ok["score"].to_numpy(dtype=float),
                           stds=ok["score_std"].fillna(0).to_numpy(dtype=float), tied=tied,
                           n_folds=n_folds, n_ok=int((board["status"] == "ok").sum()))


def plot_leaderboard(result, ax=None, top: int = 15):
    """The top pipelines' mean CV scores with the fold-to-fold spread (±1 std).

    A ≈ mark (and a blue bar) shows a pipeline whose fold scores are not significantly
    different from the best one's (paired corrected t-test, p ≥ 0.05).
    """
    info = _leaderboard_info(result, top)
    n = len(info.labels)
    ax = _new_axes(ax, figsize=(7.5, 1.2 + 0.32 * max(n, 3)))
    y = np.arange(n)[::-1]
    colors = ["#2e7d32" if i == 0 else ("#1e88e5" if info.tied[i] else "#9e9e9e") for i in range(n)]
    for i in range(n):
        ax.errorbar(info.scores[i], y[i], xerr=info.stds[i], fmt="o", color=colors[i], capsize=3)
        if info.tied[i]:
            ax.annotate("≈", (info.scores[i], y[i]), xytext=(6, 3), textcoords="offset points",
                        fontsize=12, color="#1e88e5")
    if n:
        ax.axvline(info.scores[0], color="#2e7d32", lw=1, ls="--")
        lo = np.min(info.scores - info.stds)
        hi = np.max(info.scores + info.stds)
        pad = 0.1 * (hi - lo or abs(hi) or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
    else:
        ax.text(0.5, 0.5, "no successful trials", ha="center", va="center", transform=ax.transAxes)
    ax.set_yticks(y, info.labels, fontsize=8)
    folds = f" over {info.n_folds} folds" if info.n_folds > 1 else ""
    ax.set_xlabel(f"CV {info.metric}: mean ± std{folds} ({_better_word(info.greater_is_better)})")
    ax.set_ylabel("Pipeline (rank. model)")
    ax.set_title(f"Leaderboard: top {n} of {info.n_ok} pipelines by CV {info.metric}")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", ls="", color="#2e7d32", label="best"),
               Line2D([], [], marker="o", ls="", color="#1e88e5", label="≈ tied with the best (p ≥ 0.05)"),
               Line2D([], [], marker="o", ls="", color="#9e9e9e", label="significantly worse")]
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3,
              frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax


# --------------------------------------------------------------------------- classification


@dataclass
class ConfusionInfo:
    classes: list[str]
    counts: np.ndarray  # rows: true class, columns: predicted class
    normalized: np.ndarray  # each row sums to 1 (share of the true class)
    accuracy: float
    source: str


def _model_threshold(result, trial=None) -> float | None:
    """The decision threshold of the model (not of another ``trial``), or None for 0.5."""
    return getattr(result, "decision_threshold_", None) if trial is None else None


def _confusion_info(result, trial=None) -> ConfusionInfo:
    from sklearn.metrics import confusion_matrix

    y, labels = _oof_labels(result, trial)
    classes = _class_names(result)
    counts = confusion_matrix(y, labels, labels=np.arange(len(classes)))
    totals = counts.sum(axis=1, keepdims=True)
    normalized = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    accuracy = float(np.trace(counts) / max(counts.sum(), 1))
    return ConfusionInfo(classes, counts, normalized, accuracy, _trial_label(result, trial))


def plot_confusion(result, ax=None, trial=None):
    """Confusion matrix of the out-of-fold predictions: rows are true classes, columns predicted.

    Colours are shares of each true class (rows sum to 100 %); the numbers are row counts.
    """
    info = _confusion_info(result, trial)
    k = len(info.classes)
    ax = _new_axes(ax, figsize=(max(4.8, 0.6 * k + 3), max(4.0, 0.55 * k + 2.2)))
    image = ax.imshow(info.normalized, cmap="Blues", vmin=0, vmax=1)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                share = info.normalized[i, j]
                ax.text(j, i, f"{info.counts[i, j]}\n{100 * share:.0f}%", ha="center", va="center",
                        fontsize=8 if k <= 8 else 6, color="white" if share > 0.6 else "black")
    ax.set_xticks(range(k), info.classes, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), info.classes)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    threshold = _model_threshold(result, trial)
    cut = "" if threshold is None else f" at threshold {threshold:.3g}"
    ax.set_title(f"Confusion matrix: {info.source}, out-of-fold{cut} (accuracy {info.accuracy:.3f})")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="Share of the true class")
    return ax


@dataclass
class CurveInfo:
    kind: str  # "roc" or "pr"
    curves: list[dict]  # {"label", "x", "y", "area", "baseline", "point"}
    area_name: str  # "AUC" or "AP"
    source: str
    note: str = ""


def _one_vs_rest(result, y, scores):
    classes = _class_names(result)
    if len(classes) == 2:
        return [(classes[1], y == 1, scores[:, 1])]
    shown = range(min(len(classes), _MAX_CLASS_CURVES))
    return [(classes[c], y == c, scores[:, c]) for c in shown]


def _operating_point(result, trial, truth, score, is_proba: bool, kind: str) -> dict | None:
    """Where a binary model predicts: its cut of the probability (its decision threshold, or
    0.5) as ``{"cut", "x", "y"}`` on the ROC (false and true positive rates) or PR (recall,
    precision) curve; None for multiclass curves and decision values."""
    if not is_proba or len(result.classes_) != 2:
        return None
    from ..engine.threshold import predicted_codes

    threshold = _model_threshold(result, trial)
    cut = threshold or 0.5
    # as the model predicts (and the confusion matrix counts): at 0.5 a tie goes to class 0
    flagged = predicted_codes(np.column_stack([1 - score, score]), threshold) == 1
    recall = float(flagged[truth].mean())
    if kind == "roc":
        return {"cut": cut, "x": float(flagged[~truth].mean()), "y": recall}
    return {"cut": cut, "x": recall, "y": float(truth[flagged].mean()) if flagged.any() else 1.0}


def _roc_info(result, trial=None) -> CurveInfo:
    from sklearn.metrics import roc_auc_score, roc_curve

    y, scores, is_proba = _oof_scores(result, trial)
    curves = []
    for label, truth, score in _one_vs_rest(result, y, scores):
        if truth.all() or not truth.any():
            continue
        fpr, tpr, _ = roc_curve(truth, score)
        curves.append({"label": label, "x": fpr, "y": tpr, "area": float(roc_auc_score(truth, score)),
                       "baseline": None,
                       "point": _operating_point(result, trial, truth, score, is_proba, "roc")})
    note = _class_note(result)
    return CurveInfo("roc", curves, "AUC", _trial_label(result, trial), note)


def _pr_info(result, trial=None) -> CurveInfo:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y, scores, is_proba = _oof_scores(result, trial)
    curves = []
    for label, truth, score in _one_vs_rest(result, y, scores):
        if truth.all() or not truth.any():
            continue
        precision, recall, _ = precision_recall_curve(truth, score)
        curves.append({"label": label, "x": recall, "y": precision,
                       "area": float(average_precision_score(truth, score)),
                       "baseline": float(truth.mean()),
                       "point": _operating_point(result, trial, truth, score, is_proba, "pr")})
    return CurveInfo("pr", curves, "AP", _trial_label(result, trial), _class_note(result))


def _class_note(result) -> str:
    k = len(result.classes_)
    if k == 2:
        return f"positive class: {result.classes_[1]}"
    extra = f" (first {_MAX_CLASS_CURVES} classes)" if k > _MAX_CLASS_CURVES else ""
    return f"one-vs-rest per class{extra}"


def _mark_point(ax, curve: dict, line) -> None:
    """The model's operating point on a curve: a dot, and its cut in the legend."""
    point = curve.get("point")
    if point is not None:
        ax.plot([point["x"]], [point["y"]], "o", color=line.get_color(), ms=7, zorder=3,
                label=f"the model predicts {curve['label']} from p ≥ {point['cut']:.3g}")


def plot_roc(result, ax=None, trial=None):
    """ROC curve of the out-of-fold scores (binary; one-vs-rest per class for multiclass).

    The curve shows the true positive rate reached at each false positive rate as the
    decision threshold moves; the dashed diagonal is a model that guesses (AUC 0.5). For a
    binary model a dot marks where it predicts: at its decision threshold, or 0.5.
    """
    info = _roc_info(result, trial)
    ax = _new_axes(ax, figsize=(5.6, 5.0))
    for curve in info.curves:
        (line,) = ax.plot(curve["x"], curve["y"], lw=1.8, label=f"{curve['label']} (AUC {curve['area']:.3f})")
        _mark_point(ax, curve, line)
    ax.plot([0, 1], [0, 1], ls="--", color="#9e9e9e", lw=1, label="chance (AUC 0.5)")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("False positive rate (1 − specificity)")
    ax.set_ylabel("True positive rate (recall)")
    ax.set_title(f"ROC curve: {info.source}, out-of-fold ({info.note})")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return ax


def plot_pr(result, ax=None, trial=None):
    """Precision-recall curve of the out-of-fold scores (one-vs-rest for multiclass).

    Dotted lines are the precision of a model that guesses: the share of the class. For a
    binary model a dot marks where it predicts: at its decision threshold, or 0.5.
    """
    info = _pr_info(result, trial)
    ax = _new_axes(ax, figsize=(5.6, 5.0))
    for curve in info.curves:
        (line,) = ax.plot(curve["x"], curve["y"], lw=1.8,
                          label=f"{curve['label']} (AP {curve['area']:.3f})")
        ax.axhline(curve["baseline"], color=line.get_color(), ls=":", lw=1)
        _mark_point(ax, curve, line)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("Recall (share of the class found)")
    ax.set_ylabel("Precision (share of predictions that are right)")
    ax.set_title(f"Precision-recall curve: {info.source}, out-of-fold ({info.note})")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return ax


@dataclass
class ThresholdInfo:
    thresholds: np.ndarray  # every cut of the out-of-fold probabilities, ascending
    scores: dict[str, np.ndarray]  # metric name -> its value at each cut
    share_positive: np.ndarray  # share of rows predicted positive at each cut
    metric: str  # the search's metric, drawn thicker where it is among the scores
    threshold: float | None  # the model's, or None where it predicts at 0.5
    source: str
    positive: str


#: the metrics drawn against the threshold, besides the search's own when it is a label metric
_THRESHOLD_METRICS = ("precision", "recall", "f1")


def _threshold_info(result, trial=None) -> ThresholdInfo:
    from ..engine.threshold import TUNABLE_METRICS, cut_scores

    if len(result.classes_) != 2:
        raise ValueError(f"The 'threshold' plot is for binary classification; this search has "
                         f"{len(result.classes_)} classes.")
    y, proba, _ = _oof_scores(result, trial, need_proba=True)
    names = list(_THRESHOLD_METRICS)
    if result.metric_ in TUNABLE_METRICS and result.metric_ not in names:
        names.append(result.metric_)
    scores = {}
    for name in names:
        thresholds, scores[name] = cut_scores(y, proba[:, 1], name)
    share = 1 - np.searchsorted(np.sort(proba[:, 1]), thresholds, side="left") / len(proba)  # p >= cut
    return ThresholdInfo(thresholds, scores, share, result.metric_, _model_threshold(result, trial),
                         _trial_label(result, trial), str(result.classes_[1]))


def plot_threshold(result, ax=None, trial=None):
    """Precision, recall, F1 (and the search's metric) of the out-of-fold probabilities at every
    decision threshold of a binary model, with the share of rows predicted positive.

    A dashed line marks 0.5, a solid one the model's decision threshold where it has one
    (``decision_threshold``): how much a metric gains by moving the cut, and what the cut costs
    in the other metrics, at a glance.
    """
    info = _threshold_info(result, trial)
    ax = _new_axes(ax, figsize=(6.8, 4.6))
    for name, values in info.scores.items():
        ax.plot(info.thresholds, values, lw=2.6 if name == info.metric else 1.5,
                label=f"{name} (the search's metric)" if name == info.metric else name)
    ax.plot(info.thresholds, info.share_positive, ls=":", color="#616161", lw=1.3,
            label="share predicted positive")
    ax.axvline(0.5, ls="--", color="#9e9e9e", lw=1, label="0.5, the default cut")
    if info.threshold is not None:
        ax.axvline(info.threshold, color="black", lw=1.2, label=f"the model's threshold {info.threshold:.3g}")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel(f"Decision threshold: predict {info.positive} from this probability")
    ax.set_ylabel("Out-of-fold score")
    ax.set_title(f"Metrics by decision threshold: {info.source}, out-of-fold (positive class: {info.positive})")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return ax


@dataclass
class CalibrationInfo:
    curves: list[dict]  # {"label", "predicted", "observed", "brier"}
    source: str
    note: str
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0))  # histogram of the probabilities
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _calibration_info(result, trial=None, n_bins: int = 10) -> CalibrationInfo:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    y, proba, _ = _oof_scores(result, trial, need_proba=True)
    curves = []
    for label, truth, p in _one_vs_rest(result, y, proba):
        if truth.all() or not truth.any():
            continue
        observed, predicted = calibration_curve(truth, np.clip(p, 0, 1), n_bins=n_bins,
                                                strategy="quantile")
        curves.append({"label": label, "predicted": predicted, "observed": observed,
                       "brier": float(brier_score_loss(truth, np.clip(p, 0, 1)))})
    first = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
    counts, edges = np.histogram(first, bins=20, range=(0, 1))
    return CalibrationInfo(curves, _trial_label(result, trial), _class_note(result), counts, edges)


def plot_calibration(result, ax=None, trial=None):
    """Reliability curve: mean predicted probability against the observed frequency per bin.

    Points on the diagonal mean "when the model says 70 %, it is right 70 % of the time".
    Bins hold equal numbers of rows (quantiles). The Brier score (lower is better) is in
    the legend.
    """
    info = _calibration_info(result, trial)
    ax = _new_axes(ax, figsize=(5.6, 5.0))
    ax.plot([0, 1], [0, 1], ls="--", color="#9e9e9e", lw=1, label="perfectly calibrated")
    for curve in info.curves:
        ax.plot(curve["predicted"], curve["observed"], marker="o", ms=4, lw=1.5,
                label=f"{curve['label']} (Brier {curve['brier']:.3f})")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("Mean predicted probability (per bin)")
    ax.set_ylabel("Observed fraction of the class (per bin)")
    ax.set_title(f"Calibration: {info.source}, out-of-fold ({info.note})")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return ax


# --------------------------------------------------------------------------- regression


@dataclass
class RegressionInfo:
    target: str
    actual: np.ndarray
    predicted: np.ndarray
    residuals: np.ndarray  # actual - predicted
    bin_centers: np.ndarray  # mean residual per bin of the prediction (a trend line)
    bin_means: np.ndarray
    r2: float
    rmse: float
    mae: float
    source: str


def _regression_info(result, trial=None, n_bins: int = 20) -> RegressionInfo:
    y, prediction = result.oof_predictions(trial)
    actual = np.asarray(y, dtype=float)
    predicted = np.asarray(prediction, dtype=float).ravel()
    residuals = actual - predicted
    edges = np.unique(np.quantile(predicted, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, max(len(edges) - 2, 0))
    centers, means = [], []
    for b in range(max(len(edges) - 1, 0)):
        rows = which == b
        if rows.any():
            centers.append(predicted[rows].mean())
            means.append(residuals[rows].mean())
    ss_res = float(np.sum(residuals ** 2))
    ss_tot = float(np.sum((actual - actual.mean()) ** 2))
    return RegressionInfo(target=str(getattr(result, "target_", "target")), actual=actual,
                          predicted=predicted, residuals=residuals, bin_centers=np.array(centers),
                          bin_means=np.array(means), r2=1 - ss_res / ss_tot if ss_tot else float("nan"),
                          rmse=math.sqrt(ss_res / max(len(actual), 1)),
                          mae=float(np.mean(np.abs(residuals))) if len(actual) else float("nan"),
                          source=_trial_label(result, trial))


def plot_residuals(result, ax=None, trial=None):
    """Out-of-fold residuals (actual − predicted) against the prediction.

    A good model leaves a band centred on zero with no shape; the orange line is the mean
    residual per bin of predictions, so a curve or a funnel shows what the model misses.
    """
    info = _regression_info(result, trial)
    ax = _new_axes(ax)
    ax.scatter(info.predicted, info.residuals, s=8, alpha=0.45, color="#1e88e5", label="one row")
    ax.axhline(0, color="#424242", lw=1)
    if len(info.bin_centers) > 1:
        ax.plot(info.bin_centers, info.bin_means, color="#ef6c00", lw=2, label="mean residual per bin")
    ax.set_xlabel(f"Predicted {info.target}")
    ax.set_ylabel("Residual (actual − predicted)")
    ax.set_title(f"Residuals: {info.source}, out-of-fold (RMSE {info.rmse:.4g}, MAE {info.mae:.4g})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_prediction(result, ax=None, trial=None):
    """Out-of-fold predictions against the actual values; the diagonal is a perfect model."""
    info = _regression_info(result, trial)
    ax = _new_axes(ax, figsize=(5.6, 5.0))
    ax.scatter(info.actual, info.predicted, s=8, alpha=0.45, color="#1e88e5", label="one row")
    lo = float(min(info.actual.min(), info.predicted.min())) if len(info.actual) else 0.0
    hi = float(max(info.actual.max(), info.predicted.max())) if len(info.actual) else 1.0
    ax.plot([lo, hi], [lo, hi], ls="--", color="#424242", lw=1, label="perfect prediction")
    ax.set_xlabel(f"Actual {info.target}")
    ax.set_ylabel(f"Predicted {info.target} (out-of-fold)")
    ax.set_title(f"Predicted vs actual: {info.source}, out-of-fold (R² {info.r2:.3f})")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return ax


# --------------------------------------------------------------------------- importance


@dataclass
class ImportanceInfo:
    metric: str
    columns: list[str]  # most important first
    mean: np.ndarray  # drop of the score when the column is shuffled (positive: useful)
    std: np.ndarray
    fold: int
    n_folds: int
    n_rows: int
    n_repeats: int


_IMPORTANCE_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _importance_info(result, n_repeats: int = 5, max_rows: int = 2000, fold: int = 0) -> ImportanceInfo:
    """Permutation importance of the original columns on one validation fold.

    The best config is fitted on the fold's training rows, then each original column of the
    validation rows is shuffled ``n_repeats`` times; the importance is the mean drop of the
    search metric. Cheap (one fit) and honest (the scored rows were not used to fit). For full
    explanations see ``nbautoml.explain``.
    """
    import warnings

    from sklearn.inspection import permutation_importance

    from ..engine.metrics import get_metric, score
    from ..engine.space import build_pipeline

    key = (n_repeats, max_rows, fold)
    cache = _IMPORTANCE_CACHE.setdefault(result, {})
    if key in cache:
        return cache[key]
    _check_training_data(result, "importance")
    folds = result.validation_.folds
    if not 0 <= fold < len(folds):
        raise ValueError(f"fold={fold}: the search has {counted(len(folds), 'validation fold')} (0 to {len(folds) - 1}).")
    train_idx, val_idx = folds[fold]
    rng = np.random.default_rng(result.seed)
    if len(val_idx) > max_rows:
        val_idx = np.sort(rng.choice(val_idx, max_rows, replace=False))
    X, task = result._X, result.task_
    y = (result._y.to_numpy(dtype=float) if task == "regression"
         else np.searchsorted(result.classes_, result._y.to_numpy()))
    metric = get_metric(result.metric_, task)
    n_classes = 0 if result.classes_ is None else len(result.classes_)
    sign = 1.0 if metric.greater_is_better else -1.0

    def scorer(estimator, X_val, y_val):
        if task == "regression" or metric.needs == "label":
            prediction = estimator.predict(X_val)
        elif hasattr(estimator, "predict_proba"):
            prediction = estimator.predict_proba(X_val)
        else:
            prediction = estimator.decision_function(X_val)
        return sign * score(metric, y_val, np.asarray(prediction), n_classes)

    with warnings.catch_warnings(), _one_thread():
        warnings.simplefilter("ignore")
        pipeline = build_pipeline(result.best_config_, result.plan_, task, random_state=result.seed)
        pipeline.fit(X.iloc[train_idx], y[train_idx])
        found = permutation_importance(pipeline, X.iloc[val_idx], y[val_idx], scoring=scorer,
                                       n_repeats=n_repeats, random_state=result.seed, n_jobs=1)
    order = np.argsort(-found.importances_mean, kind="stable")
    info = ImportanceInfo(metric=metric.name, columns=[str(X.columns[i]) for i in order],
                          mean=found.importances_mean[order], std=found.importances_std[order],
                          fold=fold, n_folds=len(folds), n_rows=len(val_idx), n_repeats=n_repeats)
    cache[key] = info
    return info


def plot_importance(result, ax=None, top: int = 15, n_repeats: int = 5):
    """Permutation importance of the input columns for the best pipeline, on one validation fold.

    Each bar is how much the CV metric drops when that column's values are shuffled (so the
    model cannot use it); the whisker is the spread over the repeats. Bars near zero mean the
    model does not rely on the column; correlated columns can share (and hide) importance.
    """
    info = _importance_info(result, n_repeats=n_repeats)
    n = min(top, len(info.columns))
    ax = _new_axes(ax, figsize=(6.8, 1.2 + 0.3 * max(n, 3)))
    y = np.arange(n)[::-1]
    colors = ["#1e88e5" if m > 0 else "#bdbdbd" for m in info.mean[:n]]
    ax.barh(y, info.mean[:n], xerr=info.std[:n], color=colors, capsize=2)
    ax.set_yticks(y, info.columns[:n], fontsize=8)
    ax.axvline(0, color="#424242", lw=1)
    ax.set_xlabel(f"Drop in {info.metric} when the column is shuffled")
    ax.set_ylabel("Input column")
    ax.set_title(f"Permutation importance: validation fold {info.fold + 1} of {info.n_folds} "
                 f"({info.n_rows} rows, {info.n_repeats} repeats)")
    ax.grid(axis="x", alpha=0.3)
    return ax


# --------------------------------------------------------------------------- hyperparameters


@dataclass
class HyperparameterInfo:
    family: str
    metric: str
    greater_is_better: bool
    params: list[dict]  # {"name", "values", "scores", "numeric", "log", "has_best", "best"}
    n_trials: int


def _hyperparameter_info(result, family: str | None = None, max_params: int = 6) -> HyperparameterInfo:
    """CV score against each hyperparameter of one family (default: the best pipeline's)."""
    from ..engine.space import FAMILIES

    if family is None:
        best = getattr(result, "best_config_", None)
        if best is None:
            raise ValueError("No trial succeeded, so there is no best model family to plot.")
        family = best["family"]
    trials = [t for t in result.trials_ if t.status == "ok" and t.family == family and t.score is not None]
    if not trials:
        raise ValueError(f"No successful trial of {family!r}. Families tried: "
                         f"{', '.join(sorted({t.family for t in result.trials_}))}.")
    plan = getattr(result, "plan_", None)
    has_text = bool(plan is not None and plan.names("text"))
    priors = {p.name: p for p in FAMILIES[family].params_for(has_text)} if family in FAMILIES else {}
    names = [p for p in priors if any(p in t.config["params"] for t in trials)]
    names += sorted({k for t in trials for k in t.config["params"]} - set(names))
    best_trial = getattr(result, "best_trial_", None)
    params = []
    for name in names[:max_params]:
        values = [t.config["params"].get(name) for t in trials]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        prior = priors.get(name)
        positive = numeric and all(v > 0 for v in values)
        log = positive and (prior.kind in ("loguniform", "qloguniform") if prior is not None
                            else max(values) / min(values) > 100)
        has_best = best_trial is not None and best_trial.family == family
        params.append({"name": name, "values": values, "scores": np.array([t.score for t in trials]),
                       "numeric": numeric, "log": bool(log), "has_best": has_best,
                       "best": best_trial.config["params"].get(name) if has_best else None})
    return HyperparameterInfo(family=family, metric=result.metric_, greater_is_better=_metric_direction(result),
                              params=params, n_trials=len(trials))


def plot_hyperparameters(result, ax=None, family: str | None = None):
    """CV score of each trial of the best family against each of its hyperparameters.

    One panel per hyperparameter (log axis for those searched on a log scale); the star is
    the best trial. A clear slope says the range matters; a flat cloud says it does not.
    Returns the list of Axes (one per hyperparameter).
    """
    info = _hyperparameter_info(result, family)
    n = max(len(info.params), 1)
    if ax is None:
        cols = min(n, 3)
        rows = math.ceil(n / cols)
        fig = NbFigure(figsize=(3.6 * cols, 3.1 * rows + 0.4), layout="constrained")
        grid = fig.add_gridspec(rows, cols)
    else:
        fig = ax.figure
        grid = ax.get_subplotspec().subgridspec(1, n)
        ax.remove()
        cols = n
    axes = [fig.add_subplot(grid[i // cols, i % cols]) for i in range(n)]
    for i, (axis, param) in enumerate(zip(axes, info.params)):
        scores = param["scores"]
        if param["numeric"]:
            x = np.asarray(param["values"], dtype=float)
            axis.scatter(x, scores, s=16, color="#1e88e5", alpha=0.75)
            if param["log"]:
                axis.set_xscale("log")
            if param["has_best"] and param["best"] is not None:
                axis.scatter([param["best"]], [result.best_score_], marker="*", s=120, color="#2e7d32",
                             zorder=3)
        else:
            categories = sorted({str(v) for v in param["values"]})
            position = {c: j for j, c in enumerate(categories)}
            jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(scores))
            x = np.array([position[str(v)] for v in param["values"]], dtype=float) + jitter
            axis.scatter(x, scores, s=16, color="#1e88e5", alpha=0.75)
            axis.set_xticks(range(len(categories)), categories, fontsize=8)
            # every category's tick in view: autoscaling to jittered points can cut the last one
            axis.set_xlim(-0.5, len(categories) - 0.5)
            if param["has_best"]:
                axis.scatter([position[str(param["best"])]], [result.best_score_], marker="*", s=120,
                             color="#2e7d32", zorder=3)
        axis.set_xlabel(param["name"])
        if i % cols == 0:
            axis.set_ylabel(f"CV {info.metric}")
        axis.grid(alpha=0.3)
    if not info.params:
        axes[0].text(0.5, 0.5, "this family has no searched hyperparameters", ha="center", va="center",
                     transform=axes[0].transAxes)
        axes[0].set_xlabel("(none)")
        axes[0].set_ylabel(f"CV {info.metric}")
    trials = f"{info.n_trials} trial" + ("s" if info.n_trials != 1 else "")
    few = "; too few trials to show a trend: give the search more time" if info.n_trials < 4 else ""
    fig.suptitle(f"Hyperparameters of {info.family}: CV {info.metric} of {trials} "
                 f"({_better_word(info.greater_is_better)}; ★ best{few})", fontsize=10)
    return axes


_PLOTTERS = {
    "convergence": plot_convergence,
    "leaderboard": plot_leaderboard,
    "confusion": plot_confusion,
    "roc": plot_roc,
    "pr": plot_pr,
    "calibration": plot_calibration,
    "threshold": plot_threshold,
    "residuals": plot_residuals,
    "prediction": plot_prediction,
    "importance": plot_importance,
    "hyperparameters": plot_hyperparameters,
}
