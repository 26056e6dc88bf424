"""A note when the rows are in time order by a date column and the folds mix them (a forecast's
CV score would be optimistic), and none when they do not."""

from __future__ import annotations

import pandas as pd
import pytest

import nbautoml
from nbautoml import AutoML
from nbautoml.engine.data import plan_columns
from nbautoml.engine.validation import Validation, time_order_note
from tests.conftest import load_dataset

KFOLD = Validation("kfold", [], "5-fold")


@pytest.fixture(scope="module")
def bike():
    frame, target, _ = load_dataset("bike")
    return frame.head(3000), target  # hourly rows of 2011, in the file's (time) order


def test_a_search_on_rows_in_time_order_says_so_and_how_to_validate_a_forecast(bike, tmp_path):
    frame, target = bike
    fast = dict(max_evals=1, time_budget=None, models=["ridge"], search_dir=tmp_path)
    result = AutoML(**fast).fit(frame, target=target)
    expected = ("the rows are in time order by 'dteday', and shuffled k-fold mixes them: it trains on later rows to "
                "score earlier ones. If the model is to predict the future, cv='timeseries:5' (--cv timeseries:5) "
                "validates it that way: each fold trains on earlier rows only")
    assert result.time_order_note_ == expected
    assert f"\n  validation: {expected}\n" in repr(result)
    assert "in time order by &#x27;dteday&#x27;" in result._repr_html_()
    # the saved model keeps the note: its card and the loaded model's summary say it
    path = result.save(tmp_path / "bike")  # the method is nbautoml.save(result, path)
    assert path == tmp_path / "bike.nbautoml"
    assert nbautoml.read_card(path)["metric"]["validation_note"] == expected
    assert f"\n  Validation: {expected}\n" in repr(nbautoml.load(path))
    assert AutoML(**fast, cv="timeseries:3").fit(frame, target=target).time_order_note_ is None
    shuffled = frame.sample(frac=1, random_state=0)
    assert AutoML(**fast).fit(shuffled, target=target).time_order_note_ is None


def test_which_dates_put_rows_in_time_order():
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    cases = {
        "sorted": (pd.DataFrame({"d": days}), True),
        "sorted text": (pd.DataFrame({"d": days.strftime("%Y-%m-%d")}), True),
        "ties and a gap in order": (pd.DataFrame({"d": days.repeat(3)}), True),
        "one step back": (pd.DataFrame({"d": days[[*range(20), 5, *range(21, 40)]]}), False),
        "few dates": (pd.DataFrame({"d": days[:5].repeat(8)}), False),
        "mostly unreadable": (pd.DataFrame({"d": ["not a date"] * 30 + list(days[:10].astype(str))}), False),
    }
    for name, (frame, in_order) in cases.items():
        plan = plan_columns(frame, {"d": "datetime"})
        assert (time_order_note(frame, plan, KFOLD) is not None) is in_order, name
    frame = cases["sorted"][0]
    plan = plan_columns(frame, {"d": "datetime"})
    holdout = Validation("holdout", [], "holdout")
    assert "a random holdout mixes them" in time_order_note(frame, plan, holdout)
    for scheme in ("timeseries", "group", "custom"):
        assert time_order_note(frame, plan, Validation(scheme, [], scheme)) is None
    mixed = pd.DataFrame({"d": [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=i) for i in range(20)]
                          + [pd.Timestamp("2024-03-01", tz="Asia/Tokyo") + pd.Timedelta(days=i) for i in range(20)]})
    assert time_order_note(mixed, plan_columns(mixed, {"d": "datetime"}), KFOLD) is None  # mixed zones: no error
