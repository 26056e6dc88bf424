"""Which estimator families still get trials (a race between the families), and
whether the linear ones keep their splines (:class:`SplineChoice`).

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


# plain numbers win only when their error is below that on splines by more than this share:
# on a tie the splines stay (they level off beyond the training range, which the CV rarely shows)
SPLINE_MARGIN = 0.01


@dataclass
class SplineChoice:
    """Whether the linear models keep their B-splines, decided once per search.

    On small regression data the linear families start on splines
    (``space.spline_mode`` "always"), and their first starting point is followed by
    its plain twin (``space.default_points``). When a trial of each has finished,
    the plain one wins if its error is lower by more than ``SPLINE_MARGIN``; the
    mode is then "off" and the search goes on without splines. Either way the losing
    variant's trials are no candidates for the final model (:meth:`rules_out`). On
    scikit-learn's diabetes data (442 rows of ten nearly linear numbers) 5-fold CV gave
    ridge 0.4914 plain and 0.4801 on splines; on the benchmark's regression data sets
    the splines won by 0.002-0.22 (FINDINGS.md, "Splines for linear models").

    Parameters
    ----------
    greater_is_better : bool
        The metric's direction (see :func:`score_error`).
    enabled : bool, default=True
        False where the linear models are not on splines from the start (classification,
        large or wide data, a space of the user's own): nothing is decided.
    """

    greater_is_better: bool
    enabled: bool = True
    mode: str = "always"
    note: str | None = None  # what was decided, from which scores

    def update(self, trials: Iterable[TrialRecord], metric_name: str = "score") -> bool:
        """Decide, once a linear model has finished with and without splines.

        Returns True when this call turned the splines off (the space must change).
        """
        if not self.enabled or self.note is not None:
            return False
        on, off = [], []
        for t in trials:
            if t.status in ("running", "interrupted") or "pre" not in t.config:
                continue
            pre = t.config["pre"]
            if pre.get("splines"):
                on.append(t)
            elif "scaler" in pre and _has_splines(t.family):
                off.append(t)
        if not on or not off:
            return False
        best_on, best_off = self._best(on), self._best(off)
        if best_off is None:
            self.note = "on splines (the linear model on plain numbers failed)"
            return False
        if best_on is not None and self._error(best_off) * (1.0 + SPLINE_MARGIN) >= self._error(best_on):
            self.note = (f"on splines ({best_on.family} {metric_name} {best_on.score:.4g}; "
                         f"{best_off.score:.4g} on plain numbers)")
            return False
        self.mode = "off"
        on_text = f"{best_on.score:.4g}" if best_on is not None else "failed"
        self.note = (f"on plain numbers ({best_off.family} {metric_name} {best_off.score:.4g}; "
                     f"{on_text} on splines)")
        return True

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

    def _error(self, trial: TrialRecord) -> float:
        return score_error(trial.score, self.greater_is_better)

    def _best(self, trials: list[TrialRecord]) -> TrialRecord | None:
        ok = [t for t in trials if t.status == "ok" and t.score is not None]
        return min(ok, key=self._error) if ok else None


def _has_splines(family: str) -> bool:
    from .space import FAMILIES

    return family in FAMILIES and FAMILIES[family].splines
