"""B-spline features for linear models (``pre["splines"]``): an additive model that bends
with the data and levels off beyond the training range."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, cross_val_score

import nbautoml
from nbautoml import AutoML
from nbautoml.engine import data, space

from ..conftest import load_dataset
from ..test_codegen import printed_score, run_fresh


def linear_config(task: str, plan, splines: bool) -> dict:
    """The search's first default linear config for the task, with or without splines."""
    linear = "ridge" if task == "regression" else "logistic_regression"
    config = next(c for c in space.default_points(space.resolve_families(task),
                                                  bool(plan.names("categorical")), False, 8, splines="search")
                  if c["family"] == linear)
    return dict(config, pre=dict(config["pre"], splines=splines, clip=True))


def test_linear_models_use_splines_on_regression_data_up_to_large_data():
    assert space.spline_mode("regression", space.LARGE_FIT_ROWS, 30) == "always"
    assert space.spline_mode("regression", space.LARGE_FIT_ROWS + 1, 30) == "search"
    assert space.spline_mode("binary", 100, 30) == space.spline_mode("multiclass", 100, 30) == "off"
    # many numbers (wide data among them): seven columns each would make the fits slow
    assert space.spline_mode("regression", 1_000, 285) == "always"
    assert space.spline_mode("regression", 1_000, 286) == space.spline_mode("regression", 200, 20_000) == "off"

    def points(fit_rows):
        splines = space.spline_mode("regression", fit_rows, 30)
        return space.default_points(space.resolve_families("regression"), True, False, 8, fit_rows,
                                    splines=splines)

    linear = [p for p in points(1_000) if space.FAMILIES[p["family"]].splines]
    assert [(p["family"], p["pre"].get("splines")) for p in linear] == [("ridge", True), ("ridge", None),
                                                                        ("lasso", True)]
    # always on splines: the scaler and clipping are moot and not searched; the ridge's plain
    # twin (scaled and clipped) is one point more, from which race.SplineChoice decides
    assert not {"scaler", "clip"} & set(linear[0]["pre"])
    assert linear[1] == space.without_splines(linear[0])
    assert linear[1]["pre"] == {**{k: v for k, v in linear[0]["pre"].items() if k != "splines"},
                                "scaler": "standard", "clip": True}
    assert len(points(1_000)) == 9
    # large data: plain ridge first (seven columns per number on many rows cost more), splines searched
    first = points(space.LARGE_FIT_ROWS + 1)[0]
    assert (first["family"], first["pre"]["splines"], first["pre"]["clip"]) == ("ridge", False, True)
    # the linear families only
    with_splines = {name for name, fam in space.FAMILIES.items()
                    if any(p.name == "splines" for p in space.pre_params(fam, True, False, splines="search"))}
    assert with_splines == {"ridge", "lasso", "elastic_net", "linear_svm"}
    with pytest.raises(ValueError, match="splines='yes'"):
        space.pre_params(space.FAMILIES["ridge"], True, False, splines="yes")


@pytest.mark.parametrize("name, models, expected", [
    ("concrete", ["ridge", "lasso", "elastic_net", "linear_svm"], {True}),  # regression: kept
    ("iris", ["logistic_regression", "linear_svm"], {None}),  # classification: never
])  # fmt: skip
def test_the_search_uses_splines_on_regression_data_only(name, models, expected):
    """On classification splines were measured and not kept (FINDINGS.md)."""
    frame, target, _ = load_dataset(name, rows=300)
    result = AutoML(models=models, max_evals=14, seed=0, n_jobs=1, ensemble=False).fit(frame, target=target)
    twin = [t for t in result.trials_ if t.source == "default" and "scaler" in t.config["pre"]
            and result.task_ == "regression"]
    assert {t.config["pre"].get("splines") for t in result.trials_ if t not in twin} == expected
    assert {t.family for t in result.trials_} == set(models)
    if result.task_ == "regression":  # the plain twin lost: 0.5975 against 0.768 on these 300 rows
        assert len(twin) == 1 and result.splines_ == "on splines (ridge r2 0.768; 0.5975 on plain numbers)"
    else:
        assert result.splines_ is None


