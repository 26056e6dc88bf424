"""The search store (nbautoml/engine/store.py) as a file on disk: schema versions, a deleted file."""

from __future__ import annotations

import sqlite3
import warnings

import pytest

from nbautoml.engine.records import TrialRecord
from nbautoml.engine.store import SCHEMA_VERSION, RunStore
from nbautoml.exceptions import NbAutoMLError


def _user_version(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def _set_user_version(path, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={version}")
    conn.close()


def test_a_store_from_a_newer_nbautoml_is_refused_and_left_as_it_is(tmp_path):
    store = RunStore(tmp_path / "run")
    store.write_trial(TrialRecord(trial_id=0, config={"model": "ridge"}, status="ok", score=0.5))
    store.close()
    _set_user_version(store.path, SCHEMA_VERSION + 1)
    with pytest.raises(NbAutoMLError, match=rf"made by a newer nbautoml \(schema {SCHEMA_VERSION + 1}, this "
                                            rf"version reads up to {SCHEMA_VERSION}\); upgrade nbautoml") as info:
        RunStore(tmp_path / "run")
    assert info.value.code == "store_too_new" and "search.sqlite" in str(info.value)
    assert _user_version(store.path) == SCHEMA_VERSION + 1  # not lowered


def test_an_older_store_is_upgraded_and_the_version_never_goes_down(tmp_path):
    store = RunStore(tmp_path / "run")
    store.close()
    _set_user_version(store.path, 1)
    RunStore(tmp_path / "run").close()
    assert _user_version(store.path) == SCHEMA_VERSION


@pytest.mark.parametrize("how", ["deleted", "directory deleted", "replaced"])
def test_a_deleted_or_replaced_store_file_is_written_again_at_the_next_write(tmp_path, how):
    """RELIABILITY P-10: SQLite goes on writing to the file it opened, so the trials went to a file
    no one could open (with a warning). The open store is copied back into place, once."""
    import shutil

    store = RunStore(tmp_path / "run")
    store.write_trial(TrialRecord(trial_id=0, config={}, status="ok", score=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to report while the file is there
        store.set_meta(status="running")
    if how == "directory deleted":  # a cleanup of the search directories
        shutil.rmtree(tmp_path / "run")
    else:  # a sync tool removes the files, or puts back an older copy of them
        for path in (tmp_path / "run").glob("search.sqlite*"):
            path.unlink()
        if how == "replaced":
            stale = RunStore(tmp_path / "run")
            stale.close()
    with pytest.warns(UserWarning, match=r"search.sqlite' was deleted or replaced while this search ran; it was "
                                         r"written again from the open store \(1 trials\), so nothing is lost"):
        store.write_trial(TrialRecord(trial_id=1, config={}, status="ok", score=0.6), elapsed=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        store.write_trial(TrialRecord(trial_id=2, config={}, status="ok", score=0.7), elapsed=3.0)
        store.set_meta(status="completed")
    store.close()
    reopened = RunStore(tmp_path / "run")  # what a resume or %automl_history reads
    assert [(t.trial_id, t.score) for t in reopened.trials()] == [(0, 0.5), (1, 0.6), (2, 0.7)]
    assert reopened.meta()["status"] == "completed" and reopened.meta()["elapsed"] == 3.0
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")) == []


def test_a_store_that_cannot_be_written_again_says_its_trials_are_not_saved(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "run")
    store.write_trial(TrialRecord(trial_id=0, config={}, status="ok", score=0.5))
    for path in (tmp_path / "run").glob("search.sqlite*"):
        path.unlink()

    def full_disk(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(RunStore, "_write_again", full_disk)
    with pytest.warns(UserWarning, match=r"writing it again failed \(\[Errno 28\] No space left on device\): the "
                                         "trials from now on are not saved there"):
        store.write_trial(TrialRecord(trial_id=1, config={}, status="ok", score=0.6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only; the search goes on
        store.write_trial(TrialRecord(trial_id=2, config={}, status="ok", score=0.7))
    store.close()


def test_a_failed_upgrade_of_an_older_store_leaves_it_as_it_was(tmp_path, monkeypatch):
    """RELIABILITY P-07: the new columns and the schema version are one transaction."""
    store = RunStore(tmp_path / "run")
    store.write_trial(TrialRecord(trial_id=0, config={}, status="ok", score=0.5))
    store.close()
    with sqlite3.connect(store.path) as conn:
        conn.execute("ALTER TABLE trials DROP COLUMN output")
        conn.execute("ALTER TABLE trials DROP COLUMN traceback")
        conn.execute("PRAGMA user_version=2")
    import nbautoml.engine.store as store_module

    monkeypatch.setattr(store_module, "_ADDED_COLUMNS", {"traceback": "TEXT", "output": "NO SUCH TYPE("})
    with pytest.raises(sqlite3.Error):
        RunStore(tmp_path / "run")
    with sqlite3.connect(store.path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
    assert "traceback" not in columns and _user_version(store.path) == 2  # not half upgraded
    monkeypatch.undo()
    assert [t.score for t in RunStore(tmp_path / "run").trials()] == [0.5]
