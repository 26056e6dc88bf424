"""Bad input to ``AutoML.fit``: errors that say what is wrong before the search, notes after it."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbautoml import AutoML
from nbautoml.engine import data as D
from nbautoml.engine.store import RunStore
from nbautoml.exceptions import ConfigError, DataError

FAST = dict(max_evals=2, time_budget=None, models=["logistic_regression"], n_jobs=1, ensemble=False)


def test_a_float_target_with_two_values_is_searched_and_predicted_as_its_labels(tmp_path):
    """Fractional class labels (1.5, 2.5) are used as text, with a warning that says so: the final
    refit raised scikit-learn's "Unknown label type: continuous" after the whole search (D-08)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    df = pd.DataFrame({"a": x, "b": rng.normal(size=300), "y": np.where(x > 0, 1.5, 2.5)})
    with pytest.warns(UserWarning, match=r"fractional class labels \(1\.5, 2\.5\).*task='regression'"):
        result = AutoML(search_dir=tmp_path, **FAST).fit(df, target="y")
    assert result.task_ == "binary"
    assert set(result.predict(df.drop(columns="y"))) == {"1.5", "2.5"}
    assert result.best_score_ > 0.95
    whole = df.assign(y=np.where(x > 0, 1.0, 0.0))  # whole numbers stored as floats stay numbers
    assert set(AutoML(search_dir=tmp_path, **FAST).fit(whole, target="y").predict(whole.drop(columns="y"))) == {0.0, 1.0}


def test_non_string_column_names_are_noted_and_the_callers_frame_is_left_alone(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({0: rng.normal(size=200), 1: rng.normal(size=200), "y": rng.integers(0, 2, 200)})
    result = AutoML(search_dir=tmp_path, **FAST).fit(df, target="y")
    assert list(df.columns) == [0, 1, "y"]
    assert result.plan_.notes == {"0": "named 0 (int) in the data; used as '0'",
                                  "1": "named 1 (int) in the data; used as '1'"}
    assert "notes: 0 (named 0 (int) in the data; used as '0'); 1 (" in repr(result)
    assert "Column notes</th><td" in result._repr_html_()
    assert result.summary()["column_notes"] == result.plan_.notes
    assert len(result.predict(df.drop(columns="y"))) == 200
    assert list(df.columns) == [0, 1, "y"]  # predict too works on a renamed copy


def test_multiindex_columns_are_refused_with_how_to_flatten_them():
    df = pd.DataFrame(np.zeros((5, 2)), columns=pd.MultiIndex.from_tuples([("a", "x"), ("b", "y")]))
    with pytest.raises(DataError, match=r"MultiIndex.*df\.columns = \['_'\.join") as info:
        D.split_target(df, y=np.arange(5))
    assert info.value.code == "multiindex_columns"


def test_a_target_missing_on_every_row_says_so(titanic, tmp_path):
    df = titanic.head(200).assign(Survived=np.nan)
    with pytest.raises(DataError, match=r"All 200 rows have a missing target 'Survived'.*Fill .* or drop") as info:
        AutoML(search_dir=tmp_path, **FAST).fit(df, target="Survived")
    assert info.value.code == "empty_target"
    assert not any(tmp_path.iterdir())  # refused before any search


def test_rows_without_a_target_are_reported_in_the_result(titanic, tmp_path):
    df = titanic.head(200).copy()
    df.loc[:9, "Survived"] = np.nan
    result = AutoML(search_dir=tmp_path, **FAST).fit(df, target="Survived")
    assert result.summary()["rows_dropped"] == 10
    assert "Rows left out</th><td" in result._repr_html_()  # the magic's output
    assert "10 rows without a target" in result._repr_html_()
    assert "  10 rows without a target were left out" in repr(result).splitlines()


def test_binary_on_a_continuous_target_suggests_regression():
    rng = np.random.default_rng(0)
    y = pd.Series(rng.normal(size=300) * 3 + 1, name="y")
    with pytest.raises(DataError, match="use task='regression'") as info:
        D.infer_task(y, "binary")
    assert info.value.code == "task_mismatch" and "multiclass" not in str(info.value)
    with pytest.raises(DataError, match="Use task='multiclass'"):  # three classes stay classes
        D.infer_task(pd.Series([1, 2, 3] * 10, name="y"), "binary")


def test_a_two_column_y_is_refused_with_its_shape():
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match=r"y must be one column .*got shape \(200, 2\)") as info:
        D.split_target(rng.normal(size=(200, 3)), y=rng.integers(0, 2, (200, 2)))
    assert info.value.code == "bad_target_shape"
    X, y = D.split_target(rng.normal(size=(200, 3)), y=rng.integers(0, 2, (200, 1)))  # one column is fine
    assert y.shape == (200,)


