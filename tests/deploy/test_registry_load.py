"""RELIABILITY L-06 (``pytest -m load``): a registry of 1,000 versions of a model lists and
loads its latest as fast as a registry of one (measured: list 3-5 ms, finding the latest version
under 2 ms, loading it 74-116 ms either way, of which loading the file itself is all but the lookup).

The lookup (``Registry.get``) is what could grow with the versions, so that is what is compared
between one version and 1,000; the load of a ~100 ms file varies by 20-30 ms between two
measurements on a busy machine (CI, 2026-12-07: 88 ms with one version, 117 ms with 1,000, while
the file alone took 105 ms), so a load is only bounded by the file's own load time plus 100 ms."""

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
    one = {"list": _best_of(5, registry.list), "find latest": _best_of(20, lambda: registry.get("iris")),
           "latest": _best_of(5, lambda: registry.load("iris"))}
    for i in range(999):
        registry.register(result, "iris", stage="staging" if i % 100 == 0 else None)
    latest = registry.get("iris")
    latest_file_alone = _best_of(5, lambda: persist.load(latest.path, sha256=latest.sha256))
    thousand = {"list": _best_of(5, registry.list), "find latest": _best_of(20, lambda: registry.get("iris")),
                "find production": _best_of(20, lambda: registry.get("iris@production")),
                "latest": _best_of(5, lambda: registry.load("iris")),
                "production": _best_of(5, lambda: registry.load("iris@production"))}
    print(f"file alone {file_alone * 1000:.1f} ms, {latest_file_alone * 1000:.1f} ms; 1 version {one}; "
          f"1,000 versions {thousand}")
    assert registry.list()["versions"].tolist() == [1000]
    assert latest.version == 1000 and registry.load("iris").registry_ref_ == "iris@1000"
    assert registry.load("iris@production").registry_ref_ == "iris@1"
    assert thousand["list"] < 0.1, thousand
    assert thousand["latest"] < 0.1 + latest_file_alone and thousand["production"] < 0.1 + file_alone, thousand
    # What grows with the versions, if anything: the lookups, not the file loads.
    assert thousand["list"] < one["list"] + 0.02, (one, thousand)
    assert thousand["find latest"] < one["find latest"] + 0.01, (one, thousand)
    assert thousand["find production"] < one["find latest"] + 0.01, (one, thousand)
