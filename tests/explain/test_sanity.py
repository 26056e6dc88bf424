"""The shuffled-target check (ANCHORS §3.3): the same search on a target with no link to the
features must score at chance, and a leak must show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold

import nbautoml
from nbautoml import AutoML
from nbautoml.exceptions import NotFittedError
from nbautoml.sanity import SanityCheck, chance_score


class OverlappingFolds:
    """A splitter with a user's bug: every fold trains on all rows, its validation rows included."""

    def split(self, X, y=None, groups=None):
        for _, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
            yield np.arange(len(X)), test

    def get_n_splits(self, X=None, y=None, groups=None):
        return 5


@pytest.mark.slow
def test_a_search_on_a_shuffled_target_scores_at_chance(titanic, tmp_path):
    result = AutoML(max_evals=8, time_budget=None, n_jobs=1, seed=0, search_dir=tmp_path,
                    models=["logistic_regression", "hist_gradient_boosting"]).fit(
        titanic, target="Survived")
    check = result.sanity_check()
    assert isinstance(check, SanityCheck) and check.passed
    assert check.chance_score == pytest.approx(0.5)  # class shares: the same for every row
    assert abs(check.shuffled_score - 0.5) <= 0.05  # ANCHORS §3.3: CV AUC within 0.5 ± 0.05
    assert check.score == pytest.approx(result.best_score_) and check.score > 0.85
    assert check.n_trials == 8 and check.validation == "stratified 5-fold"
    assert f"over {check.n_trials} trials" in check.summary and "by chance alone" in check.summary
    assert "Shuffled-target check" in check._repr_html_() and "passed" in repr(check)
    assert result.best_score_ == pytest.approx(check.score)  # the search itself is left alone


def test_folds_that_share_rows_fail_the_check(titanic, tmp_path):
    result = AutoML(max_evals=2, time_budget=None, n_jobs=1, seed=0, cv=OverlappingFolds(), search_dir=tmp_path,
                    models=["extra_trees"]).fit(titanic, target="Survived")
    assert result.best_score_ > 0.99  # the leaderboard looks perfect
    check = result.sanity_check()
    assert not check.passed
    assert check.shuffled_score > 0.9  # a memorizing forest "predicts" noise on rows it trained on
    assert "Do not trust the leaderboard" in check.summary and "FAILED" in check._repr_html_()


@pytest.mark.slow
def test_regression_and_a_loss_metric_compare_with_the_mean_and_the_class_shares(datasets_dir, tmp_path):
    insurance = pd.read_csv(datasets_dir / "insurance.csv")
    rmse = AutoML(max_evals=3, time_budget=None, n_jobs=1, metric="rmse", search_dir=tmp_path,
                  models=["ridge", "hist_gradient_boosting"]).fit(insurance, target="charges").sanity_check()
    assert rmse.passed and not rmse.greater_is_better
    assert rmse.chance_score == pytest.approx(insurance["charges"].std(), rel=0.05)  # the mean's error
    assert rmse.score < 0.5 * rmse.chance_score < rmse.shuffled_score
    glass = pd.read_csv(datasets_dir / "glass.csv")
    loss = AutoML(max_evals=2, time_budget=None, n_jobs=1, metric="log_loss", search_dir=tmp_path,
                  models=["logistic_regression", "random_forest"]).fit(glass, target="Type").sanity_check()
    shares = glass["Type"].value_counts(normalize=True)
    assert loss.chance_score == pytest.approx(-(shares * np.log(shares)).sum(), rel=0.05)  # the entropy
    assert loss.passed


def test_chance_is_the_majority_for_labels_and_a_loaded_model_is_refused(titanic, tmp_path):
    from nbautoml.engine.metrics import get_metric

    y = titanic["Survived"]
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(titanic, y))
    assert chance_score(get_metric("accuracy", "binary"), "binary", y, folds) == pytest.approx(
        (y == 0).mean(), abs=0.01)
    result = AutoML(max_evals=2, time_budget=None, n_jobs=1, search_dir=tmp_path,
                    models=["logistic_regression"]).fit(titanic, target="Survived")
    loaded = nbautoml.load(nbautoml.save(result, tmp_path / "m"))
    with pytest.raises(NotFittedError, match="needs a search fitted in this session"):
        nbautoml.sanity_check(loaded)