def test_each_date_counts_as_six_numbers_toward_the_spline_cap():
    """bike's date column becomes six numbers (year ... hour); 40 copies of it with 46 numbers
    make 286 numbers, one above MAX_SPLINE_COLUMNS / 7 = 285, so no linear model takes splines
    (counted as one number each, the 86 columns were far below the cap)."""
    frame, target, _ = load_dataset("bike", rows=300)
    frame = frame[[target, "dteday", "temp"]]
    dates = {f"day{i}": frame["dteday"] for i in range(40)}
    numbers = {f"n{i}": frame["temp"] * (i + 1) for i in range(45)}
    wide = frame.assign(**dates, **numbers).drop(columns=["dteday"])
    assert 6 * 40 + 46 == space.MAX_SPLINE_COLUMNS // space.SPLINES_PER_NUMBER + 1
    result = AutoML(models=["ridge"], max_evals=1, seed=0, n_jobs=1, ensemble=False).fit(wide, target=target)
    assert {c.role for c in result.plan_.columns if c.name.startswith("day")} == {"datetime"}
    assert "splines" not in result.trials_[0].config["pre"]
    fewer = wide.drop(columns=["n0"])  # 285 numbers: at the cap, splines on
    result = AutoML(models=["ridge"], max_evals=1, seed=0, n_jobs=1, ensemble=False).fit(fewer, target=target)
    assert result.trials_[0].config["pre"]["splines"] is True


def test_the_spline_pipeline_replaces_clip_and_scaler_and_says_so():
    frame, target, task = load_dataset("concrete", rows=200)
    plan = data.plan_columns(frame.drop(columns=[target]))
    pipeline = space.build_pipeline(linear_config(task, plan, True), plan, task)
    steps = [name for name, _ in pipeline.named_steps["features"].transformers[0][1].steps]
    assert steps == ["impute", "splines"]
    plain = space.build_pipeline(linear_config(task, plan, False), plan, task)
    assert [n for n, _ in plain.named_steps["features"].transformers[0][1].steps] == ["impute", "clip", "scale"]
    assert space.describe(linear_config(task, plan, True)) == "[splines] ridge(alpha=1)"


def test_splines_fit_a_curved_relation_that_a_plain_linear_model_misses():
    """concrete: strength against age and the mix is far from linear (5-fold CV R²)."""
    frame, target, task = load_dataset("concrete")
    X, y = frame.drop(columns=[target]), frame[target]
    plan = data.plan_columns(X)
    folds = KFold(5, shuffle=True, random_state=0)
    scores = {splines: cross_val_score(space.build_pipeline(linear_config(task, plan, splines), plan, task),
                                       X, y, cv=folds, scoring="r2").mean()
              for splines in (False, True)}
    assert scores[True] > scores[False] + 0.1, scores  # measured: 0.82 against 0.61


