"""What a search tells about its trials: failures with tracebacks, printed output kept off the
notebook, a trial timeout longer than the budget, a resume on changed data."""

import sqlite3

from nbautoml.engine.records import TrialRecord
from nbautoml.engine.store import SCHEMA_VERSION, RunStore

FAULTY = "tests.engine.faulty"


def test_a_version_2_store_gets_the_traceback_and_output_columns(tmp_path):
    """Stores written before tracebacks and output were kept read as None for them."""
    path = tmp_path / "run" / "search.sqlite"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE trials (trial_id INTEGER PRIMARY KEY, status TEXT, config TEXT, vals TEXT, "
                 "score REAL, score_std REAL, fold_scores TEXT, fit_time REAL, cpu_time REAL, wall_time REAL, "
                 "predict_time REAL, error TEXT, started REAL, finished REAL, source TEXT, peak_memory INTEGER, "
                 "model_size INTEGER)")
    conn.execute("INSERT INTO trials (trial_id, status, config, vals, fold_scores, error) VALUES "
                 "(0, 'failed', '{}', '{}', '[]', 'RuntimeError: old')")
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    store = RunStore(path.parent)
    (old,) = store.trials()
    assert old.error == "RuntimeError: old" and old.traceback is None and old.output is None
    store.write_trial(TrialRecord(1, {}, "failed", error="E", traceback="tb", output="out"))
    assert [(t.traceback, t.output) for t in store.trials()] == [(None, None), ("tb", "out")]
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
