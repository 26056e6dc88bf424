"""Evaluate one config: fit a pipeline per fold and score it.

This runs inside a worker process. It never raises for a failing estimator:
the failure becomes part of the returned record.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..words import counted

#: lines kept of a failed trial's traceback (the innermost frames), and at most this many characters
TRACEBACK_LINES = 15
TRACEBACK_CHARS = 4000


@dataclass
class EvalContext:
    """Everything a worker needs to evaluate configs; sent once per worker."""

    X: Any  # DataFrame of the used feature columns
    y: np.ndarray  # encoded target (class codes, or floats)
    folds: list
    plan: Any
    task: str
    metric: Any
    n_classes: int
    seed: int | None
    estimator_jobs: int = 1
    keep_oof: bool = True
    custom_builder: Any = None  # callable(config) -> estimator, for user spaces


def fit_pipeline(pipeline, X, y):
    """``pipeline.fit(X, y)`` without the copy a ColumnTransformer makes of a single dense block.

    A ColumnTransformer stacks its transformers' outputs with ``np.hstack``,
    which copies even when there is one block. For gradient boosting on
    all-numeric data the block is the ``'passthrough'`` of the caller's frame,
    so the stack is a full copy of the data, held through the whole fit (with
    boosting's own train/validation split on top); after an imputer or scaler it
    is a second copy of their output. During this fit a single dense, contiguous
    block is handed on as it is: what ``np.hstack`` gives (values, dtype, shape
    and memory layout: ``np.hstack`` keeps a C- or F-contiguous block's order),
    without the copy; for a frame of one numeric dtype that is a (read-only)
    view of it. Anything else is stacked as usual.

    This holds for every ColumnTransformer fitted in this thread during the
    call, so also for the members of an ensemble (which ``VotingClassifier``
    clones before fitting). The fitted pipeline is the plain scikit-learn
    object, and its ``transform``/``predict`` are unchanged; other threads are
    not affected. With pandas 2, copy-on-write is on during the call (pandas 3
    always has it): without it selecting the columns copied them, every fit.
    """
    with _single_blocks_unstacked():
        return pipeline.fit(X, y)


_UNSTACKING = threading.local()  # .depth > 0: inside fit_pipeline in this thread
_PATCH_LOCK = threading.Lock()
_PATCH = {"users": 0, "original": None, "copy_on_write": None}


@contextmanager
def _single_blocks_unstacked():
    from sklearn.compose import ColumnTransformer

    with _PATCH_LOCK:
        if _PATCH["users"] == 0:
            original = ColumnTransformer.__dict__["_hstack"]

            def _hstack(self, Xs, *, n_samples):
                if getattr(_UNSTACKING, "depth", 0):
                    block = _unstacked(self, Xs, n_samples)
                    if block is not None:
                        return block
                return original(self, Xs, n_samples=n_samples)

            _PATCH["original"] = original
            ColumnTransformer._hstack = _hstack
            _PATCH["copy_on_write"] = _copy_on_write(True)
        _PATCH["users"] += 1
    _UNSTACKING.depth = getattr(_UNSTACKING, "depth", 0) + 1
    try:
        yield
    finally:
        _UNSTACKING.depth -= 1
        with _PATCH_LOCK:
            _PATCH["users"] -= 1
            if _PATCH["users"] == 0:
                ColumnTransformer._hstack = _PATCH["original"]
                _PATCH["original"] = None
                _copy_on_write(_PATCH["copy_on_write"])


def _copy_on_write(value):
    """Set pandas 2's ``mode.copy_on_write`` to ``value`` (None: leave it); return what it was.
    pandas 3 always copies on write and has no such switch to set."""
    import pandas as pd

    if value is None or int(pd.__version__.split(".")[0]) >= 3:
        return None
    before = pd.get_option("mode.copy_on_write")
    pd.set_option("mode.copy_on_write", value)
    return before


def _unstacked(features, Xs, n_samples):
    """The one dense block of ``Xs`` as ``np.hstack`` would give it, without the copy; else None."""
    import pandas as pd
    from scipy import sparse
    from sklearn.utils._set_output import _get_output_config

    if len(Xs) != 1 or getattr(features, "sparse_output_", True) or sparse.issparse(Xs[0]):
        return None
    if _get_output_config("transform", features)["dense"] != "default":
        return None  # a pandas/polars output is concatenated as a frame
    if not isinstance(Xs[0], (np.ndarray, pd.DataFrame)):
        return None
    values = np.asarray(Xs[0])
    if values.ndim != 2 or values.shape[0] != n_samples:
        return None
    if not (values.flags.c_contiguous or values.flags.f_contiguous):
        return None  # np.hstack would give it another layout
    return values


def _full_proba(pipeline, X, n_classes: int | None):
    """``predict_proba`` with one column per class code, even if a fold lacked a class."""
    proba = np.asarray(pipeline.predict_proba(X), dtype=float)
    if not n_classes or proba.shape[1] == n_classes:
        return proba
    full = np.zeros((proba.shape[0], n_classes))
    full[:, np.asarray(pipeline.classes_, dtype=int)] = proba
    return full


def _probabilities(pipeline, X, n_classes: int | None):
    """Class probabilities, or None when the model gives none."""
    if not hasattr(pipeline, "predict_proba"):
        return None
    try:
        return _full_proba(pipeline, X, n_classes)
    except AttributeError:
        return None


def _metric_prediction(pipeline, X, metric, task: str, n_classes: int | None = None):
    """What the metric scores: labels, probabilities (or decision values), or values."""
    if task == "regression" or metric.needs == "label":
        return pipeline.predict(X)
    proba = _probabilities(pipeline, X, n_classes)
    if proba is not None:
        return proba
    if metric.needs == "proba":
        raise ValueError(f"{type(pipeline[-1]).__name__} gives no probabilities, which {metric.name} needs")
    return pipeline.decision_function(X)


def _predictions(pipeline, X, metric, task: str, n_classes: int | None = None):
    """``(for_metric, for_storage)``; kept for callers that score a fitted pipeline."""
    prediction = _metric_prediction(pipeline, X, metric, task, n_classes)
    return prediction, prediction


def score_fitted(pipeline, frame, y, metric, task: str, classes) -> float:
    """The metric of a fitted pipeline on ``frame`` with true values ``y`` (original labels)."""
    from ..exceptions import DataError
    from .metrics import score

    y = np.asarray(y)
    if task == "regression":
        return score(metric, y.astype(float), pipeline.predict(frame))
    unknown = set(np.unique(y).tolist()) - set(np.asarray(classes).tolist())
    if unknown:
        raise DataError(f"The target has classes not seen in training: {sorted(map(str, unknown))}.",
                        code="unknown_classes")
    codes = np.searchsorted(classes, y)
    prediction = _metric_prediction(pipeline, frame, metric, task)
    if metric.needs == "label":
        prediction = np.searchsorted(classes, prediction)
    return score(metric, codes, np.asarray(prediction), len(classes))


def evaluate_config(config: dict, ctx: EvalContext, on_fold=None) -> dict:
    """Cross-validate one config.

    ``on_fold``, when given, is called after each fold but the last with the folds done,
    the number of folds, the seconds since the trial started and the seconds the trial would
    take if each fold left took as long as the last one (the worker tells its parent, which
    stops a trial that cannot end in time at once instead of at its deadline).

    Returns
    -------
    dict
        ``status`` ("ok" or "failed"), ``fold_scores``, ``score``, ``score_std``,
        ``fit_time``, ``cpu_time``, ``predict_time`` (seconds per 1,000 rows),
        ``error`` and ``traceback`` (its last :data:`TRACEBACK_LINES` lines) for a
        failed trial, and ``oof`` (out-of-fold predictions) when kept; the cost:
        ``peak_memory`` (bytes above the process's RSS at the start, see
        :mod:`nbautoml.engine.cost`), ``model_size`` (bytes of the last fold's
        pipeline pickled, successful trials only) and ``size_time`` (seconds spent
        measuring that size, excluded from ``cpu_time``).
    """
    from . import metrics as metrics_mod
    from .cost import PeakMemory, pickled_size
    from .space import build_pipeline

    started = time.perf_counter()
    cpu_started = time.process_time()
    fold_scores: list[float] = []
    fit_time = 0.0
    predict_time = 0.0
    predicted_rows = 0
    oof = None
    pipeline = None
    memory = PeakMemory()
    try:
        # built once before measuring memory: a fresh worker imports the estimator modules here
        build_pipeline(config, ctx.plan, ctx.task, random_state=ctx.seed, n_jobs=ctx.estimator_jobs,
                       estimator=ctx.custom_builder(config) if ctx.custom_builder else None)
        with warnings.catch_warnings(), memory:
            warnings.simplefilter("ignore")
            fold_started = time.perf_counter()
            for train_idx, val_idx in ctx.folds:
                estimator = ctx.custom_builder(config) if ctx.custom_builder else None
                pipeline = build_pipeline(config, ctx.plan, ctx.task, random_state=ctx.seed,
                                          n_jobs=ctx.estimator_jobs, estimator=estimator)
                X_train = ctx.X.iloc[train_idx]
                X_val = ctx.X.iloc[val_idx]
                t0 = time.perf_counter()
                fit_pipeline(pipeline, X_train, ctx.y[train_idx])
                t1 = time.perf_counter()
                prediction = _metric_prediction(pipeline, X_val, ctx.metric, ctx.task, ctx.n_classes)
                t2 = time.perf_counter()
                stored = prediction
                if ctx.keep_oof and ctx.task != "regression" and ctx.metric.needs == "label":
                    stored = _probabilities(pipeline, X_val, ctx.n_classes)
                    stored = prediction if stored is None else stored
                fit_time += t1 - t0
                predict_time += t2 - t1
                predicted_rows += len(val_idx)
                prediction = np.asarray(prediction)
                if not np.all(np.isfinite(prediction.astype(float, copy=False))):
                    raise ValueError("the model predicted NaN or infinite values")
                fold_scores.append(metrics_mod.score(ctx.metric, ctx.y[val_idx], prediction, ctx.n_classes))
                if ctx.keep_oof:
                    stored = np.asarray(stored, dtype=float)
                    if oof is None:
                        oof = np.full((len(ctx.y),) + stored.shape[1:], np.nan, dtype=float)
                    oof[val_idx] = stored
                done, n_folds = len(fold_scores), len(ctx.folds)
                now = time.perf_counter()
                if on_fold is not None and done < n_folds:
                    on_fold(done, n_folds, now - started, now - started + (now - fold_started) * (n_folds - done))
                fold_started = now
        scores = np.asarray(fold_scores, dtype=float)
        if np.isnan(scores).any():
            raise ValueError(f"the metric {ctx.metric.name} is NaN on {counted(int(np.isnan(scores).sum()), 'fold')}")
        status, error, trace = "ok", None, None
    except MemoryError:
        status, error = "failed", "MemoryError: the trial ran out of memory"
        trace = None
    except Exception as exc:  # a failing estimator is a failed trial, not a failed search
        status = "failed"
        trace = short_traceback(exc)
        error = f"{type(exc).__name__}: {exc}".strip()
        if len(error) > 500:
            error = error[:497] + "..."
        tb = traceback.extract_tb(exc.__traceback__)
        where = tb[-1] if tb else None
        if where is not None:
            error += f" (in {os.path.basename(where.filename)}:{where.lineno})"
    scores = np.asarray(fold_scores, dtype=float)
    ok = status == "ok"
    cpu_time = time.process_time() - cpu_started
    model_size, size_time = pickled_size(pipeline) if ok else (None, 0.0)
    return {
        "status": status,
        "fold_scores": [float(s) for s in scores] if ok else [],
        "score": float(scores.mean()) if ok else None,
        "score_std": float(scores.std()) if ok else None,
        "fit_time": fit_time,
        "cpu_time": cpu_time,
        "wall_time": time.perf_counter() - started,
        "predict_time": 1000.0 * predict_time / predicted_rows if predicted_rows else None,
        "peak_memory": memory.peak,
        "model_size": model_size,
        "size_time": size_time,
        "error": error,
        "traceback": trace,
        "oof": oof if ok else None,
    }


def short_traceback(exc: BaseException, lines: int = TRACEBACK_LINES) -> str:
    """The last ``lines`` lines of ``exc``'s formatted traceback (the innermost frames and the error)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip("\n").splitlines()
    if len(text) > lines:
        text = [f"... ({len(text) - lines} earlier lines of the traceback not kept)", *text[-lines:]]
    text = "\n".join(text)
    return text if len(text) <= TRACEBACK_CHARS else "..." + text[-(TRACEBACK_CHARS - 3):]
