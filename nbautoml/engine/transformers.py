"""Small scikit-learn transformers used in nbautoml's pipelines.

They are plain, importable classes so that skops can load them when trusted
and ``%automl_code`` can write them out verbatim.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

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


class AsString(TransformerMixin, BaseEstimator):
    """Turn categorical columns into strings, with missing values as ``"missing"``.

    Encoders need columns that are uniformly strings; data read from a CSV
    often mixes numbers, booleans, strings and NaN in one column.
    """

    def fit(self, X, y=None):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
        out = np.empty(frame.shape, dtype=object)
        for j, name in enumerate(frame.columns):
            col = frame[name]
            values = col.astype(object).to_numpy()
            mask = pd.isna(col).to_numpy()
            out[:, j] = [str(v) for v in values]
            out[mask, j] = "missing"
        return out

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_in_, dtype=object)


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
