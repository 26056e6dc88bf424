"""Reusable worker processes that evaluate trials, with hard timeouts.

A fit stuck in C code cannot be stopped from inside its own process, so each
trial runs in a worker process that the parent can kill. Workers are started
once and reused (a ``fork`` start costs a few ms, ``spawn`` about 0.5 s); a
worker that is killed or dies is replaced. Workers ignore SIGINT: the
notebook's stop button signals the whole process group and the parent decides.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from .limits import MemoryLimit, mark_out_of_memory
from .output import OUTPUT_POLL, OutputCapture, OutputFile
from .processes import left_by_dead_process, pid_alive

STARTED = "started"  # a worker's first answer to a trial: it has started it
FOLD = "fold"  # a worker's word after each fold of a trial: (folds done, folds, seconds, seconds expected)
#: A trial whose folds so far say it would end after its deadline by more than this share of
#: its expected time is stopped at once, not at the deadline: its worker runs a trial that
#: can end instead (30 s searches lost 11-26 s of their 2 workers' time on 6 of the 17 bundled
#: data sets to trials stopped at the end of the budget; ``benchmarks/FINDINGS.md``).
OVERRUN_SLACK = 0.05
#: ... and by more than this many seconds (a fold's time varies with the machine's load).
OVERRUN_MIN_SECONDS = 0.5
#: After the first fold, the folds left are counted at this share of its time: it also pays
#: the first fit's warm-up (0.14 s of 0.15 s for a fresh worker's first ridge fold, idle; more
#: on a loaded machine), and a misread pace stops a trial that would have ended. From the
#: second fold on, each fold left counts as long as the last one.
FIRST_FOLD_SHARE = 0.5
#: Seconds a freshly started spawn/forkserver worker may take to start (a new interpreter
#: imports scikit-learn and unpickles the data: 1-3 s measured) before its first trial's
#: ``trial_timeout`` counts.
STARTUP_GRACE = 60.0

# EvalContext of each live pool, inherited by its forked workers (no copy of the data). Keyed
# by pool, so that searches run from two threads of one process (two notebook cells run at
# once) never fork a worker holding the other search's data.
_FORK_CONTEXTS: dict[int, object] = {}
_POOL_KEYS = itertools.count()


def _exit_with(parent_pid: int, interval: float = 1.0) -> None:
    """End this worker within ``interval`` seconds of the search's process ending.

    A worker waits on its pipe, but forked workers hold copies of each other's pipe ends,
    so after ``kill -9`` of the notebook's kernel no EOF came: the workers stayed, idle or
    fitting, for good. A daemon thread watches the parent instead (``os.getppid`` when the
    search started this process, else whether its pid still exists, as under forkserver).
    """
    direct = os.getppid() == parent_pid

    def gone() -> bool:
        return os.getppid() != parent_pid if direct else not pid_alive(parent_pid)

    def watch() -> None:
        while not gone():
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="nbautoml-parent-watch", daemon=True).start()


def _worker_main(conn, ctx, limit_threads: bool = True, fork_key: int | None = None,
                 output_path: str | None = None, memory_limit: float | None = None,
                 parent_pid: int | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        _exit_with(parent_pid)
    if ctx is None:
        ctx = _FORK_CONTEXTS[fork_key]
    capture = OutputCapture(output_path) if output_path else None
    # One BLAS/OpenMP thread per worker, always: besides sharing the cores between
    # workers, this avoids a known hang of libgomp (OpenMP) in a forked child
    # whose parent already ran OpenMP code (e.g. a HistGradientBoosting refit).
    from threadpoolctl import threadpool_limits

    from .evaluate import evaluate_config

    limiter = threadpool_limits(1)
    # The pipelines are built by the engine from checked configs, and the data
    # were checked once before the search: skip scikit-learn's per-call checks.
    import sklearn

    sklearn.set_config(skip_parameter_validation=True)
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message is None:
                break
            trial_id, config = message
            conn.send((STARTED, trial_id))  # the trial's time starts now, not at the worker's start-up
            with contextlib.ExitStack() as trial:
                if capture is not None:  # what the estimator prints stays off the notebook; the parent keeps its end
                    trial.enter_context(capture)
                trial.enter_context(MemoryLimit(memory_limit))  # lifted before the result is sent
                result = evaluate_config(config, ctx, on_fold=lambda *progress: conn.send((FOLD, progress)))
            if memory_limit is not None:
                mark_out_of_memory(result, memory_limit)
            conn.send((trial_id, result))
    finally:
        del limiter
        conn.close()


def _give_main_a_spec() -> None:
    """Let spawn and forkserver start a worker after IPython's ``%reset``.

    multiprocessing reads ``sys.modules["__main__"].__spec__`` to prepare a new
    interpreter; IPython's reset deletes it from the kernel's ``__main__`` (the user
    namespace), and every search then failed with "module '__main__' has no attribute
    '__spec__'". ``None`` is what a script's ``__main__`` has: nothing to re-import.
    """
    main = sys.modules.get("__main__")
    if main is not None and not hasattr(main, "__spec__"):
        main.__spec__ = None


@contextlib.contextmanager
def _frozen_heap(active: bool):
    """Fork with every object of this process frozen (``gc.freeze``), so the child's garbage
    collector never finalizes the parent's objects.

    A forked child holds a copy of the parent's heap, including garbage not yet collected.
    Collected in the child, such an object's finalizer runs there, where the parent's
    threads do not exist: an ONNX Runtime session left in a reference cycle (an exception's
    traceback) joined its thread pool and hung the worker for ever. The parent unfreezes
    right after the fork; the child keeps them frozen.
    """
    if not active:
        yield
        return
    import gc

    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class Slot:
    """One worker process and the trial it runs."""

    index: int
    process: mp.Process | None = None
    conn: object = None
    trial_id: int | None = None
    config: dict | None = None
    started: float = 0.0
    deadline: float = float("inf")
    timeout: float | None = None
    search_deadline: float = float("inf")
    progress: tuple | None = None  # the trial's last FOLD word: (done, folds, seconds, seconds expected)
    projected_end: float = float("inf")  # perf_counter time at which the trial would end at that pace
    extra: dict = field(default_factory=dict)
    output_path: str | None = None  # where its worker writes what trials print
    output: OutputFile | None = None  # that file, capped and read by the parent

    @property
    def busy(self) -> bool:
        return self.trial_id is not None


@dataclass
class Outcome:
    """What happened to a trial: ``done`` (with a result), ``timeout`` or ``crashed``."""

    kind: str
    trial_id: int
    config: dict
    elapsed: float
    result: dict | None = None
    detail: str = ""
    extra: dict = field(default_factory=dict)
    output: str | None = None  # the end of what the trial printed (also in ``result`` when done)
    early: bool = False  # a timeout decided from the trial's pace, before its deadline (``detail`` says why)


def default_start_method() -> str:
    """``fork`` where it is available (Linux), else ``spawn``."""
    if sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods():
        return "fork"
    return "spawn"


OUTPUT_DIR_PREFIX = "nbautoml-trial-output-"


def new_output_dir() -> str:
    """A temp directory for the workers' printed output, named after this process
    (``nbautoml-trial-output-PID-...``); those of processes that no longer run (a killed
    kernel's, which could not remove its own) are removed first."""
    remove_orphaned_output_dirs()
    return tempfile.mkdtemp(prefix=f"{OUTPUT_DIR_PREFIX}{os.getpid()}-")


def remove_orphaned_output_dirs() -> None:
    """Remove this user's output directories whose process is gone (see :func:`new_output_dir`)."""
    root = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(root) if n.startswith(OUTPUT_DIR_PREFIX)]
    except OSError:
        return
    for name in names:
        if not left_by_dead_process(name[len(OUTPUT_DIR_PREFIX):].split("-", 1)[0]):
            continue  # a live search's, or named before the pid was in the name: left as is
        path = os.path.join(root, name)
        try:
            if not os.path.isdir(path) or os.lstat(path).st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)


