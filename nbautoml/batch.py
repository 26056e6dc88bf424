"""Batch scoring: a saved model's predictions on a table, and writing them to a file atomically.

What ``nbautoml predict MODEL DATA`` runs; in Python, ``prediction_table(model, frame)``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .exceptions import ConfigError, DataError, closest

#: output suffix -> format written by :func:`write_table`
OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "json lines"}


def prediction_table(model, data: pd.DataFrame, proba: bool = False, keep: Sequence[str] = ()) -> pd.DataFrame:
    """One row per row of ``data``: the ``keep`` columns, then the prediction.

    Parameters
    ----------
    model : AutoML or LoadedModel
        A fitted search result or a model from ``nbautoml.load``.
    data : DataFrame
        Rows with the training columns (more columns, the target among them, are ignored).
    proba : bool, default=False
        Add a column ``probability <class>`` per class (classification only).
    keep : sequence of str
        Columns of ``data`` copied in front of the predictions (an ID, for example).

    Returns
    -------
    DataFrame
        ``keep`` columns, ``predicted <target>`` and, with ``proba``, the probabilities.

    Raises
    ------
    DataError
        A ``keep`` column that ``data`` lacks (the error names the columns it has).
    ConfigError
        ``proba`` for a regression model.
    """
    missing = [c for c in keep if c not in data.columns]
    if missing:
        hint = closest(missing[0], data.columns)
        did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
        raise DataError(f"No column {', '.join(map(repr, missing))} to keep in the data.{did_you_mean} "
                        f"Columns: {', '.join(map(str, data.columns))}.", code="keep_not_found")
    task = getattr(model, "task_", None)
    if proba and task == "regression":
        raise ConfigError("This is a regression model: it predicts numbers, not class probabilities; "
                          "drop --proba.", code="no_probabilities")
    table = data.loc[:, list(keep)].reset_index(drop=True)
    schema = getattr(model, "schema_", None) or {}
    used = {column["name"] for column in schema.get("columns", [])}
    if used:  # a kept column the model does not read is asked for, not "ignored" with a warning
        data = data.drop(columns=[c for c in keep if c not in used])
    target = getattr(model, "target_", None)
    if proba:
        labels, values = labels_and_probabilities(model, data)
    else:
        labels, values = np.asarray(model.predict(data)), None
    table[f"predicted {target}" if target else "prediction"] = labels
    if proba:
        for label, column in zip(model.classes_, values.T):
            table[f"probability {label}"] = column
    return table


#: rows on which :func:`labels_and_probabilities` checks its labels against the model's predict
LABEL_CHECK_ROWS = 64


def labels_and_probabilities(model, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A classifier's predicted labels and class probabilities from one pass over ``data``.

    The labels are read off the probabilities as the model's ``predict`` does
    (the most probable class, or the positive class from the model's decision
    threshold), so the preprocessing and the estimator run once, not twice. The
    first :data:`LABEL_CHECK_ROWS` rows are checked against ``predict``; a model
    whose ``predict`` is not read off its probabilities is asked for its labels.
    """
    from .engine.threshold import model_threshold, predicted_codes

    values = np.asarray(model.predict_proba(data))
    labels = np.asarray(model.classes_)[predicted_codes(values, model_threshold(model))]
    head = data.iloc[:LABEL_CHECK_ROWS]
    if not np.array_equal(np.asarray(model.predict(head)), labels[:len(head)]):
        labels = np.asarray(model.predict(data))
    return labels, values


def output_format(path: str | Path) -> str:
    """The format :func:`write_table` writes ``path`` in, by its suffix.

    Raises
    ------
    ConfigError
        For any other suffix (before anything is predicted).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ConfigError(f"Cannot write predictions to {str(path)!r}: give a file ending in "
                          f"{', '.join(OUTPUT_FORMATS)}.", code="bad_out")
    if Path(path).is_dir():
        raise ConfigError(f"{str(path)!r} is a directory; give a file path such as "
                          f"{str(Path(path) / 'predictions.csv')!r}.", code="bad_out")
    kind = OUTPUT_FORMATS[suffix]
    if kind == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise ConfigError("Writing Parquet needs pyarrow: pip install 'nbautoml[parquet]' "
                          "(or write a .csv file).", code="missing_dependency")
    return kind


def write_predictions(model, data: pd.DataFrame, path: str | Path, proba: bool = False,
                      keep: Sequence[str] = ()) -> tuple[pd.DataFrame, Path]:
    """:func:`prediction_table` written to ``path`` by :func:`write_table`; a path whose suffix
    cannot be written is refused before anything is predicted. Returns the table and the path."""
    output_format(path)
    table = prediction_table(model, data, proba=proba, keep=keep)
    return table, write_table(table, path)


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` to ``path`` (CSV, Parquet or JSON lines by suffix), atomically.

    A reader never sees half a file, and a failed write leaves an existing file as it was.
    """
    from .atomic import atomic_file

    kind = output_format(path)
    with atomic_file(path, "the predictions") as handle, _TableWriter(handle, kind) as writer:
        writer.write(table)
    return Path(path)


#: rows read, predicted and written at a time by :func:`predict_file`
CHUNK_ROWS = 100_000


@dataclass
class BatchRun:
    """What :func:`predict_file` did.

    Attributes
    ----------
    rows : int
        Rows predicted.
    chunks : int
        Chunks they were read and predicted in.
    path : Path or None
        The file written (None: the CSV went to a stream).
    notes : list of str
        How the data file was read when it was not plain UTF-8 with commas.
    """

    rows: int
    chunks: int
    path: Path | None
    notes: list[str] = field(default_factory=list)


