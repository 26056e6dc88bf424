"""Regressors on the target as it is, or on the standardized target.

An SVR's ``epsilon`` and ``C``, a linear SVR's and a lasso's penalty and a neural net's
loss are in the target's units, so on a target in dollars their defaults fit badly.
nbautoml fits those families on the standardized target (``Family.scale_target``: a
``TransformedTargetRegressor`` with a ``StandardScaler``). This script builds each
family's default pipeline on the benchmark's training rows of each regression data set
and prints its 5-fold CV R² and held-out R², with the estimator as it is and wrapped.

Example::

    .venv/bin/python benchmarks/target_scale.py --only house,insurance,concrete
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402
from linear_clip import protocol_split, scores  # noqa: E402

FAMILIES = ("svm", "linear_svm", "mlp", "lasso", "elastic_net", "ridge")


def compare(datasets_dir: Path, name: str, seed: int, families) -> list[str]:
    """One line per family: CV and held-out R², target as it is | standardized."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    from nbautoml.engine import data, space

    task, X_train, y_train, X_test, y_test = protocol_split(datasets_dir, name, seed)
    plan = data.plan_columns(X_train)
    has_cat = bool(plan.names("categorical"))
    lines = []
    for family in families:
        config = space.default_points([family], has_cat, False, 1)[0]
        cells = []
        for scaled in (False, True):
            pipeline = space.build_pipeline(config, plan, task)
            model = pipeline.steps[-1][1]
            model = model.regressor if isinstance(model, TransformedTargetRegressor) else model
            if scaled:
                model = TransformedTargetRegressor(regressor=model, transformer=StandardScaler(), check_inverse=False)
            pipeline.steps[-1] = ("model", model)
            start = time.perf_counter()
            cv, held_out = scores(pipeline, task, X_train, y_train, X_test, y_test)
            cells.append(f"{cv:8.4f} {held_out:8.4f} {time.perf_counter() - start:5.1f}s")
        lines.append(f"{name:10} {seed:>4} {family:12} | {cells[0]} | {cells[1]}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets-dir", type=Path, default=bench.DEFAULT_DATASETS)
    parser.add_argument("--only", default="house,insurance,concrete",
                        help="comma-separated regression data sets")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--split-seeds", type=bench.parse_seeds, default=[0])
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"{'dataset':10} {'seed':>4} {'family':12} | as it is: cv    test  time | standardized: cv test time")
    for name in args.only.split(","):
        for seed in args.split_seeds:
            for line in compare(args.datasets_dir, name, seed, args.families.split(",")):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
