"""Monitoring of fitted or saved models: drift, data quality, anomalies and performance.

``nbautoml.monitor(model, batch)`` compares a batch with the model's reference
profile (built at fit time, see :mod:`nbautoml.monitor.profile`) and returns a
:class:`MonitorReport`; every batch is appended to a SQLite history, read back
with ``nbautoml.monitor.history(name)``.

``nbautoml.monitor`` is both this package and the function: the function
carries ``history``, ``plots``, ``Thresholds`` and the other public names as
attributes, and the package itself can be called, so ``nbautoml.monitor(...)``
and ``nbautoml.monitor.history(...)`` work however it was imported.
"""

from __future__ import annotations

import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.data import is_placeholder, plain_dtypes, true_values
from ..engine.frames import as_pandas
from ..engine.transformers import to_numbers
from ..words import are, counted
from . import checks, plots
from .checks import Thresholds
from .history import history
from .profile import ReferenceProfile, build_profile
from .report import MonitorReport


def monitor(
    model, batch, labels=None, thresholds=None, history=True, name=None, policy=None
) -> MonitorReport:
    """Check a batch of new data against what the model saw in training.

    Parameters
    ----------
    model : AutoML, loaded model, str or Path
        A fitted ``AutoML``, a model from ``nbautoml.load``, a file path, or a
        registry reference (``"churn"``, ``"churn@2"`` or ``"registry:churn@2"``).
    batch : DataFrame or str or Path
        New rows with the training columns (a data file (CSV, Parquet, JSON, Excel, ...) is read).
    labels : array-like or str, optional
        True targets (an array, or the name of a column of ``batch``). When
        omitted and the batch has the training target column, that is used.
    thresholds : Thresholds or dict, optional
        Overrides of the default :class:`Thresholds`, e.g. ``{"psi_warn": 0.2}``.
    history : bool, default=True
        Append the batch to the monitoring history (``monitor.sqlite``).
    name : str, optional
        The name the batch is stored under (default: the model's registry
        name, its search name, or its file name).
    policy : RetrainPolicy, dict or "registry", optional
        A retraining policy (:class:`nbautoml.policy.RetrainPolicy`): the
        report then says whether to retrain (``action`` "retrain" or "none")
        and why (``recommendation``). "registry" uses the policy stored for the
        model's registered name (the default policy when none is stored).
        Nothing is retrained here; see :func:`nbautoml.retrain`.

    Returns
    -------
    MonitorReport
        ``status`` ("ok", "warn", "alert") and ``findings``, worst first.

    Raises
    ------
    ValueError
        When ``labels`` names no column or has the wrong length, or the model
        has no reference profile.

    Examples
    --------
    >>> report = nbautoml.monitor(result, new_df)            # doctest: +SKIP
    >>> report.status, report.drifted_features()             # doctest: +SKIP
    ('alert', ['age'])
    """
    model = _resolve_model(model)
    profile = _profile_of(model)
    th = Thresholds.coerce(thresholds)
    frame = _as_frame(batch, model, profile)
    y, frame, label_note = _split_labels(frame, labels, profile)
    rows, converted = checks.column_checks(profile, frame, th)
    seen = checks.seen_rows_check(profile, frame)
    if seen is not None:
        rows.append(seen)
    notes = [label_note] if label_note else []
    metric_value, scores = np.nan, None
    metric = _metric(model, profile)

    model_input = _model_input(profile, frame)
    try:
        prediction = _predict(model, model_input, metric, profile)
    except Exception as exc:  # a model that cannot predict this batch is a finding, not a crash
        prediction = None
        rows.append(
            checks.finding(
                checks.PREDICTION,
                "prediction_failed",
                severity="alert",
                level="model",
                badness=np.inf,
                detail=f"the model could not predict: {type(exc).__name__}: {exc}",
            )
        )
    if prediction is not None:
        rows.append(checks.prediction_drift(profile, prediction, th))
    detector = getattr(profile, "anomaly_detector", None)
    if detector is not None and profile.anomaly:
        row, scores = checks.anomaly_check(profile, detector, converted, len(frame), th)
        rows.append(row)
    if y is not None and prediction is not None:
        perf_rows, metric_value = _performance(model, profile, metric, y, prediction, th)
        rows.extend(perf_rows)

    findings = checks.finalize(rows, th)
    severities = set(findings["severity"])
    status = "alert" if "alert" in severities else "warn" if "warn" in severities else "ok"
    model_name, version = _identity(model, name)
    report = MonitorReport(
        status=status,
        findings=findings,
        n_rows=len(frame),
        name=model_name,
        version=version,
        metric=metric.name,
        metric_value=float(metric_value),
        cv_score=float(profile.performance["cv_score"]),
        anomaly_scores=scores,
        anomaly_threshold=profile.anomaly.get("threshold") if scores is not None else None,
        notes=notes,
        thresholds=th.to_dict(),
    )
    if history:
        from .history import record

        try:
            report.history_id = record(report)
        except Exception as exc:  # the report matters more than its bookkeeping
            warnings.warn(
                f"The monitoring history was not saved ({type(exc).__name__}: {exc}); "
                "the report is complete. Check that the project directory is writable "
                "(NBAUTOML_HOME) and has free space.",
                RuntimeWarning,
                stacklevel=2,
            )
    if policy is not None:
        _recommend(report, policy)
    return report


