"""The reference profile: a compact summary of the training data, built at fit time.

Monitoring compares new batches with this profile, so no copy of the training
data is needed later. Everything but the anomaly detector is plain JSON.

Per feature (by plan role):

* numeric with more than ``DISCRETE_MAX`` distinct values ("continuous"):
  101 quantiles (0 %, 1 %, ..., 100 %), the exact reference CDF at those
  points, decile bin edges with the reference proportion in each bin, min,
  max, mean and std;
* numeric with few distinct values ("discrete") and categorical columns:
  value frequencies (the ``MAX_CATEGORIES`` most frequent values);
* datetime: as continuous, on days since 1970-01-01;
* text: the length in characters, as continuous.

Missing rates are kept for every column. The prediction profile uses the
out-of-fold predictions of the best trial, which are what predictions on new
data look like (in-sample predictions of forests, boosting or k-NN are
over-confident). Two exceptions use the refitted model's in-sample
predictions: when no out-of-fold predictions were kept, and for a single
decision tree, whose predictions on new data take its own leaf values with
about the training occupancy, while the fold trees' leaf values differ (the
out-of-fold reference would flag every batch).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..engine.data import BLOCK_CELLS, column_dtypes, is_placeholder, numpy_kind
from ..engine.transformers import to_numbers
from .seen_rows import training_sketch

log = logging.getLogger("nbautoml")

PROFILE_VERSION = 1
QUANTILES = np.linspace(0.0, 1.0, 101)
DISCRETE_MAX = 20  # numeric columns with at most this many distinct values are "discrete"
MAX_CATEGORIES = 100  # category frequencies kept per column
MAX_ROWS = 20_000  # rows sampled for the sketches
ANOMALY_FIT_ROWS = 4096
ANOMALY_TREES = 50
ANOMALY_QUANTILE = 0.99  # reference anomaly rate is about 1 %
EPOCH = np.datetime64("1970-01-01T00:00:00")


@dataclass
class ReferenceProfile:
    """A compact, JSON-able profile of the training data and the model's behaviour on it.

    Attributes
    ----------
    features : dict
        Column name to its sketch (see the module docstring).
    prediction : dict
        ``kind`` ("proba", "decision", "label" or "value"), ``source`` ("oof"
        or "in-sample") and ``sketch``, the sketch of the monitored values
        (see :func:`prediction_values`).
    performance : dict
        ``metric``, ``greater_is_better``, ``cv_score``, ``cv_std``, ``fold_scores``:
        the best trial's, or where the model is an ensemble or a binary model with a
        decision threshold (and a label metric), the validation folds' scores of its own
        out-of-fold predictions (``source`` then says so, ``decision_threshold`` names a cut).
    anomaly : dict
        ``threshold`` and reference ``rate`` of the anomaly score, and the
        encoding the detector expects; empty when there is no detector.
    anomaly_detector : estimator or None
        A fitted ``IsolationForest`` (not part of ``to_dict``).
    seen_rows : dict
        A sketch of the training rows' hashes and their repeat share
        (:mod:`nbautoml.monitor.seen_rows`); empty in profiles made before it.
    """

    n_rows: int
    task: str
    target: str
    classes: list | None
    columns: list[str]
    ignored_columns: list[str]
    features: dict[str, dict]
    prediction: dict
    performance: dict
    anomaly: dict = field(default_factory=dict)
    seen_rows: dict = field(default_factory=dict)
    created: float = 0.0
    version: int = PROFILE_VERSION
    anomaly_detector: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Everything but the anomaly detector, as JSON-able Python objects."""
        return _jsonable(
            {
                "version": self.version,
                "created": self.created,
                "n_rows": self.n_rows,
                "task": self.task,
                "target": self.target,
                "classes": self.classes,
                "columns": self.columns,
                "ignored_columns": self.ignored_columns,
                "features": self.features,
                "prediction": self.prediction,
                "performance": self.performance,
                "anomaly": self.anomaly,
                "seen_rows": self.seen_rows,
            }
        )

    @classmethod
    def from_dict(cls, data: dict, anomaly_detector=None) -> ReferenceProfile:
        """Rebuild a profile from :meth:`to_dict` output (and the stored detector).

        Raises
        ------
        ValueError
            When the dict is from a newer profile format.
        """
        version = int(data.get("version", 1))
        if version > PROFILE_VERSION:
            raise ValueError(
                f"This reference profile has format version {version}; this nbautoml reads up to "
                f"{PROFILE_VERSION}. Upgrade nbautoml to monitor this model."
            )
        keys = (
            "n_rows",
            "task",
            "target",
            "classes",
            "columns",
            "ignored_columns",
            "features",
            "prediction",
            "performance",
            "anomaly",
            "created",
        )
        return cls(
            **{k: data.get(k) for k in keys},
            seen_rows=data.get("seen_rows") or {},
            version=version,
            anomaly_detector=anomaly_detector if data.get("anomaly") else None,
        )

    def __repr__(self) -> str:
        kinds = pd.Series([f["kind"] for f in self.features.values()]).value_counts().to_dict()
        return (
            f"ReferenceProfile({self.n_rows} rows, {len(self.features)} features {kinds}, "
            f"prediction={self.prediction.get('kind')}/{self.prediction.get('source')}, "
            f"anomaly_detector={'yes' if self.anomaly_detector is not None else 'no'})"
        )


