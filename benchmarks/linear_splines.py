"""The default linear pipeline with and without B-spline features for its numbers.

For each data set and split seed of the benchmark protocol, the default linear pipeline
(ridge for regression, logistic regression for classification) is fitted as the search
builds it, once with ``pre["splines"] = False`` (numbers clipped to the training range and
scaled) and once with ``True`` (each number through a cubic B-spline basis of 5 knots over
the training range, constant beyond it: an additive model). It prints the 5-fold CV score
on the training rows and the held-out score of each, protocol metric.

Example::

    .venv/bin/python benchmarks/linear_splines.py --split-seeds 0-2
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402
from linear_clip import protocol_split, scores  # noqa: E402


def compare(datasets_dir: Path, name: str, seed: int) -> dict:
    """Both variants of one data set's default linear pipeline on one split."""
    from nbautoml.engine import data, space

    task, X_train, y_train, X_test, y_test = protocol_split(datasets_dir, name, seed)
    plan = data.plan_columns(X_train)
    linear = "ridge" if task == "regression" else "logistic_regression"
    config = next(c for c in space.default_points(space.resolve_families(task), bool(plan.names("categorical")),
                                                  bool(plan.names("text")), 8, len(X_train))
                  if c["family"] == linear)
    row = {"dataset": name, "split_seed": seed, "metric": bench.METRIC_OF_TASK[task]}
    for splines in (False, True):
        variant = dict(config, pre=dict(config["pre"], splines=splines))
        start = time.perf_counter()
        cv, test = scores(space.build_pipeline(variant, plan, task), task, X_train, y_train, X_test, y_test)
        row["splines" if splines else "plain"] = {"cv": cv, "test": test,
                                                  "seconds": round(time.perf_counter() - start, 2)}
    return row


def report(rows: list[dict]) -> str:
    """One line per case, then how often each score went up or down with splines."""
    lines = [f"{'dataset':10} {'seed':>4} {'metric':>9} | plain: cv    test      s | splines: cv    test      s"
             " | change: cv    test"]
    cv_changes, test_changes = [], []
    for r in rows:
        p, s = r["plain"], r["splines"]
        cv_changes.append(s["cv"] - p["cv"])
        test_changes.append(s["test"] - p["test"])
        lines.append(f"{r['dataset']:10} {r['split_seed']:>4} {r['metric']:>9} | {p['cv']:9.4f} {p['test']:.4f} "
                     f"{p['seconds']:6.2f} | {s['cv']:11.4f} {s['test']:.4f} {s['seconds']:6.2f} | "
                     f"{cv_changes[-1]:+10.4f} {test_changes[-1]:+.4f}")
    lines.append(bench.change_counts("CV score with splines:", cv_changes))
    lines.append(bench.change_counts("held-out score with splines:", test_changes))
    return "\n".join(lines)


def main(argv=None) -> int:
    args = bench.case_parser(__doc__, "all but text-only spam").parse_args(argv)
    warnings.filterwarnings("ignore")
    names = (args.only.split(",") if args.only else
             [r["dataset"] for r in bench.read_index(args.datasets_dir) if r["dataset"] != "spam"])
    rows = [compare(args.datasets_dir, name, seed) for name in names for seed in args.split_seeds]
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