class WorkerPool:
    """A fixed number of reusable worker processes.

    Parameters
    ----------
    ctx : EvalContext
        Inherited by forked workers, sent once (pickled) to spawned ones.
    n_workers : int
    start_method : str, optional
        ``fork`` (default on Linux), ``forkserver`` or ``spawn``.
    memory_limit : float, optional
        MB a trial may map on top of its worker (see :mod:`nbautoml.engine.limits`); a trial
        that needs more ends with status ``memory``.
    """

    def __init__(self, ctx, n_workers: int = 1, start_method: str | None = None,
                 memory_limit: float | None = None):
        self.ctx = ctx
        self.memory_limit = memory_limit
        self.start_method = start_method or default_start_method()
        self.mp = mp.get_context(self.start_method)
        self.limit_threads = n_workers > 1
        self.slots = [Slot(i) for i in range(n_workers)]
        self._fork_key = next(_POOL_KEYS)
        self._output_dir: str | None = None
        # stop a trial at its pace (``_will_overrun``); the search allows it once a trial has
        # finished: until then a trial stopped early could be the search's only result
        self.stop_early = False

    # -- lifecycle
    def _spawn(self, slot: Slot) -> None:
        parent_conn, child_conn = self.mp.Pipe(duplex=True)
        if self._output_dir is None:
            self._output_dir = new_output_dir()
        slot.output_path = os.path.join(self._output_dir, f"worker-{slot.index}.txt")
        open(slot.output_path, "wb").close()  # empty: nothing of the worker it replaces
        if slot.output is None:
            slot.output = OutputFile(slot.output_path)
        slot.output.reset()
        if self.start_method == "fork":
            _FORK_CONTEXTS[self._fork_key] = self.ctx
            args = (child_conn, None, self.limit_threads, self._fork_key, slot.output_path, self.memory_limit,
                    os.getpid())
        else:
            args = (child_conn, self.ctx, self.limit_threads, None, slot.output_path, self.memory_limit,
                    os.getpid())
        process = self.mp.Process(target=_worker_main, args=args, daemon=True,
                                  name=f"nbautoml-worker-{slot.index}")
        if self.start_method != "fork":
            _give_main_a_spec()
        with _frozen_heap(self.start_method == "fork"):
            process.start()
        child_conn.close()  # so a dying child is seen at once (EOF), not at the timeout
        slot.process, slot.conn = process, parent_conn

    def _kill(self, slot: Slot) -> None:
        if slot.process is not None:
            if slot.process.is_alive():
                slot.process.kill()
            slot.process.join(timeout=5)
        if slot.conn is not None:
            slot.conn.close()
        slot.process, slot.conn = None, None

    def close(self) -> None:
        """Stop every worker (busy ones are killed)."""
        for slot in self.slots:
            if slot.process is not None and not slot.busy and slot.process.is_alive():
                try:
                    slot.conn.send(None)
                except OSError:
                    pass
                slot.process.join(timeout=1)
            self._kill(slot)
            slot.trial_id = None
            if slot.output is not None:
                slot.output.close()
                slot.output = None
        _FORK_CONTEXTS.pop(self._fork_key, None)
        if self._output_dir is not None:
            shutil.rmtree(self._output_dir, ignore_errors=True)
            self._output_dir = None

    # -- trials
    def idle_slots(self) -> list[Slot]:
        return [s for s in self.slots if not s.busy]

    def busy_slots(self) -> list[Slot]:
        return [s for s in self.slots if s.busy]

    def submit(self, slot: Slot, trial_id: int, config: dict, timeout: float | None, extra=None) -> None:
        """Start a trial on an idle slot; it is killed after ``timeout`` seconds."""
        fresh = slot.process is None or not slot.process.is_alive()
        if fresh:
            self._kill(slot)
            self._spawn(slot)
        try:
            slot.conn.send((trial_id, config))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            from ..exceptions import ConfigError

            raise ConfigError(
                f"Trial {trial_id}'s config cannot be sent to a worker process ({type(exc).__name__}: {exc}). "
                "Give estimators and values that can be pickled: importable classes and plain values, "
                "not lambdas or objects defined inside a function.", code="unpicklable_config") from exc
        slot.trial_id, slot.config, slot.timeout = trial_id, config, timeout
        slot.started = time.perf_counter()
        grace = STARTUP_GRACE if fresh and self.start_method != "fork" else 0.0
        slot.deadline = slot.started + timeout + grace if timeout else float("inf")
        slot.search_deadline = float("inf")
        slot.progress, slot.projected_end = None, float("inf")
        slot.extra = dict(extra or {})
        slot.output.reset()

    def set_deadline(self, deadline: float) -> None:
        """Bring every running trial's deadline forward to ``deadline`` (a perf_counter time)."""
        for slot in self.busy_slots():
            slot.search_deadline = min(slot.search_deadline, deadline)
            slot.deadline = min(slot.deadline, deadline)

    def wait(self, max_wait: float = 0.5) -> list[Outcome]:
        """Wait up to ``max_wait`` s; return the trials that ended (done, timed out or crashed)."""
        busy = self.busy_slots()
        if not busy:
            return []
        now = time.perf_counter()
        next_deadline = min(s.deadline for s in busy)
        until = now + max(0.0, min(max_wait, next_deadline - now))
        handles = {}
        for slot in busy:
            handles[slot.conn] = slot
            handles[slot.process.sentinel] = slot
        while True:  # every OUTPUT_POLL s, cap what the trials printed (see output.py)
            for slot in busy:
                slot.output.trim()
            left = until - time.perf_counter()
            ready = wait(list(handles), timeout=max(0.0, min(OUTPUT_POLL, left)))
            if ready or left <= OUTPUT_POLL:
                break
        outcomes = []
        seen = set()
        for handle in ready:
            slot = handles[handle]
            if slot.index in seen:
                continue
            outcome = self._collect(slot)
            if outcome is not None:  # None: the worker only said it started the trial
                seen.add(slot.index)
                outcomes.append(outcome)
        now = time.perf_counter()
        for slot in self.busy_slots():
            if slot.index in seen:
                continue
            if now >= slot.deadline:
                self._kill(slot)  # first, so that what it printed until then is all in its file
                outcomes.append(self._finish(slot, "timeout", detail=f"stopped after {now - slot.started:.1f} s"))
            elif self._will_overrun(slot):
                detail = self._overrun_detail(slot)
                self._kill(slot)
                outcomes.append(self._finish(slot, "timeout", detail=detail, early=True))
        return outcomes

    def _will_overrun(self, slot: Slot) -> bool:
        """Whether the trial's pace says it would end past its deadline (by more than
        ``OVERRUN_SLACK`` of its expected time and ``OVERRUN_MIN_SECONDS``): stopping it now
        frees the worker. Only while ``stop_early``: a local search sets it once a trial has
        finished, a Spark task (whose only deadline is its ``trial_timeout``) always."""
        if not self.stop_early or slot.progress is None:
            return False
        slack = max(OVERRUN_SLACK * (slot.projected_end - slot.started), OVERRUN_MIN_SECONDS)
        return slot.projected_end - slot.deadline > slack

    @staticmethod
    def _overrun_detail(slot: Slot) -> str:
        done, folds, seconds, expected = slot.progress
        limit = slot.started + slot.timeout if slot.timeout else float("inf")
        what = (f"trial_timeout={slot.timeout:g}s" if limit < slot.search_deadline
                else "the end of the time budget")
        share = "half" if FIRST_FOLD_SHARE == 0.5 else f"{FIRST_FOLD_SHARE:.0%} of"
        pace = f"even if each fold left took {share} its time," if done == 1 else "at that pace"
        return (f"stopped after fold {done} of {folds} ({seconds:.1f} s): {pace} its {folds} folds "
                f"would take {expected:.1f} s and end {slot.projected_end - slot.deadline:.1f} s after {what}")

    def _collect(self, slot: Slot) -> Outcome | None:
        """The trial's outcome, or None when the worker has only started it."""
        try:
            while slot.conn.poll():
                first, result = slot.conn.recv()
                if first == FOLD:
                    done, folds, seconds, expected = result
                    left = max(0.0, expected - seconds) * (FIRST_FOLD_SHARE if done == 1 else 1.0)
                    slot.progress = (done, folds, seconds, seconds + left)
                    slot.projected_end = time.perf_counter() + left
                    continue
                if first != STARTED:
                    return self._finish(slot, "done", result=result)
                slot.started = time.perf_counter()
                limit = slot.started + slot.timeout if slot.timeout else float("inf")
                slot.deadline = min(limit, slot.search_deadline)
            if slot.process.is_alive():
                return None
        except (EOFError, OSError):
            pass
        # the process ended without answering
        slot.process.join(timeout=1)
        code = slot.process.exitcode
        detail = _describe_exit(code)
        outcome = self._finish(slot, "crashed", detail=detail)
        self._kill(slot)
        return outcome

    def _finish(self, slot: Slot, kind: str, result=None, detail: str = "", early: bool = False) -> Outcome:
        # done, timed out or crashed: what it printed is in its worker's file (emptied here)
        output = slot.output.tail() if slot.output is not None and kind != "interrupted" else None
        if result is not None:
            result["output"] = output
        outcome = Outcome(kind, slot.trial_id, slot.config, time.perf_counter() - slot.started,
                          result=result, detail=detail, extra=slot.extra, output=output, early=early)
        slot.trial_id, slot.config, slot.extra = None, None, {}
        slot.progress, slot.projected_end = None, float("inf")
        slot.deadline = float("inf")
        return outcome

    def interrupt(self) -> list[Outcome]:
        """Kill every busy worker; return their trials as interrupted."""
        outcomes = []
        for slot in self.busy_slots():
            outcomes.append(self._finish(slot, "interrupted", detail="search interrupted"))
            self._kill(slot)
        return outcomes


