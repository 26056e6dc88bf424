"""Scoring a file chunk by chunk (``nbautoml predict``, ``nbautoml.batch.predict_file``): the
same predictions as the whole file at once, memory for one chunk, nothing half written."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

import nbautoml
from nbautoml.batch import predict_file
from nbautoml.cli import main
from nbautoml.exceptions import DataError


class CountingModel:
    """A loaded model that records how many rows each call predicts."""

    def __init__(self, model):
        self.model, self.calls, self.predicted = model, [], []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def predict(self, X):
        self.calls.append(len(X))
        self.predicted.append(len(X))
        return self.model.predict(X)

    def predict_proba(self, X):
        self.calls.append(len(X))
        return self.model.predict_proba(X)


@pytest.fixture()
def titanic_rows(fitted, tmp_path):
    """All 891 titanic rows in a CSV as a user has them, target column included."""
    frame = fitted("titanic").frame
    frame.to_csv(tmp_path / "all.csv", index=False)
    return frame, tmp_path / "all.csv"


def test_chunks_give_the_predictions_of_the_whole_file_in_every_format(titanic_artifact, titanic_rows, tmp_path):
    path, _ = titanic_artifact
    frame, csv = titanic_rows
    model = CountingModel(nbautoml.load(path))
    expected = model.model.predict_proba(frame)
    frame.to_parquet(tmp_path / "all.parquet")
    frame.to_json(tmp_path / "all.jsonl", orient="records", lines=True)
    frame.to_csv(tmp_path / "all.csv.gz", index=False)

    whole = predict_file(model, csv, tmp_path / "whole.csv", proba=True, keep=["PassengerId"], chunk_rows=0)
    assert (whole.rows, whole.chunks) == (891, 1)
    reference = pd.read_csv(tmp_path / "whole.csv")
    for source in ("all.csv", "all.csv.gz", "all.parquet", "all.jsonl"):
        for out, read in (("p.csv", pd.read_csv), ("p.parquet", pd.read_parquet),
                          ("p.jsonl", lambda p: pd.read_json(p, lines=True))):
            model.calls.clear()
            run = predict_file(model, tmp_path / source, tmp_path / out, proba=True, keep=["PassengerId"],
                               chunk_rows=100)
            assert (run.rows, run.chunks) == (891, 9), (source, out)
            assert max(model.calls) == 100, (source, model.calls)  # the model saw one chunk at a time
            written = read(tmp_path / out)
            assert written["PassengerId"].tolist() == frame["PassengerId"].tolist(), (source, out)
            np.testing.assert_allclose(written[["probability 0", "probability 1"]], expected, atol=1e-12)
            assert (written["predicted Survived"].to_numpy() == model.model.predict(frame)).all()
        # the same table as the whole file's (probabilities may differ in the last bit: sums in
        # another order over another number of rows)
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p.csv"), reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_labels_are_read_off_the_probabilities_in_one_pass(titanic_artifact, titanic_rows, tmp_path, threshold):
    """With --proba the model runs once per chunk: the labels are the probabilities' (at the
    model's threshold if it has one), and only the first 64 rows of a chunk are asked of predict."""
    from nbautoml.engine.threshold import with_threshold

    path, _ = titanic_artifact
    frame, csv = titanic_rows
    loaded = nbautoml.load(path)
    if threshold is not None:
        with_threshold(loaded.best_pipeline_, threshold)
    model = CountingModel(loaded)
    run = predict_file(model, csv, tmp_path / "p.csv", proba=True, chunk_rows=300)
    assert run.chunks == 3 and model.predicted == [64, 64, 64], model.predicted
    written = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_array_equal(written["predicted Survived"], loaded.predict(frame))
    positive = loaded.predict_proba(frame)[:, 1] >= (threshold or 0.5)
    assert ((written["predicted Survived"] == 1) == positive).all()


def test_a_model_whose_labels_are_not_its_probabilities_argmax_is_asked_for_them(titanic_artifact, titanic_rows,
                                                                                 tmp_path):
    path, _ = titanic_artifact
    frame, csv = titanic_rows

    class Contrary(CountingModel):  # predicts the less probable class
        def predict(self, X):
            self.predicted.append(len(X))
            return 1 - self.model.predict(X)

    model = Contrary(nbautoml.load(path))
    predict_file(model, csv, tmp_path / "p.csv", proba=True, chunk_rows=0)
    assert model.predicted == [64, 891]
    written = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_array_equal(written["predicted Survived"], 1 - model.model.predict(frame))


