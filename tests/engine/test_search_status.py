"""The status a search leaves in its store (what ``%automl_history`` and resume read): it never
stays ``running`` after ``fit`` returned or raised."""

import pytest
from hyperopt import hp

from nbautoml import AutoML
from nbautoml.engine import automl as automl_mod
from nbautoml.engine.automl import default_search_dir
from nbautoml.engine.store import RunStore, list_runs
from nbautoml.exceptions import SearchFailedError

FAULTY = "tests.engine.faulty"
KW = dict(time_budget=None, cv=2, n_jobs=1, ensemble=False)


def _only_run():
    (run,) = list_runs(default_search_dir())
    return run


def test_a_search_whose_trials_all_fail_is_stored_as_failed(titanic):
    """The search stayed 'running' in the store and in %automl_history after every trial failed."""
    raiser = {"family": f"{FAULTY}:Raiser", "params": {"message": hp.choice("m", ["boom"])}}
    with pytest.raises(SearchFailedError, match="All 2 trials failed"):
        AutoML(space=hp.choice("family", [raiser]), max_evals=2, **KW).fit(titanic.head(300), target="Survived")
    run = _only_run()
    assert run["status"] == "failed", run
    assert run["reason"].startswith("SearchFailedError: All 2 trials failed") and run["trials"] == 2
    store = RunStore(run["path"])
    assert store.meta()["error_code"] == "all_trials_failed"
    store.close()
    from nbautoml.engine.store import SEARCH_STATUSES

    assert run["status"] in SEARCH_STATUSES


def test_a_search_whose_final_refit_fails_is_stored_as_failed(titanic):
    breaks = {"family": f"{FAULTY}:RefitRaiser", "params": {"n_rows": 300}}
    with pytest.raises(SearchFailedError, match="final refit on all the rows failed"):
        AutoML(space=hp.choice("family", [breaks]), warm_start=[breaks], max_evals=1, **KW).fit(
            titanic.head(300), target="Survived")
    run = _only_run()
    assert run["status"] == "failed" and "final refit" in run["reason"], run
    assert run["ok"] == 1  # its trial worked: only the model is missing


