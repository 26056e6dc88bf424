#!/usr/bin/env python
"""Benchmark nbautoml against FLAML, hyperopt-sklearn and two default models (issue 7, part 1).

Protocol (the same for every system):

* every data set of ``INDEX.csv`` in ``--datasets-dir`` (default ``../shared/datasets``);
* rows with a missing target are dropped, then a 75/25 split with ``random_state=0``
  (stratified for classification);
* the held-out metric is ROC AUC (binary), accuracy (multiclass) or R² (regression),
  and the searching systems optimise that metric;
* each (system, data set) runs in its own subprocess with a hard wall-clock cap of
  ``budget * 1.5 + 30`` s; a crash, a hang or an error is recorded and the run goes on.

nbautoml and the two default models run in the project venv (``.venv``); FLAML and
hyperopt-sklearn run in ``benchmarks/.venv-compare`` (``--setup`` makes it from
``benchmarks/requirements.txt``), because hyperopt-sklearn pins old scikit-learn,
numpy and hyperopt. The child process prints one JSON line on stdout; the parent
appends it to the JSONL output and prints the comparison tables at the end.

Usage::

    python benchmarks/run_benchmark.py --setup                      # once
    python benchmarks/run_benchmark.py --budget 30 --out benchmarks/results/b30.jsonl
    python benchmarks/run_benchmark.py --only blood,titanic --budget 10 --systems nbautoml,flaml
    python benchmarks/run_benchmark.py --only glass,house --split-seeds 0-4 --systems nbautoml,random_forest
    python benchmarks/run_benchmark.py --report benchmarks/results/b30.jsonl

This file must import nothing beyond numpy, pandas and scikit-learn at module level:
the same file is the child in both virtualenvs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
PROJECT_PYTHON = REPO / ".venv" / "bin" / "python"
COMPARE_VENV = HERE / ".venv-compare"
COMPARE_PYTHON = COMPARE_VENV / "bin" / "python"

SYSTEMS = ("nbautoml", "flaml", "hyperopt_sklearn", "random_forest", "hist_gradient_boosting")
COMPARE_SYSTEMS = ("flaml", "hyperopt_sklearn")  # run in the comparison venv
DEFAULTS = ("random_forest", "hist_gradient_boosting")
SHORT = {"nbautoml": "nbautoml", "flaml": "flaml", "hyperopt_sklearn": "hpsklearn",
         "random_forest": "RF-default", "hist_gradient_boosting": "HGB-default"}
METRIC_OF_TASK = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}
SEED = 0
RESULT_MARK = "@@BENCH-RESULT@@ "


def hard_cap(budget: float) -> float:
    """The wall-clock limit of one (system, data set) subprocess."""
    return budget * 1.5 + 30.0


# =============================================================================== child side


def load_split(path: str, target: str, task: str):
    """Read a data set, drop rows without target, split 75/25 (stratified for classification)."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(path)
    df = df[df[target].notna()].reset_index(drop=True)
    stratify = df[target] if task != "regression" else None
    train, test = train_test_split(df, test_size=0.25, random_state=SEED, stratify=stratify)
    digest = hashlib.sha256(",".join(map(str, sorted(test.index))).encode()).hexdigest()[:12]
    return train.reset_index(drop=True), test.reset_index(drop=True), digest


def held_out_score(task: str, y_test, prediction) -> float:
    """The protocol metric. ``prediction``: P(positive) (binary), labels, or values."""
    import numpy as np
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    if task == "binary":
        classes = np.unique(y_test)
        return float(roc_auc_score(np.asarray(y_test) == classes[1], prediction))
    if task == "multiclass":
        return float(accuracy_score(np.asarray(y_test).astype(str), np.asarray(prediction).astype(str)))
    return float(r2_score(np.asarray(y_test, dtype=float), np.asarray(prediction, dtype=float)))


def _positive_proba(proba, classes, positive):
    """The column of ``proba`` for the class ``positive`` (classes compared as strings)."""
    import numpy as np

    names = [str(c) for c in classes]
    return np.asarray(proba)[:, names.index(str(positive))]


def _as_object_strings(frame):
    """Non-numeric columns as object arrays of str, NaN kept (for the fixed baseline encoder)."""
    import numpy as np
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_bool_dtype(s):
            out[col] = s.astype(float)
        elif not pd.api.types.is_numeric_dtype(s):
            out[col] = s.map(str, na_action="ignore").astype(object).where(s.notna(), np.nan)
    return out


