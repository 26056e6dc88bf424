"""juice's rows as customers (``benchmarks/juice_ids.py``), on the real file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import DATASETS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
juice_ids = pytest.importorskip("juice_ids")


def test_juice_is_runs_of_customers_whose_loyalty_moves_a_fifth_after_each_purchase():
    if not DATASETS.exists():
        pytest.skip(f"the shared data sets are not at {DATASETS}")
    juice = pd.read_csv(DATASETS / "juice.csv")
    runs = juice_ids.customer_runs(juice)
    sizes = np.bincount(runs)[1:]
    assert len(sizes) == 174 and sizes.sum() == len(juice) == 1070
    assert np.median(sizes) == 3 and sizes.max() == 42
    # within a run the weeks never go back, and the loyalty is the update of the row before's
    same = np.r_[False, runs[1:] == runs[:-1]]
    bought_ch = (juice["Purchase"] == "CH").to_numpy(float)
    expected = 0.8 * juice["LoyalCH"].to_numpy()[:-1] + 0.2 * bought_ch[:-1]
    assert np.abs(expected - juice["LoyalCH"].to_numpy()[1:])[same[1:]].max() < 0.006
    assert (np.diff(juice["WeekofPurchase"].to_numpy())[same[1:]] >= 0).all()
    # the protocol's random 75/25 split: 255 of the 268 test rows are purchases of customers with
    # rows in training; the split by customer: none
    train, test = juice_ids.split(juice, runs, "random", 0)
    assert np.isin(runs[test], runs[train]).sum() == 255 and len(test) == 268
    train, test = juice_ids.split(juice, runs, "customer", 0)
    assert not set(runs[train]) & set(runs[test])
