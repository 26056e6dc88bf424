"""Small scikit-learn transformers used in nbautoml's pipelines.

They are plain, importable classes so that skops can load them when trusted
and ``%automl_code`` can write them out verbatim.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

DATETIME_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour")


class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Expand datetime (or date-like text) columns into numeric parts.

    Each column gives year, month, day, day_of_week, day_of_year and hour;
    parts that are constant in the training data (e.g. hour for dates) are
    left out. Unparseable values become NaN, to be imputed downstream.
    """

    def fit(self, X, y=None):
        frame = self._to_datetimes(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        parts = []
        for name in frame.columns:
            values = frame[name]
            for part in DATETIME_PARTS:
                if getattr(values.dt, part).nunique(dropna=True) > 1:
                    parts.append((name, part))
        self.parts_ = parts
        return self

    def transform(self, X):
        frame = self._to_datetimes(X)
        columns = {
            f"{name}_{part}": getattr(frame[name].dt, part).astype("float64") for name, part in self.parts_
        }
        return pd.DataFrame(columns, index=frame.index).to_numpy(dtype=float) if columns else np.zeros(
            (len(frame), 0)
        )

    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"{name}_{part}" for name, part in self.parts_], dtype=object)

    @staticmethod
    def _to_datetimes(X) -> pd.DataFrame:
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        out = {}
        for name in frame.columns:
            col = frame[name]
            if not pd.api.types.is_datetime64_any_dtype(col):
                col = pd.to_datetime(col, errors="coerce", format="mixed")
            if getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_localize(None)
            out[name] = col
        return pd.DataFrame(out, index=frame.index)


class ColumnNames:
    """A ColumnTransformer column selection by name that stays fast on wide data.

    scikit-learn 1.9 looks each selected name up in a list of the frame's columns, which
    on 20,000 columns took 2 s of every fit. Called with the frame, this returns a boolean
    mask (a hash lookup) when the names are the frame's columns in this order, and the
    names otherwise (scikit-learn's own path, and its error for a missing column).
    ``build_pipeline`` uses it above ``MANY_COLUMNS`` names.

    Parameters
    ----------
    names : list of str
        The columns, in the order of the frame they are selected from.
    """

    def __init__(self, names):
        self.names = list(names)

    def __call__(self, X):
        columns = getattr(X, "columns", None)
        if columns is None:
            return self.names
        mask = np.asarray(columns.isin(self.names))
        if mask.sum() == len(self.names) and list(columns[mask]) == self.names:
            return mask
        return self.names

    def __repr__(self):
        return f"ColumnNames({len(self.names)} columns: {self.names[0]!r} ... {self.names[-1]!r})"


class _ColumnwiseTransformer(TransformerMixin, BaseEstimator):
    """A stateless transformer of DataFrame columns that keeps their names (``transform`` in subclasses)."""

    def fit(self, X, y=None):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_in_, dtype=object)


class AsString(_ColumnwiseTransformer):
    """Turn categorical columns into strings, with missing values as ``"missing"``.

    Encoders need columns that are uniformly strings; data read from a CSV
    often mixes numbers, booleans, strings and NaN in one column.
    """

    def transform(self, X):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        out = np.empty(frame.shape, dtype=object)
        for j, name in enumerate(frame.columns):
            col = frame[name]
            if _all_strings(col) and col.dtype == object:  # the usual case: no str() of each value
                out[:, j] = col.to_numpy(dtype=object, na_value="missing")
                continue
            if _all_strings(col):  # pandas' str dtype: one Python string per distinct value, shared
                # by its rows (1,000,000 Arrow strings of 8 words made 1,000,000 objects, 55 MB)
                codes, distinct = pd.factorize(col)  # missing: -1, the table's last entry
                out[:, j] = np.append(np.asarray(distinct, dtype=object), "missing")[codes]
                continue
            values = col.astype(object).to_numpy()
            mask = pd.isna(col).to_numpy()
            out[:, j] = [str(v) for v in values]
            out[mask, j] = "missing"
        return out


def _all_strings(col: pd.Series) -> bool:
    """True when every value of ``col`` that is not missing is a string."""
    if isinstance(col.dtype, pd.StringDtype):
        return True
    return col.dtype == object and pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty")


class OrdinalCategories(TransformerMixin, BaseEstimator):
    """Ordinal codes of categorical columns; a category not seen in training is coded as infrequent.

    As ``OrdinalEncoder(max_categories=...)``: a column's ``max_categories - 1``
    most frequent categories get codes 0, 1, ... and the rest share one
    "infrequent" code, the last. A category never seen in training is rarer
    still, so it gets that code too, where ``OrdinalEncoder`` gives -1, a value
    no tree saw while fitting, which sends it down the branch of whichever
    category sorts first. A column without infrequent categories codes a new
    category -1.

    Parameters
    ----------
    max_categories : int, default=20
        Codes per column, the infrequent one included.
    """

    def __init__(self, max_categories=20):
        self.max_categories = max_categories

    def fit(self, X, y=None):
        stand_in = counting_stand_in(X, self.max_categories)
        self.encoder_ = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                       max_categories=self.max_categories).fit(X if stand_in is None else stand_in)
        self.n_features_in_ = self.encoder_.n_features_in_
        infrequent = self.encoder_.infrequent_categories_
        self.unknown_codes_ = np.asarray(
            [-1 if rare is None else len(seen) - len(rare) for seen, rare in zip(self.encoder_.categories_, infrequent)],
            dtype=float)
        return self

    def transform(self, X):
        codes = self.encoder_.transform(X)
        unknown = codes == -1
        return np.where(unknown, self.unknown_codes_, codes) if unknown.any() else codes

    def get_feature_names_out(self, input_features=None):
        return self.encoder_.get_feature_names_out(input_features)


