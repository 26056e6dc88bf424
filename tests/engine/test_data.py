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


def test_non_utf8_csv_is_detected(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city,y\nJosé,Zürich,1\nAna,Köln,0\n".encode("cp1252"))
    frame = D.read_table(path)
    assert frame.loc[0, "city"] == "Zürich"
    assert frame.attrs["nbautoml_encoding"] == "cp1252"
    with pytest.raises(DataError, match="--encoding") as info:
        D.read_table(path, encoding="utf-8")
    assert info.value.code == "bad_encoding"


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_csv_separated_by_semicolons_tabs_or_pipes_is_read_by_its_header(titanic, tmp_path, sep):
    path = tmp_path / "titanic.csv"
    titanic.to_csv(path, sep=sep, index=False)  # Name holds commas ("Braund, Mr. Owen Harris")
    frame = D.read_table(path)
    pd.testing.assert_frame_equal(frame, titanic)
    assert frame.attrs["nbautoml_sep"] == sep


def test_excels_csv_with_decimal_commas_is_read_as_numbers(titanic, tmp_path):
    """Excel in locales that write 1,5 for 1.5 saves ';'-separated CSV: Age and Fare were read
    as text before (Fare one-hot on its 20 most common values, Age's 88 values likewise)."""
    path = tmp_path / "titanic_de.csv"
    titanic.to_csv(path, sep=";", decimal=",", index=False)
    assert "22,0" in path.read_text()
    frame = D.read_table(path)
    pd.testing.assert_frame_equal(frame, titanic)
    assert D.reading_notes(frame) == ["separator ';'", "decimal comma (1,5 read as 1.5)"]
    plain = tmp_path / "titanic_semicolons.csv"  # decimal points: read as before, no note
    titanic.to_csv(plain, sep=";", index=False)
    assert D.reading_notes(D.read_table(plain)) == ["separator ';'"]


@pytest.mark.parametrize("sep", [",", ";"])
def test_column_names_a_csv_header_repeats_are_noted_with_what_they_were_read_as(titanic, tmp_path, sep):
    """pandas reads a repeated header name ``Age`` as ``Age.1`` without a word; the note says so,
    for the whole file and each chunk of it."""
    path = tmp_path / "repeats.csv"
    frame = titanic.head(50).rename(columns={"SibSp": "Age", "Parch": "Age", "Fare": "Ticket"})
    frame.to_csv(path, sep=sep, index=False)
    read = D.read_table(path)
    assert ["Age", "Age.1", "Age.2", "Ticket", "Ticket.1"] == [c for c in read.columns if c[:3] in ("Age", "Tic")]
    note = ("the header repeats column names ('Age' 3 times, read as 'Age', 'Age.1', 'Age.2'; 'Ticket' 2 times, "
            "read as 'Ticket', 'Ticket.1'); give each column its own name in the file")
    assert D.reading_notes(read)[-1] == note
    assert all(D.reading_notes(chunk)[-1] == note for chunk in D.read_table_chunks(path, 20))
    titanic.head(5).to_csv(path, sep=sep, index=False)
    assert D.reading_notes(D.read_table(path)) == ([] if sep == "," else ["separator ';'"])


@pytest.mark.parametrize("name", ["t.csv.gz", "t.tsv.zip", "t.feather", "t.json", "t.jsonl", "lines.json", "t.xlsx"])
def test_compressed_csv_feather_json_and_excel_files_read_as_the_csv(titanic, tmp_path, name):
    """Before, any suffix but .parquet was read as CSV: a .json file of records became a frame of
    0 rows and 11,583 columns, a .feather file a parse error, an .xlsx file was refused."""
    path = tmp_path / name
    if name.startswith("t.csv") or name.startswith("t.tsv"):
        titanic.to_csv(path, sep="\t" if ".tsv" in name else ",", index=False)
    elif name.endswith(".feather"):
        titanic.to_feather(path)
    elif name.endswith(".xlsx"):
        pytest.importorskip("openpyxl")
        with pd.ExcelWriter(path) as writer:  # two sheets: the first is read, and the note says so
            titanic.to_excel(writer, sheet_name="passengers", index=False)
            titanic.head(3).to_excel(writer, sheet_name="notes", index=False)
    else:
        titanic.to_json(path, orient="records", lines=name != "t.json")
    frame = D.read_table(path)
    assert list(frame.columns) == list(titanic.columns) and frame.shape == titanic.shape
    for column in ("Survived", "Age", "Fare"):
        np.testing.assert_allclose(frame[column].to_numpy(dtype=float), titanic[column].to_numpy(dtype=float))
    assert frame["Name"].tolist() == titanic["Name"].tolist()
    assert frame["Cabin"].isna().sum() == titanic["Cabin"].isna().sum()
    expected_notes = {"t.tsv.zip": ["separator '\\t'"], "lines.json": ["one JSON record per line"],
                      "t.xlsx": ["sheet 'passengers', the first of 2 (sheet= or --sheet for another)"]}
    assert D.reading_notes(frame) == expected_notes.get(name, [])
    plan = {c.name: c.role for c in D.plan_columns(frame.drop(columns="Survived")).columns}
    assert plan == {c.name: c.role for c in D.plan_columns(titanic.drop(columns="Survived")).columns}


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.tsv.zip", "t_de.csv", "t.parquet", "t.feather",
                                  "t.json", "t.jsonl", "t.xlsx"])