def test_a_spline_model_levels_off_beyond_the_training_range():
    """A row far past every training maximum is predicted as at the maximum (no extrapolation)."""
    frame, target, task = load_dataset("house")
    X, y = frame.drop(columns=[target]), frame[target]
    plan = data.plan_columns(X)
    pipeline = space.build_pipeline(linear_config(task, plan, True), plan, task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.fit(X, y)
    numeric = plan.names("numeric")
    row = X.loc[[X["GrLivArea"].idxmax()]].copy()
    at_max, beyond = row.copy(), row.copy()
    at_max[numeric] = X[numeric].max().to_numpy()
    beyond[numeric] = X[numeric].max().to_numpy() * 3 + 1
    assert pipeline.predict(beyond)[0] == pytest.approx(pipeline.predict(at_max)[0], rel=1e-9)


@pytest.fixture(scope="module")
def concrete_splines():
    """A search whose best model is the spline ridge (concrete: 0.82 against 0.61 without)."""
    frame, target, _ = load_dataset("concrete", rows=500)
    result = AutoML(models=["ridge"], n_default_points=1, max_evals=1, seed=0, ensemble=False,
                    n_jobs=1).fit(frame, target=target)
    assert result.best_config_["pre"]["splines"] is True, result.leaderboard
    return result, frame, target


def test_a_spline_model_saves_and_loads_through_the_allowlist(concrete_splines, tmp_path):
    result, frame, target = concrete_splines
    path = tmp_path / "concrete.nbautoml"
    nbautoml.save(result, path)
    loaded = nbautoml.load(path)  # skops with the allowlist: no trusted= needed
    X = frame.drop(columns=[target])
    assert np.allclose(loaded.predict(X), result.predict(X))


def test_a_spline_model_is_written_as_code_that_gives_its_cv_score(concrete_splines, tmp_path):
    from nbautoml.codegen import pipeline_code

    result, frame, _ = concrete_splines
    code = pipeline_code(result)
    assert "('splines', SplineTransformer())" in code  # 5 knots, cubic, constant: the library's defaults
    output = run_fresh(code, frame, tmp_path)
    assert abs(printed_score(output, result.metric_) - result.best_score_) < 1e-6, output


def test_a_spline_model_exports_to_onnx_with_the_same_predictions(concrete_splines, tmp_path):
    """skl2onnx has no SplineTransformer converter; nbautoml registers one (export.py)."""
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    result, frame, target = concrete_splines
    rows = frame.drop(columns=[target]).iloc[:60].copy()
    rows.iloc[:20] = rows.iloc[:20] * 20  # far above the training range: constant there
    rows.iloc[20:30] = rows.iloc[20:30] * -1  # below it
    report = nbautoml.export_onnx(result, tmp_path / "m.onnx", check_rows=rows)
    assert report.passed and report.rows_checked == 60, report
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, report.feeds(rows))
    np.testing.assert_allclose(got.ravel(), result.predict(rows), rtol=1e-4)


def test_the_spline_pieces_are_the_transformers_own_values():
    """export.spline_pieces on skewed, constant and binary columns, inside and outside the range."""
    from sklearn.preprocessing import SplineTransformer

    from nbautoml.onnx_converters import spline_pieces

    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=200), rng.exponential(1000, size=200), np.ones(200), rng.integers(0, 2, 200)]
    transformer = SplineTransformer(extrapolation="constant").fit(X)
    knots, coefficients = spline_pieces(transformer)
    assert knots.shape == (4, 5) and coefficients.shape == (4, 4, 4, 7)
    Z = np.r_[X, X * 5 - 3, np.full((3, 4), -1e6)]
    clipped = np.clip(Z, knots[:, 0], knots[:, -1])
    rebuilt = np.zeros((len(Z), 4, 7))
    for i in range(knots.shape[1] - 1):
        left, right = knots[:, i], knots[:, i + 1]
        u = ((clipped - left) / np.where(right > left, right - left, 1.0))[..., None]
        inside = np.ones(Z.shape, bool)
        if i > 0:
            inside &= clipped >= left
        if i < knots.shape[1] - 2:
            inside &= clipped < right
        c = coefficients[i]
        rebuilt += inside[..., None] * (c[0] + u * (c[1] + u * (c[2] + u * c[3])))
    np.testing.assert_allclose(rebuilt.reshape(len(Z), -1), transformer.transform(Z), atol=1e-12)


def _trial(tid, family, splines, score, status="ok"):
    from nbautoml.engine.records import TrialRecord

    pre = {"splines": True} if splines else {"scaler": "standard", "clip": True}
    return TrialRecord(trial_id=tid, config={"family": family, "params": {}, "pre": pre},
                       status=status, score=score if status == "ok" else None)


