"""Which final choice scores best on held-out data: the best CV trial, a tied default, or the ensemble?

Runs nbautoml (default options) under the benchmark's protocol on one data set and
several split seeds, then refits each candidate on the training rows and prints its
held-out score:

- ``best``: the trial with the best mean CV score;
- ``chosen``: the single trial nbautoml anchors on (``best_trial_``): ``best``, or the
  best default point the leaderboard's paired test ties with it;
- ``model``: what nbautoml returned (``chosen``, or an ensemble built from it).

For an ensemble it also prints its per-fold scores against the anchor's and their
paired p-value (corrected resampled t-test), the data for gating the ensemble.

Example::

    .venv/bin/python benchmarks/selection_rules.py glass Type multiclass --budget 30 --seeds 0,1,2
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


def held_out(automl, trial_id: int | None, task: str, X_test, y_test) -> float:
    """Held-out score of one trial's pipeline refit on the training rows (None: the returned model)."""
    from nbautoml.engine.space import build_pipeline

    X = X_test[automl.plan_.used]
    if trial_id is None:
        pipeline = automl.best_pipeline_
    else:
        config = next(t.config for t in automl.trials_ if t.trial_id == trial_id)
        pipeline = build_pipeline(config, automl.plan_, automl.task_, random_state=0)
        pipeline.fit(automl._X, automl._y.to_numpy())
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("target")
    parser.add_argument("task", choices=["binary", "multiclass", "regression"])
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--seeds", default="0", help="comma-separated split seeds")
    parser.add_argument("--datasets-dir", type=Path, default=bench.DEFAULT_DATASETS)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import nbautoml
    from nbautoml.engine.leaderboard import paired_p_value
    from nbautoml.engine.metrics import get_metric

    for seed in (int(s) for s in args.seeds.split(",")):
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
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