def baseline_preprocessor(X):
    """The fixed preprocessing of the baselines and of hyperopt-sklearn.

    Numbers: median imputation. Everything else (categories, IDs, dates, free text):
    most-frequent imputation, then one-hot with rare levels grouped (``min_frequency=5``)
    and at most 20 columns per input column, so high-cardinality columns stay small.
    """
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    other = [c for c in X.columns if c not in numeric]
    parts = []
    if numeric:
        parts.append(("num", SimpleImputer(strategy="median", keep_empty_features=True), numeric))
    if other:
        parts.append(("cat", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
            ("onehot", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5,
                                     max_categories=20, sparse_output=False)),
        ]), other))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def _quiet_warnings():
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")


def run_default(system, task, X_train, y_train, X_test, budget, random_state=None):
    """A default RandomForest or HistGradientBoosting behind the fixed preprocessing.

    ``random_state``: the protocol's seed (the split seed) unless given; ``default_noise.py``
    varies it.
    """
    if random_state is None:
        random_state = SEED
    from sklearn import ensemble
    from sklearn.pipeline import make_pipeline

    cls = task != "regression"
    if system == "random_forest":
        model = (ensemble.RandomForestClassifier if cls else ensemble.RandomForestRegressor)(
            random_state=random_state)
    else:
        model = (ensemble.HistGradientBoostingClassifier if cls
                 else ensemble.HistGradientBoostingRegressor)(random_state=random_state)
    X_train, X_test = _as_object_strings(X_train), _as_object_strings(X_test)
    t0 = time.perf_counter()
    pipe = make_pipeline(baseline_preprocessor(X_train), model).fit(X_train, y_train)
    t1 = time.perf_counter()
    prediction = _predict(pipe, task, X_test, y_train)
    t2 = time.perf_counter()
    import sklearn

    return prediction, t1 - t0, t2 - t1, {"version": f"scikit-learn {sklearn.__version__}"}


def _predict(model, task, X_test, y_train, classes=None):
    """Protocol predictions from a model with the sklearn API."""
    import numpy as np

    if task == "binary":
        classes = model.classes_ if classes is None else classes
        positive = np.unique(np.asarray(y_train))[1]
        return _positive_proba(model.predict_proba(X_test), classes, positive)
    return model.predict(X_test)


def run_nbautoml(task, X_train, y_train, X_test, budget, target, options=None):
    """``nbautoml.AutoML(time_budget=B, seed=0, metric=<protocol metric>, **options)``."""
    import collections

    import nbautoml

    train = X_train.copy()
    train[target] = y_train
    with tempfile.TemporaryDirectory(prefix="nbautoml-bench-") as tmp:
        automl = nbautoml.AutoML(time_budget=budget, seed=SEED, metric=METRIC_OF_TASK[task],
                                 search_dir=tmp, **(options or {}))
        t0 = time.perf_counter()
        automl.fit(train, target=target)
        t1 = time.perf_counter()
        prediction = _predict(automl, task, X_test, y_train)
        t2 = time.perf_counter()
    trials = automl.trials_
    statuses = collections.Counter(t.status for t in trials)
    defaults = [t for t in trials if t.source == "default"]
    tpe_starts = [t.started for t in trials if t.source != "default"]
    families = {}
    for t in trials:
        entry = families.setdefault(t.family, {"n": 0, "best": None, "time": 0.0})
        entry["n"] += 1
        entry["time"] = round(entry["time"] + (t.wall_time or 0.0), 2)
        if t.status == "ok" and (entry["best"] is None or
                                 (t.score > entry["best"]) == automl.greater_is_better_):
            entry["best"] = round(t.score, 4)
    board = automl.leaderboard.head(5)
    extra = {
        "version": f"nbautoml {getattr(nbautoml, '__version__', '?')} ({_git_head()})",
        "options": options or {},
        "ensemble": (None if getattr(automl, "ensemble_", None) is None
                     else {str(k): v for k, v in automl.ensemble_.weights.items()}),
        "n_trials": len(trials),
        "statuses": dict(statuses),
        "stop_reason": automl.stop_reason_,
        "elapsed": round(automl.elapsed_, 2),
        "refit_time": round(automl.refit_time_, 2),
        "best_model": nbautoml_describe(automl.best_config_),
        "best_family": automl.best_config_["family"],
        "best_source": automl.best_trial_.source,
        "best_cv_score": round(automl.best_score_, 4),
        "validation": automl.validation_.description,
        "n_default_points": len(defaults),
        "default_points_time": round(sum(t.wall_time or 0.0 for t in defaults), 2),
        "first_tpe_trial_at": round(min(tpe_starts), 2) if tpe_starts else None,
        "families": families,
        "families_left": dict(getattr(automl, "families_left_", {})),
        "top5": [{"model": str(r.model), "score": None if r.score != r.score else round(r.score, 4),
                  "fit_time": round(float(r.fit_time or 0.0), 2)} for r in board.itertuples()],
    }
    return prediction, t1 - t0, t2 - t1, extra


def _git_head() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "nbautoml"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def nbautoml_describe(config):
    from nbautoml.engine.space import describe

    return describe(config)