def _describe_exit(code) -> str:
    if code is None:
        return "the worker process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        hint = " (killed by the OS, often for lack of memory)" if name == "SIGKILL" else ""
        return f"the worker process died from {name}{hint}"
    return f"the worker process exited with code {code}"


def cpu_count() -> int:
    """Usable CPUs (respecting affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


#: ``n_jobs="auto"`` runs one trial per CPU up to this many data cells (rows x columns);
#: above it, one trial at a time. Workers run their estimators on one thread (see
#: ``_worker_main``), so on small and medium data parallel trials are how the search uses
#: every core (2 jobs vs 1: 1.96x the trials per minute, ``benchmarks/parallel.py``). On
#: large data each trial's working copies of the data are large and a fit is long: there
#: one trial at a time keeps peak memory to one trial's copies (``benchmarks/memory.py``).
PARALLEL_TRIALS_MAX_CELLS = 10_000_000


N_JOBS_VALUES = "an int >= 1, -1 for one per CPU, or auto"


def valid_n_jobs(value) -> bool:
    """True for the ``n_jobs`` values: "auto", -1 or an int >= 1 (not a bool)."""
    from numbers import Integral

    if isinstance(value, str):
        return value == "auto"
    return isinstance(value, Integral) and not isinstance(value, bool) and (value >= 1 or value == -1)


def parse_n_jobs(text) -> int | str:
    """An ``n_jobs`` value from text (``--jobs``): "auto", -1 or an int >= 1.

    Raises
    ------
    ValueError
        Saying what the valid values are.
    """
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ValueError(f"must be {N_JOBS_VALUES}; got {text!r}") from None
    if not valid_n_jobs(value):
        raise ValueError(f"must be {N_JOBS_VALUES}; got {text}")
    return value


def resolve_n_jobs(n_jobs, n_cells: int, auto_cap: int | None = None) -> int:
    """Trials at a time for ``n_jobs`` (an int, -1 for one per CPU, or "auto").

    "auto" is one per CPU for data up to :data:`PARALLEL_TRIALS_MAX_CELLS` cells, else 1,
    and at most ``auto_cap``.
    """
    if n_jobs == "auto":
        jobs = cpu_count() if n_cells <= PARALLEL_TRIALS_MAX_CELLS else 1
        return jobs if auto_cap is None else min(jobs, auto_cap)
    return cpu_count() if n_jobs == -1 else int(n_jobs)
