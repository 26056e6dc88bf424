"""Which final choice scores best on held-out data: the best CV trial, a tied default, or the ensemble?

Runs nbautoml (default options) under the benchmark's protocol on one data set and
several split seeds, then refits each candidate on the training rows as nbautoml refits its
model (``random_state`` = the search's seed, the split seed here) and prints its held-out
score:

- ``best``: the trial with the best mean CV score;
- ``chosen``: the single trial nbautoml anchors on (``best_trial_``): ``best``, or the
  best default point the leaderboard's paired test ties with it;
- ``model``: what nbautoml returned (``chosen``, or an ensemble built from it).

For an ensemble it also prints its per-fold scores against the anchor's and their
paired p-value (corrected resampled t-test), the data for gating the ensemble.

With ``--top N`` it also ranks the N trials with the best CV scores by two other rules
that might pick better on small data, and prints the held-out score of each one's pick:

- ``log_loss`` (classification): the lowest out-of-fold log loss, a proper scoring rule
  that counts how sure each prediction was, where accuracy counts only right and wrong;
- ``repeated_cv``: the best mean score over 5 x 3 repeated k-fold on the training rows
  with other folds than the search's (``random_state=1``), less noisy than one k-fold.

``candidates`` lists each of the N with its CV score, the two rules' values and its
held-out score.

Example::

    .venv/bin/python benchmarks/selection_rules.py glass Type multiclass --budget 30 --seeds 0,1,2
    .venv/bin/python benchmarks/selection_rules.py glass Type multiclass --budget 10 --seeds 0-9 --top 10
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402


def trial_pipeline(automl, trial_id: int):
    """A trial's pipeline, unfitted, as nbautoml refits its model (with the search's seed)."""
    from nbautoml.engine.space import build_pipeline

    return build_pipeline(automl._trial(trial_id).config, automl.plan_, automl.task_, random_state=automl.seed)


def held_out(automl, trial_id: int | None, task: str, X_test, y_test) -> float:
    """Held-out score of one trial's pipeline refit on the training rows (None: the returned model)."""
    X = X_test[automl.plan_.used]
    if trial_id is None:
        pipeline = automl.best_pipeline_
    else:
        pipeline = trial_pipeline(automl, trial_id).fit(automl._X, automl._y.to_numpy())
    if task == "binary":
        prediction = pipeline.predict_proba(X)[:, 1]
    else:
        prediction = pipeline.predict(X)
    return bench.held_out_score(task, y_test, prediction)


def fold_scores(automl, trial=None) -> list[float]:
    """Per-fold scores of a trial's (or the model's) out-of-fold predictions."""
    from nbautoml.engine.ensemble import _score
    from nbautoml.engine.metrics import get_metric

    metric = get_metric(automl.metric_, automl.task_)
    y, oof = automl.oof_predictions(trial)
    n_classes = 0 if automl.classes_ is None else len(automl.classes_)
    if automl.validation_.n_splits == 1:  # holdout: the rows returned are the validation rows
        return [_score(metric, y, oof, automl.task_, n_classes)]
    return [_score(metric, y[test], oof[test], automl.task_, n_classes)
            for _, test in automl.validation_.folds]


def repeated_cv_score(automl, trial_id: int, task: str) -> float:
    """Mean score of a trial's pipeline over 5 x 3 repeated (stratified) k-fold on the training
    rows, other folds than the search's, in the metric's direction (greater is better)."""
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, cross_val_score

    splitter = (RepeatedKFold if task == "regression" else RepeatedStratifiedKFold)(
        n_splits=5, n_repeats=3, random_state=1)
    scores = cross_val_score(trial_pipeline(automl, trial_id), automl._X, automl._y.to_numpy(), cv=splitter,
                             scoring=bench.METRIC_OF_TASK[task])  # the protocol's metrics are scikit-learn scorer names
    return float(np.mean(scores))


def out_of_fold_log_loss(automl, trial_id: int) -> float | None:
    """A trial's out-of-fold log loss (None for regression or predictions without probabilities)."""
    from nbautoml.engine.ensemble import class_log_loss

    if automl.task_ == "regression":
        return None
    y, oof = automl.oof_predictions(trial_id)
    if oof.ndim == 1:  # binary: the positive class's probability
        oof = np.column_stack([1 - oof, oof])
    if oof.min() < 0 or oof.max() > 1:
        return None  # decision values, not probabilities
    return class_log_loss(y, oof)