def run_flaml(task, X_train, y_train, X_test, budget, threads=None):
    """``flaml.AutoML().fit(..., time_budget=B, metric=<protocol metric>)``."""
    import flaml
    from flaml import AutoML

    automl = AutoML()
    t0 = time.perf_counter()
    automl.fit(X_train=X_train, y_train=y_train,
               task="regression" if task == "regression" else "classification",
               metric=METRIC_OF_TASK[task], time_budget=budget, seed=SEED, verbose=0,
               n_jobs=threads or -1)
    t1 = time.perf_counter()
    prediction = _predict(automl, task, X_test, y_train)
    t2 = time.perf_counter()
    extra = {
        "version": f"flaml {flaml.__version__}",
        "best_estimator": automl.best_estimator,
        "best_cv_score": None if automl.best_loss is None else round(1 - automl.best_loss, 4),
        "n_configs": len(getattr(automl, "config_history", {}) or {}),
        "time_to_find_best": round(float(getattr(automl, "time_to_find_best_model", 0.0) or 0.0), 2),
        "best_config_train_time": round(float(getattr(automl, "best_config_train_time", 0.0) or 0.0), 2),
    }
    return prediction, t1 - t0, t2 - t1, extra


def run_hpsklearn(task, X_train, y_train, X_test, budget):
    """hyperopt-sklearn (any_classifier/any_regressor + any_preprocessing, TPE), stopped at the budget.

    ``HyperoptEstimator`` has no time budget. Its ``fit_iter`` generator runs
    ``fmin`` one trial at a time (``send(1)``), each trial in a forked process that
    it terminates after ``trial_timeout`` s. Before each trial, ``trial_timeout`` is set
    to what is left of the budget (less a reserve for the final refit), and no trial
    starts once the budget is spent; then the best learner is refitted on all the
    training data (``refit``), as ``fit`` does. A trial that raises in the child makes
    ``fmin`` raise (hpsklearn passes ``catch_eval_exceptions=False``); it is counted and
    the search continues from the same ``Trials`` (``warm_start=True``).
    """
    import hpsklearn
    import hyperopt
    import numpy as np
    from hpsklearn import HyperoptEstimator, any_classifier, any_preprocessing, any_regressor
    from hpsklearn.estimator._transform import _transform_combine_XEX
    from sklearn.metrics import roc_auc_score

    cls = task != "regression"
    t0 = time.perf_counter()
    deadline = t0 + budget
    classes = np.unique(np.asarray(y_train)) if cls else None
    y = np.searchsorted(classes, np.asarray(y_train)) if cls else np.asarray(y_train, dtype=float)
    X_train, X_test = _as_object_strings(X_train), _as_object_strings(X_test)
    pre = baseline_preprocessor(X_train)
    Xt = pre.fit_transform(X_train).astype(float)

    def auc_loss(y_true, pooled_proba):
        # hpsklearn pools predict_proba by np.append, which flattens it: reshape.
        p = np.asarray(pooled_proba).reshape(len(y_true), -1)[:, 1]
        try:
            return 1.0 - roc_auc_score(y_true, p)
        except ValueError:
            return 1.0

    rng = np.random.default_rng(SEED)

    def algo(new_ids, domain, trials, seed):
        # hpsklearn calls fmin without rstate under hyperopt 0.2.7, so fmin draws the
        # seed from a fresh generator at every send(1): use our own stream instead.
        return hyperopt.tpe.suggest(new_ids, domain, trials, int(rng.integers(2**31 - 1)))

    kwargs = {"loss_fn": auc_loss, "continuous_loss_fn": True} if task == "binary" else {}
    if cls:
        est = HyperoptEstimator(classifier=any_classifier("clf"),
                                preprocessing=any_preprocessing("pre"), algo=algo,
                                max_evals=10**6, trial_timeout=budget, seed=SEED, n_jobs=1,
                                refit=True, verbose=False, **kwargs)
    else:
        est = HyperoptEstimator(regressor=any_regressor("reg"),
                                preprocessing=any_preprocessing("pre"), algo=algo,
                                max_evals=10**6, trial_timeout=budget, seed=SEED, n_jobs=1,
                                refit=True, verbose=False)
    split_rng = np.random.default_rng(SEED)
    raised, warm, raised_messages = 0, False, []
    fit_kwargs = {"valid_size": 0.2, "cv_shuffle": True, "random_state": split_rng}
    iterator = est.fit_iter(Xt, y, warm_start=False, **fit_kwargs)
    next(iterator)
    while True:
        # keep time for the refit on all the data: the best trial's duration / 0.8
        best = [t for t in est.trials.trials if t["result"].get("status") == "ok"]
        best_duration = min(best, key=lambda t: t["result"]["loss"])["result"].get("duration", 0) \
            if best else 0.0
        remaining = deadline - time.perf_counter() - (best_duration / 0.8 + 0.2 if best else 0.0)
        if remaining <= 0.2:
            break
        est.trial_timeout = remaining
        try:
            iterator.send(1)
        except StopIteration:
            break
        except Exception as exc:  # a trial raised in its child: fmin re-raised it
            raised += 1
            message = f"{type(exc).__name__}: {exc}"[:200]
            if message not in raised_messages and len(raised_messages) < 5:
                raised_messages.append(message)
            warm = True
            iterator = est.fit_iter(Xt, y, warm_start=warm, **fit_kwargs)
            next(iterator)
    if est._best_learner is None:
        raise RuntimeError(f"hyperopt-sklearn: no trial succeeded within the budget "
                           f"({len(est.trials.trials)} trials, {raised} raised)")
    t_search = time.perf_counter()
    est._retrain_best_model_on_full_data(Xt, y)
    t1 = time.perf_counter()
    XEX = _transform_combine_XEX(pre.transform(X_test).astype(float), info=lambda *a: None,
                                 en_pps=est._best_preprocs, fit_preproc=False)
    learner = est._best_learner
    if task == "binary":
        prediction = learner.predict_proba(XEX)[:, 1]
    elif cls:
        prediction = classes[np.asarray(learner.predict(XEX)).astype(int)]
    else:
        prediction = learner.predict(XEX)
    t2 = time.perf_counter()
    results = [t["result"] for t in est.trials.trials]
    ok = [r for r in results if r.get("status") == "ok"]
    extra = {
        "version": f"hyperopt-sklearn {getattr(hpsklearn, '__version__', '1.1.1')}, "
                   f"hyperopt {hyperopt.__version__}",
        "n_trials": len(results) + raised,
        "n_ok": len(ok),
        "n_failed": len(results) - len(ok),
        "n_raised": raised,
        "raised": raised_messages,
        "best_learner": type(learner).__name__,
        "best_preprocessing": [type(p).__name__ for p in est._best_preprocs],
        "best_cv_score": round(1 - est._best_loss, 4),
        "search_time": round(t_search - t0, 2),
        "refit_time": round(t1 - t_search, 2),
        "trial_durations": [round(r.get("duration", 0.0), 2) for r in results],
    }
    return prediction, t1 - t0, t2 - t1, extra


