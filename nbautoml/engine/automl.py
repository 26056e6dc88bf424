"""``AutoML``: the scikit-learn-style estimator that runs a search and holds its result."""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ..exceptions import (
    ConfigError,
    DataError,
    NotFittedError,
    SearchFailedError,
    closest,
    unknown_choice,
)
from . import data as data_mod
from . import hashing
from .ensemble import describe_model
from .evaluate import EvalContext, fit_pipeline, score_fitted
from .filesystems import check_local_filesystem
from .frames import as_pandas
from .leaderboard import build_leaderboard, format_leaderboard
from .limits import limit_supported
from .metrics import choose_metric, get_metric
from .prefer import check_preference, choose_trial
from .prepare import prepare_data
from .processes import process_owner
from .race import SplineChoice, TargetChoice
from .reading import read_table
from .records import TrialRecord
from .search import IN_ORDER_LAG, Budget, Search, emit_finished, get_algorithm
from .space import (
    FAMILIES,
    build_pipeline,
    build_space,
    default_points,
    describe,
    normalize_config,
    resolve_families,
    selection_param,
    spline_mode,
    target_mode,
    vals_from_config,
)
from .store import RunStore, find_run, list_runs
from .threshold import check_decision_threshold
from .validation import group_column, make_validation, time_order_note
from .workers import cpu_count, resolve_n_jobs, valid_n_jobs

log = logging.getLogger("nbautoml")


def default_search_dir() -> Path:
    """Where searches are stored: ``$NBAUTOML_HOME/runs`` or ``./nbautoml_runs``."""
    home = os.environ.get("NBAUTOML_HOME")
    return Path(home) / "runs" if home else Path("nbautoml_runs")


