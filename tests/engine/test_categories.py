"""``AsString``, the first step of every categorical column: its fast path for columns of
strings gives what ``str()`` of each value gives."""

from __future__ import annotations

import numpy as np
import pandas as pd

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


