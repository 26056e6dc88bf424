"""Small real searches (fast model families, a few trials) shared by the render tests.

Each search records the events its listeners received, copied at the time they were sent, so
the panel tests can replay a real search without running it again.
"""

from __future__ import annotations

import copy

import pytest

from nbautoml.engine.records import SearchEvent
from tests.conftest import load_dataset

FAST_CLASSIFIERS = ["logistic_regression", "decision_tree", "naive_bayes"]
FAST_REGRESSORS = ["ridge", "decision_tree", "knn"]


class EventRecorder:
    """A search listener that keeps a copy of every event (the live TrialRecords change later)."""

    def __init__(self):
        self.events: list[SearchEvent] = []

    def __call__(self, event) -> None:
        data = {k: (v if k == "result" else copy.deepcopy(v)) for k, v in event.data.items()}
        self.events.append(SearchEvent(event.kind, data))


def run_search(name, target_task, models, max_evals, tmp_dir, rows=None, **kwargs):
    from nbautoml import AutoML

    frame, target, task = load_dataset(name, rows=rows)
    assert task == target_task
    recorder = EventRecorder()
    callbacks = [recorder] + list(kwargs.pop("callbacks", []))
    result = AutoML(time_budget=120, max_evals=max_evals, seed=0, models=models, search_dir=tmp_dir,
                    callbacks=callbacks, **kwargs).fit(frame, target=target)
    return result, recorder.events


@pytest.fixture(scope="session")
def binary_search(datasets_dir, tmp_path_factory):
    """blood (748 rows, 4 numeric columns): binary, roc_auc."""
    return run_search("blood", "binary", FAST_CLASSIFIERS, 6, tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def multiclass_search(datasets_dir, tmp_path_factory):
    """iris (150 rows): multiclass, accuracy (out-of-fold predictions are labels)."""
    return run_search("iris", "multiclass", FAST_CLASSIFIERS, 5, tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def regression_search(datasets_dir, tmp_path_factory):
    """concrete (1030 rows, 8 numeric columns): regression, r2."""
    return run_search("concrete", "regression", FAST_REGRESSORS, 5, tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def searches(binary_search, multiclass_search, regression_search):
    return {"binary": binary_search[0], "multiclass": multiclass_search[0],
            "regression": regression_search[0]}
