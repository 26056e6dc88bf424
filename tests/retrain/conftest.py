"""A champion fitted once on the first period of ``employee``, and batches with an injected concept shift.

The rows are shuffled once (seed 0) and read as a time series: the champion is
trained on rows 0-2999, then batches of 1,000 rows arrive. From the shift on,
the target is flipped for employees with ``satisfaction_level < 0.5`` (who
used to leave now stay, and the reverse): the inputs do not change, only the
relation between inputs and target, so only labelled monitoring can see it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd
import pytest

from tests.conftest import load_dataset

N_TRAIN = 3000
BATCH = 1000
MODELS = ["decision_tree", "random_forest"]


def shift(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The concept shift: the target flipped where satisfaction_level < 0.5."""
    frame = frame.copy()
    region = frame["satisfaction_level"] < 0.5
    frame.loc[region, target] = 1 - frame.loc[region, target]
    return frame


@dataclass
class Period:
    result: object  # the champion's AutoML
    frame: pd.DataFrame  # every row, shuffled once
    target: str

    def batch(self, i: int, shifted: bool = False) -> pd.DataFrame:
        start = N_TRAIN + i * BATCH
        part = self.frame.iloc[start:start + BATCH].reset_index(drop=True)
        return shift(part, self.target) if shifted else part

    def later(self, shifted: bool = False) -> pd.DataFrame:
        """Rows after the first eight batches (never used to train or monitor), for final scores."""
        part = self.frame.iloc[N_TRAIN + 8 * BATCH:].reset_index(drop=True)
        return shift(part, self.target) if shifted else part


@pytest.fixture(scope="session")
def period(datasets_dir, tmp_path_factory) -> Period:
    from nbautoml import AutoML

    frame, target, _task = load_dataset("employee")
    frame = frame.sample(frac=1, random_state=0).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = AutoML(max_evals=3, time_budget=60, models=MODELS, seed=0,
                        search_dir=tmp_path_factory.mktemp("retrain_runs")).fit(
            frame.iloc[:N_TRAIN], target=target)
    return Period(result, frame, target)