@pytest.mark.parametrize("fit, error, code", [
    # RELIABILITY D-05: whitespace, or the BOM that csv.reader leaves on employee.csv's first name
    (lambda t: AutoML(**FAST).fit(t, target=" Survived"), r"' Survived' not found. Did you mean 'Survived'\?",
     "target_not_found"),
    (lambda t: AutoML(**FAST).fit(t.rename(columns={"Survived": "satisfaction_level"}),
                                  target="\ufeffsatisfaction_level"),
     r"Did you mean 'satisfaction_level'\?", "target_not_found"),
    # D-08: a task that contradicts the target
    (lambda t: AutoML(task="regression", **FAST).fit(t.assign(Survived=t.Survived.map({0: "no", 1: "yes"})),
                                                     target="Survived"),
     "task='regression' needs a numeric target; 'Survived' holds str", "task_mismatch"),
    # no target at all: it was "KeyError: None" from the metric table
    (lambda t: AutoML(**FAST).fit(t), r"No target given: name the column to predict with fit\(df, "
     r"target='column'\), or pass it as y with fit\(X, y\)\. The data has 12 columns: PassengerId, Survived, ",
     "no_target"),
    # D-29: X and y of different lengths
    (lambda t: AutoML(**FAST).fit(t.drop(columns="Survived"), t.Survived.iloc[:-5]),
     "X has 891 rows but y has 886; they must match", "length_mismatch"),
    # folds that cannot be made
    (lambda t: AutoML(**FAST, cv=1).fit(t, target="Survived"), "k-fold needs at least 2 folds. Use cv='holdout'",
     "bad_cv"),
    (lambda t: AutoML(**FAST, cv="1").fit(t, target="Survived"), "cv=1: k-fold needs at least 2 folds",
     "bad_cv"),
    (lambda t: AutoML(**FAST, cv=2.5).fit(t, target="Survived"),
     r"cv=2\.5: give a number of folds \(an int >= 2\), a scheme such as 'stratified:5'", "bad_cv"),
    (lambda t: AutoML(**FAST, cv=True).fit(t, target="Survived"), "cv=True: give a number of folds", "bad_cv"),
    (lambda t: AutoML(**FAST, cv=50).fit(t.head(30), target="Survived"),
     "fewer members than the 50 validation folds.*use fewer folds", "tiny_class"),
    (lambda t: AutoML(**FAST, cv="group").fit(t, target="Survived"), "cv='group' needs groups=", "no_groups"),
    # roles= for a column that is not a feature: the target, the group column of the folds
    (lambda t: AutoML(**FAST, roles={"Survived": "categorical"}).fit(t, target="Survived"),
     "roles= names 'Survived', the target: roles are for the feature columns", "role_for_target"),
    (lambda t: AutoML(**FAST, cv="group:Pclass", roles={"Pclass": "categorical"}).fit(t, target="Survived"),
     "roles= names 'Pclass', the group column of the folds", "role_for_groups"),
])
def test_inputs_the_search_cannot_use_are_refused_before_it_starts(titanic, tmp_path, fit, error, code):
    with pytest.raises((DataError, ConfigError), match=error) as info:
        fit(titanic)
    assert info.value.code == code


