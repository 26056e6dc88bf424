"""The search directory: trials and settings in SQLite (WAL), written as trials finish.

Nothing is pickled: configs, scores and settings are JSON, so a resumed or
inspected search never runs code from disk.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from ..exceptions import NbAutoMLError
from .filesystems import check_local_filesystem
from .processes import owner_alive
from .records import TrialRecord

SCHEMA_VERSION = 3  # 2: peak_memory, model_size; 3: traceback, output (added to older stores on open)
_COLUMNS = ("trial_id", "status", "config", "vals", "score", "score_std", "fold_scores", "fit_time",
            "cpu_time", "wall_time", "predict_time", "error", "started", "finished", "source",
            "peak_memory", "model_size", "traceback", "output")
#: a search's ``status`` in its ``meta`` table: ``running`` while ``fit`` runs, then
#: ``completed``, ``interrupted`` (Ctrl-C; resumable) or ``failed`` (``fit`` raised: no trial
#: succeeded, the final refit failed, ...; ``stop_reason`` says why). A search still
#: ``running`` whose process is gone (``kill -9``, out of memory, a restart) is listed as
#: ``abandoned`` by :func:`list_runs` (found from the ``owner`` meta, see :func:`.processes.process_owner`).
SEARCH_STATUSES = ("running", "completed", "interrupted", "failed")
# columns added after version 1, with their SQL types
_ADDED_COLUMNS = {"peak_memory": "INTEGER", "model_size": "INTEGER", "traceback": "TEXT", "output": "TEXT"}


class RunStore:
    """A search's durable record: ``<run_dir>/search.sqlite``.

    Each finished trial is committed before the next one is scheduled.

    Raises
    ------
    ConfigError
        ``code="network_filesystem"`` when ``run_dir`` is on a network filesystem,
        where SQLite's WAL is unsafe (:mod:`nbautoml.engine.filesystems`).
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        check_local_filesystem(self.run_dir)  # before anything is created there
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / "search.sqlite"
        self.conn = _connect(self.path, journal=False)
        found = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:  # opened as is, not rewritten: a newer nbautoml may need it
            self.conn.close()
            raise NbAutoMLError(f"The search store {str(self.path)!r} was made by a newer nbautoml (schema "
                                f"{found}, this version reads up to {SCHEMA_VERSION}); upgrade nbautoml.",
                                code="store_too_new", path=str(self.path))
        self.conn.execute("PRAGMA journal_mode=WAL")
        with _transaction(self.conn, immediate=False):  # a new store or an older one's upgrade: whole, or none
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS trials (trial_id INTEGER PRIMARY KEY, status TEXT, config TEXT, "
                "vals TEXT, score REAL, score_std REAL, fold_scores TEXT, fit_time REAL, cpu_time REAL, "
                "wall_time REAL, predict_time REAL, error TEXT, started REAL, finished REAL, source TEXT)"
            )
            present = {row[1] for row in self.conn.execute("PRAGMA table_info(trials)")}
            for name, sql_type in _ADDED_COLUMNS.items():
                if name not in present:  # a store written by an older version: old rows read as NULL
                    self.conn.execute(f"ALTER TABLE trials ADD COLUMN {name} {sql_type}")
            if found < SCHEMA_VERSION:
                self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._identity = _identity(self.path)
        self._warned_gone = False

    @classmethod
    def exists(cls, run_dir: str | Path) -> bool:
        return (Path(run_dir) / "search.sqlite").exists()

    def _check_file(self) -> None:
        """Write ``search.sqlite`` again when it was deleted or replaced since it was opened.

        SQLite keeps writing to the file it opened, so the trials would go to a file no one
        can open again. The open connection still reads the whole store, so it is copied to
        a new file put in place atomically, and the search goes on writing there. When even
        that fails (a read-only or full disk), a warning says the trials are not saved.
        """
        if self._warned_gone or _identity(self.path) == self._identity:
            return
        try:
            self._write_again()
        except (OSError, sqlite3.Error) as err:
            self._warned_gone = True
            warnings.warn(f"The search store {str(self.path)!r} was deleted or replaced while this search ran, "
                          f"and writing it again failed ({err}): the trials from now on are not saved there, so "
                          "the search cannot be resumed or listed from it. Keep the search directory while a "
                          "search runs (check sync tools and cleanups).", UserWarning, stacklevel=3)
            return
        n_trials = self.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        warnings.warn(f"The search store {str(self.path)!r} was deleted or replaced while this search ran; it "
                      f"was written again from the open store ({n_trials} trials), so nothing is lost. Keep the "
                      "search directory while a search runs (check sync tools and cleanups).",
                      UserWarning, stacklevel=3)

    def _write_again(self) -> None:
        """Copy the open store to ``self.path`` (atomically) and go on with the copy."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fresh = self.run_dir / f".search.sqlite.{os.getpid()}.tmp"
        fresh.unlink(missing_ok=True)
        try:
            copy = sqlite3.connect(fresh)  # a rollback journal, synchronous=FULL: on disk when closed
            try:
                self.conn.backup(copy)
            finally:
                copy.close()
            for stale in ("search.sqlite-wal", "search.sqlite-shm"):  # another file's journal is not ours
                (self.run_dir / stale).unlink(missing_ok=True)
            os.replace(fresh, self.path)
        except BaseException:
            fresh.unlink(missing_ok=True)
            raise
        old, self.conn = self.conn, _connect(self.path)
        old.close()
        self._identity = _identity(self.path)

    # -- meta
    def set_meta(self, **values) -> None:
        self._check_file()
        with _transaction(self.conn):
            self.conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [(k, json.dumps(v, default=str)) for k, v in values.items()],
            )

    def meta(self) -> dict:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    # -- trials
    def write_trial(self, record: TrialRecord, elapsed: float | None = None) -> None:
        row = (
            record.trial_id, record.status, json.dumps(record.config), json.dumps(record.vals),
            record.score, record.score_std, json.dumps(record.fold_scores), record.fit_time,
            record.cpu_time, record.wall_time, record.predict_time, record.error, record.started,
            record.finished, record.source, record.peak_memory, record.model_size, record.traceback,
            record.output,
        )
        placeholders = ", ".join("?" for _ in _COLUMNS)
        self._check_file()
        with _transaction(self.conn):  # the trial and the time spent, in one commit
            self.conn.execute(f"INSERT OR REPLACE INTO trials ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                              row)
            if elapsed is not None:
                self.conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('elapsed', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (json.dumps(elapsed),),
                )
                self.conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('updated', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (json.dumps(time.time()),),
                )

    def trials(self) -> list[TrialRecord]:
        rows = self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM trials ORDER BY trial_id").fetchall()
        out = []
        for row in rows:
            data = dict(zip(_COLUMNS, row))
            for key in ("config", "vals", "fold_scores"):
                data[key] = json.loads(data[key]) if data[key] else ({} if key != "fold_scores" else [])
            out.append(TrialRecord(**data))
        return out

    def close(self) -> None:
        self.conn.close()


def _connect(path: Path, journal: bool = True) -> sqlite3.Connection:
    """A connection to the store at ``path``, each commit on disk before it returns
    (``synchronous=FULL``: a finished trial survives a power loss; about 0.5 ms per commit), in
    WAL mode unless ``journal`` is False (the file's mode is left as it is until its version is read)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    if journal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


@contextmanager
def _transaction(conn: sqlite3.Connection, immediate: bool = True):
    """One transaction: all of its statements are committed, or none. ``immediate`` takes the
    write lock at once; otherwise at the first write (a store opened only to be read takes none)."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of ``path``, or None when it does not exist."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def list_runs(base: str | Path) -> list[dict]:
    """Summaries of the searches stored under ``base`` (newest first).

    Each has ``status`` (one of :data:`SEARCH_STATUSES`, ``"abandoned"`` for a search whose
    process ended while it ran, or ``"unknown"``) and ``reason`` (why it stopped, or the
    error that ended it).
    """
    base = Path(base)
    runs = []
    if not base.exists():
        return runs
    for path in sorted(base.iterdir()):
        if not RunStore.exists(path):
            continue
        try:
            conn = sqlite3.connect(f"file:{path / 'search.sqlite'}?mode=ro", uri=True, timeout=5)
            meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall())
            conn.close()
        except sqlite3.Error:
            continue
        abandoned = _abandoned(meta, path.name)
        if abandoned:
            meta.update(status="abandoned", stop_reason=abandoned)
        runs.append({
            "name": path.name,
            "path": str(path),
            "target": meta.get("target"),
            "task": meta.get("task"),
            "metric": meta.get("metric"),
            "best_score": meta.get("best_score"),
            "trials": sum(counts.values()),
            "ok": counts.get("ok", 0),
            "status": meta.get("status", "unknown"),
            "reason": meta.get("stop_reason"),
            "created": meta.get("created"),
            "elapsed": meta.get("elapsed"),
            "variable": meta.get("variable"),
        })
    runs.sort(key=lambda r: r.get("created") or 0, reverse=True)
    return runs


def _abandoned(meta: dict, name: str) -> str | None:
    """Why a search stored as ``running`` is not running any more; None when it may be."""
    owner = meta.get("owner")
    if meta.get("status") != "running" or owner_alive(owner) is not False:
        return None
    return (f"the process that ran it (pid {owner['pid']} on {owner['host']}) ended without recording "
            f"an end: it was killed (kill -9, out of memory) or the machine restarted. Its finished "
            f"trials are kept: resume={name!r} continues it.")


def find_run(base: str | Path, name: str) -> Path | None:
    """The search directory ``name`` refers to: a path, a search under ``base``, or the newest
    search whose result was bound to the notebook variable ``name`` (see ``RunStore`` meta
    ``variable``); None when there is none."""
    for path in (Path(name), Path(base) / name):
        if RunStore.exists(path):
            return path
    for run in list_runs(base):
        if run.get("variable") == name:
            return Path(run["path"])
    return None


def stored_leaderboard(run_dir: str | Path):
    """The leaderboard of a stored search, read from its directory alone (no model, no data).

    Returns
    -------
    leaderboard : DataFrame
        As ``AutoML.leaderboard``.
    meta : dict
        The search's stored settings (``target``, ``task``, ``metric``, ``validation``, ...).
    """
    from .leaderboard import build_leaderboard
    from .metrics import get_metric

    store = RunStore(run_dir)
    try:
        meta, trials = store.meta(), store.trials()
    finally:
        store.close()
    metric = get_metric(meta.get("metric", "auto"), meta.get("task", "binary"))
    # searches written before test_fraction was stored: 5-fold's 1/4
    board = build_leaderboard(trials, metric.greater_is_better, float(meta.get("test_fraction", 0.25)))
    return board, meta
