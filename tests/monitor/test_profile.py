"""The reference profile: per-role sketches, the fit-time hook and its failure handling."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from nbautoml.monitor import ReferenceProfile, build_profile, monitor
from nbautoml.monitor import profile as profile_mod
from tests.conftest import load_dataset


@pytest.fixture(scope="module")
def titanic_fit(datasets_dir, tmp_path_factory):
    """One search whose profile builder fails at fit time (the profile is built afterwards)."""
    from nbautoml import AutoML

    def broken(result):
        raise RuntimeError("sketch exploded")

    frame, target, _ = load_dataset("titanic")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("nbautoml")
    logger.addHandler(handler)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(profile_mod, "build_profile", broken)
        result = AutoML(
            max_evals=1,
            time_budget=60,
            seed=0,
            models=["logistic_regression"],
            search_dir=tmp_path_factory.mktemp("profile_runs"),
        ).fit(frame, target=target)
    logger.removeHandler(handler)
    at_fit = result.reference_profile_
    result.reference_profile_ = build_profile(result)
    return result, frame, at_fit, [r.getMessage() for r in records]


def test_a_failing_profile_does_not_lose_the_search(titanic_fit):
    result, frame, at_fit, messages = titanic_fit
    assert result.best_pipeline_ is not None and at_fit is None
    assert "nbautoml: no monitoring reference profile (RuntimeError: sketch exploded)" in messages
    # monitor() builds a missing profile from the training data still in memory
    saved, result.reference_profile_ = result.reference_profile_, None
    try:
        assert monitor(result, frame.iloc[:300], history=False).status in ("ok", "warn", "alert")
        assert isinstance(result.reference_profile_, ReferenceProfile)
    finally:
        result.reference_profile_ = saved


def test_titanic_profile_covers_the_used_columns_only(titanic_fit):
    result, frame, _, _ = titanic_fit
    profile = result.reference_profile_
    assert list(profile.features) == result.plan_.used
    assert set(profile.ignored_columns) == set(result.plan_.dropped)
    kinds = {name: info["kind"] for name, info in profile.features.items()}
    assert (
        kinds["Sex"] == "categorical"
        and kinds["Pclass"] == "discrete"
        and kinds["Fare"] == "continuous"
    )
    assert profile.features["Age"]["missing_rate"] == pytest.approx(frame["Age"].isna().mean())
    assert profile.features["Fare"]["max"] == pytest.approx(frame["Fare"].max())
    assert profile.prediction["source"] == "oof"
    # dropped (ID-like) columns in a batch are neither new columns nor checked
    report = monitor(result, frame.iloc[:200], history=False)
    assert "new_column" not in set(report.findings["check"])


def test_without_out_of_fold_predictions_the_refit_model_is_used(titanic_fit):
    result = titanic_fit[0]
    saved = result._oof
    try:
        result._oof = {}
        profile = build_profile(result)
    finally:
        result._oof = saved
    assert profile.prediction["source"] == "in-sample"


def test_text_columns_are_profiled_by_length_and_dates_as_days():
    text = pd.Series(["short", None, "a much longer message here", "mid length"] * 50)
    info = profile_mod.profile_column(text, text, "text")
    assert info["kind"] == "continuous" and info["missing_rate"] == 0.25
    assert info["quantiles"][0] == 5 and info["quantiles"][-1] == 26
    dates = pd.Series(pd.date_range("2020-01-01", periods=400, freq="D").strftime("%Y-%m-%d"))
    info = profile_mod.profile_column(dates, dates, "datetime")
    assert info["min"] == pytest.approx(18262.0)  # days since 1970-01-01
    values, n_bad, example = profile_mod.column_values(
        pd.Series(["2021-05-01", "not a date"]), "datetime"
    )
    assert n_bad == 1 and example == "not a date" and not np.isnan(values[0])


def test_a_profile_from_a_newer_format_is_refused(titanic_fit):
    data = titanic_fit[0].reference_profile_.to_dict()
    data["version"] = 99
    with pytest.raises(ValueError, match="format version 99.*Upgrade nbautoml"):
        ReferenceProfile.from_dict(data)


def test_a_model_without_a_profile_is_refused_with_the_fix(titanic_fit):
    class Loaded:
        best_pipeline_ = titanic_fit[0].best_pipeline_
        reference_profile_ = None

    with pytest.raises(ValueError, match="no reference profile.*Refit the model"):
        monitor(Loaded(), titanic_fit[1].iloc[:10], history=False)


def test_only_a_single_tree_takes_its_in_sample_predictions_as_reference():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    assert profile_mod._single_tree(make_pipeline(StandardScaler(), DecisionTreeRegressor()))
    # k-NN predicts its own label in-sample and forests are over-confident: they keep OOF
    assert not profile_mod._single_tree(make_pipeline(StandardScaler(), KNeighborsClassifier()))
    assert not profile_mod._single_tree(make_pipeline(RandomForestClassifier()))