def test_mixed_types_tz_aware_dates_and_an_all_missing_date_column_are_searched_and_predicted(titanic, tmp_path):
    """RELIABILITY D-18 and D-27: a column of ints, floats and strings is a category; tz-aware
    dates are expanded; a date column with no date is dropped; a 1-column DataFrame y (D-29) is y."""
    frame = titanic.assign(mixed=[1, 2.5, "a"] * 297,
                           when=pd.date_range("2020-01-01", periods=len(titanic), freq="D", tz="Europe/Paris"),
                           never=pd.NaT)
    X, y = frame.drop(columns="Survived"), frame[["Survived"]]
    result = AutoML(**FAST, search_dir=tmp_path).fit(X, y)
    roles = {c.name: c.role for c in result.plan_.columns}
    assert (roles["mixed"], roles["when"], roles["never"]) == ("categorical", "datetime", "dropped")
    assert result.status_ == "completed" and all(t.status == "ok" for t in result.trials_)
    new = X.head(20).assign(when=pd.NaT, mixed=["b", 7, None, 2.5] * 5)  # unseen values, no date at all
    assert set(result.predict(new)) <= {0, 1} and len(result.predict(X.tail(20))) == 20


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_out_of_range_is_named_with_the_range(titanic, seed):
    with pytest.raises(ConfigError, match=r"seed must be an int from 0 to 2\*\*32 - 1") as info:
        AutoML(seed=seed, **FAST).fit(titanic, target="Survived")
    assert info.value.code == "bad_seed" and str(seed) in str(info.value)


