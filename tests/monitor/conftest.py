"""Fitted models on real data sets, split into a training part and held-out batches of 500 rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tests.conftest import load_dataset

BATCH = 500


@dataclass
class Split:
    """A model fitted on ``ref``; ``rest`` holds rows it never saw (same distribution)."""

    name: str
    result: object
    ref: pd.DataFrame
    rest: pd.DataFrame
    target: str
    task: str

    def batches(self, limit: int | None = None) -> list[pd.DataFrame]:
        n = len(self.rest) // BATCH
        n = n if limit is None else min(n, limit)
        return [
            self.rest.iloc[i * BATCH : (i + 1) * BATCH].reset_index(drop=True) for i in range(n)
        ]


def fit_split(name: str, models: list[str], n_ref: int, search_dir, **options) -> Split:
    """One small real search (3 trials of the given families) on ``n_ref`` random rows."""
    from nbautoml import AutoML

    frame, target, task = load_dataset(name)
    order = np.random.default_rng(0).permutation(len(frame))
    ref = frame.iloc[order[:n_ref]].reset_index(drop=True)
    rest = frame.iloc[order[n_ref:]].reset_index(drop=True)
    result = AutoML(
        max_evals=3, time_budget=60, seed=0, models=models, search_dir=search_dir, **options
    ).fit(ref, target=target)
    return Split(name, result, ref, rest, target, task)