def child_main(spec: dict) -> int:
    """Run one (system, data set) and print one JSON line with the result."""
    global SEED
    SEED = int(spec.get("split_seed", 0))  # the split's and the defaults' random_state
    # Libraries print to stdout (hpsklearn, FLAML); keep fd 1 for the result line only.
    t_child = time.perf_counter()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _quiet_warnings()
    record = {"system": spec["system"], "dataset": spec["dataset"], "task": spec["task"],
              "metric": METRIC_OF_TASK[spec["task"]], "budget": spec["budget"],
              "threads": spec.get("threads"), "split_seed": SEED, "score": None,
              "fit_time": None, "predict_time": None, "wall_time": None, "error": None, "extra": {}}
    try:
        train, test, digest = load_split(spec["file"], spec["target"], spec["task"])
        target, task, budget = spec["target"], spec["task"], float(spec["budget"])
        X_train, y_train = train.drop(columns=[target]), train[target]
        X_test, y_test = test.drop(columns=[target]), test[target]
        record.update(n_train=len(train), n_test=len(test), split_sha=digest)
        system = spec["system"]
        if system == "nbautoml":
            out = run_nbautoml(task, X_train, y_train, X_test, budget, target,
                               spec.get("nbautoml_options"))
        elif system == "flaml":
            out = run_flaml(task, X_train, y_train, X_test, budget, spec.get("threads"))
        elif system == "hyperopt_sklearn":
            out = run_hpsklearn(task, X_train, y_train, X_test, budget)
        elif system in DEFAULTS:
            out = run_default(system, task, X_train, y_train, X_test, budget)
        else:
            raise ValueError(f"unknown system {system!r}")
        prediction, fit_time, predict_time, extra = out
        record.update(score=held_out_score(task, y_test, prediction), fit_time=round(fit_time, 3),
                      predict_time=round(predict_time, 3),
                      wall_time=round(fit_time + predict_time, 3), extra=extra)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a record
        tb = traceback.format_exc(limit=-3)
        record["error"] = f"{type(exc).__name__}: {exc}"[:500]
        record["traceback"] = tb[-1500:]
    record["child_time"] = round(time.perf_counter() - t_child, 2)
    sys.stdout.flush()
    os.dup2(real_stdout, 1)
    sys.stdout = os.fdopen(1, "w", closefd=False)
    print(RESULT_MARK + json.dumps(record, default=str), flush=True)
    return 0