def test_a_bad_row_far_down_the_file_leaves_no_file_and_says_where(titanic_artifact, titanic_rows, tmp_path):
    path, _ = titanic_artifact
    frame, _ = titanic_rows
    bad = frame.astype({"Age": object})
    bad.loc[650, "Age"] = "old"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "p.csv").write_text("yesterday's predictions\n")
    with pytest.raises(DataError, match=r"'Age' must be numeric.*'old'.*in the rows from row 601 of bad.csv"):
        predict_file(nbautoml.load(path), tmp_path / "bad.csv", tmp_path / "out" / "p.csv", chunk_rows=100)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["p.csv"]  # no temporary file left
    assert (tmp_path / "out" / "p.csv").read_text() == "yesterday's predictions\n"


def test_the_encoding_is_found_on_the_whole_file_before_the_first_chunk(titanic_artifact, titanic_rows, tmp_path,
                                                                       capsys):
    """cp1252 bytes only in the last rows: chunks read as UTF-8 would fail after 800 rows."""
    path, _ = titanic_artifact
    frame, _ = titanic_rows
    accented = frame.copy()
    accented.loc[880:, "Name"] = accented.loc[880:, "Name"] + " Müller-Sørensen"
    accented.to_csv(tmp_path / "cp1252.csv", index=False, encoding="cp1252")
    model = nbautoml.load(path)
    out = io.StringIO()
    run = predict_file(model, tmp_path / "cp1252.csv", keep=["Name"], chunk_rows=100, stream=out)
    assert run.notes == ["encoding cp1252 (not UTF-8)"] and run.chunks == 9
    printed = pd.read_csv(io.StringIO(out.getvalue()))
    assert printed["Name"].tolist() == accented["Name"].tolist()
    assert (printed["predicted Survived"].to_numpy() == model.predict(accented)).all()
    assert main(["predict", str(path), str(tmp_path / "cp1252.csv"), "--chunk-rows", "100",
                 "--out", str(tmp_path / "p.csv")]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"read {tmp_path / 'cp1252.csv'}: encoding cp1252 (not UTF-8)",
        f"Wrote 891 predictions to {tmp_path / 'p.csv'} (in 9 chunks)"]


def test_cli_chunk_rows(titanic_artifact, titanic_rows, tmp_path, capsys):
    path, _ = titanic_artifact
    frame, csv = titanic_rows
    assert main(["predict", str(path), str(csv), "--keep", "PassengerId", "--chunk-rows", "250",
                 "--out", str(tmp_path / "p.jsonl")]) == 0
    assert f"Wrote 891 predictions to {tmp_path / 'p.jsonl'} (in 4 chunks)" in capsys.readouterr().err
    assert pd.read_json(tmp_path / "p.jsonl", lines=True)["PassengerId"].tolist() == frame["PassengerId"].tolist()
    frame.head(0).to_csv(tmp_path / "header.csv", index=False)
    assert main(["predict", str(path), str(tmp_path / "header.csv"), "--out", str(tmp_path / "q.csv")]) == 2
    assert "header.csv has no rows: nothing to predict" in capsys.readouterr().err
    assert not (tmp_path / "q.csv").exists()
    with pytest.raises(SystemExit):
        main(["predict", str(path), str(csv), "--chunk-rows", "-1"])
    assert "must be >= 0, got -1" in capsys.readouterr().err


def test_a_kept_column_that_changes_type_down_the_file(titanic_artifact, titanic_rows, tmp_path):
    """Parquet holds one type per column: IDs that are numbers in the first chunks and text
    further down are refused there, with the ways out; CSV writes them as they are."""
    path, _ = titanic_artifact
    frame, _ = titanic_rows
    mixed = frame.astype({"PassengerId": object})
    mixed.loc[500:, "PassengerId"] = [f"P-{i}" for i in mixed.loc[500:, "PassengerId"]]
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    model = nbautoml.load(path)
    with pytest.raises(DataError, match="other types further down.*Write a .csv file.*--chunk-rows 0") as info:
        predict_file(model, tmp_path / "mixed.csv", tmp_path / "p.parquet", keep=["PassengerId"], chunk_rows=100)
    assert info.value.code == "keep_changed_type" and not (tmp_path / "p.parquet").exists()
    predict_file(model, tmp_path / "mixed.csv", tmp_path / "p.csv", keep=["PassengerId"], chunk_rows=100)
    assert pd.read_csv(tmp_path / "p.csv")["PassengerId"].astype(str).tolist() == mixed["PassengerId"].astype(str).tolist()
    predict_file(model, tmp_path / "mixed.csv", tmp_path / "p.parquet", keep=["PassengerId"], chunk_rows=0)
    assert pd.read_parquet(tmp_path / "p.parquet")["PassengerId"].tolist()[-1] == "P-891"


