"""A batch of training rows is named as such (its predictions are in-sample), on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbautoml
from nbautoml.monitor import checks, seen_rows
from tests.conftest import load_dataset


@pytest.fixture(scope="module")
def titanic_split(tmp_path_factory):
    frame, target, _ = load_dataset("titanic")
    order = np.random.default_rng(0).permutation(len(frame))
    ref, rest = frame.iloc[order[:600]].reset_index(drop=True), frame.iloc[order[600:]].reset_index(drop=True)
    result = nbautoml.AutoML(max_evals=2, time_budget=None, seed=0, models=["logistic_regression"],
                             search_dir=tmp_path_factory.mktemp("seen_rows_runs")).fit(ref, target=target)
    return result, ref, rest, target


def _training_rows_finding(report):
    rows = report.findings[report.findings["check"] == "training_rows"]
    return rows.iloc[0] if len(rows) else None


def test_a_batch_of_training_rows_is_named_and_new_rows_are_not(titanic_split, tmp_path):
    result, ref, rest, target = titanic_split
    sketch = result.reference_profile_.seen_rows
    assert sketch["complete"] and sketch["n_rows"] == 600 and sketch["repeat_share"] < 0.1

    seen = _training_rows_finding(nbautoml.monitor(result, ref.sample(250, random_state=1), history=False))
    assert seen is not None and seen["severity"] == "warn" and seen["value"] == 1.0
    assert seen["detail"].startswith("100% of the batch's rows are rows the model was trained on; new rows")
    assert "in-sample" in seen["detail"]

    assert _training_rows_finding(nbautoml.monitor(result, rest, history=False)) is None
    # half and half: about half (the other half repeats a training row as rarely as new rows do)
    mixed = pd.concat([ref.head(145), rest.head(145)], ignore_index=True)
    half = _training_rows_finding(nbautoml.monitor(result, mixed, history=False))
    assert half is not None and 0.5 <= half["value"] <= 0.55

    # a saved model keeps the sketch; the batch read back from a CSV (ints, floats, text) matches
    path = nbautoml.save(result, tmp_path / "titanic")
    loaded = nbautoml.load(path)
    ref.head(200).drop(columns=[target]).to_csv(tmp_path / "batch.csv", index=False)
    again = _training_rows_finding(nbautoml.monitor(loaded, tmp_path / "batch.csv", history=False))
    assert again is not None and again["value"] == 1.0


def test_row_hashes_do_not_depend_on_how_the_values_were_read():
    a = pd.DataFrame({"n": [1, 2, 3], "x": [0.5, np.nan, 2.0], "c": ["a", None, "b"], "b": [True, False, True]})
    b = pd.DataFrame({"n": [1.0, 2.0, 3.0], "x": pd.array([0.5, None, 2.0], dtype="Float64"),
                      "c": pd.Categorical(["a", np.nan, "b"]), "b": [1, 0, 1]})
    columns = ["n", "x", "c", "b"]
    assert np.array_equal(seen_rows.row_hashes(a, columns), seen_rows.row_hashes(b, columns))
    assert len(set(seen_rows.row_hashes(a, columns))) == 3
    changed = a.assign(x=[0.5, np.nan, 2.5])
    assert seen_rows.row_hashes(changed, columns)[2] != seen_rows.row_hashes(a, columns)[2]


def test_a_large_training_set_is_judged_from_the_smallest_hashes(titanic_split, monkeypatch):
    """Above MAX_HASHES distinct rows only the bottom of the hashes is kept: the share is
    estimated from the batch rows whose hash falls in that range."""
    _, ref, rest, target = titanic_split
    columns = [c for c in ref.columns if c != target]
    monkeypatch.setattr(seen_rows, "MAX_HASHES", 150)
    sketch = seen_rows.training_sketch(ref, columns)
    assert not sketch["complete"]
    share, seen, eligible = seen_rows.seen_share(sketch, ref, columns)
    assert share == 1.0 and seen == eligible and 120 <= eligible <= 180  # about 150 of the 600 rows
    share, seen, eligible = seen_rows.seen_share(sketch, rest, columns)
    assert share == 0.0 and eligible >= seen_rows.MIN_ELIGIBLE
    # too few eligible rows: no estimate
    share, _, eligible = seen_rows.seen_share(sketch, ref.head(30), columns)
    assert eligible < seen_rows.MIN_ELIGIBLE and np.isnan(share)


def test_data_whose_new_rows_repeat_training_rows_gets_no_warning():
    """blood has four small integer columns: 39 % of new rows equal a training row, and a
    batch of new rows is not taken for training rows."""
    frame, target, _ = load_dataset("blood")
    order = np.random.default_rng(0).permutation(len(frame))
    ref, rest = frame.iloc[order[:500]], frame.iloc[order[500:]]
    columns = [c for c in frame.columns if c != target]
    sketch = seen_rows.training_sketch(ref, columns)
    share, _, _ = seen_rows.seen_share(sketch, rest, columns)
    assert sketch["repeat_share"] > 0.3 and abs(share - sketch["repeat_share"]) < 0.15
    profile = nbautoml.monitor.ReferenceProfile(
        n_rows=500, task="binary", target=target, classes=[0, 1], columns=columns, ignored_columns=[],
        features={}, prediction={}, performance={}, seen_rows=sketch)
    assert checks.seen_rows_check(profile, rest) is None
    assert checks.seen_rows_check(profile, ref)["value"] == 1.0


def test_row_hashes_are_the_frames_hash_computed_a_block_at_a_time(monkeypatch):
    """Plain number columns are hashed as one block (20,000 columns of 200 rows: 4.7 s -> 1.0 s);
    the hashes stay those of ``hash_pandas_object`` on the normalized columns, so the sketches
    of models saved before still match."""
    titanic, _, _ = load_dataset("titanic")
    frame = titanic.assign(
        flag=titanic["Sex"] == "male",                                  # numpy bool
        Int=titanic["SibSp"].astype("Int64").where(titanic["Age"] > 30),  # nullable with <NA>
        cat=titanic["Embarked"].astype("category"),
        arrow=titanic["Cabin"].astype("string[pyarrow]"),
        small=titanic["Pclass"].astype("int8"),
    )
    columns = list(frame.columns)
    normalized = {}
    for name in columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            normalized[name] = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        else:
            normalized[name] = col.astype("string").fillna("\x00").to_numpy(dtype=object)
    expected = pd.util.hash_pandas_object(pd.DataFrame(normalized), index=False).to_numpy()
    expected = (expected & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    np.testing.assert_array_equal(seen_rows.row_hashes(frame, columns), expected)
    assert len(set(seen_rows.row_hashes(frame, []))) == 1  # no columns: every row hashes alike
    monkeypatch.setattr(seen_rows, "HASH_BLOCK_CELLS", 2 * len(frame))  # long data: 2 columns a block
    np.testing.assert_array_equal(seen_rows.row_hashes(frame, columns), expected)
