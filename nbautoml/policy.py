"""Retraining policies: when a monitored model should be retrained, and how.

A :class:`RetrainPolicy` is stored with a registered model
(:func:`set_policy`, in the registry's append-only ``policies`` table).
``nbautoml.monitor(model, batch, policy=...)`` then adds the recommended action
to its report (``report.action`` is "retrain" or "none", ``report.recommendation``
says why), and ``%automl_monitor NAME DATA --auto-retrain`` carries it out with
:func:`nbautoml.retrain`. Whether the retrained model replaces the production
one is decided by :func:`nbautoml.retrain` (see its decision rule), never here.

Examples
--------
>>> from nbautoml.policy import RetrainPolicy
>>> policy = RetrainPolicy(on_alert=True, every=10, time_budget=30)
>>> policy.triggers()
['a monitoring alert', 'every 10 monitored batches']
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .exceptions import ConfigError, unknown_choice

DATA_MODES = ("window", "new", "old+new")


@dataclass
class RetrainPolicy:
    """When to retrain a monitored model, and the budget and data of the retraining.

    Any trigger that holds recommends retraining.

    Parameters
    ----------
    on_alert : bool, default=True
        Retrain when a monitored batch's status is "alert".
    metric_threshold : float, optional
        Retrain when the batch metric (with labels) is worse than this: below
        it for scores (roc_auc, r2, ...), above it for errors (rmse, log_loss, ...).
    every : int, optional
        Retrain every ``every`` monitored batches of the same model version.
    data : {"window", "new", "old+new"}, default="window"
        The training data of the retraining (see :func:`nbautoml.retrain`).
    window : int, optional
        With ``data="window"``: the number of most recent rows to train on
        (default: as many as the champion was trained on).
    time_budget : float, default=60
        Seconds for the retraining search.
    max_evals : int, optional
        Stop the retraining search after this many trials.
    holdout : float, default=0.3
        Share of the newest labelled rows kept out of training to compare the
        champion and the challenger.
    alpha : float, default=0.05
        Significance level of the champion/challenger comparison.
    """

    on_alert: bool = True
    metric_threshold: float | None = None
    every: int | None = None
    data: str = "window"
    window: int | None = None
    time_budget: float = 60.0
    max_evals: int | None = None
    holdout: float = 0.3
    alpha: float = 0.05

    def __post_init__(self):
        if not isinstance(self.on_alert, bool):
            raise ConfigError(f"RetrainPolicy.on_alert must be True or False; got {self.on_alert!r}.")
        if self.metric_threshold is not None and not _finite(self.metric_threshold):
            raise ConfigError("RetrainPolicy.metric_threshold must be a finite number or None; got "
                              f"{self.metric_threshold!r}.")
        for name in ("every", "window", "max_evals"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"RetrainPolicy.{name} must be an int >= 1 or None; got {value!r}.")
        if self.data not in DATA_MODES:
            raise unknown_choice("data", str(self.data), DATA_MODES, code="bad_option")
        if not _finite(self.time_budget) or self.time_budget <= 0:
            raise ConfigError(f"RetrainPolicy.time_budget must be a number > 0; got {self.time_budget!r}.")
        for name in ("holdout", "alpha"):
            value = getattr(self, name)
            if not _finite(value) or not 0 < value < 1:
                raise ConfigError(f"RetrainPolicy.{name} must be in (0, 1); got {value!r}.")

    @classmethod
    def coerce(cls, value) -> RetrainPolicy:
        """A policy from None (the defaults), a dict of fields, or a policy."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            names = [f.name for f in fields(cls)]
            unknown = [k for k in value if k not in names]
            if unknown:
                raise unknown_choice("policy field", str(unknown[0]), names, code="bad_option")
            return cls(**value)
        raise ConfigError(f"A retraining policy is a RetrainPolicy or a dict of its fields; got "
                          f"{type(value).__name__}.", code="bad_option")

    def to_dict(self) -> dict:
        return asdict(self)

    def triggers(self) -> list[str]:
        """The triggers in words."""
        words = []
        if self.on_alert:
            words.append("a monitoring alert")
        if self.metric_threshold is not None:
            words.append(f"the metric worse than {self.metric_threshold:g}")
        if self.every is not None:
            words.append(f"every {self.every} monitored batches")
        return words

    def describe(self) -> str:
        """One line: triggers, data, budget."""
        when = " or ".join(self.triggers()) or "never (no trigger)"
        data = self.data + (f" of {self.window} rows" if self.data == "window" and self.window else "")
        evals = f", at most {self.max_evals} trials" if self.max_evals else ""
        return (f"retrain on {when}; data: {data}; budget {self.time_budget:g} s{evals}; "
                f"{self.holdout:.0%} held out, alpha {self.alpha:g}")


