"""Close the loop: retrain a registered model, compare champion and challenger, promote or keep.

:func:`retrain` runs a new search warm-started from the production model's
(the *champion*'s) best configurations, on data the user chooses, then
compares the champion and the new model (the *challenger*) on the same recent
labelled rows, held out from the challenger's training. The challenger is
always registered as a new version; it becomes the production version only
when

1. it is significantly better on the held-out rows (one-sided paired
   bootstrap, level ``alpha``), or
2. the champion fails monitoring on those rows (status "alert") while the
   challenger passes (no alert) and is not significantly worse.

Otherwise the champion stays. Either way the decision and its reason are
appended to the registry's ``stage_events`` (stage "production" when promoted,
"challenger" otherwise) and the comparison is kept in the challenger's card
(``card["retrain"]``). The promotion is a compare-and-set: if another process
moved production while this one was retraining, nothing is promoted and the
record says so.

:func:`promote` and :func:`rollback` move the production tag by hand, also
with a recorded reason; ``Registry.history(name)`` lists every change.

Where the data comes from: an artifact keeps only a fingerprint of its
training data, so the old data is what you pass as ``old_data`` (nothing is
stored in the registry). ``new_data`` can be one frame or a list of batches,
oldest first; its newest rows are the held-out comparison set.
"""

from __future__ import annotations

import html
import math
import sys
import time
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .exceptions import ConfigError, DataError
from .policy import DATA_MODES, RetrainPolicy
from .registry import Registry, RegistryError, parse_ref

DEFAULT_DATA = "window"
PRODUCTION = "production"
CHALLENGER = "challenger"
MIN_HOLDOUT_ROWS = 30
_COLORS = {"promoted": "#2e7d32", "kept": "#1565c0", "not promoted": "#ef6c00"}


# --------------------------------------------------------------------------- result