def other_rules(automl, top: int, task: str, X_test, y_test) -> dict:
    """The picks of ``log_loss`` and ``repeated_cv`` among the ``top`` best CV trials."""
    sign = 1 if automl.greater_is_better_ else -1
    ranked = sorted((t for t in automl.trials_ if t.status == "ok" and t.score is not None),
                    key=lambda t: (-sign * t.score, t.trial_id))[:top]
    candidates = [{"trial": t.trial_id, "family": t.family, "source": t.source, "cv": round(t.score, 4),
                   "log_loss": out_of_fold_log_loss(automl, t.trial_id),
                   "repeated_cv": round(repeated_cv_score(automl, t.trial_id, task), 4),
                   "held_out": round(held_out(automl, t.trial_id, task, X_test, y_test), 4)} for t in ranked]
    row = {"candidates": candidates}
    with_loss = [c for c in candidates if c["log_loss"] is not None]
    if with_loss:
        pick = min(with_loss, key=lambda c: (c["log_loss"], c["trial"]))
        row["log_loss"], row["log_loss_trial"] = pick["held_out"], pick["trial"]
    pick = max(candidates, key=lambda c: (c["repeated_cv"], -c["trial"]))
    row["repeated_cv"], row["repeated_cv_trial"] = pick["held_out"], pick["trial"]
    for c in candidates:
        if c["log_loss"] is not None:
            c["log_loss"] = round(c["log_loss"], 4)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("target")
    parser.add_argument("task", choices=["binary", "multiclass", "regression"])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--seeds", default="0", help="split seeds: 0,1,2 or 0-9")
    parser.add_argument("--top", type=int, default=0,
                        help="also rank the N best CV trials by out-of-fold log loss and by 5 x 3 repeated CV")
    parser.add_argument("--datasets-dir", type=Path, default=bench.DEFAULT_DATASETS)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import nbautoml
    from nbautoml.engine.leaderboard import paired_p_value
    from nbautoml.engine.metrics import get_metric

    for seed in bench.parse_seeds(args.seeds):
        bench.SEED = seed
        train, test, _ = bench.load_split(str(args.datasets_dir / f"{args.dataset}.csv"), args.target,
                                          args.task)
        X_test, y_test = test.drop(columns=[args.target]), test[args.target]
        with tempfile.TemporaryDirectory() as tmp:
            automl = nbautoml.AutoML(time_budget=args.budget, seed=seed, metric=bench.METRIC_OF_TASK[args.task],
                                     search_dir=tmp).fit(train, target=args.target)
        best, chosen = automl.overall_best_trial_, automl.best_trial_
        row = {"dataset": args.dataset, "seed": seed, "trials": len(automl.trials_),
               "best": round(held_out(automl, best.trial_id, args.task, X_test, y_test), 4),
               "best_trial": f"{best.trial_id} {best.family} ({best.source})",
               "chosen": round(held_out(automl, chosen.trial_id, args.task, X_test, y_test), 4),
               "chosen_trial": f"{chosen.trial_id} {chosen.family} ({chosen.source})",
               "model": round(held_out(automl, None, args.task, X_test, y_test), 4),
               "ensemble": None}
        if automl.ensemble_ is not None:
            sign = 1 if get_metric(automl.metric_, automl.task_).greater_is_better else -1
            ens, single = fold_scores(automl), fold_scores(automl, chosen.trial_id)
            n_test = np.mean([len(te) for _, te in automl.validation_.folds])
            row["ensemble"] = {
                "weights": {str(k): v for k, v in automl.ensemble_.weights.items()},
                "pooled_gain": round(automl.ensemble_.score - automl.ensemble_.single_score, 5),
                "fold_gain": round(float(np.mean(ens) - np.mean(single)) * sign, 5),
                "folds_better": int(sum(e > s for e, s in zip(ens, single))),
                "p": round(paired_p_value(ens, single, n_test / (len(train) - n_test)), 4)}
        if args.top > 0:
            row.update(other_rules(automl, args.top, args.task, X_test, y_test))
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
