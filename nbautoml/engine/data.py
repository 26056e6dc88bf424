"""Checking and typing the user's data before any training (reading a file: :mod:`.reading`).

Everything here runs before the search starts. Bad data fails with an error
that names the columns and the fix; harmless oddities (ID-like, constant and
all-missing columns) are dropped and reported in the :class:`DataPlan`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataError, closest, unknown_choice
from ..words import counted
from .frames import as_pandas
from .reading import read_table
from .transformers import CLOCK, UNIT, formatted_number, to_numbers

TASKS = ("binary", "multiclass", "regression")
ROLES = ("numeric", "categorical", "datetime", "text", "dropped")

# Text that stands for a missing value in a column of numbers stored as text (compared
# stripped and lower-cased): "?" in the UCI auto-mpg data, "NA", "null", "-" in others
MISSING_PLACEHOLDERS = frozenset({"", "?", "-", "--", ".", "na", "n/a", "nan", "null", "none", "<na>"})
# a text column is read as numbers only when at most this share of its values are placeholders
PLACEHOLDER_MAX_SHARE = 0.5
# absolute values above this overflow float32, which scikit-learn's trees compute in (every
# random forest, extra trees and decision tree trial fails: "Input X contains infinity or a
# value too large for dtype('float32')"); from 1.3e154 squaring overflows float64 too (scalers'
# variances, linear models)
HUGE_MAGNITUDE = float(np.finfo(np.float32).max)  # 3.4e38
_LEADING_ZERO = re.compile(r"^[+-]?0\d")  # "007", "02134": codes, not numbers

_DATE_PATTERN = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}(:\d{2})?)?"
)


@dataclass
class ColumnInfo:
    """How one input column is treated."""

    name: str
    dtype: str
    role: str
    reason: str = ""
    n_unique: int = 0
    missing_rate: float = 0.0
    note: str = ""  # something the user should know (a renamed column, possible leakage)


@dataclass
class DataPlan:
    """The inferred type and planned treatment of every input column.

    Attributes
    ----------
    columns : list of ColumnInfo
        One entry per input column, in input order.
    """

    columns: list[ColumnInfo] = field(default_factory=list)

    def names(self, role: str) -> list[str]:
        """Columns with the given role, in input order."""
        return [c.name for c in self.columns if c.role == role]

    @property
    def used(self) -> list[str]:
        """Columns that go into the model."""
        return [c.name for c in self.columns if c.role != "dropped"]

    @property
    def dropped(self) -> dict[str, str]:
        """Dropped columns mapped to the reason they were dropped."""
        return {c.name: c.reason for c in self.columns if c.role == "dropped"}

    @property
    def notes(self) -> dict[str, str]:
        """Columns with a note (a name made a string, possible target leakage) mapped to it."""
        return {c.name: c.note for c in self.columns if c.note}

    def add_note(self, name: str, note: str) -> None:
        """Add a note to a column's notes."""
        for c in self.columns:
            if c.name == name:
                c.note = f"{c.note}; {note}" if c.note else note

    def to_frame(self) -> pd.DataFrame:
        """The plan as a DataFrame (one row per column)."""
        return pd.DataFrame(
            [
                {
                    "column": c.name,
                    "dtype": c.dtype,
                    "role": c.role,
                    "unique": c.n_unique,
                    "missing": round(c.missing_rate, 3),
                    "reason": c.reason,
                }
                for c in self.columns
            ]
        )

    def __repr__(self) -> str:
        from ..render.text import frame_text

        frame = self.to_frame()
        if self.notes:
            frame["note"] = frame["column"].map(self.notes).fillna("")
        return f"DataPlan ({len(frame)} columns)\n{frame_text(frame, max_colwidth=120)}"

    def _repr_html_(self) -> str:
        from ..render.html import plan_html

        return plan_html(self)

    def to_dict(self) -> dict:
        # without an empty note, as before notes existed: older versions read the file
        return {"columns": [{k: v for k, v in c.__dict__.items() if k != "note" or v} for c in self.columns]}

    @classmethod
    def from_dict(cls, data: dict) -> DataPlan:
        return cls([ColumnInfo(**c) for c in data["columns"]])


# --------------------------------------------------------------------------- checks


def no_target_error(data) -> DataError:
    """The error of a ``fit`` given neither ``target=`` nor ``y``: what to call, and the columns."""
    columns = [str(c) for c in data.columns] if isinstance(data, pd.DataFrame) else []
    found = (f" The data has {len(columns)} columns: {', '.join(columns[:30])}"
             + (", ..." if len(columns) > 30 else "") + ".") if columns else ""
    return DataError("No target given: name the column to predict with fit(df, target='column'), or "
                     f"pass it as y with fit(X, y).{found}", code="no_target")


def split_target(data, target=None, y=None) -> tuple[pd.DataFrame, pd.Series]:
    """Return ``(X, y)`` from ``fit``'s arguments, checking the target column.

    Accepts ``(DataFrame, target=name)`` or ``(X, y)`` with array-likes.
    """
    if isinstance(data, (str, Path)):
        data = read_table(data)
    data, y = as_pandas(data), as_pandas(y)  # polars, pyarrow, DuckDB, ...
    if y is None and target is None:
        raise no_target_error(data)
    if y is not None and target is not None:
        raise DataError("Give either target= or y, not both.", code="target_and_y")
    if y is None:
        if not isinstance(data, pd.DataFrame):
            raise DataError(
                "target= needs a pandas DataFrame; with arrays call fit(X, y).", code="target_needs_frame"
            )
        data = _check_columns(data)
        if target not in data.columns and str(target) in data.columns:
            target = str(target)  # a non-string name, made a string with the others
        if target not in data.columns:
            found = [str(c) for c in data.columns]
            hint = closest(str(target), found)
            raise DataError(
                f"Target column {target!r} not found."
                + (f" Did you mean {hint[0]!r}?" if hint else "")
                + f" The data has {len(found)} columns: {', '.join(found[:30])}"
                + (" ..." if len(found) > 30 else ""),
                code="target_not_found",
                columns=found,
            )
        y_series = data[target]
        X = data.drop(columns=[target])
    else:
        X = _check_columns(_as_frame(data))
        shape = np.shape(y)
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise DataError(
                f"y must be one column (one target value per row); got shape {shape}. Pass a single "
                "target column, e.g. y[:, 0] or df['column'].",
                code="bad_target_shape",
            )
        y_series = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y).ravel(), name="target")
        if len(y_series) != len(X):
            raise DataError(
                f"X has {len(X)} rows but y has {len(y_series)}; they must match.", code="length_mismatch"
            )
        y_series = pd.Series(np.asarray(y_series), index=X.index, name=y_series.name or "target")
    if len(X) == 0:
        raise DataError("The data is empty (0 rows). Pass a DataFrame with rows.", code="empty")
    if X.shape[1] == 0:
        raise DataError("The data has no feature columns besides the target.", code="no_features")
    return X, y_series


