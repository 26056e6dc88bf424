"""ONNX export (skl2onnx + onnxruntime) and the ``nbautoml run --out`` path that made the model."""

from __future__ import annotations

import numpy as np
import pytest

import nbautoml
from nbautoml.export import ExportError


def test_cli_run_out_writes_a_loadable_artifact(blood_cli):
    path, holdout, target, output = blood_cli
    assert f"Saved the model to {path}" in output
    model = nbautoml.load(path)
    assert model.task_ == "binary" and model.target_ == target
    assert model.card["search"]["models"] == ["random_forest"] and model.card["search"]["max_evals"] == 1
    assert 0.0 <= model.score(holdout) <= 1.0


def test_onnx_export_matches_scikit_learn_on_held_out_rows(blood_cli, tmp_path):
    pytest.importorskip("skl2onnx", reason="ONNX export needs the 'onnx' extra (skl2onnx, onnxruntime)")
    ort = pytest.importorskip("onnxruntime", reason="ONNX export needs onnxruntime")
    path, holdout, target, _ = blood_cli
    model = nbautoml.load(path)
    X = holdout.drop(columns=[target])
    report = nbautoml.export_onnx(model, tmp_path / "blood.onnx", check_rows=X)
    assert report.passed and report.rows_checked == len(X)
    assert report.label_agreement >= 0.99 and report.max_abs_diff < 1e-3
    assert report.inputs == list(model.plan_.used) and report.size == (tmp_path / "blood.onnx").stat().st_size
    # independently: run the file with onnxruntime and compare with scikit-learn
    session = ort.InferenceSession(str(tmp_path / "blood.onnx"), providers=["CPUExecutionProvider"])
    feeds = {c: X[[c]].to_numpy(np.float32) for c in report.inputs}
    labels, probabilities = session.run(["label", "probabilities"], feeds)
    assert np.mean(labels == model.predict(X)) >= 0.99
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-3)
    assert "passed" in repr(report)


def test_cli_export_checks_the_onnx_file_on_held_out_rows(blood_cli, tmp_path, capsys):
    """``nbautoml export MODEL OUT --check DATA``: the holdout CSV keeps its target column,
    which the check leaves out; a check file without a model column fails and writes nothing."""
    pytest.importorskip("skl2onnx")
    from nbautoml.cli import main

    path, holdout, target, _ = blood_cli
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    assert main(["export", str(path), str(tmp_path / "blood.onnx"), "--check", str(tmp_path / "holdout.csv")]) == 0
    printed = capsys.readouterr().out
    assert f"parity passed on {len(holdout)} rows" in printed and (tmp_path / "blood.onnx").exists()
    assert "outputs: label, probabilities" in printed
    holdout.drop(columns=["Recency"]).to_csv(tmp_path / "short.csv", index=False)
    assert main(["export", str(path), str(tmp_path / "bad.onnx"), "--check", str(tmp_path / "short.csv")]) == 2
    assert "Recency" in capsys.readouterr().err and not (tmp_path / "bad.onnx").exists()


def test_failed_parity_check_writes_nothing(blood_cli, tmp_path):
    pytest.importorskip("skl2onnx", reason="ONNX export needs the 'onnx' extra (skl2onnx, onnxruntime)")
    path, holdout, target, _ = blood_cli
    with pytest.raises(ExportError, match="does not match scikit-learn") as info:
        nbautoml.export_onnx(path, tmp_path / "strict.onnx", check_rows=holdout.drop(columns=[target]),
                             atol=-1.0)
    assert info.value.code == "onnx_mismatch"
    assert not (tmp_path / "strict.onnx").exists()