def test_ctrl_c_after_the_search_loop_leaves_it_interrupted_and_resumable(titanic, monkeypatch):
    """A KeyboardInterrupt outside the loop (a second Ctrl-C, or one while the leaderboard is
    built) escapes fit: the search is 'interrupted', as one stopped inside the loop."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    original = automl_mod.build_leaderboard
    monkeypatch.setattr(automl_mod, "build_leaderboard", interrupted)
    prior = {"family": f"{FAULTY}:Prior", "params": {"tag": hp.choice("tag", [0, 1])}}
    with pytest.raises(KeyboardInterrupt):
        AutoML(space=hp.choice("family", [prior]), max_evals=2, name="cut", **KW).fit(
            titanic.head(300), target="Survived")
    run = _only_run()
    assert run["status"] == "interrupted" and run["ok"] == 2, run
    monkeypatch.setattr(automl_mod, "build_leaderboard", original)  # (undo() would undo conftest's too)
    resumed = AutoML(space=hp.choice("family", [prior]), max_evals=3, resume="cut", **KW)
    resumed.fit(titanic.head(300), target="Survived")
    assert len(resumed.trials_) == 3 and _only_run()["status"] == "completed"


def test_an_interrupted_search_stores_its_in_flight_trial_as_interrupted(titanic):
    """The trial cut short by Ctrl-C stayed 'running' in the store while the search said
    'interrupted'."""
    def stop_at_trial_1(event):
        if event.kind == "trial_started" and event["trial"].trial_id == 1:
            raise KeyboardInterrupt

    sleeper = {"family": f"{FAULTY}:Sleeper", "params": {"seconds": 30}}
    prior = {"family": f"{FAULTY}:Prior", "params": {"tag": 0}}
    result = AutoML(space=hp.choice("family", [prior, sleeper]), warm_start=[prior, sleeper], max_evals=3,
                    callbacks=[stop_at_trial_1], **KW).fit(titanic.head(300), target="Survived")
    assert result.status_ == "interrupted"
    run = _only_run()
    assert run["status"] == "interrupted"
    assert {t.trial_id: t.status for t in RunStore(run["path"]).trials()} == {0: "ok", 1: "interrupted"}


@pytest.mark.slow
def test_a_search_whose_process_was_killed_is_listed_as_abandoned_and_resumes(tmp_path, datasets_dir,
                                                                             monkeypatch):
    """After ``kill -9`` a search stayed ``running`` for good in ``%automl_history``. Its store
    now records the process that runs it; once that process is gone the search lists as
    ``abandoned``, with how to continue it, and resuming it completes it. The killed search's
    temp directory (its workers' output) is removed by the next search."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # the child's temp directory, and this process's below
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    data = datasets_dir / "blood.csv"
    script = (f"import pandas as pd, nbautoml\n"
              f"nbautoml.AutoML(time_budget=120, n_jobs=1, name='killed', search_dir={str(tmp_path)!r})"
              f".fit(pd.read_csv({str(data)!r}), target='Class')\n")
    child = subprocess.Popen([sys.executable, "-c", script], cwd=os.getcwd(), env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = list_runs(tmp_path)
            if runs and runs[0]["ok"] >= 2:
                break
            time.sleep(0.2)
        assert runs and runs[0]["status"] == "running", runs  # alive: running, not abandoned
        workers = _children(child.pid)
        assert workers, "the search runs its trials in a worker process"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    # its workers follow it within a few seconds (they used to stay, idle or fitting, for good)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in workers):
        time.sleep(0.2)
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")], "workers outlived the search"
    left = sorted(p.name for p in temp.iterdir())
    assert len(left) == 1 and left[0].startswith(f"nbautoml-trial-output-{child.pid}-"), left
    unknown = temp / "nbautoml-trial-output-abc"  # no pid in its name: whose it is cannot be told
    unknown.mkdir()
    (run,) = list_runs(tmp_path)
    assert run["status"] == "abandoned", run
    assert run["reason"].startswith(f"the process that ran it (pid {child.pid} on ")
    assert "resume='killed' continues it" in run["reason"]
    import pandas as pd

    # F-14: the finished trials stay as they are and are not evaluated again; a trial that was
    # running is run again; the time already spent counts toward the budget
    store = RunStore(run["path"])
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"  # P-02: killed mid-write
    finished = {t.trial_id: (t.config, t.score) for t in store.trials() if t.status == "ok"}
    cut = [t.config for t in store.trials() if t.status == "running"]
    spent = float(store.meta()["elapsed"])
    store.close()
    resumed = AutoML(time_budget=spent + 6, n_jobs=1, resume="killed", search_dir=tmp_path,
                     ensemble=False).fit(pd.read_csv(data), target="Class")
    by_id = {t.trial_id: t for t in resumed.trials_}
    assert {i: (by_id[i].config, by_id[i].score) for i in finished} == finished
    new = [t for t in resumed.trials_ if t.trial_id not in finished]
    assert all(any(t.config == c for t in new) for c in cut), (cut, [t.config for t in new])
    assert len(new) >= 1 and resumed.elapsed_ >= spent and resumed.elapsed_ <= (spent + 6) * 1.1
    (run,) = list_runs(tmp_path)
    assert run["status"] == "completed", run
    assert sorted(p.name for p in temp.iterdir()) == [unknown.name]  # the killed one's is gone


def _children(pid: int) -> list[int]:
    """The pids of the processes whose parent is ``pid`` (Linux /proc)."""
    from pathlib import Path

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_the_store_can_be_read_while_a_search_writes_it(tmp_path, titanic):
    """RELIABILITY P-05: %automl_history in another notebook polls the stores while a search
    commits its trials; WAL lets both go on ("database is locked" is what users of other
    tools meet)."""
    import threading

    from nbautoml.engine.store import stored_leaderboard

    errors, reads, done = [], [], threading.Event()

    def poll():
        while not done.is_set():
            try:
                runs = list_runs(tmp_path)
                if runs:
                    reads.append(len(stored_leaderboard(runs[0]["path"])))
            except Exception as exc:  # pragma: no cover - what the test is for
                errors.append(exc)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        result = AutoML(max_evals=12, time_budget=None, n_jobs=2, cv=2, search_dir=tmp_path, ensemble=False,
                        models=["logistic_regression", "decision_tree"]).fit(titanic, target="Survived")
    finally:
        done.set()
        reader.join(timeout=30)
    assert errors == [] and len(reads) > 10, (errors[:3], len(reads))
    assert reads == sorted(reads) and reads[-1] <= len(result.trials_)  # the board only grows
