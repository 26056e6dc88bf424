"""pandas dtypes beyond NumPy numbers and text, on real data: durations, periods, nullable and
Arrow dtypes, complex numbers.

A duration (``timedelta64``) is read in seconds and a period as its start date, before the
pipeline: the plan, the schema, the monitor and the exported code all see the same numbers.
Before, a duration went to TF-IDF as text ("0 days 01:00:00") and a monthly period was dropped as
an ID; prediction then refused the duration column.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

import nbautoml
from nbautoml import AutoML
from nbautoml.codegen import pipeline_code
from nbautoml.exceptions import DataError
from tests.conftest import load_dataset

SMALL = dict(max_evals=3, time_budget=None, n_jobs=1, seed=0, ensemble=False,
             models=["ridge", "hist_gradient_boosting"])


@pytest.fixture(scope="module")
def bike_as_durations(datasets_dir):
    """bike's hour as a duration and its day as a daily period, and the same data as NumPy
    numbers (hours in seconds) and datetimes."""
    frame, target, _ = load_dataset("bike", rows=1500, seed=0)
    frame = frame.drop(columns=["casual", "registered", "instant"], errors="ignore")
    durations = frame.assign(hr=pd.to_timedelta(frame["hr"], unit="h"),
                             dteday=pd.PeriodIndex(frame["dteday"], freq="D"))
    plain = frame.assign(hr=frame["hr"] * 3600.0, dteday=pd.to_datetime(frame["dteday"]))
    return durations, plain, target


@pytest.fixture(scope="module")
def bike_searches(bike_as_durations, tmp_path_factory):
    durations, plain, target = bike_as_durations
    train = slice(0, 1200)
    fitted = [AutoML(search_dir=tmp_path_factory.mktemp(name), **SMALL).fit(frame.iloc[train], target=target)
              for name, frame in (("durations", durations), ("plain", plain))]
    return fitted


def test_durations_and_periods_are_planned_as_seconds_and_dates(bike_as_durations, bike_searches):
    durations, _, _ = bike_as_durations
    result, _ = bike_searches
    plan = result.plan_.to_frame().set_index("column")
    assert plan.loc["hr", "dtype"].startswith("timedelta64")
    assert (plan.loc["hr", "role"], plan.loc["hr", "reason"]) == ("numeric", "durations, read in seconds")
    assert plan.loc["dteday", "dtype"] == "period[D]"
    assert plan.loc["dteday", "role"] == "datetime"
    assert plan.loc["dteday", "reason"].startswith("periods, read as their start")
    assert durations["hr"].dtype.kind == "m"  # the caller's frame is left alone


def test_a_search_on_durations_equals_the_search_on_seconds(bike_as_durations, bike_searches):
    durations, plain, target = bike_as_durations
    on_durations, on_seconds = bike_searches
    np.testing.assert_allclose(on_durations.leaderboard["score"], on_seconds.leaderboard["score"], rtol=1e-12)
    test_rows = slice(1200, None)
    np.testing.assert_allclose(on_durations.predict(durations.iloc[test_rows].drop(columns=target)),
                               on_seconds.predict(plain.iloc[test_rows].drop(columns=target)), rtol=1e-12)
    assert on_durations.score(durations.iloc[test_rows]) > 0.8  # hour of day is bike's strongest feature


def test_a_saved_model_on_durations_predicts_monitors_and_exports_code(bike_as_durations, bike_searches, tmp_path):
    durations, _, target = bike_as_durations
    result, _ = bike_searches
    new = durations.iloc[1200:]
    loaded = nbautoml.load(nbautoml.save(result, tmp_path / "bike.nbautoml"))
    np.testing.assert_allclose(loaded.predict(new.drop(columns=target)), result.predict(new.drop(columns=target)))
    assert loaded.predict(new.drop(columns=target).assign(hr=new["hr"].dt.total_seconds())).shape == (len(new),)

    report = nbautoml.monitor(loaded, new)
    assert "type_mismatch" not in set(report.findings["check"]), report
    assert report.metric_value == pytest.approx(result.score(new), rel=1e-9)

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(pipeline_code(result), {"df": durations.iloc[:1200]})
    assert f"{result.best_score_:.10f}" in printed.getvalue()


def test_nullable_and_arrow_dtypes_search_as_numpy_dtypes_do(titanic, tmp_path):
    """Arrow strings, nullable integers and floats with <NA>, a categorical and a boolean target:
    the same leaderboard as on the NumPy frame pandas reads from the CSV."""
    df = titanic.drop(columns=["Name", "Ticket", "Cabin"])
    modern = df.assign(
        Sex=df["Sex"].astype("string[pyarrow]"),
        Age=df["Age"].astype("Float64"),
        Pclass=df["Pclass"].astype("Int64"),
        Embarked=df["Embarked"].astype("category"),
        Fare=df["Fare"].astype("float64[pyarrow]"),
        Survived=df["Survived"].astype(bool),
    )
    assert modern["Age"].isna().sum() == 177
    fit = dict(SMALL, max_evals=2, models=["logistic_regression", "hist_gradient_boosting"])
    on_numpy = AutoML(search_dir=tmp_path / "numpy", **fit).fit(df, target="Survived")
    on_modern = AutoML(search_dir=tmp_path / "modern", **fit).fit(modern, target="Survived")
    np.testing.assert_allclose(on_modern.leaderboard["score"], on_numpy.leaderboard["score"], rtol=1e-9)
    predicted = on_modern.predict(modern.drop(columns="Survived").head(50))
    assert predicted.dtype == bool
    np.testing.assert_array_equal(predicted, on_numpy.predict(df.drop(columns="Survived").head(50)) == 1)
    assert on_modern.plan_.to_frame().set_index("column").loc["Age", "dtype"] == "Float64"
    printed = io.StringIO()  # the exported code reads <NA> as the search did
    with contextlib.redirect_stdout(printed):
        exec(pipeline_code(on_modern), {"df": modern})
    assert f"{on_modern.best_score_:.10f}" in printed.getvalue()
    # and the other way round: a model trained on NumPy dtypes takes <NA> at predict time
    assert on_numpy.best_config_["family"] == "hist_gradient_boosting"  # no imputer before it
    np.testing.assert_array_equal(on_numpy.predict_proba(modern.drop(columns="Survived")),
                                  on_numpy.predict_proba(df.drop(columns="Survived")))


def test_complex_numbers_are_refused_with_how_to_split_them():
    frame, target, _ = load_dataset("concrete", rows=200)
    frame["wave"] = frame.iloc[:, 0] + 1j * frame.iloc[:, 1]
    with pytest.raises(DataError, match=r"Complex numbers in: wave\..*\.real.*\.imag") as err:
        AutoML(**SMALL).fit(frame, target=target)
    assert err.value.code == "complex_values"


def test_repeated_column_names_are_refused_with_a_fix_pandas_still_has():
    frame, target, _ = load_dataset("concrete", rows=50)
    frame = pd.concat([frame, frame[["Age (day)"]]], axis=1)
    with pytest.raises(DataError, match=r"Duplicated column names: Age \(day\)") as err:
        AutoML(**SMALL).fit(frame, target=target)
    assert "mangle_dupe_cols" not in str(err.value)  # removed in pandas 2.0