# --------------------------------------------------------------------------- public builder


def build_profile(result, max_rows: int = MAX_ROWS) -> ReferenceProfile:
    """Build the reference profile of a fitted ``AutoML``.

    Parameters
    ----------
    result : AutoML
        Fitted, with its training data still in memory (``result._X``).
    max_rows : int, default=20000
        Rows sampled for the sketches (min, max and missing rates use every row).

    Returns
    -------
    ReferenceProfile
    """
    X, plan = result._X, result.plan_
    rng = np.random.default_rng(0 if result.seed is None else int(result.seed))
    sample = (
        X if len(X) <= max_rows else X.iloc[np.sort(rng.choice(len(X), max_rows, replace=False))]
    )
    roles = {c: r for r in ("numeric", "categorical", "datetime", "text") for c in plan.names(r)}
    dtypes = column_dtypes(X)
    block = [n for n in plan.used if roles.get(n) == "numeric" and _plain_numbers(dtypes[n])]
    sketched = numeric_block_sketches(X, sample, block)
    features = {}
    for name in plan.used:
        features[name] = sketched.get(name) or profile_column(X[name], sample[name], roles.get(name, "categorical"))
    profile = ReferenceProfile(
        n_rows=int(len(X)),
        task=result.task_,
        target=result.target_,
        classes=None if result.classes_ is None else [_plain(c) for c in result.classes_],
        columns=list(plan.used),
        ignored_columns=list(plan.dropped),
        features=features,
        prediction=_prediction_profile(result, sample),
        performance=_performance_profile(result),
        created=time.time(),
    )
    try:
        profile.seen_rows = training_sketch(X, list(plan.used))
    except Exception as exc:  # optional, as the detector below
        log.warning("nbautoml: no sketch of the training rows in the reference profile (%s: %s)",
                    type(exc).__name__, exc)
    try:
        profile.anomaly, profile.anomaly_detector = _fit_anomaly(profile, sample, rng)
    except Exception as exc:  # the detector is optional; the rest of the profile stays useful
        log.warning(
            "nbautoml: no anomaly detector in the reference profile (%s: %s)",
            type(exc).__name__,
            exc,
        )
    return profile


def profile_column(full: pd.Series, sample: pd.Series, role: str) -> dict:
    """The sketch of one column (``full`` for missing rate and range, ``sample`` for shapes)."""
    missing_rate = float(full.isna().mean()) if len(full) else 0.0
    if role == "categorical":
        sketch = categorical_sketch(as_category(sample))
    else:
        values = column_values(sample, role)[0]
        values = values[~np.isnan(values)]
        n_unique = len(np.unique(values))
        if role == "numeric" and n_unique <= DISCRETE_MAX:
            sketch = discrete_sketch(values)
        else:
            sketch = continuous_sketch(values)
        if role in ("numeric", "datetime") and len(values):
            all_values = column_values(full, role)[0]
            sketch["min"], sketch["max"] = (
                float(np.nanmin(all_values)),
                float(np.nanmax(all_values)),
            )
            sketch["integer"] = bool(np.all(np.mod(values, 1) == 0))
    sketch.update(role=role, missing_rate=missing_rate)
    return sketch


def _plain_numbers(dtype) -> bool:
    """True for a NumPy integer or float dtype (not bool, not a nullable extension type)."""
    return numpy_kind(dtype) in ("i", "u", "f")


