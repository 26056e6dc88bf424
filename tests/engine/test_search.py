"""The search on real data: results, API, budgets, faults, resume, reproducibility."""

import re
import sqlite3
import time

import numpy as np
import pandas as pd
import pytest
from hyperopt import hp
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from nbautoml import AutoML
from nbautoml.engine.store import RunStore
from nbautoml.exceptions import ConfigError, NotFittedError, SearchFailedError
from tests.conftest import load_dataset

FAULTY = "tests.engine.faulty"


def custom_space(*families):
    """A hyperopt space over test estimators given as (class name, params)."""
    return hp.choice("family", [{"family": f"{FAULTY}:{name}", "params": params} for name, params in families])


@pytest.fixture(scope="module")
def titanic_result(datasets_dir):
    df = pd.read_csv(datasets_dir / "titanic.csv")
    events = []
    result = AutoML(max_evals=6, time_budget=None, seed=0, callbacks=[events.append]).fit(df, target="Survived")
    return df, result, events


def test_titanic_end_to_end(titanic_result):
    df, result, _ = titanic_result
    board = result.leaderboard
    assert list(board.columns[:6]) == ["rank", "trial", "model", "pipeline", "score", "score_std"]
    assert len(board) == 6 and board["rank"].iloc[0] == 1
    assert board["score"].iloc[0] == pytest.approx(result.best_score_)
    assert 0.80 < result.best_score_ < 0.95  # ROC AUC, stratified 5-fold
    assert isinstance(result.best_pipeline, Pipeline)
    assert set(result.predict(df.head(20))) <= {0, 1}
    proba = result.predict_proba(df.head(20))
    assert proba.shape == (20, 2) and np.allclose(proba.sum(axis=1), 1)
    assert 0.8 < result.score(df) <= 1.0
    assert set(result.plan_.dropped) == {"PassengerId", "Name"}
    assert "PassengerId" in repr(result)


def test_events_are_emitted_in_order_and_engine_prints_nothing(titanic_result, capsys):
    _, result, events = titanic_result
    kinds = [e.kind for e in events]
    assert kinds[0] == "search_started" and kinds[-1] == "search_finished"
    assert kinds.count("trial_started") == kinds.count("trial_finished") == 6
    assert kinds.count("new_best") >= 1
    assert events[-1]["result"] is result
    assert capsys.readouterr().out == ""


def test_trials_are_durable_in_the_search_directory(titanic_result):
    _, result, _ = titanic_result
    stored = RunStore(result.run_dir_).trials()
    assert [t.trial_id for t in stored] == [t.trial_id for t in result.trials_]
    assert {t.status for t in stored} == {"ok"}


def test_string_labels_come_back_from_predict(datasets_dir):
    df, target, _ = load_dataset("income", rows=1500)
    result = AutoML(max_evals=2, time_budget=None, models=["logistic_regression"]).fit(df, target=target)
    assert set(result.predict(df.head(50))) <= set(df[target].unique())
    assert list(result.classes_) == sorted(df[target].unique())


def test_fit_X_y_arrays_and_regression(datasets_dir):
    df, target, _ = load_dataset("concrete")
    X, y = df.drop(columns=[target]).to_numpy(), df[target].to_numpy()
    result = AutoML(max_evals=3, time_budget=None, models=["ridge", "random_forest"]).fit(X, y)
    assert result.task_ == "regression" and result.metric_ == "r2"
    assert result.predict(X[:5]).shape == (5,)
    assert result.best_score_ > 0.5


def test_sklearn_api_clone_params_cross_val_and_pipeline(datasets_dir):
    from sklearn.model_selection import cross_val_score
    from sklearn.preprocessing import StandardScaler

    df, target, _ = load_dataset("blood")
    X, y = df.drop(columns=[target]), df[target]
    automl = AutoML(max_evals=2, time_budget=None, models=["logistic_regression"], seed=1)
    assert clone(automl).get_params() == automl.get_params()
    assert automl.set_params(max_evals=1) is automl and automl.max_evals == 1
    scores = cross_val_score(automl, X, y, cv=2)
    assert len(scores) == 2 and np.all(scores > 0.5)
    pipe = Pipeline([("scale", StandardScaler()), ("automl", AutoML(max_evals=1, time_budget=None))])
    pipe.fit(X, y)
    assert pipe.predict(X.head(3)).shape == (3,)
    # iris as stored is sorted by class: plain 3-fold would hold out one class per fold; a task
    # that names classification makes AutoML a classifier for scikit-learn, so the folds stratify
    iris, target, _ = load_dataset("iris")
    assert iris[target].is_monotonic_increasing
    Xi, yi = iris.drop(columns=[target]), iris[target]
    scores = cross_val_score(AutoML(task="multiclass", max_evals=1, time_budget=None,
                                    models=["logistic_regression"]), Xi, yi, cv=3)
    assert np.all(scores > 0.85), scores


def test_max_evals_and_reproducibility(datasets_dir):
    df = pd.read_csv(datasets_dir / "diabetes.csv")
    # the documented recipe for a search that repeats exactly: max_evals (no time budget)
    kw = dict(max_evals=12, time_budget=None, seed=3, n_default_points=2, n_jobs=1,
              models=["logistic_regression", "decision_tree", "knn"])
    a = AutoML(**kw).fit(df, target="Class variable")
    b = AutoML(**kw).fit(df, target="Class variable")
    assert len(a.trials_) == 12
    cols = ["trial", "pipeline", "score"]
    pd.testing.assert_frame_equal(a.leaderboard[cols], b.leaderboard[cols])
    assert {t.source for t in a.trials_} == {"default", "tpe"}


