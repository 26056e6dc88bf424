"""Data checks and column typing on real data (no search needed)."""

import numpy as np
import pandas as pd
import pytest

from nbautoml.engine import data as D
from nbautoml.exceptions import DataError
from tests.conftest import load_dataset


def test_misspelled_target_names_columns_and_suggests(titanic):
    with pytest.raises(DataError, match="Did you mean 'Survived'") as info:
        D.split_target(titanic, target="survived")
    assert info.value.code == "target_not_found"
    assert "PassengerId" in str(info.value) and "Embarked" in str(info.value)


def test_empty_frame_is_refused(titanic):
    with pytest.raises(DataError, match="empty"):
        D.split_target(titanic.iloc[:0], target="Survived")


def test_single_class_target_is_refused(titanic):
    _, y = D.split_target(titanic[titanic.Survived == 1], target="Survived")
    with pytest.raises(DataError, match="single value") as info:
        D.infer_task(y)
    assert info.value.code == "single_class" and "no target value" not in str(info.value)
    # the other class written as missing (a survey's blank "no"): the message counts those rows
    _, y = D.split_target(titanic.assign(Survived=titanic.Survived.where(titanic.Survived == 1)),
                          target="Survived")
    with pytest.raises(DataError, match=r"single value \(1\.0\) \(549 other rows have no target value "
                                        r"and are left out: if they are the other class, fill them in"):
        D.infer_task(y)


def test_a_sparse_matrix_is_refused_with_what_to_give_instead(titanic):
    import scipy.sparse

    from nbautoml import AutoML

    matrix = scipy.sparse.csr_matrix(titanic[["Pclass", "SibSp", "Parch"]].to_numpy(float))
    with pytest.raises(DataError, match=r"X is a scipy sparse matrix \(891 x 3\); nbautoml takes a table\. "
                                        r"Give the columns it came from") as info:
        AutoML(max_evals=1, time_budget=None).fit(matrix, titanic.Survived)
    assert info.value.code == "sparse_input"


def test_inf_values_are_named(titanic):
    df = titanic.copy()
    df.loc[3, "Fare"] = np.inf
    X, _ = D.split_target(df, target="Survived")
    with pytest.raises(DataError, match=r"Fare \(1 rows\)") as info:
        D.check_features(X)
    assert "replace" in str(info.value).lower()


def test_duplicated_columns_are_named(titanic):
    df = titanic.copy()
    df.columns = [*df.columns[:-1], "Fare"]
    with pytest.raises(DataError, match="Duplicated column names: Fare"):
        D.split_target(df, target="Survived")


def test_one_member_class_under_stratified_cv():
    y = pd.Series(["a"] * 10 + ["b"] * 10 + ["c"], name="y")
    with pytest.raises(DataError, match=r"'c' \(1 row\)") as info:
        D.check_classes(y, 5)
    assert info.value.code == "tiny_class"


def test_an_identifier_chosen_as_target_gets_a_short_error_that_says_so(titanic, tmp_path):
    from nbautoml import AutoML

    with pytest.raises(DataError, match="looks like an identifier") as info:
        AutoML(time_budget=5, search_dir=tmp_path).fit(titanic, target="Name")
    message = str(info.value)
    assert info.value.code == "tiny_class" and "891 class(es)" in message and "and 881 more" in message
    assert len(message) < 1_000  # the 891 names are not all listed


def test_titanic_plan_drops_ids_names_and_keeps_categories(titanic):
    X, _ = D.split_target(titanic, target="Survived")
    plan = D.plan_columns(X)
    assert plan.dropped == {"PassengerId": "ID-like: a distinct, increasing integer per row",
                            "Name": "ID-like: a distinct value on (almost) every row"}
    assert plan.names("text") == []
    assert set(plan.names("categorical")) == {"Sex", "Ticket", "Cabin", "Embarked"}
    assert set(plan.names("numeric")) == {"Pclass", "Age", "SibSp", "Parch", "Fare"}


