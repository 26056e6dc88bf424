"""metric="average_precision": the area under the precision-recall curve, for binary tasks with
rare positives, through the search, its written code, its monitoring and the command line."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

import nbautoml
from nbautoml.cli import main
from nbautoml.codegen import pipeline_code
from nbautoml.exceptions import ConfigError
from tests.conftest import load_dataset
from tests.test_codegen import printed_score, run_fresh


@pytest.fixture(scope="module")
def blood(datasets_dir):
    frame, target, _ = load_dataset("blood")  # 24 % positives
    train = frame.sample(frac=0.75, random_state=0)
    return train.reset_index(drop=True), frame.drop(train.index).reset_index(drop=True), target


@pytest.fixture(scope="module")
def searched(blood, tmp_path_factory):
    train, _, target = blood
    return nbautoml.AutoML(metric="average_precision", max_evals=4, time_budget=None, seed=0, ensemble=False,
                           models=["logistic_regression", "random_forest"],
                           search_dir=tmp_path_factory.mktemp("ap")).fit(train, target=target)


def test_each_fold_scores_the_average_precision_of_its_probabilities(searched):
    folds = searched.validation_.folds
    codes = searched._y_codes()
    oof = searched._model_oof()
    expected = [average_precision_score(codes[rows], oof[rows, 1]) for _, rows in folds]
    assert searched.best_trial_.fold_scores == pytest.approx(expected)
    assert searched.best_score_ == pytest.approx(np.mean(expected))
    # a model that ignores the features scores the share of positives: well below the search's
    assert searched.best_score_ > codes.mean() + 0.1
    assert searched.threshold_note_ == ("0.5 kept: average_precision is not tuned by a threshold (only "
                                        "accuracy, balanced_accuracy, f1, f1_macro are)")


def test_the_written_code_gives_the_cv_score(searched, blood, tmp_path):
    train, _, _ = blood
    output = run_fresh(pipeline_code(searched), train, tmp_path)
    assert "average_precision_score" in pipeline_code(searched)
    assert abs(printed_score(output, "average_precision") - searched.best_score_) < 1e-6, output


def test_monitoring_and_scoring_a_labelled_batch(searched, blood):
    _, test, target = blood
    assert searched.classes_.tolist() == [0, 1]
    expected = average_precision_score(test[target], searched.predict_proba(test.drop(columns=[target]))[:, 1])
    assert searched.score(test) == pytest.approx(expected)
    report = nbautoml.monitor(searched, test)
    assert report.metric == "average_precision" and report.metric_value == pytest.approx(expected)


def test_a_multiclass_target_is_refused_with_the_metrics_that_fit(datasets_dir, tmp_path):
    frame, target, _ = load_dataset("iris")
    with pytest.raises(ConfigError, match="The metric 'average_precision' does not fit a multiclass task. Valid "
                                          "metrics for multiclass: accuracy, balanced_accuracy, f1_macro"):
        nbautoml.AutoML(metric="average_precision", max_evals=1, search_dir=tmp_path).fit(frame, target=target)


def test_the_command_line_takes_it(blood, tmp_path, capsys, monkeypatch):
    train, _, target = blood
    monkeypatch.chdir(tmp_path)
    train.to_csv("train.csv", index=False)
    assert main(["run", "train.csv", "--target", target, "--metric", "average_precision", "--max-evals", "2",
                 "--models", "logistic_regression", "--out", "model"]) == 0
    assert re.search(r"(best|chosen) average_precision: 0\.\d{4} ± ", capsys.readouterr().out)
    assert nbautoml.load(tmp_path / "model.nbautoml").metric_ == "average_precision"
