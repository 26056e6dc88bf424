"""Which estimator families still get trials (a race between the families), and the
choices made once per search from a starting point and its twin: whether the linear
models keep their splines (:class:`SplineChoice`) and whether the models fit the log of
the target (:class:`TargetChoice`).

TPE picks the family with one categorical choice among a dozen, so for a
short budget it keeps spending trials on families far behind the best (on
the bike data at 30 s: 10 of 28 trials and 11 s of the budget went to linear
models, k-NN, a tree and an MLP that scored 0.31-0.80 R² against 0.95).
A family leaves the race when its best error is far behind the best error of
any family, and the further behind the fewer trials it needed to show it:

    error(family) > (1 + 2 / n) * best_error + 0.01

where ``error`` is the distance of a score from the metric's ideal (1 for R²,
accuracy, ROC AUC...; 0 for a loss) and ``n`` is the family's finished trials
(3x the best error after one trial, 2x after two, 1.5x after four). A family
whose first two trials all failed leaves it too. Its trials stay on the
leaderboard and in the ensemble's candidates; TPE goes on over the families
still in the race (``search.py`` rebuilds its space and history).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from .records import TrialRecord

ABSOLUTE_MARGIN = 0.01


def score_error(score: float, greater_is_better: bool) -> float:
    """The distance of a score from its metric's ideal value (1 if greater is better, else 0)."""
    return abs((1.0 if greater_is_better else 0.0) - score)


@dataclass
class FamilyRace:
    """The families still in the race, and why the others left it.

    Parameters
    ----------
    greater_is_better : bool
        The metric's direction; scores of the built-in metrics have their
        ideal at 1 (greater is better) or 0 (a loss).
    enabled : bool, default=True
        When False no family ever leaves.
    """

    greater_is_better: bool
    enabled: bool = True
    left: dict[str, str] = field(default_factory=dict)  # family -> why it left

    def update(self, trials: Iterable[TrialRecord], metric_name: str = "score") -> None:
        """Recompute which families left, from every finished trial so far."""
        if not self.enabled:
            return
        finished: dict[str, list[TrialRecord]] = {}
        for t in trials:
            if t.status not in ("running", "interrupted"):
                finished.setdefault(t.family, []).append(t)
        best_error, best_family, best_score = None, None, None
        family_best: dict[str, tuple[float, float]] = {}
        for family, records in finished.items():
            ok = [t for t in records if t.status == "ok" and t.score is not None]
            if not ok:
                continue
            top = min(ok, key=lambda t: score_error(t.score, self.greater_is_better))
            family_best[family] = (score_error(top.score, self.greater_is_better), top.score)
            if best_error is None or family_best[family][0] < best_error:
                best_error, best_family, best_score = family_best[family][0], family, top.score
        for family, records in finished.items():
            if family in self.left:
                continue
            n = len(records)
            if family not in family_best:
                if n >= 2:
                    self.left[family] = f"its first {n} trials failed"
                continue
            if best_error is None or family == best_family:
                continue
            error, score = family_best[family]
            limit = (1.0 + 2.0 / n) * best_error + ABSOLUTE_MARGIN
            if error > limit + 1e-9:  # not on a rounding error at the limit
                # the leader's score at the moment the family left (it may improve later)
                self.left[family] = (f"best {metric_name} {score:.4g} in {n} trial{'s' * (n > 1)}, "
                                     f"when {best_family} had {best_score:.4g}")

    def allows(self, family: str) -> bool:
        """Whether a new trial of ``family`` is worth running."""
        return family not in self.left


# a challenger wins only when its error is below the incumbent's by more than this share
TWIN_MARGIN = 0.01


@dataclass
class TwinChoice:
    """A choice made once per search, from a starting point and its twin (the same config
    with one option changed).

    When a trial of each side has finished, the challenger wins if its best error is lower
    than the incumbent's by more than ``TWIN_MARGIN`` (a tie keeps the incumbent); the
    search then goes on with the challenger's option (``mode``), its queued starting points
    changed by :meth:`adapt`. Subclasses say which side a trial is on and what changes.

    Parameters
    ----------
    greater_is_better : bool
        The metric's direction (see :func:`score_error`).
    enabled : bool, default=True
        False where the option is not tried: nothing is decided.
    """

    greater_is_better: bool
    enabled: bool = True
    note: str | None = None  # what was decided, from which scores

    def side(self, trial: TrialRecord) -> str | None:
        """``"incumbent"``, ``"challenger"`` or None (the trial plays no part)."""
        raise NotImplementedError

    def switch(self) -> None:
        """Go on with the challenger's option."""
        raise NotImplementedError

    def adapt(self, config: dict) -> dict:
        """A queued starting point, after the switch."""
        return config

    # what the note calls each side's outcome, and each side's scores; why the challenger failed
    verdicts: ClassVar[dict] = {}
    labels: ClassVar[dict] = {}
    failed: ClassVar[str] = ""

    def describe(self, winner: str, best: dict, metric_name: str) -> str:
        """The note: ``best`` maps each side to its best trial (None if it failed)."""
        if best["challenger"] is None:
            return f"{self.verdicts['incumbent']} ({self.failed})"
        loser = "challenger" if winner == "incumbent" else "incumbent"
        won, lost = best[winner], best[loser]
        lost_text = f"{lost.score:.4g}" if lost is not None else "failed"
        return (f"{self.verdicts[winner]} ({won.family} {metric_name} {won.score:.4g}; "
                f"{lost_text} {self.labels[loser]})")

    def rules_out(self, trial: TrialRecord) -> bool:
        """Whether ``trial`` is no candidate for the final model (default: every trial is)."""
        return False

    def update(self, trials: Iterable[TrialRecord], metric_name: str = "score") -> bool:
        """Decide, once a trial of each side has finished; True when this call switched
        to the challenger (the space must change)."""
        if not self.enabled or self.note is not None:
            return False
        sides: dict[str, list[TrialRecord]] = {"incumbent": [], "challenger": []}
        for t in trials:
            if t.status in ("running", "interrupted") or "pre" not in t.config:
                continue
            side = self.side(t)
            if side is not None:
                sides[side].append(t)
        if not sides["incumbent"] or not sides["challenger"]:
            return False
        best = {side: self._best(group) for side, group in sides.items()}
        incumbent, challenger = best["incumbent"], best["challenger"]
        wins = challenger is not None and (
            incumbent is None or self._error(challenger) * (1.0 + TWIN_MARGIN) < self._error(incumbent))
        self.note = self.describe("challenger" if wins else "incumbent", best, metric_name)
        if wins:
            self.switch()
        return wins

    def _error(self, trial: TrialRecord) -> float:
        return score_error(trial.score, self.greater_is_better)

    def _best(self, trials: list[TrialRecord]) -> TrialRecord | None:
        ok = [t for t in trials if t.status == "ok" and t.score is not None]
        return min(ok, key=self._error) if ok else None