def test_a_search_without_time_budget_runs_the_same_trials_whatever_order_they_end_in(titanic):
    """Two workers. In the second run the trials with C below 0.1 sleep in each fit, so trials
    end in another order; trial k still learns from trials 0 .. k-4 only, and TPE (from trial
    12) suggests the same configs: the same leaderboard."""

    def search(slow_below):
        space = custom_space(("SlowLogistic", {"C": hp.loguniform("C", -7, 5), "slow_below": slow_below,
                                               "seconds": 0.4}))
        return AutoML(space=space, max_evals=18, time_budget=None, seed=0, cv=2, n_jobs=2,
                      ensemble=False).fit(titanic, target="Survived")

    fast, slow = search(0.0), search(0.1)
    order = sorted(slow.trials_, key=lambda t: t.finished)
    assert [t.trial_id for t in order] != sorted(t.trial_id for t in order)  # they did end out of order
    assert [t.config["params"]["C"] for t in fast.trials_] == [t.config["params"]["C"] for t in slow.trials_]
    assert [t.score for t in fast.trials_] == [t.score for t in slow.trials_]
    assert {t.source for t in slow.trials_} == {"tpe"} and len(slow.trials_) == 18


def test_one_two_or_four_workers_run_the_same_search_without_a_time_budget():
    """The built-in space on diabetes (starting points, then TPE from trial 12): with 1, 2 and
    4 workers, the same trials with the same scores (the race is replayed in test_race.py).
    When trial k learned from trials 0 .. k - n_jobs, 2 of the 18 trials differed between 1
    and 2 workers."""
    df, target, _ = load_dataset("diabetes")
    models = ["logistic_regression", "ridge", "knn", "decision_tree"]
    runs = {n_jobs: AutoML(max_evals=18, time_budget=None, seed=0, cv=3, n_jobs=n_jobs, ensemble=False,
                           models=models).fit(df, target=target) for n_jobs in (1, 2, 4)}
    trials = {n_jobs: [(t.config, t.score) for t in result.trials_] for n_jobs, result in runs.items()}
    assert trials[1] == trials[2] == trials[4]
    assert {t.source for t in runs[1].trials_} == {"default", "tpe"} and runs[4].n_jobs_ == 4
    assert {t.family for t in runs[1].trials_} == set(models)


def test_time_budget_is_held_within_ten_percent(datasets_dir):
    df, target, _ = load_dataset("credit", rows=6000)
    started = time.perf_counter()
    result = AutoML(time_budget=8, seed=0).fit(df, target=target)
    wall = time.perf_counter() - started
    assert wall <= 8 * 1.1, wall
    assert result.best_pipeline is not None and "time_budget" in result.stop_reason_


@pytest.mark.parametrize("estimator", ["Sleeper", "CLoop"])
def test_trial_timeout_stops_a_hung_fit_and_the_search_goes_on(titanic, estimator):
    space = custom_space((estimator, {}), ("Prior", {"tag": hp.choice("tag", [0, 1, 2])}))
    warm = [{"family": f"{FAULTY}:{estimator}", "params": {}}, {"family": f"{FAULTY}:Prior", "params": {"tag": 0}}]
    started = time.perf_counter()
    result = AutoML(space=space, warm_start=warm, max_evals=2, time_budget=None, trial_timeout=1.5,
                    cv=2).fit(titanic, target="Survived")
    wall = time.perf_counter() - started
    first, second = result.trials_[0], result.trials_[1]
    assert first.status == "timeout" and "trial_timeout=1.5s" in first.error
    assert second.status == "ok"
    assert wall < 1.5 + 5


def test_a_trial_whose_folds_say_it_cannot_end_before_its_trial_timeout_is_stopped_then(titanic):
    """1 s a fit over 5 folds is 5 s against trial_timeout=4: stopped after its second fold (at
    about 2 s, not at 4 s; the first fold's pace is not read: it also pays a fresh worker's
    imports); a trial whose pace fits (0.1 s a fit) runs all its folds."""
    space = custom_space(("Sleeper", {"seconds": hp.choice("seconds", [1.0, 0.1])}))
    warm = [{"family": f"{FAULTY}:Prior", "params": {}}] + [
        {"family": f"{FAULTY}:Sleeper", "params": {"seconds": seconds}} for seconds in (1.0, 0.1)]
    result = AutoML(space=space, warm_start=warm, max_evals=3, time_budget=None, trial_timeout=4, cv=5,
                    n_jobs=1, ensemble=False).fit(titanic, target="Survived")
    first, slow, fast = result.trials_
    assert first.status == "ok"
    assert slow.status == "timeout", slow.error
    assert re.fullmatch(r"stopped after fold 2 of 5 \(2\.\d s\): at that pace its 5 folds would take \d\.\d s "
                        r"and end \d\.\d s after trial_timeout=4s", slow.error), slow.error
    assert slow.wall_time < 3.0
    assert fast.status == "ok" and len(fast.fold_scores) == 5


def test_a_trial_whose_first_fold_says_it_cannot_end_even_if_its_folds_took_half_as_long_is_stopped_then(titanic):
    """1 s a fit over 5 folds against trial_timeout=2: even if the 4 folds left took half as long
    as the first (which also pays the first fit's warm-up), it would end at about 3 s: stopped
    after its first fold, at about 1 s, not at 2 s."""
    space = custom_space(("Sleeper", {"seconds": hp.choice("seconds", [1.0])}))
    warm = [{"family": f"{FAULTY}:Prior", "params": {}}, {"family": f"{FAULTY}:Sleeper", "params": {"seconds": 1.0}}]
    result = AutoML(space=space, warm_start=warm, max_evals=2, time_budget=None, trial_timeout=2, cv=5,
                    n_jobs=1, ensemble=False).fit(titanic, target="Survived")
    first, slow = result.trials_
    assert first.status == "ok"
    assert slow.status == "timeout", slow.error
    assert re.fullmatch(r"stopped after fold 1 of 5 \(1\.\d s\): even if each fold left took half its time, "
                        r"its 5 folds would take 3\.\d s and end 1\.\d s after trial_timeout=2s", slow.error), slow.error
    assert slow.wall_time < 1.8


