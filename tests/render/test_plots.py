"""Plots: the info halves on real searches, and each figure's title, labels and PNG."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import accuracy_score

from nbautoml.engine.records import TrialRecord
from nbautoml.render import plots as P

# kind -> (start of the title, x label part, y label part)
EXPECTED = {
    "convergence": ("Convergence: best {metric} so far", "Trial", "CV {metric}"),
    "leaderboard": ("Leaderboard: top", "CV {metric}: mean ± std", "Pipeline"),
    "confusion": ("Confusion matrix: best pipeline, out-of-fold", "Predicted class", "True class"),
    "roc": ("ROC curve: best pipeline, out-of-fold", "False positive rate", "True positive rate"),
    "pr": ("Precision-recall curve: best pipeline", "Recall", "Precision"),
    "calibration": ("Calibration: best pipeline", "Mean predicted probability", "Observed fraction"),
    "threshold": ("Metrics by decision threshold: best pipeline, out-of-fold", "Decision threshold",
                  "Out-of-fold score"),
    "residuals": ("Residuals: best pipeline, out-of-fold", "Predicted strength", "Residual (actual − predicted)"),
    "prediction": ("Predicted vs actual: best pipeline", "Actual strength", "Predicted strength"),
    "importance": ("Permutation importance: validation fold 1 of", "Drop in {metric}", "Input column"),
    "hyperparameters": ("Hyperparameters of", "", "CV {metric}"),
}


def _cases():
    return [(task, kind) for task in ("binary", "multiclass", "regression") for kind in P.plot_kinds(task)]


@pytest.mark.parametrize("task,kind", _cases())
def test_every_plot_has_title_labels_and_saves_as_png(searches, task, kind):
    result = searches[task]
    fig = P.plot(result, kind)
    assert isinstance(fig, Figure)
    assert fig.canvas.manager is None  # not a pyplot figure: no global state
    title, xlabel, ylabel = (s.format(metric=result.metric_) for s in EXPECTED[kind])
    title = title.replace("best pipeline", P._trial_label(result, None))  # "model (ensemble of 3)"
    ax = fig.axes[0]
    shown_title = fig.get_suptitle() if kind == "hyperparameters" else ax.get_title()
    assert shown_title.startswith(title), shown_title
    assert xlabel in ax.get_xlabel() and ax.get_xlabel()
    assert ylabel in ax.get_ylabel()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig._repr_png_()[:4] == b"\x89PNG"  # IPython shows it without %matplotlib inline
    # the output IPython keeps: PNG plus alternative text written from the figure's labels
    data, metadata = fig._repr_mimebundle_()
    alt = metadata["image/png"]["alt"]
    assert alt.startswith(shown_title.rstrip(".")) and f"y axis: {ax.get_ylabel()}" in alt, alt
    assert data["text/plain"].startswith("<Figure: ") and data["image/png"].startswith("iVBOR")


def test_alt_text_names_untitled_panels_colour_scales_and_notes():
    fig = P.NbFigure()
    left, right = fig.subplots(1, 2)
    image = left.imshow(np.eye(3))
    fig.colorbar(image, ax=left, label="Share of the true class")
    left.set_xlabel("Predicted class")
    right.set_axis_off()
    right.text(0.5, 0.5, "diagnostic plot unavailable:\nValueError")
    assert P.figure_alt_text(fig) == (
        "Panel 1 of 2. x axis: Predicted class. Panel 2 of 2. "
        "diagnostic plot unavailable: ValueError. Colour scale: Share of the true class.")


def test_unknown_kind_lists_valid_kinds(searches):
    with pytest.raises(ValueError, match="Unknown plot kind 'rocc'. Did you mean 'roc'.*Valid kinds: "
                                         "convergence, leaderboard, confusion"):
        P.plot(searches["binary"], "rocc")


@pytest.mark.parametrize("task,kind,word", [("regression", "roc", "classification"),
                                            ("regression", "confusion", "classification"),
                                            ("binary", "residuals", "regression"),
                                            ("multiclass", "threshold", "binary classification")])
def test_kind_of_the_wrong_task_is_refused(searches, task, kind, word):
    with pytest.raises(ValueError, match=f"'{kind}' plot is for {word}; this search is a {task} search. Plots for it: "):
        P.plot(searches[task], kind)


def test_the_result_plots_itself_and_writes_its_code(searches):
    """The Python API without the magics: ``result.plot(kind)`` and ``nbautoml.plot(result, kind)``
    draw what ``%automl_plot`` draws, and ``result.code()`` is ``%automl_code``'s code."""
    import nbautoml
    from nbautoml.codegen import pipeline_code

    result = searches["binary"]
    fig = result.plot("roc")
    assert isinstance(fig, Figure) and fig.axes[0].get_title().startswith("ROC curve: best pipeline")
    assert nbautoml.plot(result, "history").axes[0].get_title().startswith("Convergence")
    with pytest.raises(ValueError, match="'residuals' plot is for regression"):
        result.plot("residuals")
    assert result.code() == pipeline_code(result)
    assert "bloods = " not in result.code() and "bloods" in result.code(data_var="bloods")