def _finite(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def recommend(report, policy: RetrainPolicy, n_batches: int | None = None) -> tuple[str, str]:
    """The action a policy recommends after a monitoring report: ``("retrain" | "none", why)``.

    Parameters
    ----------
    report : MonitorReport
    policy : RetrainPolicy
    n_batches : int, optional
        Batches monitored for this model version so far, this one included
        (for ``policy.every``).
    """
    reasons = []
    if policy.on_alert and report.status == "alert":
        problems = report.problems()
        alerts = problems[problems["severity"] == "alert"]
        what = ", ".join(f"{r.check} of {r.feature}" for r in alerts.head(3).itertuples())
        reasons.append(f"monitoring alert ({what})" if what else "monitoring alert")
    value = report.metric_value
    if policy.metric_threshold is not None and value == value:
        from .engine.metrics import METRICS

        metric = METRICS.get(report.metric)
        higher = True if metric is None else metric.greater_is_better
        worse = value < policy.metric_threshold if higher else value > policy.metric_threshold
        if worse:
            side = "below" if higher else "above"
            reasons.append(f"{report.metric} {value:.4f} is {side} the threshold "
                           f"{policy.metric_threshold:g}")
    if policy.every is not None and n_batches is not None and n_batches % policy.every == 0:
        reasons.append(f"batch {n_batches} of this version (retrain every {policy.every})")
    if reasons:
        return "retrain", "; ".join(reasons)
    quiet = [f"status {report.status}"]
    if policy.metric_threshold is not None:
        quiet.append("no labels to check the metric threshold" if value != value else
                     f"{report.metric} {value:.4f} meets the threshold {policy.metric_threshold:g}")
    if policy.every is not None and n_batches is not None:
        quiet.append(f"batch {n_batches} of this version (retrain every {policy.every})")
    return "none", "; ".join(quiet)


def set_policy(name: str, policy=None, *, reason: str = "", registry=None) -> RetrainPolicy:
    """Store the retraining policy of the registered model ``name``.

    Parameters
    ----------
    name : str
        A registered model name.
    policy : RetrainPolicy or dict, optional
        The policy (default: ``RetrainPolicy()``, retrain on alert).
    reason : str, default=""
        Stored with the change.
    registry : str, Path or Registry, optional
        The project directory (default ``$NBAUTOML_HOME``).

    Returns
    -------
    RetrainPolicy
    """
    policy = RetrainPolicy.coerce(policy)
    _registry(registry).set_policy(name, policy.to_dict(), reason=reason)
    return policy


def get_policy(name: str, registry=None) -> RetrainPolicy | None:
    """The retraining policy stored for ``name``, or None."""
    stored = _registry(registry).policy(name)
    return None if stored is None else RetrainPolicy.coerce(stored)


def _registry(registry):
    from .registry import Registry

    return registry if isinstance(registry, Registry) else Registry(registry)


__all__ = ["DATA_MODES", "RetrainPolicy", "get_policy", "recommend", "set_policy"]