def features_frame(X) -> pd.DataFrame:
    """``X`` (a DataFrame or array-like of features) as ``split_target`` gives it: string column
    names, durations, periods and ``<NA>`` numbers converted, on a copy."""
    return _check_columns(_as_frame(X))


def _as_frame(X) -> pd.DataFrame:
    X = as_pandas(X)
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame()
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # scipy.sparse: np.asarray makes a 0-d object array
        raise DataError(
            f"X is a scipy sparse matrix ({X.shape[0]} x {X.shape[1]}); nbautoml takes a table. Give the "
            "columns it came from (a text column is turned into TF-IDF inside each fold), or a dense "
            "table: pd.DataFrame(X.toarray()) when it fits in memory.", code="sparse_input")
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise DataError(f"X must be 2-D (rows x columns); got shape {arr.shape}.", code="bad_shape")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _check_columns(X: pd.DataFrame) -> pd.DataFrame:
    """Refuse duplicated and multi-level column names; return ``X`` with string names.

    Non-string names (``0``, ``1``) are made strings, and durations, periods and
    numbers with ``<NA>`` NumPy numbers and dates (:func:`plain_dtypes`), on a new
    frame: the caller's frame is never changed (see :func:`renamed_columns`).
    """
    names = X.columns
    if isinstance(names, pd.MultiIndex):
        raise DataError(
            f"The columns have {names.nlevels} levels (a MultiIndex, e.g. {names[0]!r}); nbautoml needs one "
            "name per column. Flatten them first, e.g. df.columns = ['_'.join(map(str, c)) for c in "
            "df.columns].",
            code="multiindex_columns",
        )
    if names.has_duplicates:
        dup = sorted({str(c) for c in names[names.duplicated()]})
        raise DataError(
            f"Duplicated column names: {', '.join(dup)}. Rename them so each column has its own name "
            "(e.g. df.columns = [...]; pd.read_csv already renames a repeated header to name.1).",
            code="duplicate_columns",
            columns=dup,
        )
    if any(not isinstance(c, str) for c in names):
        as_text = [str(c) for c in names]
        if len(set(as_text)) < len(as_text):
            dup = sorted({t for t in as_text if as_text.count(t) > 1})
            raise DataError(
                f"Column names {', '.join(dup)} occur twice once made strings (e.g. 1 and '1'). Rename "
                "them so each column has its own name.",
                code="duplicate_columns",
                columns=dup,
            )
        X = X.set_axis(as_text, axis=1)
    return plain_dtypes(X)


# the dtype :func:`converted_columns` gives a column of lists, dicts, ... ("object (lists)")
NESTED = "object ("
_NESTED_TYPES = {list: "lists", tuple: "tuples", set: "sets", frozenset: "sets", dict: "dicts",
                 np.ndarray: "arrays"}


def nested_kind(col: pd.Series) -> str | None:
    """"lists", "dicts", ... when an object column holds containers (a polars List or Struct
    column, JSON records), anywhere in it; else None."""
    if col.dtype != object or pd.api.types.infer_dtype(col, skipna=True) not in ("mixed", "mixed-integer"):
        return None  # strings, numbers, dates, Decimals: a scan in C
    for value in col.to_numpy():
        kind = _NESTED_TYPES.get(type(value))
        if kind is None and isinstance(value, (list, tuple, set, frozenset, dict, np.ndarray)):
            kind = next(k for t, k in _NESTED_TYPES.items() if isinstance(value, t))
        if kind:
            return kind
    return None