def test_aliases_and_given_axes(searches):
    result = searches["regression"]
    fig = Figure()
    ax = fig.add_subplot()
    assert P.plot(result, "prediction-vs-actual", ax=ax) is fig
    assert ax.get_title().startswith("Predicted vs actual")


def test_convergence_info_follows_the_trials(searches):
    result = searches["binary"]
    info = P._convergence_info(result)
    ok = [t for t in result.trials_ if t.status == "ok"]
    assert len(info.x) == len([t for t in result.trials_ if t.status != "running"])
    assert np.nanmax(info.scores) == pytest.approx(result.best_score_)
    assert info.best_score == pytest.approx(result.best_score_)
    finite = info.best_so_far[~np.isnan(info.best_so_far)]
    assert np.all(np.diff(finite) >= 0)  # roc_auc: the best so far never goes down
    assert info.best_so_far[-1] == pytest.approx(max(t.score for t in ok))
    by_time = P._convergence_info(result, by="time")
    assert np.all(np.diff(by_time.x) >= 0) and by_time.xlabel.startswith("Seconds")


def _trial(i, status, score, finished):
    return TrialRecord(trial_id=i, config={"family": "ridge", "params": {"alpha": 10.0 ** i}, "pre": {}},
                       status=status, score=score, finished=finished)


def test_convergence_marks_failures_and_lower_is_better():
    trials = [_trial(0, "ok", 3.0, 1), _trial(1, "timeout", None, 2), _trial(2, "ok", 2.0, 3),
              _trial(3, "failed", None, 4), _trial(4, "ok", 2.5, 5), _trial(5, "running", None, 0)]
    state = SimpleNamespace(trials_=trials, metric_="rmse", greater_is_better_=False)
    info = P._convergence_info(state)
    assert list(info.failed_x) == [2.0, 4.0] and info.failed_status == ["timeout", "failed"]
    assert np.array_equal(info.best_so_far, [3.0, 3.0, 2.0, 2.0, 2.0])
    assert info.best_score == 2.0 and info.best_x == 3.0
    ax = P.plot_convergence(state)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "failed or timed out (2)" in labels and ax.get_ylabel() == "CV rmse (lower is better)"


def test_convergence_of_two_close_trials_reads_well():
    """Two scores 0.0001 apart: a readable y-axis (no five-decimal ticks) and both dots shown."""
    trials = [_trial(0, "ok", 0.86070, 1), _trial(1, "ok", 0.86083, 2)]
    state = SimpleNamespace(trials_=trials, metric_="roc_auc", greater_is_better_=True)
    fig = Figure(figsize=(5.4, 3.4), layout="constrained")
    ax = P.draw_convergence(P._convergence_info(state), fig.add_subplot(), compact=True)
    low, high = ax.get_ylim()
    assert high - low >= 0.02 * 0.86 and low < 0.8607 and high > 0.8608
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert len(labels) >= 3 and all(len(label.split(".")[-1]) <= 3 for label in labels), labels
    assert not ax.yaxis.get_offset_text().get_text()  # no "+8.6e-1" offset
    # the trial dots are drawn over the best-so-far line, the x-axis leaves room at both ends
    dots = next(c for c in ax.collections if c.get_label() == "trial score")
    line = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    assert dots.get_zorder() > line.get_zorder() and len(dots.get_offsets()) == 2
    assert ax.get_xlim()[0] < 1 and ax.get_xlim()[1] > 2