@pytest.mark.parametrize("on, off, greater_is_better, mode", [
    (0.80, 0.75, True, "always"),  # splines better
    (0.75, 0.751, True, "always"),  # plain better, by less than 1 % of the error (0.249 vs 0.25)
    (0.75, 0.76, True, "off"),  # plain better by 4 % of the error
    (None, 0.5, True, "off"),  # the spline trial failed
    (0.5, None, True, "always"),  # the plain one failed
    (2.0, 1.5, False, "off"),  # a loss (RMSE): smaller is better
    (1.5, 1.505, False, "always"),
])  # fmt: skip
def test_the_spline_choice_keeps_splines_unless_plain_numbers_are_clearly_better(on, off, greater_is_better,
                                                                                 mode):
    from nbautoml.engine.race import SplineChoice

    choice = SplineChoice(greater_is_better)
    assert not choice.update([_trial(0, "ridge", True, on, "ok" if on is not None else "failed")])
    assert choice.note is None  # one side only: no decision yet
    trials = [_trial(0, "ridge", True, on, "ok" if on is not None else "failed"),
              _trial(1, "ridge", False, off, "ok" if off is not None else "failed"),
              _trial(2, "random_forest", False, 0.99)]  # other families play no part
    assert choice.update(trials, "r2") is (mode == "off")
    assert choice.mode == mode and choice.note.startswith("on plain numbers" if mode == "off" else "on splines")
    assert not choice.update(trials[:2][::-1])  # decided once
    # the losing variant stays on the leaderboard, but no final model or ensemble uses it
    assert [choice.rules_out(t) for t in trials] == [mode == "off", mode == "always", False]
    assert choice.outcome(trials) == choice.note
    disabled = SplineChoice(greater_is_better, enabled=False)
    assert not disabled.update(trials) and disabled.mode == "always" and disabled.note is None
    assert disabled.outcome(trials) is None
    undecided = SplineChoice(greater_is_better)  # the plain twin never finished
    assert not undecided.update(trials[:1]) and undecided.outcome(trials[2:]) is None
    assert undecided.outcome(trials[:1]).startswith("on splines (not compared with plain numbers")


def test_a_config_is_placed_only_in_the_space_of_its_spline_mode():
    families = space.resolve_families("regression")
    on = next(c for c in space.default_points(families, False, False, 1, splines="always"))
    plain = space.without_splines(on)
    for mode, fits, not_fits in (("always", on, plain), ("off", plain, on)):
        assert space.vals_from_config(fits, families, False, False, splines=mode) is not None
        assert space.vals_from_config(not_fits, families, False, False, splines=mode) is None
    assert space.without_splines(plain) == plain
    forest = {"family": "random_forest", "params": {}, "pre": {}}
    assert space.without_splines(forest) is forest


