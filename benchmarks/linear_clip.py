"""Clipping a linear model's numbers: to the training range or to its 1st-99th percentiles.

nbautoml's scale-sensitive pipelines clip each number before scaling (``clip=True``, the
default) to the training minimum and maximum (``MinMaxScaler(clip=True)``). This script fits
the default linear pipeline (ridge for regression, logistic regression for classification)
twice on the benchmark's training rows of each data set and split seed: once as it is, once
clipping to the 1st and 99th training percentiles instead (``PercentileClipScaler`` below;
nbautoml used it from 6df7081 until the 30 s runs showed it losing on house, see
FINDINGS.md). It prints each one's 5-fold CV score on the training rows and its held-out
score on the test rows, with the protocol's metric.

Example::

    .venv/bin/python benchmarks/linear_clip.py --split-seeds 0-2
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.validation import check_array

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402


class PercentileClipScaler(MinMaxScaler):
    """``MinMaxScaler(clip=True)`` between each column's 1st and 99th training percentiles.

    A column whose two percentiles coincide (a rare flag) keeps its minimum and maximum.
    """

    def __init__(self, quantile=0.01, feature_range=(0, 1), *, copy=True, clip=True):
        super().__init__(feature_range=feature_range, copy=copy, clip=clip)
        self.quantile = quantile

    def fit(self, X, y=None):
        super().fit(X, y)
        values = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
        low, high = np.nanquantile(values, [self.quantile, 1 - self.quantile], axis=0)
        collapsed = ~(high > low)
        low = np.where(collapsed, self.data_min_, low)
        high = np.where(collapsed, self.data_max_, high)
        self.data_min_, self.data_max_, self.data_range_ = low, high, high - low
        start, stop = self.feature_range
        self.scale_ = (stop - start) / np.where(self.data_range_ > 0, self.data_range_, 1.0)
        self.min_ = start - low * self.scale_
        return self


CASES = ("house", "insurance", "concrete", "diabetes", "blood", "juice", "titanic", "credit", "CTG", "glass")


def scores(pipeline, task, X_train, y_train, X_test, y_test) -> tuple[float, float]:
    """5-fold CV score on the training rows and the held-out score, protocol metric."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

    folds = (KFold if task == "regression" else StratifiedKFold)(5, shuffle=True, random_state=0)
    method = "predict_proba" if task == "binary" else "predict"
    oof = cross_val_predict(pipeline, X_train, y_train, cv=folds, method=method)
    pipeline.fit(X_train, y_train)
    test = getattr(pipeline, method)(X_test)
    if task == "binary":
        oof, test = oof[:, 1], test[:, 1]
    return bench.held_out_score(task, y_train, oof), bench.held_out_score(task, y_test, test)


def protocol_split(datasets_dir: Path, name: str, seed: int):
    """The benchmark's split of one data set: ``(task, X_train, y_train, X_test, y_test)``."""
    index = {row["dataset"]: row for row in bench.read_index(datasets_dir)}
    target, task = index[name]["target"], index[name]["task"]
    bench.SEED = seed
    train, test, _ = bench.load_split(str(datasets_dir / index[name]["file"]), target, task)
    return (task, train.drop(columns=[target]), train[target], test.drop(columns=[target]), test[target])


def compare(datasets_dir: Path, name: str, seed: int) -> dict:
    """Both clippings of one data set's default linear pipeline on one split."""
    from nbautoml.engine import data, space

    task, X_train, y_train, X_test, y_test = protocol_split(datasets_dir, name, seed)
    plan = data.plan_columns(X_train)
    linear = "ridge" if task == "regression" else "logistic_regression"
    config = next(c for c in space.default_points(space.resolve_families(task), bool(plan.names("categorical")),
                                                  False, 8, len(X_train)) if c["family"] == linear)
    row = {"dataset": name, "split_seed": seed, "metric": bench.METRIC_OF_TASK[task]}
    for variant in ("range", "percentiles"):
        pipeline = space.build_pipeline(config, plan, task)
        if variant == "percentiles":
            for part in ("num", "date"):
                if f"features__{part}__clip" in pipeline.get_params():
                    pipeline.set_params(**{f"features__{part}__clip": PercentileClipScaler()})
        row[variant] = dict(zip(("cv", "test"), scores(pipeline, task, X_train, y_train, X_test, y_test)))
    return row


def report(rows: list[dict]) -> str:
    """One line per case, then how often the held-out score went up or down."""
    lines = [f"{'dataset':10} {'seed':>4} {'metric':>9} | range: cv    test | percentiles: cv    test | test change"]
    changes = []
    for r in rows:
        change = r["percentiles"]["test"] - r["range"]["test"]
        changes.append(change)
        lines.append(f"{r['dataset']:10} {r['split_seed']:>4} {r['metric']:>9} | {r['range']['cv']:10.4f} "
                     f"{r['range']['test']:.4f} | {r['percentiles']['cv']:16.4f} {r['percentiles']['test']:.4f} "
                     f"| {change:+.4f}")
    cv = np.mean([r["percentiles"]["cv"] - r["range"]["cv"] for r in rows])
    lines.append(bench.change_counts("held-out score", changes) + f"; mean CV change {cv:+.4f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = bench.case_parser(__doc__, "ten of them").parse_args(argv)
    warnings.filterwarnings("ignore")
    names = args.only.split(",") if args.only else CASES
    rows = [compare(args.datasets_dir, name, seed) for name in names for seed in args.split_seeds]
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
