"""Metrics: names, directions, the task each fits, and scoring from predictions.

Scores are computed from out-of-fold predictions (labels, probabilities or
decision values), so one fold's predictions serve every metric and plot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ConfigError, unknown_choice


@dataclass(frozen=True)
class Metric:
    """A metric: its name, direction, the tasks it fits and what it scores."""

    name: str
    greater_is_better: bool
    tasks: tuple[str, ...]
    needs: str  # "label", "score" (proba or decision) or "proba"

    def loss(self, score: float) -> float:
        """The value hyperopt minimises."""
        return -score if self.greater_is_better else score


_CLS = ("binary", "multiclass")
METRICS = {
    m.name: m
    for m in [
        Metric("accuracy", True, _CLS, "label"),
        Metric("balanced_accuracy", True, _CLS, "label"),
        Metric("f1", True, ("binary",), "label"),
        Metric("f1_macro", True, _CLS, "label"),
        Metric("precision", True, ("binary",), "label"),
        Metric("recall", True, ("binary",), "label"),
        Metric("roc_auc", True, _CLS, "score"),
        # the area under the precision-recall curve: for rare positives (fraud, churn), where
        # ROC AUC stays high on a ranking that flags many negatives per positive found
        Metric("average_precision", True, ("binary",), "score"),
        Metric("log_loss", False, _CLS, "proba"),
        Metric("r2", True, ("regression",), "label"),
        Metric("rmse", False, ("regression",), "label"),
        Metric("mae", False, ("regression",), "label"),
        Metric("mape", False, ("regression",), "label"),
    ]
}

DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}


# metric="auto" on a multiclass target whose largest class has at least this many times the
# rows of its smallest is balanced_accuracy: accuracy would reward predicting the majority
IMBALANCE_RATIO = 20


#: other names a user types for a metric: scikit-learn's scorer names, common short forms
METRIC_ALIASES = {
    "auc": "roc_auc", "roc": "roc_auc", "auroc": "roc_auc",
    "ap": "average_precision", "pr_auc": "average_precision", "auprc": "average_precision",
    "neg_log_loss": "log_loss", "logloss": "log_loss", "cross_entropy": "log_loss",
    "f1_score": "f1", "accuracy_score": "accuracy", "balanced_accuracy_score": "balanced_accuracy",
    "r2_score": "r2", "neg_root_mean_squared_error": "rmse", "root_mean_squared_error": "rmse",
    "neg_mean_absolute_error": "mae", "mean_absolute_error": "mae",
    "neg_mean_absolute_percentage_error": "mape", "mean_absolute_percentage_error": "mape",
}


def metric_name(name):
    """The metric ``name`` means: any case, "-" for "_", or another name of it
    (:data:`METRIC_ALIASES`, e.g. scikit-learn's "neg_log_loss"); other values as given."""
    if not isinstance(name, str):
        return name
    key = name.strip().lower().replace("-", "_")
    return METRIC_ALIASES.get(key, key)


def choose_metric(name: str | None, task: str, y=None) -> tuple[str, str | None]:
    """The metric to search with, and a note when ``"auto"`` chose it for the data.

    An explicit ``name`` is kept as given. ``"auto"`` is ``DEFAULT_METRIC`` of
    the task, except for a multiclass target whose largest class has at least
    ``IMBALANCE_RATIO`` times the rows of the smallest: accuracy would reward
    predicting the majority there, so balanced_accuracy (the mean recall over
    the classes) is chosen and the note says why.
    """
    name = metric_name(name)
    if name not in (None, "auto"):
        return name, None
    default = DEFAULT_METRIC.get(task, name)
    if task != "multiclass" or y is None:
        return default, None
    import pandas as pd

    counts = pd.Series(y).value_counts()
    if len(counts) < 2 or counts.iloc[0] < IMBALANCE_RATIO * counts.iloc[-1]:
        return default, None
    shown = ":".join(str(int(c)) for c in counts)
    if len(counts) > 6:
        shown = f"{int(counts.iloc[0])}:...:{int(counts.iloc[-1])} over {len(counts)}"
    return "balanced_accuracy", (f"chosen by metric='auto': classes {shown}; accuracy would reward "
                                 "predicting the majority")


def clear_gain(new: float, old: float, greater_is_better: bool, min_gain: float) -> bool:
    """Whether ``new`` beats ``old`` by more than ``min_gain`` (relative to scores above 1)."""
    gain = (new - old) * (1 if greater_is_better else -1)
    return gain > min_gain * max(1.0, abs(old))


def fold_scores(metric: Metric, y, oof, folds, task: str, n_classes: int = 0,
                threshold: float | None = None) -> list[float]:
    """The metric of out-of-fold predictions on each validation fold, as a trial's fold scores.

    ``oof`` holds one prediction per row (probabilities for classification, NaN on rows no
    fold validated); a label metric scores the most probable class, or for a binary model
    the positive class from ``threshold``. Folds without validated rows are left out.
    """
    from .threshold import predicted_codes

    oof = np.asarray(oof, dtype=float)
    scores = []
    for _, test in folds:
        rows = test[~np.isnan(oof[test] if oof.ndim == 1 else oof[test, 0])]
        if len(rows) == 0:
            continue
        prediction = oof[rows]
        if task != "regression" and metric.needs == "label" and prediction.ndim == 2:
            prediction = predicted_codes(prediction, threshold)
        scores.append(score(metric, np.asarray(y)[rows], prediction, n_classes))
    return scores


def folds_won(new: list[float], old: list[float], greater_is_better: bool) -> tuple[int, int]:
    """On how many folds the scores ``new`` beat ``old`` (ties do not count), and of how many:
    ``(better, counted)`` from two :func:`fold_scores` of the same folds."""
    sign = 1.0 if greater_is_better else -1.0
    return sum(bool(sign * (a - b) > 1e-12) for a, b in zip(new, old)), len(new)


#: (metric, task it does not fit) -> the metric of that task that measures the same thing
TASK_COUNTERPARTS = {("f1", "multiclass"): "f1_macro", ("recall", "multiclass"): "balanced_accuracy"}
TASK_COUNTERPARTS_WHY = {"f1_macro": "the F1 of each class, averaged",
                         "balanced_accuracy": "the recall of each class, averaged"}


def get_metric(name: str, task: str) -> Metric:
    """Return the metric, checking it fits the task.

    Raises
    ------
    ConfigError
        For an unknown name, or a metric of another task; the message lists
        the valid metrics for this task.
    """
    name = metric_name(name)
    if name in (None, "auto"):
        name = DEFAULT_METRIC[task]
    if name not in METRICS:
        raise unknown_choice("metric", name, [m for m in METRICS], code="unknown_metric")
    metric = METRICS[name]
    if task not in metric.tasks:
        valid = [m.name for m in METRICS.values() if task in m.tasks]
        hint = TASK_COUNTERPARTS.get((name, task))
        raise ConfigError(
            f"The metric {name!r} does not fit a {task} task."
            + (f" Did you mean {hint!r} ({TASK_COUNTERPARTS_WHY[hint]})?" if hint else "")
            + f" Valid metrics for {task}: {', '.join(valid)}.",
            code="metric_task_mismatch",
            valid=valid,
        )
    return metric


def score(metric: Metric, y_true, prediction, classes=None) -> float:
    """Score predictions.

    Parameters
    ----------
    metric : Metric
    y_true : array-like
        True values (encoded class indices 0..k-1 for classification).
    prediction : ndarray
        For ``needs == "label"``: predicted labels (encoded). For "score" and
        "proba": an (n, k) array of probabilities, or decision values.
    classes : int, optional
        Number of classes, for probability metrics.
    """
    from sklearn import metrics as skm

    y_true = np.asarray(y_true)
    name = metric.name
    if name == "accuracy":
        return float(skm.accuracy_score(y_true, prediction))
    if name == "balanced_accuracy":
        return float(skm.balanced_accuracy_score(y_true, prediction))
    if name == "f1":
        return float(skm.f1_score(y_true, prediction, pos_label=1, zero_division=0))
    if name == "f1_macro":
        return float(skm.f1_score(y_true, prediction, average="macro", zero_division=0))
    if name == "precision":
        return float(skm.precision_score(y_true, prediction, pos_label=1, zero_division=0))
    if name == "recall":
        return float(skm.recall_score(y_true, prediction, pos_label=1, zero_division=0))
    if name == "roc_auc":
        present = np.unique(y_true)
        if len(present) < 2:
            return float("nan")
        if prediction.ndim == 2 and prediction.shape[1] == 2:
            return float(skm.roc_auc_score(y_true, prediction[:, 1]))
        if prediction.ndim == 1:
            return float(skm.roc_auc_score(y_true, prediction))
        labels = np.arange(prediction.shape[1])
        if len(present) < prediction.shape[1]:
            # one-vs-rest over the classes present in this fold
            proba = prediction[:, present]
            proba = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)
            if len(present) == 2:
                return float(skm.roc_auc_score(y_true == present[1], proba[:, 1]))
            return float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=present))
        return float(skm.roc_auc_score(y_true, prediction, multi_class="ovr", labels=labels))
    if name == "average_precision":
        if len(np.unique(y_true)) < 2:
            return float("nan")
        positive = prediction[:, 1] if prediction.ndim == 2 else prediction
        return float(skm.average_precision_score(y_true, positive))
    if name == "log_loss":
        k = classes or prediction.shape[1]
        return float(skm.log_loss(y_true, np.clip(prediction, 1e-15, 1), labels=np.arange(k)))
    if name == "r2":
        return float(skm.r2_score(y_true, prediction))
    if name == "rmse":
        return float(np.sqrt(skm.mean_squared_error(y_true, prediction)))
    if name == "mae":
        return float(skm.mean_absolute_error(y_true, prediction))
    if name == "mape":
        return float(skm.mean_absolute_percentage_error(y_true, prediction))
    raise ConfigError(f"No scorer for metric {name!r}.")
