"""The steps every categorical column goes through: ``AsString``, then an encoder; their fast
paths give what the plain ones give."""

from __future__ import annotations

import numpy as np
import pandas as pd

import nbautoml
from nbautoml import AutoML
from tests.conftest import load_dataset


def test_categories_become_the_strings_of_their_values_whatever_the_dtype():
    """``AsString`` (before every encoder): each value as ``str(value)``, a missing one as
    "missing"; columns of strings take a faster path that must give the same strings."""
    from nbautoml.engine.transformers import AsString

    titanic, _, _ = load_dataset("titanic")
    text = titanic[["Name", "Sex", "Cabin", "Embarked", "Ticket"]]  # strings with gaps
    columns = {
        **{name: text[name] for name in text.columns},
        "object strings": text["Embarked"].astype(object),
        "python strings": text["Cabin"].astype(pd.StringDtype("python")),
        "arrow strings": text["Sex"].astype(pd.StringDtype("pyarrow")),
        "mixed": pd.Series([1, "1", 1.0, True, None, np.nan, pd.NA, "b", 0.1 + 0.2, b"x"] * 89 + [2], dtype=object),
        "category": text["Embarked"].astype("category"),
        "numbers": titanic["Age"],
        "booleans": titanic["Survived"].astype(bool),
        "empty": pd.Series([None] * len(titanic), dtype=object),
        "dates": pd.to_datetime(pd.Series(["2024-01-01", None] * 445 + ["2024-02-01"])),
    }
    frame = pd.DataFrame(columns)
    out = AsString().fit(frame).transform(frame)
    for j, (name, col) in enumerate(columns.items()):
        expected = ["missing" if pd.isna(v) else str(v) for v in col.astype(object)]
        assert out[:, j].tolist() == expected, name
        assert all(type(v) is str for v in out[:, j]), name
    assert out[:5, list(columns).index("mixed")].tolist() == ["1", "1", "1.0", "True", "missing"]



def test_ordinal_codes_looked_up_per_column_equal_the_encoders(monkeypatch):
    """From ``LOOKUP_MIN_ROWS`` rows on, ``OrdinalCategories`` codes through a hash table per column;
    the codes must be ``OrdinalEncoder``'s: infrequent categories share one, unseen ones get it too."""
    from nbautoml.engine import transformers as T

    house, _, _ = load_dataset("house")
    text = T.AsString().fit(house.select_dtypes(exclude="number")).transform(house.select_dtypes(exclude="number"))
    for cap in (3, 20, 1000):
        encoder = T.OrdinalCategories(max_categories=cap).fit(text[:1000])
        rows = text[1000:].copy()
        rows[::7, 0] = "never seen"  # unseen categories in the held-out rows
        fast = encoder.transform(rows)
        monkeypatch.setattr(T, "LOOKUP_MIN_ROWS", 10**9)
        plain = encoder.transform(rows)
        monkeypatch.undo()
        assert len(rows) >= T.LOOKUP_MIN_ROWS and encoder.encoder_ in T.OrdinalCategories._lookups
        np.testing.assert_array_equal(fast, plain)
        assert (fast[::7, 0] == encoder.unknown_codes_[0]).all()
    assert not any(isinstance(v, pd.Index) for v in vars(encoder).values())  # nothing of it is saved


def test_a_model_on_text_categories_predicts_alike_on_one_row_and_many(tmp_path):
    """One row takes the encoder's own path, many rows the tables; a saved and loaded model
    (the tables are not in the file) predicts as the search's."""
    titanic, target, _ = load_dataset("titanic")
    result = AutoML(max_evals=3, time_budget=None, models=["hist_gradient_boosting"], seed=0,
                    search_dir=tmp_path).fit(titanic, target=target)
    X = titanic.drop(columns=[target])
    many = result.predict_proba(X)
    one_by_one = np.vstack([result.predict_proba(X.iloc[[i]]) for i in range(0, len(X), 40)])
    np.testing.assert_allclose(one_by_one, many[::40], rtol=0, atol=1e-12)
    loaded = nbautoml.load(result.save(tmp_path / "titanic"))
    np.testing.assert_allclose(loaded.predict_proba(X), many, rtol=0, atol=1e-12)
