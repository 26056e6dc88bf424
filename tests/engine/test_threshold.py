"""The decision threshold of binary models (``AutoML(decision_threshold=...)``), from the cut of
the out-of-fold probabilities to the saved model, its code, its command line and its monitoring."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold

import nbautoml
from nbautoml.cli import main
from nbautoml.engine.metrics import get_metric
from nbautoml.engine.threshold import (
    choose_threshold,
    cut_scores,
    model_threshold,
    parse_decision_threshold,
)
from nbautoml.exceptions import ConfigError
from tests.conftest import load_dataset

SCORERS = {
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "f1": lambda y, p: skm.f1_score(y, p, zero_division=0),
    "f1_macro": lambda y, p: skm.f1_score(y, p, average="macro", zero_division=0),
    "precision": skm.precision_score,
    "recall": skm.recall_score,
}


@pytest.mark.parametrize("metric", sorted(SCORERS))
def test_every_cut_scores_as_scikit_learn_scores_it(metric):
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    # rounded, so that many rows share a probability (a cut cannot split them)
    proba = np.round(np.clip(0.3 * y + rng.random(400) * 0.7, 0, 1), 2)
    thresholds, scores = cut_scores(y, proba, metric)
    assert len(thresholds) == len(np.unique(proba)) - 1  # all positive is no cut
    for threshold, value in zip(thresholds, scores):
        assert value == pytest.approx(SCORERS[metric](y, (proba >= threshold).astype(int)), abs=1e-12)
    # each threshold lies strictly between two neighbouring probabilities
    assert not np.isin(thresholds, proba).any()


def test_the_choice_counts_folds_and_takes_the_cut_nearest_one_half_among_equals():
    rng = np.random.default_rng(1)
    y = (rng.random(600) < 0.2).astype(int)
    positive = np.clip(0.25 * y + 0.35 * rng.random(600), 0, 1)  # positives sit above 0.25, all below 0.6
    oof = np.column_stack([1 - positive, positive])
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(oof, y))
    choice = choose_threshold(y, oof, get_metric("f1", "binary"), folds)
    assert 0.15 < choice.threshold < 0.45 and choice.n_folds == 5
    assert choice.score == pytest.approx(skm.f1_score(y, (positive >= choice.threshold).astype(int)))
    assert choice.default_score == pytest.approx(skm.f1_score(y, (positive > 0.5).astype(int), zero_division=0))
    assert choice.score > choice.default_score + 0.1 and choice.folds_better == 5 and choice.worth_keeping()
    # a cut that changes nothing is no gain: probabilities far from 0.5 on both sides
    separated = np.where(y == 1, 0.9, 0.1)
    flat = choose_threshold(y, np.column_stack([1 - separated, separated]), get_metric("f1", "binary"), folds)
    assert flat.threshold == pytest.approx(0.5) and not flat.worth_keeping()
    # nothing to cut: one class, labels instead of probabilities, a metric a cut does not tune
    assert choose_threshold(np.zeros(600, int), oof, get_metric("f1", "binary"), folds) is None
    assert choose_threshold(y, positive, get_metric("f1", "binary"), folds) is None
    assert choose_threshold(y, oof, get_metric("precision", "binary"), folds) is None


def test_a_cut_is_kept_for_its_pooled_gain_whatever_the_folds_say():
    from nbautoml.engine.threshold import ThresholdChoice

    # benchmarks/decision_threshold.py: requiring most folds too lost held-out f1 and balanced accuracy
    assert ThresholdChoice(0.3, 0.70, 0.68, folds_better=1, n_folds=5).worth_keeping()
    assert not ThresholdChoice(0.3, 0.6805, 0.68, folds_better=5, n_folds=5).worth_keeping()  # gain < 0.1 %
    assert not ThresholdChoice(0.3, 0.68, 0.70, folds_better=0, n_folds=5).worth_keeping()


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("None", None), ("0.25", 0.25)])
def test_the_option_reads_auto_none_or_a_probability(text, value):
    assert parse_decision_threshold(text) == value


@pytest.mark.parametrize("bad", ["0", "1", "1.5", "half"])
def test_a_bad_option_value_says_what_to_give(bad):
    with pytest.raises(ValueError, match="auto, none or a probability strictly between 0 and 1"):
        parse_decision_threshold(bad)


@pytest.fixture(scope="module")
def diabetes(datasets_dir):
    frame, target, _ = load_dataset("diabetes")
    train = frame.sample(frac=0.75, random_state=1)
    return train.reset_index(drop=True), frame.drop(train.index).reset_index(drop=True), target


def search(train, target, tmp_path, **options):
    settings = dict(metric="f1", time_budget=None, max_evals=6, models=["logistic_regression"], ensemble=False,
                    seed=0, search_dir=tmp_path / "runs")
    return nbautoml.AutoML(**{**settings, **options}).fit(train, target=target)


@pytest.fixture(scope="module")
def tuned(diabetes, tmp_path_factory):
    train, _, target = diabetes
    return search(train, target, tmp_path_factory.mktemp("tuned"))


def test_f1_search_ends_with_a_threshold_that_beats_one_half_out_of_fold(tuned, diabetes):
    _, test, target = diabetes
    choice = tuned.threshold_choice_
    assert tuned.decision_threshold_ == choice.threshold and 0.1 < choice.threshold < 0.5
    assert choice.score > choice.default_score + 0.01 and 0 <= choice.folds_better <= choice.n_folds == 5
    step = tuned.best_pipeline_.steps[-1][1]
    assert isinstance(step, FixedThresholdClassifier) and model_threshold(tuned) == choice.threshold
    X = test.drop(columns=[target])
    proba = tuned.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(tuned.predict(X), tuned.classes_[(proba >= choice.threshold).astype(int)])
    assert (tuned.predict(X) == 1).sum() > (proba > 0.5).sum()  # more rows called positive than at 0.5
    # the out-of-fold f1 at the threshold, recomputed from the kept predictions
    y, oof = tuned.oof_predictions()
    assert skm.f1_score(y, (oof[:, 1] >= choice.threshold).astype(int)) == pytest.approx(choice.score)
    assert f"decision threshold: {choice.threshold:.4g}: out-of-fold f1" in repr(tuned)
    assert tuned.summary()["decision_threshold"] == choice.threshold
    assert f"Decision threshold</th><td style='padding:2px 8px;text-align:left;border-bottom:1px solid #e0e0e0'>" \
           f"the positive class <code>1</code> is predicted from probability {choice.threshold:.4g}" in tuned._repr_html_()


def test_the_threshold_is_saved_loaded_without_trust_and_written_as_code(tuned, diabetes, tmp_path):
    _, test, target = diabetes
    X = test.drop(columns=[target])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "types outside nbautoml's allowlist" warning
        path = nbautoml.save(tuned, tmp_path / "diabetes.nbautoml")
        loaded = nbautoml.load(path)
    np.testing.assert_array_equal(loaded.predict(X), tuned.predict(X))
    assert loaded.decision_threshold_ == tuned.decision_threshold_
    assert loaded.card["decision_threshold"] == {"value": tuned.decision_threshold_, "note": tuned.threshold_note_}
    assert "Decision threshold" in loaded._repr_html_()
    # a bare scikit-learn pipeline saved on its own: the card reads the threshold from the model
    bare = nbautoml.load(nbautoml.save(tuned.best_pipeline_, tmp_path / "bare.nbautoml"))
    assert bare.card["decision_threshold"]["value"] == bare.decision_threshold_ == tuned.decision_threshold_
    assert any(s["class"].endswith("LogisticRegression") for s in nbautoml.persist.pipeline_steps(loaded.best_pipeline_))
    # the code nbautoml writes refits the same model, threshold included
    from nbautoml.codegen import pipeline_code

    code = pipeline_code(tuned)
    assert f"threshold={tuned.decision_threshold_!r}" in code
    namespace = {"df": diabetes[0]}
    exec(code, namespace)
    np.testing.assert_array_equal(namespace["model"].predict(X), tuned.predict(X))


def test_none_keeps_one_half_and_a_number_is_used_as_given(diabetes, tuned, tmp_path):
    train, test, target = diabetes
    X = test.drop(columns=[target])
    plain = search(train, target, tmp_path / "a", decision_threshold=None)
    assert plain.decision_threshold_ is None and model_threshold(plain) is None
    assert not isinstance(plain.best_pipeline_.steps[-1][1], FixedThresholdClassifier)
    np.testing.assert_allclose(plain.predict_proba(X), tuned.predict_proba(X))  # the same pipeline, cut at 0.5
    assert (plain.predict(X) != tuned.predict(X)).any()
    given = search(train, target, tmp_path / "b", decision_threshold=0.7)
    assert given.decision_threshold_ == 0.7 and given.threshold_note_ == "0.7, as given"
    proba = given.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(given.predict(X), given.classes_[(proba >= 0.7).astype(int)])


def test_precision_is_not_tuned_and_says_why(diabetes, tmp_path):
    train, _, target = diabetes
    result = search(train, target, tmp_path, metric="precision", max_evals=2)
    assert result.decision_threshold_ is None and "precision is not tuned by a threshold" in result.threshold_note_


def test_a_threshold_on_another_task_is_not_applied_and_out_of_range_is_refused(datasets_dir, tmp_path):
    frame, target, _ = load_dataset("iris")
    with pytest.warns(UserWarning, match="decision_threshold=0.3 is for binary tasks; not applied to this "
                                         "multiclass model"):
        result = nbautoml.AutoML(decision_threshold=0.3, max_evals=1, models=["logistic_regression"],
                                 search_dir=tmp_path).fit(frame, target=target)
    assert result.decision_threshold_ is None and model_threshold(result) is None
    assert result.threshold_note_ == "0.3 not applied: a multiclass model has no decision threshold"
    with pytest.raises(ConfigError, match="a probability strictly between 0 and 1"):
        nbautoml.AutoML(decision_threshold=1.5, max_evals=1, search_dir=tmp_path).fit(frame, target=target)
    # "auto" on a multiclass task leaves the model as it is
    result = nbautoml.AutoML(max_evals=2, models=["logistic_regression"], search_dir=tmp_path).fit(frame, target=target)
    assert result.decision_threshold_ is None and model_threshold(result) is None


def test_a_course_default_threshold_serves_its_binary_searches_and_spares_the_others(datasets_dir, tmp_path,
                                                                                        monkeypatch, capsys):
    """``decision_threshold = 0.3`` in a course's ``[tool.nbautoml]``: a binary search predicts
    from 0.3, a multiclass one in the same course runs and says the value was not applied."""
    (tmp_path / "pyproject.toml").write_text("[tool.nbautoml]\ndecision_threshold = 0.3\nmax_evals = 2\n"
                                             "models = 'logistic_regression'\nsearch_dir = 'runs'\n")
    monkeypatch.chdir(tmp_path)
    iris, target, _ = load_dataset("iris")
    iris.to_csv(tmp_path / "iris.csv", index=False)
    assert main(["run", "iris.csv", "--target", target, "--out", "iris"]) == 0
    assert ("nbautoml: warning: decision_threshold=0.3 is for binary tasks; not applied to this multiclass model."
            in capsys.readouterr().err.splitlines())
    assert model_threshold(nbautoml.load(tmp_path / "iris.nbautoml")) is None
    blood, target, _ = load_dataset("blood")
    blood.to_csv(tmp_path / "blood.csv", index=False)
    assert main(["run", "blood.csv", "--target", target, "--out", "blood"]) == 0
    assert model_threshold(nbautoml.load(tmp_path / "blood.nbautoml")) == 0.3


def test_monitoring_a_thresholded_model_expects_its_own_share_of_positives(tuned, diabetes):
    """The reference profile's predicted labels are cut at the model's threshold, as its
    predictions are: cut at 0.5 instead, the held-out rows raised a prediction drift alert
    (positive share 0.56 against 0.27)."""
    _, test, target = diabetes
    report = nbautoml.monitor(tuned, test)
    assert not [r for r in report.problems().itertuples() if r.check == "prediction_drift"], report


def test_monitoring_compares_a_batch_with_the_folds_scored_at_the_threshold(tuned, diabetes):
    """The performance reference of a thresholded model is its folds' metric at that threshold
    (the search scored them at 0.5, where this model's out-of-fold f1 is lower)."""
    from nbautoml.monitor.profile import build_profile

    _, test, target = diabetes
    performance = build_profile(tuned).performance
    oof, codes = tuned._model_oof(), tuned._y_codes()
    expected = [skm.f1_score(codes[rows], (oof[rows, 1] >= tuned.decision_threshold_).astype(int))
                for _, rows in tuned.validation_.folds]
    assert performance["decision_threshold"] == tuned.decision_threshold_
    assert performance["fold_scores"] == pytest.approx(expected)
    assert performance["cv_score"] == pytest.approx(np.mean(expected))
    assert performance["cv_score"] > tuned.best_score_ + 0.01  # the search's mean fold f1 at 0.5
    report = nbautoml.monitor(tuned, test)
    assert report.cv_score == pytest.approx(np.mean(expected))
    batch_f1 = skm.f1_score(test[target], tuned.predict(test.drop(columns=[target])))
    assert report.metric_value == pytest.approx(batch_f1)


def test_cli_run_takes_the_option_and_refuses_a_bad_value(datasets_dir, tmp_path, capsys):
    data = str(datasets_dir / "diabetes.csv")
    common = ["run", data, "--target", "Class variable", "--metric", "f1", "--models", "logistic_regression",
              "--max-evals", "3", "--time-budget", "none", "--no-ensemble", "--quiet",
              "--search-dir", str(tmp_path / "runs")]
    with pytest.raises(SystemExit) as exit_info:
        main([*common, "--decision-threshold", "2"])
    assert exit_info.value.code == 2
    assert "'2' is not auto, none or a probability strictly between 0 and 1" in capsys.readouterr().err
    assert main([*common, "--decision-threshold", "0.4", "--out", str(tmp_path / "m.nbautoml")]) == 0
    assert "decision threshold: 0.4, as given" in capsys.readouterr().out
    assert nbautoml.load(tmp_path / "m.nbautoml").decision_threshold_ == 0.4


def test_the_confusion_matrix_counts_the_model_at_its_threshold(tuned):
    from nbautoml.render.plots import _confusion_info, plot_confusion

    y, oof = tuned.oof_predictions()
    info = _confusion_info(tuned)
    assert info.counts[:, 1].sum() == (oof[:, 1] >= tuned.decision_threshold_).sum()
    assert info.counts[:, 1].sum() > (oof[:, 1] > 0.5).sum()
    assert info.counts.sum() == len(y)
    best = tuned.best_trial_.trial_id  # a trial's own matrix stays at 0.5
    assert _confusion_info(tuned, trial=best).counts[:, 1].sum() == (oof.argmax(axis=1) == 1).sum()
    ax = plot_confusion(tuned)
    assert f"at threshold {tuned.decision_threshold_:.3g}" in ax.get_title()


def test_the_threshold_plot_draws_each_metric_at_every_cut_and_marks_the_models(tuned):
    from nbautoml.render.plots import _threshold_info, plot

    info = _threshold_info(tuned)
    y, oof = tuned.oof_predictions()
    assert set(info.scores) == {"precision", "recall", "f1"} and info.metric == "f1"
    for t, f1, share in zip(info.thresholds[::25], info.scores["f1"][::25], info.share_positive[::25]):
        assert f1 == pytest.approx(skm.f1_score(y, (oof[:, 1] >= t).astype(int)))
        assert share == pytest.approx(np.mean(oof[:, 1] >= t))
    # the best f1 of the curve is the cut the search chose
    assert info.scores["f1"].max() == pytest.approx(tuned.threshold_choice_.score)
    assert info.threshold == tuned.decision_threshold_
    ax = plot(tuned, "decision-threshold").axes[0]
    assert [line.get_label() for line in ax.get_lines()] == [
        "precision", "recall", "f1 (the search's metric)", "share predicted positive", "0.5, the default cut",
        f"the model's threshold {tuned.decision_threshold_:.3g}"]
    assert ax.get_lines()[-1].get_xdata()[0] == tuned.decision_threshold_


def test_the_dot_at_one_half_counts_a_tie_as_the_model_does():
    """At 0.5 the model predicts the most probable class and a tie goes to class 0 (k-NN with
    an even number of neighbours gives many): the dot counts those rows as negatives too."""
    from types import SimpleNamespace

    from nbautoml.render.plots import _operating_point

    model = SimpleNamespace(classes_=np.array([0, 1]), decision_threshold_=None)
    truth = np.array([True, True, True, False, False, False])
    score = np.array([0.9, 0.5, 0.2, 0.5, 0.5, 0.1])
    roc = _operating_point(model, None, truth, score, True, "roc")
    assert (roc["x"], roc["y"]) == (0.0, pytest.approx(1 / 3))  # only the 0.9 row is called positive


def test_roc_and_pr_curves_mark_where_the_model_predicts(tuned):
    """The dot on each curve is the confusion matrix's rates at the model's cut (0.5 for a trial)."""
    from nbautoml.render.plots import _confusion_info, _pr_info, _roc_info, plot_pr, plot_roc

    counts = _confusion_info(tuned).counts
    (roc,), (pr,) = _roc_info(tuned).curves, _pr_info(tuned).curves
    assert roc["point"]["cut"] == pr["point"]["cut"] == tuned.decision_threshold_
    assert roc["point"]["y"] == pytest.approx(counts[1, 1] / counts[1].sum())  # recall
    assert roc["point"]["x"] == pytest.approx(counts[0, 1] / counts[0].sum())  # false positive rate
    assert (pr["point"]["x"], pr["point"]["y"]) == pytest.approx((counts[1, 1] / counts[1].sum(),
                                                                  counts[1, 1] / counts[:, 1].sum()))
    (trial_roc,) = _roc_info(tuned, trial=tuned.best_trial_.trial_id).curves
    assert trial_roc["point"]["cut"] == 0.5 and trial_roc["point"]["y"] < roc["point"]["y"]
    for draw in (plot_roc, plot_pr):
        labels = draw(tuned).get_legend_handles_labels()[1]
        assert f"the model predicts 1 from p ≥ {tuned.decision_threshold_:.3g}" in labels