def _recommend(report: MonitorReport, policy) -> None:
    """Fill ``report.action``/``recommendation``/``policy`` from a retraining policy."""
    from ..policy import RetrainPolicy, get_policy, recommend

    if isinstance(policy, str):
        if policy != "registry":
            raise ValueError(
                f"policy={policy!r}: pass a RetrainPolicy, a dict of its fields, or 'registry' "
                "for the policy stored with the registered model."
            )
        try:
            stored = get_policy(report.name)
        except Exception as exc:
            raise ValueError(
                f"policy='registry' needs a registered model; {report.name!r}: {exc}"
            ) from exc
        if stored is None:
            report.notes.append(f"no retraining policy stored for {report.name!r}: the default one")
        policy = stored
    policy = RetrainPolicy.coerce(policy)
    n_batches = None
    if policy.every is not None:
        past = history(report.name)
        same = past["version"].astype(object).where(past["version"].notna(), None)
        n_batches = int((same == report.version).sum()) if report.version is not None else len(past)
        n_batches += 0 if report.history_id is not None else 1
    report.action, report.recommendation = recommend(report, policy, n_batches)
    report.policy = policy.to_dict()


# --------------------------------------------------------------------------- inputs


def _resolve_model(model):
    if isinstance(model, (str, Path)):
        from .. import persist
        from ..exceptions import NbAutoMLError

        try:  # a file, or a registered name such as "churn@2" when no such file exists
            model = persist.load(model)
        except NbAutoMLError as exc:
            if getattr(exc, "code", None) not in ("file_not_found", "model_not_found",
                                                  "version_not_found", "stage_not_set"):
                raise
            raise ValueError(f"Cannot monitor {str(model)!r}: {exc} Pass a model file path, a "
                             "registered name, or a fitted AutoML.") from exc
    if getattr(model, "best_pipeline_", None) is None:
        raise ValueError(
            f"monitor() needs a fitted model with a pipeline; got {type(model).__name__} "
            "without best_pipeline_. Fit it (AutoML(...).fit(df, target=...)) or load a "
            "saved model with nbautoml.load(path)."
        )
    return model


def _profile_of(model) -> ReferenceProfile:
    profile = getattr(model, "reference_profile_", None)
    if isinstance(profile, dict):
        profile = ReferenceProfile.from_dict(profile)
    if profile is None and getattr(model, "_X", None) is not None:
        profile = build_profile(model)
        model.reference_profile_ = profile
    if profile is None:
        raise ValueError(
            f"This {type(model).__name__} has no reference profile (reference_profile_ is None), "
            "so there is nothing to compare the batch with. Refit the model with this nbautoml "
            "version and save it again; the profile is built at fit time."
        )
    return profile