# =============================================================================== parent side


def read_index(datasets_dir: Path) -> list[dict]:
    with open(datasets_dir / "INDEX.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def setup_compare_venv() -> None:
    """Create benchmarks/.venv-compare and install benchmarks/requirements.txt into it."""
    if not COMPARE_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(COMPARE_VENV)], check=True)
    subprocess.run([str(COMPARE_PYTHON), "-m", "pip", "install", "-q", "-r",
                    str(HERE / "requirements.txt")], check=True)


# A fixed single-threaded workload, timed before each data set's runs: how fast the machine
# is at that moment, so that runs from different days (or a loaded machine) can be told apart.
REFERENCE_WORKLOAD = """
import time
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from threadpoolctl import threadpool_limits
X, y = make_classification(n_samples=4000, n_features=20, random_state=0)
with threadpool_limits(1):
    t0 = time.perf_counter()
    HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0).fit(X, y)
    RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y)
    print(time.perf_counter() - t0)
"""


def reference_seconds(python: Path) -> float | None:
    """Seconds the machine takes for ``REFERENCE_WORKLOAD`` now (None if it could not run)."""
    try:
        out = subprocess.run([str(python), "-c", REFERENCE_WORKLOAD], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        return round(float(out.strip().splitlines()[-1]), 3)
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return None


def run_one(python: Path, spec: dict, log_dir: Path) -> dict:
    """Run one child under the hard cap; always return a record."""
    cap = hard_cap(spec["budget"])
    log_path = log_dir / f"{spec['dataset']}-{spec['system']}.log"
    cmd = [str(python), str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONWARNINGS="ignore")
    if spec.get("threads"):
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(spec["threads"])
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    error = None
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                                start_new_session=True, cwd=tempfile.gettempdir())
        try:
            out, _ = proc.communicate(timeout=cap)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, _ = proc.communicate()
            error = f"killed at the hard cap of {cap:g} s"
    elapsed = time.perf_counter() - t0
    _kill_group(proc)  # workers the child left behind
    record = None
    for line in reversed((out or "").splitlines()):
        if line.startswith(RESULT_MARK):
            record = json.loads(line[len(RESULT_MARK):])
            break
    if record is None:
        record = {"system": spec["system"], "dataset": spec["dataset"], "task": spec["task"],
                  "metric": METRIC_OF_TASK[spec["task"]], "budget": spec["budget"],
                  "threads": spec.get("threads"), "split_seed": int(spec.get("split_seed") or 0), "score": None,
                  "fit_time": None, "predict_time": None, "wall_time": None, "extra": {},
                  "error": error or f"the child exited with code {proc.returncode} and no result "
                                    f"(see {log_path})"}
    record.update(process_time=round(elapsed, 2), hard_cap=cap, load_at_start=round(load, 2),
                  log=str(log_path), python=str(python), host=platform.node(),
                  time=time.strftime("%Y-%m-%dT%H:%M:%S"))
    if error and record.get("error") is None:
        record["error"] = error
    return record


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# =============================================================================== report


def _fmt(value, width=9, digits=4):
    return f"{value:>{width}.{digits}f}" if isinstance(value, (int, float)) else f"{value:>{width}}"


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,2,5"`` -> [0, 2, 5]."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-"))
            seeds = list(range(first, last + 1))
        else:
            seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"split seeds {text!r}: give a range like 0-4 or a list like 0,2,5") from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"split seeds {text!r}: no seed in it (a range like 0-4 or 0,2,5)")
    return seeds


