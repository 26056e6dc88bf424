"""Distributed trials on Apache Spark through hyperopt's ``SparkTrials`` (``backend="spark"``).

The driver runs hyperopt's ``fmin`` with ``SparkTrials``; each trial is a Spark
task that evaluates one config on an executor. The data goes to the executors
once, as a broadcast variable. Inside the task, the trial runs in a forked
worker process, so ``trial_timeout`` still stops a hung fit on the executor.
The driver turns finished trials into the same records, events and search
directory rows as the local backend.

Point it at a cluster by creating the Spark session before the search
(``SparkSession.builder.master("spark://host:7077").getOrCreate()``); without
one, a local session is created (``local[n_jobs]``) and stopped when the search ends.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import numpy as np

from ..exceptions import ConfigError
from .records import TrialRecord
from .search import Search, SearchState, apply_result
from .space import normalize_config, to_python

log = logging.getLogger("nbautoml")


def _spark_session(n_jobs: int):
    """The active Spark session and False, or a new local one and True (the search stops it)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise ConfigError("backend='spark' needs pyspark: pip install 'nbautoml[spark]' "
                          f"(or pip install pyspark) and a Java runtime ({err}).",
                          code="missing_dependency") from err
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (SparkSession.builder.master(f"local[{max(1, n_jobs)}]").appName("nbautoml")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .getOrCreate())
    return session, True


def _make_objective(broadcast, trial_timeout, loss_sign):
    """The function each Spark task runs: evaluate one config in a killable worker."""

    def objective(config):
        from hyperopt import STATUS_FAIL, STATUS_OK

        from nbautoml.engine.space import normalize_config as _normalize
        from nbautoml.engine.workers import WorkerPool

        config = _normalize(config)
        ctx = broadcast.value
        ctx.keep_oof = False
        pool = WorkerPool(ctx, 1)
        # a task's only deadline is its trial_timeout, which would stop the trial anyway: one
        # whose folds say it cannot end by then is stopped at once (the local search waits for
        # a first finished trial, as there the deadline is also the end of the budget)
        pool.stop_early = True
        started = time.perf_counter()
        try:
            pool.submit(pool.slots[0], 0, config, trial_timeout)
            outcomes = []
            while not outcomes:
                outcomes = pool.wait(1.0)
        finally:
            pool.close()
        outcome = outcomes[0]
        if outcome.kind == "done":
            result = dict(outcome.result)
            result.pop("oof", None)
        else:
            detail = (f"trial_timeout={trial_timeout:g}s reached ({outcome.detail})"
                      if outcome.kind == "timeout" and not outcome.early else outcome.detail)
            result = {"status": "timeout" if outcome.kind == "timeout" else "crashed", "error": detail,
                      "wall_time": time.perf_counter() - started, "output": outcome.output}
        result["config"] = config
        if result["status"] == "ok":
            return {"status": STATUS_OK, "loss": loss_sign * result["score"], "nbautoml": result}
        return {"status": STATUS_FAIL, "nbautoml": result}

    return objective