@dataclass
class RetrainResult:
    """What :func:`retrain` did: the champion/challenger comparison and the decision.

    Attributes
    ----------
    name : str
    champion_version, challenger_version : int
    promoted : bool
        Whether the challenger is now the production version.
    decision : {"promoted", "kept", "not promoted"}
        "not promoted": it qualified, but production moved meanwhile.
    reason : str
        Why, as recorded in the registry.
    metric : str
    greater_is_better : bool
    champion_score, challenger_score : float
        The metric on the held-out rows.
    difference : float
        Challenger minus champion, signed so that > 0 means the challenger is better.
    ci_low, ci_high : float
        95 % paired-bootstrap interval of ``difference``.
    p_value : float
        One-sided paired-bootstrap p-value of "the challenger is not better".
    p_worse : float
        The same for "the challenger is not worse".
    alpha : float
    champion_status, challenger_status : str or None
        Monitoring status ("ok", "warn", "alert") of each model on the held-out rows.
    champion_alerts : list of str
        The champion's alert findings on those rows.
    data, window : str, int or None
        The training-data mode and window (rows).
    n_train, n_holdout : int
        The challenger's training rows and the held-out rows.
    champion_rows : int or None
        The champion's training rows (from its card).
    champion_cv, challenger_cv : float
        Their cross-validated scores (each on its own training data).
    comparison : str
        How the models were compared.
    challenger : AutoML
        The fitted challenger search.
    champion_report, challenger_report : MonitorReport or None
    elapsed : float
        Seconds.
    """

    name: str
    champion_version: int
    challenger_version: int
    promoted: bool
    decision: str
    reason: str
    metric: str
    greater_is_better: bool
    champion_score: float
    challenger_score: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    p_worse: float
    alpha: float
    champion_status: str | None
    challenger_status: str | None
    champion_alerts: list = field(default_factory=list)
    data: str = DEFAULT_DATA
    window: int | None = None
    n_train: int = 0
    n_holdout: int = 0
    champion_rows: int | None = None
    champion_cv: float = float("nan")
    challenger_cv: float = float("nan")
    comparison: str = ""
    policy: dict | None = field(default=None, repr=False)
    challenger: object = field(default=None, repr=False)
    champion_report: object = field(default=None, repr=False)
    challenger_report: object = field(default=None, repr=False)
    elapsed: float = 0.0

    @property
    def production_version(self) -> int:
        """The version in production after this retrain (as far as this retrain knows)."""
        return self.challenger_version if self.promoted else self.champion_version

    def _rows(self) -> list[tuple[str, str, str]]:
        arrow = "higher" if self.greater_is_better else "lower"
        data = f"data={self.data!r}" + (f" of up to {self.window:,} rows" if self.data == "window"
                                          and self.window else "")
        data += ", the default" if self.data == DEFAULT_DATA else ""
        return [
            (f"{self.metric} on {self.n_holdout:,} held-out rows ({arrow} is better)",
             _f(self.champion_score), _f(self.challenger_score)),
            ("Monitoring on those rows", str(self.champion_status), str(self.challenger_status)),
            ("CV score (own training data)", _f(self.champion_cv), _f(self.challenger_cv)),
            ("Training data", "earlier" if self.champion_rows is None else f"{self.champion_rows:,} rows",
             f"{self.n_train:,} rows ({data})"),
        ]

    def __repr__(self) -> str:
        head = (f"RetrainResult: {self.decision.upper()} {self.name} v{self.challenger_version} "
                f"(challenger) vs v{self.champion_version} (champion)")
        lines = [head]
        for label, champion, challenger in self._rows():
            lines.append(f"  {label}: champion {champion}, challenger {challenger}")
        lines.append(f"  difference {self.difference:+.4f} (95% CI {self.ci_low:+.4f} to "
                     f"{self.ci_high:+.4f}), {_p(self.p_value)} (one-sided, alpha {self.alpha:g})")
        lines.append(f"  reason: {self.reason}")
        lines.append(f"  production: v{self.production_version}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        color = _COLORS.get(self.decision, "#555")
        rows = "".join(
            f"<tr><th style='text-align:left'>{esc(label)}</th><td>{esc(a)}</td><td>{esc(b)}</td></tr>"
            for label, a, b in self._rows())
        return (
            "<div class='nbautoml-retrain'>"
            f"<p><span style='background:{color};color:white;padding:2px 8px;border-radius:3px;"
            f"font-weight:bold'>{esc(self.decision.upper())}</span> <b>{esc(self.name)}</b>: "
            f"challenger v{self.challenger_version} vs champion v{self.champion_version}; "
            f"production is now v{self.production_version}</p>"
            "<table><thead><tr><th></th><th>champion v" + str(self.champion_version)
            + "</th><th>challenger v" + str(self.challenger_version) + "</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            f"<p>Difference {self.difference:+.4f} (95% CI {self.ci_low:+.4f} to {self.ci_high:+.4f}); "
            f"{esc(_p(self.p_value))} (one-sided, alpha {self.alpha:g}); {esc(self.comparison)}</p>"
            f"<p><b>Reason</b>: {esc(self.reason)}</p></div>")


def _f(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def _p(p: float, name: str = "p") -> str:
    """``"p = 0.012"``, ``"p < 0.001"`` or ``"p n/a"``."""
    if p is None or p != p:
        return f"{name} n/a"
    return f"{name} < 0.001" if p < 0.001 else f"{name} = {p:.3f}"


# --------------------------------------------------------------------------- data


def _frame(data, what: str, text_columns=()):
    """One DataFrame from a frame, a path (its ``text_columns`` read as text), or a list of them
    (oldest first)."""
    import pandas as pd

    from .engine.frames import as_pandas
    from .engine.reading import read_table

    if data is None:
        return None
    parts = data if isinstance(data, (list, tuple)) else [data]
    if not parts:
        raise DataError(f"{what} is an empty list; pass a DataFrame or a list of batches.",
                        code="no_data")
    frames = []
    for part in parts:
        if isinstance(part, (str, Path)):
            part = read_table(part, text_columns=text_columns)
        part = as_pandas(part)
        if not isinstance(part, pd.DataFrame):
            raise DataError(f"{what} must be a DataFrame, a data file (CSV, Parquet, JSON, Excel, ...), or a list of them; got "
                            f"{type(part).__name__}.", code="bad_data")
        frames.append(part)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def split_data(new, old, target: str, data: str, window: int | None, holdout: float):
    """``(train, held_out, window)``: the challenger's training rows and the comparison rows.

    The newest ``holdout`` share of the labelled new rows (the last rows, taken
    as time-ordered) is held out. The rest of the new rows train the challenger
    ("new"), with the old rows before them ("old+new"), or only the most recent
    ``window`` rows of old followed by new ("window").
    """
    import pandas as pd

    if target not in new.columns:
        from .exceptions import closest

        hint = closest(target, new.columns)
        raise DataError(f"The new data has no target column {target!r}"
                        + (f" (did you mean {hint[0]!r}?)" if hint else "")
                        + "; retraining needs labelled rows.", code="target_not_found")
    new = new[new[target].notna()].reset_index(drop=True)
    n_hold = math.ceil(holdout * len(new))
    if n_hold < MIN_HOLDOUT_ROWS or len(new) - n_hold < 1:
        raise DataError(
            f"The new data has {len(new)} labelled rows; holdout={holdout:g} keeps {n_hold} of them to "
            f"compare the models, and at least {MIN_HOLDOUT_ROWS} are needed (plus some to train on). "
            "Pass more labelled rows (several batches), or a larger holdout.", code="too_few_rows")
    held_out, fresh = new.iloc[len(new) - n_hold:].reset_index(drop=True), new.iloc[:len(new) - n_hold]
    if old is not None:
        if target not in old.columns:
            raise DataError(f"old_data has no target column {target!r}.", code="target_not_found")
        old = old[old[target].notna()]
    if data == "new":
        return fresh.reset_index(drop=True), held_out, None
    if data == "old+new" and old is None:
        raise ConfigError("data='old+new' needs old_data=...: a saved model keeps only a fingerprint of "
                          "its training data, not the rows. Pass the earlier training data, or use "
                          "data='new' or 'window'.", code="no_old_data")
    pool = fresh if old is None else pd.concat([old, fresh], ignore_index=True)
    if data == "old+new":
        return pool.reset_index(drop=True), held_out, None
    window = len(pool) if window is None else int(window)
    return pool.iloc[max(0, len(pool) - window):].reset_index(drop=True), held_out, window


# --------------------------------------------------------------------------- paired comparison


def _metric_inputs(model, X, y, metric):
    """``(y as the metric scores it, prediction)`` of a model on ``X`` (classes via ``model.classes_``)."""
    from .engine.evaluate import _predictions

    frame, _ = model.check_input(X, warn=False)
    prediction, _ = _predictions(model.best_pipeline_, frame, metric, model.task_)
    prediction = np.asarray(prediction)
    if model.task_ == "regression":
        return np.asarray(y, dtype=float), prediction
    classes = np.asarray(model.classes_)
    codes = np.searchsorted(classes, np.asarray(y))
    if metric.needs == "label":
        prediction = np.searchsorted(classes, prediction)
    return codes, prediction


def _safe_div(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def resampled_scores(metric, y, prediction, idx, n_classes: int | None = None) -> np.ndarray:
    """The metric on each resample ``idx[b]`` (rows of ``y``/``prediction``), vectorised.

    Every metric of :mod:`nbautoml.engine.metrics` gives the same value as
    ``metrics.score`` on the same rows; multiclass roc_auc falls back to it.
    """
    from scipy import stats

    from .engine.metrics import score

    name = metric.name
    y = np.asarray(y)
    yb = y[idx]
    if name == "accuracy":
        return (prediction[idx] == yb).mean(axis=1)
    if name in ("f1", "precision", "recall"):
        p, t = prediction[idx] == 1, yb == 1
        tp, fp, fn = (p & t).sum(1), (p & ~t).sum(1), (~p & t).sum(1)
        return _safe_div(tp, {"f1": 2 * tp + fp + fn, "precision": tp + fp, "recall": tp + fn}[name]) \
            * (2 if name == "f1" else 1)
    if name in ("balanced_accuracy", "f1_macro"):
        pb = prediction[idx]
        per_class, present = [], []
        for k in range(int(n_classes or max(y.max(), prediction.max()) + 1)):
            t, p = yb == k, pb == k
            tp = (t & p).sum(1)
            if name == "balanced_accuracy":
                per_class.append(_safe_div(tp, t.sum(1)))
                present.append(t.any(1))
            else:
                per_class.append(_safe_div(2 * tp, t.sum(1) + p.sum(1)))
                present.append(t.any(1) | p.any(1))
        per_class, present = np.array(per_class), np.array(present)
        with np.errstate(invalid="ignore"):
            return (per_class * present).sum(0) / present.sum(0)
    if name == "roc_auc":
        def auc(s, pos):
            ranks = stats.rankdata(s[idx], axis=1)
            n1 = pos.sum(1)
            n0 = idx.shape[1] - n1
            with np.errstate(invalid="ignore", divide="ignore"):
                value = ((ranks * pos).sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)
            return np.where((n1 > 0) & (n0 > 0), value, np.nan)

        if prediction.ndim == 1 or prediction.shape[1] == 2:
            return auc(prediction if prediction.ndim == 1 else prediction[:, 1], yb == 1)
        # one-vs-rest macro average; a resample lacking a class is scored the slow way
        values = np.mean([auc(prediction[:, k], yb == k) for k in range(prediction.shape[1])], axis=0)
        for b in np.flatnonzero(np.isnan(values)):
            values[b] = score(metric, y[idx[b]], prediction[idx[b]], n_classes)
        return values
    if name == "average_precision":
        return _resampled_average_precision(y, prediction, idx)
    if name == "log_loss":
        proba = np.clip(prediction, 1e-15, 1)
        proba = proba / proba.sum(axis=1, keepdims=True)
        losses = -np.log(proba[np.arange(len(y)), y.astype(int)])
        return losses[idx].mean(axis=1)
    if name in ("rmse", "mae", "mape", "r2"):
        err = prediction.astype(float) - y.astype(float)
        if name == "rmse":
            return np.sqrt((err**2)[idx].mean(axis=1))
        if name == "mae":
            return np.abs(err)[idx].mean(axis=1)
        if name == "mape":
            return (np.abs(err) / np.maximum(np.abs(y), np.finfo(np.float64).eps))[idx].mean(axis=1)
        sse = (err**2)[idx].sum(axis=1)
        sst = ((yb - yb.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = 1 - sse / sst
        return np.where(sst > 0, r2, np.where(sse == 0, 1.0, 0.0))
    return np.array([score(metric, y[i], prediction[i], n_classes) for i in idx])


def _resampled_average_precision(y, prediction, idx) -> np.ndarray:
    """Average precision of each resample: its drawn rows counted per distinct score (highest
    first), then the true and false positives above each cut summed from those counts."""
    scores = prediction[:, 1] if prediction.ndim == 2 else prediction
    distinct, group = np.unique(-scores, return_inverse=True)  # group 0: the highest score
    n_groups, drawn = len(distinct), group[idx]
    flat = (np.arange(len(idx))[:, None] * n_groups + drawn).ravel()  # one bincount for every resample
    size = len(idx) * n_groups
    tp = np.cumsum(np.bincount(flat, weights=(y[idx] == 1).ravel(), minlength=size).reshape(-1, n_groups), axis=1)
    seen = np.cumsum(np.bincount(flat, minlength=size).reshape(-1, n_groups), axis=1)
    n_positive, n_negative = tp[:, -1], seen[:, -1] - tp[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(seen > 0, tp / seen, 0.0)
        recall_gain = np.diff(tp, axis=1, prepend=0.0) / n_positive[:, None]
        value = (recall_gain * precision).sum(axis=1)
    return np.where((n_positive > 0) & (n_negative > 0), value, np.nan)


def paired_bootstrap(metric, y, champion, challenger, n_classes=None, n_resamples: int = 2000,
                     seed: int = 0) -> dict:
    """Compare two models' predictions on the same rows with a paired bootstrap.

    Each resample draws rows with replacement and scores both models on the
    same rows. ``difference`` is challenger minus champion, signed so that
    > 0 means the challenger is better.

    Returns
    -------
    dict
        ``champion``, ``challenger`` (scores on all rows), ``difference``,
        ``ci_low``, ``ci_high`` (95 % percentile interval), ``p_better``
        (one-sided p-value of "the challenger is not better":
        ``(1 + #{d_b <= 0}) / (1 + B)``), ``p_worse`` (the mirror), ``resamples``.
    """
    from .engine.metrics import score

    y = np.asarray(y)
    sign = 1.0 if metric.greater_is_better else -1.0
    a = score(metric, y, champion, n_classes)
    b = score(metric, y, challenger, n_classes)
    rng = np.random.default_rng(seed)
    n = len(y)
    step = max(1, 2_000_000 // max(n, 1))
    diffs = []
    for start in range(0, n_resamples, step):
        idx = rng.integers(0, n, size=(min(step, n_resamples - start), n))
        diffs.append(sign * (resampled_scores(metric, y, challenger, idx, n_classes)
                             - resampled_scores(metric, y, champion, idx, n_classes)))
    d = np.concatenate(diffs)
    d = d[np.isfinite(d)]
    if len(d) == 0 or not (np.isfinite(a) and np.isfinite(b)):
        nan = float("nan")
        return {"champion": a, "challenger": b, "difference": sign * (b - a), "ci_low": nan,
                "ci_high": nan, "p_better": nan, "p_worse": nan, "resamples": len(d)}
    return {"champion": float(a), "challenger": float(b), "difference": float(sign * (b - a)),
            "ci_low": float(np.quantile(d, 0.025)), "ci_high": float(np.quantile(d, 0.975)),
            "p_better": float((1 + (d <= 0).sum()) / (1 + len(d))),
            "p_worse": float((1 + (d >= 0).sum()) / (1 + len(d))), "resamples": len(d)}


def _monitor_status(model, held_out):
    """The monitoring report of ``model`` on the held-out rows (not recorded in the history)."""
    from .monitor import monitor

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return monitor(model, held_out, history=False)
    except Exception as exc:  # e.g. a model without a reference profile: decide on scores alone
        warnings.warn(f"Monitoring a model on the held-out rows failed ({type(exc).__name__}: {exc}); "
                      "the decision uses the scores only.", RuntimeWarning, stacklevel=3)
        return None


def decide(comparison: dict, champion_status, challenger_status, alpha: float, metric: str,
           n_holdout: int, champion_alerts=()) -> tuple[bool, str]:
    """The decision rule: ``(promote, reason)``.

    Promote when the challenger is significantly better (``p_better < alpha``),
    or when the champion's monitoring status on the held-out rows is "alert",
    the challenger's is not, and the challenger is not significantly worse
    (``p_worse >= alpha``). Keep the champion otherwise.
    """
    c = comparison
    scores = (f"{metric} {c['challenger']:.4f} (challenger) vs {c['champion']:.4f} (champion) on "
              f"{n_holdout} held-out rows, difference {c['difference']:+.4f}")
    if c["p_better"] != c["p_better"]:
        return False, f"the models could not be compared ({scores}; the metric is undefined there)"
    ci = f"95% CI {c['ci_low']:+.4f} to {c['ci_high']:+.4f}"
    if c["difference"] > 0 and c["p_better"] < alpha:
        return True, f"significantly better: {scores} ({ci}, paired bootstrap {_p(c['p_better'])}, " \
                     f"alpha {alpha:g})"
    alerts = f" ({', '.join(champion_alerts[:3])})" if champion_alerts else ""
    if champion_status == "alert" and challenger_status not in ("alert", None):
        if c["p_worse"] >= alpha:
            return True, (f"the champion fails monitoring on the recent rows{alerts} and the challenger "
                          f"passes (status {challenger_status}) without being significantly worse: "
                          f"{scores} ({ci}, {_p(c['p_better'])})")
        return False, (f"the champion fails monitoring{alerts}, but the challenger is significantly "
                       f"worse: {scores} ({ci}, {_p(c['p_worse'], 'p(worse)')})")
    if c["difference"] < 0 and c["p_worse"] < alpha:
        return False, f"the challenger is significantly worse: {scores} ({ci}, " \
                      f"{_p(c['p_worse'], 'p(worse)')})"
    status = ("both fail monitoring" if champion_status == "alert"
              else f"the champion passes monitoring (status {champion_status})")
    return False, (f"not significantly better: {scores} ({ci}, {_p(c['p_better'])}, alpha {alpha:g}), "
                   f"and {status}")


# --------------------------------------------------------------------------- retrain


def retrain(name: str, new_data, target: str | None = None, data: str | None = None, *,
            old_data=None, window: int | None = None, time_budget: float | None = None,
            max_evals: int | None = None, holdout: float | None = None, alpha: float | None = None,
            policy=None, models=None, roles=None, cv="auto", seed: int | None = None,
            n_resamples: int = 2000, registry=None, search_dir=None, callbacks=None) -> RetrainResult:
    """Retrain a registered model on recent data and promote the new one only if it earns it.

    Parameters
    ----------
    name : str
        A registered model with a production version (the champion).
    new_data : DataFrame, path, or list of them
        Recent labelled rows, oldest first (a list of batches is concatenated).
        The newest ``holdout`` share is kept out of training to compare the models.
    target : str, optional
        The target column (default: the champion's).
    data : {"window", "new", "old+new"}, optional
        The challenger's training rows: "window" (the default, unless the
        policy says otherwise) takes the most recent ``window`` rows of
        ``old_data`` followed by the new rows; "new" only the new rows;
        "old+new" all of both.
    old_data : DataFrame, path, or list of them, optional
        Earlier labelled rows (e.g. the champion's training data). A saved model
        keeps only a fingerprint of its data, so without it "window" and "new"
        use the new rows only, and "old+new" is refused.
    window : int, optional
        Rows for ``data="window"`` (default: as many as the champion was trained on).
    time_budget : float, optional
        Seconds for the search (default: the policy's, 60).
    max_evals : int, optional
        Stop the search after this many trials (default: the policy's).
    holdout : float, optional
        Share of the newest labelled rows held out (default: the policy's, 0.3).
    alpha : float, optional
        Significance level of the comparison (default: the policy's, 0.05).
    policy : RetrainPolicy or dict, optional
        Defaults for the options above (default: the policy stored for ``name``,
        see :func:`nbautoml.policy.set_policy`, else ``RetrainPolicy()``).
    models, roles, cv, seed
        Passed to the search (default: the champion's model families and seed).
        The challenger is trained on the champion's input columns only (other
        columns of the data are left out), so it can replace it as it is.
    n_resamples : int, default=2000
        Paired-bootstrap resamples.
    registry : str, Path or Registry, optional
        The project directory (default ``$NBAUTOML_HOME``).
    search_dir, callbacks
        Passed to :class:`~nbautoml.AutoML`.

    Returns
    -------
    RetrainResult
        Scores, p-value, decision and reason (shown as a table in notebooks).

    Raises
    ------
    RegistryError
        When ``name`` has no production version.
    DataError
        When the new data has no target or too few labelled rows.

    Notes
    -----
    Decision rule: the challenger (always registered as a new version) is
    promoted to production when it is significantly better on the held-out
    rows (one-sided paired bootstrap, ``p < alpha``), or when the champion's
    monitoring status on those rows is "alert", the challenger's is not, and
    it is not significantly worse. The reason is appended to the registry's
    stage history; see :func:`decide`.

    Examples
    --------
    >>> result = nbautoml.retrain("churn", [batch_7, batch_8], time_budget=60)  # doctest: +SKIP
    >>> result.decision, result.p_value                                        # doctest: +SKIP
    ('promoted', 0.0005)
    """
    from .engine.automl import AutoML
    from .engine.metrics import get_metric
    from .persist import as_loaded
    from .schema import model_text_columns

    started = time.perf_counter()
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    if policy is None:
        policy = reg.policy(name)
    policy = RetrainPolicy.coerce(policy)
    data = policy.data if data is None else data
    if data not in DATA_MODES:
        from .exceptions import unknown_choice

        raise unknown_choice("data", str(data), DATA_MODES, code="bad_option")
    holdout = policy.holdout if holdout is None else holdout
    alpha = policy.alpha if alpha is None else alpha
    RetrainPolicy(data=data, holdout=holdout, alpha=alpha)  # validates them
    time_budget = policy.time_budget if time_budget is None else time_budget
    max_evals = policy.max_evals if max_evals is None else max_evals
    window = policy.window if window is None else window

    champion = reg.load(f"{name}@{PRODUCTION}")
    champion_version = int(champion.registry_ref_.rsplit("@", 1)[1])
    card = champion.card
    as_text = model_text_columns(champion)  # a file of new rows is read as the champion's data was
    target = target or champion.target_
    if not target:
        raise ConfigError(f"The card of {name}@{champion_version} names no target; pass target=.",
                          code="no_target")
    train, held_out, window = split_data(
        _frame(new_data, "new_data", as_text), _frame(old_data, "old_data", as_text), target, data,
        window if window is not None else (card.get("training_data") or {}).get("rows"), holdout)
    inputs = [str(c) for c in champion.feature_names_in_]
    if inputs:  # the champion's input columns only: the challenger must be a drop-in replacement
        train = train[[c for c in inputs if c in train.columns and c != target] + [target]]
    search = card.get("search") or {}
    challenger = AutoML(
        task=champion.task_, metric=champion.metric_ or "auto", time_budget=time_budget,
        max_evals=max_evals, models=models if models is not None else search.get("models"),
        roles=roles, cv=cv, seed=seed if seed is not None else (search.get("seed") or 0),
        warm_start=champion.top_configs_ or None, search_dir=search_dir, callbacks=callbacks,
        decision_threshold=search.get("decision_threshold", "auto"),
    ).fit(train, target=target)

    metric = get_metric(champion.metric_ or "auto", champion.task_)
    candidate = as_loaded(challenger)
    X, y = held_out.drop(columns=[target]), held_out[target]
    same_classes = champion.task_ == "regression" or np.array_equal(
        np.asarray(champion.classes_), np.asarray(candidate.classes_))
    n_classes = None if champion.classes_ is None else len(champion.classes_)
    if same_classes:
        codes, champion_pred = _metric_inputs(champion, X, y, metric)
        _, challenger_pred = _metric_inputs(candidate, X, y, metric)
        comparison = paired_bootstrap(metric, codes, champion_pred, challenger_pred, n_classes,
                                      n_resamples, seed=0)
    else:
        nan = float("nan")
        comparison = {"champion": nan, "challenger": nan, "difference": nan, "ci_low": nan,
                      "ci_high": nan, "p_better": nan, "p_worse": nan, "resamples": 0}
    champion_report = _monitor_status(champion, held_out)
    challenger_report = _monitor_status(candidate, held_out)
    champion_status = None if champion_report is None else champion_report.status
    challenger_status = None if challenger_report is None else challenger_report.status
    alerts = [] if champion_report is None else [
        f"{r.check} of {r.feature}" for r in champion_report.problems().itertuples()
        if r.severity == "alert"]
    if same_classes:
        promote_it, reason = decide(comparison, champion_status, challenger_status, alpha,
                                    metric.name, len(held_out), alerts)
    else:
        promote_it, reason = False, (
            f"the challenger knows other classes ({list(candidate.classes_)}) than the champion "
            f"({list(champion.classes_)}); they cannot be compared on the same footing")
    how = (f"paired bootstrap ({comparison['resamples']} resamples of the {len(held_out)} newest "
           f"labelled rows, held out from the challenger's training)")
    facts = {
        "champion_version": champion_version, "data": data, "window": window,
        "training_rows": len(train), "holdout_rows": len(held_out), "metric": metric.name,
        "champion_score": comparison["champion"], "challenger_score": comparison["challenger"],
        "difference": comparison["difference"], "ci": [comparison["ci_low"], comparison["ci_high"]],
        "p_value": comparison["p_better"], "p_worse": comparison["p_worse"], "alpha": alpha,
        "champion_status": champion_status, "challenger_status": challenger_status,
        "comparison": how, "qualifies": promote_it, "reason": reason, "policy": policy.to_dict(),
    }
    entry = reg.register(challenger, name, card_extra={"retrain": facts})
    version = entry.version
    decision = "kept"
    if promote_it:
        try:
            reg.set_stage(name, version, PRODUCTION, expected=champion_version,
                          reason=f"retrain: promoted v{version} over v{champion_version}: {reason}")
            decision = "promoted"
        except RegistryError as err:
            if err.code != "stage_moved":
                raise
            decision = "not promoted"
            reason = (f"production moved to v{err.details.get('current')} during this retrain, and this "
                      f"challenger was compared with v{champion_version}; retrain again to compare with "
                      f"the new version. (It qualified: {reason})")
    else:
        reason = f"kept v{champion_version}: {reason}"
    if decision != "promoted":
        reg.set_stage(name, version, CHALLENGER, reason=f"retrain: {reason}")
    return RetrainResult(
        name=name, champion_version=champion_version, challenger_version=version,
        promoted=decision == "promoted", decision=decision, reason=reason, metric=metric.name,
        greater_is_better=metric.greater_is_better, champion_score=comparison["champion"],
        challenger_score=comparison["challenger"], difference=comparison["difference"],
        ci_low=comparison["ci_low"], ci_high=comparison["ci_high"], p_value=comparison["p_better"],
        p_worse=comparison["p_worse"], alpha=alpha, champion_status=champion_status,
        challenger_status=challenger_status, champion_alerts=alerts, data=data, window=window,
        n_train=len(train), n_holdout=len(held_out),
        champion_rows=(card.get("training_data") or {}).get("rows"), champion_cv=_float(champion.best_score_),
        challenger_cv=_float(challenger.best_score_), comparison=how, policy=policy.to_dict(),
        challenger=challenger, champion_report=champion_report, challenger_report=challenger_report,
        elapsed=time.perf_counter() - started)


def _float(x) -> float:
    return float("nan") if x is None else float(x)


# --------------------------------------------------------------------------- promote / rollback


def promote(ref: str, reason: str = "", *, registry=None):
    """Point production at a registered version, with the reason recorded.

    Parameters
    ----------
    ref : str
        ``"name@VERSION"`` (or ``"name@STAGE"``, e.g. ``"churn@challenger"``).
    reason : str, default=""
        Why; stored in the stage history ("manual promotion" when empty).
    registry : str, Path or Registry, optional

    Returns
    -------
    ModelVersion
        The version now in production.

    Examples
    --------
    >>> nbautoml.promote("churn@3", "validated by the risk team")  # doctest: +SKIP
    ModelVersion(churn@3, stages=['production'])
    """
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    name, which = parse_ref(ref)
    if which is None:
        raise ConfigError(f"promote() needs a version: {name}@VERSION, e.g. {name}@2. "
                          f"The versions are in nbautoml.Registry().versions({name!r}).",
                          code="no_version")
    entry = reg.get(ref)
    current = _production(reg, name)
    why = reason or "manual promotion (no reason given)"
    reg.set_stage(name, entry.version, PRODUCTION, expected=current,
                  reason=f"promote: v{entry.version} (was {_v(current)}): {why}")
    return reg.get(f"{name}@{entry.version}")


def rollback(name: str, reason: str = "", *, to: int | None = None, registry=None):
    """Put back the production version that preceded the current one.

    The stage history is replayed: each promotion pushes a version, each
    rollback pops one, so repeated rollbacks walk further back.

    Parameters
    ----------
    name : str
    reason : str, default=""
        Why; stored in the stage history.
    to : int, optional
        Roll back to this version instead.
    registry : str, Path or Registry, optional

    Returns
    -------
    ModelVersion
        The version now in production; its artifact is the one registered
        (same SHA-256), loaded with ``Registry().load(f"{name}@production")``.
    """
    import pandas as pd

    reg = registry if isinstance(registry, Registry) else Registry(registry)
    history = reg.history(name)
    events = history[history["stage"] == PRODUCTION]
    stack: list = []
    for row in events.itertuples():
        version = None if pd.isna(row.version) else int(row.version)
        if str(row.reason).startswith("rollback:") and stack:
            stack.pop()
            if not stack or stack[-1] != version:
                stack.append(version)
        else:
            stack.append(version)
    current = stack.pop() if stack else None
    if current is None:
        raise RegistryError(f"{name!r} has no production version to roll back.", code="stage_not_set")
    if to is None:
        target = stack[-1] if stack else None
        if target is None:
            raise RegistryError(f"{name!r} has no earlier production version than v{current}; promote "
                                f"one with nbautoml.promote('{name}@VERSION').", code="no_previous")
    else:
        target = reg.get(f"{name}@{int(to)}").version
    why = reason or "no reason given"
    reg.set_stage(name, target, PRODUCTION, expected=current,
                  reason=f"rollback: v{current} -> v{target}: {why}")
    return reg.get(f"{name}@{target}")


def _production(reg: Registry, name: str):
    try:
        return reg.get(f"{name}@{PRODUCTION}").version
    except RegistryError as err:
        if err.code == "stage_not_set":
            return None
        raise


def _v(version) -> str:
    return "none" if version is None else f"v{version}"


__all__ = ["DEFAULT_DATA", "RetrainResult", "decide", "paired_bootstrap", "promote", "resampled_scores",
           "retrain", "rollback", "split_data"]


class _CallableModule(types.ModuleType):
    """``nbautoml.retrain(...)`` calls :func:`retrain` even once this module is imported by name."""

    def __call__(self, *args, **kwargs) -> RetrainResult:
        return retrain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