class AutoML(BaseEstimator):
    """Search preprocessing + estimator pipelines with hyperopt, cross-validated.

    Parameters
    ----------
    task : {"auto", "binary", "multiclass", "regression"}, default="auto"
        Inferred from the target when "auto".
    metric : str, default="auto"
        One of accuracy, balanced_accuracy, f1, f1_macro, roc_auc, log_loss,
        precision, recall, average_precision (classification; f1, precision,
        recall and average_precision binary only), r2, rmse, mae, mape
        (regression).
        "auto" picks roc_auc (binary), accuracy (multiclass) or r2;
        balanced_accuracy for multiclass when the largest class has at least
        20 times the rows of the smallest (the choice is noted in the result).
    time_budget : float or None, default=60
        Seconds for the whole search, final refit included.
    max_evals : int, optional
        Stop after this many trials.
    trial_timeout : float, optional
        A trial running longer is killed and recorded as ``timeout``.
    early_stop : int, optional
        Stop after this many trials without improvement.
    cv : "auto", int, str or splitter, default="auto"
        "auto", "kfold[:k]", "stratified[:k]", "group[:k]", "timeseries[:k]",
        "holdout[:fraction]", an int (k-fold) or a scikit-learn splitter.
    models, exclude : list of str, optional
        Restrict the estimator families (see ``nbautoml.available_models``).
    space : hyperopt space, optional
        Your own space; it must sample dicts ``{"family", "params", "pre"}``.
    algo : {"tpe", "random", "anneal", "atpe"}, default="tpe"
    seed : int, default=0
    n_jobs : int or "auto", default="auto"
        Trials run in parallel: an int, -1 for one per CPU, or "auto" for one
        per CPU on data up to 10 million cells (rows x columns) and one at a
        time above (each trial's estimator then uses the cores). The number
        used is ``n_jobs_``. Without a time budget (``max_evals`` only) trial k
        is suggested from the results of trials 0 .. k - 4, whichever ends
        first, so the same seed repeats the same search exactly with any
        ``n_jobs`` from 1 to 4 ("auto" then runs at most 4 trials at a time;
        with more, trial k learns from trials 0 .. k - n_jobs).
    ensemble : {"auto", True, False}, default="auto"
        Greedy ensemble selection over the best trials' out-of-fold
        predictions: "auto" keeps the ensemble only when it beats the best
        single pipeline by more than 0.1 % pooled over all rows and on most
        of the validation folds (and its refit fits the budget);
        True keeps it whenever two or more trials average better; False never
        ensembles. With ``prefer`` other than "accurate" there is no ensemble.
        The search keeps time (at most a fifth of the budget) for refitting the
        two members an ensemble most likely adds, the best trials of the next
        two model families; near the end of the budget only for the members of
        the ensemble it would keep then (none without one); a member too slow
        to refit in the time left is left out.
    backend : {"local", "spark"}, default="local"
        "local" runs trials in worker processes on this machine; "spark" runs
        them as Spark tasks through hyperopt's SparkTrials (``n_jobs`` tasks at
        once; needs ``pip install 'nbautoml[spark]'``).
    search_dir : str or Path, optional
        Where search directories go (default ``./nbautoml_runs``).
    name : str, optional
        The search directory's name (default: target and a time stamp).
    resume : str or Path, optional
        A search name or directory to continue. ``time_budget`` counts the
        whole search: the time the earlier runs spent is part of it.
    force_resume : bool, default=False
        When the data differs from the data ``resume`` ran on (error
        ``resume_data_changed``): start a new search on this data whose first
        trials are that search's five best configs, evaluated again (their old
        scores are on other data); the old search is left as it is.
    roles : dict, optional
        Override column roles, e.g. ``{"zip": "categorical", "notes": "text"}``.
    callbacks : list of callables, optional
        Receive :class:`~nbautoml.engine.records.SearchEvent` objects.
    n_default_points : int, default=8
        How many strong default configs are tried before TPE.
    warm_start : list of dict or fitted AutoML, optional
        Configs (``{"family", "params", "pre"}``) tried first, before the
        defaults; a fitted AutoML (or loaded model) gives its top configs.
    prefer : {"accurate", "fast", "small"}, default="accurate"
        Which pipeline to refit. "accurate": the best CV score, or a default
        point (tried before the search tuned anything) that the leaderboard's
        paired test ties with it, whose score is not inflated by being the
        best of many. "fast" / "small": among the pipelines within
        ``prefer_tolerance`` of the best, the one with the lowest prediction
        latency or the smallest pickled model.
    prefer_tolerance : float, optional
        How much score to give up, in the metric's units (default: one
        standard error of the best pipeline's fold scores).
    prune_families : bool, default=True
        Stop trying estimator families far behind the best one: a family
        leaves once its best error (distance from the metric's ideal score)
        exceeds ``(1 + 2/n)`` times the best error plus 0.01 after ``n`` of
        its trials, or its first two trials failed. ``families_left_`` says
        which left and why. The local backend only.
    decision_threshold : {"auto"} or float or None, default="auto"
        For binary tasks: the probability of the positive class (the second
        of ``classes_``) from which the model predicts it. "auto" chooses it
        on the model's out-of-fold probabilities when the metric is accuracy,
        balanced_accuracy, f1 or f1_macro, and keeps it only when it beats
        0.5 by more than 0.1 % pooled over the rows; a number is used as
        given (on a multiclass or regression task it is not applied, with a
        warning); None keeps 0.5. The threshold is
        part of the saved model (scikit-learn's ``FixedThresholdClassifier``
        around the last step); ``predict_proba`` is unchanged.
    memory_limit : float, optional
        MB of memory a trial may use on top of what its worker process already
        holds (the data included). A trial that needs more fails at once with
        status ``memory`` ("exceeded the N MB per-trial limit") and the search
        goes on. Enforced on Linux only (``RLIMIT_AS``, which counts memory
        reserved as well as used; see :mod:`nbautoml.engine.limits`); the local
        backend only. Default: no limit.

    Attributes
    ----------
    best_pipeline : sklearn.pipeline.Pipeline
        Refitted on all the data; predicts the original labels.
    leaderboard : DataFrame
    preference_ : str
        What ``prefer`` chose and what it traded; ``best_trial_`` and
        ``best_score_`` are the chosen trial's, ``overall_best_trial_`` the
        best-scoring one.
    families_left_ : dict
        Family -> why it left the search early (see ``prune_families``).
    splines_ : str or None
        On regression data of up to 10,000 rows per fit, whether the linear
        models searched numbers on B-splines or plain, and the two CV scores
        that decided it (the default ridge with and without); None where no
        linear model takes splines.
    log_target_ : str or None
        On a skewed regression target without negative values, whether the
        search went on on the log of the target, and the two CV scores that
        decided it (the default gradient boosting as it is and on the log);
        None where the log was not tried.
    n_jobs_ : int
        Trials that ran at a time (``n_jobs`` resolved).
    decision_threshold_ : float or None
        The decision threshold in the model, or None (0.5); ``threshold_note_``
        says how it was chosen, or why 0.5 was kept, and ``threshold_choice_``
        holds the out-of-fold scores behind "auto".
    total_cpu_time_ : float
        CPU seconds of the search: every trial (in its worker) plus this
        process (hyperopt, the final refit). Trials stopped by a timeout are
        not counted.
    task_, metric_, classes_, best_score_, best_score_std_, plan_, trials_,
    status_, run_dir_, validation_
    """

    def __init__(self, task="auto", metric="auto", time_budget=60, max_evals=None, trial_timeout=None,
                 early_stop=None, cv="auto", models=None, exclude=None, space=None, algo="tpe", seed=0,
                 n_jobs="auto", search_dir=None, name=None, resume=None, roles=None, callbacks=None,
                 n_default_points=8, warm_start=None, start_method=None, prefer="accurate",
                 prefer_tolerance=None, backend="local", ensemble="auto", prune_families=True,
                 memory_limit=None, force_resume=False, decision_threshold="auto"):
        self.task = task
        self.metric = metric
        self.time_budget = time_budget
        self.max_evals = max_evals
        self.trial_timeout = trial_timeout
        self.early_stop = early_stop
        self.cv = cv
        self.models = models
        self.exclude = exclude
        self.space = space
        self.algo = algo
        self.seed = seed
        self.n_jobs = n_jobs
        self.search_dir = search_dir
        self.name = name
        self.resume = resume
        self.force_resume = force_resume
        self.roles = roles
        self.callbacks = callbacks
        self.n_default_points = n_default_points
        self.warm_start = warm_start
        self.backend = backend
        self.ensemble = ensemble
        self.start_method = start_method
        self.prefer = prefer
        self.prefer_tolerance = prefer_tolerance
        self.prune_families = prune_families
        self.memory_limit = memory_limit
        self.decision_threshold = decision_threshold

    def __sklearn_tags__(self):
        """A classifier for scikit-learn (stratified folds in ``cross_val_score``, ``predict_proba``
        expected) when ``task`` names a classification task; a regressor for
        ``task="regression"``; neither for ``task="auto"``, which decides at ``fit``."""
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        if self.task in ("binary", "multiclass"):
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_class=self.task == "multiclass")
        elif self.task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        return tags

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        def positive(name, value, kind=Real, allow_none=True):
            if value is None and allow_none:
                return
            if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
                what = "an int" if kind is Integral else "a number"
                raise ConfigError(
                    f"The {name!r} parameter of AutoML must be {what} > 0 or None. Got {value!r} instead.",
                    code="bad_option",
                )

        positive("time_budget", self.time_budget)
        positive("max_evals", self.max_evals, Integral)
        positive("trial_timeout", self.trial_timeout)
        positive("early_stop", self.early_stop, Integral)
        positive("memory_limit", self.memory_limit)
        if self.memory_limit is not None and not limit_supported():
            warnings.warn(f"memory_limit={self.memory_limit:g} is not enforced on this platform ({sys.platform}): "
                          "only Linux limits a process's memory (RLIMIT_AS). The search runs without a limit.",
                          UserWarning, stacklevel=4)
        if self.memory_limit is not None and self.backend == "spark":
            warnings.warn("memory_limit applies to the local backend only; backend='spark' runs without it.",
                          UserWarning, stacklevel=4)
        positive("n_default_points", self.n_default_points, Integral) if self.n_default_points else None
        if self.trial_timeout is not None and self.time_budget is not None and self.trial_timeout > self.time_budget:
            warnings.warn(f"trial_timeout={self.trial_timeout:g}s is longer than the whole time_budget="
                          f"{self.time_budget:g}s, so it never applies: each trial is stopped by the time left "
                          "in the budget instead. Give a trial_timeout below the time_budget, or leave it "
                          "out.", UserWarning, stacklevel=4)
        if self.time_budget is None and self.max_evals is None and self.early_stop is None:
            raise ConfigError("Give a time_budget, max_evals or early_stop, or the search never ends.",
                              code="no_budget")
        if not valid_n_jobs(self.n_jobs):
            raise ConfigError(f"n_jobs must be a positive int, -1 (one per CPU) or 'auto'; got {self.n_jobs!r}.",
                              code="bad_option")
        if self.seed is not None and (not isinstance(self.seed, Integral) or not 0 <= self.seed < 2**32):
            raise ConfigError(f"seed must be an int from 0 to 2**32 - 1 ({2**32 - 1}), or None; got "
                              f"{self.seed!r}.", code="bad_seed")
        if self.resume is None:  # a resumed search stays where it is
            _check_search_dir(self.search_dir)
            if self.force_resume:
                raise ConfigError("force_resume=True (--force) goes with resume=NAME (--resume NAME): it "
                                  "says what to do when that search's data differs from this data.",
                                  code="bad_option")
        get_algorithm(self.algo)
        if self.backend not in ("local", "spark"):
            raise unknown_choice("backend", self.backend, ("local", "spark"), code="unknown_backend")
        if not any(self.ensemble is v for v in (True, False)) and self.ensemble != "auto":
            raise ConfigError(f"ensemble={self.ensemble!r}: use 'auto' (ensemble when it beats the best "
                              "single pipeline), True or False.", code="bad_ensemble")
        check_preference(self.prefer, self.prefer_tolerance)
        check_decision_threshold(self.decision_threshold)
        for name in ("models", "exclude"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, [v.strip() for v in value.split(",") if v.strip()])

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, target=None, groups=None):
        """Run the search and refit the best pipeline on all the data.

        Parameters
        ----------
        X : DataFrame, array-like, or path to a CSV/Parquet file
        y : array-like, optional
            The target, when it is not a column of ``X``.
        target : str, optional
            Name of the target column of ``X``.
        groups : str or array-like, optional
            Group labels for ``cv="group"``: an array, or a column of ``X``
            (the column is then not used as a feature).

        Returns
        -------
        self

        Raises
        ------
        SearchFailedError
            No trial succeeded, or no final refit did. The search's stored status
            is then ``"failed"`` (see :data:`nbautoml.engine.store.SEARCH_STATUSES`).
        """
        self._open_run = None  # the search store while fit runs, closed by _finish_store
        # (the warnings of _fit and its helpers count this frame in their stacklevel, so that
        # they point at the caller of fit)
        try:
            return self._fit(X, y, target=target, groups=groups)
        except BaseException as exc:
            _store_ended_by(self._open_run, exc)
            raise
        finally:
            self.__dict__.pop("_open_run", None)  # no connection kept on the estimator

    def _fit(self, X, y, *, target, groups):
        t_start = time.perf_counter()
        cpu_start = time.process_time()
        self._check_params()
        column = group_column(self.cv)
        if column is not None:
            if groups is not None:
                raise ConfigError(f"cv={self.cv!r} names the group column; leave groups= out (or give "
                                  "cv='group:5' with groups=).", code="bad_cv")
            groups = column
        self.groups_column_ = groups if isinstance(groups, str) else None  # not a feature: predict ignores it
        if target is None and y is None:
            raise data_mod.no_target_error(X)
        prepared = prepare_data(X, y, target=target, groups=groups, task=self.task, roles=self.roles,
                                stacklevel=4)
        X, y, groups, task, plan = prepared.X, prepared.y, prepared.groups, prepared.task, prepared.plan
        n_missing_target, self.target_as_numbers_ = prepared.n_missing_target, prepared.target_as_numbers
        metric_name, self.metric_note_ = choose_metric(self.metric, task, y)
        metric = get_metric(metric_name, task)
        if task == "regression":
            classes = None
            y_codes = pd.to_numeric(y, errors="raise").to_numpy(dtype=float)
        else:
            classes = np.unique(y.to_numpy())
            y_codes = np.searchsorted(classes, y.to_numpy())
        validation = make_validation(self.cv, task, y_codes if task != "regression" else y_codes,
                                     groups=groups, seed=self.seed, y_for_checks=y,
                                     time_budget=self.time_budget, n_features=len(plan.used))
        if self.groups_column_:
            validation.description += f" (column {self.groups_column_!r})"
        self.time_order_note_ = time_order_note(X, plan, validation)
        families = resolve_families(task, self.models, self.exclude, n_rows=len(X))
        n_train = np.mean([len(tr) for tr, _ in validation.folds])  # rows a trial fits on
        n_test = np.mean([len(te) for _, te in validation.folds])
        from .transformers import DATETIME_PARTS  # scikit-learn's preprocessing: not at import

        # linear models on splines: regression only (each date gives DATETIME_PARTS numbers)
        n_numbers = len(plan.names("numeric")) + len(DATETIME_PARTS) * len(plan.names("datetime"))
        # what shapes the built-in space besides its families, for every call that builds or reads it
        shape = dict(has_categorical=bool(plan.names("categorical")), has_text=bool(plan.names("text")),
                     selection=selection_param(len(plan.used), n_train),  # a wider prior on wide data
                     splines=spline_mode(task, n_train, n_numbers),
                     target=target_mode(task, y_codes))
        starts = _warm_start_configs(self.warm_start)
        if self.space is not None:
            space = self.space
            points = [(None, config) for config in starts]
        else:
            space = build_space(families, **shape)
            starts += default_points(families, n=self.n_default_points or 0, fit_rows=int(n_train), **shape)
            points = [(vals_from_config(c, families, **shape), c) for c in starts]
        X_used = X[plan.used]
        # without a time budget, "auto" runs the same search on any machine: at most IN_ORDER_LAG at a time
        n_jobs = self.n_jobs_ = resolve_n_jobs(self.n_jobs, n_cells=X_used.size,
                                               auto_cap=IN_ORDER_LAG if self.time_budget is None else None)

        fingerprint = hashing.fingerprint(X_used, y)  # once: the store, resume's check, the result
        store, previous, rerun, spent, run_dir = self._open_store(task, metric, plan, X_used, y, fingerprint)
        self._open_run = store
        if self.space is None and (previous or rerun):
            # stored values index the families of the search that wrote them, which may differ
            # from these (resumed without its models=): place each config in this space again
            rerun = [(vals_from_config(config, families, **shape), config) for _, config in rerun]
            for record in previous:
                record.vals = vals_from_config(record.config, families, **shape) or {}
        ctx = EvalContext(
            X=X_used, y=y_codes, folds=validation.folds, plan=plan, task=task, metric=metric,
            n_classes=0 if classes is None else len(classes), seed=self.seed,
            estimator_jobs=max(1, cpu_count() // n_jobs),
        )
        refit_factor = len(X_used) / n_train / max(1, validation.n_splits)
        if store is not None:  # what a leaderboard read back from disk needs (stored_leaderboard)
            store.set_meta(validation=validation.description, test_fraction=float(n_test / n_train))
        budget = Budget(self.max_evals, self.time_budget, self.trial_timeout, self.early_stop)
        # on small regression data, the first trials decide whether the linear models keep splines
        # (only where the starting points hold the pair: a linear model, the default boosting)
        builtin = self.space is None
        spline_choice = SplineChoice(metric.greater_is_better, enabled=(
            builtin and shape["splines"] == "always" and any(FAMILIES[f].splines for f in families)))
        # ... and, for a skewed non-negative target, whether the models fit its log
        target_choice = TargetChoice(metric.greater_is_better, enabled=(
            builtin and shape["target"] == "raw" and "hist_gradient_boosting" in families))

        def now():  # the built-in space's shape as the choices leave it
            return dict(shape, splines=spline_choice.mode, target=target_choice.mode)
        callbacks = list(self.callbacks or [])
        search_class = Search
        ensembles = bool(self.ensemble) and self.prefer == "accurate"
        if self.backend == "spark":
            from .spark import SparkSearch as search_class
        # fitted attributes known before the search, so listeners can use them
        self.task_, self.metric_, self.classes_ = task, metric.name, classes
        self.greater_is_better_ = metric.greater_is_better
        self.plan_, self.validation_, self.run_dir_ = plan, validation, run_dir
        self.target_ = str(y.name) if y.name is not None else "target"
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self.families_ = families
        self.n_rows_dropped_ = n_missing_target
        self.data_fingerprint_ = fingerprint
        self._X, self._y = X_used, y
        from ..schema import build_schema

        self.schema_ = build_schema(X_used, plan)
        self._warned_extra: set = set()
        self.last_input_report_ = None
        # the budget counts all of fit: made before the schema, the search missed 2.7 s on 20,000
        # columns; its own making (hyperopt's domain) took 0.5 s beside other work in CI
        search = search_class(space, ctx, metric, budget, algo=self.algo, seed=self.seed, n_jobs=n_jobs,
                        store=store, callbacks=callbacks, points=points, refit_factor=refit_factor,
                        spent=spent, started=t_start, previous=previous, rerun=rerun,
                        start_method=self.start_method,
                        ensemble_reserve=3 if ensembles else 0,
                        ensemble_members=(self._ensemble_check(metric, y_codes, refit_factor, n_test / n_train)
                                          if ensembles else None),
                        families=None if self.space is not None else families,
                        space_for=None if self.space is not None else
                        (lambda active: build_space(active, **now())),
                        vals_for=None if self.space is not None else
                        (lambda config, active: vals_from_config(config, active, **now())),
                        choices=[spline_choice, target_choice],
                        prune_families=bool(self.prune_families), memory_limit=self.memory_limit)
        state = search.run()

        self.trials_ = state.trials
        self.status_ = state.status
        self.stop_reason_ = state.stop_reason
        self.families_left_ = dict(state.families_left)
        self.splines_ = spline_choice.outcome(state.trials)
        self.log_target_ = target_choice.note
        self._oof = state.oof
        self.leaderboard_ = build_leaderboard(state.trials, metric.greater_is_better, n_test / n_train)
        self.total_cpu_time_ = _total_cpu_time(state.trials, cpu_start)
        if state.best is None:
            if state.status == "interrupted":
                self.best_pipeline_ = self.best_config_ = self.best_trial_ = self.ensemble_ = None
                self.elapsed_ = search.elapsed()
                self._finish_store(store, state, None)
                warnings.warn("The search was interrupted before any trial finished; there is no model.",
                              stacklevel=3)
                return self
            self._raise_all_failed(state.trials)
        preference = choose_trial(search.candidate_trials(), self.prefer, metric.greater_is_better,
                                  self.prefer_tolerance, metric.name, test_fraction=n_test / n_train)
        self.overall_best_trial_ = preference.best
        self.preference_ = preference.note
        best = preference.chosen  # the trial refitted: the best, or a faster/smaller near-best one
        self.best_trial_ = best
        self.best_config_ = best.config
        self.best_score_, self.best_score_std_ = best.score, best.score_std
        self.best_pipeline_ = None
        t_refit = time.perf_counter()
        self.ensemble_ = None
        if self.ensemble and self.prefer == "accurate" and state.status != "interrupted":
            self.ensemble_ = self._choose_ensemble(state, best, metric, y_codes, search, refit_factor)
        members = set(self.ensemble_.weights) if self.ensemble_ is not None else set()
        _keep_oof_of(state.oof, {best.trial_id, preference.best.trial_id} | members)
        self.refit_failures_ = []
        try:
            self.best_pipeline_, best = self._refit_or_next_best(search.candidate_trials(), best,
                                                                 metric.greater_is_better)
        except KeyboardInterrupt:
            self.status_ = "interrupted"
            self.stop_reason_ = "interrupted during the final refit; call .refit() to fit the best config"
        try:
            self._set_decision_threshold(metric)
        except Exception as exc:  # the model at 0.5 is still a model: the search is not lost for it
            self.threshold_note_ = f"0.5 kept: choosing a threshold failed ({type(exc).__name__}: {exc})"
            warnings.warn(f"nbautoml: {self.threshold_note_}.", UserWarning, stacklevel=3)
        self.refit_time_ = time.perf_counter() - t_refit
        try:  # the monitoring reference profile (nbautoml.monitor); a failure must not lose the search
            from ..monitor.profile import build_profile
            self.reference_profile_ = build_profile(self) if self.best_pipeline_ is not None else None
        except Exception as exc:
            log.warning("nbautoml: no monitoring reference profile (%s: %s)", type(exc).__name__, exc)
            self.reference_profile_ = None
        self.total_cpu_time_ = _total_cpu_time(state.trials, cpu_start)
        self.elapsed_ = search.elapsed()
        self._finish_store(store, state, best)
        emit_finished(callbacks, {
            "status": self.status_, "reason": self.stop_reason_, "elapsed": self.elapsed_,
            # the best CV score, as during the search; the result says which trial the model is
            "n_done": state.n_finished, "n_failed": state.n_failed, "best_score": preference.best.score,
            "best": preference.best, "result": self, "metric": metric.name, "time_budget": self.time_budget,
            "max_evals": self.max_evals,
        })
        return self

    def _raise_all_failed(self, trials: list[TrialRecord]):
        if not trials:
            raise SearchFailedError(
                "No trial could run within the budget. Give a larger time_budget or max_evals.",
                code="no_trials")
        if all(t.status == "timeout" and "time budget" in (t.error or "") for t in trials):
            raise SearchFailedError(
                f"No trial finished within time_budget={self.time_budget:g}s ({len(trials)} stopped at the "
                "end of the budget). Give a larger time_budget, or try faster models first, e.g. "
                "models=['logistic_regression', 'ridge'].", code="budget_too_small")
        errors = pd.Series([(t.error or t.status).split(" (in ")[0] for t in trials])
        common = errors.value_counts()
        sample = next((t for t, e in zip(trials, errors) if e == common.index[0] and t.traceback), None)
        shown = ("" if sample is None else
                 f"\n\nTraceback of trial {sample.trial_id} ({sample.family}), its last lines:\n"
                 + "\n".join("    " + line for line in sample.traceback.splitlines()) + "\n\n")
        error = SearchFailedError(
            f"All {len(trials)} trials failed. The most common failure ({common.iloc[0]} of {len(trials)}): "
            f"{common.index[0]}.{shown or ' '}Every trial, with its error, traceback and output, is in this "
            f"error's .trials and .leaderboard (and in result.trials_, and the search directory "
            f"{str(self.run_dir_)!r}).",
            code="all_trials_failed",
            errors=common.to_dict(),
            run_dir=str(self.run_dir_),
        )
        error.trials = list(trials)
        error.leaderboard = self.leaderboard_
        error.traceback = None if sample is None else sample.traceback
        raise error

    def _open_store(self, task, metric, plan, X_used, y, fingerprint: dict):
        base = (Path(self.search_dir) if self.search_dir is not None else default_search_dir()).resolve()
        previous, rerun, spent = [], [], 0.0
        if self.resume is not None:
            run_dir = Path(self.resume)
            if not RunStore.exists(run_dir):
                run_dir = base / str(self.resume)
            if not RunStore.exists(run_dir):
                found = find_run(base, str(self.resume))  # a notebook variable a search was bound to
                if found is None:
                    raise _resume_not_found(self.resume, base)
                run_dir = found
            store = _open_run_store(run_dir)
            meta = store.meta()
            if meta.get("fingerprint", {}).get("sha256") != fingerprint["sha256"]:
                changed = _resume_data_changed(self.resume, meta, fingerprint, plan)
                if not self.force_resume:
                    store.close()
                    raise changed
                rerun = [(None, config) for config in _best_configs(store.trials(), metric.greater_is_better)]
                store.close()
                warnings.warn(f"{changed} force_resume=True: a new search on this data starts from its "
                              f"{len(rerun)} best configs, evaluated again; {run_dir.name!r} is left as "
                              "it is.", UserWarning, stacklevel=4)
                name = self.name or f"{run_dir.name}-new-data-{time.strftime('%Y%m%d-%H%M%S')}"
                return self._new_store(base, name, task, metric, plan, y, fingerprint, rerun)
            for record in store.trials():
                if record.status in ("running", "interrupted"):
                    rerun.append((record.vals or None, record.config))
                else:
                    previous.append(record)
            spent = float(meta.get("elapsed") or 0.0)
            if self.time_budget is not None and spent >= self.time_budget - 0.5:
                warnings.warn(f"resume={self.resume!r}: the search already ran {spent:.1f} s and "
                              f"time_budget={self.time_budget:g} counts the whole search, so no trial "
                              f"will run; the best model so far is refit. For 60 s more, pass "
                              f"time_budget={spent + 60:.0f}.", UserWarning, stacklevel=4)
            store.set_meta(status="running", resumed=time.time(), owner=process_owner())
            return store, previous, rerun, spent, run_dir
        name = self.name or f"{_safe(str(y.name))}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        return self._new_store(base, name, task, metric, plan, y, fingerprint, [])

    def _new_store(self, base, name, task, metric, plan, y, fingerprint, rerun):
        """A new search directory ``base / name`` and its settings (``_open_store``'s return)."""
        run_dir = base / name
        if RunStore.exists(run_dir):
            raise ConfigError(f"A search named {name!r} exists in {base}. Pass resume={name!r} to continue it, "
                              "or choose another name.", code="run_exists")
        store = _open_run_store(run_dir)
        store.set_meta(
            target=str(y.name), task=task, metric=metric.name, created=time.time(), status="running",
            owner=process_owner(),
            fingerprint=fingerprint, seed=self.seed, time_budget=self.time_budget,
            max_evals=self.max_evals, cv=str(self.cv), plan=plan.to_dict(),
        )
        return store, [], rerun, 0.0, run_dir

    def _finish_store(self, store, state, best):
        if store is None:
            return
        from .ensemble import model_trials

        store.set_meta(status=state.status if self.status_ != "interrupted" else "interrupted",
                       best_score=None if best is None else best.score,
                       best_trial=None if best is None else best.trial_id,
                       model_trials={str(k): v for k, v in model_trials(self).items()},
                       stop_reason=self.stop_reason_)
        store.close()
        self._open_run = None

    def _choose_ensemble(self, state, best, metric, y_codes, search, refit_factor, left=None):
        """An ensemble of the best trials when it beats the best single one, and its refit fits
        in ``left`` seconds (by default, what the time budget has left)."""
        from .ensemble import candidate_pool, member_refit_time, select_ensemble

        by_id = {t.trial_id: t for t in state.trials}

        def refit_cost(tid):
            return member_refit_time(by_id[tid], refit_factor)

        if left is None:
            left = float("inf") if self.time_budget is None else self.time_budget - search.elapsed() - 0.3
        # the best few trials and the best kept trial of each model family (the search also
        # keeps every default point's predictions); members whose refit cannot fit next to the
        # best one's are left out
        pool = candidate_pool(search.ranked_oof(), {tid: t.family for tid, t in by_id.items()},
                              best.trial_id, search.keep_oof)
        candidates = {tid: state.oof[tid][1] for tid in state.oof
                      if tid in pool and tid in by_id
                      and (tid == best.trial_id or refit_cost(best.trial_id) + refit_cost(tid) <= left)}
        n_classes = 0 if self.classes_ is None else len(self.classes_)
        while len(candidates) >= 2:
            choice = select_ensemble(candidates, best.trial_id, y_codes, metric, self.task_, n_classes,
                                     folds=self.validation_.folds)
            if choice is None or choice.size < 2:
                return None
            if self.ensemble == "auto" and not choice.worth_keeping(metric.greater_is_better):
                return None
            if sum(refit_cost(tid) for tid in choice.weights) <= left:
                return choice
            # too slow to refit in the time left: choose again without its slowest other member
            slowest = max((tid for tid in choice.weights if tid != best.trial_id), key=refit_cost)
            del candidates[slowest]
        return None

    def _ensemble_check(self, metric, y_codes, refit_factor, test_fraction):
        """``ensemble_members`` for the search: the trial ids of the ensemble the final model
        would be if the search ended now, or None (the trial ``choose_trial`` would choose,
        then the ensemble's choice on the predictions kept so far, whatever the members'
        refit time)."""
        def members(search):
            chosen = choose_trial(search.candidate_trials(), self.prefer, metric.greater_is_better,
                                  self.prefer_tolerance, metric.name, test_fraction=test_fraction).chosen
            choice = self._choose_ensemble(search.state, chosen, metric, y_codes, search, refit_factor,
                                           left=float("inf"))
            return None if choice is None else tuple(choice.weights)
        return members

    def _refit_ensemble(self, choice):
        from .ensemble import build_ensemble

        by_id = {t.trial_id: t for t in self.trials_}
        members = [(f"trial_{tid}", build_pipeline(by_id[tid].config, self.plan_, self.task_,
                                                   random_state=self.seed, n_jobs=cpu_count()), weight)
                   for tid, weight in choice.weights.items()]
        return self._fit_quietly(build_ensemble(members, self.task_))

    def _refit_or_next_best(self, trials, best, greater_is_better, tries: int = 3):
        """The chosen model refit on all the data, or, when that refit raises, the best trial
        whose refit works (of the next ``tries``). Returns ``(pipeline, refit trial)``.

        A pipeline that fitted in every fold can still fail on all the rows (a rare class
        level, a solver that no longer converges); the search is not lost for it.
        """
        sign = 1.0 if greater_is_better else -1.0
        ranked = sorted((t for t in trials if t.status == "ok" and t is not best and t.score is not None),
                        key=lambda t: (-sign * t.score, t.trial_id))
        candidates = ([None] if self.ensemble_ is not None else []) + [best] + ranked[:tries]
        failures = []
        for trial in candidates:
            try:
                pipeline = (self._refit_ensemble(self.ensemble_) if trial is None
                            else self._refit(trial.config))
            except Exception as exc:
                what = "the ensemble" if trial is None else f"trial {trial.trial_id} ({trial.family})"
                failures.append(f"{what}: {type(exc).__name__}: {exc}"[:300])
                continue
            if failures:
                self.refit_failures_ = failures
                note = (f"the final refit failed for {'; '.join(failures)}; refit trial {trial.trial_id} "
                        f"({trial.family}, score {trial.score:.4f}) instead")
                self.preference_ = f"{self.preference_}; {note}" if self.preference_ else note
                warnings.warn(f"nbautoml: {note}.", UserWarning, stacklevel=4)
                if trial is not None:
                    self.ensemble_ = None
                    self.best_trial_, self.best_config_ = trial, trial.config
                    self.best_score_, self.best_score_std_ = trial.score, trial.score_std
            return pipeline, (best if trial is None else trial)
        raise SearchFailedError(
            f"The final refit on all the rows failed for the best {len(failures)} candidates, though they "
            f"fitted in every validation fold: {'; '.join(failures)}. The trials are kept in "
            f"result.trials_; refit one with result.refit(trial=ID), or search again without the failing "
            f"models (exclude=[...]).", code="refit_failed")

    def _refit(self, config):
        return self._fit_quietly(build_pipeline(config, self.plan_, self.task_, random_state=self.seed,
                                                n_jobs=cpu_count()))

    def _fit_quietly(self, pipeline):
        """Fit on all the data, with one OpenMP/BLAS thread as in the trials.

        The budget keeps time for the refit from the trials' single-threaded fit
        times, and OpenMP's busy-waiting threads can make a multi-threaded fit
        many times slower when the cores are shared.

        What the estimator prints goes to a file, not to the notebook; its last lines are
        ``refit_output_``.
        """
        from threadpoolctl import threadpool_limits

        from .output import OutputCapture

        capture = OutputCapture()
        try:
            with warnings.catch_warnings(), threadpool_limits(1), capture:
                warnings.simplefilter("ignore")
                fit_pipeline(pipeline, self._X, self._y.to_numpy())
        finally:
            self.refit_output_ = capture.tail()
            capture.close()
        return pipeline

    def refit(self, trial=None):
        """Refit a trial's pipeline (default: the best) on all the data and make it the best pipeline.

        The decision threshold follows ``decision_threshold``: with "auto" it is chosen
        again on that trial's out-of-fold probabilities (computed again if the search did
        not keep them)."""
        self._check_fitted(pipeline=False)
        if trial is None and getattr(self, "best_config_", None) is None:
            raise NotFittedError(self._no_model_reason())
        config = self.best_config_ if trial is None else self._trial(trial).config
        self.best_pipeline_ = self._refit(config)
        self._set_decision_threshold(get_metric(self.metric_, self.task_),
                                     trial=self.best_trial_.trial_id if trial is None else trial)
        return self

    def _set_decision_threshold(self, metric, trial=None):
        """Set ``decision_threshold_`` by ``decision_threshold`` and put it in the model.

        "auto" chooses it on the out-of-fold probabilities of the model (or of
        ``trial``) and keeps it when it beats 0.5 by more than 0.1 % (``threshold.choose_threshold``);
        a number is used as given. ``threshold_note_`` says what was done and why.
        """
        from .threshold import TUNABLE_METRICS, choose_threshold, with_threshold

        self.decision_threshold_ = self.threshold_choice_ = self.threshold_note_ = None
        setting = self.decision_threshold
        if setting is None or getattr(self, "best_pipeline_", None) is None:
            return
        if self.task_ != "binary":
            if setting != "auto":  # a course's default for its binary tasks, say: said, not an error
                self.threshold_note_ = f"{float(setting):g} not applied: a {self.task_} model has no decision threshold"
                warnings.warn(f"nbautoml: decision_threshold={setting!r} is for binary tasks; not applied to this "
                              f"{self.task_} model.", UserWarning, stacklevel=4)
            return
        if not hasattr(self.best_pipeline_, "predict_proba"):
            self.threshold_note_ = "0.5 kept: the model gives no probabilities to cut"
            if setting != "auto":
                warnings.warn(f"nbautoml: decision_threshold={setting!r} is not applied: {self.threshold_note_}.",
                              UserWarning, stacklevel=4)
            return
        if setting != "auto":
            with_threshold(self.best_pipeline_, setting)
            self.decision_threshold_ = float(setting)
            self.threshold_note_ = f"{float(setting):g}, as given"
            return
        if metric.name not in TUNABLE_METRICS:
            self.threshold_note_ = (f"0.5 kept: {metric.name} is not tuned by a threshold (only "
                                    f"{', '.join(TUNABLE_METRICS)} are)")
            return
        oof = self._model_oof(trial, compute=trial is not None)
        choice = None if oof is None else choose_threshold(self._y_codes(), oof, metric, self.validation_.folds)
        if choice is None:
            self.threshold_note_ = "0.5 kept: no out-of-fold probabilities of the model to choose from"
            return
        self.threshold_choice_ = choice
        if not choice.worth_keeping(metric.greater_is_better):
            self.threshold_note_ = f"0.5 kept: the best cut, {choice.describe(metric.name)}, gains less than 0.1 %"
            return
        with_threshold(self.best_pipeline_, choice.threshold)
        self.decision_threshold_ = choice.threshold
        self.threshold_note_ = choice.describe(metric.name)

    # ------------------------------------------------------------------ results
    def _check_fitted(self, pipeline=True):
        if not hasattr(self, "trials_"):
            raise NotFittedError("This AutoML is not fitted yet. Call fit(df, target=...) first.")
        if pipeline and getattr(self, "best_pipeline_", None) is None:
            raise NotFittedError(self._no_model_reason())

    def _no_model_reason(self) -> str:
        """Why a fitted search has no pipeline, and what to do about it."""
        if getattr(self, "best_config_", None) is not None:
            return (f"There is no fitted pipeline ({self.stop_reason_ or self.status_}). "
                    "Call .refit() or run the search again with a larger budget.")
        run = getattr(self, "run_dir_", None)
        resume = (f" Continue it with resume={run.name!r} (AutoML(resume=...), %%automl --resume, "
                  "nbautoml run --resume), or run it again." if run is not None else " Run it again.")
        return f"The search was interrupted before any trial finished, so there is no model.{resume}"

    def _trial(self, trial_id) -> TrialRecord:
        for t in self.trials_:
            if t.trial_id == trial_id:
                return t
        ids = [t.trial_id for t in self.trials_]
        listed = (f"{ids[0]} to {ids[-1]}" if len(ids) > 2 and ids == list(range(ids[0], ids[-1] + 1))
                  else ", ".join(map(str, ids[:30])) + (" ..." if len(ids) > 30 else ""))
        raise ConfigError(f"No trial {trial_id!r}; the trials of this search are {listed or 'none'}.",
                          code="unknown_trial")

    @property
    def best_pipeline(self):
        """The best pipeline, refitted on all the data."""
        self._check_fitted()
        return self.best_pipeline_

    @property
    def leaderboard(self) -> pd.DataFrame:
        """All trials ranked by CV score (best first); failed ones at the bottom."""
        self._check_fitted(pipeline=False)
        return self.leaderboard_

    def leaderboard_display(self, top: int | None = 10) -> pd.DataFrame:
        """The leaderboard formatted for reading (score as mean ± std, ties marked ≈, the
        model's trials marked in ``in_model``)."""
        from .ensemble import model_trials

        return format_leaderboard(self.leaderboard, self.metric_, top, model_trials(self))

    def _input_frame(self, X) -> pd.DataFrame:
        if isinstance(X, (str, Path)):
            X = read_table(X)
        from ..schema import as_frame, enforce_schema, warn_about_input

        # a record (dict), records, a dict of columns, a Series row or an array, as a loaded model takes them
        X = as_frame(X, [str(c) for c in self.feature_names_in_])

        known = [*map(str, self.feature_names_in_), self.target_,
                 *filter(None, [getattr(self, "groups_column_", None)])]
        frame, report = enforce_schema(X, self.schema_, known=known)
        warn_about_input(report, self._warned_extra, stacklevel=3)
        self.last_input_report_ = report
        return frame

    def predict(self, X):
        """Predict (original labels for classifiers)."""
        self._check_fitted()
        frame = self._input_frame(X)
        with _prediction_threads(len(frame)):
            return self.best_pipeline_.predict(frame)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        self._check_fitted()
        if self.task_ == "regression":
            raise AttributeError("predict_proba is for classification; this is a regression model.")
        if not hasattr(self.best_pipeline_, "predict_proba"):
            model = type(self.best_pipeline_[-1]).__name__
            raise AttributeError(f"The best model ({model}) gives no probabilities. Use decision_function, "
                                 "or search with metric='log_loss' or models= that give probabilities.")
        frame = self._input_frame(X)
        with _prediction_threads(len(frame)):
            return self.best_pipeline_.predict_proba(frame)

    def decision_function(self, X):
        self._check_fitted()
        frame = self._input_frame(X)
        with _prediction_threads(len(frame)):
            return self.best_pipeline_.decision_function(frame)

    def score(self, X, y=None):
        """The search metric on new data with the target (a column of ``X``, or ``y``)."""
        self._check_fitted()
        X, y = data_mod.string_names(as_pandas(X)), as_pandas(y)
        if y is None:
            if not isinstance(X, pd.DataFrame) or self.target_ not in X.columns:
                raise DataError(f"score() needs the target: a {self.target_!r} column in the data, or y.",
                                code="no_target")
            y, X = X[self.target_], X.drop(columns=[self.target_])
        frame = self._input_frame(X)
        if len(y) != len(frame):
            raise DataError(f"X has {len(frame)} rows but y has {len(y)}; they must match.",
                            code="length_mismatch")
        y = data_mod.true_values(y, self.task_)
        keep = y.notna().to_numpy()
        frame = frame[keep]
        metric = get_metric(self.metric_, self.task_)
        return score_fitted(self.best_pipeline_, frame, y[keep], metric, self.task_, self.classes_)

    def oof_predictions(self, trial=None):
        """Out-of-fold predictions of a trial (default: the model) and the matching true values.

        Returns ``(y_true, prediction)``: class codes and probabilities (or
        decision values, or labels) for classification, values for regression.
        Rows never used for validation (holdout) are left out. When the model
        is an ensemble, the default is the ensemble's weighted average of its
        members' out-of-fold predictions.
        """
        self._check_fitted(pipeline=False)
        oof = self._model_oof(trial)
        mask = ~np.isnan(oof if oof.ndim == 1 else oof[:, 0])
        return self._y_codes()[mask], oof[mask]

    def _model_oof(self, trial=None, compute=True):
        """The out-of-fold predictions of a trial (default: the model, an ensemble's weighted
        average), one row per training row (NaN where no fold validated it). A trial's that
        the search did not keep is computed again, or None with ``compute=False``."""
        if trial is None and getattr(self, "ensemble_", None) is not None:
            weights = self.ensemble_.weights
            parts = [self._model_oof(tid, compute) for tid in weights]
            if any(part is None for part in parts):
                return None
            return sum(w * part for w, part in zip(weights.values(), parts)) / sum(weights.values())
        trial_id = self.best_trial_.trial_id if trial is None else trial
        if trial_id not in self._oof and not compute:
            return None
        if trial_id not in self._oof:
            from .evaluate import evaluate_config

            n_classes = 0 if self.classes_ is None else len(self.classes_)
            ctx = EvalContext(self._X, self._y_codes(), self.validation_.folds, self.plan_, self.task_,
                              get_metric(self.metric_, self.task_), n_classes, self.seed)
            from .output import OutputCapture

            capture = OutputCapture()  # what the estimator prints stays off the notebook, as in the search
            try:
                with capture:
                    result = evaluate_config(self._trial(trial_id).config, ctx)
            finally:
                capture.close()
            self._oof[trial_id] = (result["score"], result["oof"])
        return self._oof[trial_id][1]

    def _y_codes(self):
        if self.task_ == "regression":
            return self._y.to_numpy(dtype=float)
        return np.searchsorted(self.classes_, self._y.to_numpy())

    def summary(self) -> dict:
        """The main facts of the search, as a dict."""
        self._check_fitted(pipeline=False)
        counts = pd.Series([t.status for t in self.trials_]).value_counts().to_dict()
        return {
            "task": self.task_, "target": self.target_, "metric": self.metric_,
            "metric_note": getattr(self, "metric_note_", None),
            "best_score": getattr(self, "best_score_", None), "best_score_std": getattr(self, "best_score_std_", None),
            "best_pipeline": describe(self.best_config_) if getattr(self, "best_config_", None) else None,
            "model": describe_model(self) if getattr(self, "best_config_", None) else None,
            "ensemble": None if getattr(self, "ensemble_", None) is None else {
                "weights": dict(self.ensemble_.weights), "oof_score": self.ensemble_.score,
                "best_single_oof_score": self.ensemble_.single_score,
                "folds_better": self.ensemble_.folds_better, "n_folds": self.ensemble_.n_folds},
            "trials": len(self.trials_), "statuses": counts, "status": self.status_,
            "stop_reason": self.stop_reason_, "elapsed": getattr(self, "elapsed_", 0.0),
            "time_budget": self.time_budget, "validation": self.validation_.description,
            "dropped_columns": self.plan_.dropped, "column_notes": self.plan_.notes,
            "rows_dropped": getattr(self, "n_rows_dropped_", 0), "run_dir": str(self.run_dir_),
            "families_left": dict(getattr(self, "families_left_", {})),
            "linear_models": getattr(self, "splines_", None),
            "target_scale": getattr(self, "log_target_", None),
            "total_cpu_time": round(getattr(self, "total_cpu_time_", 0.0), 2),
            "n_jobs": getattr(self, "n_jobs_", None),
            "prefer": self.prefer, "preference": getattr(self, "preference_", None),
            "traded": _traded(self),
            "decision_threshold": getattr(self, "decision_threshold_", None),
            "threshold_note": getattr(self, "threshold_note_", None),
            "time_order": getattr(self, "time_order_note_", None),
        }

    def __repr__(self) -> str:
        if not hasattr(self, "trials_"):
            return super().__repr__()
        s = self.summary()
        score_text = "n/a" if s["best_score"] is None else f"{s['best_score']:.4f} ± {s['best_score_std']:.4f}"
        lines = [
            f"AutoML result ({s['status']}): {s['task']} on {s['target']!r}",
            f"  {'chosen' if s['traded'] else 'best'} {s['metric']}: {score_text} ({s['validation']})",
            f"  {'chosen' if s['traded'] else 'best'} pipeline: {s['best_pipeline'] or 'none (no trial finished)'}",
        ]
        if s["ensemble"]:
            e = s["ensemble"]
            lines.append(f"  model: {s['model']}; out-of-fold {s['metric']} {e['oof_score']:.4f} "
                         f"(best single {e['best_single_oof_score']:.4f})")
        cut = s["statuses"].get("interrupted", 0)  # stopped by Ctrl-C: rerun on --resume
        lines += [
            f"  {s['trials'] - cut} trials" + (f" (and {cut} cut short by the interrupt)" if cut else "")
            + f" in {s['elapsed']:.1f} s"
            + (f" ({s['n_jobs']} at a time)" if (s["n_jobs"] or 1) > 1 else "") + f"; {s['stop_reason']}",
        ]
        if s["time_order"]:
            lines.append(f"  validation: {s['time_order']}")
        if s["metric_note"]:
            lines.append(f"  metric: {s['metric']} ({s['metric_note']})")
        if s["decision_threshold"] is not None:
            lines.append(f"  decision threshold: {s['threshold_note']}")
        if s["families_left"]:
            lines.append("  left the search early (well behind the best): " + ", ".join(s["families_left"]))
        if s["linear_models"]:
            lines.append(f"  linear models: {s['linear_models']}")
        if s["target_scale"]:
            lines.append(f"  target: {s['target_scale']}")
        if s["dropped_columns"]:
            lines.append("  dropped: " + "; ".join(f"{k} ({v})" for k, v in s["dropped_columns"].items()))
        if s["column_notes"]:
            lines.append("  notes: " + "; ".join(f"{k} ({v})" for k, v in s["column_notes"].items()))
        if s["rows_dropped"]:
            n = s["rows_dropped"]
            lines.append(f"  {n:,} row{'s' if n > 1 else ''} without a target {'were' if n > 1 else 'was'} "
                         "left out")
        if (self.prefer != "accurate" or s["traded"]) and s["preference"]:
            lines.append(f"  prefer={self.prefer!r}: {s['preference']}")
        return "\n".join(lines)

    def explain(self, data=None, row=None, **kwargs):
        """Explain the model: permutation importance, partial dependence, one prediction.

        A thin wrapper of :func:`nbautoml.explain.explain` (see it for the
        options).

        Parameters
        ----------
        data : DataFrame, optional
            Held-out rows with the target column: importance is then measured
            on them with the refitted pipeline. Default: the CV folds of the
            training data, refitting the chosen config on each fold.
        row : int, dict, Series or one-row DataFrame, optional
            A prediction to explain (an int is a row position in ``data``, or
            in the training data).

        Returns
        -------
        nbautoml.explain.Explanation
        """
        from ..explain import explain

        return explain(self, data=data, row=row, **kwargs)

    def plot(self, kind: str, ax=None, **kwargs):
        """Plot one aspect of the search: its convergence, leaderboard, ROC curve, residuals, ...

        A thin wrapper of :func:`nbautoml.render.plots.plot` (``%automl_plot`` in a
        notebook); ``nbautoml.render.plots.plot_kinds(task)`` lists the kinds.

        Parameters
        ----------
        kind : str
            ``convergence``, ``leaderboard``, ``importance``, ``hyperparameters``;
            ``confusion``, ``roc``, ``pr``, ``calibration``, ``threshold`` (binary) for
            classification; ``residuals``, ``prediction`` for regression.
        ax : matplotlib Axes, optional
            Draw into this Axes; by default a new figure is made.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..render.plots import plot

        return plot(self, kind, ax=ax, **kwargs)

    def code(self, data_var: str = "df", trial: int | None = None) -> str:
        """Plain scikit-learn code that rebuilds the model and reproduces its CV score.

        A thin wrapper of :func:`nbautoml.codegen.pipeline_code` (``%automl_code`` in a
        notebook): run after ``data_var`` holds the data, the code prints the CV score
        and leaves the fitted model in ``model``.
        """
        from ..codegen import pipeline_code

        return pipeline_code(self, data_var=data_var, trial=trial)

    def save(self, path, *, stage: str | None = None, reason: str = ""):
        """Save the best model and its card: ``nbautoml.save(self, path, ...)``.

        ``path`` is a file (``.nbautoml`` is added when it has no suffix) or
        ``"registry:NAME"``; ``nbautoml.load`` reads it back.

        Returns
        -------
        Path or ModelVersion
        """
        from ..persist import save

        return save(self, path, stage=stage, reason=reason)

    def sanity_check(self, *, time_budget=None, max_evals=None, seed=0):
        """Run this search again with the target shuffled: its best CV score should be at chance.

        A thin wrapper of :func:`nbautoml.sanity.sanity_check`: how much picking the best of
        many noisy CV scores adds by luck, and a check that nothing lets the validation rows'
        targets into the model.

        Returns
        -------
        nbautoml.sanity.SanityCheck
        """
        from ..sanity import sanity_check

        return sanity_check(self, time_budget=time_budget, max_evals=max_evals, seed=seed)

    def _repr_html_(self) -> str:
        if not hasattr(self, "trials_"):
            return None
        from ..render.html import result_html

        return result_html(self)

    def _repr_mimebundle_(self, **kwargs):
        """What Jupyter shows: the result's summary once fitted (scikit-learn's estimator
        diagram before; IPython asks for this bundle before ``_repr_html_``)."""
        if not hasattr(self, "trials_"):
            return super()._repr_mimebundle_(**kwargs)
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


def _traded(result) -> bool:
    """True when the refitted trial is not the one with the best CV score (see ``choose_trial``)."""
    chosen, best = getattr(result, "best_trial_", None), getattr(result, "overall_best_trial_", None)
    return chosen is not None and best is not None and chosen.trial_id != best.trial_id


def _total_cpu_time(trials, cpu_start: float) -> float:
    """CPU seconds: the trials' (measured in their workers) and this process's since ``cpu_start``."""
    return float(sum(t.cpu_time or 0.0 for t in trials) + time.process_time() - cpu_start)


# below this many rows a prediction runs on one OpenMP/BLAS thread
SINGLE_THREAD_PREDICT_ROWS = 20_000


def _prediction_threads(n_rows: int):
    """One native thread for a small prediction, else the library defaults.

    Splitting a few thousand rows over OpenMP threads gains little, and on a
    machine whose cores are busy the threads' busy-waiting made the prediction
    of 258 rows by gradient boosting take 4.3 s instead of 0.02 s (measured).
    """
    from contextlib import nullcontext

    if n_rows >= SINGLE_THREAD_PREDICT_ROWS:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _keep_oof_of(oof: dict, trial_ids: set) -> None:
    """Drop the out-of-fold predictions of the other trials, before the refit.

    The search keeps the top trials' predictions (rows x classes floats each,
    about the size of the data together on a large binary task) for ensemble
    selection. Afterwards only the refitted trial's (or the ensemble members',
    which ``oof_predictions`` averages) and the best trial's are used
    (monitoring profile, plots); ``oof_predictions`` recomputes any other
    trial's on demand.
    """
    for trial_id in [t for t in oof if t not in trial_ids]:
        del oof[trial_id]


def _best_configs(trials, greater_is_better: bool, top: int = 5) -> list[dict]:
    """The configs of the ``top`` best finished trials, best first."""
    done = [t for t in trials if t.status == "ok" and t.score is not None]
    done.sort(key=lambda t: t.score, reverse=greater_is_better)
    return [normalize_config(t.config) for t in done[:top]]


def _warm_start_configs(warm_start, top: int = 5) -> list[dict]:
    """Configs to try first, from a list of configs or a fitted result's best trials."""
    if warm_start is None:
        return []
    if isinstance(warm_start, dict):
        warm_start = [warm_start]
    if hasattr(warm_start, "trials_") and hasattr(warm_start, "greater_is_better_"):
        return _best_configs(warm_start.trials_, warm_start.greater_is_better_, top)
    if hasattr(warm_start, "best_config_"):
        return [normalize_config(warm_start.best_config_)]
    configs = []
    for config in warm_start:
        if not isinstance(config, dict) or "family" not in config:
            raise ConfigError("warm_start= takes configs like {'family': 'random_forest', 'params': {...}} "
                              f"or a fitted AutoML; got {config!r}.", code="bad_warm_start")
        configs.append(normalize_config(config))
    return configs


