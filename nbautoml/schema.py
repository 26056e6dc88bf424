"""The input schema of a trained model, and its enforcement at predict time.

:func:`build_schema` records what the model was trained on (column names,
roles, dtypes, categories seen, numeric ranges); :func:`enforce_schema` checks
new data against it before it reaches the pipeline:

- a missing column is an error that names it;
- extra columns are ignored and listed in the report (the caller says so once);
- dtypes are coerced where it is safe (numeric text into numeric columns,
  booleans into numbers); anything else is refused with the column named;
- unseen categories are counted, not refused (the encoders handle them).

Both work on the fitted ``AutoML`` (``build_schema(result._X, result.plan_)``)
and on a :class:`~nbautoml.persist.LoadedModel` (``model.schema_``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from .engine.data import (
    MISSING_PLACEHOLDERS,
    converted_columns,
    number_blocks,
    plain_dtypes,
    read_as,
    units_in,
)
from .engine.frames import as_pandas
from .engine.transformers import formatted_number, to_numbers
from .exceptions import DataError, closest
from .words import are, counted

MAX_CATEGORIES = 1000
"""Categories listed per column at most; beyond that unseen values are not counted."""

# text taken as a missing number: "", "NA", "null", and the placeholders of numbers stored as
# text ("?", "-"), which a column read as numbers in training takes as missing too
_MISSING_TOKENS = MISSING_PLACEHOLDERS


@dataclass
class InputReport:
    """What :func:`enforce_schema` did to the data.

    Attributes
    ----------
    rows : int
    extra : list of str
        Columns unknown to the model, ignored.
    coerced : dict
        Column -> "from -> to" for safe dtype conversions.
    unseen : dict
        Column -> number of values in categories never seen in training.
    out_of_range : dict
        Column -> number of numeric values outside the training range.
    new_units : dict
        Column -> units after the numbers (``"12 g"``) never seen there in training;
        the numbers are read as written, so a unit of another scale misleads the model.
    """

    rows: int = 0
    extra: list[str] = field(default_factory=list)
    coerced: dict[str, str] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)
    out_of_range: dict[str, int] = field(default_factory=dict)
    new_units: dict[str, list[str]] = field(default_factory=dict)

    def messages(self) -> list[str]:
        """Short human-readable notes (empty when nothing was noteworthy)."""
        notes = []
        if self.extra:
            notes.append(f"ignored {counted(len(self.extra), 'column')} the model does not use: "
                         + ", ".join(self.extra[:20]) + (" ..." if len(self.extra) > 20 else ""))
        for col, how in self.coerced.items():
            notes.append(f"converted column {col!r} ({how})")
        for col, n in self.unseen.items():
            notes.append(f"column {col!r}: {counted(n, 'value')} in categories not seen in training")
        for col, n in self.out_of_range.items():
            notes.append(f"column {col!r}: {counted(n, 'value')} outside the training range")
        for col, units in self.new_units.items():
            notes.append(_new_units_message(col, units))
        return notes

    def to_dict(self) -> dict:
        return {"rows": self.rows, "extra": list(self.extra), "coerced": dict(self.coerced),
                "unseen": dict(self.unseen), "out_of_range": dict(self.out_of_range),
                "new_units": {col: list(units) for col, units in self.new_units.items()}}


def _new_units_message(column: str, units: list[str]) -> str:
    return (f"column {column!r}: unit{'s' if len(units) > 1 else ''} {', '.join(map(repr, units))} never seen in "
            "training; the numbers are read as written, so convert them to the training unit first")


def warn_about_input(report: InputReport, warned: set, stacklevel: int) -> None:
    """Warn, once per set of columns or units, about ignored columns and units new to the model."""
    if report.extra and frozenset(report.extra) not in warned:
        warned.add(frozenset(report.extra))
        warnings.warn(f"Ignoring {counted(len(report.extra), 'column')} the model does not use: "
                      f"{', '.join(report.extra[:20])}.", UserWarning, stacklevel=stacklevel + 1)
    for column, units in report.new_units.items():
        if (column, *units) not in warned:
            warned.add((column, *units))
            message = _new_units_message(column, units)
            warnings.warn(message[0].upper() + message[1:] + ".", UserWarning,
                          stacklevel=stacklevel + 1)


def text_columns(schema: dict | None) -> list[str]:
    """The input columns a model was trained on as text (dtype object, str, string or category).

    A data file read for this model reads them as text, as training saw them: a batch whose
    codes all look like numbers (``"01"``, ``"02"``) would otherwise be read as the numbers 1
    and 2, categories the model never saw. The other columns are read as pandas infers them,
    as in training (a category trained as the integer 3 stays 3).
    """
    return [c["name"] for c in (schema or {}).get("columns", [])
            if c.get("dtype") in ("object", "str", "category") or str(c.get("dtype", "")).startswith("string")]


def model_text_columns(model) -> list[str]:
    """:func:`text_columns` of a model's input schema (``model.schema_``; none without one)."""
    return text_columns(getattr(model, "schema_", None))


