"""house: the held-out R² with and without the two unusual sales, per split.

house (Ames, Iowa) holds two houses of more than 4,500 sq ft living area that sold as
partial sales for $160,000 and $184,750, far below any model's prediction; the data set's
author advises removing houses above 4,000 sq ft before teaching with it (De Cock, Journal
of Statistics Education 19(3), 2011). Each split puts none, one or both of them among the
test rows, and one such row moves a test R² by 0.05 or more. This script fits nbautoml and
the two default models exactly as ``run_benchmark.py`` does, for each split seed, and prints
each system's test R² on all test rows and on the test rows without those sales (their
count in the test and training rows is printed too). The models are the same; only the
scoring leaves the rows out.

Example::

    .venv/bin/python benchmarks/house_outliers.py --budget 10 --split-seeds 0-4
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402

SYSTEMS = ("nbautoml", "random_forest", "hist_gradient_boosting")
UNUSUAL_LIVING_AREA = 4500  # sq ft (GrLivArea); the two partial sales above it


def split_scores(path: Path, split_seed: int, budget: float) -> dict:
    """Test R² of each system on one split: all rows, and without the unusual sales."""
    from sklearn.metrics import r2_score

    bench.SEED = split_seed
    train, test, _ = bench.load_split(str(path), "SalePrice", "regression")
    X_train, y_train = train.drop(columns=["SalePrice"]), train["SalePrice"]
    X_test, y_test = test.drop(columns=["SalePrice"]), test["SalePrice"].to_numpy(float)
    unusual = (X_test["GrLivArea"] > UNUSUAL_LIVING_AREA).to_numpy()
    row = {"split_seed": split_seed, "budget": budget, "unusual_in_test": int(unusual.sum()),
           "unusual_in_train": int((X_train["GrLivArea"] > UNUSUAL_LIVING_AREA).sum())}
    for system in SYSTEMS:
        if system == "nbautoml":
            prediction, *_ = bench.run_nbautoml("regression", X_train, y_train, X_test, budget, "SalePrice")
        else:
            prediction, *_ = bench.run_default(system, "regression", X_train, y_train, X_test, budget)
        prediction = np.asarray(prediction, dtype=float)
        row[system] = {"all": round(float(r2_score(y_test, prediction)), 4),
                       "without": round(float(r2_score(y_test[~unusual], prediction[~unusual])), 4)}
    return row


def report(rows: list[dict]) -> str:
    """One line per split; then the means and nbautoml's gap to the better default."""
    head = (f"{'split':>5} {'unusual test/train':>18} | "
            + " | ".join(f"{bench.SHORT[s]:>10} all  without" for s in SYSTEMS)
            + " | gap to better default: all  without")
    lines = [head]
    gaps = {"all": [], "without": []}
    for row in rows:
        cells = " | ".join(f"{'':>10} {row[s]['all']:.4f} {row[s]['without']:.4f}" for s in SYSTEMS)
        gap = {k: row["nbautoml"][k] - max(row[s][k] for s in bench.DEFAULTS) for k in gaps}
        for k in gaps:
            gaps[k].append(gap[k])
        lines.append(f"{row['split_seed']:>5} {row['unusual_in_test']:>9}/{row['unusual_in_train']:<8} | {cells}"
                     f" | {'':>21}{gap['all']:+.4f} {gap['without']:+.4f}")
    means = " | ".join(f"{'':>10} {np.mean([r[s]['all'] for r in rows]):.4f} "
                       f"{np.mean([r[s]['without'] for r in rows]):.4f}" for s in SYSTEMS)
    lines.append(f"{'mean':>5} {'':>18} | {means} | {'':>21}{np.mean(gaps['all']):+.4f} "
                 f"{np.mean(gaps['without']):+.4f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets-dir", type=Path, default=bench.DEFAULT_DATASETS)
    parser.add_argument("--budget", type=float, default=10.0, help="nbautoml's time budget, seconds")
    parser.add_argument("--split-seeds", type=bench.parse_seeds, default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, help="also append the rows as JSONL here")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    rows = []
    for seed in args.split_seeds:
        rows.append(split_scores(args.datasets_dir / "house.csv", seed, args.budget))
        print(f"split seed {seed}: done", file=sys.stderr, flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(json.dumps(rows[-1]) + "\n")
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