def _check_search_dir(search_dir) -> None:
    """Refuse a search directory that cannot be created or written to, or that is on a network
    filesystem, before any training."""
    base = Path(search_dir) if search_dir is not None else default_search_dir()
    check_local_filesystem(base, what=f"search_dir={str(base)!r}")
    existing = base
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    where = f"search_dir={str(base)!r} (--search-dir on the command line)"
    if not existing.is_dir():
        raise ConfigError(f"{where} cannot be created: {str(existing)!r} is a file, not a directory. Give a "
                          "directory path, e.g. one next to that file.", code="bad_search_dir", path=str(base))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{where} is not writable: no write permission in {str(existing)!r}. Give a directory "
                          "you can write to, or change its permissions.", code="bad_search_dir", path=str(base))


def _store_ended_by(store: RunStore | None, exc: BaseException) -> None:
    """Record in the search store that ``fit`` ended with ``exc``, and close it.

    Ctrl-C (a second one, or one outside the search loop) leaves the search
    ``interrupted``, so that it can be resumed; any other error leaves it
    ``failed``, with the error as its ``stop_reason``. Without this the search
    stayed ``running`` in listings. A failure to write is only logged: the
    original error is the one to show.
    """
    if store is None:
        return
    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    try:
        store.set_meta(status=status, stop_reason=reason[:300], error_code=getattr(exc, "code", None))
    except Exception as err:  # noqa: BLE001
        log.warning("nbautoml: could not mark the search %s in its store (%s: %s).", status,
                    type(err).__name__, err)
    finally:
        store.close()


