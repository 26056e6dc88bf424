"""Batch scoring: a saved model's predictions on a table, and writing them to a file atomically.

What ``nbautoml predict MODEL DATA`` runs; in Python, ``prediction_table(model, frame)``.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
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
    table[f"predicted {target}" if target else "prediction"] = np.asarray(model.predict(data))
    if proba:
        values = np.asarray(model.predict_proba(data))
        for label, column in zip(model.classes_, values.T):
            table[f"probability {label}"] = column
    return table


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
    from .persist import atomic_write

    kind = output_format(path)
    if kind == "csv":
        data = table.to_csv(index=False).encode()
    elif kind == "json lines":
        data = table.to_json(orient="records", lines=True, date_format="iso").encode()
    else:
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    return atomic_write(path, data)
