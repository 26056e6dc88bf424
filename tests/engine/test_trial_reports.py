"""What a search tells about its trials: failures with tracebacks, printed output kept off the
notebook, a trial timeout longer than the budget, a resume on changed data."""

import sqlite3
import time

import pytest
from hyperopt import hp

from nbautoml import AutoML
from nbautoml.engine.records import TrialRecord
from nbautoml.engine.store import SCHEMA_VERSION, RunStore
from nbautoml.exceptions import ConfigError, DataError, SearchFailedError

FAULTY = "tests.engine.faulty"


def test_all_trials_failing_shows_a_traceback_and_keeps_every_trial_on_the_error(titanic):
    """Audit F-09: the error named the most common failure and its count, but no traceback, and
    the trials were out of reach (``AutoML(...).fit(...)`` raised, so there was no result)."""
    raiser = {"family": f"{FAULTY}:Raiser", "params": {"message": hp.choice("m", ["boom"])}}
    with pytest.raises(SearchFailedError, match="All 3 trials failed.*RuntimeError: boom") as info:
        AutoML(space=hp.choice("family", [raiser]), max_evals=3, time_budget=None, cv=2,
               n_jobs=1).fit(titanic, target="Survived")
    error = info.value
    assert error.code == "all_trials_failed" and error.details["errors"] == {"RuntimeError: boom": 3}
    message = str(error)
    assert "Traceback of trial 0" in message and "faulty.py" in message and 'raise RuntimeError' in message
    assert ".trials" in message and ".leaderboard" in message
    assert [t.status for t in error.trials] == ["failed"] * 3
    assert all(isinstance(t, TrialRecord) and "RuntimeError: boom" in t.traceback for t in error.trials)
    assert len(error.trials[0].traceback.splitlines()) <= 16  # bounded: the last 15 lines and a note
    assert list(error.leaderboard["status"]) == ["failed"] * 3
    stored = RunStore(error.details["run_dir"]).trials()
    assert stored[0].traceback == error.trials[0].traceback  # kept in the search directory too


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


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_what_a_trial_prints_is_kept_on_its_record_not_shown(titanic, capfd, n_jobs):
    """Audit F-10: an estimator printing 3,000 lines per fit (prints and file-descriptor writes, as
    C code does) flooded the cell with every line of every fold of every trial. Now each trial's
    output goes to a file in its worker; its last 20 lines are on the record, for a trial that
    worked, one that raised and one whose process died."""
    chatty = [{"family": f"{FAULTY}:Chatty", "params": {"then": then}} for then in ("ok", "raise", "kill")]
    result = AutoML(space=hp.choice("family", chatty), warm_start=chatty, max_evals=3, time_budget=None,
                    cv=2, n_jobs=n_jobs, ensemble=False).fit(titanic.head(300), target="Survived")
    out, err = capfd.readouterr()
    assert "chatty" not in out and "chatty" not in err, f"{len((out + err).splitlines())} lines shown"
    by_then = {t.config["params"]["then"]: t for t in result.trials_}
    assert [by_then[k].status for k in ("ok", "raise", "kill")] == ["ok", "failed", "crashed"]
    for trial in by_then.values():
        lines = trial.output.splitlines()
        assert lines[-1] == "chatty last line" and len(lines) <= 21 and len(trial.output) <= 4200
        assert lines[0].startswith("[... ") and "earlier bytes of output not kept" in lines[0]
    assert "RuntimeError: chatty failure" in by_then["raise"].traceback
    stored = {t.trial_id: t.output for t in RunStore(result.run_dir_).trials()}
    assert stored == {t.trial_id: t.output for t in result.trials_}
    assert result.refit_output_.splitlines()[-1] == "chatty last line"  # the final refit: in this process
    result.oof_predictions(trial=by_then["ok"].trial_id)  # recomputed in this process too
    out, err = capfd.readouterr()
    assert "chatty" not in out and "chatty" not in err


def test_a_trial_timeout_longer_than_the_budget_warns_and_the_budget_stops_the_trial(titanic):
    """Audit A-08: trial_timeout=60 with time_budget=4 said nothing; a hung trial is stopped by
    the end of the budget (the effective timeout is the smaller of the two)."""
    sleeper = {"family": f"{FAULTY}:Sleeper", "params": {"seconds": 60}}
    prior = {"family": f"{FAULTY}:Prior", "params": {"tag": hp.choice("tag", [0, 1, 2])}}
    started = time.perf_counter()
    with pytest.warns(UserWarning, match=r"trial_timeout=60s is longer than the whole time_budget=4s.*"
                                         "stopped by the time left in the budget"):
        result = AutoML(space=hp.choice("family", [prior]), warm_start=[sleeper], time_budget=4,
                        trial_timeout=60, cv=2, n_jobs=2, ensemble=False).fit(titanic.head(300),
                                                                             target="Survived")
    assert time.perf_counter() - started < 4 * 1.5
    hung = result.trials_[0]
    assert hung.status == "timeout" and "end of the time budget" in hung.error and hung.wall_time < 4
    assert any(t.status == "ok" for t in result.trials_)