def test_convergence_keeps_a_wide_spread_as_it_is():
    trials = [_trial(i, "ok", s, i + 1) for i, s in enumerate([0.70, 0.80, 0.75])]
    state = SimpleNamespace(trials_=trials, metric_="roc_auc", greater_is_better_=True)
    ax = P.plot_convergence(state)
    low, high = ax.get_ylim()
    assert 0.68 < low < 0.70 and 0.80 < high < 0.82  # matplotlib's own margins


def test_leaderboard_info_marks_ties_from_the_leaderboard(searches):
    result = searches["binary"]
    info = P._leaderboard_info(result, top=4)
    board = result.leaderboard[result.leaderboard["status"] == "ok"].head(4)
    assert len(info.labels) == len(board) and info.labels[0].startswith("1. ")
    assert list(info.scores) == pytest.approx(list(board["score"]))
    assert list(info.tied[1:]) == list(board["tied_with_best"].iloc[1:])
    assert not info.tied[0] and info.n_folds == len(result.best_trial_.fold_scores)


def test_confusion_info_counts_the_out_of_fold_rows(searches):
    result = searches["multiclass"]  # accuracy: the stored OOF predictions are labels
    info = P._confusion_info(result)
    y, _ = result.oof_predictions()
    assert info.classes == [str(c) for c in result.classes_]
    assert info.counts.sum() == len(y) and info.counts.shape == (3, 3)
    assert np.allclose(info.normalized.sum(axis=1), 1.0)
    assert info.accuracy == pytest.approx(result.best_score_, abs=0.02)
    y_true, labels = P._oof_labels(result)
    assert info.accuracy == pytest.approx(accuracy_score(y_true, labels))


def test_roc_pr_calibration_info_binary(searches):
    result = searches["binary"]
    roc = P._roc_info(result)
    assert len(roc.curves) == 1 and roc.note == f"positive class: {result.classes_[1]}"
    curve = roc.curves[0]
    assert curve["x"][0] == 0 and curve["x"][-1] == 1 and curve["y"][-1] == 1
    assert curve["area"] == pytest.approx(result.best_score_, abs=0.03)  # pooled OOF vs mean of folds
    pr = P._pr_info(result)
    y, _ = result.oof_predictions()
    assert pr.curves[0]["baseline"] == pytest.approx(np.mean(y == 1))
    calibration = P._calibration_info(result)
    assert 0 < calibration.curves[0]["brier"] < 0.25
    assert calibration.counts.sum() == len(y)


def test_multiclass_curves_refit_for_probabilities(searches):
    result = searches["multiclass"]
    roc = P._roc_info(result)
    assert [c["label"] for c in roc.curves] == [str(c) for c in result.classes_]
    assert roc.note == "one-vs-rest per class"
    y, proba = P._fold_probabilities(result)
    assert proba.shape == (len(y), 3) and np.allclose(proba.sum(axis=1), 1)
    assert P._fold_probabilities(result) is P._fold_probabilities(result)  # cached


def test_regression_info(searches):
    result = searches["regression"]
    info = P._regression_info(result)
    assert np.allclose(info.residuals, info.actual - info.predicted)
    # the model's out-of-fold predictions: the ensemble's (pooled score) when there is one
    expected = result.best_score_ if result.ensemble_ is None else result.ensemble_.score
    assert info.r2 == pytest.approx(expected, abs=0.05)
    assert info.target == "strength" and len(info.bin_centers) > 5