def test_chunks_of_every_format_make_the_whole_table(titanic, tmp_path, name):
    """``read_table_chunks`` (what ``nbautoml predict`` reads a file with): CSV, JSON lines and
    Parquet a chunk at a time, the other formats whole and then in slices; the same rows and
    values as ``read_table``, and the reading notes on every chunk."""
    path = tmp_path / name
    if name == "t_de.csv":
        titanic.to_csv(path, sep=";", decimal=",", index=False)
    elif name.startswith("t.csv") or name.startswith("t.tsv"):
        titanic.to_csv(path, sep="\t" if ".tsv" in name else ",", index=False)
    elif name.endswith(".parquet"):
        titanic.to_parquet(path, row_group_size=250)
    elif name.endswith(".feather"):
        titanic.to_feather(path)
    elif name.endswith(".xlsx"):
        pytest.importorskip("openpyxl")
        titanic.to_excel(path, index=False)
    else:
        titanic.to_json(path, orient="records", lines=name.endswith(".jsonl"))
    whole = D.read_table(path)
    chunks = list(D.read_table_chunks(path, 100))
    assert [len(c) for c in chunks] == [100] * 8 + [91]
    joined = pd.concat(chunks, ignore_index=True)
    assert joined.shape == whole.shape and joined["Name"].tolist() == whole["Name"].tolist()
    for column in ("Survived", "Age", "Fare"):
        np.testing.assert_allclose(joined[column].to_numpy(dtype=float), whole[column].to_numpy(dtype=float))
    assert all(D.reading_notes(c) == D.reading_notes(whole) for c in chunks)
    assert len(list(D.read_table_chunks(path, 0))) == 1


def test_a_broken_chunk_far_down_a_file_is_a_data_error(titanic, tmp_path):
    path = tmp_path / "t.csv"
    text = titanic.to_csv(index=False).splitlines()
    text[700] += ",one field too many"
    path.write_text("\n".join(text) + "\n")
    chunks = D.read_table_chunks(path, 100)
    assert len(next(chunks)) == 100
    with pytest.raises(DataError, match="cannot be read as a CSV table") as info:
        list(chunks)
    assert info.value.code == "bad_csv"

    pq = pytest.importorskip("pyarrow.parquet")
    titanic.to_parquet(tmp_path / "t.parquet", row_group_size=300)
    data = bytearray((tmp_path / "t.parquet").read_bytes())
    start = pq.ParquetFile(tmp_path / "t.parquet").metadata.row_group(2).column(0).data_page_offset
    data[start:start + 40] = b"\xff" * 40  # the page header of the third row group
    (tmp_path / "damaged.parquet").write_bytes(bytes(data))
    chunks = D.read_table_chunks(tmp_path / "damaged.parquet", 300)
    assert len(next(chunks)) == 300
    with pytest.raises(DataError, match="cannot be read as parquet past its first rows") as info:
        list(chunks)
    assert info.value.code == "bad_file"


