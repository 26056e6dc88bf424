#!/usr/bin/env python
"""Per-trial overhead of nbautoml's search loop against raw ``hyperopt.fmin`` (issue 7, part 3).

Both run the same trivial search, so that fitting costs almost nothing and what is
left is the machinery:

* the space: one family, ``sklearn.dummy:DummyClassifier`` (the engine's
  ``module:Class`` family hook), with ``strategy`` (a choice) and ``random_state``
  (an int) searched;
* the same data (``blood.csv`` by default), the same 5 stratified folds and metric
  (nbautoml's own, taken from its ``validation_``), the same TPE
  (``n_startup_jobs=12``) and seed;
* the same work per trial: the fmin objective calls nbautoml's own
  ``evaluate_config`` in-process (build the pipeline, fit and score it on each fold).

So the difference is nbautoml's search loop: worker process and IPC, ask/tell
on hyperopt's ``Trials``, SQLite store, events. For each side it prints ms/trial
in total, in fitting (the summed ``pipeline.fit`` time of the folds) and outside
fitting (total - fitting), and the ratio of the outside-fitting times (target ≤ 1.2).

nbautoml is timed from its ``search_started`` event to its last ``trial_finished``
(the loop), and also for the whole ``fit`` (setup, store, final refit included).

Usage::

    .venv/bin/python benchmarks/overhead.py --trials 100,500,1000
    .venv/bin/python benchmarks/overhead.py --trials 500 --profile /tmp/nb.prof
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "datasets" / "blood.csv"
FAMILY = "sklearn.dummy:DummyClassifier"


def trivial_space():
    from hyperopt import hp

    return hp.choice("family", [{
        "family": FAMILY,
        "params": {
            "strategy": hp.choice("dummy.strategy", ["prior", "stratified", "uniform",
                                                     "most_frequent"]),
            "random_state": hp.randint("dummy.random_state", 1000),
        },
        "pre": {},
    }])


def run_nbautoml(df, target, n_trials, profile=None):
    """nbautoml.AutoML on the trivial space; returns timings and what fmin needs to match it."""
    import nbautoml

    marks = {}

    def on_event(event):
        now = time.perf_counter()
        if event.kind == "search_started":
            marks["start"] = now
        elif event.kind == "trial_finished":
            marks["last"] = now

    with tempfile.TemporaryDirectory(prefix="nbautoml-overhead-") as tmp:
        # one worker, as raw fmin evaluates one trial at a time
        automl = nbautoml.AutoML(space=trivial_space(), max_evals=n_trials, time_budget=None, n_jobs=1,
                                 seed=0, metric="roc_auc", search_dir=tmp, callbacks=[on_event])
        profiler = cProfile.Profile() if profile else None
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        automl.fit(df, target=target)
        if profiler:
            profiler.disable()
        t1 = time.perf_counter()
    trials = automl.trials_
    ok = [t for t in trials if t.status == "ok"]
    if len(ok) != len(trials):
        bad = [t.error for t in trials if t.status != "ok"][:3]
        raise SystemExit(f"nbautoml: {len(trials) - len(ok)} of {len(trials)} trials failed: {bad}")
    loop = marks["last"] - marks["start"]
    fit = sum(t.fit_time for t in trials)
    in_worker = sum(t.wall_time for t in trials)  # submit -> result received, per trial
    out = {
        "n": len(trials), "loop": loop, "whole_fit": t1 - t0, "fit": fit, "in_worker": in_worker,
        "refit": automl.refit_time_,
    }
    if profiler:
        profiler.dump_stats(profile)
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(25)
        out["profile_text"] = stream.getvalue()
    return out, automl


def run_fmin(automl, n_trials):
    """Raw hyperopt.fmin, same space, TPE settings, seed, folds and per-trial work."""
    import hyperopt
    import numpy as np
    from hyperopt import STATUS_OK, Trials, fmin, tpe

    from nbautoml.engine.evaluate import EvalContext, evaluate_config
    from nbautoml.engine.metrics import get_metric
    from nbautoml.engine.space import normalize_config
    from nbautoml.engine.workers import cpu_count

    X, y = automl._X, automl._y_codes()
    ctx = EvalContext(X=X, y=y, folds=automl.validation_.folds, plan=automl.plan_,
                      task=automl.task_, metric=get_metric(automl.metric_, automl.task_),
                      n_classes=len(automl.classes_), seed=0, estimator_jobs=max(1, cpu_count()))
    totals = {"fit": 0.0, "objective": 0.0}

    def objective(config):
        t0 = time.perf_counter()
        result = evaluate_config(normalize_config(config), ctx)
        totals["fit"] += result["fit_time"]
        totals["objective"] += time.perf_counter() - t0
        return {"loss": -result["score"], "status": STATUS_OK}

    trials = Trials()
    t0 = time.perf_counter()
    fmin(objective, trivial_space(), algo=functools.partial(tpe.suggest, n_startup_jobs=12),
         max_evals=n_trials, trials=trials, rstate=np.random.default_rng(0),
         show_progressbar=False)
    total = time.perf_counter() - t0
    return {"n": len(trials.trials), "loop": total, "fit": totals["fit"],
            "in_worker": totals["objective"], "version": hyperopt.__version__}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", default="100,500,1000", help="comma-separated trial counts")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--target", default="Class")
    parser.add_argument("--profile", help="cProfile nbautoml's parent process on the largest "
                                          "count; write the stats here and print the top")
    args = parser.parse_args(argv)
    import os

    import pandas as pd

    df = pd.read_csv(args.data)
    counts = [int(c) for c in args.trials.split(",") if c.strip()]
    print(f"data: {args.data.name} ({len(df)} rows); space: {FAMILY} (strategy, random_state); "
          f"5-fold CV, TPE; load average {os.getloadavg()[0]:.1f}", flush=True)
    header = (f"{'trials':>6} | {'nbautoml ms/trial: total':>24} {'fit':>6} {'outside':>8} "
              f"{'parent':>7} {'whole fit':>9} | {'fmin ms/trial: total':>20} {'fit':>6} "
              f"{'outside':>8} {'hyperopt':>8} | {'ratio outside':>13} {'total':>6}")
    print(header)
    print("-" * len(header))
    for n in counts:
        profile = args.profile if (args.profile and n == max(counts)) else None
        nb, automl = run_nbautoml(df, args.target, n, profile=profile)
        fm = run_fmin(automl, n)
        ms = {k: 1000.0 * v / nb["n"] for k, v in nb.items() if isinstance(v, float)}
        mf = {k: 1000.0 * v / fm["n"] for k, v in fm.items() if isinstance(v, float)}
        nb_out, fm_out = ms["loop"] - ms["fit"], mf["loop"] - mf["fit"]
        print(f"{n:>6} | {ms['loop']:>24.1f} {ms['fit']:>6.1f} {nb_out:>8.1f} "
              f"{ms['loop'] - ms['in_worker']:>7.1f} {ms['whole_fit']:>9.1f} | "
              f"{mf['loop']:>20.1f} {mf['fit']:>6.1f} {fm_out:>8.1f} "
              f"{mf['loop'] - mf['in_worker']:>8.1f} | {nb_out / fm_out:>13.2f} "
              f"{ms['loop'] / mf['loop']:>6.2f}", flush=True)
        if profile:
            print(f"\ncProfile of nbautoml's parent process ({n} trials, by own time):")
            print(nb["profile_text"])
    print("total: loop wall time / trials; fit: summed pipeline.fit time of the 5 folds; "
          "outside = total - fit; parent (nbautoml) = total - time from submit to result; "
          "hyperopt (fmin) = total - time in the objective; whole fit = AutoML.fit / trials.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
