"""The leaderboard: trials ranked by CV score, with a paired test against the best."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .records import TrialRecord
from .space import describe

#: what the in_model marks of format_leaderboard mean, for captions and notes
IN_MODEL_NOTE = "in_model: ✓ = the refitted pipeline; ×w = an ensemble member and its weight"

COLUMNS = ["rank", "trial", "model", "pipeline", "score", "score_std", "p_value", "tied_with_best",
           "fit_time", "cpu_time", "predict_ms_per_1k", "peak_memory_mb", "model_size_kb", "status",
           "error"]


def paired_p_value(a, b, test_fraction: float) -> float:
    """Two-sided p-value of the corrected resampled t-test (Nadeau and Bengio, 2003).

    ``a`` and ``b`` are per-fold scores of two pipelines on the same folds;
    ``test_fraction`` is n_test / n_train, which corrects the variance for the
    overlap of the training sets across folds.
    """
    from scipy import stats

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    k = len(diff)
    if k < 2:
        return float("nan")
    var = diff.var(ddof=1)
    if var == 0:
        return 1.0 if diff.mean() == 0 else 0.0
    t = diff.mean() / np.sqrt((1.0 / k + test_fraction) * var)
    return float(2 * stats.t.sf(abs(t), df=k - 1))


def build_leaderboard(trials: list[TrialRecord], greater_is_better: bool, test_fraction: float,
                      alpha: float = 0.05) -> pd.DataFrame:
    """Rank the trials (successful first, best on top).

    ``tied_with_best`` marks pipelines whose fold scores are not significantly
    different from the best one's (paired test, level ``alpha``). The cost
    columns: ``predict_ms_per_1k`` (prediction latency), ``peak_memory_mb`` (the
    worker's peak RSS during the trial above its RSS at the start, see
    :mod:`nbautoml.engine.cost`) and ``model_size_kb`` (the pickled pipeline);
    missing when not measured.
    """
    ok = [t for t in trials if t.status == "ok"]
    sign = -1 if greater_is_better else 1
    ok.sort(key=lambda t: (sign * t.score, t.trial_id))
    others = sorted((t for t in trials if t.status != "ok"), key=lambda t: t.trial_id)
    best = ok[0] if ok else None
    rows = []
    for rank, trial in enumerate(ok, start=1):
        p = 1.0 if trial is best else paired_p_value(best.fold_scores, trial.fold_scores, test_fraction)
        rows.append(_row(trial, rank, p, bool(p >= alpha) if not np.isnan(p) else False))
    for trial in others:
        rows.append(_row(trial, None, np.nan, False))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["rank"] = frame["rank"].astype("Int64")
    return frame


def _row(t: TrialRecord, rank, p_value, tied) -> dict:
    return {
        "rank": rank,
        "trial": t.trial_id,
        "model": t.family,
        "pipeline": describe(t.config),
        "score": t.score,
        "score_std": t.score_std,
        "p_value": p_value,
        "tied_with_best": tied,
        "fit_time": round(t.fit_time, 3),
        "cpu_time": round(t.cpu_time, 3),
        "predict_ms_per_1k": None if t.predict_time is None else round(1000 * t.predict_time, 2),
        "peak_memory_mb": None if t.peak_memory is None else round(t.peak_memory / 2**20, 2),
        "model_size_kb": None if t.model_size is None else round(t.model_size / 1024, 1),
        "status": t.status,
        "error": t.error,
    }


def format_leaderboard(frame: pd.DataFrame, metric: str, top: int | None = 10,
                       model_trials: dict | None = None) -> pd.DataFrame:
    """A display copy: ``score`` as "mean ± std", a ≈ mark for ties, short errors.

    ``model_trials`` (trial id -> weight, see
    :func:`~nbautoml.engine.ensemble.model_trials`) adds an ``in_model`` column
    after ``rank``: ✓ for the refitted pipeline, ``×w`` for an ensemble's
    members, since the model is not always the first row; with ``top``, the
    model's trials that rank below it are appended.
    """
    shown = frame.head(top).copy() if top else frame.copy()
    if top and model_trials:  # the model's trials are shown even when they rank below the top
        below = frame.iloc[top:]
        shown = pd.concat([shown, below[below["trial"].isin(list(model_trials))]])
    scores = []
    for _, row in shown.iterrows():
        if pd.isna(row["score"]):
            scores.append("")
        else:
            mark = " ≈" if row["tied_with_best"] and row["rank"] != 1 else ""
            std = "" if pd.isna(row["score_std"]) else f" ± {row['score_std']:.4f}"
            scores.append(f"{row['score']:.4f}{std}{mark}")
    shown[metric] = scores
    shown["error"] = shown["error"].fillna("").astype(str).str.slice(0, 80)
    columns = ["rank", "model", metric, "fit_time", "status", "pipeline", "error"]
    if model_trials:
        mark = "✓" if len(model_trials) == 1 else None
        shown["in_model"] = [(mark or f"×{model_trials[t]}") if t in model_trials else ""
                             for t in shown["trial"]]
        columns.insert(1, "in_model")
    return shown[columns]