def test_importance_info_on_original_columns(searches):
    result = searches["multiclass"]
    info = P._importance_info(result, n_repeats=3)
    assert sorted(info.columns) == sorted(result.plan_.used)
    assert info.columns[0].startswith("petal")  # iris: the petals carry the classes
    assert info.mean[0] > 0.05 and info.n_folds == len(result.validation_.folds)


def test_importance_needs_the_training_data(searches):
    import copy

    result = copy.copy(searches["binary"])
    result._X = None
    with pytest.raises(ValueError, match="needs the training data"):
        P._importance_info(result)


def test_hyperparameter_info_covers_the_best_family(searches):
    result = searches["binary"]
    info = P._hyperparameter_info(result)
    family = result.best_config_["family"]
    same = [t for t in result.trials_ if t.status == "ok" and t.family == family]
    assert info.family == family and info.n_trials == len(same)
    names = [p["name"] for p in info.params]
    assert names == list(result.best_config_["params"])[: len(names)]
    for param in info.params:
        assert len(param["values"]) == len(same) and param["has_best"]
    with pytest.raises(ValueError, match="No successful trial of 'svm'"):
        P._hyperparameter_info(result, family="svm")


def test_plots_of_an_ensemble_say_so(searches):
    result = searches["regression"]
    ensemble = SimpleNamespace(**{k: getattr(result, k) for k in ("task_", "metric_", "trials_")},
                               ensemble_=SimpleNamespace(size=3, weights={0: 1}))
    assert P._trial_label(ensemble, None) == "model (ensemble of 3)"
    assert P._trial_label(result, None) == ("best pipeline" if result.ensemble_ is None
                                            else f"model (ensemble of {result.ensemble_.size})")
    assert P._trial_label(result, 2) == "trial 2"


def test_every_category_of_a_hyperparameter_is_labelled_in_view(searches):
    """blood's search tunes logistic regression's class_weight (None / 'balanced'): both ticks
    must fall inside the axis (autoscaling to jittered points once cut 'balanced' off, notebook
    02's search: x limits -0.10 to 0.94 with the tick at 1)."""
    result = searches["binary"]
    info = P._hyperparameter_info(result, "logistic_regression")
    categorical = [p["name"] for p in info.params if not p["numeric"]]
    assert "class_weight" in categorical
    fig = P.plot(result, "hyperparameters", family="logistic_regression")
    for ax in fig.axes:
        if ax.get_xlabel() in categorical:
            low, high = ax.get_xlim()
            ticks = list(ax.get_xticks())
            assert ticks and all(low < t < high for t in ticks), (ax.get_xlabel(), ticks, low, high)
            assert (low, high) == (-0.5, len(ticks) - 0.5)  # each category in the middle of its slot
            assert [t.get_text() for t in ax.get_xticklabels()] == sorted(
                {str(v) for v in next(p["values"] for p in info.params if p["name"] == ax.get_xlabel())})


def test_a_forest_on_text_shows_max_features_on_its_log_prior(tmp_path):
    """On text data the forests search max_features log-uniformly (0.002-1): the
    hyperparameter plot puts it on a log axis, as it does for every log prior."""
    from nbautoml import AutoML
    from tests.conftest import load_dataset

    frame, target, _ = load_dataset("spam")
    rows = frame.sample(800, random_state=0)
    result = AutoML(models=["random_forest"], max_evals=4, time_budget=None, seed=0, cv=3,
                    search_dir=tmp_path).fit(rows, target=target)
    values = [t.config["params"]["max_features"] for t in result.trials_ if t.status == "ok"]
    assert values[0] == 0.01 and all(0.002 <= v <= 1.0 for v in values)
    info = P._hyperparameter_info(result)
    assert next(p for p in info.params if p["name"] == "max_features")["log"] is True
    assert next(p for p in info.params if p["name"] == "n_estimators")["log"] is True
    fig = P.plot(result, "hyperparameters")
    axis = next(ax for ax in fig.axes if ax.get_xlabel() == "max_features")
    assert axis.get_xscale() == "log"