def case_parser(doc: str, only_help: str, seeds=(0, 1, 2)) -> argparse.ArgumentParser:
    """The options of the scripts that fit the protocol's cases themselves: ``--datasets-dir``,
    ``--only`` (comma-separated data set names) and ``--split-seeds``."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--datasets-dir", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--only", help=f"comma-separated data set names (default: {only_help})")
    parser.add_argument("--split-seeds", type=parse_seeds, default=list(seeds))
    return parser


def binary_datasets(datasets_dir: Path, only: str | None = None):
    """``(name, frame, target)`` for each binary data set of INDEX.csv (``only``: comma-separated
    names), the rows without a target left out."""
    import pandas as pd

    for entry in read_index(datasets_dir):
        if entry["task"] != "binary" or (only and entry["dataset"] not in only.split(",")):
            continue
        frame = pd.read_csv(datasets_dir / entry["file"])
        yield entry["dataset"], frame[frame[entry["target"]].notna()].reset_index(drop=True), entry["target"]


def emit(record: dict, out) -> None:
    """Print a record as a JSON line and append it to the open file ``out`` (None: print only)."""
    print(json.dumps(record), flush=True)
    if out is not None:
        out.write(json.dumps(record) + "\n")
        out.flush()


def change_counts(label: str, changes) -> str:
    """How often a score went up and down between two variants, its largest drop and mean."""
    import numpy as np

    c = np.asarray(changes, dtype=float)
    return (f"{label} up on {int((c > 5e-5).sum())} of {len(c)}, down on {int((c < -5e-5).sum())} "
            f"(largest drop {c.min():+.4f}), mean {c.mean():+.4f}")


def _split_seed(record: dict) -> int:
    return int(record.get("split_seed") or 0)  # records written before the option have seed 0


def summarize(records: list[dict]) -> str:
    """The tables: scores (cases x systems), ranks, wins, regret, nbautoml checks, times.

    A case is a data set under one split seed. Records of several budgets get one report
    each; records of several split seeds add the mean over the seeds of each data set.
    """
    budgets = sorted({r["budget"] for r in records})
    if len(budgets) > 1:
        return "\n\n".join(f"=== budget {b:g} s ===\n" + summarize([r for r in records if r["budget"] == b])
                           for b in budgets)
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in records)]
    systems += sorted({r["system"] for r in records} - set(systems))
    seeds = sorted({_split_seed(r) for r in records})
    cases = sorted({(r["dataset"], _split_seed(r)) for r in records}, key=lambda c: (c[0].lower(), c[1]))
    by = {(r["dataset"], _split_seed(r), r["system"]): r for r in records}  # the last record wins

    def case_name(case):
        return case[0] if len(seeds) == 1 else f"{case[0]}/{case[1]}"

    width = max([11] + [len(case_name(c)) + 2 for c in cases])
    threads = sorted({str(r.get("threads") or "library default") for r in records})
    loads = [r["load_at_start"] for r in records if r.get("load_at_start") is not None]
    references = [r["reference_seconds"] for r in records if r.get("reference_seconds") is not None]
    lines = [f"budget(s) per system per data set: {', '.join(f'{b:g} s' for b in budgets)}; "
             f"native threads: {', '.join(threads)}"
             + (f"; 1-min load average at the starts: {min(loads):.1f}-{max(loads):.1f}"
                if loads else "")
             + (f"; reference workload: {min(references):.2f}-{max(references):.2f} s "
                f"(median {statistics.median(references):.2f})" if references else ""),
             f"split seed(s): {', '.join(map(str, seeds))}"
             + ("; a case is a data set under one split seed (dataset/seed)" if len(seeds) > 1 else ""),
             "held-out ROC AUC (binary), accuracy (multiclass), R² (regression)",
             "ERR = error, KILL = hard cap; -- = not run", ""]
    head = f"{'dataset':<{width}}{'metric':>9}" + "".join(f"{SHORT.get(s, s)[:11]:>12}" for s in systems)
    lines += [head, "-" * len(head)]
    ranks = {s: [] for s in systems}
    wins = {s: 0 for s in systems}
    regrets = {s: [] for s in systems}
    for case in cases:
        cells, scores = [], {}
        metric = next(r["metric"] for r in records if r["dataset"] == case[0])
        for s in systems:
            r = by.get((*case, s))
            if r is None:
                cells.append(f"{'--':>12}")
                continue
            if r.get("score") is None or not math.isfinite(r["score"]):
                cells.append(f"{'KILL' if 'hard cap' in (r.get('error') or '') else 'ERR':>12}")
                scores[s] = None
            else:
                scores[s] = r["score"]
                cells.append(f"{r['score']:>12.4f}")
        lines.append(f"{case_name(case):<{width}}{metric:>9}" + "".join(cells))
        valid = [v for v in scores.values() if v is not None]
        if not valid:
            continue
        best, worst = max(valid), min(valid)
        # rank: higher is better; a missing score ranks last; ties share the mean rank
        ordered = sorted(scores, key=lambda k: -(scores[k] if scores[k] is not None else -math.inf))
        for s in scores:
            v = scores[s]
            key = v if v is not None else -math.inf
            above = sum(1 for t in ordered if (scores[t] if scores[t] is not None else -math.inf) > key)
            same = sum(1 for t in ordered if (scores[t] if scores[t] is not None else -math.inf) == key)
            ranks[s].append(above + (same + 1) / 2)
            regrets[s].append(best - (v if v is not None else worst))
            if v is not None and v >= best - 1e-12:
                wins[s] += 1
    lines.append("")
    lines.append(f"{'':<20}" + "".join(f"{SHORT.get(s, s)[:11]:>12}" for s in systems))
    lines.append(f"{'mean rank':<20}" + "".join(
        _fmt(sum(v) / len(v) if v else "--", 12, 2) for v in ranks.values()))
    lines.append(f"{'wins':<20}" + "".join(f"{wins[s]:>12d}" for s in systems))
    lines.append(f"{'mean regret':<20}" + "".join(
        _fmt(sum(v) / len(v) if v else "--", 12, 4) for v in regrets.values()))
    errors = {s: sum(1 for r in records if r["system"] == s and r.get("error")) for s in systems}
    lines.append(f"{'errors':<20}" + "".join(f"{errors[s]:>12d}" for s in systems))

    def ratio(s, key):
        vals = [r[key] / r["budget"] for r in records if r["system"] == s and r.get(key)]
        return vals

    for key, label in (("wall_time", "fit+predict/budget"), ("process_time", "process/budget")):
        vals = {s: ratio(s, key) for s in systems}
        lines.append(f"{'mean ' + label:<20}" + "".join(
            _fmt(sum(v) / len(v) if v else "--", 12, 2) for v in vals.values()))
        lines.append(f"{'max ' + label:<20}" + "".join(
            _fmt(max(v) if v else "--", 12, 2) for v in vals.values()))
    lines.append("(regret: best score on the case minus the system's; a missing score counts as "
                 "the worst score there. mean rank: 1 = best, a missing score ranks last)")
    if len(seeds) > 1:
        lines += ["", *_mean_over_seeds(systems, by, seeds)]

    if "nbautoml" in systems:
        lines.append("")
        below, worse = [], []
        for case in cases:
            r = by.get((*case, "nbautoml"))
            ref = _better_default(by, case)
            if r is None or ref is None:
                continue
            if r.get("score") is None or r["score"] < ref - 0.005:
                below.append(case)
                gap = "missing" if r.get("score") is None else f"{r['score'] - ref:+.4f}"
                worse.append(f"{case_name(case)} ({gap})")
        nb = [r for r in records if r["system"] == "nbautoml"]
        errs = [f"{case_name((r['dataset'], _split_seed(r)))}: {r['error']}" for r in nb if r.get("error")]
        wall = [(r["wall_time"] / r["budget"], case_name((r["dataset"], _split_seed(r))))
                for r in nb if r.get("wall_time")]
        lines.append(f"nbautoml below the better default by > 0.005: {len(below)} of "
                     f"{len(nb)}" + (f": {', '.join(worse)}" if worse else ""))
        lines.append(f"nbautoml errors: {len(errs)}" + ("".join(f"\n  {e}" for e in errs)))
        if wall:
            top = max(wall)
            lines.append(f"nbautoml max fit+predict wall time / budget: {top[0]:.2f} ({top[1]})")
    return "\n".join(lines)


def _better_default(by: dict, case: tuple) -> float | None:
    """The better of the two default models' scores on a case (None if neither scored)."""
    scores = [by[(*case, s)]["score"] for s in DEFAULTS
              if (*case, s) in by and by[(*case, s)].get("score") is not None]
    return max(scores) if scores else None