class OneHotCategories(OneHotEncoder):
    """scikit-learn's ``OneHotEncoder``, fitted from each column's categories and their counts.

    The same encoder as ``OneHotEncoder`` fitted on ``X`` (categories, infrequent ones,
    output), learnt from a few rows (:func:`counting_stand_in`): scikit-learn counts
    text values one by one in Python, 2.6 s for 5 columns of 800,000 rows.
    """

    def fit(self, X, y=None):
        stand_in = counting_stand_in(X, self.max_categories) if self.min_frequency is None else None
        return super().fit(X if stand_in is None else stand_in, y)


class MedianImputer(SimpleImputer):
    """scikit-learn's ``SimpleImputer``, whose medians NumPy computes.

    The same imputer as ``SimpleImputer`` fitted on ``X``, learnt from one row of each
    column's median (``np.nanmedian``, missing where a column has no value):
    scikit-learn takes medians of masked arrays, 2.3 s for 15 columns of 800,000 rows
    against 0.17-0.25 s. Other strategies, other missing-value markers, an indicator or
    numbers other than float64 and NumPy integers are fitted by scikit-learn itself.
    """

    def fit(self, X, y=None):
        stand_in = median_stand_in(X) if (self.strategy == "median" and not self.add_indicator
                                          and _is_nan(self.missing_values)) else None
        return super().fit(X if stand_in is None else stand_in, y)


def _is_nan(value) -> bool:
    return isinstance(value, float) and value != value


def median_stand_in(X, min_rows=5_000):
    """One row holding each column's median (NaN for a column without values), with the
    names of ``X``'s columns, or None when ``X`` is small or not float64/integer numbers."""
    if len(X) < min_rows:
        return None
    if isinstance(X, pd.DataFrame):
        dtypes = X.dtypes.tolist()
        if not all(isinstance(d, np.dtype) and (d == np.float64 or d.kind in "iu") for d in dtypes):
            return None
        values = X.to_numpy(dtype=np.float64)
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype == np.float64:
        values = X
    else:
        return None
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": that column's median is NaN
        medians = np.nanmedian(values, axis=0)[None, :]
    return pd.DataFrame(medians, columns=X.columns) if isinstance(X, pd.DataFrame) else medians


def counting_stand_in(X, max_categories, min_rows=5_000):
    """A few rows from which a scikit-learn encoder learns what it would learn from ``X``.

    Each column of ``X`` (an object array of strings, as :class:`AsString` makes)
    gets its categories once, and its ``max_categories - 1`` most frequent ones
    (scikit-learn's rule: the counts sorted stably, so that of equal counts the
    categories that sort last stay frequent) once more, so that those and only those
    are frequent. The counts
    come from ``pd.factorize``, which hashes in C; scikit-learn's ``_get_counts``
    calls ``is_scalar_nan`` on every value (0.6 s a column of 1,000,000).

    Returns None where the encoder had better read ``X`` itself: fewer than
    ``min_rows`` rows, not a 2-D object array, or a column that holds anything but
    strings (a missing value, a number).
    """
    if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype == object and len(X) >= min_rows):
        return None
    columns = []
    for j in range(X.shape[1]):
        if pd.api.types.infer_dtype(X[:, j], skipna=False) != "string":
            return None
        codes, distinct = pd.factorize(X[:, j])
        counts = np.bincount(codes, minlength=len(distinct))
        order = sorted(range(len(distinct)), key=distinct.__getitem__)  # scikit-learn's categories_
        categories = [distinct[i] for i in order]
        counts = counts[order]
        frequent = []
        if max_categories is not None and 1 < max_categories <= len(categories):
            ranked = np.argsort(counts, kind="mergesort")
            frequent = [categories[i] for i in ranked[len(ranked) - (max_categories - 1):]]
        columns.append(categories + frequent)
    rows = max(len(column) for column in columns)
    stand_in = np.empty((rows, len(columns)), dtype=object)
    for j, column in enumerate(columns):  # padded with the last value: a frequent one, if any
        stand_in[:, j] = column + [column[-1]] * (rows - len(column))
    return stand_in


class TextColumn(TransformerMixin, BaseEstimator):
    """Turn a one-column frame of text into the 1-D array of strings TF-IDF needs.

    Missing values become empty documents.
    """

    def fit(self, X, y=None):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        col = frame.iloc[:, 0]
        return col.where(col.notna(), "").astype(str).to_numpy()


