"""The family race: families far behind the best one stop getting trials."""

from __future__ import annotations

import pytest

from nbautoml import AutoML
from nbautoml.engine.race import FamilyRace, score_error
from nbautoml.engine.records import TrialRecord
from nbautoml.engine.search import IN_ORDER_LAG
from tests.conftest import load_dataset


def _trial(trial_id, family, score=None, status="ok"):
    return TrialRecord(trial_id=trial_id, config={"family": family, "params": {}, "pre": {}},
                       status=status, score=score)


def test_a_family_leaves_when_its_error_is_far_behind_and_sooner_the_further_behind():
    race = FamilyRace(greater_is_better=True)
    best = _trial(0, "hgb", 0.95)  # error 0.05
    # one trial: the limit is 3 x 0.05 + 0.01 = 0.16 (score 0.84)
    race.update([best, _trial(1, "forest", 0.85), _trial(2, "ridge", 0.83)], "r2")
    assert race.allows("hgb") and race.allows("forest") and not race.allows("ridge")
    assert race.left["ridge"] == "best r2 0.83 in 1 trial, when hgb had 0.95"
    # two trials: the limit is 2 x 0.05 + 0.01 = 0.11 (score 0.89)
    race.update([best, _trial(1, "forest", 0.85), _trial(3, "forest", 0.88)], "r2")
    assert not race.allows("forest")
    # four trials within 1.5 x 0.05 + 0.01 stay
    race = FamilyRace(greater_is_better=True)
    race.update([best] + [_trial(i, "forest", 0.92) for i in range(1, 5)], "r2")
    assert race.allows("forest") and race.left == {}


def test_running_and_failed_trials_and_lower_is_better_metrics():
    race = FamilyRace(greater_is_better=False)  # a loss: the ideal is 0
    trials = [_trial(0, "hgb", 0.30), _trial(1, "mlp", status="running"), _trial(2, "svm", status="failed"),
              _trial(3, "knn", 0.95)]
    race.update(trials, "log_loss")
    assert race.allows("mlp") and race.allows("svm")  # nothing finished / only one failure yet
    assert not race.allows("knn")  # 0.95 > 3 x 0.30 + 0.01
    race.update(trials + [_trial(4, "svm", status="timeout")], "log_loss")
    assert race.left["svm"] == "its first 2 trials failed"
    assert score_error(0.30, False) == pytest.approx(0.30) and score_error(0.9, True) == pytest.approx(0.1)
    off = FamilyRace(greater_is_better=False, enabled=False)
    off.update(trials + [_trial(4, "svm", status="timeout")], "log_loss")
    assert off.left == {}


def _replay(result, lag=IN_ORDER_LAG):
    """Replay the race of a search without a time budget, whose trial k starts once the race has
    seen trials 0 .. k - lag: no trial of a family starts after it left, default points included."""
    race = FamilyRace(result.greater_is_better_)
    trials = result.trials_
    for k, trial in enumerate(trials):
        race.update(trials[:max(0, k - lag + 1)], result.metric_)
        assert race.allows(trial.family), (k, trial.family, trial.source, race.left)
    race.update(trials, result.metric_)
    return race.left


@pytest.fixture(scope="module")
def bike():
    frame, target, _ = load_dataset("bike", rows=800, seed=1)
    return frame, target


@pytest.mark.slow
def test_the_search_stops_trying_families_far_behind_on_real_data(bike):
    """bike (800 rows): linear models and k-NN score far below boosting; out of the race,
    they get fewer trials than TPE gives them without it."""
    frame, target = bike
    kw = dict(time_budget=None, max_evals=16, seed=0, cv=3, n_default_points=3, n_jobs=1,  # for _replay
              models=["hist_gradient_boosting", "ridge", "lasso", "knn", "decision_tree"])
    raced = AutoML(**kw).fit(frame, target=target)
    left = raced.families_left_
    assert {"ridge", "lasso"} <= set(left), left
    assert "hist_gradient_boosting" not in left
    assert _replay(raced) == left
    assert raced.summary()["families_left"] == left
    assert "left the search early" in repr(raced)
    assert "Left early" in raced._repr_html_() and "<code>ridge</code> (best r2" in raced._repr_html_()

    unraced = AutoML(prune_families=False, **kw).fit(frame, target=target)
    assert unraced.families_left_ == {}
    n_raced = sum(t.family in left for t in raced.trials_)
    n_unraced = sum(t.family in left for t in unraced.trials_)
    assert n_raced < n_unraced, (n_raced, n_unraced)
    # the trials saved went to the families still in the race, and the search did not get worse
    assert raced.best_score_ >= unraced.best_score_ - 0.005


