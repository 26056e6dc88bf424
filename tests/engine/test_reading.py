"""Reading data files: encodings, separators, decimal commas, compressed and other formats,
chunks, sheets, and the errors of files that cannot be read."""

import numpy as np
import pandas as pd
import pytest

from nbautoml.engine import data, reading
from nbautoml.exceptions import DataError


def test_non_utf8_csv_is_detected(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,city,y\nJosé,Zürich,1\nAna,Köln,0\n".encode("cp1252"))
    frame = reading.read_table(path)
    assert frame.loc[0, "city"] == "Zürich"
    assert frame.attrs["nbautoml_encoding"] == "cp1252"
    with pytest.raises(DataError, match="--encoding") as info:
        reading.read_table(path, encoding="utf-8")
    assert info.value.code == "bad_encoding"


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_csv_separated_by_semicolons_tabs_or_pipes_is_read_by_its_header(titanic, tmp_path, sep):
    path = tmp_path / "titanic.csv"
    titanic.to_csv(path, sep=sep, index=False)  # Name holds commas ("Braund, Mr. Owen Harris")
    frame = reading.read_table(path)
    pd.testing.assert_frame_equal(frame, titanic)
    assert frame.attrs["nbautoml_sep"] == sep


def test_excels_csv_with_decimal_commas_is_read_as_numbers(titanic, tmp_path):
    """Excel in locales that write 1,5 for 1.5 saves ';'-separated CSV: Age and Fare were read
    as text before (Fare one-hot on its 20 most common values, Age's 88 values likewise)."""
    path = tmp_path / "titanic_de.csv"
    titanic.to_csv(path, sep=";", decimal=",", index=False)
    assert "22,0" in path.read_text()
    frame = reading.read_table(path)
    pd.testing.assert_frame_equal(frame, titanic)
    assert reading.reading_notes(frame) == ["separator ';'", "decimal comma (1,5 read as 1.5)"]
    plain = tmp_path / "titanic_semicolons.csv"  # decimal points: read as before, no note
    titanic.to_csv(plain, sep=";", index=False)
    assert reading.reading_notes(reading.read_table(plain)) == ["separator ';'"]


@pytest.mark.parametrize("sep", [",", ";"])
def test_column_names_a_csv_header_repeats_are_noted_with_what_they_were_read_as(titanic, tmp_path, sep):
    """pandas reads a repeated header name ``Age`` as ``Age.1`` without a word; the note says so,
    for the whole file and each chunk of it."""
    path = tmp_path / "repeats.csv"
    frame = titanic.head(50).rename(columns={"SibSp": "Age", "Parch": "Age", "Fare": "Ticket"})
    frame.to_csv(path, sep=sep, index=False)
    read = reading.read_table(path)
    assert ["Age", "Age.1", "Age.2", "Ticket", "Ticket.1"] == [c for c in read.columns if c[:3] in ("Age", "Tic")]
    note = ("the header repeats column names ('Age' 3 times, read as 'Age', 'Age.1', 'Age.2'; 'Ticket' 2 times, "
            "read as 'Ticket', 'Ticket.1'); give each column its own name in the file")
    assert reading.reading_notes(read)[-1] == note
    assert all(reading.reading_notes(chunk)[-1] == note for chunk in reading.read_table_chunks(path, 20))
    titanic.head(5).to_csv(path, sep=sep, index=False)
    assert reading.reading_notes(reading.read_table(path)) == ([] if sep == "," else ["separator ';'"])


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
    frame = reading.read_table(path)
    assert list(frame.columns) == list(titanic.columns) and frame.shape == titanic.shape
    for column in ("Survived", "Age", "Fare"):
        np.testing.assert_allclose(frame[column].to_numpy(dtype=float), titanic[column].to_numpy(dtype=float))
    assert frame["Name"].tolist() == titanic["Name"].tolist()
    assert frame["Cabin"].isna().sum() == titanic["Cabin"].isna().sum()
    expected_notes = {"t.tsv.zip": ["separator '\\t'"], "lines.json": ["one JSON record per line"],
                      "t.xlsx": ["sheet 'passengers', the first of 2 (sheet= or --sheet for another)"]}
    assert reading.reading_notes(frame) == expected_notes.get(name, [])
    plan = {c.name: c.role for c in data.plan_columns(frame.drop(columns="Survived")).columns}
    assert plan == {c.name: c.role for c in data.plan_columns(titanic.drop(columns="Survived")).columns}


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
    whole = reading.read_table(path)
    chunks = list(reading.read_table_chunks(path, 100))
    assert [len(c) for c in chunks] == [100] * 8 + [91]
    joined = pd.concat(chunks, ignore_index=True)
    assert joined.shape == whole.shape and joined["Name"].tolist() == whole["Name"].tolist()
    for column in ("Survived", "Age", "Fare"):
        np.testing.assert_allclose(joined[column].to_numpy(dtype=float), whole[column].to_numpy(dtype=float))
    assert all(reading.reading_notes(c) == reading.reading_notes(whole) for c in chunks)
    assert len(list(reading.read_table_chunks(path, 0))) == 1


def test_a_broken_chunk_far_down_a_file_is_a_data_error(titanic, tmp_path):
    path = tmp_path / "t.csv"
    text = titanic.to_csv(index=False).splitlines()
    text[700] += ",one field too many"
    path.write_text("\n".join(text) + "\n")
    chunks = reading.read_table_chunks(path, 100)
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
    chunks = reading.read_table_chunks(tmp_path / "damaged.parquet", 300)
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
    first = reading.read_table(book)
    assert len(first) == 3
    assert reading.reading_notes(first) == ["sheet 'notes', the first of 3 (sheet= or --sheet for another)"]
    passengers = reading.read_table(book, sheet="passengers")
    assert passengers.shape == titanic.shape and reading.reading_notes(passengers) == ["sheet 'passengers'"]
    assert len(reading.read_table(book, sheet=1)) == len(reading.read_table(book, sheet="1")) == len(titanic)
    assert len(reading.read_table(book, sheet="2024")) == 5  # digits that name a sheet: the name
    with pytest.raises(DataError, match=r"book.xlsx has no sheet 'pasengers'; its sheets are \['notes', "
                                        r"'passengers', '2024'\]. Did you mean 'passengers'\?") as info:
        reading.read_table(book, sheet="pasengers")
    assert info.value.code == "no_such_sheet"
    with pytest.raises(DataError, match="no sheet 3"):
        reading.read_table(book, sheet=3)
    csv = tmp_path / "t.csv"
    titanic.to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"sheet='passengers' is for Excel files; t.csv is read as csv") as info:
        reading.read_table(csv, sheet="passengers")
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
        reading.read_table(broken)
    assert info.value.code == "bad_file"
    pytest.importorskip("openpyxl")
    book = tmp_path / "t.xlsx"
    titanic.head(5).to_excel(book, index=False)
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(DataError, match=r"t.xlsx \(excel\) needs openpyxl, which is not installed: pip "
                                        r"install 'nbautoml\[excel\]'") as info:
        reading.read_table(book)
    assert info.value.code == "missing_dependency"


def test_unreadable_tables_get_a_data_error_not_a_traceback(tmp_path, monkeypatch):
    text = tmp_path / "notes.csv"
    text.write_text("# nbautoml\n\nModel automation for Jupyter\ntrain, validate\ndeploy, monitor, explain\n")
    with pytest.raises(DataError, match="cannot be read as a CSV table") as info:
        reading.read_table(text)
    assert info.value.code == "bad_csv"
    with pytest.raises(DataError, match="is a directory") as info:
        reading.read_table(tmp_path)
    assert info.value.code == "not_a_file"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty") as info:
        reading.read_table(empty)
    assert info.value.code == "empty_data"
    parquet = tmp_path / "t.parquet"
    parquet.write_bytes(b"PAR1")

    def no_engine(*args, **kwargs):
        raise ImportError("Unable to find a usable engine; tried using: 'pyarrow', 'fastparquet'.")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    with pytest.raises(DataError, match=r"pip install 'nbautoml\[parquet\]'") as info:
        reading.read_table(parquet)
    assert info.value.code == "missing_dependency"
