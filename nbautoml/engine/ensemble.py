"""Greedy ensemble selection (Caruana et al., 2004) on out-of-fold predictions.

The search keeps the out-of-fold predictions of its best trials. Starting from
the best one, the selection repeatedly adds (with replacement) the trial whose
addition most improves the metric of the averaged predictions. The result is
a weight per trial; the final model averages the members' probabilities (or
values), each member refit on all the data.

For a metric of predicted labels of a multiclass task (accuracy, macro F1, ...)
the steps minimise the log loss of the averaged probabilities instead: such a
metric moves by whole rows, so on small data a greedy step may follow a row or
two of noise (glass, 160 training rows: ensembles of two forests kept for their
out-of-fold rows scored 41 of 54 test rows where the forest alone scored 44).
Whether the ensemble is kept is still decided on the metric
(:meth:`EnsembleChoice.worth_keeping`). Binary tasks keep the metric: there the
log loss steps kept fewer ensembles and lost held-out accuracy
(``benchmarks/FINDINGS.md``, Ensembles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import Metric, clear_gain, fold_scores, folds_won, score


@dataclass
class EnsembleChoice:
    """Members (trial id -> weight), the ensemble's OOF score and its starting trial's.

    ``folds_better`` counts the validation folds on which the ensemble's
    out-of-fold predictions score better than the single pipeline's (of
    ``n_folds``; None when not computed).
    """

    weights: dict[int, int]
    score: float
    single_score: float
    folds_better: int | None = None
    n_folds: int | None = None

    @property
    def consistent(self) -> bool:
        """True when the ensemble is better on most folds (or the folds were not counted)."""
        return self.folds_better is None or 2 * self.folds_better > self.n_folds

    @property
    def size(self) -> int:
        return len(self.weights)

    def worth_keeping(self, greater_is_better: bool, min_gain: float = 0.001) -> bool:
        """The ``ensemble="auto"`` rule: two or more members that beat the starting trial by
        more than ``min_gain`` pooled (``metrics.clear_gain``) and on most folds (a pooled gain
        carried by a few rows of a minority of folds is noise)."""
        return (self.size >= 2 and clear_gain(self.score, self.single_score, greater_is_better, min_gain)
                and self.consistent)


def candidate_pool(ranked: list[int], family_of: dict[int, str], best_id: int, keep: int,
                   per_family: bool = True) -> set[int]:
    """The trials an ensemble may draw on: the ``keep`` best, the chosen one and (with
    ``per_family``) the best of each model family among ``ranked`` (kept trial ids, best
    first), so that a search whose top trials are all one family can still mix in another."""
    pool = set(ranked[:keep]) | {best_id}
    if per_family:
        pool |= set(family_bests(ranked, family_of).values())
    return pool


MEMBER_REFIT_MARGIN = 1.2  # on an ensemble member's estimated refit time


def member_refit_time(trial, refit_factor: float) -> float:
    """Estimated seconds to refit a trial's pipeline on all the rows as an ensemble member:
    its summed fold fit time times ``refit_factor``, with a margin of ``MEMBER_REFIT_MARGIN``.
    The search keeps time by it near the end and the final choice drops members by it."""
    return (trial.fit_time or 0.0) * refit_factor * MEMBER_REFIT_MARGIN


def family_bests(ranked: list[int], family_of: dict[int, str]) -> dict[str, int]:
    """Model family -> its best trial among ``ranked`` (trial ids, best first), families in
    the order of their best trials."""
    firsts: dict[str, int] = {}
    for tid in ranked:
        if tid in family_of:
            firsts.setdefault(family_of[tid], tid)
    return firsts


def likely_members(ranked: list[int], family_of: dict[int, str], best_id: int, n: int) -> list[int]:
    """The ``n`` trials an ensemble most likely adds to ``best_id``, to keep time for their
    refit: the best kept trial of each other model family, best first (a mix of families
    is what an ensemble gains from), then the next best trials if families run out."""
    best_family = family_of.get(best_id)
    chosen = [tid for family, tid in family_bests(ranked, family_of).items() if family != best_family][:n]
    chosen += [tid for tid in ranked if tid != best_id and tid in family_of and tid not in chosen][:n - len(chosen)]
    return chosen


def _averageable(oof: np.ndarray, task: str, n_classes: int) -> bool:
    if task == "regression":
        return oof.ndim == 1
    return oof.ndim == 2 and oof.shape[1] == n_classes and np.nanmax(oof) <= 1.0 + 1e-9 and np.nanmin(oof) >= -1e-9


def _score(metric: Metric, y, prediction, task: str, n_classes: int) -> float:
    if task != "regression" and metric.needs == "label":
        prediction = prediction.argmax(axis=1)
    return score(metric, y, prediction, n_classes)


def class_log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log of the probability given to each row's class (``y``: class codes)."""
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-15, 1.0))))


def selection_loss(metric: Metric, task: str, n_classes: int):
    """What the greedy steps minimise, as ``loss(y, averaged_prediction)``: the log loss of the
    probabilities for a label metric of a multiclass task, else the metric itself (negated
    when greater is better)."""
    if task == "multiclass" and metric.needs == "label":
        return lambda y, prediction: class_log_loss(y.astype(int), prediction)
    sign = -1.0 if metric.greater_is_better else 1.0
    return lambda y, prediction: sign * _score(metric, y, prediction, task, n_classes)


