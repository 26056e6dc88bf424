"""The shuffled-target check: the same search on a target with no link to the features.

With the target's values shuffled across the rows, nothing in the features can
predict it, so the best CV score such a search finds should sit at chance: the
score of a model that ignores the features (the class priors, or the mean), on
the same folds. How far it lands above chance is what picking the best of many
noisy CV scores adds by luck alone; far above chance means the validation rows'
targets reach the model some other way (a custom ``space=`` step fitted on all
rows, an estimator that keeps state between fits). ``nbautoml``'s own pipelines
fit every step inside the folds, so the check shows that too.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import NotFittedError

# the check fails when the shuffled search's best is above chance by more than this (bounded
# metrics: AUC, accuracy, R²...; for rmse, mae, mape and log_loss this share of the chance
# error) and by more than FOLD_SDS standard deviations of its fold scores: the best of many
# trials on noise lands above chance by luck (titanic, 20 trials: AUC 0.548 against 0.500,
# fold scores 0.03 apart), a leak lands far above it
TOLERANCE = 0.05
FOLD_SDS = 3.0


@dataclass
class SanityCheck:
    """What :func:`sanity_check` found.

    Attributes
    ----------
    metric : str
    greater_is_better : bool
    score : float
        The best CV score of the search on the real target.
    shuffled_score : float
        The best CV score of the same search on the shuffled target.
    shuffled_std : float
        The standard deviation of that trial's fold scores.
    chance_score : float
        A model that ignores the features (class priors or the mean), on the same folds.
    n_trials : int
        The successful trials of the search on the shuffled target.
    validation : str
    passed : bool
        True when ``shuffled_score`` is within :data:`TOLERANCE` of chance, or within
        :data:`FOLD_SDS` standard deviations of its fold scores.
    summary : str
    """

    metric: str
    greater_is_better: bool
    score: float
    shuffled_score: float
    shuffled_std: float
    chance_score: float
    n_trials: int
    validation: str
    passed: bool
    summary: str

    @property
    def gain_over_chance(self) -> float:
        """How much better than chance the shuffled search scored, in the metric's units."""
        sign = 1.0 if self.greater_is_better else -1.0
        return sign * (self.shuffled_score - self.chance_score)

    def __repr__(self) -> str:
        rows = [("real target", self.score), ("shuffled target", self.shuffled_score),
                ("chance (features ignored)", self.chance_score)]
        lines = [f"SanityCheck: {'passed' if self.passed else 'FAILED'} ({self.metric}, {self.validation})"]
        lines += [f"  {name:<27}{value:.4f}" for name, value in rows]
        return "\n".join(lines + ["", self.summary])

    def _repr_html_(self) -> str:
        from .render.html import sanity_html

        return sanity_html(self)