def numeric_block_sketches(full: pd.DataFrame, sample: pd.DataFrame, names: list[str],
                           chunk: int = 2_000) -> dict[str, dict]:
    """:func:`profile_column` of many plain numeric columns at once (wide data).

    The columns of ``names`` whose sample has no missing value are sketched from one sorted
    2-D array, ``chunk`` columns at a time (fewer on long data: :data:`BLOCK_CELLS`); the
    result is the same as :func:`profile_column`'s (on 200 x 20,000: 7.7 s column by column,
    4.1 s with a loop over the columns, 1.5-2 s with the continuous sketches made together).
    Columns with missing values in the sample are left out (the caller sketches them one by
    one).
    """
    out: dict[str, dict] = {}
    chunk = max(1, min(chunk, BLOCK_CELLS // max(1, len(full))))  # 1,000,000 rows: 4 columns at a time
    for start in range(0, len(names), chunk):
        part = names[start:start + chunk]
        values = sample[part].to_numpy(dtype=float)
        whole = values if full is sample else full[part].to_numpy(dtype=float)
        complete = ~np.isnan(values).any(axis=0)
        if not len(values) or not complete.any():
            continue
        part = [n for n, ok in zip(part, complete) if ok]
        raw, whole = values[:, complete], whole[:, complete]
        values = np.sort(raw, axis=0)
        n_unique = (values[1:] != values[:-1]).sum(axis=0) + 1  # not np.diff: inf - inf is NaN
        missing = np.isnan(whole).mean(axis=0)
        low, high = np.nanmin(whole, axis=0), np.nanmax(whole, axis=0)
        integer = np.all(np.mod(values, 1) == 0, axis=0)
        quantiles = _round_array(np.quantile(values, QUANTILES, axis=0))
        # continuous columns of finite values: sketched together; the others one by one
        finite = np.isfinite(values).all(axis=0)
        together = (n_unique > DISCRETE_MAX) & finite & np.isfinite(quantiles).all(axis=0)
        sketches = _continuous_block_sketches(values[:, together], quantiles[:, together])
        sketches = dict(zip(np.flatnonzero(together).tolist(), sketches))
        few = (n_unique <= DISCRETE_MAX) & finite  # genotypes, ratings, counts
        sketches.update(zip(np.flatnonzero(few).tolist(), _discrete_block_sketches(values[:, few], raw[:, few])))
        n = len(values)
        for j, name in enumerate(part):
            sketch = sketches.get(j)
            if sketch is not None:
                pass
            elif n_unique[j] <= DISCRETE_MAX:
                sketch = discrete_sketch(np.ascontiguousarray(raw[:, j]))
            else:
                column = np.ascontiguousarray(values[:, j])  # sums in the order profile_column's do
                q = quantiles[:, j]
                edges = np.unique(q[10:100:10])
                counts = np.bincount(np.searchsorted(edges, column, side="left"), minlength=len(edges) + 1)
                sketch = {
                    "kind": "continuous",
                    "n": int(n),
                    "quantiles": q.tolist(),
                    "cdf": np.round(np.searchsorted(column, q, side="right") / n, 6).tolist(),
                    "edges": edges.tolist(),
                    "proportions": np.round(counts / n, 6).tolist(),
                    "mean": float(column.mean()),
                    "std": float(column.std()),
                    "min": float(column[0]),
                    "max": float(column[-1]),
                }
            sketch["min"], sketch["max"] = float(low[j]), float(high[j])
            sketch["integer"] = bool(integer[j])
            sketch.update(role="numeric", missing_rate=float(missing[j]))
            out[name] = sketch
    return out


def _discrete_block_sketches(values: np.ndarray, raw: np.ndarray) -> list[dict]:
    """:func:`discrete_sketch` of each column of ``raw`` (finite), ``values`` the same
    columns sorted, with array operations over all the columns at once."""
    n, n_columns = values.shape
    if not n_columns:
        return []
    rows = np.ascontiguousarray(values.T)  # column j's sorted values in row j
    starts = np.ones(rows.shape, dtype=bool)
    starts[:, 1:] = rows[:, 1:] != rows[:, :-1]
    first = np.flatnonzero(starts)  # where each distinct value starts, in row-major order
    column = first // n
    ends = np.append(first[1:], rows.size)
    ends = np.minimum(ends, (column + 1) * n)  # a column's last value ends with the column
    uniques = rows.ravel()[first].tolist()
    proportions = np.round((ends - first) / n, 6).tolist()
    bounds = np.searchsorted(column, np.arange(n_columns + 1)).tolist()
    by_column = np.ascontiguousarray(raw.T)  # sums in the order of each column as given
    means, stds = by_column.mean(axis=1).tolist(), by_column.std(axis=1).tolist()
    sketches = []
    for j in range(n_columns):
        kept = uniques[bounds[j]:bounds[j + 1]]
        sketches.append({"kind": "discrete", "n": int(n), "values": kept,
                         "proportions": proportions[bounds[j]:bounds[j + 1]], "mean": means[j], "std": stds[j],
                         "min": kept[0], "max": kept[-1]})
    return sketches


def _continuous_block_sketches(values: np.ndarray, quantiles: np.ndarray) -> list[dict]:
    """:func:`continuous_sketch` of each column of ``values`` (sorted down each column, finite)
    from its rounded ``quantiles``, with array operations over all the columns at once."""
    n, n_columns = values.shape
    if not n_columns:
        return []
    # the CDF at each quantile: how many values are at most it (searchsorted "right"); the
    # quantiles merged after the values (a stable sort keeps ties in that order)
    merged = np.concatenate([values, quantiles], axis=0)
    rank = np.empty(merged.shape, dtype=np.int64)
    np.put_along_axis(rank, np.argsort(merged, axis=0, kind="stable"),
                      np.arange(len(merged))[:, None], axis=0)
    at_most = rank[n:] - np.arange(len(quantiles))[:, None]
    cdf = np.round(at_most / n, 6)
    # the decile bins: a value's bin is the number of edges below it (searchsorted "left"), so
    # bin i holds the values above edge i - 1 and at most edge i; a repeated decile is one edge
    deciles = quantiles[10:100:10]
    up_to = np.stack([(values <= decile).sum(axis=0) for decile in deciles])
    first = np.ones(deciles.shape, dtype=bool)
    first[1:] = deciles[1:] != deciles[:-1]
    counts = np.diff(up_to, axis=0, prepend=0, append=n)
    proportions = np.round(counts / n, 6)
    columns = np.ascontiguousarray(values.T)  # each column's sums in the order of a 1-D array's
    means, stds = columns.mean(axis=1), columns.std(axis=1)
    sketches = []
    distinct = first.all(axis=0).tolist()
    for q, c, d, new, p, mean, std, lo, hi, plain in zip(
            quantiles.T.tolist(), cdf.T.tolist(), deciles.T.tolist(), first.T.tolist(), proportions.T.tolist(),
            means.tolist(), stds.tolist(), values[0].tolist(), values[-1].tolist(), distinct):
        if not plain:  # a repeated decile: one edge, and its empty bin left out
            d, p = [edge for edge, keep in zip(d, new) if keep], [share for share, keep in zip(p, [*new, True]) if keep]
        sketches.append({"kind": "continuous", "n": int(n), "quantiles": q, "cdf": c, "edges": d,
                         "proportions": p, "mean": mean, "std": std, "min": lo, "max": hi})
    return sketches


# --------------------------------------------------------------------------- value conversion


def column_values(col: pd.Series, role: str) -> tuple[np.ndarray, int, Any]:
    """Numeric values of a numeric, datetime or text column.

    Returns ``(values, n_bad, example)``: float values (NaN when missing),
    the number of present values that could not be converted (strings in a
    numeric column, unparseable dates) and one such value.
    """
    if role == "text":
        present = col.notna().to_numpy()
        lengths = np.full(len(col), np.nan)
        lengths[present] = col[present].astype(str).str.len().to_numpy(dtype=float)
        return lengths, 0, None
    if role == "datetime":
        if pd.api.types.is_datetime64_any_dtype(col):
            parsed = col
        else:
            parsed = pd.to_datetime(col, errors="coerce", format="mixed")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        values = (parsed.to_numpy(dtype="datetime64[ns]") - EPOCH) / np.timedelta64(1, "D")
        values = np.asarray(values, dtype=float)
    elif pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return col.to_numpy(dtype=float, na_value=np.nan), 0, None
    else:  # numbers stored as text, formatted ("$1,234.50") or not, read as the pipeline reads them
        values = to_numbers(col).to_numpy(dtype=float, na_value=np.nan)
        col = col.where(~is_placeholder(col))  # "?": missing, not a wrong type
    bad = np.isnan(values) & col.notna().to_numpy()
    n_bad = int(bad.sum())
    return values, n_bad, (col[bad].iloc[0] if n_bad else None)


def as_category(col: pd.Series) -> pd.Series:
    """Categorical values as strings, missing values kept as NaN.

    Whole floats are written as integers ("3", not "3.0"), so a column read
    with and without missing values gives the same categories.
    """
    if isinstance(col.dtype, pd.StringDtype):  # already text: one conversion, missing as NaN
        return pd.Series(col.to_numpy(dtype=object, na_value=np.nan), index=col.index, dtype=object)
    present = col.notna().to_numpy()
    out = np.full(len(col), np.nan, dtype=object)
    values = col[present]
    if pd.api.types.is_float_dtype(values):
        arr = values.to_numpy(dtype=float)
        text = values.astype(str).to_numpy(dtype=object)
        whole = np.mod(arr, 1) == 0
        text[whole] = arr[whole].astype(np.int64).astype(str)
    else:
        text = values.astype(str).to_numpy(dtype=object)
    out[present] = text
    return pd.Series(out, index=col.index, dtype=object)


# --------------------------------------------------------------------------- sketches


def continuous_sketch(values: np.ndarray) -> dict:
    """Quantiles, exact CDF at the quantiles, decile bins and moments of float values."""
    if len(values) == 0:
        return {"kind": "continuous", "n": 0}
    values = np.sort(values)
    quantiles = np.asarray(
        _round(np.quantile(values, QUANTILES))
    )  # CDF and bins use the stored points
    cdf = np.searchsorted(values, quantiles, side="right") / len(values)
    edges = np.unique(quantiles[10:100:10])
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return {
        "kind": "continuous",
        "n": int(len(values)),
        "quantiles": quantiles.tolist(),
        "cdf": np.round(cdf, 6).tolist(),
        "edges": edges.tolist(),
        "proportions": np.round(counts / len(values), 6).tolist(),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values[0]),
        "max": float(values[-1]),
    }


def discrete_sketch(values: np.ndarray) -> dict:
    """Frequencies of a numeric column with few distinct values."""
    if len(values) == 0:
        return {"kind": "discrete", "n": 0}
    uniq, counts = np.unique(values, return_counts=True)
    return {
        "kind": "discrete",
        "n": int(len(values)),
        "values": uniq.astype(float).tolist(),
        "proportions": np.round(counts / len(values), 6).tolist(),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(uniq[0]),
        "max": float(uniq[-1]),
    }


def categorical_sketch(values: pd.Series) -> dict:
    """Frequencies of the most frequent categories; the rest lumped as ``other``.

    ``singleton_rate`` (categories seen once / rows) is the Good-Turing
    estimate of how often a new row brings a category never seen in training.
    """
    counts = values.dropna().value_counts()
    n = int(counts.sum())
    if n == 0:
        return {"kind": "categorical", "n": 0, "categories": [], "proportions": []}
    top = counts.iloc[:MAX_CATEGORIES]
    return {
        "kind": "categorical",
        "n": n,
        "categories": [str(c) for c in top.index],
        "proportions": np.round(top.to_numpy() / n, 6).tolist(),
        "other": round(float(1 - top.sum() / n), 6),
        "n_categories": int(len(counts)),
        "truncated": bool(len(counts) > MAX_CATEGORIES),
        "singleton_rate": float((counts == 1).sum() / n),
    }


def _round(values) -> list[float]:
    return _round_array(values).tolist()


def _round_array(values) -> np.ndarray:
    """``values`` rounded to 7 significant digits (as ``f"{v:.7g}"``, without the strings)."""
    values = np.asarray(values, dtype=float)
    out = values.copy()
    ok = np.isfinite(values) & (values != 0)
    digits = 6 - np.floor(np.log10(np.abs(values[ok])))  # decimals to keep (negative: tens, ...)
    up, down = 10.0 ** np.maximum(digits, 0), 10.0 ** np.maximum(-digits, 0)  # exact powers of ten
    out[ok] = np.round(values[ok] * up / down) * down / up
    return out


# --------------------------------------------------------------------------- predictions and CV


def prediction_values(prediction: np.ndarray, kind: str) -> np.ndarray:
    """The 1-D series monitored for a prediction of the given kind.

    Binary probabilities give the positive-class probability; multiclass
    probabilities give the predicted class code; decision values, codes and
    regression values are used as they are.
    """
    prediction = np.asarray(prediction)
    if kind == "proba":
        return (
            prediction[:, 1]
            if prediction.shape[1] == 2
            else prediction.argmax(axis=1).astype(float)
        )
    if kind == "decision" and prediction.ndim == 2:
        return prediction.argmax(axis=1).astype(float)
    return prediction.astype(float)


def prediction_kind(task: str, needs: str, prediction: np.ndarray) -> str:
    """How a model's predictions (in the form the metric scores) are monitored."""
    if task == "regression":
        return "value"
    if needs == "label":
        return "label"
    prediction = np.asarray(prediction)
    if (
        prediction.ndim == 2
        and np.allclose(prediction.sum(axis=1), 1.0, atol=1e-6)
        and prediction.min() >= 0
    ):
        return "proba"
    return "decision"


def _prediction_profile(result, sample: pd.DataFrame) -> dict:
    from ..engine.evaluate import _predictions
    from ..engine.metrics import get_metric

    metric = get_metric(result.metric_, result.task_)

    def in_sample(rows):
        prediction = np.asarray(_predictions(result.best_pipeline_, rows, metric, result.task_)[0])
        if metric.needs == "label" and result.task_ != "regression":
            prediction = np.searchsorted(result.classes_, prediction)
        return prediction

    oof_store = getattr(result, "_oof", {}) or {}
    if result.best_trial_.trial_id in oof_store:
        _, prediction = result.oof_predictions()
        source = "oof"
        if metric.needs == "label" and result.task_ != "regression" and np.ndim(prediction) == 2:
            # out-of-fold predictions are kept as probabilities; a label model is
            # monitored on the class codes it predicts, at its decision threshold if it has one
            from ..engine.threshold import predicted_codes

            prediction = predicted_codes(prediction, getattr(result, "decision_threshold_", None))
    else:
        prediction, source = in_sample(sample), "in-sample"
    kind = prediction_kind(result.task_, metric.needs, prediction)
    codes = kind == "label" or (result.task_ == "multiclass" and kind in ("proba", "decision"))
    if source == "oof" and not codes and _single_tree(result.best_pipeline_):
        # A single tree predicts its leaf values, which differ from the fold trees' values; on new
        # data it gives its own leaf values with about the training occupancy, so its in-sample
        # distribution is the faithful reference (for forests, boosting or k-NN it is not).
        prediction, source = in_sample(sample), "in-sample (single tree)"
    values = prediction_values(prediction, kind)
    sketch = discrete_sketch(values) if codes else continuous_sketch(values)
    sketch["role"] = "prediction"
    return {"kind": kind, "source": source, "metric_needs": metric.needs, "sketch": sketch}


def _single_tree(pipeline) -> bool:
    from sklearn.tree import BaseDecisionTree

    estimator = pipeline[-1] if hasattr(pipeline, "__getitem__") else pipeline
    return isinstance(estimator, BaseDecisionTree)


def _performance_profile(result) -> dict:
    profile = {
        "metric": result.metric_,
        "greater_is_better": bool(result.greater_is_better_),
        "cv_score": float(result.best_score_),
        "cv_std": float(result.best_score_std_ or 0.0),
        "fold_scores": [float(s) for s in (result.best_trial_.fold_scores or [])],
        "validation": getattr(result.validation_, "description", ""),
    }
    own = _model_fold_scores(result)
    if own:
        # the search scored the best trial's folds (at 0.5); the model may be an ensemble or cut its
        # probabilities elsewhere, and a batch's labels are compared with what its own
        # out-of-fold predictions score on the same folds
        profile.update(cv_score=float(np.mean(own)), cv_std=float(np.std(own)), fold_scores=[float(s) for s in own],
                       source="the model's out-of-fold predictions")
        if getattr(result, "decision_threshold_", None) is not None:
            profile["decision_threshold"] = float(result.decision_threshold_)
    return profile


def _model_fold_scores(result) -> list[float] | None:
    """The validation folds' scores of the model's own out-of-fold predictions where they differ
    from its best trial's: an ensemble's (its members' weighted average), or a binary model's
    labels at its decision threshold. None otherwise, or where the predictions are not kept."""
    from ..engine.metrics import fold_scores, get_metric

    metric = get_metric(result.metric_, result.task_)
    threshold = getattr(result, "decision_threshold_", None)
    thresholded = threshold is not None and metric.needs == "label"
    if not (thresholded or getattr(result, "ensemble_", None) is not None) or not hasattr(result, "_model_oof"):
        return None
    oof = result._model_oof(compute=False)
    if oof is None:
        return None
    n_classes = 0 if result.classes_ is None else len(result.classes_)
    return fold_scores(metric, result._y_codes(), oof, result.validation_.folds, result.task_, n_classes,
                       threshold) or None


# --------------------------------------------------------------------------- anomaly detector


def anomaly_matrix(profile: ReferenceProfile, columns: dict, n: int) -> np.ndarray:
    """Encode ``n`` rows for the anomaly detector: numbers as they are, categories by frequency.

    ``columns`` maps profiled columns to converted values (floats, or category
    strings); a column not given counts as missing. Missing values take the
    reference median (numeric) or the frequency of a rare category.
    """
    encoding = profile.anomaly["encoding"]
    blocks = []
    for name in profile.anomaly["columns"]:
        info = profile.features[name]
        values = columns.get(name)
        if values is None:
            blocks.append(np.full(n, encoding[name], dtype=float))
        elif info["kind"] == "categorical":
            position = pd.Index(info["categories"]).get_indexer(np.asarray(values, dtype=object))
            freq = np.append(np.asarray(info["proportions"], dtype=float), encoding[name])
            blocks.append(
                freq[position]
            )  # position -1 (unseen or missing) takes the rare frequency
        else:
            arr = np.asarray(values, dtype=float)
            blocks.append(np.where(np.isnan(arr), encoding[name], arr))
    return np.column_stack(blocks) if blocks else np.zeros((n, 0))


def _fit_anomaly(profile: ReferenceProfile, sample: pd.DataFrame, rng) -> tuple[dict, Any]:
    from sklearn.ensemble import IsolationForest

    encoding = {}
    for name, info in profile.features.items():
        if info.get("n", 0) == 0:
            continue
        if info["kind"] == "categorical":
            rest = info.get("n_categories", 0) - len(info["categories"])
            encoding[name] = info.get("other", 0.0) / rest if rest > 0 else 0.0
        else:
            quantiles = info.get("quantiles")
            encoding[name] = float(quantiles[50]) if quantiles else float(info["mean"])
    if not encoding or len(sample) < 50:
        return {}, None
    profile.anomaly = {"columns": list(encoding), "encoding": encoding}
    matrix = anomaly_matrix(profile, converted_columns(profile, sample), len(sample))
    order = rng.permutation(len(matrix))
    n_fit = min(ANOMALY_FIT_ROWS, len(matrix) // 2)
    fit_rows, calibration_rows = order[:n_fit], order[n_fit : n_fit + ANOMALY_FIT_ROWS]
    detector = IsolationForest(
        n_estimators=ANOMALY_TREES,
        max_samples=min(256, n_fit),
        random_state=int(rng.integers(2**31 - 1)),
    )
    detector.fit(matrix[fit_rows])
    scores = -detector.score_samples(matrix[calibration_rows])
    threshold = float(np.quantile(scores, ANOMALY_QUANTILE))
    rate = float(np.mean(scores > threshold))
    anomaly = {
        **profile.anomaly,
        "threshold": threshold,
        "rate": rate,
        "n_fit": int(n_fit),
        "n_calibration": int(len(calibration_rows)),
    }
    return anomaly, detector


def converted_columns(profile: ReferenceProfile, frame: pd.DataFrame) -> dict:
    """Each profiled column of ``frame`` converted: floats, or category strings."""
    dtypes = column_dtypes(frame)
    plain = [name for name, info in profile.features.items() if name in dtypes and info["kind"] != "categorical"
             and info["role"] == "numeric" and _plain_numbers(dtypes[name])]
    block = frame[plain].to_numpy(dtype=float).T if plain else None  # wide data: one conversion
    rows = dict(zip(plain, block)) if plain else {}
    out = {}
    for name, info in profile.features.items():
        if name not in dtypes:
            continue
        if name in rows:
            out[name] = rows[name]
        elif info["kind"] == "categorical":
            out[name] = as_category(frame[name])
        else:
            out[name] = column_values(frame[name], info["role"])[0]
    return out


# --------------------------------------------------------------------------- JSON helpers


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    obj = _plain(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