def _mean_over_seeds(systems: list[str], by: dict, seeds: list[int]) -> list[str]:
    """Each data set's mean score over the split seeds, and nbautoml's mean gap to the better
    default of each split (a system missing a split's score gets no mean: --)."""
    datasets = sorted({dataset for dataset, _, _ in by}, key=str.lower)
    head = (f"{'mean over split seeds ' + ','.join(map(str, seeds)):<32}"
            + "".join(f"{SHORT.get(s, s)[:11]:>12}" for s in systems))
    lines = [head, "-" * len(head)]
    gaps = {}
    for d in datasets:
        cells = []
        for s in systems:
            scores = [by.get((d, seed, s), {}).get("score") for seed in seeds]
            ok = all(v is not None and math.isfinite(v) for v in scores)
            cells.append(_fmt(statistics.mean(scores) if ok else "--", 12, 4))
        lines.append(f"{d:<32}" + "".join(cells))
        if "nbautoml" in systems:
            pairs = [(by.get((d, seed, "nbautoml"), {}).get("score"), _better_default(by, (d, seed)))
                     for seed in seeds]
            if all(nb is not None and ref is not None for nb, ref in pairs):
                gaps[d] = [nb - ref for nb, ref in pairs]
    if gaps:
        lines.append("nbautoml minus the better default of each split, mean over the seeds "
                     "(splits below by > 0.005):")
        lines += [f"  {d:<30}{statistics.mean(g):+.4f} ({sum(x < -0.005 for x in g)} of {len(g)})"
                  for d, g in gaps.items()]
        below = [d for d, g in gaps.items() if statistics.mean(g) < -0.005]
        lines.append(f"nbautoml below the better default by > 0.005 on the mean over the seeds: "
                     f"{len(below)} of {len(gaps)}" + (f": {', '.join(below)}" if below else ""))
    return lines


def read_jsonl(path: Path) -> list[dict]:
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


