"""The search loop: ask hyperopt for configs, run them in workers, tell it the results.

hyperopt's ``fmin`` checks its timeout only between trials, hides failed
trials and loses the in-flight one on Ctrl-C, so the loop here drives
hyperopt's suggest functions directly (ask/tell) and owns the timeouts,
the trial records and their storage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import ConfigError, unknown_choice
from .ensemble import likely_members, member_refit_time
from .race import FamilyRace
from .records import SearchEvent, TrialRecord
from .space import config_from_vals, normalize_config, to_python
from .workers import Outcome, WorkerPool

log = logging.getLogger("nbautoml")

ALGORITHMS = ("tpe", "random", "anneal", "atpe")
TPE_STARTUP_TRIALS = 12  # trials suggested at random before TPE models the results
#: Without a time budget, trial k is suggested from the results of trials 0 .. k - IN_ORDER_LAG
#: (or k - n_jobs with more workers), so that n_jobs from 1 to 4 run the same search
IN_ORDER_LAG = 4


def get_algorithm(name: str):
    """The hyperopt suggest function for ``name``."""
    if name not in ALGORITHMS:
        raise unknown_choice("algorithm", name, ALGORITHMS, code="unknown_algo")
    if name == "tpe":
        from hyperopt import tpe

        return functools.partial(tpe.suggest, n_startup_jobs=TPE_STARTUP_TRIALS)
    if name == "random":
        from hyperopt import rand

        return rand.suggest
    if name == "anneal":
        from hyperopt import anneal

        return anneal.suggest
    try:
        import lightgbm  # noqa: F401  (atpe needs it)
        from hyperopt import atpe
    except ImportError as err:
        raise ConfigError(f"algo='atpe' needs lightgbm: pip install lightgbm ({err}).",
                          code="missing_dependency") from err
    return atpe.suggest


@dataclass
class Budget:
    """When the search stops."""

    max_evals: int | None = None
    time_budget: float | None = None
    trial_timeout: float | None = None
    early_stop: int | None = None


@dataclass
class SearchState:
    """What the loop has done so far."""

    trials: list[TrialRecord] = field(default_factory=list)
    best: TrialRecord | None = None
    best_loss: float = float("inf")
    since_best: int = 0
    status: str = "completed"
    stop_reason: str = ""
    oof: dict = field(default_factory=dict)  # trial_id -> out-of-fold predictions (top trials)
    families_left: dict = field(default_factory=dict)  # family -> why it left the race (race.py)

    @property
    def n_finished(self) -> int:
        return sum(t.status not in ("running", "interrupted") for t in self.trials)

    @property
    def n_failed(self) -> int:
        return sum(t.status in ("failed", "timeout", "crashed", "memory") for t in self.trials)


class Search:
    """Run one search.

    Parameters
    ----------
    space : hyperopt space
    ctx : EvalContext
    metric : Metric
    budget : Budget
    algo : str
    seed : int or None
    n_jobs : int
    store : RunStore or None
    callbacks : list of callables taking a SearchEvent
    points : list of (vals, config)
        Starting configs, tried first; ``vals`` (hyperopt label -> stored
        value) is None for a config outside the space (not shown to hyperopt).
    refit_factor : float
        Full-data refit time as a multiple of a trial's summed fold fit time;
        used to keep time for the final refit.
    spent : float
        Seconds spent by earlier sessions of a resumed search.
    started : float, optional
        ``time.perf_counter()`` when the work this budget counts began (the caller's
        ``fit``); by default when :meth:`run` starts. Building the search (hyperopt's
        domain, the race) then counts too.
    previous : list of TrialRecord
        Finished trials of a resumed search; ``rerun`` are configs re-run first.
    families : list of str, optional
        The families of the built-in space, in its ``hp.choice`` order.
    space_for : callable, optional
        ``space_for(families)`` builds the space over a subset of ``families``;
        with ``families``, it lets the family race narrow the search.
    vals_for : callable, optional
        ``vals_for(config, families)``: a config's values in the space ``space_for``
        builds now, or None if it is not a point of it. With it, a rebuilt space's
        history is placed by config (needed when a choice changes the space).
    choices : list of race.TwinChoice
        Choices made once from the first trials (whether the linear models keep their
        splines, whether the target goes on the log scale); when one switches,
        ``space_for`` must build the space it leaves.
    prune_families : bool
        Stop suggesting families far behind the best one (see ``race.py``).
    ensemble_members : callable, optional
        ``ensemble_members(search)`` gives the trial ids of the ensemble the final
        model would be if the search ended now, or None when it would be a single
        trial. Within a second of the end of a time budget, the refit reserve keeps
        time only for those members (none without an ensemble), never more than for
        the likely members, so that the time goes to more trials.
    memory_limit : float, optional
        MB a trial may use on top of its worker (``WorkerPool``).
    """

    def __init__(self, space, ctx, metric, budget: Budget, *, algo="tpe", seed=0, n_jobs=1, store=None,
                 callbacks=(), points=(), refit_factor=1.0, spent=0.0, previous=(), rerun=(),
                 start_method=None, keep_oof=10, ensemble_reserve=0, families=None, space_for=None,
                 prune_families=True, ensemble_members=None, memory_limit=None, vals_for=None, choices=(),
                 started=None):
        self.space = space
        self.started = started
        self.memory_limit = memory_limit
        self.ctx = ctx
        self.metric = metric
        self.budget = budget
        self.suggest = get_algorithm(algo)
        self.algo_name = algo
        self.rng = np.random.default_rng(seed)
        self.n_jobs = n_jobs
        self.lag = max(IN_ORDER_LAG, n_jobs)
        self._learned: set[int] = set()  # trials whose results the suggestions and the race have seen
        self._pending: list[tuple[TrialRecord, Outcome]] = []  # ended, in order, not yet learned from
        self._learned_best_loss = float("inf")
        self.store = store
        self.callbacks = list(callbacks)
        self.queue = [(v, c, "resume") for v, c in rerun] + [(v, c, "default") for v, c in points]
        self.refit_factor = refit_factor
        self.spent = spent
        self.start_method = start_method
        self.keep_oof = keep_oof
        self._default_ids: set[int] = set()  # default points: out-of-fold predictions always kept
        self.ensemble_reserve = ensemble_reserve
        self.ensemble_members = ensemble_members
        self._planned: tuple | None = None  # (the kept predictions and the best trial, ensemble_members then)
        # The family race needs the built-in space, rebuilt over the families still in it.
        self.families = list(families) if families else None
        self.space_for = space_for
        self.vals_for = vals_for
        self.choices = list(choices) if (self.families and space_for is not None) else []
        self.active = self.families
        self.race = FamilyRace(metric.greater_is_better,
                               enabled=bool(prune_families and self.families and space_for is not None))
        self.state = SearchState(families_left=self.race.left)
        self._callback_failed = False
        self._next_id = 0
        self._new_hp_trials(space)
        for record in previous:
            self._register_previous(record)
        self._update_race()  # first: a choice the stored trials make changes the queued points
        # a resumed search does not run its starting points again
        tried = [normalize_config(record.config) for record in self.state.trials]
        self.queue = [(v, c, source) for v, c, source in self.queue
                      if source == "resume" or normalize_config(c) not in tried]

    # ------------------------------------------------------------------ hyperopt glue
    #
    # Records keep hyperopt's values of the full space (``vals["family"]`` indexes
    # ``families``); hyperopt's Trials hold them translated to the active space, the
    # families still in the race, with the record's trial id as hyperopt's tid.
    def _new_hp_trials(self, space) -> None:
        from hyperopt import Trials
        from hyperopt.base import Domain

        self.active_space = space
        self.domain = Domain(lambda config: 0.0, space)
        self.hp_trials = Trials()

    def _to_active(self, vals: dict | None, config: dict) -> dict | None:
        """Full-space values in the active space's indexing; None if the family left the race
        (or, with ``vals_for``, if the config is not a point of the active space)."""
        if self.vals_for is not None and self.active:
            return self.vals_for(config, self.active)
        if not vals or self.active is self.families or "family" not in vals:
            return vals
        family = self.families[int(vals["family"])]
        if family not in self.active:
            return None
        return {**vals, "family": self.active.index(family)}

    def _to_full(self, vals: dict) -> dict:
        if self.active is self.families or "family" not in vals:
            return vals
        return {**vals, "family": self.families.index(self.active[int(vals["family"])])}

    def _update_race(self) -> None:
        """Recompute the race and the choices; when a family left the race or a choice
        switched, suggest from the space they leave."""
        switched = False
        learned = [record for record in self.state.trials if record.trial_id in self._learned]
        for choice in self.choices:
            if not choice.enabled or choice.note is not None:
                continue
            if choice.update(learned, self.metric.name):  # the queued points follow it
                switched = True
                self.queue = [(None, choice.adapt(config), source) for _, config, source in self.queue]
            if choice.note is not None:  # decided now: a variant that lost may be no candidate
                for record in self.state.trials:
                    if record.trial_id in self.state.oof and choice.rules_out(record):
                        del self.state.oof[record.trial_id]
        if not self.race.enabled and not switched:
            return
        self.race.update(learned, self.metric.name)
        active = [f for f in self.families if self.race.allows(f)]
        if not active or (len(active) == len(self.active) and not switched):
            return
        self.active = active
        self._new_hp_trials(self.space_for(active))
        for record in self.state.trials:
            vals = self._to_active(record.vals, record.config)
            if not vals:
                continue
            if record.status == "interrupted":
                continue
            # a trial not learned from yet is running as far as hyperopt knows
            self._insert(record.trial_id, vals, self._hp_result(record) if record.trial_id in self._learned else None)

    def _hp_result(self, record: TrialRecord) -> dict:
        """A finished record's result as hyperopt stores it."""
        if record.status == "ok" and record.score is not None:
            return {"status": "ok", "loss": self.metric.loss(record.score)}
        return {"status": "fail"}

    def _insert(self, tid: int, vals: dict, result: dict | None) -> None:
        from hyperopt import JOB_STATE_DONE, JOB_STATE_NEW

        labels = self.domain.params
        misc = {
            "tid": tid,
            "cmd": self.domain.cmd,
            "workdir": self.domain.workdir,
            "idxs": {label: ([tid] if label in vals else []) for label in labels},
            "vals": {label: ([vals[label]] if label in vals else []) for label in labels},
        }
        doc = self.hp_trials.new_trial_docs([tid], [None], [result or {"status": "new"}], [misc])[0]
        doc["state"] = JOB_STATE_DONE if result else JOB_STATE_NEW
        self.hp_trials.insert_trial_docs([doc])
        self.hp_trials.refresh()

    def _tell(self, tid: int, loss: float | None) -> None:
        from hyperopt import JOB_STATE_DONE, STATUS_FAIL, STATUS_OK

        for doc in self.hp_trials._dynamic_trials:
            if doc["tid"] == tid:
                doc["state"] = JOB_STATE_DONE
                doc["result"] = {"status": STATUS_OK, "loss": loss} if loss is not None else {"status": STATUS_FAIL}
                break
        self.hp_trials.refresh()

    def _new_id(self) -> int:
        tid, self._next_id = self._next_id, self._next_id + 1
        return tid

    def _ask(self) -> tuple[int, dict, dict, str]:
        """The next trial: its id, hyperopt values (full space), config and where it came from."""
        tid = self._new_id()
        while self.queue:
            vals, config, source = self.queue.pop(0)
            if source == "default" and config.get("family") in self.race.left:
                continue  # its family left the race while this starting point waited
            if source == "default" and not self._may_finish(config.get("family")):
                continue  # too slow for the time left: a cheaper trial uses the worker instead
            active_vals = self._to_active(vals, config)
            if active_vals:
                self._insert(tid, active_vals, None)
                config = config_from_vals(self.active_space, active_vals)
            return tid, vals or {}, normalize_config(config), source
        docs = self.suggest([tid], self.domain, self.hp_trials, int(self.rng.integers(2**31 - 1)),
                            **self._startup_override())
        self.hp_trials.insert_trial_docs(docs)
        self.hp_trials.refresh()
        vals = {k: to_python(v[0]) for k, v in docs[0]["misc"]["vals"].items() if len(v)}
        return tid, self._to_full(vals), config_from_vals(self.active_space, vals), self.algo_name

    def _may_finish(self, family: str | None) -> bool:
        """Whether a starting point of ``family`` can end before the deadline.

        The family's fastest finished trial is the estimate (its other starting points
        grow more trees or take smaller steps, so they cost at least as much): a point
        that would be stopped at the deadline anyway is skipped, and its worker runs a
        trial that can finish.
        """
        if self.budget.time_budget is None:
            return True
        times = [t.wall_time for t in self.state.trials
                 if t.family == family and t.status == "ok" and t.wall_time]
        return not times or min(times) <= self._deadline() - time.perf_counter()

    def _startup_override(self) -> dict:
        """TPE's random start counts every trial of the search, not only those hyperopt holds.

        hyperopt counts the trials in its history; after a family leaves the race the
        history is rebuilt without that family's trials, and TPE would sample at random
        again until ``TPE_STARTUP_TRIALS`` trials of the remaining families are in it.
        """
        if self.algo_name != "tpe":
            return {}
        outside = len(self.state.trials) - len(self.hp_trials.trials)
        return {"n_startup_jobs": max(0, TPE_STARTUP_TRIALS - outside)}

    def _register_previous(self, record: TrialRecord) -> None:
        tid = record.trial_id
        self._next_id = max(self._next_id, tid + 1)
        loss = self.metric.loss(record.score) if record.status == "ok" else None
        if record.vals:
            self._insert(tid, record.vals, self._hp_result(record))
        self.state.trials.append(record)
        self._learned.add(tid)
        if loss is not None and loss < self.state.best_loss:
            self.state.best, self.state.best_loss = record, loss
            self._learned_best_loss = loss

    # ------------------------------------------------------------------ events
    def _emit(self, kind: str, **data) -> None:
        if not self.callbacks:
            return
        data.update(
            elapsed=self.elapsed(),
            n_done=self.state.n_finished,
            n_failed=self.state.n_failed,
            best_score=self.state.best.score if self.state.best else None,
            best=self.state.best,
            max_evals=self.budget.max_evals,
            time_budget=self.budget.time_budget,
            metric=self.metric.name,
        )
        event = SearchEvent(kind, data)
        for callback in self.callbacks:
            try:
                callback(event)
            except Exception as exc:  # a broken renderer must not stop the search
                if not self._callback_failed:
                    log.warning("A search callback raised %s: %s; the search goes on.", type(exc).__name__, exc)
                    self._callback_failed = True

    # ------------------------------------------------------------------ budget
    def elapsed(self) -> float:
        return self.spent + time.perf_counter() - self._t0

    def _refit_reserve(self) -> float:
        best = self.state.best
        if best is None:
            return 0.0
        reserve = best.fit_time * self.refit_factor * 1.5
        if self.ensemble_reserve > 1 and len(self.state.oof) > 1 and self.budget.time_budget is not None:
            # an ensemble refits more members: keep time for the ones it most likely adds
            # (other families' best trials), at most a fifth of the budget (a member that
            # would not fit in the time left is left out of the ensemble at the end)
            by_id = {t.trial_id: t for t in self.state.trials}
            family_of = {tid: by_id[tid].family for tid in self.state.oof if tid in by_id}
            others = likely_members(self.ranked_oof(), family_of, best.trial_id, self.ensemble_reserve - 1)
            others_time = min(sum(member_refit_time(by_id[tid], self.refit_factor) for tid in others),
                              0.2 * self.budget.time_budget)
            near_end = self.budget.time_budget - self.elapsed() - (reserve + others_time + self._profile_time()) <= 1.0
            if near_end and self.ensemble_members is not None:
                # within a second of the end: time only for the members of the ensemble the
                # final choice would make now (none when it would make none)
                planned = self._planned_members()
                if planned is not None:
                    others_time = min(others_time, sum(member_refit_time(by_id[tid], self.refit_factor)
                                                       for tid in planned if tid != best.trial_id and tid in by_id))
            reserve += others_time
        # the refit (single-threaded, like the trials) with a margin for a loaded machine,
        # plus the monitoring profile built after it
        return reserve + self._profile_time()

    def _profile_time(self) -> float:
        """Seconds kept for the monitoring profile built after the refit: 0.8 s, and 0.25 s per
        1,000 columns (on 200 x 20,000 rows it took 1.8 s on an idle machine and 4.4-6.0 s on a
        slow one, where a 30 s search ran 34.4 s keeping 2.8 s)."""
        return 0.8 + self.ctx.X.shape[1] / 4_000

    def _planned_members(self) -> tuple | None:
        """``ensemble_members`` (an empty tuple for a single trial), asked again only when the
        kept predictions (or the best trial) have changed since it was last asked; None when
        the check failed, so that the time stays kept."""
        key = (self.state.best.trial_id, frozenset(self.state.oof))
        if self._planned is None or self._planned[0] != key:
            try:
                planned = tuple(self.ensemble_members(self) or ())
            except Exception as exc:  # a failed check must not stop the search: keep the time
                log.warning("nbautoml: the ensemble check failed (%s: %s); time is kept for one.",
                            type(exc).__name__, exc)
                planned = None
            self._planned = (key, planned)
        return self._planned[1]

    def _deadline(self) -> float:
        """perf_counter time by which trials must end, keeping time for the refit."""
        if self.budget.time_budget is None:
            return float("inf")
        remaining = self.budget.time_budget - self.elapsed() - self._refit_reserve()
        return time.perf_counter() + remaining

    def _may_start(self) -> bool:
        b = self.budget
        started = len(self.state.trials)
        if b.max_evals is not None and started >= b.max_evals:
            self.state.stop_reason = self.state.stop_reason or f"max_evals={b.max_evals} reached"
            return False
        if b.time_budget is not None and self._deadline() - time.perf_counter() <= 0.05:
            self.state.stop_reason = self.state.stop_reason or f"time_budget={b.time_budget:g}s used"
            return False
        if b.early_stop is not None and self.state.since_best >= b.early_stop:
            self.state.stop_reason = self.state.stop_reason or f"no improvement in {b.early_stop} trials"
            return False
        return True

    # ------------------------------------------------------------------ the loop
    def run(self) -> SearchState:
        self._t0 = self.started if self.started is not None else time.perf_counter()
        self.state.trials = list(self.state.trials)
        pool = WorkerPool(self.ctx, self.n_jobs, self.start_method, memory_limit=self.memory_limit)
        self._emit("search_started")
        running: dict[int, TrialRecord] = {}  # started and not yet taken in, in trial order
        ended: dict[int, tuple] = {}  # in order: (outcome, when) of trials waiting for earlier ones
        with _deferred_sigint() as stop:
            try:
                while not stop.is_set():
                    self._start_trials(pool, running, stop)
                    if not running:
                        break
                    pool.set_deadline(self._deadline())
                    pool.stop_early = self.state.best is not None
                    for outcome in pool.wait(0.5):
                        if not self.in_order:
                            self._finish(running.pop(outcome.trial_id), outcome)
                            continue
                        ended[outcome.trial_id] = (outcome, self.elapsed())
                        while running and next(iter(running)) in ended:
                            tid = next(iter(running))
                            record, (outcome, when) = running.pop(tid), ended.pop(tid)
                            self._record(record, outcome, when)
                            self._pending.append((record, outcome))
                            self._start_trials(pool, running, stop)  # trial tid + lag
                self._learn_until(None)
                if stop.is_set():
                    raise KeyboardInterrupt
            except KeyboardInterrupt:
                with contextlib.suppress(KeyboardInterrupt):  # a callback stopping again
                    self._learn_until(None)
                for tid in sorted(ended):  # these trials ended: their results are kept
                    with contextlib.suppress(KeyboardInterrupt):
                        self._finish(running.pop(tid), *ended.pop(tid))
                for outcome in pool.interrupt():
                    record = running.pop(outcome.trial_id, None)
                    if record is not None:
                        record.status = "interrupted"
                        record.error = "the search was interrupted during this trial"
                        record.finished = self.elapsed()
                        if self.store is not None:  # resume re-runs it, as a trial left running
                            self.store.write_trial(record, elapsed=self.elapsed())
                self.state.status = "interrupted"
                self.state.stop_reason = "interrupted by the user"
            finally:
                pool.close()
        return self.state

    @property
    def in_order(self) -> bool:
        """Whether results are taken in trial order (a search without a time budget).

        Trial ``k`` is then suggested from the results of trials ``0 .. k - lag``
        (``lag``: :data:`IN_ORDER_LAG`, or ``n_jobs`` if more), whichever of them ended
        first, and the family race, the choices and the early stop see the same
        results, so that a search with the same seed runs the same trials however long
        each takes and with any ``n_jobs`` up to the lag. The price: a worker may wait
        for a trial started ``lag`` trials before its next one (titanic, 40 trials on two
        workers: 12.4 and 12.8 s against 11.7 and 13.2 s; ``benchmarks/FINDINGS.md``).
        """
        return self.budget.time_budget is None

    def _start_trials(self, pool: WorkerPool, running: dict, stop) -> None:
        """Start trials on the idle workers while the budget allows (in order: while fewer
        than ``lag`` trials are running or waiting to be taken in, each after learning
        from the trials ``lag`` or more before it)."""
        while pool.idle_slots() and not stop.is_set():
            if self.in_order:
                if len(running) >= self.lag:
                    break
                self._learn_until(self._next_id - self.lag)
            if not self._may_start():
                break
            tid, vals, config, source = self._ask()
            record = TrialRecord(trial_id=tid, config=config, vals=vals, source=source,
                                 started=self.elapsed())
            running[tid] = record
            self.state.trials.append(record)
            pool.submit(pool.idle_slots()[0], tid, config, self.budget.trial_timeout)
            if self.store is not None:
                self.store.write_trial(record)
            self._emit("trial_started", trial=record)

    def _finish(self, record: TrialRecord, outcome: Outcome, finished: float | None = None) -> None:
        """Take in a trial that ended (at ``finished`` s into the search; default: now)."""
        self._record(record, outcome, finished)
        self._learn(record, outcome)

    def _learn_until(self, last_id: int | None) -> None:
        """Learn from the ended trials up to ``last_id`` (None: all), in trial order."""
        while self._pending and (last_id is None or self._pending[0][0].trial_id <= last_id):
            self._learn(*self._pending.pop(0))

    def _record(self, record: TrialRecord, outcome: Outcome, finished: float | None = None) -> None:
        """Write down a trial that ended: its record, the store, the best so far, the events."""
        record.finished = self.elapsed() if finished is None else finished
        record.wall_time = outcome.elapsed
        if outcome.kind == "done":
            apply_result(record, outcome.result)
        elif outcome.kind == "timeout":
            record.status = "timeout"
            limit = self.budget.trial_timeout
            if outcome.early:  # stopped at its pace, before its deadline: the detail says why
                record.error = outcome.detail
            elif limit is not None and outcome.elapsed >= limit - 0.01:
                record.error = f"trial_timeout={limit:g}s reached ({outcome.detail})"
            else:
                record.error = f"stopped at the end of the time budget ({outcome.detail})"
        else:
            record.status = "crashed"
            record.error = outcome.detail
        if outcome.kind != "done":
            record.output = outcome.output
        loss = self.metric.loss(record.score) if record.status == "ok" else None
        improved = loss is not None and loss < self.state.best_loss
        if improved:
            self.state.best, self.state.best_loss = record, loss
        if self.store is not None:
            self.store.write_trial(record, elapsed=self.elapsed())
        self._emit("trial_finished", trial=record)
        if improved:
            self._emit("new_best", trial=record)

    def _learn(self, record: TrialRecord, outcome: Outcome) -> None:
        """Let the suggestions, the early stop, the kept predictions and the race see a
        recorded trial's result."""
        loss = self.metric.loss(record.score) if record.status == "ok" else None
        self._tell(record.trial_id, loss)
        self._learned.add(record.trial_id)
        if loss is not None and loss < self._learned_best_loss:
            self._learned_best_loss, self.state.since_best = loss, 0
        else:
            self.state.since_best += 1
        if record.status == "ok" and outcome.result.get("oof") is not None:
            self._keep_oof(record, outcome.result["oof"])
        self._update_race()

    def _keep_oof(self, record: TrialRecord, oof) -> None:
        """Keep out-of-fold predictions of the best few trials and of the default points.

        The best ``keep_oof`` trials are the ensemble's candidates. A default
        point's are kept too, whatever its rank: the final model may be a default
        point tied with the best (``prefer.choose_trial``), and the ensemble
        selection starts from the chosen trial's predictions.
        """
        if self._ruled_out(record):
            return
        self.state.oof[record.trial_id] = (record.score, oof)
        if record.source == "default":
            self._default_ids.add(record.trial_id)
        for trial_id in self.ranked_oof()[self.keep_oof:]:
            if trial_id not in self._default_ids:
                del self.state.oof[trial_id]

    def candidate_trials(self) -> list[TrialRecord]:
        """The trials the final model may be chosen from: all but those a choice ruled out
        (the linear models of the spline variant that lost: ``race.SplineChoice.rules_out``)."""
        if not self.choices:
            return self.state.trials
        kept = [t for t in self.state.trials if not self._ruled_out(t)]
        return kept if any(t.status == "ok" for t in kept) else self.state.trials

    def _ruled_out(self, record: TrialRecord) -> bool:
        return any(choice.rules_out(record) for choice in self.choices)

    def ranked_oof(self) -> list[int]:
        """The trials whose out-of-fold predictions are kept, best score first."""
        sign = 1 if self.metric.greater_is_better else -1
        return sorted(self.state.oof, key=lambda tid: -sign * self.state.oof[tid][0])


@contextlib.contextmanager
def _deferred_sigint():
    """During the loop, Ctrl-C (SIGINT) sets a flag that the loop checks at least every 0.5 s.

    A KeyboardInterrupt raised at an arbitrary point (inside hyperopt, SQLite or a
    pipe write) could leave the bookkeeping half done; a flag stops the loop
    between steps. A second Ctrl-C raises at once. Outside the main thread,
    where no handler can be set, the default behaviour stays.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def apply_result(record: TrialRecord, result: dict) -> None:
    """Copy an evaluation's result (status, scores, costs, error) into its record."""
    names = {f.name for f in dataclasses.fields(TrialRecord)} - {"trial_id", "config", "vals", "wall_time"}
    for key, value in result.items():
        if key in names:
            setattr(record, key, value)


def emit_finished(callbacks: list[Callable], data: dict) -> None:
    """Send the ``search_finished`` event (after the refit) to the listeners."""
    event = SearchEvent("search_finished", data)
    for callback in callbacks:
        try:
            callback(event)
        except Exception as exc:
            log.warning("A search callback raised %s: %s.", type(exc).__name__, exc)