def _open_run_store(run_dir: Path) -> RunStore:
    """``RunStore(run_dir)``, with an error that names the directory when it cannot be written."""
    import sqlite3

    try:
        return RunStore(run_dir)
    except (OSError, sqlite3.Error) as err:
        raise ConfigError(f"Cannot write the search directory {str(run_dir)!r}: {err}. Give a search_dir "
                          "(--search-dir on the command line) you can write to.", code="bad_search_dir",
                          path=str(run_dir)) from err


def _resume_not_found(resume, base: Path) -> ConfigError:
    """The error for a ``resume`` that names no search: the searches there and the closest name."""
    known = [run["name"] for run in list_runs(base)]
    hint = closest(str(resume), known)
    listing = (f" Searches in {base}: {', '.join(known[:20])}" + (" ..." if len(known) > 20 else "") + "."
               if known else f" There are no searches in {base}.")
    return ConfigError(f"resume={str(resume)!r}: no search of that name or path."
                       + (f" Did you mean {hint[0]!r}?" if hint else "") + listing,
                       code="resume_not_found", known=known)


def _resume_data_changed(resume, meta: dict, now: dict, plan) -> DataError:
    """The error for a resume on other data: rows and columns then and now, the columns added
    and removed, and both fingerprints (short)."""
    then = meta.get("fingerprint") or {}
    then_columns = [c["name"] for c in (meta.get("plan") or {}).get("columns", [])]
    now_columns = [c.name for c in plan.columns]
    added = [c for c in now_columns if c not in then_columns] if then_columns else []
    removed = [c for c in then_columns if c not in now_columns]

    def names(columns):
        shown = ", ".join(map(repr, columns[:10]))
        return shown + (f" and {len(columns) - 10} more" if len(columns) > 10 else "")

    def short(print_):
        return (print_.get("sha256") or "unknown")[:12]

    changes = [f"{then.get('rows')} rows then, {now['rows']} now" if then.get("rows") != now["rows"]
               else f"{now['rows']} rows then and now"]
    if then.get("columns") != now["columns"] or added or removed:
        changes.append(f"{then.get('columns')} columns used then, {now['columns']} now")
    if added:
        changes.append(f"added: {names(added)}")
    if removed:
        changes.append(f"removed: {names(removed)}")
    if then.get("rows") == now["rows"] and then.get("columns") == now["columns"] and not added and not removed:
        changes = [f"the same {now['rows']} rows and columns, other values (or column roles, or target)"]
    return DataError(
        f"resume={str(resume)!r}: the data differs from the data that search ran on: {'; '.join(changes)} "
        f"(fingerprint {short(then)} then, {short(now)} now). Resume with the same data, start a new "
        "search, or pass force_resume=True (--force) to start one on this data from its best configs.",
        code="resume_data_changed", rows=(then.get("rows"), now["rows"]),
        columns=(then.get("columns"), now["columns"]), added=added, removed=removed,
        fingerprints=(then.get("sha256"), now["sha256"]))


def _safe(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    return keep[:40] or "search"


def available_models(task: str | None = None) -> list[str]:
    """The estimator families nbautoml searches (for a task, or all)."""
    from .space import FAMILIES, available_families

    return available_families(task) if task else list(FAMILIES)


__all__ = ["AutoML", "available_models", "normalize_config"]