def _as_frame(batch, model, profile) -> pd.DataFrame:
    if isinstance(batch, (str, Path)):
        from ..engine.reading import read_table
        from ..schema import model_text_columns

        batch = read_table(batch, text_columns=model_text_columns(model))
    batch = as_pandas(batch)
    if isinstance(batch, pd.Series):
        batch = batch.to_frame().T
    if not isinstance(batch, pd.DataFrame):
        arr = np.asarray(batch, dtype=object)
        arr = arr.reshape(1, -1) if arr.ndim == 1 else arr
        names = list(getattr(model, "feature_names_in_", profile.columns))
        if arr.ndim != 2 or arr.shape[1] != len(names):
            raise ValueError(
                f"batch must be a DataFrame, or an array with {len(names)} columns "
                f"({', '.join(map(str, names[:10]))}...); got shape {arr.shape}."
            )
        batch = pd.DataFrame(arr, columns=names).infer_objects()
    batch = batch.copy()
    batch.columns = [str(c) for c in batch.columns]
    return plain_dtypes(batch.reset_index(drop=True))  # durations in seconds, periods dates


def _split_labels(frame, labels, profile):
    note = None
    if labels is None and profile.target in frame.columns:
        labels = profile.target
        note = f"labels taken from the batch's {profile.target!r} column"
    if labels is None:
        return None, frame, note
    if isinstance(labels, str):
        if labels not in frame.columns:
            import difflib

            hint = difflib.get_close_matches(labels, list(frame.columns), n=1)
            raise ValueError(
                f"labels={labels!r} is not a column of the batch."
                + (f" Did you mean {hint[0]!r}?" if hint else "")
                + " Pass the column name or an array of true values."
            )
        return frame[labels].reset_index(drop=True), frame.drop(columns=[labels]), note
    y = pd.Series(np.asarray(labels).ravel())
    if len(y) != len(frame):
        raise ValueError(
            f"labels has {len(y)} values for a batch of {len(frame)} rows; they must match."
        )
    return y, frame, note


def _model_input(profile, frame) -> pd.DataFrame:
    """The model's columns; missing ones as NaN, strings in numeric columns as NaN."""
    data = {}
    for name in profile.columns:
        info = profile.features[name]
        if name not in frame.columns:
            data[name] = np.full(len(frame), np.nan)
        elif info["role"] == "numeric" and not (
            pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name])
        ):
            data[name] = to_numbers(frame[name])  # "$1,234.50" as the pipeline reads it
        else:
            data[name] = frame[name]
    return pd.DataFrame(data, index=frame.index)


def _metric(model, profile):
    from ..engine.metrics import get_metric

    return get_metric(
        getattr(model, "metric_", None) or profile.performance["metric"], profile.task
    )


SINGLE_THREAD_ROWS = 10_000


def _predict(model, X, metric, profile):
    """Predictions in the form the metric scores (the same form as the reference ones).

    Batches under ``SINGLE_THREAD_ROWS`` rows are predicted on one thread:
    starting OpenMP/BLAS threads costs more than it saves there, and much more
    on a busy machine (10x for gradient boosting on 500 rows, measured).
    """
    from threadpoolctl import threadpool_limits

    from ..engine.evaluate import _predictions

    if len(X) == 0:
        return None
    with threadpool_limits(1 if len(X) < SINGLE_THREAD_ROWS else None):
        prediction, _ = _predictions(model.best_pipeline_, X, metric, profile.task)
    prediction = np.asarray(prediction)
    if metric.needs == "label" and profile.task != "regression":
        prediction = np.searchsorted(_classes(model, profile), prediction)
    return prediction


def _classes(model, profile) -> np.ndarray:
    classes = getattr(model, "classes_", None)
    return np.asarray(classes if classes is not None else profile.classes)


