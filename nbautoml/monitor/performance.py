"""Standard errors of a metric measured on one batch (pure computation).

They tell a real loss of performance from the noise of a small batch. Each
metric gets a cheap, exact-enough method:

* label metrics (accuracy, balanced accuracy, f1, precision, recall,
  f1_macro): bootstrap of the confusion matrix (resampling rows is drawing
  its cells from a multinomial);
* binary ROC AUC: DeLong's variance;
* log loss: the standard error of the mean per-row loss;
* regression metrics: a vectorised bootstrap of the rows;
* anything else: a plain bootstrap with the engine's scorer.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

REPS = 200
MAX_ROWS = 5000


def metric_se(metric, y_true, prediction, n_classes=None, seed: int = 0) -> float:
    """Standard error of ``metric`` on these rows (NaN when it cannot be estimated).

    Parameters
    ----------
    metric : nbautoml.engine.metrics.Metric
    y_true : ndarray
        Class codes (classification) or values (regression).
    prediction : ndarray
        In the form the metric scores (see ``nbautoml.engine.metrics.score``).
    n_classes : int, optional
    seed : int, default=0
    """
    rng = np.random.default_rng(seed)
    y_true = np.asarray(y_true)
    prediction = np.asarray(prediction)
    if len(y_true) < 2:
        return float("nan")
    name = metric.name
    if metric.needs == "label" and name in _LABEL_METRICS:
        return _confusion_bootstrap(
            name,
            y_true.astype(int),
            prediction.astype(int),
            n_classes or int(max(y_true.max(), prediction.max()) + 1),
            rng,
        )
    if name == "roc_auc" and _binary_scores(prediction) is not None and len(np.unique(y_true)) == 2:
        return _delong_se(y_true, _binary_scores(prediction))
    if name == "log_loss":
        proba = np.clip(prediction[np.arange(len(y_true)), y_true.astype(int)], 1e-15, 1)
        return float(np.std(-np.log(proba), ddof=1) / np.sqrt(len(y_true)))
    if name in _REGRESSION_METRICS:
        return _regression_bootstrap(name, y_true.astype(float), prediction.astype(float), rng)
    return _generic_bootstrap(metric, y_true, prediction, n_classes, rng)


def _binary_scores(prediction):
    if prediction.ndim == 1:
        return prediction.astype(float)
    if prediction.ndim == 2 and prediction.shape[1] == 2:
        return prediction[:, 1].astype(float)
    return None


# --------------------------------------------------------------------------- label metrics


def _accuracy(cm):
    return np.trace(cm, axis1=1, axis2=2) / cm.sum(axis=(1, 2))


def _per_class(cm):
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(float)
    actual, predicted = cm.sum(axis=2), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(actual > 0, tp / actual, np.nan)
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        f1 = np.where(
            precision + np.nan_to_num(recall) > 0,
            2 * precision * np.nan_to_num(recall) / (precision + np.nan_to_num(recall)),
            0.0,
        )
    return precision, recall, f1


def _balanced_accuracy(cm):
    return np.nanmean(_per_class(cm)[1], axis=1)


def _f1_macro(cm):
    present = (cm.sum(axis=2) + cm.sum(axis=1)) > 0
    f1 = np.where(present, _per_class(cm)[2], np.nan)
    return np.nanmean(f1, axis=1)


_LABEL_METRICS = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "f1_macro": _f1_macro,
    "f1": lambda cm: _per_class(cm)[2][:, 1],
    "precision": lambda cm: _per_class(cm)[0][:, 1],
    "recall": lambda cm: np.nan_to_num(_per_class(cm)[1][:, 1]),
}


def _confusion_bootstrap(name, y_true, y_pred, k, rng) -> float:
    k = max(k, 2)
    cells = np.bincount(y_true * k + y_pred, minlength=k * k)
    draws = rng.multinomial(len(y_true), cells / cells.sum(), size=REPS).reshape(REPS, k, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = _LABEL_METRICS[name](draws)
    return float(np.nanstd(values, ddof=1))


# --------------------------------------------------------------------------- AUC


def _delong_se(y_true, scores) -> float:
    """DeLong's standard error of the binary ROC AUC (classes coded 0/1)."""
    positive = scores[y_true == 1]
    negative = scores[y_true != 1]
    m, n = len(positive), len(negative)
    if m < 2 or n < 2:
        return float("nan")
    all_ranks = stats.rankdata(np.concatenate([positive, negative]))
    pos_ranks, neg_ranks = stats.rankdata(positive), stats.rankdata(negative)
    v10 = (all_ranks[:m] - pos_ranks) / n  # per positive: share of negatives scored lower
    v01 = 1.0 - (all_ranks[m:] - neg_ranks) / m  # per negative: share of positives scored higher
    variance = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n
    return float(np.sqrt(variance))


# --------------------------------------------------------------------------- regression


def _r2(y, p):
    ss_res = np.sum((y - p) ** 2, axis=1)
    ss_tot = np.sum((y - y.mean(axis=1, keepdims=True)) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - ss_res / ss_tot


_REGRESSION_METRICS = {
    "r2": _r2,
    "rmse": lambda y, p: np.sqrt(np.mean((y - p) ** 2, axis=1)),
    "mae": lambda y, p: np.mean(np.abs(y - p), axis=1),
    "mape": lambda y, p: np.mean(
        np.abs(y - p) / np.maximum(np.abs(y), np.finfo(float).eps), axis=1
    ),
}


def _regression_bootstrap(name, y_true, prediction, rng) -> float:
    n = len(y_true)
    pool = np.arange(n) if n <= MAX_ROWS else rng.choice(n, MAX_ROWS, replace=False)
    idx = pool[rng.integers(0, len(pool), size=(REPS, len(pool)))]
    values = _REGRESSION_METRICS[name](y_true[idx], prediction[idx])
    return float(np.nanstd(values, ddof=1) * np.sqrt(len(pool) / n))


def _generic_bootstrap(metric, y_true, prediction, n_classes, rng, reps=50, max_rows=2000) -> float:
    from ..engine.metrics import score

    n = len(y_true)
    pool = np.arange(n) if n <= max_rows else rng.choice(n, max_rows, replace=False)
    values = []
    for _ in range(reps):
        idx = pool[rng.integers(0, len(pool), len(pool))]
        values.append(score(metric, y_true[idx], prediction[idx], n_classes))
    values = np.asarray(values, dtype=float)
    if np.isnan(values).mean() > 0.5:
        return float("nan")
    return float(np.nanstd(values, ddof=1) * np.sqrt(len(pool) / n))