def test_a_model_reading_free_text_exports(fitted, tmp_path):
    """titanic with Name as text (TF-IDF on "Braund, Mr. Owen Harris"), categories and
    missing values: the ONNX file predicts as scikit-learn on every row."""
    pytest.importorskip("skl2onnx", reason="ONNX export needs the 'onnx' extra (skl2onnx, onnxruntime)")
    ort = pytest.importorskip("onnxruntime")
    titanic = fitted("titanic")
    X = titanic.X
    report = nbautoml.export_onnx(titanic.result, tmp_path / "titanic.onnx", check_rows=X)
    assert report.text_inputs == ["Name"] and "Sex" in report.string_inputs
    assert report.passed and report.rows_checked == len(X) == 891
    assert report.label_agreement == 1.0 and report.max_abs_diff < 1e-5
    session = ort.InferenceSession(str(tmp_path / "titanic.onnx"), providers=["CPUExecutionProvider"])
    feeds = report.feeds(X)
    assert feeds["Name"][0, 0] == "braund, mr. owen harris"  # lowercased, as the graph reads it
    import json

    import onnx

    described = {d["column"]: d for d in json.loads(
        {p.key: p.value for p in onnx.load(tmp_path / "titanic.onnx").metadata_props}["nbautoml.inputs"])}
    assert list(described) == report.inputs and described["Name"]["feed"].startswith("string: the text lowercased")
    assert "'missing'" in described["Sex"]["feed"] and described["Age"]["feed"].startswith("float32")
    labels, probabilities = session.run(["label", "probabilities"], feeds)
    assert np.array_equal(labels, titanic.result.predict(X))
    np.testing.assert_allclose(probabilities, titanic.result.predict_proba(X), atol=1e-5)
    from nbautoml.magics.deployment import onnx_table

    html = onnx_table(report, True)._repr_html_()
    assert '1 string column [N, 1] (lowercased, accents stripped, a missing value as ""): Name' in html


def test_text_in_onnx_matches_scikit_learn_word_for_word():
    """The TF-IDF features of two text columns, from ONNX Runtime and from scikit-learn,
    on text that trips each difference between them: capitals and accents in several
    scripts ("CAFÉ", "Straße", "ΣΟΦΟΣ", "İstanbul", the ligature "ﬁ"), one-letter words
    between the words of a bigram, numbers, a vocabulary capped so that bigrams remain
    whose words were left out, repeated words (sublinear term frequencies), missing text."""
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    import pandas as pd
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType

    from nbautoml import onnx_converters
    from nbautoml.engine.data import plan_columns
    from nbautoml.engine.space import build_pipeline
    from nbautoml.export import _convertible

    rng = np.random.default_rng(0)
    words = ["Café", "cafe", "CAFÉ", "naïve.", "Straße", "ΣΟΦΟΣ", "σοφός", "Москва", "москва", "İstanbul", "a", "I",
             "x1", "don't", "e-mail", "42", "3.5", "über", "日本語", "snake_case", "ﬁne", "½", "²nd", "co-op"]
    phone = [f"call {number}" for number in rng.integers(100, 160, 400)]  # "call 123" as often as "123"
    X = pd.DataFrame({"note": [" ".join(rng.choice(words, rng.integers(1, 12))) + f" {call}" for call in phone],
                      "title": [" ".join(rng.choice(words, 3)) if i % 7 else None for i in range(400)]})
    plan = plan_columns(X, roles={"note": "text", "title": "text"})
    pipeline = build_pipeline({"family": "logistic_regression", "params": {}, "pre": {"text_max_features": 150}},
                              plan, "binary").fit(X, rng.choice(["no", "yes"], 400))
    features = pipeline.steps[0][1]
    vocabulary = features.named_transformers_["text0"].named_steps["tfidf"].vocabulary_
    assert any(" " in gram and not set(gram.split(" ")) <= set(vocabulary) for gram in vocabulary)
    convertible, options = _convertible(pipeline)
    onnx_converters.register()
    onx = to_onnx(convertible.steps[0][1], initial_types=[(c, StringTensorType([None, 1])) for c in X.columns],
                  options=options)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {c: onnx_converters.text_for_onnx(X[[c]]) for c in X.columns})
    expected = features.transform(X).toarray()
    assert got.shape == expected.shape == (400, 300)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # the model's copy was converted, not the model
    assert features.named_transformers_["text0"].named_steps["tfidf"].lowercase is True


def test_text_settings_onnx_cannot_reproduce_are_refused(tmp_path):
    pytest.importorskip("skl2onnx")
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X = pd.DataFrame({"review": ["good food", "bad food", "the good cafe", "the bad cafe"] * 5})
    pipe = make_pipeline(ColumnTransformer([("words", TfidfVectorizer(stop_words="english"), "review")]),
                         LogisticRegression()).fit(X, [1, 0, 1, 0] * 5)
    with pytest.raises(ExportError, match="stop_words='english'") as info:
        nbautoml.export_onnx(pipe, tmp_path / "review.onnx")
    assert info.value.code == "onnx_unsupported" and not (tmp_path / "review.onnx").exists()