def test_a_trial_whose_first_fold_was_slow_from_warm_up_only_runs_its_folds(titanic):
    """A first fold of 1 s, then folds of 0.1 s, against trial_timeout=4: at the first fold's
    full pace the trial would take 5 s and be stopped; at half of it 3 s, so it runs on and
    ends in about 1.5 s (fails with ``FIRST_FOLD_SHARE = 1``)."""
    warm = [{"family": f"{FAULTY}:Prior", "params": {}}, {"family": f"{FAULTY}:WarmUp", "params": {}}]
    space = custom_space(("WarmUp", {"first": hp.choice("first", [1.0])}))
    result = AutoML(space=space, warm_start=warm, max_evals=2, time_budget=None, trial_timeout=4, cv=5,
                    n_jobs=1, ensemble=False).fit(titanic, target="Survived")
    first, warmed = result.trials_
    assert first.status == "ok"
    assert warmed.status == "ok" and len(warmed.fold_scores) == 5, warmed.error
    assert warmed.wall_time < 3.0


def test_a_trial_that_cannot_end_before_the_budget_does_leaves_its_worker_to_trials_that_can(titanic):
    """With 5 s of budget, a trial of 5 folds of 1 s each would be stopped at the end of the budget
    with its work thrown away; its folds say so, and its worker runs other trials."""
    sleeper = {"family": f"{FAULTY}:Sleeper", "params": {"seconds": 1.0}}
    prior = {"family": f"{FAULTY}:Prior", "params": {"tag": hp.choice("tag", [0, 1, 2])}}
    result = AutoML(space=hp.choice("family", [prior]), warm_start=[{**prior, "params": {"tag": 0}}, sleeper],
                    time_budget=5, cv=5, n_jobs=1, ensemble=False).fit(titanic.head(300), target="Survived")
    first, slow, after = result.trials_[0], result.trials_[1], result.trials_[2:]
    assert first.status == "ok"
    assert slow.status == "timeout" and slow.wall_time < 3.0, slow.error
    assert re.fullmatch(r"stopped after fold 2 of 5 \(2\.\d s\): at that pace its 5 folds would take \d\.\d s "
                        r"and end \d\.\d s after the end of the time budget", slow.error), slow.error
    assert sum(t.status == "ok" for t in after) >= 3
    assert after[0].started < slow.started + 3.0  # on the worker the slow trial left


def test_no_trial_is_stopped_at_its_pace_before_one_has_finished(titanic):
    """Until a trial has finished, a trial stopped early could have been the search's only
    result (its first folds may be slow for reasons that pass): the first trial, 1 s a fit over
    5 folds in a 3 s budget, runs to the end of the budget, and no other trial starts."""
    sleeper = {"family": f"{FAULTY}:Sleeper", "params": {"seconds": 1.0}}
    prior = {"family": f"{FAULTY}:Prior", "params": {"tag": hp.choice("tag", [0, 1, 2])}}
    with pytest.raises(SearchFailedError, match=re.escape("No trial finished within time_budget=3s (1 stopped")):
        AutoML(space=hp.choice("family", [prior]), warm_start=[sleeper], time_budget=3, cv=5, n_jobs=1,
               ensemble=False).fit(titanic.head(300), target="Survived")


def test_failing_and_crashing_trials_are_recorded(titanic):
    """RELIABILITY F-01 to F-03 and F-07, F-08: raising in fit or in predict, NaN predictions, a
    native crash and a killed worker are each a recorded trial, never ranked; the search goes on."""
    names = ("Raiser", "SelfKill", "Prior", "PredictRaiser", "NaNPredictor", "Aborter")
    space = custom_space(*((name, {}) for name in names))
    warm = [{"family": f"{FAULTY}:{n}", "params": {}} for n in names]
    started = time.perf_counter()
    result = AutoML(space=space, warm_start=warm, max_evals=len(names), time_budget=None, trial_timeout=None,
                    cv=2, n_jobs=1, ensemble=False).fit(titanic, target="Survived")
    assert time.perf_counter() - started < 20
    raised, crashed, ok, predict_raised, nan, aborted = result.trials_
    assert raised.status == "failed" and "RuntimeError: deliberate failure" in raised.error
    assert crashed.status == "crashed" and "SIGKILL" in crashed.error
    # seen when the pipe closes, with no trial timeout to wait for (SelfKill would sleep 10 s more)
    assert max(t.finished - t.started for t in (crashed, aborted)) < 1.5, [(t.started, t.finished) for t in result.trials_]
    assert predict_raised.status == "failed" and "deliberate predict failure" in predict_raised.error
    assert nan.status == "failed" and "NaN" in nan.error, nan.error
    assert aborted.status == "crashed" and "SIGABRT" in aborted.error, aborted.error
    assert ok.status == "ok" and result.best_trial_ is ok
    assert list(result.leaderboard.dropna(subset=["score"])["trial"]) == [ok.trial_id]
    from nbautoml.render.text import result_board_text

    header, *rows = result_board_text(result).splitlines()
    assert [row.split()[0] for row in rows] == ["1", "-", "-", "-", "-", "-"]  # unscored trials have no rank
    assert "error" in header and "<NA>" not in "".join(rows) and "0.00 " not in "".join(rows[1:])
    starts = {row.index(text) for row, text in zip(rows[1:], ("RuntimeError", "the worker"))}
    assert len(starts) == 1  # errors are left-aligned in their column


