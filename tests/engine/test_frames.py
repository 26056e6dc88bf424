"""Tables from polars and pyarrow, and columns of lists or dicts, on real data.

A polars DataFrame (or LazyFrame, or a pyarrow Table) is read through Arrow where it enters:
before, ``fit(df, target=...)`` refused it ("target= needs a pandas DataFrame") and
``fit(X, y)`` lost its column names to ``np.asarray``. A column whose cells hold lists or
dicts (polars List and Struct columns, JSON records) crashed the plan with "unhashable type:
'list'"; it is now dropped with the reason, or read as words with ``roles={col: "text"}``.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import nbautoml
from nbautoml import AutoML
from nbautoml.codegen import pipeline_code
from nbautoml.engine.frames import as_pandas
from nbautoml.exceptions import DataError

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

SMALL = dict(max_evals=2, time_budget=None, n_jobs=1, seed=0, ensemble=False,
             models=["logistic_regression", "hist_gradient_boosting"])


@pytest.fixture(scope="module")
def titanic_twins(datasets_dir):
    """titanic read by polars and by pandas: 700 rows to search on, the rest as new data."""
    path = datasets_dir / "titanic.csv"
    return pl.read_csv(path), pd.read_csv(path)


@pytest.fixture(scope="module")
def twin_searches(titanic_twins, tmp_path_factory):
    polars_frame, pandas_frame = titanic_twins
    return [AutoML(search_dir=tmp_path_factory.mktemp(name), **SMALL).fit(frame[:700], target="Survived")
            for name, frame in (("polars", polars_frame), ("pandas", pandas_frame))]


def test_a_polars_frame_searches_as_its_pandas_twin(titanic_twins, twin_searches):
    polars_frame, pandas_frame = titanic_twins
    on_polars, on_pandas = twin_searches
    assert on_polars.target_ == "Survived"
    assert on_polars.plan_.to_dict() == on_pandas.plan_.to_dict()
    np.testing.assert_allclose(on_polars.leaderboard["score"], on_pandas.leaderboard["score"], rtol=1e-12)
    assert on_polars.leaderboard["score"].iloc[0] > 0.8  # titanic's CV ROC AUC

    new_polars, new_pandas = polars_frame[700:], pandas_frame[700:].reset_index(drop=True)
    expected = on_pandas.predict_proba(new_pandas)
    for new in (new_polars, new_polars.to_arrow(), new_polars.lazy(), new_polars.drop("Survived")):
        np.testing.assert_allclose(on_polars.predict_proba(new), expected, rtol=1e-12)
    assert on_polars.score(new_polars) == pytest.approx(on_pandas.score(new_pandas), rel=1e-12)
    assert on_polars.score(new_polars.drop("Survived"), new_polars["Survived"]) == pytest.approx(
        on_pandas.score(new_pandas), rel=1e-12)


def test_a_duckdb_query_searches_and_predicts_as_its_pandas_twin(titanic_twins, twin_searches, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    _, titanic = titanic_twins  # the name DuckDB's queries read
    _, on_pandas = twin_searches
    query = duckdb.sql("SELECT * FROM titanic WHERE PassengerId <= 700 ORDER BY PassengerId")
    on_duckdb = AutoML(search_dir=tmp_path, **SMALL).fit(query, target="Survived")
    assert on_duckdb.plan_.to_dict() == on_pandas.plan_.to_dict()
    np.testing.assert_allclose(on_duckdb.leaderboard["score"], on_pandas.leaderboard["score"], rtol=1e-12)
    new = duckdb.sql("SELECT * EXCLUDE (Survived) FROM titanic WHERE PassengerId > 700 ORDER BY PassengerId")
    expected = on_pandas.predict_proba(titanic[700:].reset_index(drop=True))
    np.testing.assert_allclose(on_duckdb.predict_proba(new), expected, rtol=1e-12)


def test_a_saved_model_takes_polars_batches_to_predict_monitor_and_explain(titanic_twins, twin_searches,
                                                                           tmp_path):
    polars_frame, pandas_frame = titanic_twins
    on_polars, _ = twin_searches
    loaded = nbautoml.load(nbautoml.save(on_polars, tmp_path / "titanic"))
    new_polars, new_pandas = polars_frame[700:], pandas_frame[700:].reset_index(drop=True)
    np.testing.assert_allclose(loaded.predict_proba(new_polars), loaded.predict_proba(new_pandas), rtol=1e-12)
    assert loaded.score(new_polars) == pytest.approx(loaded.score(new_pandas), rel=1e-12)

    on_polars_batch = nbautoml.monitor(loaded, new_polars, history=False)
    on_pandas_batch = nbautoml.monitor(loaded, new_pandas, history=False)
    assert on_polars_batch.metric_value == pytest.approx(on_pandas_batch.metric_value, rel=1e-12)
    assert on_polars_batch.status == on_pandas_batch.status

    explanation = on_polars.explain(polars_frame[:300])
    assert explanation.importance["feature"].iloc[0] in ("Sex", "Pclass", "Fare", "Age")


def test_fit_x_y_with_polars_keeps_the_names_and_lazy_frames_and_arrow_tables_plan_alike(titanic_twins):
    polars_frame, pandas_frame = titanic_twins
    plan = nbautoml.plan(pandas_frame, target="Survived").to_dict()
    assert nbautoml.plan(polars_frame.lazy(), target="Survived").to_dict() == plan
    assert nbautoml.plan(polars_frame.to_arrow(), target="Survived").to_dict() == plan
    result = AutoML(max_evals=2, time_budget=None, n_jobs=1, models=["logistic_regression"], ensemble=False)
    result.fit(polars_frame.drop("Survived"), polars_frame["Survived"])
    assert result.target_ == "Survived"
    assert list(result.feature_names_in_) == [c for c in pandas_frame.columns if c != "Survived"]


def test_without_pyarrow_the_error_says_how_to_install_it(monkeypatch):
    class ArrowOnly:  # a table that offers nothing but the Arrow stream
        def __arrow_c_stream__(self, requested_schema=None):
            return pa.table({"a": [1, 2]}).__arrow_c_stream__(requested_schema)

    assert as_pandas(ArrowOnly()).shape == (2, 1)
    monkeypatch.delattr(pd.DataFrame, "from_arrow", raising=False)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(DataError, match=r"needs pyarrow, which is not installed: pip install pyarrow") as err:
        nbautoml.plan(ArrowOnly())
    assert err.value.code == "needs_pyarrow"


@pytest.fixture(scope="module")
def titanic_with_nested(titanic_twins):
    """titanic with interests as lists of words and the deck as a dict, as JSON records give them."""
    _, frame = titanic_twins
    rng = np.random.default_rng(0)
    words = np.array(["music", "sports", "travel", "books", "food"])
    return frame.assign(
        Interests=[list(words[rng.choice(5, size=k, replace=False)]) for k in rng.integers(0, 3, len(frame))],
        Deck=[{"deck": c[0]} if isinstance(c, str) else None for c in frame["Cabin"]],
    )


def test_columns_of_lists_and_dicts_are_dropped_with_the_reason(titanic_with_nested):
    plan = nbautoml.plan(titanic_with_nested, target="Survived").to_frame().set_index("column")
    assert plan.loc["Interests", "dtype"] == "object (lists)"
    assert plan.loc["Deck", "dtype"] == "object (dicts)"
    assert (plan.loc[["Interests", "Deck"], "role"] == "dropped").all()
    assert plan.loc["Interests", "reason"].startswith("nested values (lists): expand them into columns")
    assert "roles={'Deck': 'text'}" in plan.loc["Deck", "reason"]
    assert isinstance(titanic_with_nested["Interests"].iloc[0], list)  # the caller's frame is left alone
    late = titanic_with_nested.assign(Late=pd.Series([None] * 800 + [["a", "b"]] * 91, dtype=object))
    row = nbautoml.plan(late, target="Survived").to_frame().set_index("column").loc["Late"]
    assert (row["dtype"], row["role"]) == ("object (lists)", "dropped")  # lists after 800 empty rows


def test_a_column_of_lists_read_as_words_trains_predicts_loads_and_exports(titanic_with_nested, tmp_path):
    frame = titanic_with_nested
    result = AutoML(search_dir=tmp_path / "runs", roles={"Interests": "text"}, **SMALL)
    result.fit(frame[:700], target="Survived")
    row = result.plan_.to_frame().set_index("column").loc["Interests"]
    assert (row["dtype"], row["role"]) == ("object (lists)", "text")
    new = frame[700:].reset_index(drop=True)
    loaded = nbautoml.load(nbautoml.save(result, tmp_path / "nested"))
    np.testing.assert_allclose(loaded.predict_proba(new), result.predict_proba(new), rtol=1e-12)
    assert result.score(new) > 0.75

    script = tmp_path / "pipeline.py"
    script.write_text(pipeline_code(result))
    frame[:700].to_pickle(tmp_path / "train.pkl")
    run = subprocess.run([sys.executable, "-c", "import pandas as pd; df = pd.read_pickle('train.pkl'); "
                          "exec(open('pipeline.py').read())"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    printed = float(run.stdout.split(":")[-1].split()[0])
    assert printed == pytest.approx(result.leaderboard["score"].iloc[0], abs=1e-9)


def test_the_role_text_on_codes_without_words_is_refused(titanic_with_nested):
    codes = titanic_with_nested.assign(Interests=[[int(v)] for v in titanic_with_nested["Pclass"]])
    with pytest.raises(DataError, match=r"Column 'Interests' has the role 'text', but its values .* hold no "
                                        r"word .* roles=\{'Interests': 'categorical'\}") as err:
        with contextlib.redirect_stderr(io.StringIO()):
            nbautoml.plan(codes, target="Survived", roles={"Interests": "text"})
    assert err.value.code == "no_words"


@pytest.mark.slow
def test_decimals_and_date_objects_as_sql_reads_give_them_search_as_numbers_and_dates(titanic_twins, tmp_path):
    """``pd.read_sql`` gives NUMERIC columns as ``decimal.Decimal`` and DATE columns as ``datetime.date``
    objects (dtype object): read as numbers and dates, with the same leaderboard as floats and datetimes."""
    import datetime as dt
    import decimal

    _, frame = titanic_twins
    days = pd.Series(np.random.default_rng(0).integers(0, 700, len(frame)))
    as_sql = frame.assign(Fare=[decimal.Decimal(f"{v:.4f}") for v in frame["Fare"]],
                          Boarded=[dt.date(1912, 1, 1) + dt.timedelta(days=int(d)) for d in days])
    plain = frame.assign(Fare=[float(f"{v:.4f}") for v in frame["Fare"]],
                         Boarded=pd.Timestamp("1912-01-01") + pd.to_timedelta(days, unit="D"))
    plan = nbautoml.plan(as_sql, target="Survived").to_frame().set_index("column")
    assert (plan.loc["Fare", "role"], plan.loc["Fare", "reason"]) == ("numeric", "decimal.Decimal values (SQL NUMERIC)")
    assert plan.loc["Boarded", "reason"].startswith("date objects: expanded to year")
    searches = [AutoML(search_dir=tmp_path / name, **SMALL).fit(data[:700], target="Survived")
                for name, data in (("sql", as_sql), ("plain", plain))]
    np.testing.assert_allclose(searches[0].leaderboard["score"], searches[1].leaderboard["score"], rtol=1e-12)
    loaded = nbautoml.load(nbautoml.save(searches[0], tmp_path / "sql"))
    # the text numbers go through their own scaler block: sums in another order, 1e-14 apart
    np.testing.assert_allclose(loaded.predict_proba(as_sql[700:]), searches[1].predict_proba(plain[700:]),
                               atol=1e-9)