def predict_file(model, data: str | Path, out: str | Path | None = None, *, proba: bool = False,
                 keep: Sequence[str] = (), chunk_rows: int = CHUNK_ROWS, encoding: str | None = None,
                 sheet: str | int | None = None, stream=None, on_chunk=None) -> BatchRun:
    """Predict the rows of a data file ``chunk_rows`` at a time, so a file larger than memory
    can be scored; what ``nbautoml predict`` runs.

    Each chunk goes through :func:`prediction_table` and is written before the next is read:
    to ``out`` (one file, which appears only when every row is predicted, else an existing
    file is left as it was) or as CSV to ``stream``. The model's text columns are read as
    text, so a chunk whose codes all look like numbers (``"01234"``) reads them as a whole
    file would.

    Parameters
    ----------
    model : AutoML or LoadedModel
    data : str or Path
        A data file (any format :func:`nbautoml.read_table` reads; CSV, JSON lines and
        Parquet are read in chunks, the others whole).
    out : str or Path, optional
        ``.csv``, ``.parquet`` or ``.jsonl`` file; without it, CSV goes to ``stream``.
    proba, keep
        As :func:`prediction_table`.
    chunk_rows : int, default=100,000
        Rows per chunk; 0: the whole file at once.
    encoding, sheet
        As :func:`nbautoml.read_table`.
    stream : text file, optional
        Where the CSV goes without ``out`` (default: standard output).
    on_chunk : callable, optional
        Called with the :class:`BatchRun` so far after each chunk is written (progress).

    Returns
    -------
    BatchRun

    Raises
    ------
    DataError
        As :func:`nbautoml.read_table` and the model's input check (the error names the
        chunk's first row); ``no_rows`` for a file without rows; ``keep_changed_type`` when
        a kept column changes type between chunks of a Parquet output.
    ConfigError
        A bad ``out`` suffix, before the file is read.
    """
    from .atomic import atomic_file
    from .engine.reading import read_table_chunks, reading_notes
    from .schema import model_text_columns

    kind = output_format(out) if out is not None else "csv"
    chunk_rows = max(int(chunk_rows), 0)
    chunks = read_table_chunks(data, chunk_rows, encoding=encoding, sheet=sheet,
                               text_columns=model_text_columns(model))
    run = BatchRun(rows=0, chunks=0, path=None if out is None else Path(out))

    def predict_into(writer: _TableWriter) -> None:
        with writer:  # closed also on an error, while the file is still open
            for chunk in chunks:
                if run.chunks == 0:
                    run.notes = reading_notes(chunk)
                if len(chunk) == 0:  # a header without rows
                    continue
                try:
                    table = prediction_table(model, chunk, proba=proba, keep=keep)
                except DataError as err:
                    if not run.chunks:
                        raise
                    raise DataError(f"{err} (in the rows from row {run.rows + 1:,} of {Path(data).name} on)",
                                    code=err.code, **err.details) from None
                writer.write(table)
                run.rows += len(table)
                run.chunks += 1
                if on_chunk is not None:
                    on_chunk(run)
        if run.rows == 0:
            raise DataError(f"{Path(data).name} has no rows: nothing to predict.", code="no_rows")

    if out is None:
        predict_into(_TableWriter(stream if stream is not None else sys.stdout, "csv", text=True))
    else:
        with atomic_file(out, "the predictions") as handle:
            predict_into(_TableWriter(handle, kind))
    return run


class _TableWriter:
    """Writes tables one after another to a file as one CSV, Parquet or JSON lines table
    (a context manager: a Parquet file's footer is written when it closes)."""

    def __init__(self, handle, kind: str, text: bool = False):
        self.handle, self.kind, self.text = handle, kind, text
        self._parquet = None
        self._started = False
        self._first_types: dict | None = None

    def __enter__(self) -> _TableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def write(self, table: pd.DataFrame) -> None:
        table = self._as_first_chunk(table)
        if self.kind == "parquet":
            self._write_parquet(table)
        else:
            piece = (table.to_csv(index=False, header=not self._started) if self.kind == "csv"
                     else table.to_json(orient="records", lines=True, date_format="iso", double_precision=15))
            self.handle.write(piece if self.text else piece.encode())
        self._started = True

    def _as_first_chunk(self, table: pd.DataFrame) -> pd.DataFrame:
        """``table`` with its number columns of the first chunk's kind: a column of whole
        numbers stays whole numbers (``1``, not ``1.0``) in a chunk where a missing value made
        pandas read it as floats, and a float column stays float in a chunk without any."""
        if self._first_types is None:
            self._first_types = table.dtypes.to_dict()
            return table
        kinds = {}
        for name, first in self._first_types.items():
            now = table[name].dtype if name in table else None
            if now is None or now == first:
                continue
            if pd.api.types.is_integer_dtype(first) and pd.api.types.is_float_dtype(now):
                values = table[name].dropna().to_numpy()
                if np.isfinite(values).all() and (values == np.round(values)).all() \
                        and (np.abs(values) < 2.0 ** 63).all():
                    kinds[name] = "Int64"
            elif pd.api.types.is_float_dtype(first) and pd.api.types.is_integer_dtype(now):
                kinds[name] = "float64"
        return table.astype(kinds) if kinds else table

    def _write_parquet(self, table: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._parquet is None:
            arrow = pa.Table.from_pandas(table, preserve_index=False)
            self._schema = arrow.schema
            self._parquet = pq.ParquetWriter(self.handle, arrow.schema)
        else:
            try:
                arrow = pa.Table.from_pandas(table, schema=self._schema, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as err:
                raise DataError(f"A kept column holds other types further down the file than in its first rows "
                                f"({err}); Parquet needs one type per column. Write a .csv file, or read the "
                                "file whole (--chunk-rows 0).", code="keep_changed_type") from None
        self._parquet.write_table(arrow)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