def test_all_trials_failing_names_the_most_common_failure(titanic):
    space = custom_space(("Raiser", {"message": hp.choice("m", ["boom"])}))
    with pytest.raises(SearchFailedError, match="All 3 trials failed.*RuntimeError: boom") as info:
        AutoML(space=space, max_evals=3, time_budget=None, cv=2).fit(titanic, target="Survived")
    assert info.value.code == "all_trials_failed"


def test_a_time_budget_shorter_than_any_trial_is_an_error_that_says_so(titanic):
    """RELIABILITY A-07: never a silent dummy model; the error names the budget and what to try."""
    space = custom_space(("Sleeper", {"seconds": 30.0}))
    started = time.perf_counter()
    with pytest.raises(SearchFailedError, match=r"No trial finished within time_budget=2s \(\d+ stopped at the end of "
                                                r"the budget\). Give a larger time_budget, or try faster models") as info:
        AutoML(space=space, time_budget=2, cv=2, n_jobs=1).fit(titanic, target="Survived")
    assert info.value.code == "budget_too_small" and time.perf_counter() - started < 2 * 1.1 + 2


def test_keyboard_interrupt_keeps_the_best_so_far(titanic):
    def stop_after_three(event):
        if event.kind == "trial_finished" and event["n_done"] == 3:
            raise KeyboardInterrupt

    result = AutoML(max_evals=20, time_budget=None, callbacks=[stop_after_three], n_jobs=1,
                    models=["logistic_regression", "ridge"]).fit(titanic, target="Survived")
    assert result.status_ == "interrupted"
    assert len([t for t in result.trials_ if t.status == "ok"]) == 3
    assert result.predict(titanic.head(3)).shape == (3,)


def test_an_interrupt_before_any_trial_finished_leaves_a_result_that_says_how_to_resume(titanic, tmp_path):
    """RELIABILITY F-12: no trial finished, so no model; what the result is asked for says why and
    names the search to resume (predict and refit said "Call .refit()", and refit raised AttributeError)."""
    def stop_at_once(event):
        if event.kind == "trial_started":
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="interrupted before any trial finished"):
        result = AutoML(max_evals=5, time_budget=None, callbacks=[stop_at_once], n_jobs=1, search_dir=tmp_path,
                        models=["logistic_regression"]).fit(titanic, target="Survived")
    assert result.status_ == "interrupted" and [t.status for t in result.trials_] == ["interrupted"]
    assert "pipeline: none (no trial finished)" in repr(result)
    for call in (lambda: result.predict(titanic.head(3)), result.refit):
        with pytest.raises(NotFittedError, match=f"before any trial finished.*resume='{result.run_dir_.name}'"):
            call()
    resumed = AutoML(max_evals=2, time_budget=None, n_jobs=1, search_dir=tmp_path, resume=result.run_dir_.name,
                     models=["logistic_regression"]).fit(titanic, target="Survived")
    assert resumed.status_ == "completed" and resumed.predict(titanic.head(3)).shape == (3,)


def test_an_interrupt_keeps_a_trial_that_ended_while_an_earlier_one_ran(titanic):
    """Without a time budget results are taken in trial order: trial 1 ends first and waits
    for trial 0. Stopped when trial 0 ends, the search still records trial 1's result."""
    space = custom_space(("SlowLogistic", {"C": hp.loguniform("C", -7, 5), "slow_below": 0.1, "seconds": 1.0}))
    warm = [{"family": f"{FAULTY}:SlowLogistic", "params": {"C": c, "slow_below": 0.1, "seconds": 1.0}}
            for c in (0.01, 1.0)]

    def stop_at_the_first(event):
        if event.kind == "trial_finished":
            raise KeyboardInterrupt

    result = AutoML(space=space, warm_start=warm, max_evals=2, time_budget=None, cv=2, n_jobs=2,
                    callbacks=[stop_at_the_first], ensemble=False).fit(titanic, target="Survived")
    slow, fast = result.trials_
    assert result.status_ == "interrupted"
    assert fast.finished < slow.finished  # it did end first
    assert (slow.status, fast.status) == ("ok", "ok") and fast.score > 0.8


def test_resume_keeps_finished_trials_and_reruns_the_in_flight_one(titanic, monkeypatch):
    def stop_at_trial_3(event):
        if event.kind == "trial_started" and event["trial"].trial_id == 3:
            raise KeyboardInterrupt

    # one trial at a time, so exactly one trial (3) is in flight when the search stops
    kw = dict(time_budget=None, models=["logistic_regression", "ridge", "decision_tree"], seed=5, name="resumable",
              n_jobs=1)
    first = AutoML(max_evals=6, callbacks=[stop_at_trial_3], **kw).fit(titanic, target="Survived")
    assert first.status_ == "interrupted"
    stored = {t.trial_id: t.status for t in RunStore(first.run_dir_).trials()}
    assert stored == {0: "ok", 1: "ok", 2: "ok", 3: "interrupted"}
    assert "  3 trials (and 1 cut short by the interrupt) in " in repr(first)  # as a resume counts them
    in_flight = RunStore(first.run_dir_).trials()[3].config
    import pickle

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a resume unpickled something")

    with monkeypatch.context() as patched:  # RELIABILITY S-13: what a resume reads is JSON, never a pickle
        patched.setattr(pickle, "load", no_unpickling)
        patched.setattr(pickle, "loads", no_unpickling)
        resumed = AutoML(max_evals=6, resume="resumable", **{k: v for k, v in kw.items() if k != "name"})
        resumed.fit(titanic, target="Survived")
    assert len(resumed.trials_) == 6
    assert [t.trial_id for t in resumed.trials_[:3]] == [0, 1, 2]
    assert resumed.trials_[3].config == in_flight and resumed.trials_[3].source == "resume"
    assert {t.status for t in resumed.trials_} == {"ok"}
    y, oof = resumed.oof_predictions(trial=0)  # a trial of the earlier session: recomputed
    assert oof.shape == (len(y), 2) and np.allclose(oof.sum(axis=1), 1)
    with pytest.raises(Exception, match="differs"):
        AutoML(max_evals=7, resume="resumable", time_budget=None).fit(titanic.head(500), target="Survived")