class SparkSearch(Search):
    """A :class:`Search` whose trials run as Spark tasks (hyperopt ``SparkTrials``)."""

    def run(self) -> SearchState:
        from hyperopt import SparkTrials, fmin

        self._t0 = self.started if self.started is not None else time.perf_counter()
        # a session the search creates is stopped at its end: its JVM and its threads
        # (py4j, the accumulator server) would stay in the process, and a later local search
        # forks its workers from it (a worker forked beside them once hung a test run)
        spark, created = _spark_session(self.n_jobs)
        broadcast = spark.sparkContext.broadcast(self.ctx)
        loss_sign = -1.0 if self.metric.greater_is_better else 1.0
        objective = _make_objective(broadcast, self.budget.trial_timeout, loss_sign)
        timeout = None
        if self.budget.time_budget is not None:
            timeout = max(1, int(self.budget.time_budget - self.elapsed() - 1.0))
        trials = SparkTrials(parallelism=self.n_jobs, timeout=timeout, spark_session=spark)
        points = [vals for vals, _config, _source in self.queue if vals]
        seen: set[int] = set()
        self._emit("search_started")
        max_evals = self.budget.max_evals or 10**6
        outcome: dict = {}

        def run_fmin():
            try:
                fmin(objective, self.space, algo=self.suggest, max_evals=max_evals, trials=trials,
                     rstate=np.random.default_rng(self.rng.integers(2**31 - 1)),
                     points_to_evaluate=points or None, show_progressbar=False)
            except BaseException as exc:  # reported by the main thread
                outcome["error"] = exc

        # fmin blocks, and SparkTrials reports from its own thread: run fmin in a
        # thread and collect finished trials here, so events and Ctrl-C stay in
        # the caller's thread.
        thread = threading.Thread(target=run_fmin, name="nbautoml-spark-fmin", daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                thread.join(0.5)
                self._collect(trials, seen, len(points))
                b = self.budget
                if b.early_stop is not None and self.state.since_best >= b.early_stop:
                    self.state.stop_reason = f"no improvement in {b.early_stop} trials"
                    self._cancel(spark, trials, self.state.stop_reason)
        except KeyboardInterrupt:
            self._cancel(spark, trials, "interrupted by the user")
            thread.join(10)
            self.state.status = "interrupted"
            self.state.stop_reason = "interrupted by the user"
        finally:
            broadcast.unpersist()
            if created:
                spark.stop()
        self._collect(trials, seen, len(points))
        error = outcome.get("error")
        if error is not None and not any(t.status == "ok" for t in self.state.trials):
            if not self.state.trials:
                raise error
            log.info("fmin ended with %s: %s", type(error).__name__, error)
        if not self.state.stop_reason:
            self.state.stop_reason = (trials.fmin_cancelled_reason or
                                      (f"max_evals={max_evals} reached" if self.budget.max_evals else ""))
        return self.state

    @staticmethod
    def _cancel(spark, trials, reason: str) -> None:
        trials._fmin_cancelled = True
        trials._fmin_cancelled_reason = reason
        spark.sparkContext.cancelAllJobs()

    def _collect(self, hp_trials, seen: set[int], n_points: int) -> None:
        """Turn newly finished hyperopt trials into records, store rows and events."""
        from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_NEW, JOB_STATE_RUNNING

        for doc in list(hp_trials._dynamic_trials):
            tid, state = doc["tid"], doc["state"]
            if tid in seen or state in (JOB_STATE_NEW, JOB_STATE_RUNNING):
                continue
            seen.add(tid)
            info = (doc.get("result") or {}).get("nbautoml")
            if info is None:
                cancelled = state == JOB_STATE_CANCEL
                info = {"status": "timeout" if cancelled else "failed",
                        "error": "cancelled at the end of the time budget" if cancelled
                        else str(doc.get("misc", {}).get("error", "the Spark task failed"))}
            vals = {k: to_python(v[0]) for k, v in doc["misc"]["vals"].items() if len(v)}
            config = info.get("config") or {"family": "?", "params": {}, "pre": {}}
            record = TrialRecord(trial_id=tid, config=normalize_config(config), vals=vals,
                                 source="default" if tid < n_points else self.algo_name)
            apply_result(record, info)
            record.wall_time = info.get("wall_time") or 0.0
            record.finished = self.elapsed()
            self.state.trials.append(record)
            loss = self.metric.loss(record.score) if record.status == "ok" else None
            improved = loss is not None and loss < self.state.best_loss
            if improved:
                self.state.best, self.state.best_loss, self.state.since_best = record, loss, 0
            else:
                self.state.since_best += 1
            if self.store is not None:
                self.store.write_trial(record, elapsed=self.elapsed())
            self._emit("trial_finished", trial=record)
            if improved:
                self._emit("new_best", trial=record)