def test_a_sheet_is_read_by_name_or_position_and_a_wrong_one_names_the_sheets(titanic, tmp_path, capsys):
    pytest.importorskip("openpyxl")
    from nbautoml.cli import main

    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book) as writer:
        titanic.head(3).to_excel(writer, sheet_name="notes", index=False)
        titanic.to_excel(writer, sheet_name="passengers", index=False)
        titanic.head(5).to_excel(writer, sheet_name="2024", index=False)
    first = D.read_table(book)
    assert len(first) == 3
    assert D.reading_notes(first) == ["sheet 'notes', the first of 3 (sheet= or --sheet for another)"]
    passengers = D.read_table(book, sheet="passengers")
    assert passengers.shape == titanic.shape and D.reading_notes(passengers) == ["sheet 'passengers'"]
    assert len(D.read_table(book, sheet=1)) == len(D.read_table(book, sheet="1")) == len(titanic)
    assert len(D.read_table(book, sheet="2024")) == 5  # digits that name a sheet: the name
    with pytest.raises(DataError, match=r"book.xlsx has no sheet 'pasengers'; its sheets are \['notes', "
                                        r"'passengers', '2024'\]. Did you mean 'passengers'\?") as info:
        D.read_table(book, sheet="pasengers")
    assert info.value.code == "no_such_sheet"
    with pytest.raises(DataError, match="no sheet 3"):
        D.read_table(book, sheet=3)
    csv = tmp_path / "t.csv"
    titanic.to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"sheet='passengers' is for Excel files; t.csv is read as csv") as info:
        D.read_table(csv, sheet="passengers")
    assert info.value.code == "bad_sheet"
    assert main(["plan", str(book), "--target", "Survived", "--sheet", "passengers"]) == 0
    out, err = capsys.readouterr()
    assert "DataPlan (11 columns)" in out and "sheet 'passengers'" in err
    assert main(["plan", str(book), "--target", "Survived", "--sheet", "passenger"]) != 0
    assert "Did you mean 'passengers'?" in capsys.readouterr().err
    assert main(["run", str(book), "--target", "Survived", "--sheet", "1", "--max-evals", "1", "--time-budget",
                 "none", "--models", "logistic_regression", "--no-ensemble", "--quiet",
                 "--search-dir", str(tmp_path / "runs")]) == 0
    # the second sheet: on the first one's 3 rows the search refuses to start (too few rows)
    assert "best roc_auc: 0.8" in capsys.readouterr().out


def test_a_missing_reader_and_a_broken_file_name_the_fix(titanic, tmp_path, monkeypatch):
    import sys

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match=r"broken.json cannot be read as json .* or convert it to CSV") as info:
        D.read_table(broken)
    assert info.value.code == "bad_file"
    pytest.importorskip("openpyxl")
    book = tmp_path / "t.xlsx"
    titanic.head(5).to_excel(book, index=False)
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(DataError, match=r"t.xlsx \(excel\) needs openpyxl, which is not installed: pip "
                                        r"install 'nbautoml\[excel\]'") as info:
        D.read_table(book)
    assert info.value.code == "missing_dependency"


def test_unreadable_tables_get_a_data_error_not_a_traceback(tmp_path, monkeypatch):
    text = tmp_path / "notes.csv"
    text.write_text("# nbautoml\n\nModel automation for Jupyter\ntrain, validate\ndeploy, monitor, explain\n")
    with pytest.raises(DataError, match="cannot be read as a CSV table") as info:
        D.read_table(text)
    assert info.value.code == "bad_csv"
    with pytest.raises(DataError, match="is a directory") as info:
        D.read_table(tmp_path)
    assert info.value.code == "not_a_file"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty") as info:
        D.read_table(empty)
    assert info.value.code == "empty_data"
    parquet = tmp_path / "t.parquet"
    parquet.write_bytes(b"PAR1")

    def no_engine(*args, **kwargs):
        raise ImportError("Unable to find a usable engine; tried using: 'pyarrow', 'fastparquet'.")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    with pytest.raises(DataError, match=r"pip install 'nbautoml\[parquet\]'") as info:
        D.read_table(parquet)
    assert info.value.code == "missing_dependency"


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
