"""Memory of a search on numeric data (issue 7): no extra full copy of the data in the refit."""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from nbautoml import AutoML
from nbautoml.engine import automl as automl_mod
from nbautoml.engine import evaluate as evaluate_mod
from nbautoml.engine.data import plan_columns
from nbautoml.engine.evaluate import fit_pipeline
from nbautoml.engine.space import build_pipeline, default_points

ROWS = 30_000
HGB = {"family": "hist_gradient_boosting", "params": {"max_iter": 10}, "pre": {}}


@pytest.fixture(autouse=True)
def _one_thread():
    """Boosting's OpenMP threads crawl when the cores are shared (as in the refit, one thread)."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def numeric():
    X, y = make_classification(n_samples=ROWS, n_features=20, n_informative=10, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    return frame, y, frame.memory_usage().sum()


def _traced_peak(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _received(pipeline):
    """Record the X the final estimator is fitted on."""
    seen = []
    model = pipeline.steps[-1][1]
    fit = model.fit

    def spy(X, y, **kw):
        seen.append(X)
        return fit(X, y, **kw)

    model.fit = spy
    return seen


def test_passthrough_reaches_the_model_without_a_copy(numeric):
    frame, y, _ = numeric
    pipeline = build_pipeline(HGB, plan_columns(frame), "binary", random_state=0)
    assert pipeline.steps[0][1].transformers[0][1] == "passthrough"
    seen = _received(pipeline)
    fit_pipeline(pipeline, frame, y)
    assert np.shares_memory(seen[0], frame["f0"].to_numpy())  # a view of the caller's frame
    del pipeline.steps[-1][1].fit
    # the fitted pipeline is the plain scikit-learn object, and predicts as pipeline.fit's does
    features = pipeline.named_steps["features"]
    assert type(features) is ColumnTransformer and "_hstack" not in vars(features)
    assert isinstance(pipeline, Pipeline) and isinstance(pipeline[-1], HistGradientBoostingClassifier)
    reference = build_pipeline(HGB, plan_columns(frame), "binary", random_state=0).fit(frame, y)
    np.testing.assert_array_equal(pipeline.predict_proba(frame), reference.predict_proba(frame))
    np.testing.assert_array_equal(features.transform(frame.head(50)), frame.head(50).to_numpy())


def test_refit_of_boosting_holds_one_copy_of_the_data_not_two(numeric):
    frame, y, data_bytes = numeric

    def fit(fitter):
        pipeline = build_pipeline(HGB, plan_columns(frame), "binary", random_state=0)
        return _traced_peak(lambda: fitter(pipeline))

    plain = fit(lambda p: p.fit(frame, y))
    ours = fit(lambda p: fit_pipeline(p, frame, y))
    # boosting's early-stopping split is a copy of the data (kept through the fit); the
    # ColumnTransformer's stack of the passthrough was a second one (at this size boosting's
    # own buffers add about another 1x: 3.3x and 2.2x of the data)
    assert plain - ours > 0.9 * data_bytes
    assert ours < 2.6 * data_bytes


def test_a_single_transformed_block_is_handed_on_as_np_hstack_gives_it(numeric):
    frame, y, _ = numeric
    small, y_small = frame.head(2000), y[:2000]
    config = default_points(["logistic_regression"], False, False, 8)[0]  # impute + scale
    pipeline = build_pipeline(config, plan_columns(small), "binary", random_state=0)
    seen = _received(pipeline)
    fit_pipeline(pipeline, small, y_small)
    del pipeline.steps[-1][1].fit
    stacked = pipeline.named_steps["features"].transform(small)  # np.hstack, as in a plain fit
    assert seen[0].flags.f_contiguous == stacked.flags.f_contiguous
    assert seen[0].flags.c_contiguous == stacked.flags.c_contiguous
    np.testing.assert_array_equal(seen[0], stacked)
    reference = build_pipeline(config, plan_columns(small), "binary", random_state=0).fit(small, y_small)
    np.testing.assert_array_equal(pipeline.predict_proba(small), reference.predict_proba(small))


def test_several_blocks_are_stacked(numeric):
    frame, y, _ = numeric
    small = frame.head(500).assign(colour=np.resize(["red", "green", "blue"], 500))
    pipeline = build_pipeline(HGB, plan_columns(small), "binary", random_state=0)
    seen = _received(pipeline)
    fit_pipeline(pipeline, small, y[:500])
    assert seen[0].shape == (500, 21) and seen[0].flags.owndata  # the usual stack: a new array
    assert "_hstack" not in vars(pipeline.named_steps["features"])


def test_ensemble_members_are_fitted_without_the_copy_too(numeric):
    frame, y, data_bytes = numeric
    original = ColumnTransformer.__dict__["_hstack"]

    def ensemble():
        members = [(f"m{i}", build_pipeline({**HGB, "params": {"max_iter": 5 + i}}, plan_columns(frame),
                                            "binary", random_state=0)) for i in range(2)]
        return Pipeline([("ensemble", VotingClassifier(members, voting="soft"))])

    plain = _traced_peak(lambda: ensemble().fit(frame, y))
    fitted = ensemble()
    ours = _traced_peak(lambda: fit_pipeline(fitted, frame, y))
    assert plain - ours > 0.9 * data_bytes  # the voter clones its members: each stacked its copy
    assert ColumnTransformer.__dict__["_hstack"] is original  # scikit-learn's own, after the fit
    reference = ensemble().fit(frame, y)
    np.testing.assert_array_equal(fitted.predict_proba(frame), reference.predict_proba(frame))


def test_stacking_is_restored_when_a_fit_fails(numeric):
    frame, _, _ = numeric
    original = ColumnTransformer.__dict__["_hstack"]
    pipeline = build_pipeline(HGB, plan_columns(frame), "binary", random_state=0)
    with pytest.raises(ValueError):
        fit_pipeline(pipeline, frame, np.zeros(len(frame) - 1))
    assert ColumnTransformer.__dict__["_hstack"] is original
    assert evaluate_mod._PATCH["users"] == 0 and evaluate_mod._UNSTACKING.depth == 0


@pytest.mark.slow
@pytest.mark.parametrize("ensemble", [False, True])
def test_search_keeps_only_the_predictions_it_uses_and_refits_without_a_copy(numeric, tmp_path, monkeypatch,
                                                                             ensemble):
    frame, y, data_bytes = numeric
    data = frame.assign(y=y)
    fits = []
    original = automl_mod.fit_pipeline

    def traced_refit(pipeline, X, y):
        plain = _traced_peak(lambda: clone(pipeline).fit(X, y))
        fits.append((plain, _traced_peak(lambda: original(pipeline, X, y))))
        return pipeline

    if not ensemble:  # (an ensemble's refit: test_ensemble_members_are_fitted_without_the_copy_too)
        monkeypatch.setattr(automl_mod, "fit_pipeline", traced_refit)
    # a weak one (trial 0) and three that a forced ensemble averages (trials 1-3)
    configs = [{"family": "hist_gradient_boosting", "params": params, "pre": {}} for params in (
        {"max_iter": 60, "max_leaf_nodes": 3}, {"max_iter": 50, "learning_rate": 0.3},
        {"max_iter": 50, "learning_rate": 0.3, "l2_regularization": 10.0, "max_features": 0.5},
        {"max_iter": 50, "max_leaf_nodes": 127, "min_samples_leaf": 2})]
    result = AutoML(warm_start=configs, n_default_points=0, max_evals=4, time_budget=None, cv="holdout",
                    ensemble=ensemble, seed=0, search_dir=tmp_path).fit(data, target="y")
    assert sum(t.status == "ok" for t in result.trials_) == 4
    assert (result.ensemble_ is not None) == ensemble
    members = set(result.ensemble_.weights) if ensemble else set()
    # the others' out-of-fold predictions (rows x 2 floats each) are freed before the refit
    assert set(result._oof) == {result.best_trial_.trial_id} | members
    assert 0 not in result._oof
    assert result.reference_profile_.prediction["source"] == "oof"
    if not ensemble:
        [(plain, ours)] = fits  # the refit's peak, and that of pipeline.fit on the same data
        assert plain - ours > 0.9 * data_bytes
    assert result.best_pipeline_.predict_proba(frame.head(5)).shape == (5, 2)
