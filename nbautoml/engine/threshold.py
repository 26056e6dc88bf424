"""The decision threshold of a binary classifier, chosen on out-of-fold probabilities.

A classifier predicts the positive class where its probability is at least
0.5, which is what accuracy on calibrated probabilities wants but not what F1
or balanced accuracy want on imbalanced classes. With
``decision_threshold="auto"`` the search ends by scoring every cut of the
model's out-of-fold probabilities at once (from cumulative counts of the
positives and negatives above each cut) and keeps the best cut when it beats
0.5 by more than 0.1 % pooled over the rows. (Requiring it to win on most
validation folds too, as an ensemble must, kept fewer cuts and lost held-out
score: ``benchmarks/FINDINGS.md``, "Decision threshold".) The threshold lives in
the saved model as scikit-learn's ``FixedThresholdClassifier`` around the
pipeline's last step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ConfigError
from .metrics import Metric, clear_gain

# the label metrics a threshold can raise; precision and recall are left out, since each is
# maximised by a degenerate threshold (predict almost nothing positive, or everything)
TUNABLE_METRICS = ("accuracy", "balanced_accuracy", "f1", "f1_macro")


@dataclass
class ThresholdChoice:
    """A decision threshold and the out-of-fold scores that chose it.

    ``score`` is the metric of the out-of-fold probabilities cut at
    ``threshold``, ``default_score`` the same predictions as the model makes
    them (the larger probability wins); ``folds_better`` of ``n_folds``
    validation folds score better at the threshold.
    """

    threshold: float
    score: float
    default_score: float
    folds_better: int
    n_folds: int

    def worth_keeping(self, greater_is_better: bool = True, min_gain: float = 0.001) -> bool:
        """A pooled gain above ``min_gain`` (``clear_gain``). Unlike an ensemble's, no vote of
        the folds: a single cut learns less from noise than an ensemble's weights, and the
        folds' label metrics on a fifth of the rows each are too noisy to vote on it."""
        return clear_gain(self.score, self.default_score, greater_is_better, min_gain)

    def describe(self, metric: str) -> str:
        """``"0.3712: out-of-fold f1 0.6641 against 0.6500 at 0.5, better on 4 of 5 folds"``."""
        return (f"{self.threshold:.4g}: out-of-fold {metric} {self.score:.4f} against {self.default_score:.4f} "
                f"at 0.5, better on {self.folds_better} of {self.n_folds} fold{'s' if self.n_folds != 1 else ''}")


def check_decision_threshold(value) -> None:
    """Raise ConfigError unless ``value`` is ``"auto"``, None or a number strictly between 0 and 1."""
    if value is None or (isinstance(value, str) and value == "auto"):
        return
    if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and 0 < value < 1:
        return
    raise ConfigError(f"decision_threshold={value!r}: use 'auto' (chosen on the out-of-fold probabilities for "
                      f"{', '.join(TUNABLE_METRICS)}), a probability strictly between 0 and 1 (the positive "
                      "class is predicted where its probability is at least that), or None (0.5, the "
                      "model's own predict).", code="bad_decision_threshold")


def parse_decision_threshold(text: str):
    """``--decision-threshold``: ``"auto"``, ``"none"`` (None) or a probability between 0 and 1.

    Raises ValueError with what to give instead.
    """
    word = text.strip().lower()
    if word in ("auto", "none"):
        return None if word == "none" else "auto"
    try:
        value = float(word)
    except ValueError:
        value = None
    if value is None or not 0 < value < 1:
        raise ValueError(f"{text!r} is not auto, none or a probability strictly between 0 and 1")
    return value


