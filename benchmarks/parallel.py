"""Parallel trials: trials per minute with n_jobs=2 vs 1 (issue 7, target >= 1.7x on 2 cores).

Each trial fits a CPU-bound estimator that does a fixed amount of work (~0.2 s
on one core), on 2 CV folds, so the figure measures the engine's scheduling and
not the estimator's own threads.

    .venv/bin/python benchmarks/parallel.py --seconds 30
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.workloads import calibrate  # noqa: E402


def run(n_jobs: int, seconds: float, work: int) -> tuple[int, float]:
    from hyperopt import hp

    from nbautoml import AutoML

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 5)), columns=list("abcde"))
    frame["y"] = (frame["a"] > 0).astype(int)
    space = hp.choice("family", [{"family": "benchmarks.workloads:FixedWork",
                                  "params": {"work": work, "tag": hp.uniform("tag", 0, 1)}}])
    started = time.perf_counter()
    result = AutoML(space=space, time_budget=seconds, n_jobs=n_jobs, cv=2, seed=0,
                    search_dir="/tmp/nbautoml-bench-parallel").fit(frame, target="y")
    wall = time.perf_counter() - started
    done = sum(t.status == "ok" for t in result.trials_)
    return done, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    work = calibrate(0.1)  # per fold: 2 folds -> ~0.2 s per trial
    print(f"fixed work per fold: {work} iterations (~0.1 s on one core)")
    rates = {}
    for n_jobs in (1, 2):
        done, wall = run(n_jobs, args.seconds, work)
        rates[n_jobs] = 60 * done / wall
        print(f"n_jobs={n_jobs}: {done} trials in {wall:.1f} s = {rates[n_jobs]:.0f} trials/min")
    print(f"speed-up 2 jobs vs 1: {rates[2] / rates[1]:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
