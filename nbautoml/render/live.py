"""The state of a running search, rebuilt from the engine's events, and a rate limiter.

:class:`LiveState` is plain data: the panels draw it, the tests assert on it. It has the
``trials_``, ``metric_`` and ``greater_is_better_`` attributes of a fitted AutoML, so the
convergence plot draws a running search the same way as a finished one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

FAILED_STATUSES = ("failed", "timeout", "memory", "crashed")


@dataclass
class BoardRow:
    """One row of the live leaderboard."""

    rank: int
    trial: int
    model: str
    pipeline: str
    score: float
    score_std: float | None
    tied: bool  # not significantly different from the best (paired t-test, p >= 0.05)
    fit_time: float


@dataclass
class LiveState:
    """What the listener knows about the search so far."""

    metric: str | None = None
    greater_is_better: bool = True
    time_budget: float | None = None
    max_evals: int | None = None
    elapsed: float = 0.0
    n_done: int = 0
    n_failed: int = 0
    best_score: float | None = None
    best: object = None  # TrialRecord
    status: str = "waiting"  # waiting, running, completed, interrupted, failed
    reason: str = ""
    trials: dict = field(default_factory=dict)  # trial_id -> TrialRecord (running and finished)
    n_events: int = 0
    version: int = 0  # bumped when a trial finishes: the leaderboard and plot may change
    _board_cache: tuple = (None, [])

    # ---------------------------------------------------------------- the AutoML-like view
    @property
    def trials_(self) -> list:
        return list(self.trials.values())

    @property
    def metric_(self) -> str:
        return self.metric or "score"

    @property
    def greater_is_better_(self) -> bool:
        return self.greater_is_better

    # ---------------------------------------------------------------- updates
    def update(self, event) -> None:
        """Take in one :class:`~nbautoml.engine.records.SearchEvent`."""
        data = event.data
        self.n_events += 1
        if self.metric is None and data.get("metric"):
            self.metric = data["metric"]
            from ..engine.metrics import METRICS

            metric = METRICS.get(self.metric)
            if metric is not None:
                self.greater_is_better = metric.greater_is_better
        for name in ("time_budget", "max_evals"):
            if name in data:
                setattr(self, name, data[name])
        self.elapsed = float(data.get("elapsed", self.elapsed) or 0.0)
        self.n_done = int(data.get("n_done", self.n_done) or 0)
        self.n_failed = int(data.get("n_failed", self.n_failed) or 0)
        if data.get("best_score") is not None:
            self.best_score = float(data["best_score"])
        if data.get("best") is not None:
            self.best = data["best"]
        trial = data.get("trial")
        if trial is not None:
            self.trials[trial.trial_id] = trial
        if event.kind == "search_started":
            self.status = "running"
        elif event.kind == "trial_finished":
            self.version += 1
        elif event.kind == "search_finished":
            self.status = data.get("status") or "completed"
            self.reason = data.get("reason") or ""
            self.version += 1

    def update_from_result(self, result) -> None:
        """Take the final numbers from a fitted AutoML (covers events that never came)."""
        self.metric = getattr(result, "metric_", self.metric)
        self.greater_is_better = getattr(result, "greater_is_better_", self.greater_is_better)
        self.time_budget = getattr(result, "time_budget", self.time_budget)
        self.max_evals = getattr(result, "max_evals", self.max_evals)
        trials = getattr(result, "trials_", None)
        if trials is not None:
            self.trials = {t.trial_id: t for t in trials}
            self.n_done = sum(t.status not in ("running", "interrupted") for t in trials)
            self.n_failed = sum(t.status in FAILED_STATUSES for t in trials)
        self.elapsed = float(getattr(result, "elapsed_", self.elapsed) or self.elapsed)
        best = getattr(result, "overall_best_trial_", None) or getattr(result, "best_trial_", None)
        if best is not None and best.score is not None:  # the best CV score, not the chosen trial's
            self.best_score = float(best.score)
            self.best = best
        elif getattr(result, "best_score_", None) is not None:
            self.best_score = float(result.best_score_)
        self.status = getattr(result, "status_", None) or self.status
        self.reason = getattr(result, "stop_reason_", None) or self.reason
        self.version += 1

    # ---------------------------------------------------------------- derived
    @property
    def finished(self) -> bool:
        return self.status in ("completed", "interrupted", "failed")

    def fraction(self) -> float:
        """How much of the budget is used, 0..1 (the larger of time and trials)."""
        parts = []
        if self.time_budget:
            parts.append(self.elapsed / self.time_budget)
        if self.max_evals:
            parts.append(self.n_done / self.max_evals)
        if not parts:
            return 1.0 if self.finished else 0.0
        return max(0.0, min(1.0, max(parts)))

    def failure_counts(self) -> dict[str, int]:
        """Failed trials by status (failed, timeout, memory, crashed), only those that occurred."""
        counts: dict[str, int] = {}
        for t in self.trials.values():
            if t.status in FAILED_STATUSES:
                counts[t.status] = counts.get(t.status, 0) + 1
        return counts

    def running(self) -> list:
        return [t for t in self.trials.values() if t.status == "running"]

    def leaderboard(self, top: int = 10) -> list[BoardRow]:
        """The best ``top`` successful trials so far, with ties to the best marked."""
        if self._board_cache[0] == (self.version, top, len(self.trials)):
            return self._board_cache[1]
        from ..engine.leaderboard import paired_p_value
        from ..engine.space import describe

        ok = [t for t in self.trials.values() if t.status == "ok" and t.score is not None]
        sign = -1 if self.greater_is_better else 1
        ok.sort(key=lambda t: (sign * t.score, t.trial_id))
        rows = []
        best = ok[0] if ok else None
        for rank, t in enumerate(ok[:top], start=1):
            tied = False
            if t is not best and len(t.fold_scores) > 1 and len(t.fold_scores) == len(best.fold_scores):
                k = len(t.fold_scores)  # k-fold: n_test / n_train = 1 / (k - 1)
                tied = paired_p_value(best.fold_scores, t.fold_scores, 1.0 / (k - 1)) >= 0.05
            rows.append(BoardRow(rank, t.trial_id, t.family, describe(t.config), float(t.score),
                                 t.score_std, bool(tied), float(t.fit_time or 0.0)))
        self._board_cache = ((self.version, top, len(self.trials)), rows)
        return rows


class Throttle:
    """Allow an action at most once per ``interval`` seconds (``force`` always allows)."""

    def __init__(self, interval: float, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.last: float | None = None

    def ready(self, force: bool = False) -> bool:
        now = self.clock()
        if force or self.last is None or now - self.last >= self.interval:
            self.last = now
            return True
        return False