class NumbersFromText(_ColumnwiseTransformer):
    """Numeric columns as float64, numbers stored as text parsed.

    For columns read as numbers though the data holds them as text (``"1"``,
    ``"2.5"``, with ``"?"`` or ``"NA"`` for a missing value): anything that is
    not a finite number becomes NaN, to be imputed downstream (or left to a
    model that handles missing values).
    """

    def transform(self, X):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        if all(isinstance(dtype, np.dtype) and dtype.kind in "iuf" for dtype in frame.dtypes.tolist()):
            # NumPy numbers (wide data): one block, not column by column
            out = frame.to_numpy(dtype=float, copy=True)
            out[~np.isfinite(out)] = np.nan  # as to_numbers: inf is missing
            return out
        out = np.empty(frame.shape, dtype=float)
        for j in range(frame.shape[1]):
            out[:, j] = to_numbers(frame.iloc[:, j]).to_numpy(dtype=float, na_value=np.nan)
        return out


CURRENCY_SIGNS = "$€£¥₹"
THOUSANDS = r"^\d{1,3}(,\d{3})+(\.\d*)?$"  # 1,234 and 1,234,567.89; not 9,99
UNIT = r"^(.*\d)\s*([^\W\d_][^\d]{0,11})$"  # "23.4 kmpl", "1248 CC", "3rd": a number, then a word
CLOCK = r"^(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?$"  # "3:47", "05:01:27", "1:02:03.5": a duration


def formatted_number(text: str) -> float:
    """A number written for people, or NaN: ``"$1,234.50"`` (1234.5), ``"12.5%"`` (12.5: the
    sign is dropped, not divided by), ``"(300)"`` (-300, an accounting negative), ``"-€5"``,
    ``"23.4 kmpl"`` (23.4: a unit after the number is dropped), ``"05:01:27"`` (18087: h:mm:ss
    in seconds; m:ss, or h:mm, as 60 × m + s)."""
    text = text.strip()
    clock = re.match(CLOCK, text)
    if clock:
        first, second, third = clock.groups()
        value = 60 * int(first) + int(second)
        return 60 * value + float(third) if third is not None else float(value)
    negative = len(text) > 2 and text[0] == "(" and text[-1] == ")"
    if negative:
        text = text[1:-1].strip()
    sign = ""
    for _ in range(2):  # a sign before or after the currency sign: -$5, $-5
        if text[:1] in ("+", "-"):
            sign, text = text[0], text[1:].strip()
        text = text.strip(CURRENCY_SIGNS).strip()
    text = text[:-1].rstrip() if text.endswith("%") else text
    unit = re.match(UNIT, text)
    if unit:
        text = unit.group(1)
    if re.match(THOUSANDS, text):
        text = text.replace(",", "")
    try:
        value = float(sign + text)
    except ValueError:
        return np.nan
    return -value if negative else value


def to_numbers(col: pd.Series) -> pd.Series:
    """A column as float64: text parsed as numbers (plain, or formatted as :func:`formatted_number`
    reads); anything else (placeholders, inf) missing."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        values = col.astype("float64")
        return values.where(np.isfinite(values.to_numpy(dtype=float, na_value=np.nan)))
    # each distinct value read once (1,000,000 rows of a few hundred prices: 1.9 s -> 0.1 s)
    text = col if isinstance(col.dtype, pd.StringDtype) else col.astype(object)
    codes, distinct = pd.factorize(text)  # missing values: code -1
    stripped = pd.Series(distinct, dtype=object).map(lambda v: v.strip() if isinstance(v, str) else v)
    numbers = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=float, na_value=np.nan, copy=True)
    for i in np.flatnonzero(np.isnan(numbers)):
        if isinstance(stripped[i], str) and stripped[i] != "":
            numbers[i] = formatted_number(stripped[i])
    numbers[~np.isfinite(numbers)] = np.nan
    return pd.Series(np.append(numbers, np.nan)[codes], index=col.index, name=col.name)


class LogTarget(TransformerMixin, BaseEstimator):
    """A regression target on the log scale: ``log1p(y)``, and back with ``expm1``.

    For ``TransformedTargetRegressor(transformer=LogTarget())``: a model fitted on the log
    of a skewed non-negative target (prices, charges) fits relative errors. Predictions
    are clipped to the training targets' log range widened by ``margin`` on each side
    before going back, so a linear model's extrapolation cannot overflow ``expm1``.

    Parameters
    ----------
    margin : float, default=0.5
        How far beyond the training range (in log units) a prediction may go
        (0.5: about 1.65 times the largest training target).
    """

    def __init__(self, margin: float = 0.5):
        self.margin = margin

    def fit(self, y, _=None):
        z = np.log1p(np.asarray(y, dtype=float))
        self.low_, self.high_ = float(np.min(z)), float(np.max(z))
        return self

    def transform(self, y):
        return np.log1p(np.asarray(y, dtype=float))

    def inverse_transform(self, z):
        z = np.clip(np.asarray(z, dtype=float), self.low_ - self.margin, self.high_ + self.margin)
        return np.expm1(z)
