"""Small real searches shared by the explain / cost / prefer tests (one per data set)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import load_dataset

NOISE = ["noise_normal", "noise_uniform", "noise_category"]


def random_forest(n_estimators: int) -> dict:
    """A random forest config; only the number of trees varies between the tests' forests."""
    return {"family": "random_forest",
            "params": {"n_estimators": n_estimators, "max_features": 0.35, "min_samples_leaf": 2,
                       "bootstrap": True},
            "pre": {}}


@pytest.fixture(scope="session")
def concrete_noisy(datasets_dir, tmp_path_factory):
    """concrete (regression) with three pure-noise columns, searched over forests and ridge."""
    from nbautoml import AutoML

    frame, target, task = load_dataset("concrete")
    assert task == "regression"
    rng = np.random.default_rng(42)
    frame["noise_normal"] = rng.normal(size=len(frame))
    frame["noise_uniform"] = rng.uniform(size=len(frame))
    frame["noise_category"] = rng.choice(["a", "b", "c", "d"], size=len(frame))
    return AutoML(max_evals=3, time_budget=None, models=["extra_trees", "random_forest", "ridge"],
                  seed=0, search_dir=tmp_path_factory.mktemp("concrete")).fit(frame, target=target)


@pytest.fixture(scope="session")
def diabetes_fast(datasets_dir, tmp_path_factory):
    """diabetes (binary), prefer="fast", between a 300-tree and a 30-tree forest (else identical)."""
    from nbautoml import AutoML

    frame, target, task = load_dataset("diabetes")
    assert task == "binary"
    return AutoML(max_evals=2, time_budget=None, models=["random_forest"], n_default_points=0,
                  warm_start=[random_forest(300), random_forest(30)], prefer="fast", seed=0,
                  search_dir=tmp_path_factory.mktemp("diabetes")).fit(frame, target=target)
