"""RELIABILITY L-06 (``pytest -m load``): a registry of 1,000 versions of a model lists and
loads its latest as fast as a registry of one (measured: list 3 ms, latest 74 ms either way,
of which loading the file itself is most)."""

from __future__ import annotations

import time
import warnings

import pandas as pd
import pytest

from nbautoml import AutoML, persist
from nbautoml.registry import Registry


def _best_of(runs: int, call) -> float:
    """The fastest of ``runs`` calls, in seconds, as timeit takes."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


@pytest.mark.load
@pytest.mark.timeout(900)
def test_a_registry_of_a_thousand_versions_lists_and_loads_the_latest_within_100_ms(datasets_dir, tmp_path):
    frame = pd.read_csv(datasets_dir / "iris.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = AutoML(max_evals=1, time_budget=None, n_jobs=1, models=["logistic_regression"], ensemble=False,
                        search_dir=tmp_path / "runs").fit(frame, target="species")
    registry = Registry(tmp_path / "registry")
    first = registry.register(result, "iris", stage="production")
    file_alone = _best_of(5, lambda: persist.load(first.path, sha256=first.sha256))
    one = {"list": _best_of(5, registry.list), "latest": _best_of(5, lambda: registry.load("iris"))}
    for i in range(999):
        registry.register(result, "iris", stage="staging" if i % 100 == 0 else None)
    thousand = {"list": _best_of(5, registry.list), "latest": _best_of(5, lambda: registry.load("iris")),
                "production": _best_of(5, lambda: registry.load("iris@production"))}
    print(f"file alone {file_alone * 1000:.1f} ms; 1 version {one}; 1,000 versions {thousand}")
    assert registry.list()["versions"].tolist() == [1000]
    assert registry.load("iris").registry_ref_ == "iris@1000"
    assert registry.load("iris@production").registry_ref_ == "iris@1"
    assert thousand["list"] < 0.1 and thousand["latest"] < 0.1 + file_alone, thousand
    assert thousand["latest"] < one["latest"] + 0.02 and thousand["list"] < one["list"] + 0.02, (one, thousand)
