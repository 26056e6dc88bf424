"""L-05: monitoring 100 batches of 10,000 rows stays fast and flat (``pytest -m load``)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from nbautoml.monitor import history, monitor
from nbautoml.monitor.history import default_path

from .conftest import fit_split


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.load
def test_hundred_batches_of_ten_thousand_rows(datasets_dir, tmp_path_factory):
    split = fit_split("income", ["logistic_regression"], 8000, tmp_path_factory.mktemp("load_runs"))
    rng = np.random.default_rng(0)
    times, sizes, rss = [], [], []
    started = time.perf_counter()
    for _ in range(100):
        batch = split.rest.iloc[rng.integers(0, len(split.rest), 10_000)].reset_index(drop=True)
        t0 = time.perf_counter()
        monitor(split.result, batch, name="load")
        times.append(time.perf_counter() - t0)
        sizes.append(default_path().stat().st_size)
        rss.append(_rss_mb())
    total = time.perf_counter() - started
    first, last = np.mean(times[:10]), np.mean(times[-10:])
    growth_db = (sizes[99] - sizes[49]) / max(sizes[49] - sizes[0], 1)
    print(
        f"\n100 x 10,000 rows: {total:.1f} s total, {first:.3f} s/batch first 10, "
        f"{last:.3f} s last 10; "
        f"RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB; history DB {sizes[-1] / 1024:.0f} KB "
        f"(second half / first half growth {growth_db:.2f})"
    )
    assert len(history("load")) == 100
    assert total <= 60
    assert last <= 1.5 * first
    assert rss[-1] - rss[0] <= 50
    assert 0.8 <= growth_db <= 1.25