def test_a_converter_failure_names_the_step(blood_cli, tmp_path):
    pytest.importorskip("skl2onnx", reason="ONNX export needs the 'onnx' extra (skl2onnx, onnxruntime)")
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, holdout, target, _ = blood_cli
    X, y = holdout.drop(columns=[target]), holdout[target]
    pipe = make_pipeline(StandardScaler(), NearestCentroid()).fit(X, y)
    with pytest.raises(ExportError, match="nearestcentroid") as info:
        nbautoml.export_onnx(pipe, tmp_path / "nc.onnx", check_rows=X)
    assert info.value.code == "onnx_unsupported"


def test_numbers_stored_as_text_export(tmp_path):
    """blood with its Monetary column as text ("1250", "?" for a tenth of the rows): the
    feeds parse it as the model does, so ONNX predicts as scikit-learn on raw rows."""
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from tests.conftest import load_dataset

    frame, target, _ = load_dataset("blood")
    frame["Monetary"] = [str(v) if i % 10 else "?" for i, v in enumerate(frame["Monetary"])]
    X, y = frame.drop(columns=[target]), frame[target]
    model = nbautoml.AutoML(models=["random_forest"], max_evals=1, n_jobs=1, ensemble=False, cv=3, seed=0).fit(X, y)
    assert "as_numbers" in str(model.best_pipeline_)
    report = nbautoml.export_onnx(model, tmp_path / "blood.onnx", check_rows=X)
    assert report.passed and report.label_agreement == 1.0
    session = ort.InferenceSession(str(tmp_path / "blood.onnx"), providers=["CPUExecutionProvider"])
    feeds = report.feeds(X)
    assert feeds[report.input_names["Monetary"]].dtype == np.float32
    _, probabilities = session.run(None, feeds)
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-5)


def test_feeds_read_raw_rows_as_the_model_does(tmp_path):
    """Durations, periods, formatted prices and nullable floats are converted by the model's
    input check; ``report.feeds`` on the raw rows applies it too (it gave the durations in
    microseconds and the periods as NaN: probabilities off by 0.94). A boolean target's
    labels come out of ONNX as 0 and 1 and are compared as such."""
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({"wait": pd.to_timedelta(rng.integers(60, 7200, n), unit="s"),
                      "month": pd.period_range("2020-01", periods=n, freq="D").asfreq("M"),
                      "price": [f"${v:,.2f}" for v in rng.uniform(10, 5000, n)],
                      "amount": pd.array(rng.normal(size=n), dtype="Float64")})
    y = (X["wait"].dt.total_seconds() > 3600) ^ (rng.random(n) < 0.1)
    model = nbautoml.AutoML(models=["logistic_regression"], max_evals=1, n_jobs=1, ensemble=False, cv=3,
                            seed=0).fit(X, y)
    assert model.classes_.dtype == bool and model.plan_.names("datetime") == ["month"]
    report = nbautoml.export_onnx(model, tmp_path / "waits.onnx", check_rows=X)
    assert report.passed and report.label_agreement == 1.0
    feeds = report.feeds(X)
    assert feeds["wait"][0, 0] == X["wait"].dt.total_seconds()[0] and not np.isnan(feeds["month"]).any()
    session = ort.InferenceSession(str(tmp_path / "waits.onnx"), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, feeds)
    assert np.array_equal(labels.astype(bool), model.predict(X))
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-5)