def test_shuffled_integer_ids_are_dropped_by_their_name(datasets_dir):
    """After a train/test split the IDs are no longer increasing; their name still says what they are."""
    from sklearn.model_selection import train_test_split

    for name, id_column in [("titanic", "PassengerId"), ("house", "Id"), ("juice", "Id")]:
        frame, target, _ = load_dataset(name)
        train, _ = train_test_split(frame, test_size=0.25, random_state=0)
        plan = D.plan_columns(train.drop(columns=[target]))
        assert plan.dropped[id_column] == f"ID-like: a distinct integer per row, named {id_column!r}", name
    # names whose first or last word is "id"; not words that merely contain it
    for name in ("PassengerId", "Id", "ID", "customer_id", "CustomerID", "id_number", "user id"):
        assert D._named_like_an_id(name), name
    for name in ("Idle", "paid", "Width", "Identity", "idx", "holiday"):
        assert not D._named_like_an_id(name), name
    juice_plan = D.plan_columns(train.drop(columns=[target]))
    assert "StoreID" in juice_plan.used  # 5 stores: a category, not a row ID
    # a distinct integer per row with another name is a number (house's lot areas, shuffled, made distinct)
    house, _, _ = load_dataset("house")
    areas = house[["LotArea"]].drop_duplicates().sample(frac=1, random_state=0)
    assert areas["LotArea"].is_unique and D.plan_columns(areas).names("numeric") == ["LotArea"]


def test_constant_and_all_missing_columns_are_dropped_and_reported(titanic):
    X, _ = D.split_target(titanic.assign(const=1, empty=np.nan), target="Survived")
    dropped = D.plan_columns(X).dropped
    assert dropped["const"] == "constant (a single value)"
    assert dropped["empty"] == "all values missing"


def test_a_column_of_one_value_or_missing_is_kept_as_present_or_missing(titanic, tmp_path):
    """A cabin given or not says something about a passenger (it was dropped as "constant")."""
    given = titanic["Cabin"].notna()
    X, y = D.split_target(titanic.assign(
        CabinGiven=np.where(given, "yes", None), CabinNumber=np.where(given, 1.0, np.nan),
        CabinNullable=pd.array(np.where(given, True, None), dtype="boolean")), target="Survived")
    plan = D.plan_columns(X)
    table = plan.to_frame().set_index("column")
    for name in ("CabinGiven", "CabinNumber", "CabinNullable"):
        assert table.loc[name, "role"] == "categorical", name
        assert table.loc[name, "reason"] == "one value or missing: two categories, present and missing"
    from nbautoml import AutoML

    result = AutoML(max_evals=1, time_budget=None, n_jobs=1, models=["logistic_regression"], ensemble=False,
                    search_dir=tmp_path).fit(X[["CabinNumber", "Sex"]].assign(Survived=y), target="Survived")
    assert result.plan_.names("categorical") == ["CabinNumber", "Sex"]
    new = pd.DataFrame({"CabinNumber": [1.0, np.nan, 1.0, np.nan], "Sex": ["male", "male", "female", "female"]})
    survival = result.predict_proba(new)[:, 1]
    assert survival[0] > survival[1] and survival[2] > survival[3]  # a cabin given: more often survived


def test_dates_in_text_become_datetime(datasets_dir):
    df, target, _ = load_dataset("bike")
    X, _ = D.split_target(df, target=target)
    plan = D.plan_columns(X)
    assert plan.names("datetime") == ["dteday"]
    assert "instant" in plan.dropped  # a row counter


def test_spam_messages_are_text_not_ids(datasets_dir):
    df, target, _ = load_dataset("spam")
    X, _ = D.split_target(df, target=target)
    assert D.plan_columns(X).names("text") == [c for c in X.columns]


def test_long_distinct_strings_are_text_short_ones_ids():
    rng = __import__("numpy").random.default_rng(0)
    words = ["good", "bad", "service", "food", "slow", "great", "price", "staff", "clean", "noisy"]
    reviews = [" ".join(rng.choice(words, 8)) + f" visit {i}" for i in range(300)]
    codes = [f"AB-{i:05d} lot {i % 7}" for i in range(300)]
    X = pd.DataFrame({"review": reviews, "code": codes, "x": rng.normal(size=300)})
    plan = D.plan_columns(X)
    assert plan.names("text") == ["review"]
    assert "code" in plan.dropped