def test_each_trial_is_in_the_store_for_another_connection_when_it_is_reported(titanic, tmp_path):
    """RELIABILITY P-01: committed before ``trial_finished``, so a reader in another process (or a
    resume after ``kill -9`` at that moment) sees every trial reported so far with its score (a
    started trial's row says ``running``)."""
    seen = []

    def read_the_store(event):
        if event.kind == "trial_finished":
            with sqlite3.connect(tmp_path / "durable" / "search.sqlite") as reader:
                rows = reader.execute("SELECT trial_id, status, score FROM trials WHERE status != 'running'")
                seen.append(sorted(row[0] for row in rows if row[1] == "ok" and row[2] is not None))

    AutoML(max_evals=4, time_budget=None, n_jobs=2, models=["logistic_regression"], cv=2, search_dir=tmp_path,
           name="durable", callbacks=[read_the_store], ensemble=False).fit(titanic, target="Survived")
    assert seen == [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3]]


def test_resume_without_its_models_places_the_stored_trials_in_the_new_space(titanic):
    """A search cut short and resumed without its models= searches every family; the stored
    hyperopt values index the first search's three families, so each stored config is placed
    in the new space again (audit F-15: re-running the in-flight trial raised hyperopt's
    AttributeError "'NoneType' object has no attribute 'integers'")."""
    def stop_at_trial_3(event):
        if event.kind == "trial_started" and event["trial"].trial_id == 3:
            raise KeyboardInterrupt

    kw = dict(time_budget=None, seed=5, n_jobs=1, ensemble=False)
    first = AutoML(max_evals=6, callbacks=[stop_at_trial_3], name="narrow", models=["logistic_regression", "decision_tree", "knn"],
                   **kw).fit(titanic, target="Survived")
    in_flight = RunStore(first.run_dir_).trials()[3].config
    resumed = AutoML(max_evals=6, resume="narrow", **kw).fit(titanic, target="Survived")
    assert [t.status for t in resumed.trials_] == ["ok"] * 6
    assert resumed.trials_[3].config == in_flight and resumed.trials_[3].source == "resume"
    assert [t.config for t in resumed.trials_[:3]] == [t.config for t in first.trials_[:3]]


def test_a_failing_final_refit_falls_back_to_the_next_best_trial(titanic):
    """A pipeline that fits in every fold but raises on all the rows costs the search nothing:
    the next-best trial is refit and the result says why (audit F-02: the raw error escaped
    fit); when every candidate fails, a SearchFailedError names each failure."""
    rows = 300
    breaks = {"family": f"{FAULTY}:RefitRaiser", "params": {"n_rows": rows}}
    works = {"family": f"{FAULTY}:Prior", "params": {"tag": 0}}
    kw = dict(max_evals=2, time_budget=None, n_jobs=1, cv=2, ensemble=False)
    with pytest.warns(UserWarning, match="the final refit failed for trial 0"):
        result = AutoML(space=hp.choice("family", [breaks, works]), warm_start=[breaks, works], **kw)
        result.fit(titanic.head(rows), target="Survived")
    assert [t.status for t in result.trials_] == ["ok", "ok"]
    assert result.best_trial_.trial_id == 1 and result.best_config_["family"].endswith("Prior")
    assert "deliberate failure on 300 rows" in result.refit_failures_[0]
    assert "refit trial 1" in result.preference_
    assert len(result.predict(titanic.head(5))) == 5
    with pytest.raises(SearchFailedError, match="final refit on all the rows failed") as caught:
        AutoML(space=hp.choice("family", [breaks]), warm_start=[breaks], **{**kw, "max_evals": 1}).fit(
            titanic.head(rows), target="Survived")
    assert caught.value.code == "refit_failed"


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_trial_timeout_counts_from_the_trial_not_the_workers_start_up(titanic, start_method):
    """A new spawn/forkserver worker takes 1-3 s to start (a new interpreter imports scikit-learn
    and unpickles the data); with trial_timeout=1 every trial was a timeout (audit F-17). The
    timeout counts from the worker's start of the trial, so a failing, a working and a crashing
    trial are recorded as under fork; an unpicklable config is a ConfigError."""
    warm = [{"family": f"{FAULTY}:Raiser", "params": {}}, {"family": f"{FAULTY}:Prior", "params": {"tag": 0}},
            {"family": f"{FAULTY}:SelfKill", "params": {}}, {"family": f"{FAULTY}:Prior", "params": {"tag": 1}}]
    result = AutoML(space=hp.choice("family", warm), warm_start=warm, max_evals=4, time_budget=None, n_jobs=1,
                    cv=2, ensemble=False, start_method=start_method, trial_timeout=1).fit(
        titanic.head(300), target="Survived")
    assert [t.status for t in result.trials_] == ["failed", "ok", "crashed", "ok"]
    unpicklable = {"family": f"{FAULTY}:Prior", "params": {"tag": lambda: 1}}
    with pytest.raises(ConfigError, match="cannot be sent to a worker process") as caught:
        AutoML(space=hp.choice("family", [unpicklable]), warm_start=[unpicklable], max_evals=1, time_budget=None,
               n_jobs=1, cv=2, start_method=start_method).fit(titanic.head(300), target="Survived")
    assert caught.value.code == "unpicklable_config"