def test_unsupported_steps_inside_an_ensemble_are_named(monkeypatch):
    import warnings

    import pandas as pd

    from nbautoml import onnx_converters
    from nbautoml.engine.data import plan_columns
    from nbautoml.engine.ensemble import build_ensemble
    from nbautoml.engine.space import build_pipeline
    from nbautoml.export import unsupported_steps

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "c": rng.choice(["x", "y", "z"], 60)})
    plan = plan_columns(X)
    members = [(f, build_pipeline({"family": f, "params": {}, "pre": {}}, plan, "binary"), 1)
               for f in ("ridge", "decision_tree")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ensemble = build_ensemble(members, "binary").fit(X, rng.choice(["no", "yes"], 60))
    assert unsupported_steps(ensemble) == []  # categorical steps convert
    X["count"] = [str(v) if v % 9 else "?" for v in rng.integers(0, 50, 60)]  # numbers stored as text
    plan = plan_columns(X)
    members = [(f, build_pipeline({"family": f, "params": {}, "pre": {}}, plan, "binary"), 1)
               for f in ("ridge", "decision_tree")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ensemble = build_ensemble(members, "binary").fit(X, rng.choice(["no", "yes"], 60))
    assert unsupported_steps(ensemble) == []  # every step of nbautoml's converts; were one not to:
    monkeypatch.setattr(onnx_converters, "CONVERTIBLE_STEPS",
                        ("AsString", "OrdinalCategories", "OneHotCategories", "MedianImputer"))
    assert unsupported_steps(ensemble) == ["ensemble/ridge/features/num/as_numbers (NumbersFromText)",
                                           "ensemble/decision_tree/features/num/as_numbers (NumbersFromText)"]


def test_a_regressor_fitted_on_the_standardized_target_exports(tmp_path):
    # svm, mlp, lasso, elastic_net and linear_svm regressors sit in a TransformedTargetRegressor,
    # which skl2onnx has no converter for: nbautoml registers one (prediction * scale + mean)
    pytest.importorskip("skl2onnx")
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    result = nbautoml.AutoML(task="regression", models=["svm"], max_evals=1, n_jobs=1, ensemble=False,
                             cv=3).fit(X, y * 1000)
    assert type(result.best_pipeline_[-1]).__name__ == "TransformedTargetRegressor"
    report = nbautoml.export_onnx(result, tmp_path / "svr.onnx", check_rows=X.iloc[:100])
    assert report.passed and report.rows_checked == 100 and report.max_rel_diff < 1e-4
    assert (tmp_path / "svr.onnx").stat().st_size == report.size


def _split(name, rows=None):
    from sklearn.model_selection import train_test_split

    from tests.conftest import load_dataset

    frame, target, task = load_dataset(name, rows=rows)
    train, test = train_test_split(frame, test_size=0.3, random_state=0)
    return train.drop(columns=[target]), train[target], test.drop(columns=[target]), task


def _default_pipeline(family, X, y, task):
    from nbautoml.engine import data, space

    config = space.default_points([family], False, False, 1)[0]
    return space.build_pipeline(config, data.plan_columns(X), task).fit(X, y)


@pytest.mark.parametrize("name, family", [("glass", "hist_gradient_boosting"),
                                          ("concrete", "hist_gradient_boosting"),
                                          ("glass", "knn"), ("concrete", "knn")])
def test_boosting_and_distance_weighted_neighbors_export_with_the_same_predictions(name, family, tmp_path):
    """skl2onnx 1.20 cannot write HistGradientBoosting (a bool among integer flags) and weighs
    k-NN's neighbours uniformly; nbautoml mends both converters."""
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    X, y, X_test, task = _split(name)
    pipeline = _default_pipeline(family, X, y, task)
    if family == "knn":
        assert pipeline[-1].weights == "distance"
    report = nbautoml.export_onnx(pipeline, tmp_path / "m.onnx", check_rows=X_test)
    assert report.passed and report.rows_checked == len(X_test), report
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    if task == "regression":
        (got,) = session.run(None, report.feeds(X_test))
        expected = pipeline.predict(X_test)
        close = np.abs(got.ravel() - expected) <= 1e-4 * np.abs(expected).max()
        assert close.mean() >= 0.99, np.abs(got.ravel() - expected).max()
        if family == "knn":  # and not what equal weights give
            pipeline[-1].set_params(weights="uniform")
            assert np.abs(got.ravel() - pipeline.predict(X_test)).max() > 0.1
    else:
        labels, probabilities = session.run(["label", "probabilities"], report.feeds(X_test))
        assert np.mean(labels == pipeline.predict(X_test)) >= 0.99
        assert np.mean(np.abs(probabilities - pipeline.predict_proba(X_test)).max(axis=1) <= 1e-3) >= 0.99


@pytest.mark.parametrize("family", ["logistic_regression", "naive_bayes"])
def test_a_selection_of_the_first_column_alone_exports(family, tmp_path):
    """blood with select_percentile=25 keeps Recency, its first column, alone; skl2onnx 1.20
    wrote ConstantOfShape for that selection and ONNX Runtime refused the graph (a traceback
    from nbautoml export; a naive Bayes ensemble of a 5 s search hit it)."""
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from nbautoml.engine import data, space

    X, y, X_test, task = _split("blood")
    config = space.default_points([family], False, False, 1)[0]
    config["pre"]["select_percentile"] = 25
    pipeline = space.build_pipeline(config, data.plan_columns(X), task).fit(X, y)
    assert list(pipeline.named_steps["select"].get_support(indices=True)) == [0]
    report = nbautoml.export_onnx(pipeline, tmp_path / "m.onnx", check_rows=X_test)
    assert report.passed and report.label_agreement == 1.0 and report.max_abs_diff < 1e-5, report


def test_a_graph_onnx_runtime_refuses_is_an_export_error(blood_cli, tmp_path, monkeypatch):
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")

    def refuse(*args, **kwargs):
        raise ort.capi.onnxruntime_pybind11_state.InvalidGraph("[ONNXRuntimeError] : 10 : INVALID_GRAPH : made up")

    monkeypatch.setattr(ort, "InferenceSession", refuse)
    path, holdout, target, _ = blood_cli
    with pytest.raises(ExportError, match="ONNX Runtime cannot run .*INVALID_GRAPH : made up.*not written") as info:
        nbautoml.export_onnx(path, tmp_path / "m.onnx", check_rows=holdout.drop(columns=[target]))
    assert info.value.code == "onnx_invalid" and not (tmp_path / "m.onnx").exists()


def test_a_knn_model_on_sparse_features_converts(tmp_path):
    """titanic's one-hot and TF-IDF features are sparse; skl2onnx failed on k-NN's sparse training
    points ("Unexpected type ... csr_matrix ... 'OnnxScan'"). Written densely, the ONNX model
    predicts the labels; where neighbours tie (repeated values) the check names that cause."""
    pytest.importorskip("skl2onnx")
    import scipy.sparse

    X, y, X_test, task = _split("titanic")
    pipeline = _default_pipeline("knn", X, y, task)
    assert scipy.sparse.issparse(pipeline[-1]._fit_X)
    try:
        report = nbautoml.export_onnx(pipeline, tmp_path / "m.onnx", check_rows=X_test)
    except ExportError as err:
        assert err.code == "onnx_mismatch" and "neighbours at equal distances" in str(err), err
        report = err.details["report"]
    assert report.label_agreement >= 0.95, report
    assert scipy.sparse.issparse(pipeline[-1]._fit_X)  # the model keeps its sparse points


def test_a_knn_model_with_too_many_sparse_points_is_refused_by_name(tmp_path, monkeypatch):
    """spam's 4,179 x 10,000 TF-IDF points would be 42 million cells written densely."""
    pytest.importorskip("skl2onnx")
    from nbautoml import onnx_converters

    X, y, X_test, task = _split("titanic")
    pipeline = _default_pipeline("knn", X, y, task)
    rows, columns = pipeline[-1]._fit_X.shape
    monkeypatch.setattr(onnx_converters, "DENSE_NEIGHBOR_CELLS", rows * columns - 1)
    with pytest.raises(ExportError, match=rf"could not convert the step 'model': .*'KNeighborsClassifier' has "
                                          rf"{rows:,} x {columns:,} sparse training points, too many") as info:
        nbautoml.export_onnx(pipeline, tmp_path / "m.onnx", check_rows=X_test)
    assert info.value.code == "onnx_unsupported" and info.value.details["steps"] == ["model"]
    assert not (tmp_path / "m.onnx").exists()


def test_distance_weighted_neighbors_export_right_from_several_threads_at_once(tmp_path):
    """The k-NN mend swaps a skl2onnx function while it converts; two conversions at once
    could each restore the other's, leaving one graph with equal weights (refused by the check)."""
    pytest.importorskip("skl2onnx")
    from concurrent.futures import ThreadPoolExecutor

    X, y, X_test, task = _split("concrete")
    pipeline = _default_pipeline("knn", X, y, task)

    def export(i):
        return nbautoml.export_onnx(pipeline, tmp_path / f"m{i}.onnx", check_rows=X_test.head(60)).passed

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(export, range(12)))
    from skl2onnx.operator_converters import nearest_neighbours

    assert nearest_neighbours.onnx_nearest_neighbors_indices_k.__name__ == "onnx_nearest_neighbors_indices_k"


@pytest.mark.parametrize("name", ["diabetes", "concrete"])
def test_a_voting_ensemble_exports_with_the_same_predictions(name, tmp_path):
    """nbautoml's ensembles hold their weights in a list, which skl2onnx's voting converters
    cannot divide, and a soft VotingClassifier flattens transform(), which they refuse."""
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from nbautoml.engine.ensemble import build_ensemble

    X, y, X_test, task = _split(name)
    families = ["logistic_regression", "hist_gradient_boosting", "knn"] if task == "binary" else \
        ["ridge", "hist_gradient_boosting", "knn"]
    members = [(f, _default_pipeline(f, X, y, task), w) for f, w in zip(families, (2, 1, 1))]
    ensemble = build_ensemble(members, task).fit(X, y)
    assert isinstance(ensemble[-1].weights, list)
    report = nbautoml.export_onnx(ensemble, tmp_path / "e.onnx", check_rows=X_test)
    assert report.passed and report.value_agreement >= 0.95, report
    assert isinstance(ensemble[-1].weights, list)  # the model itself is left as it was


def test_a_regressor_that_does_not_match_is_not_written(tmp_path):
    pytest.importorskip("skl2onnx")
    X, y, X_test, task = _split("concrete")
    pipeline = _default_pipeline("ridge", X, y, task)
    with pytest.raises(ExportError, match="does not match scikit-learn") as info:
        nbautoml.export_onnx(pipeline, tmp_path / "r.onnx", check_rows=X_test, rtol=-1.0)
    assert info.value.details["report"].value_agreement == 0.0
    assert not (tmp_path / "r.onnx").exists()
    assert "(a k-NN step)" not in str(info.value) and "(an SVM step)" not in str(info.value)


def test_a_mismatch_names_float32_rounding_for_an_svm_with_a_large_c(tmp_path):
    """concrete: an RBF SVR with C=3000 sums 600 support vectors with large coefficients;
    float32 arithmetic alone moves its predictions by up to ~0.05 (a 5 s search's ensemble held
    one with C=336: 31 % of the rows within 1e-4 of the scale, numpy in float32 0.052 off)."""
    pytest.importorskip("skl2onnx")
    from nbautoml.engine import data, space

    X, y, X_test, task = _split("concrete")
    config = space.default_points(["svm"], False, False, 1)[0]
    config["params"].update(C=3000.0, gamma=0.22)
    pipeline = space.build_pipeline(config, data.plan_columns(X), task).fit(X, y)
    with pytest.raises(ExportError, match=r"or \(an SVM step\) float32 rounding in its sum over the support") as info:
        nbautoml.export_onnx(pipeline, tmp_path / "s.onnx", check_rows=X_test)
    report = info.value.details["report"]
    assert 0.5 < report.value_agreement < 0.95 and report.max_rel_diff < 0.01, report


@pytest.mark.parametrize("family", ["ridge", "random_forest", "hist_gradient_boosting"])
def test_categorical_columns_export_as_strings(fitted, family, tmp_path):
    """house: 43 categorical columns (one-hot for ridge, ordinal codes for the trees), some
    with more than 20 categories (an infrequent one for the rest) and missing values; test
    rows hold categories never seen in training."""
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from nbautoml.engine import data
    from nbautoml.magics.deployment import onnx_table

    X, y, X_test, task = _split("house")
    plan = data.plan_columns(X)
    categorical = plan.names("categorical")
    unseen = [c for c in categorical if set(X_test[c].dropna()) - set(X[c].dropna())]
    assert len(categorical) > 40 and unseen  # e.g. a Neighborhood or Exterior1st value
    pipeline = _default_pipeline(family, X, y, task)
    report = nbautoml.export_onnx(pipeline, tmp_path / "house.onnx", check_rows=X_test)
    assert report.passed and report.value_agreement >= 0.99, report
    assert report.string_inputs == categorical
    session = ort.InferenceSession(str(tmp_path / "house.onnx"), providers=["CPUExecutionProvider"])
    feeds = report.feeds(X_test)
    assert feeds[report.input_names[categorical[0]]].dtype == object
    (got,) = session.run(None, feeds)
    expected = pipeline.predict(X_test)
    assert np.mean(np.abs(got.ravel() - expected) <= 1e-4 * np.abs(expected).max()) >= 0.99
    numbers = len(report.inputs) - len(categorical)
    html = onnx_table(report, False)._repr_html_()
    assert f"{numbers} float32 columns [N, 1]" in html and f"{len(categorical)} string columns [N, 1]" in html


def test_category_slots_match_scikit_learn_encoders():
    """The category -> code / one-hot column map the converters write, against sklearn's own
    transform, for columns with and without infrequent categories."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    from nbautoml.onnx_converters import category_slots

    rng = np.random.default_rng(0)
    many = [f"c{i:02d}" for i in range(30)]
    weights = np.linspace(1, 3, 30) / np.linspace(1, 3, 30).sum()
    X = np.c_[rng.choice(["x", "y"], 500), rng.choice(many, 500, p=weights)].astype(object)
    probe = np.c_[np.array(["x"] * 30), np.array(many)].astype(object)
    ordinal = OrdinalEncoder(max_categories=20).fit(X)
    slots, n_slots, rare = category_slots(ordinal)[1]
    assert rare and n_slots == 20
    assert [slots[c] for c in many] == ordinal.transform(probe)[:, 1].tolist()
    one_hot = OneHotEncoder(max_categories=20, sparse_output=False).fit(X)
    assert category_slots(one_hot)[0][1:] == (2, False)
    assert [slots[c] for c in many] == one_hot.transform(probe)[:, 2:].argmax(axis=1).tolist()


def test_date_parts_in_onnx_match_pandas_for_two_centuries():
    """The calendar arithmetic of the DatetimeFeatures converter against pandas: 5,000 random
    times from 1890 to 2100 (before 1970 too), leap days, 1900 (no leap year), missing dates,
    a datetime column and a text one."""
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    import pandas as pd
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType
    from sklearn.compose import ColumnTransformer

    from nbautoml import onnx_converters
    from nbautoml.engine.transformers import DatetimeFeatures

    rng = np.random.default_rng(0)
    first, last = pd.Timestamp("1890-01-01").value // 10**9, pd.Timestamp("2100-12-31").value // 10**9
    when = pd.Series(pd.to_datetime(rng.integers(first, last, 5000), unit="s"))
    edges = pd.to_datetime(["2000-02-29 23:59:59", "1900-02-28", "1900-03-01", "2000-12-31", "1969-12-31 23:00",
                            "2024-12-31 13:00", None], format="mixed")
    when = pd.concat([when, pd.Series(edges)], ignore_index=True)
    X = pd.DataFrame({"at": when, "on": when.dt.strftime("%m/%d/%Y").where(when.notna(), None)})
    dates = ColumnTransformer([("date", DatetimeFeatures(), ["at", "on"])]).fit(X)
    assert len(dates.get_feature_names_out()) == 11  # six parts of "at", five of "on" (no hour)
    onnx_converters.register()
    onx = to_onnx(dates, initial_types=[("at", DoubleTensorType([None, 1])), ("on", DoubleTensorType([None, 1]))])
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {c: onnx_converters.days_since_epoch(X[[c]]).reshape(-1, 1) for c in X.columns}
    (got,) = session.run(None, feeds)
    expected = dates.transform(X)
    assert np.isnan(got[-1]).all() and np.isnan(expected[-1]).all()  # the missing date
    np.testing.assert_array_equal(got, expected)


def test_a_model_with_a_date_column_exports(tmp_path):
    """bike's dteday ("1/1/2011") is a float64 input: days since 1970."""
    pytest.importorskip("skl2onnx")
    pytest.importorskip("onnxruntime")
    from nbautoml.magics.deployment import onnx_table

    X, y, X_test, task = _split("bike", rows=3000)
    result = nbautoml.AutoML(models=["ridge", "hist_gradient_boosting"], max_evals=4, n_jobs=1, seed=0,
                             cv=3).fit(X, y)
    assert result.plan_.names("datetime") == ["dteday"]
    report = nbautoml.export_onnx(result, tmp_path / "bike.onnx", check_rows=X_test)
    assert report.passed and report.value_agreement >= 0.99, report
    assert report.date_inputs == ["dteday"] and report.string_inputs == []
    assert report.feeds(X_test.iloc[:1])["dteday"].dtype == np.float64
    assert "1 float64 column [N, 1] (days since 1970-01-01" in onnx_table(report, False)._repr_html_()


def test_float_class_labels_agree_with_the_int64_labels_of_onnx(tmp_path):
    """CTG's classes are 1.0, 2.0, 3.0; ONNX gives them back as int64 1, 2, 3 (the same labels)."""
    pytest.importorskip("skl2onnx")
    X, y, X_test, task = _split("glass")
    pipeline = _default_pipeline("logistic_regression", X, y.astype(float), task)
    assert pipeline.classes_.dtype == np.float64
    report = nbautoml.export_onnx(pipeline, tmp_path / "glass.onnx", check_rows=X_test)
    assert report.passed and report.label_agreement == 1.0, report


def test_onnx_export_of_a_model_with_a_decision_threshold_predicts_its_labels(datasets_dir, tmp_path):
    """``AutoML(decision_threshold=...)`` wraps the last step in ``FixedThresholdClassifier``, which
    skl2onnx has no converter for: nbautoml's cuts the probabilities at the threshold, for labels
    that are numbers or strings."""
    pytest.importorskip("skl2onnx", reason="ONNX export needs the 'onnx' extra (skl2onnx, onnxruntime)")
    ort = pytest.importorskip("onnxruntime", reason="ONNX export needs onnxruntime")
    from tests.conftest import load_dataset

    frame, target, _ = load_dataset("diabetes")
    frame[target] = frame[target].map({0: "healthy", 1: "diabetic"})  # "healthy" is the positive class
    train = frame.sample(frac=0.75, random_state=1)
    X = frame.drop(train.index).drop(columns=[target])
    result = nbautoml.AutoML(metric="f1", max_evals=4, time_budget=None, models=["random_forest"],
                             ensemble=False, decision_threshold=0.8, search_dir=tmp_path).fit(train, target=target)
    assert result.decision_threshold_ == 0.8 and list(result.classes_) == ["diabetic", "healthy"]
    report = nbautoml.export_onnx(result, tmp_path / "cut.onnx", check_rows=X)
    assert report.passed and report.label_agreement == 1.0
    session = ort.InferenceSession(str(tmp_path / "cut.onnx"), providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(["label", "probabilities"], report.feeds(X))
    expected = result.predict(X)
    np.testing.assert_array_equal(labels, expected)
    assert (expected == "diabetic").sum() > (result.predict_proba(X)[:, 0] > 0.5).sum()  # the cut moved rows
    np.testing.assert_allclose(probabilities, result.predict_proba(X), atol=1e-5)


def test_onnx_export_of_an_ensemble_with_a_decision_threshold(datasets_dir, tmp_path):
    """An ensemble is the pipeline's first step, so the threshold around it takes every column
    as an input of its own (skl2onnx's classifier shapes allow one: "at most 1 input(s) is(are)
    supported but we got 4", found by exporting blood's f1 model)."""
    pytest.importorskip("skl2onnx", reason="ONNX export needs the 'onnx' extra (skl2onnx, onnxruntime)")
    pytest.importorskip("onnxruntime", reason="ONNX export needs onnxruntime")
    from sklearn.ensemble import VotingClassifier
    from sklearn.model_selection import FixedThresholdClassifier

    from tests.conftest import load_dataset

    frame, target, _ = load_dataset("blood")
    train = frame.sample(frac=0.75, random_state=1)
    X = frame.drop(train.index).drop(columns=[target])
    result = nbautoml.AutoML(metric="f1", max_evals=6, time_budget=None, ensemble=True, decision_threshold=0.3,
                             models=["logistic_regression", "random_forest"], search_dir=tmp_path).fit(train, target=target)
    (_, first), = result.best_pipeline_.steps
    assert isinstance(first, FixedThresholdClassifier) and isinstance(first.estimator, VotingClassifier)
    report = nbautoml.export_onnx(result, tmp_path / "ensemble.onnx", check_rows=X)
    assert report.passed and report.label_agreement == 1.0 and len(report.inputs) == 4
