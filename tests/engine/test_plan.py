"""``nbautoml.plan`` and ``%automl_plan``: the column plan a search would use, before searching.

A teacher shows it before a search; a user checks it before spending minutes. It must be the
plan ``fit`` makes (same roles, reasons, notes and warnings), and ``roles`` must change it the
same way in both.
"""

from __future__ import annotations

import warnings

import pytest

import nbautoml
from nbautoml import AutoML

FAST = dict(max_evals=1, time_budget=None, n_jobs=1, models=["logistic_regression"], ensemble=False)


def test_the_plan_is_the_one_fit_makes_with_its_notes_and_warnings(titanic, tmp_path):
    roles = {"Pclass": "categorical", "Ticket": "dropped"}
    data = titanic.assign(Fare=titanic["Fare"].map(lambda v: f"${v:,.2f}"), Leak=titanic["Survived"])
    with warnings.catch_warnings(record=True) as planned:
        warnings.simplefilter("always")
        plan = nbautoml.plan(data, target="Survived", roles=roles)
    with warnings.catch_warnings(record=True) as fitted:
        warnings.simplefilter("always")
        result = AutoML(search_dir=tmp_path, roles=roles, **FAST).fit(data, target="Survived")
    assert plan.to_dict() == result.plan_.to_dict()
    table = plan.to_frame().set_index("column")
    assert table.loc["Pclass", "reason"] == "set by the user" and table.loc["Ticket", "role"] == "dropped"
    assert table.loc["Fare", "reason"] == "numbers formatted as text"
    assert "possible target leakage" in plan.notes["Leak"]
    messages = [str(w.message) for w in planned if issubclass(w.category, UserWarning)]
    assert any("'Leak' determines the target 'Survived' exactly" in m for m in messages)
    assert {w.filename for w in planned if "Leak" in str(w.message)} == {__file__}  # points at the caller
    assert set(messages) <= {str(w.message) for w in fitted}


def test_a_plan_of_features_alone_and_of_a_file(titanic, datasets_dir):
    features = nbautoml.plan(titanic.drop(columns="Survived"))
    with_target = nbautoml.plan(titanic, target="Survived")
    assert features.to_dict() == with_target.to_dict()
    assert nbautoml.plan(datasets_dir / "titanic.csv", target="Survived").to_dict() == with_target.to_dict()
    with pytest.raises(nbautoml.exceptions.DataError, match="Did you mean 'Survived'"):
        nbautoml.plan(titanic, target="survived")


def test_the_plan_reads_as_a_table_in_html_and_text(titanic):
    plan = nbautoml.plan(titanic, target="Survived")
    html = plan._repr_html_()
    assert "Column plan</b> (11 columns: 5 numeric, 4 categorical, 2 dropped)" in html
    assert html.count("<tr>") == 12 and "ID-like: a distinct, increasing integer per row" in html
    text = repr(plan)
    assert text.splitlines()[0] == "DataPlan (11 columns)" and len(text.splitlines()) == 13
    assert "PassengerId" in text and "dropped" in text
