"""Numbers written for people ("$1,234.50", "12.5%", "(300)") read as numbers, in features and
in a regression target, the same way by fit, predict, score, monitor, explain and the exported
code. Before, such a feature was dropped as an ID or one-hot on its 20 most common values, and
such a target became a multiclass task with a class per price.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings

import numpy as np
import pytest

import nbautoml
from nbautoml import AutoML
from nbautoml.codegen import pipeline_code
from nbautoml.engine.data import plan_columns
from nbautoml.engine.transformers import formatted_number
from tests.conftest import load_dataset

SMALL = dict(max_evals=2, time_budget=None, n_jobs=1, seed=0, ensemble=False,
             models=["ridge", "hist_gradient_boosting"])
FOUR = dict(SMALL, max_evals=4)  # the first two are ridge's: a boosting trial for a good score


@pytest.mark.parametrize("text, value", [
    ("$1,234.50", 1234.5), ("12.5%", 12.5), ("(300)", -300.0), ("(1,234.5)", -1234.5), ("-€5", -5.0),
    ("$-5", -5.0), ("£ 1,234,567", 1234567.0), ("  42  ", 42.0), ("1e3", 1000.0), ("9,999", 9999.0),
    ("23.4 kmpl", 23.4), ("1,248 CC", 1248.0), ("12kg", 12.0), ("20.0 km/kg", 20.0), ("4.5 m²", 4.5),
    ("3rd", 3.0), ("05:01:27", 18087.0), ("3:47", 227.0), ("1:02:03.5", 3723.5), ("14:30", 870.0),
])
def test_formatted_numbers_are_read(text, value):
    assert formatted_number(text) == value


@pytest.mark.parametrize("text", ["9,99", "1,23", "abc", "?", "", "$", "%", "()", "1.234,5", "kg 12",
                                  "3 apples and pears", "12:60", "1:2", "1:00:00:00"])
def test_text_that_is_not_a_number_stays_nan(text):
    """A decimal comma inside comma-separated text (9,99) is ambiguous with thousands: not read."""
    assert np.isnan(formatted_number(text))


@pytest.fixture(scope="module")
def insurance_formatted(datasets_dir):
    """insurance with charges in dollars ("$16,884.92") and bmi with a % sign, and the same
    numbers as NumPy floats (charges to the cent, as the text has them)."""
    frame, target, _ = load_dataset("insurance")
    plain = frame.assign(charges=frame["charges"].map(lambda v: float(f"{v:.2f}")))
    formatted = frame.assign(charges=frame["charges"].map(lambda v: f"${v:,.2f}"),
                             bmi=frame["bmi"].map(lambda v: f"{v}%"))
    return formatted, plain, target


def test_formatted_features_are_planned_as_numbers_with_an_example():
    frame, _, _ = load_dataset("insurance", rows=300)
    frame = frame.assign(charges=frame["charges"].map(lambda v: f"${v:,.2f}"),
                         bmi=frame["bmi"].map(lambda v: f"{v}%"))
    plan = plan_columns(frame)
    table = plan.to_frame().set_index("column")
    assert table.loc["charges", "role"] == table.loc["bmi", "role"] == "numeric"
    assert table.loc["bmi", "reason"] == "numbers formatted as text"
    assert plan.notes["bmi"].startswith("read as numbers; formatted: '")
    assert plan.notes["bmi"].endswith("(a % sign is dropped, not divided by)")


@pytest.mark.slow
def test_a_search_on_formatted_numbers_equals_the_search_on_floats(insurance_formatted, tmp_path):
    formatted, plain, target = insurance_formatted
    train, test = slice(0, 1000), slice(1000, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = AutoML(search_dir=tmp_path / "formatted", **FOUR).fit(formatted.iloc[train], target=target)
    assert any("the target 'charges' holds numbers as text (formatted: '$" in str(w.message) for w in caught)
    reference = AutoML(search_dir=tmp_path / "plain", **FOUR).fit(plain.iloc[train], target=target)
    assert result.task_ == "regression"
    np.testing.assert_allclose(result.leaderboard["score"], reference.leaderboard["score"], rtol=1e-12)
    assert result.score(formatted.iloc[test]) == pytest.approx(reference.score(plain.iloc[test]), rel=1e-12)
    assert result.score(formatted.iloc[test]) > 0.8

    new = formatted.iloc[test]
    loaded = nbautoml.load(nbautoml.save(result, tmp_path / "insurance.nbautoml"))
    np.testing.assert_allclose(loaded.predict(new.drop(columns=target)),
                               reference.predict(plain.iloc[test].drop(columns=target)))
    assert loaded.score(new) == pytest.approx(result.score(new), rel=1e-12)

    report = nbautoml.monitor(loaded, new)  # formatted labels and features, as in training
    assert report.metric_value == pytest.approx(result.score(new), rel=1e-9)
    assert "type_mismatch" not in set(report.findings["check"]) and report.status != "alert", report

    importance = result.explain(new).importance.set_index("feature")
    assert importance.loc["smoker", "importance"] > importance.loc["region", "importance"]

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(pipeline_code(result), {"df": formatted.iloc[train]})
    assert f"{result.best_score_:.10f}" in printed.getvalue()


def test_a_target_of_few_text_numbers_stays_class_labels_and_placeholders_are_missing(tmp_path):
    frame, _, _ = load_dataset("insurance", rows=400)
    classes = frame.assign(children=frame["children"].astype(str))  # "0".."5": six classes
    result = AutoML(search_dir=tmp_path / "classes", **dict(SMALL, models=["logistic_regression"])).fit(
        classes, target="children")
    assert result.task_ == "multiclass" and set(result.classes_) <= {"0", "1", "2", "3", "4", "5"}

    prices = frame.assign(charges=frame["charges"].map(lambda v: f"{v:.2f}").astype(object))
    prices.loc[:9, "charges"] = "?"
    with pytest.warns(UserWarning, match=r"10 placeholder values \('\?'\) taken as missing targets"):
        result = AutoML(search_dir=tmp_path / "prices", **SMALL).fit(prices, target="charges")
    assert result.task_ == "regression" and result.n_rows_dropped_ == 10


def test_numbers_with_units_are_read_and_a_mix_of_units_is_warned_about(tmp_path):
    """Scraped tables write units after the numbers ("23.4 kmpl", "1248 CC", as in the used-car
    listings of many teaching notebooks). concrete's age in days and water in kg give the same
    search as the plain numbers; a column mixing units is read but warned about."""
    frame, target, _ = load_dataset("concrete", rows=600)
    age, water = frame.columns[7], frame.columns[3]
    with_units = frame.assign(**{age: frame[age].map(lambda v: f"{v} days"),
                                 water: frame[water].map(lambda v: f"{v} kg")})
    fit = dict(SMALL, models=["ridge"])
    result = AutoML(search_dir=tmp_path / "units", **fit).fit(with_units, target=target)
    reference = AutoML(search_dir=tmp_path / "plain", **fit).fit(frame, target=target)
    np.testing.assert_allclose(result.leaderboard["score"], reference.leaderboard["score"], rtol=1e-12)
    assert result.plan_.notes[age].endswith("unit 'days' dropped")
    np.testing.assert_allclose(result.predict(with_units.head(20)), reference.predict(frame.head(20)))

    # a unit the model never saw is read as written: predict says so, once, and so does a loaded model
    in_grams = with_units.head(20).assign(**{water: frame[water].head(20).map(lambda v: f"{v * 1000} g")})
    with pytest.warns(UserWarning, match=re.escape(f"Column {water!r}: unit 'g' never seen in training")):
        result.predict(in_grams)
    loaded = nbautoml.load(nbautoml.save(result, tmp_path / "concrete.nbautoml"))
    _, report = loaded.check_input(in_grams, warn=False)
    assert report.new_units == {water: ["g"]} and "unit 'g' never seen" in report.messages()[-1]
    assert loaded.check_input(with_units.head(20), warn=False)[1].new_units == {}

    rng = np.random.default_rng(0)
    mixed = frame.assign(
        mileage=[f"{v:.1f} kmpl" if k % 10 else f"{v:.1f} km/kg" for k, v in enumerate(rng.uniform(10, 30, 600))],
        owner=[("1st", "2nd", "3rd", "4th")[k % 4] for k in range(600)],
        fruit=[f"{k % 5} {('apples', 'pears', 'plums', 'figs', 'kiwis')[k % 5]}" for k in range(600)],
    )
    with pytest.warns(UserWarning, match=r"'mileage' mixes units \('kmpl', 'km/kg'"):
        result = AutoML(search_dir=tmp_path / "mixed", **fit).fit(mixed, target=target)
    roles = result.plan_.to_frame().set_index("column")["role"]
    assert (roles["mileage"], roles["owner"], roles["fruit"]) == ("numeric", "numeric", "categorical")
    assert "ordinals (1st, 2nd, ...) read as their numbers" in result.plan_.notes["owner"]


def test_clock_values_are_read_as_numbers(tmp_path):
    """Times written h:mm (bike's hour as "07:00") or h:mm:ss (race and call durations) were dropped
    as IDs or one-hot as categories; read as 60 × first + second (+ seconds), the search equals the
    one on the plain numbers."""
    frame, target, _ = load_dataset("bike", rows=1500)
    frame = frame.drop(columns=["casual", "registered", "instant"], errors="ignore")
    clock = frame.assign(hr=frame["hr"].map(lambda h: f"{h:02d}:00"))
    minutes = frame.assign(hr=frame["hr"] * 60.0)
    result = AutoML(search_dir=tmp_path / "clock", **SMALL).fit(clock, target=target)
    reference = AutoML(search_dir=tmp_path / "minutes", **SMALL).fit(minutes, target=target)
    np.testing.assert_allclose(result.leaderboard["score"], reference.leaderboard["score"], rtol=1e-12)
    assert result.plan_.notes["hr"].startswith("read as numbers; formatted: '")
    assert "clock values: h:mm:ss in seconds" in result.plan_.notes["hr"]
    np.testing.assert_allclose(result.predict(clock.head(50)), reference.predict(minutes.head(50)))