# =============================================================================== main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets-dir", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--only", help="comma-separated data set names (default: all of INDEX.csv)")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per system per data set")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help=f"comma-separated, from {', '.join(SYSTEMS)}")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "results.jsonl")
    parser.add_argument("--resume", action="store_true",
                        help="append to --out and skip the (system, data set, budget) already in it")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an --out file of an earlier run (without it, or --resume, an existing "
                             "file is an error)")
    parser.add_argument("--threads", type=int,
                        help="cap native threads in the children (OMP/BLAS env, FLAML n_jobs); "
                             "default: each library's own default")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="random_state of the 75/25 split and of the defaults (the protocol's is 0; "
                             "others show how much one split decides)")
    parser.add_argument("--split-seeds", type=parse_seeds,
                        help="several split seeds, run one after another: '0-4' or '0,2,5' (instead of "
                             "--split-seed); the report adds each data set's mean over them")
    parser.add_argument("--nbautoml-options", type=json.loads, default=None,
                        help='extra AutoML keyword arguments as JSON, e.g. \'{"ensemble": false}\' '
                             "(an A/B of a default)")
    parser.add_argument("--log-dir", type=Path, help="children's stderr (default: a temp dir)")
    parser.add_argument("--python", type=Path, default=PROJECT_PYTHON,
                        help="interpreter for nbautoml and the defaults (default: .venv)")
    parser.add_argument("--compare-python", type=Path, default=COMPARE_PYTHON,
                        help="interpreter for FLAML and hyperopt-sklearn")
    parser.add_argument("--setup", action="store_true",
                        help="create benchmarks/.venv-compare from requirements.txt and exit")
    parser.add_argument("--report", type=Path, help="print the tables of a JSONL file and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        return child_main(json.loads(args.child))
    if args.setup:
        setup_compare_venv()
        print(f"comparison venv ready: {COMPARE_PYTHON}")
        return 0
    if args.report:
        print(summarize(read_jsonl(args.report)))
        return 0

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    index = read_index(args.datasets_dir)
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        missing = sorted(set(wanted) - {row["dataset"] for row in index})
        if missing:
            parser.error(f"not in INDEX.csv: {missing}")
        index = [row for row in index if row["dataset"] in wanted]
    python = args.python if args.python.exists() else Path(sys.executable)
    if any(s in COMPARE_SYSTEMS for s in systems) and not args.compare_python.exists():
        parser.error(f"{args.compare_python} is missing: run `{sys.argv[0]} --setup` first "
                     "(or leave flaml/hyperopt_sklearn out of --systems)")
    if args.out.exists() and not (args.resume or args.overwrite):
        parser.error(f"{args.out} holds the results of an earlier run: pass --resume to add to it, "
                     "--overwrite to replace it, or another --out")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if args.resume and args.out.exists():
        done = {(r["dataset"], r["system"], r["budget"], _split_seed(r)) for r in read_jsonl(args.out)}
    elif args.out.exists():
        args.out.unlink()
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="nbautoml-bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    seeds = args.split_seeds or [args.split_seed]
    total = len(index) * len(systems) * len(seeds)
    print(f"{len(index)} data sets x {len(systems)} systems"
          + (f" x {len(seeds)} split seeds" if len(seeds) > 1 else "") + f", budget {args.budget:g} s "
          f"(hard cap {hard_cap(args.budget):g} s each); worst case about "
          f"{total * hard_cap(args.budget) / 60:.0f} min, expected about "
          f"{total * args.budget / 60:.0f} min. Logs: {log_dir}", flush=True)
    n = 0
    for split_seed, row in ((seed, row) for seed in seeds for row in index):
        reference = None
        for system in systems:
            n += 1
            if (row["dataset"], system, args.budget, split_seed) in done:
                continue
            if reference is None:
                reference = reference_seconds(python)
            spec = {"system": system, "dataset": row["dataset"], "task": row["task"],
                    "target": row["target"], "file": str(args.datasets_dir / row["file"]),
                    "budget": args.budget, "threads": args.threads,
                    "nbautoml_options": args.nbautoml_options, "split_seed": split_seed}
            interpreter = args.compare_python if system in COMPARE_SYSTEMS else python
            record = run_one(interpreter, spec, log_dir)
            record["reference_seconds"] = reference
            with open(args.out, "a") as fh:
                fh.write(json.dumps(record, default=str) + "\n")
            score = "-" if record.get("score") is None else f"{record['score']:.4f}"
            status = f"  ERROR {record['error'][:100]}" if record.get("error") else ""
            case = row["dataset"] if len(seeds) == 1 else f"{row['dataset']}/{split_seed}"
            print(f"[{n}/{total}] {case:<10} {system:<22} {score:>8} "
                  f"{record['process_time']:6.1f} s (load {record['load_at_start']}, "
                  f"reference {reference} s){status}", flush=True)
    print()
    print(summarize(read_jsonl(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