def cut_scores(y: np.ndarray, positive_proba: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The metric (one of ``TUNABLE_METRICS``, or precision or recall) at every cut of ``positive_proba``.

    Returns ``(thresholds, scores)``: a threshold halfway between each two
    neighbouring distinct probabilities (so that rounding cannot move a row
    across it) and the metric of predicting positive where the probability is
    at least that threshold. ``y`` holds 0 and 1. Predicting every row
    positive is no cut, and is left out.
    """
    values, inverse = np.unique(positive_proba, return_inverse=True)
    positives_at = np.bincount(inverse, weights=(y == 1), minlength=len(values))
    negatives_at = np.bincount(inverse, weights=(y != 1), minlength=len(values))
    # from the highest probability down: the positives and negatives at or above each value
    tp = np.cumsum(positives_at[::-1])[::-1]
    fp = np.cumsum(negatives_at[::-1])[::-1]
    p, n = tp[0], fp[0]
    fn, tn = p - tp, n - fp
    thresholds = (values[1:] + values[:-1]) / 2
    tp, fp, fn, tn = tp[1:], fp[1:], fn[1:], tn[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "accuracy":
            scores = (tp + tn) / (p + n)
        elif metric == "balanced_accuracy":
            scores = (tp / p + tn / n) / 2
        elif metric == "precision":  # the top value is positive at every cut: tp + fp >= 1
            scores = tp / (tp + fp)
        elif metric == "recall":
            scores = tp / p
        elif metric in ("f1", "f1_macro"):
            f1_pos = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
            scores = f1_pos
            if metric == "f1_macro":
                scores = (f1_pos + np.nan_to_num(2 * tn / (2 * tn + fn + fp))) / 2
        else:
            raise ValueError(f"no threshold scores for the metric {metric!r}")
    return thresholds, scores


def choose_threshold(y: np.ndarray, oof: np.ndarray, metric: Metric, folds) -> ThresholdChoice | None:
    """The best cut of the out-of-fold probabilities, or None where there is nothing to cut.

    Parameters
    ----------
    y : ndarray
        Class codes (0 and 1), one per row of the training data.
    oof : ndarray of shape (n_rows, 2)
        Out-of-fold probabilities; NaN on rows no fold validated.
    metric : Metric
        One of ``TUNABLE_METRICS``.
    folds : list of (train, test) index arrays
        The search's validation folds, to count the folds the threshold wins.

    Returns
    -------
    ThresholdChoice or None
        None for probabilities of another shape, or a single class seen.
        Among cuts of equal score the one nearest 0.5 is chosen.
    """
    if oof.ndim != 2 or oof.shape[1] != 2 or metric.name not in TUNABLE_METRICS:
        return None
    rows = ~np.isnan(oof[:, 1])
    y_seen, proba = y[rows], oof[rows, 1]
    if len(np.unique(y_seen)) < 2:
        return None
    from .metrics import fold_scores, folds_won, score

    thresholds, scores = cut_scores(y_seen, proba, metric.name)
    if len(thresholds) == 0:
        return None
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    threshold = float(thresholds[best[np.argmin(np.abs(thresholds[best] - 0.5))]])
    default = score(metric, y_seen, predicted_codes(oof[rows]))
    tuned = score(metric, y_seen, predicted_codes(oof[rows], threshold))
    better, counted = folds_won(fold_scores(metric, y, oof, folds, "binary", 2, threshold),
                                fold_scores(metric, y, oof, folds, "binary", 2), metric.greater_is_better)
    return ThresholdChoice(threshold, tuned, default, better, counted)


def predicted_codes(proba, threshold: float | None = None) -> np.ndarray:
    """Class codes from ``(n, k)`` probabilities as the model predicts them: the most probable
    class, or with a ``threshold`` (binary) class 1 where its probability is at least that."""
    proba = np.asarray(proba)
    if threshold is None or proba.ndim != 2 or proba.shape[1] != 2:
        return proba.argmax(axis=1)
    return (proba[:, 1] >= threshold).astype(int)


def with_threshold(pipeline, threshold: float):
    """Put ``FixedThresholdClassifier(threshold=...)`` around the fitted ``pipeline``'s last step.

    The pipeline keeps its steps (and so its preprocessing, its card and its
    ONNX graph); its ``predict`` returns the positive class where the last
    step's probability is at least ``threshold``, and ``predict_proba`` is
    unchanged. Returns the same pipeline, changed in place.
    """
    from sklearn.model_selection import FixedThresholdClassifier

    name, last = pipeline.steps[-1]
    if isinstance(last, FixedThresholdClassifier):
        last = last.estimator
    wrapper = FixedThresholdClassifier(last, threshold=float(threshold), response_method="predict_proba")
    wrapper.estimator_ = last  # fitted already: scikit-learn's fitted check looks for estimator_
    pipeline.steps[-1] = (name, wrapper)
    return pipeline


def model_threshold(model) -> float | None:
    """The decision threshold inside a fitted model (a pipeline, or a result or loaded model
    holding one in ``best_pipeline_``), or None where it predicts at 0.5."""
    pipeline = getattr(model, "best_pipeline_", model)
    steps = getattr(pipeline, "steps", None)
    last = steps[-1][1] if steps else pipeline
    if type(last).__name__ == "FixedThresholdClassifier" and not isinstance(last.threshold, str):
        return float(last.threshold)
    return None