def _as_str(value) -> str:
    """A category value as the pipeline's ``AsString`` step sees it."""
    return str(value)


def _jsonable_number(value) -> float | int | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    if isinstance(value, (np.integer, int)):
        return int(value)
    value = float(value)
    return value if np.isfinite(value) else None


def _numeric_entries(X: pd.DataFrame, names: list[str]) -> dict[str, dict]:
    """The schema entries of numeric columns with NumPy dtypes, from blocks of one dtype."""
    entries: dict[str, dict] = {}
    if not len(X):
        return entries
    for part, values in number_blocks(X, names):
        if values.dtype.kind == "f":
            missing = np.isnan(values).sum(axis=0)
            finite = np.isfinite(values)
            any_finite = finite.any(axis=0)
            low = np.min(values, axis=0, initial=np.inf, where=finite)
            high = np.max(values, axis=0, initial=-np.inf, where=finite)
        else:
            missing, any_finite = np.zeros(len(part), dtype=int), np.ones(len(part), dtype=bool)
            low, high = values.min(axis=0), values.max(axis=0)
        for j, name in enumerate(part):
            entries[name] = {
                "name": str(name), "role": "numeric", "dtype": str(values.dtype), "missing": int(missing[j]),
                "min": _jsonable_number(low[j]) if any_finite[j] else None,
                "max": _jsonable_number(high[j]) if any_finite[j] else None,
                "integer": values.dtype.kind in "iu",
            }
    return entries


def build_schema(X: pd.DataFrame, plan=None, max_categories: int = MAX_CATEGORIES) -> dict:
    """Describe the model's input columns (JSON-able).

    Parameters
    ----------
    X : DataFrame
        The training frame of the columns the model uses (``result._X``).
    plan : DataPlan, optional
        Column roles (``result.plan_``); without it numeric dtypes are
        "numeric" and everything else "categorical".
    max_categories : int, default=1000
        Categories listed per column at most.

    Returns
    -------
    dict
        ``{"columns": [{"name", "role", "dtype", "missing", ...}, ...]}`` with
        ``min``/``max``/``integer`` for numeric columns, ``categories``
        (sorted strings), ``n_categories`` and ``truncated`` for categorical ones
        and ``min``/``max`` (ISO text) for datetime ones.
    """
    roles = {}
    if plan is not None:
        roles = {c.name: c.role for c in plan.columns}
    numeric = [name for name, dtype in X.dtypes.items() if isinstance(dtype, np.dtype) and dtype.kind in "iuf"
               and roles.get(name, "numeric") == "numeric"]
    fast = _numeric_entries(X, numeric)  # wide data: 20,000 columns took 2.2 s one by one
    columns = []
    for name in X.columns:
        if name in fast:
            columns.append(fast[name])
            continue
        col = X[name]
        role = roles.get(name) or ("numeric" if pd.api.types.is_numeric_dtype(col)
                                   and not pd.api.types.is_bool_dtype(col) else "categorical")
        entry = {"name": str(name), "role": role, "dtype": str(col.dtype),
                 "missing": int(col.isna().sum())}
        if role == "numeric":
            values = to_numbers(col)  # numbers stored as text, formatted or not, as the pipeline reads them
            finite = values[np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))]
            units = [] if pd.api.types.is_numeric_dtype(col) else units_in(col)
            if units:
                entry["units"] = units
            entry["min"] = _jsonable_number(finite.min()) if len(finite) else None
            entry["max"] = _jsonable_number(finite.max()) if len(finite) else None
            entry["integer"] = bool(pd.api.types.is_integer_dtype(col))
        elif role == "categorical":
            seen = sorted({_as_str(v) for v in col.dropna().tolist()})
            entry["n_categories"] = len(seen)
            entry["truncated"] = len(seen) > max_categories
            if len(seen) > max_categories:
                counts = col.dropna().map(_as_str).value_counts()
                seen = sorted(counts.index[:max_categories].tolist())
            entry["categories"] = seen
        elif role == "datetime":
            parsed = _to_datetime(col)
            entry["min"] = None if parsed.isna().all() else parsed.min().isoformat()
            entry["max"] = None if parsed.isna().all() else parsed.max().isoformat()
        columns.append(entry)
    return {"columns": columns}