def test_a_search_dir_under_a_file_or_not_writable_is_refused_before_training(titanic, tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a directory") as info:
        AutoML(search_dir=afile / "runs", **FAST).fit(titanic, target="Survived")
    assert info.value.code == "bad_search_dir" and str(afile) in str(info.value)

    def deny(self, *args, **kwargs):  # as a read-only directory does (root ignores chmod)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", deny)
    with pytest.raises(ConfigError, match=r"Cannot write the search directory .*Permission denied") as info:
        AutoML(search_dir=tmp_path / "runs", **FAST).fit(titanic, target="Survived")
    assert info.value.code == "bad_search_dir"


def test_resume_with_a_misspelt_name_lists_the_searches_and_the_closest(titanic, tmp_path):
    for name in ("bloodsearch", "titanic-1"):
        RunStore(tmp_path / name).close()
    with pytest.raises(ConfigError, match="Did you mean 'bloodsearch'") as info:
        AutoML(search_dir=tmp_path, resume="bloodsearc", **FAST).fit(titanic, target="Survived")
    message = str(info.value)
    assert info.value.code == "resume_not_found"
    assert f"Searches in {tmp_path}: " in message and "bloodsearch" in message and "titanic-1" in message
    with pytest.raises(ConfigError, match="There are no searches in"):
        AutoML(search_dir=tmp_path / "empty", resume="x", **FAST).fit(titanic, target="Survived")


def test_a_column_that_determines_the_target_is_warned_as_possible_leakage(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    df = pd.DataFrame({"a": rng.normal(size=300), "leak": np.where(y == 1, "yes", "no"),
                       "noisy": np.where((y == 1) ^ (rng.random(300) < 0.1), "yes", "no"), "y": y})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = AutoML(search_dir=tmp_path, **FAST).fit(df, target="y")
    leak_warnings = [str(w.message) for w in caught if "leakage" in str(w.message)]
    assert leak_warnings == ["'leak' determines the target 'y' exactly: possible target leakage (a value "
                             "known only with the outcome?). A score near perfect would not hold on new "
                             "data. If so, leave it out: roles={'leak': 'dropped'}."]
    assert list(result.plan_.notes) == ["leak"] and "possible target leakage" in repr(result)


def _auto_mpg_like(n=200, seed=0):
    """A frame as pandas reads the UCI auto-mpg file: horsepower is text, with '?' for a missing value."""
    rng = np.random.default_rng(seed)
    horsepower = rng.uniform(50, 230, n).round()
    weight = rng.uniform(1600, 5100, n).round()
    mpg = 60 - 0.15 * horsepower - 0.004 * weight + rng.normal(0, 1, n)
    text = [f"{v:.1f}" for v in horsepower]
    for i in range(0, n, 33):
        text[i] = "?"
    return pd.DataFrame({"horsepower": pd.Series(text, dtype=object), "weight": weight,
                         "origin": rng.choice(["usa", "europe", "?"], n), "mpg": mpg})


def test_numbers_stored_as_text_with_placeholders_are_read_as_numbers_with_a_note(tmp_path):
    """D-19: a column such as ["1", "2.5", "?", "4"] (object dtype) was typed categorical, its numbers
    one-hot or ordinal codes. It is numeric now, with '?' taken as missing and noted; the pipeline
    reads the text itself, so predict on raw rows (with '?') and best_pipeline_ used directly work."""
    df = _auto_mpg_like()
    plan = D.plan_columns(df.drop(columns="mpg"))
    info = {c.name: c for c in plan.columns}
    assert info["horsepower"].role == "numeric" and info["horsepower"].reason == "numbers stored as text"
    assert plan.notes == {"horsepower": "read as numbers; 7 '?' values taken as missing"}
    assert info["horsepower"].missing_rate == 7 / 200
    assert info["origin"].role == "categorical"  # '?' among words: still categories (income.csv)
    codes = D.plan_columns(pd.DataFrame({"zip": ["02134", "10001", "30301", "?"] * 10,
                                         "mostly_gaps": ["1", "?", "?", "2", "?"] * 8,
                                         "id": [str(i) for i in range(40)]}))
    assert [c.role for c in codes.columns] == ["categorical", "categorical", "dropped"]
    assert D.plan_columns(pd.DataFrame({"s": ["1", "2.5", "4"] * 10})).columns[0].role == "numeric"

    new = pd.DataFrame({"horsepower": ["?", "130", " 95.0 "], "weight": [3500.0, 3000.0, 2000.0],
                        "origin": ["usa", "?", "europe"]})
    for family in ("ridge", "hist_gradient_boosting"):  # imputed, and left to the model (passthrough)
        result = AutoML(search_dir=tmp_path, max_evals=1, time_budget=None, models=[family], n_jobs=1,
                        ensemble=False).fit(df, target="mpg")
        assert "horsepower (read as numbers; 7 '?' values taken as missing)" in repr(result)
        assert result.summary()["column_notes"]["horsepower"] == "read as numbers; 7 '?' values taken as missing"
        assert "read as numbers" in result._repr_html_()
        assert result.best_score_ > 0.9, family  # categories of horsepower scored about 0.4
        assert np.isfinite(result.predict(new)).all()
        assert np.allclose(result.best_pipeline_.predict(new), result.predict(new))
        steps = result.best_pipeline_.named_steps["features"].named_transformers_["num"]
        assert type(steps.steps[0][1]).__name__ == "NumbersFromText"
    plain = AutoML(search_dir=tmp_path, max_evals=1, time_budget=None, models=["hist_gradient_boosting"],
                   n_jobs=1, ensemble=False).fit(df.assign(horsepower=pd.to_numeric(df.horsepower, errors="coerce")),
                                                 target="mpg")
    numbers = plain.best_pipeline_.named_steps["features"].named_transformers_["num"]
    assert type(numbers).__name__ == "FunctionTransformer"  # "passthrough" as before: no step added


def test_a_model_trained_on_numbers_in_text_saves_loads_and_predicts_rows_with_placeholders(tmp_path):
    """D-19: the saved model holds the text-to-numbers step (on the safe-load allowlist) and takes '?'."""
    import nbautoml

    df = _auto_mpg_like()
    result = AutoML(search_dir=tmp_path, max_evals=1, time_budget=None, models=["ridge"], n_jobs=1,
                    ensemble=False).fit(df, target="mpg")
    model = nbautoml.load(nbautoml.save(result, tmp_path / "mpg"))
    new = pd.DataFrame({"horsepower": ["?", "130", "NA"], "weight": [3500.0, 3000.0, 2000.0],
                        "origin": ["usa", "?", "europe"]})
    predicted = model.predict(new)
    assert np.isfinite(predicted).all()
    assert np.allclose(predicted, result.predict(new))
    # a number never seen in training is a number: 160 more horsepower, about 24 mpg less
    low, high = model.predict(new.iloc[[1, 1]].assign(horsepower=["61.5", "221.5"]))
    assert 15 < low - high < 35
    with pytest.raises(DataError, match="'horsepower' must be numeric.*'fast'"):  # not a placeholder
        model.predict(new.assign(horsepower=["fast", "1", "2"]))


def test_absurd_magnitudes_are_warned_about_with_the_column_and_the_search_goes_on(tmp_path):
    """D-14: a column with values near 1e308 was searched without a word, though every forest trial
    failed on it ("too large for dtype('float32')") and scaling squares it to inf."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    df = pd.DataFrame({"x": x, "huge": rng.normal(size=300) * 1e307, "y": (x > 0).astype(int)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = AutoML(search_dir=tmp_path, max_evals=3, time_budget=None,
                        models=["logistic_regression", "hist_gradient_boosting", "random_forest"], n_jobs=1,
                        ensemble=False).fit(df, target="y")
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert any(m.startswith("'huge' holds values of magnitude above 3.4e+38: overflow risk. Random forest") for m in messages), messages
    assert list(result.plan_.notes) == ["huge"] and "overflow risk" in result.plan_.notes["huge"]
    assert "huge (300 values of magnitude above 3.4e+38 (up to" in repr(result)
    assert result.best_pipeline_ is not None and result.best_score_ > 0.9
    assert "x" not in D.huge_magnitudes(df, D.plan_columns(df.drop(columns="y")))


def test_metric_auto_on_a_strongly_imbalanced_multiclass_target_is_balanced_accuracy(tmp_path):
    """D-11: metric='auto' was accuracy at 1000:5:5, where predicting 'a' always scores 0.99."""
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 1000 + ["b"] * 5 + ["c"] * 5)
    df = pd.DataFrame({"x1": rng.normal(size=1010) + 3 * (y == "b"), "x2": rng.normal(size=1010) + 3 * (y == "c"),
                       "y": y})
    result = AutoML(search_dir=tmp_path, **FAST).fit(df, target="y")
    assert result.metric_ == "balanced_accuracy"
    note = "chosen by metric='auto': classes 1000:5:5; accuracy would reward predicting the majority"
    assert result.summary()["metric_note"] == note
    assert f"  metric: balanced_accuracy ({note})" in repr(result).splitlines()
    assert "accuracy would reward predicting the majority" in result._repr_html_()
    for _, test in result.validation_.folds:  # every validation fold holds every class
        assert set(y[test]) == {"a", "b", "c"}
    explicit = AutoML(search_dir=tmp_path, metric="accuracy", **FAST).fit(df, target="y")
    assert explicit.metric_ == "accuracy" and explicit.summary()["metric_note"] is None
    mild = df.iloc[np.r_[0:190, 1000:1010]]  # 190:5:5 = 38:1:1 is imbalanced too; 19:1 is not
    assert AutoML(search_dir=tmp_path, **FAST).fit(mild, target="y").metric_ == "balanced_accuracy"
    from nbautoml.engine.metrics import choose_metric

    assert choose_metric("auto", "multiclass", pd.Series(["a"] * 95 + ["b"] * 5 + ["c"] * 5)) == ("accuracy", None)
    assert choose_metric("auto", "binary", pd.Series([0] * 1000 + [1] * 5)) == ("roc_auc", None)


def test_auto_folds_cut_to_the_smallest_class_say_so_and_each_holds_it(tmp_path):
    """D-11: cv='auto' quietly used 3 folds for a class of 3 rows; the validation now says why."""
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 500 + ["b"] * 3 + ["c"] * 4)
    df = pd.DataFrame({"x": rng.normal(size=len(y)), "y": y})
    result = AutoML(search_dir=tmp_path, **FAST).fit(df, target="y")
    assert result.validation_.description == "stratified 3-fold, as the smallest class has 3 rows"
    assert "(stratified 3-fold, as the smallest class has 3 rows)" in repr(result)
    assert all(set(y[test]) == {"a", "b", "c"} for _, test in result.validation_.folds)


def test_an_int_cv_on_classification_is_stratified_so_each_fold_holds_every_class(tmp_path):
    """cv=5 on 1000:5:5 was plain k-fold: validation folds without a 'b' or a 'c' (as scikit-learn
    does for a classifier, an int now means stratified k-fold; cv='kfold:5' asks for plain)."""
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 1000 + ["b"] * 5 + ["c"] * 5)
    df = pd.DataFrame({"x": rng.normal(size=len(y)), "y": y})
    result = AutoML(search_dir=tmp_path, cv=5, **FAST).fit(df, target="y")
    assert result.validation_.description == "stratified 5-fold"
    assert all(set(y[test]) == {"a", "b", "c"} for _, test in result.validation_.folds)
    plain = AutoML(search_dir=tmp_path, cv="kfold:5", **FAST).fit(df, target="y")
    assert plain.validation_.description == "5-fold"


def test_huge_magnitudes_checks_float_columns_in_one_pass_and_skips_inf_and_missing():
    from nbautoml.engine.data import huge_magnitudes, plan_columns

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(50, 6)), columns=list("abcdef"))
    X.loc[3, "a"], X.loc[4, "b"], X.loc[5, "c"] = 1e300, -1e39, np.inf  # c: inf is not a magnitude here
    X["d"] = np.nan
    X["e"] = X["e"].astype(str)  # numbers stored as text, checked column by column
    X.loc[7, "e"] = "2e300"
    plan = plan_columns(X.assign(d=0.0))  # an all-missing column would be dropped
    assert sorted(huge_magnitudes(X, plan)) == ["a", "b", "e"]


def test_a_target_named_by_a_number_is_found_again_by_score_and_the_saved_model(titanic, tmp_path):
    """A frame with 0, 1, ... as column names: fit made the target "1", and then score(),
    LoadedModel.score() and explain() looked for "1" among 0, 1, ... ("score() needs the target")."""
    import nbautoml

    frame = titanic.set_axis(range(titanic.shape[1]), axis=1)  # column 1 is Survived
    result = AutoML(search_dir=tmp_path, **FAST).fit(frame[:700], target=1)
    new = frame[700:]
    expected = AutoML(search_dir=tmp_path, **FAST).fit(titanic[:700], target="Survived").score(titanic[700:])
    assert result.score(new) == pytest.approx(expected, rel=1e-12)
    loaded = nbautoml.load(nbautoml.save(result, tmp_path / "numbered"))
    assert loaded.score(new) == pytest.approx(expected, rel=1e-12)
    assert result.explain(new, row=new.iloc[0]).row is not None


def test_class_labels_that_differ_only_in_spaces_or_case_are_warned_about(titanic, tmp_path):
    rng = np.random.default_rng(0)
    clean = titanic["Survived"].map({0: "no", 1: "yes"})
    messy = clean.where(rng.random(len(titanic)) > 0.5, clean.map({"no": "no ", "yes": " Yes"}))
    with pytest.warns(UserWarning, match=r"labels that differ only in spaces or case \('no' / 'no '; ' Yes' / "
                                         r"'yes'\): each is a class of its own.*\.str\.strip\(\)"):
        result = AutoML(search_dir=tmp_path, **FAST).fit(titanic.assign(Survived=messy), target="Survived")
    assert result.task_ == "multiclass"  # still the user's four labels: nothing is changed silently
    assert D.look_alike_labels(clean.rename("Survived"), "binary") is None
    assert D.look_alike_labels(pd.Series(["A", "a"] * 10), "regression") is None