@dataclass
class SplineChoice(TwinChoice):
    """Whether the linear models keep their B-splines.

    On small regression data the linear families start on splines
    (``space.spline_mode`` "always"), and their first starting point is followed by
    its plain twin (``space.default_points``); plain numbers win if their error is
    lower by more than ``TWIN_MARGIN`` (a tie keeps the splines: they level off beyond
    the training range, which the CV rarely shows). The mode is then "off" and the
    search goes on without splines. Either way the losing variant's trials are no
    candidates for the final model (:meth:`rules_out`). On scikit-learn's diabetes data
    (442 rows of ten nearly linear numbers) 5-fold CV gave ridge 0.4914 plain and
    0.4801 on splines; on the benchmark's regression data sets the splines won by
    0.002-0.22 (FINDINGS.md, "Splines for linear models").
    """

    mode: str = "always"
    verdicts: ClassVar[dict] = {"incumbent": "on splines", "challenger": "on plain numbers"}
    labels: ClassVar[dict] = {"incumbent": "on splines", "challenger": "on plain numbers"}
    failed: ClassVar[str] = "the linear model on plain numbers failed"

    def side(self, trial: TrialRecord) -> str | None:
        pre = trial.config["pre"]
        if pre.get("splines"):
            return "incumbent"
        return "challenger" if "scaler" in pre and _has_splines(trial.family) else None

    def switch(self) -> None:
        self.mode = "off"

    def adapt(self, config: dict) -> dict:
        from .space import without_splines

        return without_splines(config)


    def outcome(self, trials: Iterable[TrialRecord]) -> str | None:
        """What the result reports: the decision, or that the linear models stayed on splines
        without a comparison (no plain twin finished: ``n_default_points=0``, the Spark
        backend, a budget that ended first); None when no linear model ran on splines."""
        if self.note is not None or not self.enabled:
            return self.note
        if any(t.config.get("pre", {}).get("splines") for t in trials):
            return "on splines (not compared with plain numbers: the first linear model did not run without them)"
        return None

    def rules_out(self, trial: TrialRecord) -> bool:
        """Whether ``trial`` is a linear model of the variant that lost: it stays on the
        leaderboard but is no candidate for the final model or its ensemble (house's
        ensembles took the plain ridge in, whose CV does not show that it extrapolates)."""
        if self.note is None or not _has_splines(trial.family):
            return False
        on_splines = bool(trial.config.get("pre", {}).get("splines"))
        return on_splines if self.mode == "off" else not on_splines


@dataclass
class TargetChoice(TwinChoice):
    """Whether the regression models fit the log of the target (``transformers.LogTarget``).

    For a non-negative target with a skew of at least ``space.LOG_TARGET_MIN_SKEW``
    (``space.target_mode`` "raw"), the default gradient boosting is followed by its twin
    on the log of the target; the log wins if its error is lower by more than
    ``TWIN_MARGIN``, and the search goes on on the log scale ("log"), its queued
    starting points included. The trials before stay candidates: their scores are on
    the same scale. Measured on the benchmark's training rows (5-fold CV of default
    boosting, raw against log): house 0.853 against 0.860, insurance 0.821 against 0.832,
    diamond 0.981 against 0.984; bike 0.945 against 0.937 (FINDINGS.md).
    """

    mode: str = "raw"
    verdicts: ClassVar[dict] = {"incumbent": "as it is", "challenger": "on the log scale"}
    labels: ClassVar[dict] = {"incumbent": "as it is", "challenger": "on its log"}
    failed: ClassVar[str] = "the model on its log failed"

    def side(self, trial: TrialRecord) -> str | None:
        if trial.family != "hist_gradient_boosting":
            return None
        return "challenger" if trial.config["pre"].get("log_target") else "incumbent"

    def switch(self) -> None:
        self.mode = "log"

    def adapt(self, config: dict) -> dict:
        from .space import with_log_target

        return with_log_target(config)



def _has_splines(family: str) -> bool:
    from .space import FAMILIES

    return family in FAMILIES and FAMILIES[family].splines
