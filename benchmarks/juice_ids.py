"""What juice's ``Id`` column is worth, split at random and split by customer.

nbautoml drops ``Id`` (a distinct integer per row, RELIABILITY D-16); the benchmark's
defaults keep it, and on the protocol's split the default forest scores 0.9031 with it
and 0.8805 without it. The rows of juice (ISLR's ``OJ``) are the purchases of 174-odd
customers, each customer's in a run of consecutive rows: ``LoyalCH`` ("customer brand
loyalty for CH" in ISLR's documentation) moves after each purchase to
``0.8 * LoyalCH + 0.2 * [bought CH]``, which is what the file shows from one row to the
next within a run. This script finds the runs from that rule (a row continues the
previous row's customer when its loyalty is the update of the previous row's and its
week is not earlier), so ``Id`` is in effect a customer number.

A random 75/25 split (the protocol's) puts most customers' purchases on both sides; a
split by customer (scikit-learn's ``GroupShuffleSplit``, 25 % of the customers held out)
asks what a deployed model faces: customers it has not seen. Per split seed it prints the
held-out ROC AUC of both defaults (the benchmark's preprocessing) with and without
``Id``, and with ``--budget S`` nbautoml's (which drops ``Id``) on the same rows.

Example::

    .venv/bin/python benchmarks/juice_ids.py --split-seeds 0-9 --budget 10
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402

TARGET = "Purchase"
LOYALTY_STEP = 0.2  # LoyalCH moves a fifth of the way to 1 (bought CH) or to 0 (bought MM)
LOYALTY_TOLERANCE = 0.006  # the file rounds LoyalCH to 6 decimals; 0.006 is far below a step


def customer_runs(df) -> np.ndarray:
    """A customer number per row: a new one wherever a row does not continue the previous
    row's loyalty (``LoyalCH``) update or goes back in time (``WeekofPurchase``)."""
    bought_ch = (df[TARGET] == "CH").astype(float)
    expected = (1 - LOYALTY_STEP) * df["LoyalCH"].shift() + LOYALTY_STEP * bought_ch.shift()
    same = ((expected - df["LoyalCH"]).abs() < LOYALTY_TOLERANCE) & (
        df["WeekofPurchase"] >= df["WeekofPurchase"].shift())
    return (~same).cumsum().to_numpy()


def split(df, groups, how: str, seed: int):
    """Train and test row positions: ``random`` (stratified, the protocol's) or ``customer``."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    rows = np.arange(len(df))
    if how == "random":
        return train_test_split(rows, test_size=0.25, random_state=seed, stratify=df[TARGET])
    return next(GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=seed).split(rows, groups=groups))


def scores(df, train_rows, test_rows, budget: float | None) -> dict[str, float]:
    """Held-out ROC AUC of each system on one split."""
    train, test = df.iloc[train_rows], df.iloc[test_rows]
    y_train, y_test = train[TARGET], test[TARGET]
    out = {}
    for system, short in (("random_forest", "RF"), ("hist_gradient_boosting", "HGB")):
        for keep_id in (True, False):
            drop = [TARGET] if keep_id else [TARGET, "Id"]
            prediction, *_ = bench.run_default(system, "binary", train.drop(columns=drop), y_train,
                                               test.drop(columns=drop), None, random_state=0)
            out[f"{short} {'with' if keep_id else 'without'} Id"] = bench.held_out_score("binary", y_test, prediction)
    if budget:
        prediction, *_ = bench.run_nbautoml("binary", train.drop(columns=[TARGET]), y_train,
                                            test.drop(columns=[TARGET]), budget, TARGET)
        out["nbautoml"] = bench.held_out_score("binary", y_test, prediction)
    return out


def main(argv=None) -> int:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets-dir", type=Path, default=bench.DEFAULT_DATASETS)
    parser.add_argument("--split-seeds", default="0-4", help="e.g. 0-9 or 0,3 (default 0-4)")
    parser.add_argument("--budget", type=float, help="also run nbautoml with this time budget (s)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    df = pd.read_csv(args.datasets_dir / "juice.csv")
    groups = customer_runs(df)
    sizes = np.bincount(groups)[1:]
    print(f"juice: {len(df)} rows; {len(sizes)} customer runs (median {np.median(sizes):.0f} purchases, "
          f"max {sizes.max()}); {len(df) - len(sizes)} of {len(df) - 1} rows continue the previous row's customer")
    seeds = bench.parse_seeds(args.split_seeds)
    for how in ("random", "customer"):
        table = pd.DataFrame([scores(df, *split(df, groups, how, seed), args.budget) for seed in seeds],
                             index=pd.Index(seeds, name="seed"))
        print(f"\nsplit {'at random (the protocol)' if how == 'random' else 'by customer'}: held-out ROC AUC")
        print(table.round(4).to_string())
        mean = table.mean()
        print("mean     " + "  ".join(f"{name} {value:.4f}" for name, value in mean.items()))
        for short in ("RF", "HGB"):
            gain = table[f"{short} with Id"] - table[f"{short} without Id"]
            print(f"{short}: Id adds {gain.mean():+.4f} on average ({gain.min():+.4f} to {gain.max():+.4f})")
        if "nbautoml" in table:
            better = table[["RF with Id", "HGB with Id"]].max(axis=1)
            gap = table["nbautoml"] - better
            print(f"nbautoml minus the better default (with Id): mean {gap.mean():+.4f}, "
                  f"below by more than 0.005 on {int((gap < -0.005).sum())} of {len(gap)} splits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