@pytest.mark.slow
def test_on_nearly_linear_data_the_search_goes_on_without_splines():
    """scikit-learn's diabetes data: 442 rows, ten nearly linear numbers. The default ridge scores
    0.4914 plain and 0.4801 on splines (5-fold CV R²): after that pair, every linear trial is
    plain."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    result = AutoML(max_evals=30, seed=0, n_jobs=1, ensemble=False).fit(frame, target="target")
    assert result.splines_ == "on plain numbers (ridge r2 0.4914; 0.4801 on splines)"
    linear = [t for t in result.trials_ if space.FAMILIES[t.family].splines]
    assert [t.config["pre"].get("splines") for t in linear[:2]] == [True, None]
    assert len(linear) > 5 and not any(t.config["pre"].get("splines") for t in linear[2:])
    assert result.best_config_["family"] in {"ridge", "lasso", "elastic_net", "linear_svm"}
    assert not result.best_config_["pre"].get("splines") and result.best_score_ > 0.49
    assert "linear models: on plain numbers" in repr(result)
    assert "Linear models" in result._repr_html_()


def test_when_splines_go_off_the_search_rebuilds_its_space_and_history_by_config():
    """The plain twin, outside the space on splines, enters TPE's history; the spline trial
    leaves it; the starting points still queued go on plain numbers."""
    from nbautoml.engine.metrics import get_metric
    from nbautoml.engine.race import SplineChoice
    from nbautoml.engine.search import Budget, Search

    families = ["ridge", "lasso", "random_forest"]
    choice = SplineChoice(greater_is_better=True)
    shape = dict(has_categorical=False, has_text=False)

    def vals_for(config, active):
        return space.vals_from_config(config, active, **shape, splines=choice.mode)

    points = space.default_points(families, False, False, 3, splines="always")
    assert [(c["family"], c["pre"].get("splines")) for c in points] == [
        ("ridge", True), ("ridge", None), ("random_forest", None), ("lasso", True)]
    search = Search(space.build_space(families, **shape, splines="always"), None, get_metric("r2", "regression"),
                    Budget(max_evals=20), points=[(vals_for(c, families), c) for c in points],
                    families=families, space_for=lambda active: space.build_space(active, **shape,
                                                                                  splines=choice.mode),
                    vals_for=vals_for, choices=[choice], prune_families=False)
    records = []
    for score in (0.48, 0.49):  # the ridge on splines, then its plain twin
        tid, vals, config, _ = search._ask()
        records.append(_trial(tid, config["family"], config["pre"].get("splines"), score))
        records[-1].config = config
        search.state.trials.append(records[-1])
        search._learned.add(tid)  # as Search._learn does: the race and the choices see it
        search._keep_oof(records[-1], np.zeros(5))
    assert [t["tid"] for t in search.hp_trials.trials] == [0]  # the twin was outside the space
    search._update_race()
    assert choice.mode == "off" and choice.note == "on plain numbers (ridge r2 0.49; 0.48 on splines)"
    assert [t["tid"] for t in search.hp_trials.trials] == [1]
    # the spline trial stays a record, but is no candidate for the final model or the ensemble
    assert [t.trial_id for t in search.state.trials] == [0, 1] and list(search.state.oof) == [1]
    assert [t.trial_id for t in search.candidate_trials()] == [1]
    queued = [c for _, c, _ in search.queue]
    assert [c["family"] for c in queued] == ["random_forest", "lasso"]
    assert queued[1]["pre"]["scaler"] == "standard" and "splines" not in queued[1]["pre"]
    for _ in range(14):  # the two queued points, then TPE: no linear model on splines
        tid, vals, config, _ = search._ask()
        assert not config["pre"].get("splines"), config
        search.state.trials.append(_trial(tid, config["family"], False, 0.3))


@pytest.mark.slow
def test_a_resumed_search_keeps_the_spline_choice_of_its_first_session(tmp_path, monkeypatch):
    """The decision is taken again from the stored trials: the lasso starting point, queued
    on splines when the first session stopped, runs on plain numbers in the second."""
    from sklearn.datasets import load_diabetes

    monkeypatch.setenv("NBAUTOML_HOME", str(tmp_path))
    frame = load_diabetes(as_frame=True).frame
    kw = dict(seed=0, n_jobs=1, ensemble=False)
    first = AutoML(max_evals=4, name="diabetes", **kw).fit(frame, target="target")
    assert first.splines_.startswith("on plain numbers")
    resumed = AutoML(max_evals=12, resume="diabetes", **kw).fit(frame, target="target")
    assert resumed.splines_ == first.splines_
    lasso = [t for t in resumed.trials_ if t.family == "lasso" and t.source == "default"]
    assert len(lasso) == 1 and "splines" not in lasso[0].config["pre"], lasso
    assert sum(bool(t.config["pre"].get("splines")) for t in resumed.trials_) == 1  # the first session's


@pytest.mark.parametrize("maker, expected", [
    ("linear", "on plain numbers (ridge r2 0.9866; 0.9609 on splines)"),  # a straight line: splines add noise
    ("friedman1", "on splines (ridge r2 0.8638; 0.6722 on plain numbers)"),  # sin, square: curves
])  # fmt: skip
def test_the_choice_follows_the_shape_of_the_truth(maker, expected):
    """Data whose truth is known: linear in ten numbers (make_regression) or Friedman's #1
    (sin(x0 x1), (x2 - 0.5)², linear in x3, x4; make_friedman1), 300 rows each."""
    from sklearn.datasets import make_friedman1, make_regression

    X, y = (make_regression(300, 10, noise=20, random_state=0) if maker == "linear"
            else make_friedman1(300, noise=1.0, random_state=0))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(y=y)
    result = AutoML(max_evals=2, seed=0, n_jobs=1, ensemble=False).fit(frame, target="y")
    assert result.splines_ == expected