@pytest.mark.slow
def test_a_waiting_starting_point_of_a_family_that_left_is_skipped():
    """employee (1,500 rows): logistic regression (AUC ~0.82) leaves after the first boosting
    trial (~0.98); its second starting point, queued seventh, is not run (trial 6 starts once
    the race has seen trials 0 .. 2)."""
    frame, target, _ = load_dataset("employee", rows=1500, seed=0)
    kw = dict(time_budget=None, max_evals=8, seed=0, cv=3, n_default_points=7, n_jobs=1,
              models=["logistic_regression", "hist_gradient_boosting", "random_forest", "extra_trees"])
    result = AutoML(**kw).fit(frame, target=target)
    assert "logistic_regression" in result.families_left_
    assert [t.family for t in result.trials_].count("logistic_regression") == 1
    assert _replay(result) == result.families_left_
    assert len(result.trials_) == 8  # the skipped point's place went to another trial
    assert [t.source for t in result.trials_[:6]] == ["default"] * 6 and result.trials_[6].source != "default"


@pytest.mark.slow
def test_a_resumed_search_keeps_the_families_that_left_out(bike):
    frame, target = bike
    # one trial at a time: which trials run before a family leaves must not depend on timing
    kw = dict(time_budget=None, seed=0, cv=3, n_default_points=4, n_jobs=1,
              models=["hist_gradient_boosting", "ridge", "lasso", "knn"])
    first = AutoML(max_evals=8, name="raced", **kw).fit(frame, target=target)
    assert first.families_left_
    before = {f: sum(t.family == f for t in first.trials_) for f in first.families_left_}
    resumed = AutoML(max_evals=14, resume="raced", **kw).fit(frame, target=target)
    assert len(resumed.trials_) == 14
    # the starting points ran in the first session only (four, the ridge's plain twin and the
    # boosting's twin on the log of the target)
    assert sum(t.source == "default" for t in resumed.trials_) == 6
    assert set(first.families_left_) <= set(resumed.families_left_)
    after = {f: sum(t.family == f for t in resumed.trials_) for f in first.families_left_}
    assert after == before  # no new trial of a family that had left
    assert len({t.trial_id for t in resumed.trials_}) == 14


@pytest.mark.slow
def test_the_race_with_parallel_trials(bike):
    """Two workers: a family can leave while trials run; the rebuilt history keeps the
    running trials and the search ends with every trial recorded once."""
    frame, target = bike
    result = AutoML(time_budget=None, max_evals=12, seed=0, cv=3, n_jobs=2, n_default_points=4,
                    models=["hist_gradient_boosting", "ridge", "lasso", "knn"]).fit(frame, target=target)
    assert {"ridge", "lasso"} <= set(result.families_left_)
    assert sorted(t.trial_id for t in result.trials_) == list(range(12))
    assert {t.status for t in result.trials_} == {"ok"}
    # whichever trial ended first, trial k started once the race had seen trials 0 .. k - 4
    assert _replay(result) == result.families_left_


def test_tpe_does_not_start_at_random_again_when_a_family_leaves(monkeypatch):
    """hyperopt counts only the trials it holds toward TPE's random start. When families
    leave, the history is rebuilt without their trials; TPE still models the results as
    soon as the whole search has ``TPE_STARTUP_TRIALS`` trials."""
    import hyperopt.rand

    from nbautoml.engine.search import TPE_STARTUP_TRIALS

    random_ids = []
    real_suggest = hyperopt.rand.suggest

    def counting_suggest(new_ids, *args, **kwargs):
        random_ids.append(new_ids[0])
        return real_suggest(new_ids, *args, **kwargs)

    monkeypatch.setattr(hyperopt.rand, "suggest", counting_suggest)
    # 3,000 rows: on 800 ridge on splines (0.55) stays near the tree (0.63) and no family leaves
    frame, target, _ = load_dataset("bike", rows=3000)
    result = AutoML(time_budget=None, max_evals=22, seed=0, cv=3, n_jobs=1, n_default_points=3,
                    models=["decision_tree", "ridge", "lasso", "knn"], ensemble=False).fit(frame, target=target)
    assert {"ridge", "lasso"} <= set(result.families_left_)
    tpe_ids = [t.trial_id for t in result.trials_ if t.source == "tpe"]
    assert random_ids and set(random_ids) <= set(tpe_ids)  # the random start happened, through TPE
    assert max(random_ids) < TPE_STARTUP_TRIALS, random_ids
    assert len(tpe_ids) - len(random_ids) >= 22 - TPE_STARTUP_TRIALS