def _to_datetime(col: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(col):
        parsed = col
    else:
        parsed = pd.to_datetime(col, errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed


def as_frame(data, columns: list[str] | None = None) -> pd.DataFrame:
    """Turn predict input into a DataFrame.

    Accepts a DataFrame, a list of records (dicts), a dict of columns, a
    single record (dict of scalars), or a 2-D array whose width matches
    ``columns``.
    """
    data = as_pandas(data)
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame().T
    if isinstance(data, dict):
        if all(np.ndim(v) == 0 for v in data.values()):
            return pd.DataFrame([data])
        return pd.DataFrame(data)
    if isinstance(data, (list, tuple)) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(list(data))
    arr = np.asarray(data, dtype=object)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise DataError(f"Expected a table (DataFrame, list of records or 2-D array); got {arr.ndim}-D data.",
                        code="bad_shape")
    if columns is None or arr.shape[1] != len(columns):
        expected = "" if columns is None else f" {len(columns)} columns ({', '.join(columns[:10])}...)"
        raise DataError(f"An array of {arr.shape[1]} columns cannot be matched to the model's input;"
                        f" expected{expected}. Pass a DataFrame with named columns.", code="bad_shape")
    return pd.DataFrame(arr, columns=columns).infer_objects()


def _coerce_numeric(name: str, col: pd.Series, report: InputReport) -> pd.Series:
    if pd.api.types.is_bool_dtype(col):
        report.coerced[name] = f"{col.dtype} -> float64"
        return col.astype("float64")
    if pd.api.types.is_numeric_dtype(col):
        return col
    if pd.api.types.is_datetime64_any_dtype(col) or isinstance(col.dtype, pd.PeriodDtype):
        raise DataError(f"Column {name!r} holds dates ({col.dtype}), but the model expects numbers. "
                        "Pass the numeric values the model was trained on.",
                        code="bad_dtype", columns=[name])
    values = col.astype(object)
    mask_missing = values.map(lambda v: v is None or (isinstance(v, float) and np.isnan(v))
                              or (isinstance(v, str) and v.strip().lower() in _MISSING_TOKENS)
                              or v is pd.NA).astype(bool)

    def to_number(v):
        if isinstance(v, bool):
            return float(v)
        if isinstance(v, (int, float, np.integer, np.floating, Decimal)):  # Decimal: SQL NUMERIC
            return float(v)
        if isinstance(v, str):
            return formatted_number(v)  # "1.5", and "$1,234.50" or "12%" as the pipeline reads them
        return np.nan

    numbers = values.where(~mask_missing, None).map(lambda v: np.nan if v is None else to_number(v))
    numbers = numbers.astype("float64")
    bad = numbers.isna() & ~mask_missing
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(values[bad])[:3])
        raise DataError(
            f"Column {name!r} must be numeric, but {counted(int(bad.sum()), 'value')} {are(int(bad.sum()))} not numbers "
            f"(e.g. {examples}). Send numbers (or null for a missing value) in this column.",
            code="bad_dtype", columns=[name])
    report.coerced[name] = f"{col.dtype} -> float64"
    return numbers


def _align_categories(name: str, col: pd.Series, entry: dict) -> pd.Series:
    """Floats like 3.0 sent for a category trained as "3" are turned back into "3"."""
    if not pd.api.types.is_float_dtype(col):
        return col
    seen = set(entry.get("categories") or [])
    values = col.dropna()
    if len(values) and np.all(np.mod(values.to_numpy(), 1) == 0):
        as_int = {str(int(v)) for v in values}
        as_float = {str(v) for v in values}
        if as_int & seen and not as_float & seen:
            out = col.astype(object)
            out[col.notna()] = [int(v) for v in values]
            return out
    return col


def enforce_schema(data, schema: dict, known: list[str] | None = None) -> tuple[pd.DataFrame, InputReport]:
    """Check and convert predict input against a model's input schema.

    Parameters
    ----------
    data : DataFrame, list of records, dict or 2-D array
    schema : dict
        From :func:`build_schema`.
    known : list of str, optional
        Columns that are expected in the input but not used by the model
        (dropped ID columns, the target); they are not reported as extra.

    Returns
    -------
    frame : DataFrame
        Only the model's columns, in training order.
    report : InputReport

    Raises
    ------
    DataError
        ``missing_columns`` (naming them) or ``bad_dtype`` (naming the column
        and examples of the values that cannot be converted safely).
    """
    entries = schema["columns"]
    used = [e["name"] for e in entries]
    frame = as_frame(data, used)
    if not all(isinstance(c, str) for c in frame.columns):  # on a copy: the caller's frame keeps its names
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    report = InputReport(rows=len(frame))
    report.coerced.update({name: f"{dtype} -> {read_as(dtype)}"
                           for name, dtype in converted_columns(frame).items() if name in used})
    frame = plain_dtypes(frame)  # as in training
    missing = [c for c in used if c not in frame.columns]
    if missing:
        unexpected = [c for c in frame.columns if c not in set(used) | {str(k) for k in (known or [])}]
        renamed = [(c, hit[0]) for c in missing for hit in [closest(c, unexpected)] if hit]
        hint = (" The data has " + ", ".join(f"{new!r}" for _, new in renamed) + ": renamed from "
                + ", ".join(f"{old!r}" for old, _ in renamed) + "?") if renamed else ""
        if len(missing) == len(used) > 1 and not renamed:  # not one of them: another model's data?
            found = [str(c) for c in frame.columns]
            raise DataError(
                f"The data has none of the {len(used)} columns the model needs ({', '.join(used[:10])}"
                f"{', ...' if len(used) > 10 else ''}); its {len(found)} columns are {', '.join(found[:10])}"
                f"{', ...' if len(found) > 10 else ''}. Is it the data for this model?",
                code="missing_columns", columns=missing)
        raise DataError(
            f"The data lacks {counted(len(missing), 'column')} the model needs: {', '.join(missing)}.{hint} "
            "Add them (use null for unknown values).", code="missing_columns", columns=missing)
    if len(frame) == 0:
        raise DataError(f"The data has no rows ({frame.shape[1]} columns, 0 rows): nothing to predict.",
                        code="no_rows")
    known_set = set(used) | {str(k) for k in (known or [])}
    report.extra = [c for c in frame.columns if c not in known_set]
    out = {}
    for entry in entries:
        name, role = entry["name"], entry["role"]
        col = frame[name]
        if isinstance(col, pd.DataFrame):
            raise DataError(f"The data has {col.shape[1]} columns named {name!r}; keep one.",
                            code="duplicate_columns", columns=[name])
        if role == "numeric":
            if not pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
                new = [u for u in units_in(col) if u not in entry.get("units", [])]
                if new:
                    report.new_units[name] = new
            col = _coerce_numeric(name, col, report)
            low, high = entry.get("min"), entry.get("max")
            if low is not None and high is not None and len(col):
                values = col.to_numpy(dtype=float, na_value=np.nan)
                n_out = int(np.sum((values < low) | (values > high)))
                if n_out:
                    report.out_of_range[name] = n_out
        elif role == "categorical":
            col = _align_categories(name, col, entry)
            if not entry.get("truncated") and "categories" in entry:
                seen = set(entry["categories"])
                present = col.dropna()
                n_unseen = int(sum(_as_str(v) not in seen for v in present.tolist()))
                if n_unseen:
                    report.unseen[name] = n_unseen
        elif role == "datetime":
            if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col) \
                    and col.notna().any():
                raise DataError(f"Column {name!r} holds numbers, but the model expects dates "
                                "(text such as '2024-05-31' or datetime values).",
                                code="bad_dtype", columns=[name])
        out[name] = col
    return pd.DataFrame(out, index=frame.index), report


__all__ = ["InputReport", "as_frame", "build_schema", "enforce_schema", "text_columns"]