def test_unknown_model_metric_and_mismatch_list_valid_values(titanic):
    with pytest.raises(ConfigError, match="Did you mean 'random_forest'.*Valid models"):
        AutoML(models=["random_forrest"], max_evals=1).fit(titanic, target="Survived")
    with pytest.raises(ConfigError, match="Did you mean 'roc_auc'"):
        AutoML(metric="roc_aus", max_evals=1).fit(titanic, target="Survived")
    with pytest.raises(ConfigError, match="does not fit a binary task.*Valid metrics for binary"):
        AutoML(metric="r2", max_evals=1).fit(titanic, target="Survived")
    with pytest.raises(ConfigError, match="time_budget.*Got -3"):
        AutoML(time_budget=-3).fit(titanic, target="Survived")


def test_a_metric_is_taken_in_any_case_and_by_scikit_learn_s_name(titanic, tmp_path):
    from nbautoml.engine.metrics import metric_name

    assert [metric_name(m) for m in ("ROC_AUC", "roc-auc", "AUC", "neg_log_loss", "AP", "F1",
                                     "neg_root_mean_squared_error", "auto", None)] == [
        "roc_auc", "roc_auc", "roc_auc", "log_loss", "average_precision", "f1", "rmse", "auto", None]
    result = AutoML(metric="neg_log_loss", max_evals=1, time_budget=None, models=["logistic_regression"],
                    search_dir=tmp_path).fit(titanic, target="Survived")
    assert result.metric_ == "log_loss" and result.best_score_ > 0  # a loss, lower is better
    with pytest.raises(ConfigError, match="The metric 'rmse' does not fit a binary task"):
        AutoML(metric="neg_root_mean_squared_error", max_evals=1).fit(titanic, target="Survived")
    # a binary metric on a multiclass target names the multiclass one that measures the same
    from nbautoml.engine.metrics import get_metric

    with pytest.raises(ConfigError, match=r"'f1' does not fit a multiclass task\. Did you mean 'f1_macro' \(the "
                       r"F1 of each class, averaged\)\? Valid metrics for multiclass: accuracy, "):
        get_metric("F1", "multiclass")
    with pytest.raises(ConfigError, match=r"Did you mean 'balanced_accuracy' \(the recall of each class"):
        get_metric("recall", "multiclass")
    with pytest.raises(ConfigError, match=r"'r2' does not fit a multiclass task\. Valid metrics"):
        get_metric("r2", "multiclass")


def test_validation_schemes(titanic):
    kw = dict(max_evals=1, time_budget=None, models=["logistic_regression"])
    assert AutoML(cv="holdout:0.3", **kw).fit(titanic, target="Survived").validation_.n_splits == 1
    # an int is stratified for classification, as in scikit-learn; "kfold:3" asks for plain k-fold
    assert AutoML(cv=3, **kw).fit(titanic, target="Survived").validation_.description == "stratified 3-fold"
    assert AutoML(cv="kfold:3", **kw).fit(titanic, target="Survived").validation_.description == "3-fold"
    ts = AutoML(cv="timeseries:4", **kw).fit(titanic, target="Survived").validation_
    assert ts.scheme == "timeseries" and ts.n_splits == 4
    groups = AutoML(cv="group:3", **kw).fit(titanic, target="Survived", groups="Pclass").validation_
    assert groups.scheme == "group"
    with pytest.raises(ConfigError, match="regression"):
        AutoML(cv="stratified", **kw).fit(titanic.drop(columns=["Survived"]), target="Fare")


def test_auto_validation_takes_a_holdout_when_the_data_is_large_for_the_budget(datasets_dir):
    from nbautoml.engine.validation import make_validation

    def scheme(n, p, budget, task="binary"):
        y = np.arange(n) % 2
        return make_validation("auto", task, y, y_for_checks=pd.Series(y), time_budget=budget,
                               n_features=p).description

    # bike: 13,034 rows x 14 columns = 182k cells, more than 5,000 per second of 10 or 30 s
    assert scheme(13_034, 14, 10, "regression") == "holdout: 20% of the rows (2607) for validation"
    assert scheme(13_034, 14, 60, "regression") == "3-fold"  # 182k cells < 300k at 60 s
    assert scheme(11_249, 9, 30) == "stratified 3-fold"  # employee at 30 s: 101k cells < 150k
    assert scheme(11_249, 9, 10).startswith("holdout")  # ... and at 10 s
    assert scheme(1_095, 80, 10, "regression") == "5-fold"  # house: too few rows for a holdout
    assert scheme(13_034, 14, None, "regression") == "3-fold"  # no time budget: k-fold below 50k rows
    assert scheme(60_000, 3, None).startswith("holdout")
    # end to end: 6,000 rows of credit (23 columns) with a 5 s budget validate on one holdout
    frame, target, _ = load_dataset("credit", rows=6000)
    result = AutoML(max_evals=1, time_budget=5, models=["logistic_regression"]).fit(frame, target=target)
    assert result.validation_.scheme == "holdout" and len(result.validation_.folds[0][1]) == 1200


@pytest.mark.slow
def test_no_leak_permuted_target_scores_at_chance(datasets_dir):
    df = pd.read_csv(datasets_dir / "diabetes.csv")
    df["Class variable"] = np.random.default_rng(0).permutation(df["Class variable"].to_numpy())
    result = AutoML(max_evals=6, time_budget=None, n_default_points=6, seed=0).fit(df, target="Class variable")
    assert abs(result.best_score_ - 0.5) < 0.08


def test_algorithms_random_and_anneal(titanic):
    for algo in ("random", "anneal"):
        result = AutoML(algo=algo, max_evals=3, n_default_points=1, time_budget=None,
                        models=["decision_tree"]).fit(titanic, target="Survived")
        assert [t.source for t in result.trials_] == ["default", algo, algo]


