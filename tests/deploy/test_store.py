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


def test_a_deleted_store_file_is_reported_once_at_the_next_write(tmp_path):
    store = RunStore(tmp_path / "run")
    store.write_trial(TrialRecord(trial_id=0, config={}, status="ok", score=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to report while the file is there
        store.set_meta(status="running")
    for path in (tmp_path / "run").glob("search.sqlite*"):  # a sync tool or cleanup removes it
        path.unlink()
    with pytest.warns(UserWarning, match=r"search.sqlite' was deleted or replaced while this search ran.*"
                                         "cannot be resumed"):
        store.write_trial(TrialRecord(trial_id=1, config={}, status="ok", score=0.6), elapsed=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        store.write_trial(TrialRecord(trial_id=2, config={}, status="ok", score=0.7), elapsed=3.0)
        store.set_meta(status="completed")
    store.close()