def test_resume_on_changed_data_says_what_changed(titanic):
    """Audit F-16: the error showed the row counts only ("891 rows then, 891 now" when a column
    changed). It names the rows, the columns added and removed, and both fingerprints."""
    kw = dict(time_budget=None, max_evals=2, models=["logistic_regression"], n_jobs=1, ensemble=False)
    first = AutoML(name="base", **kw).fit(titanic, target="Survived")
    then = first.data_fingerprint_["sha256"][:12]
    changed = titanic.drop(columns=["Fare"]).assign(Deck=titanic["Cabin"].str[:1]).head(800)
    with pytest.raises(DataError, match="differs") as info:
        AutoML(resume="base", **kw).fit(changed, target="Survived")
    message = str(info.value)
    assert info.value.code == "resume_data_changed"
    assert "891 rows then, 800 now" in message
    assert "added: 'Deck'" in message and "removed: 'Fare'" in message
    assert then in message and len(then) == 12
    assert info.value.details["added"] == ["Deck"] and info.value.details["removed"] == ["Fare"]
    same_shape = titanic.assign(Fare=titanic["Fare"] + 1)  # same rows and columns, other values
    with pytest.raises(DataError, match="same 891 rows and columns, other values") as info:
        AutoML(resume="base", **kw).fit(same_shape, target="Survived")
    assert info.value.code == "resume_data_changed"


def test_force_resume_on_changed_data_starts_a_new_search_from_the_best_configs(titanic):
    """F-16's override: the data changed, so the old scores cannot be continued; with
    force_resume=True a new search on this data tries the old search's best configs first."""
    kw = dict(time_budget=None, models=["logistic_regression", "decision_tree"], n_jobs=1, ensemble=False)
    first = AutoML(name="base", max_evals=6, **kw).fit(titanic, target="Survived")
    ranked = first.leaderboard.loc[first.leaderboard["status"] == "ok", "trial"].tolist()
    best = [by.config for i in ranked[:5] for by in first.trials_ if by.trial_id == i]
    changed = titanic.head(700)
    with pytest.warns(UserWarning, match=r"891 rows then, 700 now.*force_resume=True: a new search on "
                                         r"this data starts from its 5 best configs, evaluated again; "
                                         r"'base' is left as it is"):
        forced = AutoML(resume="base", force_resume=True, max_evals=7, **kw).fit(changed, target="Survived")
    assert forced.run_dir_ != first.run_dir_ and forced.run_dir_.name.startswith("base-new-data-")
    assert [t.config for t in forced.trials_[:5]] == best  # evaluated again, best first
    assert len(forced.trials_) == 7 and forced.data_fingerprint_ != first.data_fingerprint_
    with pytest.raises(ConfigError, match=r"force_resume=True \(--force\) goes with resume=NAME"):
        AutoML(force_resume=True, max_evals=1, **kw).fit(changed, target="Survived")
    again = AutoML(resume="base", max_evals=7, **kw)  # the old search is as it was
    with pytest.raises(DataError, match="force_resume=True \\(--force\\)"):
        again.fit(changed, target="Survived")


def test_a_trial_printing_far_more_than_the_cap_keeps_its_capture_file_small(titanic, capfd):
    """A trial that printed gigabytes filled the temporary disk: its capture file was emptied
    per trial, never capped. An estimator printing 60 MB per fit (at ~100 MB/s, two folds per
    trial, two trials and the final refit in this process) now never sees its capture file
    above the 4 MiB cap plus what ~0.1 s of printing adds; the end of its output is kept and
    the search goes on."""
    cap, slack = 4 * 2**20, 16 * 2**20
    flood = {"family": f"{FAULTY}:Flood", "params": {"mb": 60, "tag": hp.choice("tag", [0, 1])}}
    result = AutoML(space=hp.choice("family", [flood]), max_evals=2, time_budget=None, cv=2, n_jobs=1,
                    ensemble=False).fit(titanic.head(300), target="Survived")
    out, err = capfd.readouterr()
    assert "flood" not in out and "flood" not in err
    assert [t.status for t in result.trials_] == ["ok", "ok"]
    for output in [t.output for t in result.trials_] + [result.refit_output_]:
        *_, peak, last = output.splitlines()
        assert last == "flood last line" and peak.startswith("flood peak ")
        assert int(peak.split()[-1]) <= cap + slack, f"the capture file reached {peak.split()[-1]} bytes"
        note = output.splitlines()[0]
        assert note.startswith("[... ") and note.endswith("earlier bytes of output not kept]")
        assert int(note[5:].split()[0].replace(",", "")) > 50 * 2**20  # counted across the cuts
    from nbautoml.engine.output import OUTPUT_FILE_CAP

    assert OUTPUT_FILE_CAP == cap


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_log_records_of_a_trial_are_kept_on_its_record_not_shown(titanic, tmp_path, monkeypatch, n_jobs):
    """A notebook's ``logging.basicConfig()`` adds a root handler writing to the kernel's
    ``sys.stderr`` object, which sends text to the cell from forked workers too. Redirecting
    file descriptors 1 and 2 did not reach it: each fit's log record reached the cell (here a
    stream on another file stands for the kernel's). Now such handlers write to the capture
    during a trial and the final refit, and are restored after."""
    import logging
    import sys

    cell = open(tmp_path / "cell.txt", "w", buffering=1)  # noqa: SIM115
    monkeypatch.setattr(sys, "stderr", cell)
    handler = logging.StreamHandler(cell)  # what logging.basicConfig() makes in a notebook
    logging.getLogger().addHandler(handler)
    try:
        warner = {"family": f"{FAULTY}:LogWarner", "params": {"tag": hp.choice("tag", [0, 1])}}
        result = AutoML(space=hp.choice("family", [warner]), max_evals=2, time_budget=None, cv=2,
                        n_jobs=n_jobs, ensemble=False).fit(titanic.head(300), target="Survived")
    finally:
        logging.getLogger().removeHandler(handler)
        cell.close()
    shown = (tmp_path / "cell.txt").read_text()
    assert "estimator warning" not in shown, f"{shown.count('estimator warning')} records reached the cell"
    for output in [t.output for t in result.trials_] + [result.refit_output_]:
        assert output.splitlines() == ["estimator warning via logging"] * (1 if output is result.refit_output_
                                                                           else 2)
    assert handler.stream is cell  # restored