def test_predict_enforces_the_training_schema(titanic_result):
    df, result, _ = titanic_result
    new = df.head(5).assign(extra=1)
    new["Age"] = new["Age"].astype(str)
    with pytest.warns(UserWarning, match="Ignoring 1 column"):
        first = result.predict(new)
    assert "converted column 'Age'" in " ".join(result.last_input_report_.messages())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not on every call
        assert (result.predict(new) == first).all()
    with pytest.raises(Exception, match="lacks 1 column.*Sex"):
        result.predict(df.drop(columns=["Sex"]).head())


def test_a_fitted_search_predicts_records_as_a_loaded_model_does(titanic_result, tmp_path):
    """A record (dict), records, a dict of columns or a Series row: what a loaded model and the
    HTTP API take (a dict was an IndexError, records "Expected 11 columns, got 2")."""
    import nbautoml

    df, result, _ = titanic_result
    X = df.drop(columns="Survived").head(3)
    expected = result.predict(X)
    loaded = nbautoml.load(nbautoml.save(result, tmp_path / "t"))
    for model in (result, loaded):
        assert list(model.predict(X.iloc[0].to_dict())) == [expected[0]]
        assert list(model.predict(X.to_dict("records"))) == list(expected)
        assert list(model.predict(X.to_dict("list"))) == list(expected)
        assert list(model.predict(X.iloc[1])) == [expected[1]]
        with pytest.raises(Exception, match=r"lacks \d+ columns? the model needs: .*Fare"):
            model.predict_proba({"Pclass": 3, "Sex": "male", "Age": 22})
        with pytest.raises(Exception, match="An array of 3 columns cannot be matched to the model's input"):
            model.predict(X.to_numpy()[:, :3])


def test_an_unknown_trial_and_a_y_of_another_length_are_named(titanic_result):
    from nbautoml.exceptions import DataError

    df, result, _ = titanic_result
    ids = [t.trial_id for t in result.trials_]
    with pytest.raises(ConfigError, match=r"No trial 99; the trials of this search are ") as info:
        result.refit(trial=99)
    assert info.value.code == "unknown_trial" and str(ids[-1]) in str(info.value)
    with pytest.raises(ConfigError, match="No trial 99"):
        result.oof_predictions(trial=99)
    with pytest.raises(DataError, match="X has 891 rows but y has 5; they must match"):
        result.score(df.drop(columns="Survived"), df["Survived"].head(5))


def test_small_predictions_run_on_one_native_thread(titanic_result, monkeypatch):
    from threadpoolctl import threadpool_info

    from nbautoml.engine import automl as automl_mod

    titanic, result, _ = titanic_result
    seen = []
    pipeline = result.best_pipeline_
    original = type(pipeline).predict

    def spy(self, X, **kw):
        seen.append(max(p["num_threads"] for p in threadpool_info()))
        return original(self, X, **kw)

    monkeypatch.setattr(type(pipeline), "predict", spy)
    result.predict(titanic.head(100))
    monkeypatch.setattr(automl_mod, "SINGLE_THREAD_PREDICT_ROWS", 50)  # 100 rows are "many" now
    result.predict(titanic.head(100))
    assert seen[0] == 1 and seen[1] == max(p["num_threads"] for p in threadpool_info())


# --------------------------------------------------------------------------- n_jobs="auto"


def _overlapping_pairs(trials) -> int:
    spans = sorted((t.started, t.finished) for t in trials)
    return sum(1 for (s1, f1), (s2, _) in zip(spans, spans[1:]) if s2 < f1)


@pytest.mark.slow
def test_auto_jobs_runs_one_trial_per_cpu_on_small_data_and_one_at_a_time_on_large(datasets_dir, monkeypatch):
    from nbautoml.engine import workers

    blood = pd.read_csv(datasets_dir / "blood.csv")  # 748 rows x 4 columns
    parallel = AutoML(max_evals=6, time_budget=None, seed=0, ensemble=False).fit(blood, target="Class")
    assert parallel.n_jobs == "auto" and parallel.n_jobs_ == workers.cpu_count()
    if workers.cpu_count() > 1:
        assert _overlapping_pairs(parallel.trials_) >= 2  # trials really ran side by side
        assert f"6 trials in {parallel.elapsed_:.1f} s ({workers.cpu_count()} at a time)" in repr(parallel)
        assert f", {workers.cpu_count()} at a time" in parallel._repr_html_()

    # the same data counted as large: one trial at a time, none overlapping
    monkeypatch.setattr(workers, "PARALLEL_TRIALS_MAX_CELLS", blood.shape[0] * 3)
    serial = AutoML(max_evals=6, time_budget=None, seed=0, ensemble=False).fit(blood, target="Class")
    assert serial.n_jobs_ == 1 and _overlapping_pairs(serial.trials_) == 0
    assert "at a time" not in repr(serial) and "at a time" not in serial._repr_html_()
    # the first trials are the same default points either way, so the best one is too
    assert serial.best_score_ == pytest.approx(parallel.best_score_)


def test_auto_jobs_without_a_time_budget_run_at_most_four_trials_at_a_time(datasets_dir, monkeypatch):
    """On a machine with 8 CPUs "auto" runs 4 trials at a time without a time budget (the most
    that run the same search as one), 8 with one; a number given is taken as it is."""
    from nbautoml.engine import workers

    monkeypatch.setattr(workers, "cpu_count", lambda: 8)
    assert workers.resolve_n_jobs("auto", 100) == 8 and workers.resolve_n_jobs(6, 100, auto_cap=4) == 6
    blood = pd.read_csv(datasets_dir / "blood.csv")
    result = AutoML(max_evals=1, time_budget=None, seed=0, ensemble=False, models=["logistic_regression"])
    assert result.fit(blood, target="Class").n_jobs_ == 4


