"""Monitoring history: one row per monitored batch and its findings, in SQLite (WAL).

The database is ``monitor.sqlite`` in the project directory shared with the
model registry (``$NBAUTOML_HOME``, default ``.nbautoml``). Each write opens
a connection, commits one transaction and closes it, so several kernels can
write and read at the same time.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd

FILENAME = "monitor.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT,
    created REAL NOT NULL,
    n_rows INTEGER NOT NULL,
    status TEXT NOT NULL,
    metric TEXT,
    metric_value REAL,
    cv_score REAL,
    prediction_psi REAL,
    anomaly_rate REAL,
    n_alert INTEGER,
    n_warn INTEGER,
    thresholds TEXT
);
CREATE INDEX IF NOT EXISTS batches_name ON batches(name, id);
CREATE TABLE IF NOT EXISTS findings (
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    feature TEXT,
    "check" TEXT,
    severity TEXT,
    statistic REAL,
    p_value REAL,
    q_value REAL,
    psi REAL,
    wasserstein REAL,
    value REAL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS findings_batch ON findings(batch_id);
"""


def project_dir() -> Path:
    """The project directory: the registry's, else ``$NBAUTOML_HOME`` or ``.nbautoml``."""
    try:
        from ..registry import project_dir as registry_dir
    except ImportError:
        return Path(os.environ.get("NBAUTOML_HOME", ".nbautoml"))
    return Path(registry_dir())


def default_path() -> Path:
    """Where the monitoring history lives."""
    return project_dir() / FILENAME


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=10)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")  # a recorded batch survives a power loss
    con.executescript(_SCHEMA)
    return con


def record(report, path: Path | None = None) -> int:
    """Append a report (batch summary and findings) to the history; returns the batch id."""
    path = Path(path) if path is not None else default_path()
    findings = report.findings
    counts = report.counts()

    def val(check, column):
        rows = findings.loc[findings["check"] == check, column]
        return _real(rows.iloc[0]) if len(rows) else None

    with closing(_connect(path)) as con, con:
        cur = con.execute(
            "INSERT INTO batches (name, version, created, n_rows, status, metric, metric_value, "
            "cv_score, prediction_psi, anomaly_rate, n_alert, n_warn, thresholds) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                report.name or "model",
                None if report.version is None else str(report.version),
                report.created,
                int(report.n_rows),
                report.status,
                report.metric,
                _real(report.metric_value),
                _real(report.cv_score),
                val("prediction_drift", "psi"),
                val("anomaly_rate", "value"),
                counts["alert"],
                counts["warn"],
                json.dumps(report.thresholds),
            ),
        )
        batch_id = int(cur.lastrowid)
        con.executemany(
            'INSERT INTO findings (batch_id, feature, "check", severity, statistic, p_value, '
            "q_value, psi, wasserstein, value, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    batch_id,
                    str(r.feature),
                    r.check,
                    r.severity,
                    _real(r.statistic),
                    _real(r.p_value),
                    _real(r.q_value),
                    _real(r.psi),
                    _real(r.wasserstein),
                    _real(r.value),
                    r.detail,
                )
                for r in findings.itertuples()
            ],
        )
    return batch_id


def _real(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def history(name: str | None = None, detail: bool = False, path=None) -> pd.DataFrame:
    """The monitored batches of a model (or of every model), oldest first.

    Parameters
    ----------
    name : str, optional
        The model name the batches were stored under (``report.name``).
    detail : bool, default=False
        False: one row per batch (``batch``, ``name``, ``version``, ``time``,
        ``n_rows``, ``status``, ``metric``, ``metric_value``, ``cv_score``,
        ``prediction_psi``, ``anomaly_rate``, ``n_alert``, ``n_warn``).
        True: one row per batch and finding (feature, check, statistics).
    path : str or Path, optional
        Another history database.

    Returns
    -------
    DataFrame
        Empty (with the columns) when nothing was monitored yet.
    """
    path = Path(path) if path is not None else default_path()
    if not path.exists():
        return _empty(detail)
    with closing(sqlite3.connect(path, timeout=10)) as con:
        where, args = ("WHERE b.name = ?", (name,)) if name is not None else ("", ())
        if detail:
            query = (
                'SELECT b.id AS batch, b.name, b.version, b.created, f.feature, f."check", '
                "f.severity, f.statistic, f.p_value, f.q_value, f.psi, f.wasserstein, f.value, "
                f"f.detail FROM findings f JOIN batches b ON b.id = f.batch_id {where} "
                "ORDER BY b.id, f.rowid"
            )
        else:
            query = (
                "SELECT b.id AS batch, b.name, b.version, b.created, b.n_rows, b.status, b.metric, "
                "b.metric_value, b.cv_score, b.prediction_psi, b.anomaly_rate, b.n_alert, b.n_warn "
                f"FROM batches b {where} ORDER BY b.id"
            )
        frame = pd.read_sql_query(query, con, params=args)
    frame.insert(3, "time", pd.to_datetime(frame.pop("created"), unit="s"))
    return frame


#: the columns of ``history(name)``: one row per monitored batch
BATCH_COLUMNS = ["batch", "name", "version", "time", "n_rows", "status", "metric", "metric_value",
                 "cv_score", "prediction_psi", "anomaly_rate", "n_alert", "n_warn"]
#: the columns of ``history(name, detail=True)``: one row per finding
FINDING_COLUMNS = ["batch", "name", "version", "time", "feature", "check", "severity", "statistic",
                   "p_value", "q_value", "psi", "wasserstein", "value", "detail"]


def _empty(detail: bool) -> pd.DataFrame:
    return pd.DataFrame(columns=FINDING_COLUMNS if detail else BATCH_COLUMNS)


def names(path=None) -> list[str]:
    """The model names with a monitoring history."""
    path = Path(path) if path is not None else default_path()
    if not path.exists():
        return []
    with closing(sqlite3.connect(path, timeout=10)) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT name FROM batches ORDER BY name")]


__all__ = ["history", "record", "default_path", "project_dir", "names"]
