"""nbautoml.codegen: the written scikit-learn code rebuilds the pipeline and its CV score."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from nbautoml import AutoML
from nbautoml.codegen import pipeline_code

from .conftest import load_dataset

NO_NBAUTOML = """
import sys
assert not [m for m in sys.modules if m.startswith("nbautoml")], "nbautoml was imported"
"""


def run_fresh(code: str, frame, tmp_path) -> str:
    """Run ``code`` in a new interpreter with ``df`` loaded; return what it printed."""
    data = tmp_path / "data.pkl"
    frame.to_pickle(data)
    script = f"import pandas as pd\ndf = pd.read_pickle({str(data)!r})\n" + code + NO_NBAUTOML
    done = subprocess.run(
        [sys.executable, "-I", "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def printed_score(output: str, metric: str) -> float:
    return float(re.search(rf"CV {metric}: (-?[0-9.]+) ±", output).group(1))


@pytest.mark.parametrize(
    "name, rows, options, roles",
    [
        # text (Name), categoricals (Sex, Ticket, ...), an ID dropped; binary roc_auc, stratified
        ("titanic", 400, {"models": ["logistic_regression", "linear_svm"],
                          "roles": {"Name": "text"}},
         {"Name": "text", "Sex": "categorical", "PassengerId": "dropped"}),
        # dates as text ("1/1/2011") expanded by DatetimeFeatures; regression r2, k-fold
        ("bike", 600, {"models": ["ridge", "decision_tree"]},
         {"dteday": "datetime", "instant": "dropped"}),
        # string labels, multiclass roc_auc (one-vs-rest), a stratified holdout
        ("iris", None, {"models": ["logistic_regression"], "metric": "roc_auc",
                        "cv": "holdout:0.3"}, {"petal_width": "numeric"}),
    ],
)  # fmt: skip
def test_code_reproduces_the_cv_score_in_a_fresh_interpreter(
    datasets_dir, tmp_path, name, rows, options, roles
):
    frame, target, _ = load_dataset(name)
    frame = frame.head(rows) if rows else frame  # the first rows: IDs stay increasing
    result = AutoML(max_evals=2, time_budget=120, seed=0, ensemble=False, **options).fit(
        frame, target=target
    )
    plan = {c.name: c.role for c in result.plan_.columns}
    assert {column: plan.get(column) for column in roles} == roles  # what the data exercises
    code = pipeline_code(result)
    assert not re.search(r"^\s*(import|from)\s+nbautoml", code, re.M)
    output = run_fresh(code, frame, tmp_path)
    assert abs(printed_score(output, result.metric_) - result.best_score_) < 1e-6, output


def test_what_the_code_contains(datasets_dir):
    frame, target, _ = load_dataset("bike", rows=300)
    result = AutoML(max_evals=1, models=["ridge"], cv="timeseries:3", metric="mae", seed=3,
                    ensemble=False).fit(
        frame, target=target
    )
    code = pipeline_code(result, data_var="bikes")
    assert "class DatetimeFeatures(TransformerMixin, BaseEstimator):" in code
    assert "DATETIME_PARTS = ('year', 'month', 'day', 'day_of_week', 'day_of_year', 'hour')" in code
    assert "folds = list(TimeSeriesSplit(n_splits=3).split(rows))" in code
    assert "data = bikes[bikes[target].notna()]" in code
    assert "scores.append(mean_absolute_error(y_values[test], prediction))" in code
    assert "('date', date, ['dteday'])" in code  # the text dates go through DatetimeFeatures
    namespace = {"bikes": frame}
    exec(compile(code, "<code>", "exec"), namespace)  # noqa: S102 - the code under test
    assert abs(namespace["scores"][0] - result.best_trial_.fold_scores[0]) < 1e-9
    assert namespace["model"].predict(frame.head(5)).shape == (5,)


def test_trial_choice_and_errors(datasets_dir):
    frame, target, _ = load_dataset("iris")
    result = AutoML(max_evals=2, models=["logistic_regression", "decision_tree"], cv=3,
                    ensemble=False).fit(
        frame, target=target
    )
    other = next(t for t in result.trials_ if t.trial_id != result.best_trial_.trial_id)
    code = pipeline_code(result, trial=other.trial_id)
    assert f"trial {other.trial_id} of an nbautoml search" in code
    namespace = {"df": frame}
    exec(compile(code, "<code>", "exec"), namespace)  # noqa: S102 - the code under test
    assert abs(sum(namespace["scores"]) / 3 - other.score) < 1e-9
    with pytest.raises(ValueError, match=r"No trial 99; the trials are \[0, 1\]"):
        pipeline_code(result, trial=99)


@pytest.mark.parametrize(
    "name, rows, options",
    [
        # binary roc_auc on probabilities; a scaled linear model next to tree ensembles
        ("diabetes", None, {"models": ["logistic_regression", "random_forest", "knn"]}),
        # regression r2; one-hot categoricals (sex, smoker, region)
        pytest.param("insurance", None, {"models": ["ridge", "hist_gradient_boosting", "knn"]},
                     marks=pytest.mark.slow),
        # accuracy: the vote is the argmax of the averaged probabilities (text Name, categoricals)
        pytest.param("titanic", None, {"models": ["random_forest", "logistic_regression", "knn"],
                                       "metric": "accuracy"}, marks=pytest.mark.slow),
        # multiclass log loss on the averaged probabilities
        pytest.param("glass", None, {"models": ["random_forest", "logistic_regression", "knn"],
                                     "metric": "log_loss"}, marks=pytest.mark.slow),
    ],
)  # fmt: skip
def test_ensemble_code_reproduces_the_ensembles_score(datasets_dir, tmp_path, name, rows, options):
    frame, target, _ = load_dataset(name)
    result = AutoML(max_evals=8, time_budget=None, seed=0, ensemble=True, **options).fit(
        frame, target=target
    )
    assert result.ensemble_ is not None and result.ensemble_.size >= 2
    code = pipeline_code(result)
    assert "ensemble of" in code and f"weights=[{', '.join(map(str, result.ensemble_.weights.values()))}]" in code
    assert code.count("def build_trial_") == result.ensemble_.size
    output = run_fresh(code, frame, tmp_path)
    printed = float(re.search(rf"CV {result.metric_} of the ensemble \(out-of-fold, pooled\): "
                              r"(-?[0-9.]+)", output).group(1))
    assert abs(printed - result.ensemble_.score) < 1e-6, output
    # the single best trial is still written on request
    single = pipeline_code(result, trial=result.best_trial_.trial_id)
    assert "VotingClassifier" not in single and "VotingRegressor" not in single