def sanity_check(result, *, time_budget=None, max_evals=None, seed: int = 0) -> SanityCheck:
    """Run the search of ``result`` again on its training rows with the target shuffled.

    Parameters
    ----------
    result : AutoML
        A fitted search of this session (it keeps its training rows).
    time_budget, max_evals : optional
        The budget of the search on the shuffled target; by default the
        search's own (``time_budget`` and ``max_evals`` as given to it).
    seed : int, default=0
        Seeds the shuffle.

    Returns
    -------
    SanityCheck

    Examples
    --------
    >>> check = result.sanity_check(max_evals=20)  # doctest: +SKIP
    >>> check.passed, round(check.shuffled_score, 2)  # doctest: +SKIP
    (True, 0.52)
    """
    from sklearn.base import clone

    from .engine.metrics import get_metric

    X, y = getattr(result, "_X", None), getattr(result, "_y", None)
    if X is None or y is None or getattr(result, "validation_", None) is None:
        raise NotFittedError("sanity_check() needs a search fitted in this session (it reruns the search "
                             "on the training rows, which a loaded model does not keep).")
    metric = get_metric(result.metric_, result.task_)
    folds = result.validation_.folds
    shuffled = pd.Series(np.random.default_rng(seed).permutation(y.to_numpy()), index=y.index, name=y.name)
    params = {"time_budget": result.time_budget if time_budget is None and max_evals is None else time_budget,
              "max_evals": result.max_evals if time_budget is None and max_evals is None else max_evals}
    roles = {name: role for name, role in (result.roles or {}).items() if name in X.columns} or None
    with tempfile.TemporaryDirectory(prefix="nbautoml-sanity-") as directory:
        search = clone(result).set_params(
            **params, cv=_Folds(folds), roles=roles, task=result.task_, metric=metric.name,
            search_dir=directory, name=None, resume=None, callbacks=None)
        search.fit(X, shuffled)
    ok = [t for t in search.trials_ if t.status == "ok" and t.score is not None and np.isfinite(t.score)]
    best = max(ok, key=lambda t: t.score if metric.greater_is_better else -t.score)
    chance = chance_score(metric, result.task_, shuffled, folds)
    n_ok = len(ok)
    check = SanityCheck(metric.name, metric.greater_is_better, float(result.best_score_), float(best.score),
                        float(np.std(best.fold_scores, ddof=1)) if len(best.fold_scores) > 1 else math.nan,
                        chance, n_ok,
                        result.validation_.description, False, "")
    check.passed = _within_chance(check)
    check.summary = _summary(check)
    return check


class _Folds:
    """The folds of a search as a splitter, so the shuffled search scores the same rows."""

    def __init__(self, folds):
        self.folds = folds

    def split(self, X=None, y=None, groups=None):
        yield from self.folds

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return len(self.folds)


def chance_score(metric, task: str, y: pd.Series, folds) -> float:
    """The mean fold score of a model that ignores the features: the training fold's class
    shares (its majority class for label metrics), or its mean for regression."""
    from .engine.metrics import score

    values = y.to_numpy()
    if task == "regression":
        values = values.astype(float)
        scores = [score(metric, values[test], np.full(len(test), values[train].mean())) for train, test in folds]
        return float(np.mean(scores))
    classes = np.unique(values)
    codes = np.searchsorted(classes, values)
    scores = []
    for train, test in folds:
        shares = np.bincount(codes[train], minlength=len(classes)) / len(train)
        if metric.needs == "label":
            prediction = np.full(len(test), int(np.argmax(shares)))
        else:
            prediction = np.tile(shares, (len(test), 1))
        scores.append(score(metric, codes[test], prediction, len(classes)))
    return float(np.nanmean(scores))


def _within_chance(check: SanityCheck) -> bool:
    tolerance = TOLERANCE if check.greater_is_better else TOLERANCE * abs(check.chance_score)
    spread = FOLD_SDS * check.shuffled_std if np.isfinite(check.shuffled_std) else 0.0
    return check.gain_over_chance <= max(tolerance, spread)


def _summary(check: SanityCheck) -> str:
    m = check.metric
    shuffled = (f"On the shuffled target the same search's best CV {m} is {check.shuffled_score:.4f} over "
                f"{check.n_trials} trials; a model that ignores the features scores {check.chance_score:.4f}.")
    if check.passed:
        luck = (f"Picking the best of {check.n_trials} noisy scores added {check.gain_over_chance:.4f} by "
                "chance alone."
                if check.gain_over_chance > 0 else f"Even the best of {check.n_trials} trials did not beat chance.")
        return (f"{shuffled} The search finds no signal where there is none: its {check.score:.4f} on the "
                "real target comes from the features, not from the validation rows' targets reaching the "
                f"model. {luck}")
    return (f"{shuffled} That is well above chance, so the validation rows' targets reach the model another "
            "way: a custom space= step or estimator fitted on all rows or keeping state between fits, or "
            "folds that share rows. Do not trust the leaderboard until this passes.")