@pytest.mark.parametrize(
    ("name", "task"),
    [("titanic", "binary"), ("CTG", "multiclass"), ("house", "regression"), ("iris", "multiclass"),
     ("income", "binary"), ("bike", "regression")],
)
def test_task_inference_on_real_data(datasets_dir, name, task):
    df, target, expected = load_dataset(name)
    assert expected == task
    _, y = D.split_target(df, target=target)
    assert D.infer_task(y) == task


def test_task_override_is_checked(titanic):
    _, y = D.split_target(titanic, target="Survived")
    assert D.infer_task(y, "multiclass") == "multiclass"
    with pytest.raises(Exception, match="Valid tasks"):
        D.infer_task(y, "clustering")


def test_missing_target_rows_are_dropped(titanic):
    df = titanic.copy()
    df.loc[:9, "Survived"] = np.nan
    X, y = D.split_target(df, target="Survived")
    X2, y2, n = D.clean_target(X, y, "binary")
    assert n == 10 and len(X2) == len(df) - 10


def _leaks(frame, target, task):
    X, y = D.split_target(frame, target=target)
    X, y, _ = D.clean_target(X, y, task)
    return set(D.leaking_columns(X, y, D.plan_columns(X), task))


def test_number_columns_that_determine_the_target_are_found_from_the_plans_counts(titanic):
    """Number columns are checked for leakage from the plan's distinct values and missing rate,
    without reading the columns that cannot leak; these must still be found."""
    survived = titanic["Survived"]
    flipped = survived.astype(float).copy()
    flipped.iloc[0] = 1 - flipped.iloc[0]
    frame = titanic.assign(
        AsFloat=survived * 2.5, AsInt=survived + 10, AsBool=survived == 1,
        # missing counts as one of its values
        OrMissing=np.where(survived == 1, np.where(titanic["Sex"] == "male", 1.0, 2.0), np.nan),
        AsFloat32=(survived * 3).astype("float32"), AsNullable=pd.array(survived + 1, dtype="Int64"),
        OneRowOff=flipped,  # not every row
        Noise=np.random.default_rng(0).normal(size=len(titanic)))
    assert _leaks(frame, "Survived", "binary") == {"AsFloat", "AsInt", "AsBool", "OrMissing", "AsFloat32",
                                                   "AsNullable"}
    # more than LEAK_MAX_VALUES values are not checked, even when each goes with one class
    many = titanic.assign(ManyValues=survived * 100 + np.arange(len(titanic)) % 30)
    assert _leaks(many, "Survived", "binary") == set()


def test_a_number_column_equal_to_a_regression_target_is_found(datasets_dir):
    frame, target, task = load_dataset("insurance")
    charges = frame[target]
    copy_with_a_gap = charges.copy()
    copy_with_a_gap.iloc[5] = np.nan
    frame = frame.assign(Copy=charges, CopyAsFloat32=charges.astype("float32").astype(float),
                         CopyWithAGap=copy_with_a_gap, Rounded=charges.round(-3))
    assert _leaks(frame, target, task) == {"Copy"}
    whole = frame.assign(charges=charges.round().astype(int), IntCopy=charges.round().astype(int))
    assert _leaks(whole, target, task) == {"IntCopy"}


def test_infinite_values_are_counted_in_numpy_and_nullable_float_columns_in_column_order(titanic):
    df = titanic.assign(Extra=pd.array(titanic["Fare"], dtype="Float64"), Age32=titanic["Age"].astype("float32"))
    df.loc[[1, 2], "Extra"] = np.inf
    df.loc[[3, 4, 5], "Age32"] = -np.inf
    df.loc[3, "Fare"] = np.inf
    X, _ = D.split_target(df, target="Survived")
    with pytest.raises(DataError) as info:
        D.check_features(X)
    assert str(info.value).startswith("Infinite values in: Fare (1 rows), Extra (2 rows), Age32 (3 rows).")
    assert info.value.code == "inf_values"
