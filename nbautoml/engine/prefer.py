"""Choosing the pipeline to refit among the near-best ones.

``choose_trial`` is a pure function of the trial records. With
``prefer="accurate"`` it takes the best CV score, unless a default point (a
config fixed before the search, not picked from many tuned ones) is tied with
it by the paired test; then it takes that default point, because the best of
many noisy CV scores is biased upwards and the default's is not (on small data
the search's winner often does worse on new rows than a default it barely
beat). With ``prefer="fast"`` or ``"small"`` it keeps every pipeline within a
tolerance of the best (by default one standard error of the best's fold
scores) and picks the one with the lowest prediction latency or the smallest
model. ``pareto_front`` and ``pareto_info`` give the data of a
score-against-cost plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, unknown_choice
from .leaderboard import paired_p_value
from .records import TrialRecord

PREFERENCES = ("accurate", "fast", "small")
# prefer -> (TrialRecord attribute, what a lower value means, axis label)
_COST = {
    "fast": ("predict_time", "faster predictions", "prediction latency (ms per 1,000 rows)"),
    "small": ("model_size", "smaller model", "model size (KB, pickled)"),
}
_AXIS = {"latency": "fast", "size": "small"}


@dataclass
class Preference:
    """The outcome of :func:`choose_trial`.

    Attributes
    ----------
    prefer : str
    chosen : TrialRecord
        The trial to refit.
    best : TrialRecord
        The trial with the best CV score (the same as ``chosen`` for "accurate").
    tolerance : float
        How far below the best score (in the metric's units) a trial may be.
    tolerance_text : str
        Where the tolerance comes from ("1 SE of the best's 5 fold scores").
    candidates : list of int
        Trial ids within the tolerance.
    note : str
        One sentence saying what was chosen and what it traded.
    """

    prefer: str
    chosen: TrialRecord
    best: TrialRecord
    tolerance: float
    tolerance_text: str
    candidates: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def traded(self) -> bool:
        """True when the chosen trial is not the best-scoring one."""
        return self.chosen.trial_id != self.best.trial_id


def standard_error(fold_scores) -> float:
    """Standard error of the mean of fold scores (0 for fewer than two folds)."""
    scores = np.asarray(fold_scores, dtype=float)
    if len(scores) < 2:
        return 0.0
    return float(scores.std(ddof=1) / np.sqrt(len(scores)))


def check_preference(prefer, tolerance) -> None:
    """Raise ConfigError for an unknown ``prefer`` or a bad ``prefer_tolerance``."""
    if prefer not in PREFERENCES:
        raise unknown_choice("preference", prefer, PREFERENCES, code="bad_option")
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                                  or not np.isfinite(tolerance) or tolerance < 0):
        raise ConfigError(
            f"The 'prefer_tolerance' parameter of AutoML must be a number >= 0 or None (1 standard "
            f"error of the best's fold scores). Got {tolerance!r} instead.", code="bad_option")


def choose_trial(trials: list[TrialRecord], prefer: str = "accurate", greater_is_better: bool = True,
                 tolerance: float | None = None, metric: str = "score",
                 test_fraction: float | None = None, alpha: float = 0.05) -> Preference | None:
    """Choose the trial to refit: the best, a default point tied with it, or the fastest / smallest close to it.

    Parameters
    ----------
    trials : list of TrialRecord
        Failed trials are ignored.
    prefer : {"accurate", "fast", "small"}, default="accurate"
        "fast": the lowest ``predict_time`` among the trials within ``tolerance``
        of the best score; "small": the smallest ``model_size``; "accurate":
        the best score, or the best-scoring default point (``source ==
        "default"``) when the paired test finds it tied with the best.
    greater_is_better : bool, default=True
    tolerance : float, optional
        In the metric's units. Default: one standard error of the best trial's
        fold scores (the "one standard error rule").
    metric : str, default="score"
        The metric's name, for the note.
    test_fraction : float, optional
        n_test / n_train of a fold, for the paired test of "accurate" (see
        :func:`~nbautoml.engine.leaderboard.paired_p_value`). None: no test,
        "accurate" keeps the best score.
    alpha : float, default=0.05
        The paired test's level: a default point with ``p >= alpha`` is tied.

    Returns
    -------
    Preference or None
        None when no trial succeeded.

    Examples
    --------
    >>> a = TrialRecord(0, {"family": "hist_gradient_boosting"}, "ok", 0.875,
    ...                 fold_scores=[0.86, 0.88, 0.885], predict_time=0.041)
    >>> b = TrialRecord(1, {"family": "extra_trees"}, "ok", 0.8712,
    ...                 fold_scores=[0.87, 0.87, 0.8736], predict_time=0.003)
    >>> choose_trial([a, b], "fast", metric="roc_auc").chosen.family
    'extra_trees'
    """
    check_preference(prefer, tolerance)
    ok = [t for t in trials if t.status == "ok" and t.score is not None and np.isfinite(t.score)]
    if not ok:
        return None
    sign = 1.0 if greater_is_better else -1.0
    best = min(ok, key=lambda t: (-sign * t.score, t.trial_id))
    if tolerance is None:
        tol = standard_error(best.fold_scores)
        tol_text = f"1 SE of the best's {len(best.fold_scores)} fold scores"
    else:
        tol, tol_text = float(tolerance), f"prefer_tolerance={tolerance:g}"
    close = [t for t in ok if sign * (best.score - t.score) <= tol + 1e-12]
    if prefer == "accurate":
        return _prefer_default(ok, best, sign, tol, tol_text, close, metric, test_fraction, alpha)
    attr, gain, _ = _COST[prefer]
    priced = [t for t in close if getattr(t, attr) is not None]
    if not priced:
        note = (f"kept {_name(best)} ({best.score:.4f}): no {attr} was measured, so "
                f"prefer={prefer!r} could not compare")
        return Preference(prefer, best, best, tol, tol_text, [t.trial_id for t in close], note)
    chosen = min(priced, key=lambda t: (getattr(t, attr), -sign * t.score, t.trial_id))
    if getattr(best, attr) is not None and getattr(best, attr) <= getattr(chosen, attr):
        chosen = best
    n_close = len(close)
    if chosen is best:
        note = (f"kept {_name(best)} ({best.score:.4f}, {_cost_text(best, prefer)}): the best CV "
                f"{metric} and already the {'fastest' if prefer == 'fast' else 'smallest'} of the "
                f"{n_close} pipeline{'s' if n_close != 1 else ''} within {tol_text} ({tol:.4f})")
    else:
        delta = chosen.score - best.score
        cost_best, cost_chosen = getattr(best, attr), getattr(chosen, attr)
        if cost_best is None:
            ratio = f"{gain} ({_cost_text(chosen, prefer)}; the best's was not measured)"
        else:
            ratio = f"{cost_best / max(cost_chosen, 1e-12):.3g}× {gain}"
        same = chosen.family == best.family
        delta_text = f"{delta:+.4f}".replace("-", "\u2212")  # a typographic minus sign
        note = (f"chose {_name(chosen, same)} ({chosen.score:.4f}, {_cost_text(chosen, prefer)}) over "
                f"{_name(best, same)} ({best.score:.4f}, {_cost_text(best, prefer)}): "
                f"{delta_text} {metric} for {ratio} (within {tol_text} = {tol:.4f})")
    return Preference(prefer, chosen, best, tol, tol_text, [t.trial_id for t in close], note)


def _prefer_default(ok, best, sign, tol, tol_text, close, metric, test_fraction, alpha) -> Preference:
    """prefer="accurate": the best trial, or the best default point the paired test ties with it."""
    tied = []
    if test_fraction is not None and best.source != "default":
        for t in ok:
            if t.source == "default" and len(t.fold_scores) == len(best.fold_scores):
                p = paired_p_value(best.fold_scores, t.fold_scores, test_fraction)
                if p >= alpha:  # NaN (one fold) is never tied
                    tied.append((t, p))
    candidates = [t.trial_id for t in close]
    if not tied:
        note = f"kept the best CV {metric}: {_name(best)} ({best.score:.4f}) (prefer='accurate')"
        return Preference("accurate", best, best, tol, tol_text, candidates, note)
    chosen, p = min(tied, key=lambda tp: (-sign * tp[0].score, tp[0].trial_id))
    n_tuned = sum(t.source != "default" for t in ok)
    note = (f"chose {_name(chosen, True)} (default settings, {chosen.score:.4f}) over "
            f"{_name(best, True)} ({best.score:.4f}), the best CV {metric}: the paired test finds no "
            f"difference (p = {p:.2f}), and the best of {n_tuned} tuned scores is biased upwards "
            f"while a default's is not")
    return Preference("accurate", chosen, best, tol, tol_text, candidates, note)


def _name(t: TrialRecord, with_trial: bool = False) -> str:
    return f"{t.family} #{t.trial_id}" if with_trial else t.family


def _cost_text(t: TrialRecord, prefer: str) -> str:
    if prefer == "fast":
        return "latency n/a" if t.predict_time is None else f"{1000 * t.predict_time:.3g} ms/1k rows"
    return "size n/a" if t.model_size is None else format_bytes(t.model_size)


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KB'."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} GB"


def pareto_front(cost, score, greater_is_better: bool = True) -> np.ndarray:
    """Which points no other point beats on both cost (lower) and score.

    A point is dominated when another has a cost no higher and a score no
    worse, one of them strictly. Returns a boolean mask.

    Examples
    --------
    >>> pareto_front([1, 2, 3, 2.5], [0.80, 0.85, 0.86, 0.84]).tolist()
    [True, True, True, False]
    """
    cost = np.asarray(cost, dtype=float)
    score = np.asarray(score, dtype=float) * (1.0 if greater_is_better else -1.0)
    c_le = cost[None, :] <= cost[:, None]  # [i, j]: j costs no more than i
    s_ge = score[None, :] >= score[:, None]
    strict = (cost[None, :] < cost[:, None]) | (score[None, :] > score[:, None])
    return ~np.any(c_le & s_ge & strict, axis=1)


def pareto_info(trials: list[TrialRecord], x: str = "latency", greater_is_better: bool = True,
                chosen: int | None = None, best: int | None = None) -> pd.DataFrame:
    """The data of a score-against-cost plot.

    Parameters
    ----------
    trials : list of TrialRecord
    x : {"latency", "size"}
        Prediction latency (ms per 1,000 rows) or pickled model size (KB).
    greater_is_better : bool
    chosen, best : int, optional
        Trial ids of the refitted and of the best-scoring trial.

    Returns
    -------
    DataFrame
        One row per successful trial with a measured cost: ``trial``,
        ``model``, ``cost``, ``score``, ``score_std``, ``on_front``,
        ``chosen``, ``best``; sorted by cost. ``attrs["xlabel"]`` names the cost.
    """
    if x not in _AXIS:
        raise unknown_choice("x axis", x, list(_AXIS), code="bad_option")
    attr, _, label = _COST[_AXIS[x]]
    scale = 1000.0 if x == "latency" else 1 / 1024
    rows = [
        {"trial": t.trial_id, "model": t.family, "cost": getattr(t, attr) * scale, "score": t.score,
         "score_std": t.score_std, "chosen": t.trial_id == chosen, "best": t.trial_id == best}
        for t in trials
        if t.status == "ok" and t.score is not None and getattr(t, attr) is not None
    ]
    columns = ["trial", "model", "cost", "score", "score_std", "on_front", "chosen", "best"]
    frame = pd.DataFrame(rows, columns=[c for c in columns if c != "on_front"])
    frame["on_front"] = pareto_front(frame["cost"], frame["score"], greater_is_better) if rows else []
    frame = frame[columns].sort_values(["cost", "trial"]).reset_index(drop=True)
    frame.attrs["xlabel"] = label
    return frame
