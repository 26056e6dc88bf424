"""Peak memory of a search on 1,000,000 rows x 20 features (issue 7, target < 4x the data).

Runs the search in a child process and reports its peak RSS (the parent of the
search) and the largest worker's, next to the size of the data, and how long the
checks before the first trial took. ``--strings 5`` makes 5 of the 20 columns text
(RELIABILITY L-03: 15 float, 5 string columns), as pandas' ``str`` dtype (what
``read_csv`` gives) or ``--string-dtype object`` / ``category``.

    .venv/bin/python benchmarks/memory.py --rows 1000000 --budget 120
    .venv/bin/python benchmarks/memory.py --rows 1000000 --budget 60 --strings 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import gc, json, resource, sys, threading, time
import numpy as np, pandas as pd, psutil, pyarrow as pa
from sklearn.datasets import make_classification
from nbautoml import AutoML
import nbautoml.engine.automl, nbautoml.engine.cost, hyperopt, sklearn.ensemble  # imports counted in the baseline
rows, budget = int(sys.argv[1]), float(sys.argv[2])
strings, string_dtype = (int(sys.argv[3]), sys.argv[4]) if len(sys.argv) > 4 else (0, "str")
baseline = psutil.Process().memory_info().rss / 2**20
X, y = make_classification(n_samples=rows, n_features=20, n_informative=10, random_state=0)
frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)]).assign(y=y)
del X, y
words = np.array(["north", "south", "east", "west", "centre", "coast", "hills", "plain"])
for i in range(strings):  # a number column binned into 8 words: the same information, as text
    name = f"f{19 - i}"
    bins = np.searchsorted(np.quantile(frame[name], np.linspace(0, 1, 9)[1:-1]), frame[name])
    frame[name] = pd.Series(words[bins], dtype=string_dtype)
if strings:  # the number columns left are views of the generated 20-column array: copied, so
    frame = frame.copy()  # that array (40 MB the frame no longer shows) is freed
gc.collect()
nbautoml.engine.cost._release_free_memory()  # the generation's freed heap is not the search's
pa.default_memory_pool().release_unused()
data_mb = frame.memory_usage(deep=True).sum() / 2**20
before = psutil.Process().memory_info().rss / 2**20
sampled, sampling = [before], threading.Event()
def sample():  # the search's own peak: ru_maxrss also holds the data generation's
    process = psutil.Process()
    while not sampling.wait(0.005):
        sampled[0] = max(sampled[0], process.memory_info().rss / 2**20)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
started = time.perf_counter()
first_trial = []
def on_event(event):
    if event.kind == "trial_started" and not first_trial:
        first_trial.append(time.perf_counter() - started)
result = AutoML(time_budget=budget, seed=0, search_dir="/tmp/nbautoml-bench-memory",
                callbacks=[on_event]).fit(frame, target="y")
wall = time.perf_counter() - started
sampling.set()
sampler.join()
print(json.dumps({
    "data_mb": data_mb, "rss_before_search_mb": before, "baseline_mb": baseline,
    "peak_parent_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "peak_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "peak_search_sampled_mb": sampled[0],
    "wall_s": wall, "first_trial_s": first_trial[0] if first_trial else None, "trials": len(result.trials_), "validation": result.validation_.description,
    "best": result.summary()["best_pipeline"], "best_score": result.best_score_,
    "statuses": result.summary()["statuses"],
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--strings", type=int, default=0, help="how many of the 20 columns are text")
    parser.add_argument("--string-dtype", default="str", choices=["str", "object", "category"])
    args = parser.parse_args()
    out = subprocess.run([sys.executable, "-c", CHILD, str(args.rows), str(args.budget), str(args.strings),
                          args.string_dtype], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    data = info["data_mb"]
    text = f" ({args.strings} of them text, {args.string_dtype} dtype)" if args.strings else ""
    print(f"data: {args.rows:,} rows x 20 features{text} = {data:.0f} MB (pandas' deep memory)")
    print(f"search: {info['trials']} trials in {info['wall_s']:.1f} s of {args.budget:g} s "
          f"({info['validation']}); statuses {info['statuses']}")
    print(f"first trial started {info['first_trial_s']:.1f} s after fit() was called (the checks, plan "
          "and fingerprint of the data before it)")
    print(f"best: {info['best']} score {info['best_score']:.4f}")
    print(f"peak RSS, search process: {info['peak_parent_mb']:.0f} MB = {info['peak_parent_mb'] / data:.2f}x data "
          f"(libraries alone: {info['baseline_mb']:.0f} MB; with the data, before the search: "
          f"{info['rss_before_search_mb']:.0f} MB)")
    above = info["peak_parent_mb"] - info["baseline_mb"]
    print(f"peak above the libraries' baseline: {above:.0f} MB = {above / data:.2f}x data (target < 4x)")
    during = info["peak_search_sampled_mb"] - info["baseline_mb"]
    print(f"peak during fit() alone (RSS sampled every 5 ms; the figure above also holds the data "
          f"generation's peak): {info['peak_search_sampled_mb']:.0f} MB, {during:.0f} MB above the baseline "
          f"= {during / data:.2f}x data")
    print(f"peak RSS, largest worker: {info['peak_worker_mb']:.0f} MB = {info['peak_worker_mb'] / data:.2f}x data "
          "(shared copy-on-write pages of the data are counted in both)")


if __name__ == "__main__":
    main()