def select_ensemble(candidates: dict[int, np.ndarray], best_id: int, y: np.ndarray, metric: Metric,
                    task: str, n_classes: int, rounds: int = 25, folds=None, loss=None) -> EnsembleChoice | None:
    """Choose ensemble weights greedily on out-of-fold predictions.

    Parameters
    ----------
    candidates : dict
        Trial id -> out-of-fold predictions (probabilities for classification;
        NaN rows are those never used for validation).
    best_id : int
        The single trial the selection starts from: the one ``choose_trial``
        chose (the best, or a default point tied with it).
    y : ndarray
        Encoded targets.
    rounds : int
        Additions (with replacement) after the first member.
    folds : list of (train, test) index arrays, optional
        The search's validation folds; when given, the choice counts the folds
        on which the ensemble beats the starting trial (``folds_better``).
    loss : callable, optional
        ``loss(y, averaged_prediction)`` the steps minimise (default:
        :func:`selection_loss`; ``benchmarks/ensemble_rules.py`` compares others).

    Returns
    -------
    EnsembleChoice or None
        None when fewer than two candidates can be averaged.
    """
    usable = {tid: oof for tid, oof in candidates.items() if _averageable(oof, task, n_classes)}
    if best_id not in usable or len(usable) < 2:
        return None
    rows = np.ones(len(y), dtype=bool)
    for oof in usable.values():
        rows &= ~np.isnan(oof if oof.ndim == 1 else oof[:, 0])
    if rows.sum() < 10:
        return None
    preds = {tid: oof[rows] for tid, oof in usable.items()}
    target = y[rows]
    loss = loss or selection_loss(metric, task, n_classes)
    total = preds[best_id].copy()
    weights = {best_id: 1}
    current = loss(target, total)
    for step in range(2, rounds + 2):
        best_loss, best_tid, best_total = current, None, None
        for tid, pred in preds.items():
            candidate = total + pred
            value = loss(target, candidate / step)
            if value < best_loss - 1e-12:
                best_loss, best_tid, best_total = value, tid, candidate
        if best_tid is None:
            break
        total, current = best_total, best_loss
        weights[best_tid] = weights.get(best_tid, 0) + 1
    ensemble_score = _score(metric, target, total / sum(weights.values()), task, n_classes)
    single_score = _score(metric, target, preds[best_id], task, n_classes)
    choice = EnsembleChoice(weights=weights, score=ensemble_score, single_score=single_score)
    if folds is not None and len(weights) > 1:
        average = sum(w * usable[tid] for tid, w in weights.items()) / sum(weights.values())
        choice.folds_better, choice.n_folds = folds_better(average, usable[best_id], y, folds, metric,
                                                            task, n_classes)
    return choice


def folds_better(ensemble: np.ndarray, single: np.ndarray, y: np.ndarray, folds, metric: Metric, task: str,
                 n_classes: int) -> tuple[int, int]:
    """On how many folds the ensemble's out-of-fold predictions beat the single trial's, and of
    how many (both hold NaN on the same rows; folds without validated rows are not counted)."""
    return folds_won(fold_scores(metric, y, ensemble, folds, task, n_classes),
                     fold_scores(metric, y, single, folds, task, n_classes), metric.greater_is_better)


def build_ensemble(members: list[tuple[str, object, int]], task: str):
    """The unfitted ensemble: a Pipeline with one soft-voting step.

    ``members`` are ``(name, unfitted pipeline, weight)``.
    """
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.pipeline import Pipeline

    estimators = [(name, pipeline) for name, pipeline, _ in members]
    weights = [weight for _, _, weight in members]
    if task == "regression":
        voter = VotingRegressor(estimators, weights=weights)
    else:
        voter = VotingClassifier(estimators, voting="soft", weights=weights)
    return Pipeline([("ensemble", voter)])


def member_descriptions(weights: dict[int, int], configs: dict[int, dict]) -> list[str]:
    """``"trial 4 ridge(...)"`` for each member, in the ensemble's order."""
    from .space import describe

    return [f"trial {tid} {describe(configs[tid])}" for tid in weights]


def describe_ensemble(weights: dict[int, int], configs: dict[int, dict]) -> str:
    """A one-line summary: ``"ensemble of 3 (weights 2/1/1): trial 4 ridge(...) + ..."``."""
    parts = member_descriptions(weights, configs)
    shares = "/".join(str(w) for w in weights.values())
    return f"ensemble of {len(weights)} (weights {shares}): " + " + ".join(parts)


def describe_model(result) -> str:
    """What a fitted search's model is: the ensemble's summary, or the best pipeline's."""
    from .space import describe

    choice = getattr(result, "ensemble_", None)
    if choice is not None:
        configs = {t.trial_id: t.config for t in result.trials_ if t.trial_id in choice.weights}
        return describe_ensemble(choice.weights, configs)
    return describe(result.best_config_)


def model_trials(result) -> dict[int, int]:
    """The trials the model is made of, as trial id -> weight: an ensemble's members, or the
    refitted trial alone ({} before a model exists)."""
    choice = getattr(result, "ensemble_", None)
    if choice is not None:
        return dict(choice.weights)
    best = getattr(result, "best_trial_", None)
    return {} if best is None else {best.trial_id: 1}


def model_kind(result) -> str:
    """A short name for sentences: ``"ensemble of 3"`` or the best pipeline's family."""
    choice = getattr(result, "ensemble_", None)
    if choice is not None:
        return f"ensemble of {choice.size}"
    return str(result.best_config_["family"])