def nested_text(value) -> str:
    """A container as text: ``["a", "b"]`` -> ``"a, b"``, a set sorted, ``{"k": 1}`` -> ``"k: 1"``."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return ", ".join(sorted(map(str, value)))
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(map(str, value))
    return str(value)


def _conversion(col: pd.Series) -> str | None:
    """How :func:`plain_dtypes` converts ``col``: "seconds", "dates", "float64", "text" or None."""
    how = _conversion_of_dtype(col.dtype)
    if how != "inspect":
        return how
    if nested_kind(col):
        return "text"
    if col.dtype != object and bool(col.isna().any()):  # nullable or Arrow numbers
        return "float64"
    return None


def _conversion_of_dtype(dtype) -> str | None:
    """:func:`_conversion` where the dtype decides it, or "inspect" where the values do: an
    object column (lists, dicts?) and nullable or Arrow numbers (missing values?)."""
    if isinstance(dtype, np.dtype):  # NumPy numbers, bools, dates, durations, objects
        return {"O": "inspect", "m": "seconds"}.get(dtype.kind)
    if pd.api.types.is_timedelta64_dtype(dtype):  # Arrow durations
        return "seconds"
    if isinstance(dtype, pd.PeriodDtype):
        return "dates"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return "inspect"
    return None


def _columns_to_inspect(X: pd.DataFrame):
    """Yield ``(position, column)`` for the columns of ``X`` whose dtype does not settle how
    :func:`plain_dtypes` reads them, by position: 20,000 plain float columns took 2.4 s
    column by column, and are settled by their dtype alone."""
    for j, dtype in enumerate(X.dtypes.to_numpy()):
        if _conversion_of_dtype(dtype) is not None:
            yield j, X.iloc[:, j]


def plain_dtypes(X: pd.DataFrame) -> pd.DataFrame:
    """``X`` with durations as float seconds, periods as timestamps (their start), and nullable
    or Arrow numbers with missing values as float64 with NaN.

    Everything downstream (the pipelines, the schema, the monitor's profile) then sees
    NumPy numbers and dates: scikit-learn refuses ``pd.NA`` where no imputer runs first
    (gradient boosting). Returns ``X`` itself when no column needs it, else a new frame:
    the caller's frame is never changed.
    """
    converted = {}
    for j, col in _columns_to_inspect(X):  # by position: a repeated name is refused later
        how = _conversion(col)
        if how == "seconds":
            converted[j] = col.dt.total_seconds()
        elif how == "dates":
            converted[j] = col.dt.to_timestamp()
        elif how == "float64":
            converted[j] = col.astype("float64")
        elif how == "text":
            converted[j] = col.map(nested_text, na_action="ignore")
    if not converted:
        return X
    X = X.copy(deep=False)
    for j, values in converted.items():
        X.isetitem(j, values)
    return X


def converted_columns(data) -> dict[str, str]:
    """The columns of ``data`` that :func:`plain_dtypes` converts: string name to dtype."""
    if not isinstance(data, pd.DataFrame) or isinstance(data.columns, pd.MultiIndex):
        return {}
    found = {}
    for _, col in _columns_to_inspect(data):
        how = _conversion(col)
        if how:  # lists or dicts: "object (lists)", read_as gives "text" for it
            found[str(col.name)] = f"{NESTED}{nested_kind(col)})" if how == "text" else str(col.dtype)
    return found


def read_as(dtype: str) -> str | None:
    """How :func:`plain_dtypes` reads a column of ``dtype`` (its name): "seconds", "dates",
    "float64" (nullable or Arrow numbers, converted when they hold missing values), "text"
    (lists, dicts, ...: :func:`nested_text`) or None."""
    if dtype.startswith(NESTED):
        return "text"
    if dtype.startswith("timedelta"):
        return "seconds"
    if dtype.startswith("period"):
        return "dates"
    try:
        parsed = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        return None
    if (isinstance(parsed, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(parsed)
            and not pd.api.types.is_bool_dtype(parsed)):
        return "float64"
    return None


def roles_argument(text: str) -> dict[str, str]:
    """``roles=`` from a command line: ``"Pclass=categorical,Cabin=dropped"`` -> a dict.

    Raises ``argparse.ArgumentTypeError`` naming the pair that is wrong and the valid roles.
    """
    import argparse

    roles = {}
    for item in (t for t in text.split(",") if t.strip()):
        column, sep, role = item.rpartition("=")
        column, role = column.strip(), role.strip()
        if not sep or not column:
            raise argparse.ArgumentTypeError(f"expected COLUMN=ROLE pairs, e.g. Pclass=categorical; got {item!r}")
        if role not in ROLES:
            hint = closest(role, ROLES)
            did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
            raise argparse.ArgumentTypeError(f"unknown role {role!r} for {column!r}.{did_you_mean} "
                                             f"Roles: {', '.join(ROLES)}")
        roles[column] = role
    if not roles:
        raise argparse.ArgumentTypeError("expected COLUMN=ROLE pairs, e.g. Pclass=categorical,Cabin=dropped")
    return roles


def string_names(data):
    """``data`` with its column names as strings, as ``fit`` names them (a DataFrame with
    ``0``, ``1`` as names gives the target ``"1"``); anything else unchanged."""
    if isinstance(data, pd.DataFrame) and not all(isinstance(c, str) for c in data.columns):
        return data.set_axis([str(c) for c in data.columns], axis=1)
    return data


def renamed_columns(data) -> dict[str, str]:
    """Notes for the columns of ``data`` whose non-string names ``split_target`` makes strings.

    Returns a dict from the new (string) name to a note such as
    ``"named 0 (int) in the data; used as '0'"``; empty for anything but a
    DataFrame with non-string column names.
    """
    if not isinstance(data, pd.DataFrame) or isinstance(data.columns, pd.MultiIndex):
        return {}
    return {str(c): f"named {c!r} ({type(c).__name__}) in the data; used as {str(c)!r}"
            for c in data.columns if not isinstance(c, str)}


def infer_task(y: pd.Series, task: str = "auto") -> str:
    """Infer the task from the target, or check the one asked for.

    Floats with many distinct values are regression; two distinct values are
    binary; strings, booleans and integers with few distinct values are
    multiclass.
    """
    if task not in ("auto",) + TASKS:
        raise unknown_choice("task", task, ("auto",) + TASKS, code="unknown_task")
    values = y.dropna()
    if len(values) == 0:
        raise _empty_target(y)
    n_unique = values.nunique()
    if n_unique < 2:
        n_missing = len(y) - len(values)
        missing = (f" ({counted(n_missing, 'other row')} {'has' if n_missing == 1 else 'have'} no target value and "
                   f"{'is' if n_missing == 1 else 'are'} left out: if they are "
                   f"the other class, fill them in: df[{y.name!r}].fillna(<the other class>))" if n_missing else "")
        value = values.iloc[0]
        value = value.item() if isinstance(value, np.generic) else value  # 1.0, not np.float64(1.0)
        raise DataError(
            f"The target {y.name!r} has a single value ({value!r}){missing}; "
            "there is nothing to learn. Check the target column or filter the rows.",
            code="single_class",
        )
    if task != "auto":
        if task == "regression" and not pd.api.types.is_numeric_dtype(values):
            raise DataError(
                f"task='regression' needs a numeric target; {y.name!r} holds {values.dtype}.",
                code="task_mismatch",
            )
        if task == "binary" and n_unique != 2:
            advice = ("It looks like a quantity (non-integer numbers): use task='regression'."
                      if _looks_continuous(values) else "Use task='multiclass'.")
            raise DataError(
                f"task='binary' needs 2 classes; {y.name!r} has {n_unique}. {advice}",
                code="task_mismatch",
            )
        return task
    if n_unique == 2:
        return "binary"
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "multiclass"
    if pd.api.types.is_float_dtype(values):
        if np.all(np.mod(values.to_numpy(), 1) == 0) and n_unique <= 20:
            return "multiclass"
        return "regression"
    # integers: few distinct values relative to the rows -> classes
    if n_unique <= max(20, int(0.005 * len(values))) and n_unique <= 100:
        return "multiclass"
    return "regression"


def _looks_continuous(values: pd.Series) -> bool:
    """True for a float target with many distinct values, some of them not whole numbers."""
    if not pd.api.types.is_float_dtype(values) or values.nunique() <= 20:
        return False
    return bool(np.any(np.mod(values.to_numpy(dtype=float), 1) != 0))


def _empty_target(y: pd.Series) -> DataError:
    return DataError(
        f"All {len(y):,} rows have a missing target {y.name!r}: there is nothing to learn from. Fill the "
        "target values, or drop those rows and pass rows that have one.",
        code="empty_target",
    )


def clean_target(X: pd.DataFrame, y: pd.Series, task: str) -> tuple[pd.DataFrame, pd.Series, int]:
    """Drop rows whose target is missing; refuse inf targets.

    Returns the kept ``X``, ``y`` and the number of rows dropped.
    """
    missing = y.isna().to_numpy()
    if task == "regression":
        values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float)
        if np.isinf(values).any():
            n = int(np.isinf(values).sum())
            raise DataError(
                f"The target {y.name!r} has {n} infinite values. Replace or drop those rows.",
                code="inf_target",
            )
    if missing.all():
        raise _empty_target(y)
    if missing.any():
        keep = ~missing
        return X.loc[keep], y.loc[keep], int(missing.sum())
    return X, y, 0


def decimal_labels_as_text(y: pd.Series, task: str) -> tuple[pd.Series, str | None]:
    """Class labels that are fractional numbers (1.5, 2.5) as text, with a note saying so.

    scikit-learn's classifiers refuse such labels ("Unknown label type:
    continuous"); whole numbers stored as floats (0.0, 1.0) are kept.
    """
    if task == "regression" or not pd.api.types.is_float_dtype(y):
        return y, None
    values = y.to_numpy(dtype=float)
    if np.all(values == np.round(values)):
        return y, None
    text = y.map(repr).astype(object)
    shown = ", ".join(sorted(text.unique())[:5])
    return text, (f"the target {y.name!r} holds fractional class labels ({shown}); they are used as the text "
                  "labels shown, which predict returns. For a number to predict, pass task='regression'.")


def look_alike_labels(y: pd.Series, task: str) -> str | None:
    """A note when class labels differ only in spaces or case (``"yes"``, ``" yes"``, ``"Yes"``):
    each is a class of its own, which is rarely meant. None when there are none."""
    if task == "regression" or pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return None
    labels = pd.Series(y.dropna().unique())
    labels = labels[labels.map(lambda v: isinstance(v, str))]
    if len(labels) < 2:
        return None
    key = labels.str.strip().str.casefold()
    groups = [sorted(group) for _, group in labels.groupby(key.to_numpy()) if len(group) > 1]
    if not groups:
        return None
    shown = "; ".join(" / ".join(map(repr, group)) for group in groups[:5])
    name = y.name
    return (f"the target {name!r} has labels that differ only in spaces or case ({shown}): each is a class "
            f"of its own. If they are the same class, clean them first, e.g. "
            f"df[{name!r}] = df[{name!r}].str.strip() (and .str.lower()).")


def target_numbers_from_text(y: pd.Series, task: str) -> tuple[pd.Series, str | None]:
    """A text target of numbers (``"$1,234.50"``, ``"12"`` with ``"?"`` for unknown) as float64,
    with a note saying so, where it is a quantity: ``task="regression"``, or ``"auto"`` with
    more than 20 distinct values (fewer stay class labels). Placeholders become missing targets.
    """
    if task not in ("auto", "regression") or pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return y, None
    found = numbers_in_text(y)
    if found is None:
        return y, None
    numbers, placeholders = found
    if task == "auto" and numbers.nunique() <= 20:
        return y, None
    example = formatted_example(y)
    how = f"formatted: {example!r} read as {formatted_number(example):g}" if example else "numbers stored as text"
    taken = f"; {counted(sum(placeholders.values()), 'placeholder value')} ({', '.join(map(repr, placeholders))}) " \
            "taken as missing targets" if placeholders else ""
    return numbers.rename(y.name), f"the target {y.name!r} holds numbers as text ({how}): read as numbers{taken}."


def is_placeholder(col: pd.Series) -> np.ndarray:
    """Where ``col`` holds a missing-value placeholder (:data:`MISSING_PLACEHOLDERS`: "?", "NA", ...)."""
    return col.astype("string").str.strip().str.lower().isin(MISSING_PLACEHOLDERS).to_numpy(dtype=bool)


def true_values(y, task: str) -> pd.Series:
    """Known target values to score against, as a Series: for regression, numbers stored as
    text are read as ``fit`` reads them (:func:`target_numbers_from_text`), placeholders missing."""
    y = pd.Series(np.asarray(y).ravel())
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        y = to_numbers(y)
    return y


def check_features(X: pd.DataFrame) -> None:
    """Refuse complex numbers and infinite values in numeric columns, naming them."""
    complex_columns = [str(name) for name, dtype in column_dtypes(X).items() if pd.api.types.is_complex_dtype(dtype)]
    if complex_columns:
        first = complex_columns[0]
        raise DataError(
            f"Complex numbers in: {', '.join(complex_columns)}. Models take real numbers: split each into "
            f"two columns, e.g. df[{first + '_re'!r}], df[{first + '_im'!r}] = df[{first!r}].real, "
            f"df[{first!r}].imag, then drop {first!r} (or keep its abs()).",
            code="complex_values",
            columns=complex_columns,
        )
    n_infinite = {}
    for part, values in number_blocks(X, kinds="f"):  # NumPy floats: a block at a time
        counts = np.isinf(values).sum(axis=0)
        n_infinite.update((name, int(count)) for name, count in zip(part, counts) if count)
    for name, dtype in column_dtypes(X).items():  # nullable and Arrow floats
        if not isinstance(dtype, np.dtype) and pd.api.types.is_float_dtype(dtype):
            count = int(np.isinf(X[name].to_numpy(dtype=float, na_value=np.nan)).sum())
            if count:
                n_infinite[name] = count
    bad = [f"{name} ({n_infinite[name]} rows)" for name in X.columns.tolist() if name in n_infinite]
    if bad:
        raise DataError(
            "Infinite values in: " + ", ".join(bad) + ". Replace them, e.g. "
            "df = df.replace([np.inf, -np.inf], np.nan), so they are imputed as missing.",
            code="inf_values",
            columns=bad,
        )


def check_classes(y: pd.Series, n_splits: int | None) -> None:
    """Refuse classes with fewer members than the CV folds need."""
    if n_splits is None:
        n_splits = 2
    counts = y.value_counts()
    small = counts[counts < n_splits]
    if len(small):
        shown = small.head(10)
        listing = ", ".join(f"{k!r} ({v} row{'s' if v > 1 else ''})" for k, v in shown.items())
        if len(small) > len(shown):
            listing += f" and {len(small) - len(shown):,} more"
        if (counts == 1).sum() > len(counts) / 2:  # mostly one row per class: not a class label
            advice = (f"Most of its {len(counts):,} values occur once, so {y.name!r} looks like an "
                      "identifier or a number rather than a class: choose another target column, or "
                      "task='regression' (--task regression) if it is a quantity.")
        else:
            advice = ("Drop or merge those classes, or use fewer folds (cv=2 or cv='holdout' in Python, "
                      "--cv stratified:2 or --cv holdout on the command line).")
        raise DataError(
            f"The target {y.name!r} has {len(small):,} class(es) with fewer members than the {n_splits} "
            f"validation folds: {listing}. Stratified cross-validation needs at least {n_splits} rows per "
            f"class. {advice}",
            code="tiny_class",
            classes=list(small.index),
        )


# --------------------------------------------------------------------------- typing


def first_present(col: pd.Series, count: int) -> pd.Series:
    """The first ``count`` values of ``col`` that are not missing, reading only as much of a
    long column as that takes (``col.dropna()`` of 1,000,000 object strings: 0.03 s each time)."""
    stop = count
    while True:
        found = col.iloc[:stop].dropna()
        if len(found) >= count or stop >= len(col):
            return found.head(count)
        stop *= 8


def _looks_like_dates(values: pd.Series) -> bool:
    sample = first_present(values, 200).astype(str)
    if len(sample) == 0:
        return False
    if sample.str.match(_DATE_PATTERN).mean() < 0.9:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() >= 0.9


def _mean_words(values: pd.Series) -> float:
    sample = first_present(values, 500).astype(str)
    if len(sample) == 0:
        return 0.0
    return float(sample.str.split().str.len().mean())


def numbers_in_text(col: pd.Series, factorized: tuple | None = None) -> tuple[pd.Series, dict[str, int]] | None:
    """The numbers of a text column whose values are numbers or missing-value placeholders.

    A column of text (``object`` or string dtype) is numbers when every value
    that is not missing parses as a finite number, except placeholders
    (:data:`MISSING_PLACEHOLDERS`: ``"?"``, ``"NA"``, ``"-"``, ...) that are at
    most half of its values. Values with a leading zero (``"007"``) are codes,
    not numbers: such a column is left as text.

    ``factorized``: ``pd.factorize(col)`` when the caller has it (missing values coded -1).

    Returns
    -------
    (Series, dict) or None
        The column as float64 (placeholders as NaN) and each placeholder met
        with its count; None for a column that is not numbers in text.
    """
    if (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
            or pd.api.types.is_datetime64_any_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype)):
        return None
    # each distinct value read once, weighed by its count (1,000,000 rows of 8 cities: 1.2 s -> 0.05 s)
    codes, distinct = factorized or pd.factorize(col)
    if len(distinct) == 0:  # all missing
        return None
    counts = np.bincount(codes[codes >= 0], minlength=len(distinct))
    text = pd.Series(distinct, dtype=object).map(lambda v: v.strip() if isinstance(v, str) else v).astype(str)
    placeholder = text.str.lower().isin(MISSING_PLACEHOLDERS).to_numpy()
    if counts[placeholder].sum() > PLACEHOLDER_MAX_SHARE * counts.sum() or placeholder.all():
        return None
    rest = pd.Series(text[~placeholder].unique())
    if (rest.str.match(_LEADING_ZERO) & ~rest.str.match(CLOCK)).any():  # "05:01:27" is a duration, not a code
        return None
    for part in (rest[:50], rest):  # most text fails on the first few
        parsed = to_numbers(part).to_numpy(dtype=float, na_value=np.nan)
        if not np.isfinite(parsed).all():
            return None
    if _count_units(units_in(rest)) > MAX_UNITS:
        return None
    placeholders = pd.Series(counts[placeholder], index=text[placeholder].to_numpy())
    placeholders = placeholders.groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")
    # the column from its distinct values' numbers, parsed once above (placeholders missing)
    number_of = dict(zip(rest.tolist(), parsed.tolist()))
    per_distinct = np.array([number_of.get(t, np.nan) for t in text.tolist()] + [np.nan])  # last: missing
    numbers = pd.Series(per_distinct[codes], index=col.index, name=col.name)
    return numbers, {str(k): int(v) for k, v in placeholders.items()}


def _count_units(units) -> int:
    """How many units: the ordinal suffixes (1st, 2nd, 3rd, 4th) count as one."""
    units = set(units)
    return len(units - ORDINAL_SUFFIXES) + bool(units & ORDINAL_SUFFIXES)


# a text column of numbers with more distinct words after them is not numbers with units
# ("3 apples", "4 pears", "2 plums", "5 figs" stay categories)
MAX_UNITS = 3
ORDINAL_SUFFIXES = {"st", "nd", "rd", "th"}  # 1st, 2nd, 3rd, 4th: one unit, not a mix


def units_in(col: pd.Series) -> list[str]:
    """The distinct units after the numbers of a text column (``"23.4 kmpl"``: "kmpl"), most common first."""
    found = col.dropna().astype(str).str.strip().str.extract(UNIT)[1].dropna()
    return found.value_counts().index.tolist()


def mixed_units(X: pd.DataFrame, plan: DataPlan) -> dict[str, str]:
    """Numeric columns read from text with more than one unit, mapped to the units (quoted)."""
    found = {}
    dtypes = column_dtypes(X)
    for name in plan.names("numeric"):
        if not pd.api.types.is_numeric_dtype(dtypes[name]):
            units = units_in(X[name])
            if _count_units(units) > 1:
                found[name] = ", ".join(map(repr, units))
    return found


def formatted_example(col: pd.Series) -> str | None:
    """A value of a text column of numbers that is formatted (``"$1,234.50"``, ``"12%"``), if any."""
    text = col.dropna().astype(str).str.strip()
    formatted = text[pd.to_numeric(text, errors="coerce").isna() & to_numbers(text).notna()]
    return None if formatted.empty else str(formatted.iloc[0])


def huge_magnitudes(X: pd.DataFrame, plan: DataPlan) -> dict[str, str]:
    """Numeric columns with absolute values above :data:`HUGE_MAGNITUDE`, mapped to a note."""
    found = {}
    dtypes = column_dtypes(X)
    # NumPy integers and bools stay far below float32's largest value (2**64 is 1.8e19)
    names = [n for n in plan.names("numeric") if numpy_kind(dtypes[n]) not in ("b", "i", "u")]
    plain = [n for n in names if pd.api.types.is_float_dtype(dtypes[n])]
    if plain:  # one pass over the float columns (20,000 of them took 2.3 s column by column)
        values = X[plain].to_numpy(dtype=float)  # a view for a frame of one float block: no copy
        suspect = ((np.fmax.reduce(values, axis=0) > HUGE_MAGNITUDE)  # fmax/fmin skip NaN
                   | (np.fmin.reduce(values, axis=0) < -HUGE_MAGNITUDE))  # (and find inf, checked below)
        floats = set(plain)
        names = [n for n in names if n not in floats] + [n for n, bad in zip(plain, suspect) if bad]
    for name in names:
        values = to_numbers(X[name]).to_numpy(dtype=float, na_value=np.nan)
        huge = np.abs(values) > HUGE_MAGNITUDE
        if huge.any():
            found[name] = (f"{int(huge.sum())} value{'s' if huge.sum() > 1 else ''} of magnitude above "
                           f"{HUGE_MAGNITUDE:.2g} (up to {np.nanmax(np.abs(values)):.3g}): overflow risk, "
                           "too large for float32 trees, inf when squared or scaled")
    return found


def plan_columns(X: pd.DataFrame, roles: dict[str, str] | None = None,
                 notes: dict[str, str] | None = None, converted: dict[str, str] | None = None,
                 factorized: dict | None = None) -> DataPlan:
    """Infer each column's role: numeric, categorical, datetime, text or dropped.

    Parameters
    ----------
    X : DataFrame
        The feature columns.
    roles : dict, optional
        Overrides, column name to role (one of ``ROLES``).
    notes : dict, optional
        Column name to a note for the user (e.g. from :func:`renamed_columns`).
    converted : dict, optional
        Column name to the dtype it had before :func:`plain_dtypes` (from
        :func:`converted_columns`): the plan shows that dtype and how it was read.
    factorized : dict, optional
        Filled with the codes of the columns read value by value (not NumPy numbers) that
        have at most ``LEAK_MAX_VALUES`` values, missing as one: column name to ``(codes,
        number of values)``, for :func:`leaking_columns` (which would read them again).

    Returns
    -------
    DataPlan
    """
    roles = dict(roles or {})
    converted = dict(converted or {})
    for name, role in roles.items():
        if name not in X.columns:
            hint = closest(name, X.columns)
            raise DataError(
                f"roles= names a column {name!r} that is not in the data."
                + (f" Did you mean {hint[0]!r}?" if hint else ""),
                code="column_not_found",
            )
        if role not in ROLES:
            raise unknown_choice("role", role, ROLES, code="unknown_role")
    n = len(X)
    plan = DataPlan()
    # NumPy numbers and bools: counted a block at a time (20,000 float columns took 2.6 s
    # one by one, 20,000 integer columns 14 s)
    counted = plain_number_stats(X, kinds="biuf") if n else {}
    dtypes = column_dtypes(X)
    dtype_names = {dtype: str(dtype) for dtype in set(dtypes.values())}  # str() of a dtype: 17 us
    for name in X.columns.tolist():
        kind = dtypes[name].kind if name in counted else ""
        # a distinct integer on every row may be an ID: that needs its values (below)
        if kind and name not in roles and not (kind in "iu" and counted[name][0] == n >= 20):
            n_unique, missing = counted[name]
            role, reason = (("dropped", "all values missing") if n_unique == 0 else
                            _one_value_role(missing) if n_unique == 1 else
                            ("categorical", "boolean") if kind == "b" else ("numeric", ""))
            plan.columns.append(ColumnInfo(name=name, dtype=dtype_names[dtypes[name]], role=role, reason=reason,
                                           n_unique=n_unique, missing_rate=missing,
                                           note=(notes or {}).get(name, "")))
            continue
        col = X[name]
        codes, distinct = pd.factorize(col)  # one pass for both counts (missing: -1)
        if factorized is not None:
            _keep_few_values(factorized, name, codes, len(distinct))
        info = ColumnInfo(
            name=name,
            dtype=str(col.dtype),
            role="numeric",
            n_unique=len(distinct),
            missing_rate=float(np.count_nonzero(codes < 0) / n) if n else 0.0,
            note=(notes or {}).get(name, ""),
        )
        if name in roles:
            info.role = roles[name]
            info.reason = "set by the user"
            if info.role == "dropped":
                info.reason = "dropped by the user"
            if info.role == "text":
                _check_words(col)
        else:
            info.role, info.reason = _infer_role(col, info, n)
            if info.role in ("categorical", "dropped") and info.n_unique >= 2:
                _read_as_numbers(col, info, (codes, distinct))
        plan.columns.append(info)
    for info in plan.columns:
        if info.name in converted:  # durations and periods: the user's dtype, and how it was read
            info.dtype = converted[info.name]
            how = read_as(info.dtype)
            if how == "text" and info.name not in roles:
                kind = info.dtype[len(NESTED):-1]
                info.role, info.note = "dropped", ""
                info.reason = (f"nested values ({kind}): expand them into columns first (df.explode(), "
                               f"pd.json_normalize), or roles={{{info.name!r}: 'text'}} to read them as words")
            elif info.name not in roles and info.role != "dropped" and how != "float64":
                info.reason = ("durations, read in seconds" if how == "seconds" else
                               "periods, read as their start: expanded to year, month, day, weekday, hour")
    if not plan.used:
        reasons = "; ".join(f"{k}: {v}" for k, v in plan.dropped.items())
        raise DataError(
            f"No usable feature column is left after dropping: {reasons}. "
            "Check the data, or keep a column with roles={'col': 'categorical'}.",
            code="no_usable_columns",
        )
    return plan


def _keep_few_values(kept: dict, name: str, codes: np.ndarray, n_distinct: int) -> None:
    """Keep a column's factorized codes, missing (-1) as one more value, when it has at most
    ``LEAK_MAX_VALUES`` values: what ``pd.factorize(col, use_na_sentinel=False)`` gives, up
    to the values' order, a byte a row (many such columns are kept at once)."""
    missing = codes < 0
    n_values = n_distinct + bool(missing.any())
    if n_values <= LEAK_MAX_VALUES:
        kept[name] = (np.where(missing, n_distinct, codes).astype(np.int8), n_values)


def _check_words(col: pd.Series) -> None:
    """Refuse the role "text" for a column in which TF-IDF finds no word (of two or more
    letters or digits, in at least two rows): every trial would fail with "empty vocabulary"."""
    from sklearn.feature_extraction.text import CountVectorizer

    sample = first_present(col, 5_000).astype(str)
    try:
        CountVectorizer(min_df=2, strip_accents="unicode").fit(sample)
    except ValueError:
        examples = ", ".join(map(repr, sample.drop_duplicates().head(3)))
        raise DataError(
            f"Column {col.name!r} has the role 'text', but its values ({examples or 'none'}) hold no word "
            "of two or more letters or digits that occurs in two rows, so TF-IDF finds nothing to "
            f"learn from. Use roles={{{str(col.name)!r}: 'categorical'}} for short codes.",
            code="no_words", columns=[str(col.name)]) from None


def numpy_kind(dtype) -> str:
    """The NumPy kind of ``dtype`` ("f" float, "i"/"u" integer, "b" bool, ...), or "" for a
    pandas extension dtype (nullable, Arrow, category)."""
    return dtype.kind if isinstance(dtype, np.dtype) else ""


def column_dtypes(X: pd.DataFrame) -> dict:
    """Column name to dtype, as ``X.dtypes.to_dict()`` gives it, 9x faster on wide data
    (pandas iterates an index of Arrow strings one Python object at a time)."""
    return dict(zip(X.columns.tolist(), X.dtypes.tolist()))


# the values a block of columns holds at most (32 MB as float64): 1,000,000 rows go 4 columns at a time
BLOCK_CELLS = 4_000_000


def number_blocks(X: pd.DataFrame, names=None, kinds: str = "iuf", chunk: int = 2_000):
    """Yield ``(names, values)``: the columns of ``names`` (default all) with a NumPy dtype of
    ``kinds``, as 2-D arrays of one dtype and at most ``chunk`` columns (fewer on long data:
    :data:`BLOCK_CELLS`).

    Wide data is summarized from these blocks, not column by column (on 20,000 columns the
    plan took 2.6 s and the schema 2.2 s one column at a time; 0.2 s each this way).
    """
    dtypes = column_dtypes(X)
    groups: dict[np.dtype, list[str]] = {}
    for name in X.columns.tolist() if names is None else names:
        dtype = dtypes[name]
        kind = numpy_kind(dtype)
        if kind and kind in kinds:
            groups.setdefault(dtype, []).append(name)
    chunk = max(1, min(chunk, BLOCK_CELLS // max(1, len(X))))
    for group in groups.values():
        for start in range(0, len(group), chunk):
            part = group[start:start + chunk]
            yield part, X[part].to_numpy()


# a frame of at least this many cells (rows x columns) has its number columns counted by a
# thread per core: sorting 1,000,000 rows x 15 float columns took 0.80 s on one thread, 0.46 s on two
THREADED_STATS_CELLS = 2 * BLOCK_CELLS


def plain_number_stats(X: pd.DataFrame, kinds: str = "iuf") -> dict[str, tuple[int, float]]:
    """``(distinct values, missing rate)`` of the columns with a NumPy dtype of ``kinds``:
    what ``nunique()`` and ``isna().mean()`` give column by column (:func:`number_blocks`).

    On long data the blocks are sorted by a thread per core (NumPy sorts without the GIL), at
    most that many blocks at once, each in place in an array this thread made: memory freed
    in another thread stays in that thread's malloc arena (60-80 MB more at a later peak)."""
    from concurrent.futures import ThreadPoolExecutor

    from .workers import cpu_count

    stats: dict[str, tuple[int, float]] = {}
    blocks = number_blocks(X, kinds=kinds)
    threads = min(4, cpu_count()) if X.shape[0] * X.shape[1] >= THREADED_STATS_CELLS else 1
    if threads == 1:
        for part, values in blocks:
            stats.update(_sorted_block_stats(part, np.sort(values, axis=0)))
        return stats

    def count(part, values, sorting):
        sorting.result()
        stats.update(_sorted_block_stats(part, values))

    with ThreadPoolExecutor(threads, thread_name_prefix="nbautoml-stats") as pool:
        pending = []
        for part, values in blocks:
            values = np.array(values, order="F")  # each column contiguous, sorted in place
            pending.append((part, values, pool.submit(values.sort, axis=0)))
            if len(pending) == threads:
                count(*pending.pop(0))
        for block in pending:
            count(*block)
    return stats


def _sorted_block_stats(part: list[str], values: np.ndarray) -> dict[str, tuple[int, float]]:
    """``(distinct values, missing rate)`` of each column of a block of :func:`number_blocks`,
    sorted along its rows (NaN last)."""
    changes = values[1:] != values[:-1]  # not np.diff: inf - inf is NaN
    if values.dtype.kind == "f":
        absent = np.isnan(values)
        distinct = (~absent[0]).astype(int) + (changes & ~absent[1:]).sum(axis=0)
        missing = absent.sum(axis=0) / len(values)
    else:
        distinct = 1 + changes.sum(axis=0)
        missing = np.zeros(len(part))
    return {name: (int(d), float(m)) for name, d, m in zip(part, distinct, missing)}


def _read_as_numbers(col: pd.Series, info: ColumnInfo, factorized: tuple | None = None) -> None:
    """Make a text column of numbers (with "?"-like placeholders) numeric, noting what was taken as missing.

    Candidates are the columns typed categorical, or dropped as ID-like (a
    distinct value on almost every row, as measurements often are); a
    distinct whole number on every row stays an ID. The pipeline reads the
    text as numbers (``NumbersFromText``), at predict time too.
    """
    found = numbers_in_text(col, factorized)
    if found is None:
        return
    numbers, placeholders = found
    present = numbers.dropna().to_numpy()
    if len(np.unique(present)) < 2:  # one number and a placeholder: a flag, kept as categories
        return
    if info.role == "dropped" and len(np.unique(present)) == len(present) and np.all(present == np.round(present)):
        return  # a distinct whole number per row: an ID stored as text
    info.role, info.reason = "numeric", "numbers stored as text"
    info.n_unique = int(numbers.nunique(dropna=True))
    info.missing_rate = float(numbers.isna().mean())
    example = formatted_example(col)
    parts = ["read as numbers" if placeholders or example else "numbers stored as text; read as numbers"]
    if col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) == "decimal":
        info.reason, parts = "decimal.Decimal values (SQL NUMERIC)", ["read as float64 numbers"]
    if placeholders:
        taken = " and ".join(f"{count} {token!r}" for token, count in placeholders.items())
        parts.append(f"{taken} value{'s' if sum(placeholders.values()) > 1 else ''} taken as missing")
    if example is not None:
        info.reason = "numbers formatted as text"
        how = f"formatted: {example!r} read as {formatted_number(example):g}"
        if "%" in example:
            how += " (a % sign is dropped, not divided by)"
        if re.match(CLOCK, example):
            how += " (clock values: h:mm:ss in seconds, h:mm or m:ss as 60 × first + second)"
        parts.append(how)
        units = units_in(col)
        if units and set(units) <= ORDINAL_SUFFIXES:
            parts.append("ordinals (1st, 2nd, ...) read as their numbers")
        elif units:
            parts.append(f"unit{'s' if len(units) > 1 else ''} {', '.join(map(repr, units))} dropped")
    note = "; ".join(parts)
    info.note = f"{info.note}; {note}" if info.note else note


def _named_like_an_id(name) -> bool:
    """True for names whose first or last word is "id" (``PassengerId``, ``customer_id``, ``ID``)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))
    return bool(words) and "id" in (words[0].lower(), words[-1].lower())


def _one_value_role(missing_rate: float) -> tuple[str, str]:
    """A column of one value is constant, unless some rows miss it: then whether it is there
    is what it says (a box ticked or not, a date given or not)."""
    if missing_rate > 0:
        return "categorical", "one value or missing: two categories, present and missing"
    return "dropped", "constant (a single value)"


def _infer_role(col: pd.Series, info: ColumnInfo, n: int) -> tuple[str, str]:
    if info.n_unique == 0:
        return "dropped", "all values missing"
    if info.n_unique == 1:
        return _one_value_role(info.missing_rate)
    if pd.api.types.is_bool_dtype(col):
        return "categorical", "boolean"
    if pd.api.types.is_datetime64_any_dtype(col):
        return "datetime", "datetime dtype: expanded to year, month, day, weekday, hour"
    if isinstance(col.dtype, pd.CategoricalDtype):
        return "categorical", "categorical dtype"
    non_missing = max(1, n - round(info.missing_rate * n))
    unique_ratio = info.n_unique / non_missing
    if pd.api.types.is_numeric_dtype(col):
        if pd.api.types.is_integer_dtype(col) and info.n_unique == non_missing and n >= 20:
            values = col.dropna().to_numpy()
            if np.all(np.diff(values) > 0) or np.all(np.diff(values) < 0):
                return "dropped", "ID-like: a distinct, increasing integer per row"
            if _named_like_an_id(col.name):  # shuffled rows (a train/test split) keep their IDs
                return "dropped", f"ID-like: a distinct integer per row, named {col.name!r}"
        return "numeric", ""
    # strings / objects
    if _looks_like_dates(col):
        kind = "date objects" if pd.api.types.infer_dtype(col, skipna=True) in ("date", "datetime") else "dates in text"
        return "datetime", f"{kind}: expanded to year, month, day, weekday, hour"
    words = _mean_words(col)
    # Long strings are free text. Short ones (a few words) that are distinct on
    # almost every row are names or codes: IDs, not text worth a TF-IDF.
    if unique_ratio > 0.3 and (words >= 5.0 or (words >= 3.0 and unique_ratio < 0.95)):
        return "text", f"free text ({words:.1f} words on average): TF-IDF"
    if unique_ratio >= 0.95 and n >= 20:
        return "dropped", "ID-like: a distinct value on (almost) every row"
    return "categorical", f"{info.n_unique} categories"


# a column with more distinct values than this is not checked for target leakage
LEAK_MAX_VALUES = 20


def leaking_columns(X: pd.DataFrame, y: pd.Series, plan: DataPlan, task: str,
                    factorized: dict | None = None) -> dict[str, str]:
    """Columns that determine the target exactly: possible target leakage.

    For classification, a used column with at most ``LEAK_MAX_VALUES``
    distinct values (missing counted as one, and at least 5 rows per value)
    each of whose values goes with a single class, on every row; for
    regression, a numeric column equal to the target on every row.
    ``factorized``: the codes :func:`plan_columns` kept, not read again (five text
    columns of 1,000,000 rows as object strings took 0.27 s to read again).

    Returns
    -------
    dict
        Column name to a note that says why.
    """
    target = y.to_numpy()
    equal = {}  # regression: columns equal to the target
    one_class = {}  # classification: columns of one class per value, to their number of values
    dtypes = column_dtypes(X)
    # a NumPy number or bool column's distinct values and missing rate are the plan's: the
    # columns that cannot leak are left unread (20,000 columns read one by one took 2.4 s)
    counted = {info.name: (info.n_unique, info.missing_rate) for info in plan.columns
               if numpy_kind(dtypes.get(info.name)) in ("b", "i", "u", "f")}
    n_target_values = int(pd.Series(target.astype(float)).nunique(dropna=False)) if task == "regression" else 0
    few_values = {}  # classification: NumPy columns of few values, checked a block at a time below
    classes = class_names = None  # the target's class codes, made when a column needs them
    planned_values = {info.name: info.n_unique for info in plan.columns}
    for name in plan.used:
        if name in counted:
            n_unique, missing_rate = counted[name]
            if task == "regression" and (missing_rate > 0 or n_unique != n_target_values):
                continue  # cannot equal the target on every row
            n_values = n_unique + (missing_rate > 0)
            if task != "regression":
                if n_values <= LEAK_MAX_VALUES and 5 * n_values <= len(X):
                    few_values[name] = n_values
                continue
        col = X[name]
        if task == "regression":
            if (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
                    and np.array_equal(col.to_numpy(dtype=float, na_value=np.nan), target.astype(float))):
                equal[name] = f"possible target leakage: equal to the target {y.name!r} on every row"
            continue
        # the plan's count first (numbers read from text merge values, never split them)
        if planned_values[name] > LEAK_MAX_VALUES or 5 * planned_values[name] > len(col):
            continue
        if factorized and name in factorized:
            codes, n_values = factorized[name]
            codes = codes.astype(np.intp)  # int8 codes times the classes would overflow
        else:
            codes, distinct = pd.factorize(col, use_na_sentinel=False)  # missing is one value
            n_values = len(distinct)
        if n_values > LEAK_MAX_VALUES or 5 * n_values > len(col):
            continue
        if classes is None:
            classes, class_names = pd.factorize(pd.Series(target))
        # each (value, class) pair met: one class per value when there are as many pairs as values
        pairs = np.bincount(codes * len(class_names) + classes, minlength=n_values * len(class_names))
        if np.count_nonzero(pairs) == n_values:
            one_class[name] = n_values
    if task == "regression":
        return equal
    one_class.update((name, few_values[name]) for name in _one_class_per_value(X, list(few_values), target))
    return {name: (f"possible target leakage: each of its {one_class[name]} values goes with a single "
                   f"class of {y.name!r}") for name in plan.used if name in one_class}


def _one_class_per_value(X: pd.DataFrame, names: list[str], target: np.ndarray) -> list[str]:
    """The NumPy number or bool columns of ``names`` each of whose values (missing as one)
    goes with a single class of ``target``: sorted a block at a time (20,000 integer columns
    grouped one by one took 11 s)."""
    classes = pd.factorize(pd.Series(target))[0]
    found = []
    for part, values in number_blocks(X, names, kinds="biuf"):
        order = np.argsort(values, axis=0, kind="stable")
        values = np.take_along_axis(values, order, axis=0)
        same_value = values[1:] == values[:-1]
        if values.dtype.kind == "f":  # NaN, sorted last, is one value
            same_value |= np.isnan(values[1:]) & np.isnan(values[:-1])
        ordered = classes[order]
        mixed = (same_value & (ordered[1:] != ordered[:-1])).any(axis=0)
        found += [name for name, several in zip(part, mixed) if not several]
    return found