def test_the_magics_copy_of_the_n_jobs_values_matches_the_engine():
    from nbautoml.engine.workers import N_JOBS_VALUES
    from nbautoml.magics.parsing import jobs_int

    assert jobs_int.expected == N_JOBS_VALUES  # copied: the magics' parser imports no engine at load


def test_resolve_n_jobs():
    from nbautoml.engine.workers import PARALLEL_TRIALS_MAX_CELLS, cpu_count, resolve_n_jobs

    assert resolve_n_jobs("auto", PARALLEL_TRIALS_MAX_CELLS) == cpu_count()
    assert resolve_n_jobs("auto", PARALLEL_TRIALS_MAX_CELLS + 1) == 1
    assert resolve_n_jobs(-1, 10**9) == cpu_count() and resolve_n_jobs(3, 10) == 3


@pytest.mark.parametrize("bad", [0, -2, "many", True, 1.5])
def test_bad_n_jobs_is_named(bad):
    frame = pd.DataFrame({"x": range(20), "y": [0, 1] * 10})
    with pytest.raises(ConfigError, match=r"n_jobs must be a positive int, -1 \(one per CPU\) or 'auto'"):
        AutoML(n_jobs=bad, max_evals=1).fit(frame, target="y")


def _search_with_starting_points(families, elapsed, finished=(), budget=None):
    """A Search over the built-in space whose queue holds the families' starting points,
    ``elapsed`` seconds into ``budget`` (default: 10 s), with ``finished`` (family, wall
    seconds) trials."""
    from nbautoml.engine.metrics import get_metric
    from nbautoml.engine.records import TrialRecord
    from nbautoml.engine.search import Budget, Search
    from nbautoml.engine.space import build_space, default_points, vals_from_config

    points = [(vals_from_config(c, families, False, False), c)
              for c in default_points(families, False, False, 10)]
    search = Search(build_space(families, False, False), None, get_metric("accuracy", "binary"),
                    budget or Budget(time_budget=10.0), points=points, families=families)
    search._t0 = time.perf_counter() - elapsed
    for i, (family, seconds) in enumerate(finished):
        search.state.trials.append(TrialRecord(trial_id=100 + i, config={"family": family}, status="ok",
                                               score=0.8, wall_time=seconds))
    return search


def test_a_starting_point_that_cannot_finish_before_the_deadline_is_skipped():
    families = ["hist_gradient_boosting", "knn"]
    # 5 s left; boosting's finished trial took 6 s: its starting point would be stopped at
    # the deadline, so the worker gets the k-NN point
    late = _search_with_starting_points(families, elapsed=5.0, finished=[("hist_gradient_boosting", 6.0)])
    assert [c["family"] for _, c, _ in late.queue] == ["hist_gradient_boosting"] * 3 + ["knn"]
    assert late._ask()[2]["family"] == "knn"
    assert not late.queue
    # with 8 s left it starts, and so does any family with no finished trial yet
    early = _search_with_starting_points(families, elapsed=2.0, finished=[("hist_gradient_boosting", 6.0)])
    assert early._ask()[2]["family"] == "hist_gradient_boosting"
    unknown = _search_with_starting_points(families, elapsed=9.0)
    assert unknown._ask()[2]["family"] == "hist_gradient_boosting"
    # without a time budget nothing is skipped
    from nbautoml.engine.search import Budget

    unbounded = _search_with_starting_points(families, elapsed=5.0, finished=[("hist_gradient_boosting", 60.0)],
                                             budget=Budget(max_evals=5))
    assert unbounded._ask()[2]["family"] == "hist_gradient_boosting"


def test_two_searches_in_threads_never_trade_data(tmp_path, monkeypatch):
    """Two searches run at once from two threads of one process (two cells run at once) each
    evaluate their own data. Each fork is delayed (as on a loaded machine), so a worker forked
    for one search starts after the other search has set up its own workers."""
    import multiprocessing.context as mp_context
    import threading

    iris, iris_target, _ = load_dataset("iris")
    concrete, concrete_target, _ = load_dataset("concrete", rows=300)
    options = dict(max_evals=2, time_budget=None, n_jobs=1, seed=0, ensemble=False,
                   models=["decision_tree", "knn"], search_dir=tmp_path)
    alone = {name: [t.score for t in AutoML(**options).fit(frame, target=target).trials_]
             for name, frame, target in (("iris", iris, iris_target), ("concrete", concrete, concrete_target))}
    fork = mp_context.ForkProcess._Popen

    def slow_fork(process):
        time.sleep(0.3)
        return fork(process)

    monkeypatch.setattr(mp_context.ForkProcess, "_Popen", staticmethod(slow_fork))
    together = {}

    def search(name, frame, target):
        together[name] = [t.score for t in AutoML(**options).fit(frame, target=target).trials_]

    threads = [threading.Thread(target=search, args=("iris", iris, iris_target)),
               threading.Thread(target=search, args=("concrete", concrete, concrete_target))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert together == alone


def test_a_fitted_result_as_warm_start_gives_its_best_configs_first(datasets_dir):
    # warm_start=<fitted AutoML> and force_resume share one ranking (_best_configs): the
    # finished trials, best score first
    import pandas as pd

    blood = pd.read_csv(datasets_dir / "blood.csv")
    kw = dict(time_budget=None, n_jobs=1, ensemble=False, models=["logistic_regression", "decision_tree"])
    first = AutoML(max_evals=4, **kw).fit(blood, target="Class")
    ranked = sorted((t for t in first.trials_ if t.status == "ok"), key=lambda t: -t.score)
    second = AutoML(max_evals=len(ranked), warm_start=first, n_default_points=0, **kw).fit(blood, target="Class")
    assert [t.config for t in second.trials_] == [t.config for t in ranked]