def _performance(model, profile, metric, y: pd.Series, prediction, th):
    if profile.task == "regression":  # numbers stored as text read as fit reads them, "?" missing
        y = y.where(~is_placeholder(y))
    known = y.notna().to_numpy()
    n_missing = int((~known).sum())
    y, prediction = y[known].reset_index(drop=True), prediction[known]
    if profile.task == "regression":
        values = true_values(y, "regression")
        bad = values.isna().to_numpy()
        if bad.any():
            example = y[bad].iloc[0]
            return [
                checks.finding(
                    checks.LABELS,
                    "label_mismatch",
                    severity="alert",
                    level="model",
                    badness=np.inf,
                    detail=f"{counted(int(bad.sum()), 'label')} {are(int(bad.sum()))} not numbers, "
                    f"e.g. {example!r}; pass numeric true values for this regression "
                    "model",
                )
            ], np.nan
        codes, n_classes = values.to_numpy(dtype=float), None
    else:
        classes = _classes(model, profile)
        codes, unknown, matched_as_text = _encode(y, classes)
        if unknown:
            shown = ", ".join(repr(u) for u in unknown[:5])
            return [
                checks.finding(
                    checks.LABELS,
                    "label_mismatch",
                    severity="alert",
                    level="model",
                    badness=np.inf,
                    detail=f"labels hold values the model never saw: {shown}"
                    f"{' ...' if len(unknown) > 5 else ''} (model classes: "
                    f"{', '.join(repr(c) for c in classes.tolist())}). Pass labels coded like the "
                    "training target.",
                )
            ], np.nan
        n_classes = len(classes)
    row, value = checks.performance_check(profile, metric, codes, prediction, n_classes, th)
    rows = [row]
    if n_missing:
        row["detail"] += f"; {counted(n_missing, 'row')} without a label left out"
    if profile.task != "regression" and matched_as_text:
        rows.append(
            checks.finding(
                checks.LABELS,
                "label_mismatch",
                severity="info",
                level="model",
                detail="labels matched to the model classes by their text "
                f"(labels are {y.dtype}, classes are {classes.dtype})",
            )
        )
    return rows, value


def _encode(y: pd.Series, classes: np.ndarray):
    """Class codes of labels: by value, else by text form (``"1"`` for 1); unknown labels listed."""
    codes = pd.Index(classes).get_indexer(pd.Index(y))
    if (codes >= 0).all():
        return codes, [], False
    from .profile import as_category

    text = as_category(y).to_numpy(dtype=object)
    codes = pd.Index(as_category(pd.Series(classes)).to_numpy(dtype=object)).get_indexer(text)
    if (codes >= 0).all():
        return codes, [], True
    return None, sorted({str(v) for v in text[codes < 0]}), False


def _identity(model, name):
    """The name and version a batch is stored under: given, registry, search, file or target."""
    ref = getattr(model, "registry_ref_", None)
    registry_name, version = str(ref).rsplit("@", 1) if ref and "@" in str(ref) else (ref, None)
    if name is not None:
        return str(name), version
    if registry_name:
        return str(registry_name), version
    run_dir = getattr(model, "run_dir_", None)
    if run_dir:
        return Path(run_dir).name, version
    path = getattr(model, "path_", None)
    if path:
        path = Path(path)
        if (path.parent / "search.sqlite").is_file():  # nbautoml run's model.nbautoml in its search directory
            return path.parent.name, version
        return path.stem, version
    return str(getattr(model, "target_", None) or "model"), version


# --------------------------------------------------------------------------- callable package

monitor.history = history
monitor.plots = plots
monitor.Thresholds = Thresholds
monitor.MonitorReport = MonitorReport
monitor.ReferenceProfile = ReferenceProfile
monitor.build_profile = build_profile


class _CallablePackage(types.ModuleType):
    """Lets ``nbautoml.monitor(model, batch)`` work when the name resolves to this package."""

    def __call__(self, *args, **kwargs) -> MonitorReport:
        return monitor(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage

__all__ = ["monitor", "history", "plots", "Thresholds", "MonitorReport", "ReferenceProfile",
           "build_profile"]