def test_a_kept_number_column_keeps_its_first_chunks_kind_in_every_chunk(titanic_artifact, titanic_rows, tmp_path):
    """pandas reads a chunk with a missing ID as floats: "651.0" in the middle of "1", "2", ...
    Each kept column is written as in its first chunk: whole numbers stay whole, floats stay
    floats (a missing value in the first chunk: "1.0" on, as the whole file would write)."""
    path, _ = titanic_artifact
    frame, _ = titanic_rows
    ids = frame.assign(PassengerId=frame["PassengerId"].astype("Int64"), Code=frame["PassengerId"].astype("Int64"))
    ids.loc[[650, 651], "PassengerId"] = pd.NA  # in the 7th chunk of 100 only
    ids.loc[3, "Code"] = pd.NA  # in the first chunk
    ids.to_csv(tmp_path / "ids.csv", index=False)
    assert pd.read_csv(tmp_path / "ids.csv", dtype=str)["PassengerId"].tolist()[:2] == ["1", "2"]  # as a user has them
    model = nbautoml.load(path)
    predict_file(model, tmp_path / "ids.csv", tmp_path / "p.csv", keep=["PassengerId", "Code"], chunk_rows=100)
    rows = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    passenger, code = rows["PassengerId"].tolist(), rows["Code"].tolist()
    assert passenger[649:653] == ["650", "", "", "653"] and not any(v.endswith(".0") for v in passenger)
    assert code[:5] == ["1.0", "2.0", "3.0", "", "5.0"] and code[700] == "701.0"
    assert all(v.endswith(".0") for i, v in enumerate(code) if i != 3)
    predict_file(model, tmp_path / "ids.csv", tmp_path / "p.jsonl", keep=["PassengerId", "Code"], chunk_rows=100)
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [r["PassengerId"] for r in rows[649:653]] == [650, None, None, 653]
    assert all(type(r["PassengerId"]) is int for i, r in enumerate(rows) if i not in (650, 651))
    assert all(type(r["Code"]) is float for i, r in enumerate(rows) if i != 3) and rows[3]["Code"] is None
    predict_file(model, tmp_path / "ids.csv", tmp_path / "p.parquet", keep=["PassengerId", "Code"], chunk_rows=100)
    written = pd.read_parquet(tmp_path / "p.parquet")
    assert written["PassengerId"].isna().sum() == 2 and written["PassengerId"].sum() == frame["PassengerId"].sum() - 651 - 652


@pytest.mark.parametrize("out", ["p.csv", "p.parquet"])
def test_a_full_disk_or_an_unreadable_input_leaves_the_old_predictions(titanic_artifact, titanic_rows, tmp_path,
                                                                      monkeypatch, out):
    import errno
    import os

    from nbautoml.persist import ArtifactError

    path, _ = titanic_artifact
    _, csv = titanic_rows
    model = nbautoml.load(path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / out).write_bytes(b"yesterday's predictions")
    real_write, calls = os.write, []

    def full_after_two(fd, data):  # the disk of tmp_path only: other threads' pipes keep writing
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path)):
            calls.append(len(data))
            if len(calls) > 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_after_two)
    with pytest.raises(ArtifactError, match=f"Could not save the predictions to .*{out}.*no space left"):
        predict_file(model, csv, tmp_path / "out" / out, chunk_rows=100)
    monkeypatch.setattr(os, "write", real_write)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [out]
    assert (tmp_path / "out" / out).read_bytes() == b"yesterday's predictions"

    # an error reading the input is the reader's, not "could not save"
    def unreadable(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(csv))

    monkeypatch.setattr(pd, "read_csv", unreadable)
    with pytest.raises(DataError, match="all.csv cannot be read: Permission denied. Check that you may read it"):
        predict_file(model, csv, tmp_path / "out" / out, chunk_rows=100)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [out]


def test_progress_after_each_chunk(titanic_artifact, titanic_rows, tmp_path):
    from nbautoml.render.progress import RowProgress

    path, _ = titanic_artifact
    _, csv = titanic_rows
    model, seen = nbautoml.load(path), []
    predict_file(model, csv, tmp_path / "p.csv", chunk_rows=250, on_chunk=lambda run: seen.append(run.rows))
    assert seen == [250, 500, 750, 891]

    log = io.StringIO()  # a log file: whole lines, here at every chunk, and a last one
    progress = RowProgress(log, every=0)
    predict_file(model, csv, tmp_path / "p.csv", chunk_rows=250, on_chunk=progress)
    progress.close()
    lines = log.getvalue().splitlines()
    assert [line.split(" in ")[0] for line in lines] == [
        "predicted 250 rows (1 chunk)", "predicted 500 rows (2 chunks)", "predicted 750 rows (3 chunks)",
        "predicted 891 rows (4 chunks)", "predicted 891 rows (4 chunks)"]
    quiet = io.StringIO()  # the default: a line at most every 10 s, so a short job writes none
    progress = RowProgress(quiet)
    predict_file(model, csv, tmp_path / "p.csv", chunk_rows=250, on_chunk=progress)
    progress.close()
    assert quiet.getvalue() == ""
