"""Would another rule for choosing the final pipeline score better on held-out data?

Runs nbautoml (``ensemble=False``) under the benchmark's protocol on one data set and
several split seeds. For each rule it refits the pipeline the rule picks and prints that
pipeline's held-out score:

- ``best``: the best mean CV score (nbautoml's single-pipeline choice today);
- ``default``: among the trials the leaderboard marks as tied with the best (paired
  corrected t-test, p >= 0.05), the best-scoring default point; ``best`` when none is tied.

Example::

    .venv/bin/python benchmarks/selection_rules.py glass Type multiclass --budget 30 --seeds 0,1,2,3,4,5
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402


def choices(automl) -> dict[str, int]:
    """Trial id chosen by each rule."""
    board = automl.leaderboard
    ok = board[board["status"] == "ok"]
    by_id = {t.trial_id: t for t in automl.trials_}
    best = int(ok.iloc[0]["trial"])
    tied_defaults = [int(r.trial) for r in ok.itertuples()
                     if r.tied_with_best and by_id[int(r.trial)].source == "default"]
    return {"best": best, "default": tied_defaults[0] if tied_defaults else best}


def held_out(automl, trial_id: int, task: str, X_test, y_test) -> float:
    """Refit one trial's pipeline on the training rows and score it on the test rows."""
    from nbautoml.engine.space import build_pipeline

    config = next(t.config for t in automl.trials_ if t.trial_id == trial_id)
    pipeline = build_pipeline(config, automl.plan_, automl.task_, random_state=0)
    pipeline.fit(automl._X, automl._y.to_numpy())
    X = X_test[automl.plan_.used]
    prediction = pipeline.predict_proba(X)[:, 1] if task == "binary" else pipeline.predict(X)
    return bench.held_out_score(task, y_test, prediction)


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

    for seed in (int(s) for s in args.seeds.split(",")):
        bench.SEED = seed
        train, test, _ = bench.load_split(str(args.datasets_dir / f"{args.dataset}.csv"), args.target,
                                          args.task)
        X_test, y_test = test.drop(columns=[args.target]), test[args.target]
        with tempfile.TemporaryDirectory() as tmp:
            automl = nbautoml.AutoML(time_budget=args.budget, seed=0, metric=bench.METRIC_OF_TASK[args.task],
                                     search_dir=tmp, ensemble=False).fit(train, target=args.target)
        row = {"seed": seed, "trials": len(automl.trials_),
               "tied": int(automl.leaderboard["tied_with_best"].sum())}
        by_id = {t.trial_id: t for t in automl.trials_}
        for rule, trial_id in choices(automl).items():
            row[rule] = round(held_out(automl, trial_id, args.task, X_test, y_test), 4)
            row[f"{rule}_trial"] = f"{trial_id} {by_id[trial_id].family} ({by_id[trial_id].source})"
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
