"""The checks run on a batch, their thresholds, and how findings get a severity.

A finding is *warn* or *alert* only when it is both statistically clear (a
p-value below ``alpha``, Benjamini-Hochberg corrected across features) and
large enough to matter (an effect size past a threshold). The first rule keeps
noise in small batches quiet; the second keeps tiny, harmless differences
quiet in large batches.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
from scipy import stats

from ..words import are, counted
from . import drift
from .performance import metric_se
from .profile import ReferenceProfile, anomaly_matrix, as_category, column_values, prediction_values
from .seen_rows import seen_share

SEVERITIES = ("ok", "info", "warn", "alert")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
COLUMNS = [
    "feature",
    "check",
    "severity",
    "statistic",
    "p_value",
    "q_value",
    "psi",
    "wasserstein",
    "value",
    "reference",
    "detail",
]
PREDICTION, ROWS, LABELS = "(prediction)", "(rows)", "(labels)"
# a batch whose rows are at least this share training rows, this much above the repeats new
# rows have, gets the training_rows warning
SEEN_ROWS_WARN, SEEN_ROWS_EXCESS = 0.5, 0.25
NOT_ENOUGH = "not enough data"


def threshold_pair(text: str) -> tuple[str, float]:
    """``"psi_warn=0.2"`` -> ``("psi_warn", 0.2)`` (an int for whole numbers, e.g. ``min_rows=50``).

    Raises
    ------
    ValueError
        When ``text`` is not ``KEY=VALUE`` or the value is not a number.
    """
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise ValueError(f"expected KEY=VALUE such as psi_warn=0.2; got {text}")
    try:
        return key, int(value) if re.fullmatch(r"[+-]?\d+", value) else float(value)
    except ValueError:
        raise ValueError(f"the value of {key} must be a number; got {value}") from None


@dataclass
class Thresholds:
    """When a finding becomes a warning or an alert.

    Parameters
    ----------
    alpha : float, default=0.01
        Significance level; drift p-values are Benjamini-Hochberg corrected
        across features first.
    psi_warn, psi_alert : float, default=0.1, 0.25
        Population stability index.
    wasserstein_warn, wasserstein_alert : float, default=0.1, 0.25
        Wasserstein distance in reference standard deviations.
    missing_warn, missing_alert : float, default=0.05, 0.2
        Rise of the missing rate (absolute).
    out_of_range_warn, out_of_range_alert : float, default=0.01, 0.05
        Share of rows outside the training range.
    unseen_warn, unseen_alert : float, default=0.01, 0.05
        Share of rows with a category never seen in training.
    anomaly_warn, anomaly_alert : float, default=2.5, 5.0
        Anomaly rate as a multiple of the reference rate.
    performance_warn, performance_alert : float, default=0.05, 0.10
        Loss of the metric relative to the CV estimate (0.05 = 5 % worse).
    min_rows : int, default=30
        Fewer rows (or labels) than this: statistics are NaN, "not enough data".
    """

    alpha: float = 0.01
    psi_warn: float = 0.1
    psi_alert: float = 0.25
    wasserstein_warn: float = 0.1
    wasserstein_alert: float = 0.25
    missing_warn: float = 0.05
    missing_alert: float = 0.2
    out_of_range_warn: float = 0.01
    out_of_range_alert: float = 0.05
    unseen_warn: float = 0.01
    unseen_alert: float = 0.05
    anomaly_warn: float = 2.5
    anomaly_alert: float = 5.0
    performance_warn: float = 0.05
    performance_alert: float = 0.10
    min_rows: int = 30

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Thresholds.{f.name} must be a number > 0; got {value!r}.")
        if not self.alpha < 1:
            raise ValueError(f"Thresholds.alpha must be in (0, 1); got {self.alpha!r}.")
        for stem in (
            "psi",
            "wasserstein",
            "missing",
            "out_of_range",
            "unseen",
            "anomaly",
            "performance",
        ):
            warn, alert = getattr(self, f"{stem}_warn"), getattr(self, f"{stem}_alert")
            if warn > alert:
                raise ValueError(
                    f"Thresholds.{stem}_warn ({warn}) must not exceed {stem}_alert ({alert})."
                )

    @classmethod
    def coerce(cls, value) -> Thresholds:
        """A ``Thresholds`` from None (defaults), a dict of overrides, or a ``Thresholds``."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            names = [f.name for f in fields(cls)]
            for key in value:
                if key not in names:
                    hint = difflib.get_close_matches(str(key), names, n=1)
                    raise ValueError(
                        f"Unknown threshold {key!r}."
                        + (f" Did you mean {hint[0]!r}?" if hint else "")
                        + f" Valid names: {', '.join(names)}."
                    )
            return cls(**value)
        raise TypeError(
            f"thresholds must be a Thresholds, a dict or None; got {type(value).__name__}."
        )

    def to_dict(self) -> dict:
        return asdict(self)


def finding(
    feature,
    check,
    *,
    severity="ok",
    statistic=np.nan,
    p_value=np.nan,
    psi=np.nan,
    wasserstein=np.nan,
    value=np.nan,
    reference=np.nan,
    detail="",
    level="column",
    badness=0.0,
    family=None,
) -> dict:
    """One row of the findings table (``level``, ``badness`` and ``family`` are for sorting)."""
    return {
        "feature": feature,
        "check": check,
        "severity": severity,
        "statistic": statistic,
        "p_value": p_value,
        "q_value": np.nan,
        "psi": psi,
        "wasserstein": wasserstein,
        "value": value,
        "reference": reference,
        "detail": detail,
        "_level": level,
        "_badness": badness,
        "_family": family,
    }


# --------------------------------------------------------------------------- column checks


def column_checks(profile: ReferenceProfile, frame: pd.DataFrame, th: Thresholds):
    """Schema, data-quality and drift findings for every profiled column of the batch.

    Returns ``(rows, converted)``: the findings, and each present column
    converted (floats, or category strings) for the anomaly detector.
    """
    rows, converted = [], {}
    n = len(frame)
    for name in profile.columns:
        info = profile.features[name]
        if name not in frame.columns:
            rows.append(
                finding(
                    name,
                    "missing_column",
                    severity="alert",
                    badness=math.inf,
                    detail="the model uses this column; the batch lacks it "
                    "(predictions here impute it as missing)",
                )
            )
            continue
        column_rows, converted[name] = _column_rows(name, info, frame[name], n, profile.n_rows, th)
        rows.extend(column_rows)
    known = set(profile.columns) | set(profile.ignored_columns) | {profile.target}
    for name in frame.columns:
        if name not in known:
            rows.append(
                finding(
                    name,
                    "new_column",
                    severity="info",
                    detail="not a training column; ignored by the model",
                )
            )
    return rows, converted


def _column_rows(name, info, col: pd.Series, n: int, n_ref: int, th: Thresholds):
    rows = [_missing_rate(name, info, col, n, n_ref, th)]
    kind, role = info["kind"], info["role"]
    if kind == "categorical":
        converted = as_category(col)
        values = converted.dropna()
        rows.append(_unseen(name, info, values, n, th))
        rows.append(_drift_row(name, info, values, th))
        return [r for r in rows if r is not None], converted
    converted, n_bad, example = column_values(col, role)
    if n_bad:
        crash = role == "numeric"
        rows.append(
            finding(
                name,
                "type_mismatch",
                severity="alert" if crash else "warn",
                statistic=n_bad,
                value=n_bad / max(n, 1),
                badness=math.inf if crash else n_bad / max(n, 1),
                detail=(
                    f"{counted(n_bad, 'value')} {are(n_bad)} not {'numbers' if crash else 'dates'}, e.g. {example!r}"
                    + ("; the model cannot use them (treated as missing here)" if crash else "")
                ),
            )
        )
    values = converted[~np.isnan(converted)]
    if role in ("numeric", "datetime") and "min" in info:
        rows.append(_out_of_range(name, info, values, n, n_ref, th))
    rows.append(_drift_row(name, info, values, th))
    return [r for r in rows if r is not None], converted


def _missing_rate(name, info, col, n, n_ref, th) -> dict | None:
    if n == 0:
        return None
    k = int(col.isna().sum())
    rate, ref = k / n, float(info["missing_rate"])
    if rate - ref < th.missing_warn / 2:
        return None
    if n < th.min_rows and rate < 1:
        return finding(
            name,
            "missing_rate",
            severity="info",
            value=rate,
            reference=ref,
            detail=f"{NOT_ENOUGH} ({n} rows; {th.min_rows} needed)",
        )
    p = drift.binomial_excess(k, n, max(ref, 0.5 / max(n_ref, 1)))
    jump = rate - ref
    return finding(
        name,
        "missing_rate",
        statistic=rate,
        p_value=p,
        value=rate,
        reference=ref,
        badness=jump / th.missing_alert,
        family="missing",
        detail=f"{rate:.1%} missing (training: {ref:.1%})",
        severity=("alert", "warn", jump, th.missing_alert, th.missing_warn),
    )


def _out_of_range(name, info, values, n, n_ref, th) -> dict | None:
    low, high = info["min"], info["max"]
    below, above = int(np.sum(values < low)), int(np.sum(values > high))
    k = below + above
    if k == 0:
        return None
    share = k / max(n, 1)
    detail = f"{counted(k, 'value')} outside the training range [{_fmt(low)}, {_fmt(high)}]"
    detail += (
        f" ({below} below, {above} above)"
        if below and above
        else (" (below)" if below else " (above)")
    )
    if n < th.min_rows:
        return finding(
            name,
            "out_of_range",
            severity="info",
            statistic=k,
            value=share,
            detail=detail + f"; {NOT_ENOUGH} to judge",
        )
    expected = 2.0 / (max(n_ref, 1) + 1)  # chance a new iid value falls outside the range of n_ref
    p = drift.binomial_excess(k, n, expected)
    top = (
        "warn" if info["role"] == "datetime" else "alert"
    )  # new dates are expected in time-stamped data
    return finding(
        name,
        "out_of_range",
        statistic=k,
        p_value=p,
        value=share,
        reference=expected,
        badness=share / th.out_of_range_alert,
        family="range",
        detail=detail,
        severity=(top, "warn", share, th.out_of_range_alert, th.out_of_range_warn),
    )


def _unseen(name, info, values: pd.Series, n, th) -> dict | None:
    if info.get("truncated") or not len(values):
        return None  # high-cardinality column: only its most frequent categories are known
    unseen = values[~values.isin(set(info["categories"]))]
    k = len(unseen)
    if k == 0:
        return None
    counts = unseen.value_counts()
    listing = ", ".join(f"{v!r} ({c})" for v, c in counts.head(5).items())
    more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
    detail = f"{counted(k, 'row')} with {counted(len(counts), 'category', 'categories')} never seen in training: {listing}{more}"
    share = k / max(n, 1)
    if n < th.min_rows:
        return finding(
            name, "unseen_category", severity="info", statistic=k, value=share, detail=detail
        )
    expected = max(float(info.get("singleton_rate", 0.0)), 1.0 / max(info["n"], 1))
    p = drift.binomial_excess(k, n, expected)
    return finding(
        name,
        "unseen_category",
        statistic=k,
        p_value=p,
        value=share,
        reference=expected,
        badness=share / th.unseen_alert,
        family="unseen",
        detail=detail,
        severity=("alert", "warn", share, th.unseen_alert, th.unseen_warn),
    )


def _drift_row(name, info, values, th: Thresholds, level="column", check="drift") -> dict:
    n = len(values)
    if n < th.min_rows or not info.get("n"):
        why = (
            f"{NOT_ENOUGH} ({n} values; {th.min_rows} needed)"
            if info.get("n")
            else "no reference values"
        )
        return finding(name, check, severity="info", detail=why, level=level)
    kind = info["kind"]
    if kind == "categorical":
        stats_ = drift.categorical_drift(info, values)
    elif kind == "discrete":
        stats_ = drift.discrete_drift(info, np.asarray(values, dtype=float))
    else:
        stats_ = drift.continuous_drift(info, np.asarray(values, dtype=float))
    effect = np.nanmax(
        [stats_["psi"] / th.psi_alert, _nan0(stats_["wasserstein"]) / th.wasserstein_alert]
    )
    what = "length " if info["role"] == "text" else ""
    detail = f"{what}{stats_['test'].upper()} {stats_['statistic']:.3g}, PSI {stats_['psi']:.3f}"
    if not np.isnan(stats_["wasserstein"]):
        detail += f", Wasserstein {stats_['wasserstein']:.3f} std"
    if kind in ("continuous", "discrete") and info["role"] != "datetime":
        detail += f"; mean {np.mean(values):.4g} (training {info['mean']:.4g})"
    return finding(
        name,
        check,
        statistic=stats_["statistic"],
        p_value=stats_["p_value"],
        psi=stats_["psi"],
        wasserstein=stats_["wasserstein"],
        detail=detail,
        level=level,
        badness=float(effect),
        family="drift",
        severity="drift",
    )


def _nan0(x) -> float:
    return 0.0 if x is None or np.isnan(x) else float(x)


def _fmt(x) -> str:
    return f"{x:.6g}"


# --------------------------------------------------------------------------- model checks


def prediction_drift(profile: ReferenceProfile, prediction, th: Thresholds) -> dict:
    """Drift of the model's predictions against its out-of-fold predictions."""
    values = prediction_values(prediction, profile.prediction["kind"])
    row = _drift_row(
        PREDICTION,
        profile.prediction["sketch"],
        values[~np.isnan(values)],
        th,
        level="model",
        check="prediction_drift",
    )
    row["detail"] += f" (reference: {profile.prediction['source']} predictions)"
    return row


def anomaly_check(profile: ReferenceProfile, detector, converted: dict, n: int, th: Thresholds):
    """Anomaly scores of the rows and the finding on the anomaly rate.

    ``converted`` maps the batch's columns to their converted values (see
    :func:`column_checks`). Returns ``(row, scores)``; scores are larger for
    more unusual rows.
    """
    info = profile.anomaly
    matrix = anomaly_matrix(profile, converted, n)
    scores = -detector.score_samples(matrix) if n else np.zeros(0)
    k = int(np.sum(scores > info["threshold"]))
    ref = float(info["rate"])
    if n < th.min_rows:
        return finding(
            ROWS,
            "anomaly_rate",
            severity="info",
            statistic=k,
            level="model",
            detail=f"{NOT_ENOUGH} ({n} rows; {th.min_rows} needed); {counted(k, 'unusual row')}",
        ), scores
    rate = k / n
    n_ref = int(info.get("n_calibration") or 0)
    p = drift.proportion_excess(k, n, int(round(ref * n_ref)), n_ref)
    ratio = rate / max(ref, 1.0 / max(n_ref, 1))
    row = finding(
        ROWS,
        "anomaly_rate",
        statistic=rate,
        p_value=p,
        value=rate,
        reference=ref,
        level="model",
        badness=ratio / th.anomaly_alert,
        family="anomaly",
        detail=f"{counted(k, 'unusual row')}, {rate:.1%} (training: {ref:.1%}, {ratio:.1f}x)",
        severity=("alert", "warn", ratio, th.anomaly_alert, th.anomaly_warn),
    )
    return row, scores


def seen_rows_check(profile: ReferenceProfile, frame: pd.DataFrame) -> dict | None:
    """A warning when most of the batch are training rows (:mod:`.seen_rows`): the model
    predicts those in-sample, so prediction drift and performance on them mislead. None when
    the profile has no sketch, a column is missing, too few rows can be checked, or the
    overlap is what new rows of the same kind would have."""
    sketch = getattr(profile, "seen_rows", None)
    if not sketch or any(name not in frame.columns for name in profile.columns):
        return None
    share, seen, eligible = seen_share(sketch, frame, profile.columns)
    expected = float(sketch.get("repeat_share", 0.0))
    if not np.isfinite(share) or share < SEEN_ROWS_WARN or share - expected < SEEN_ROWS_EXCESS:
        return None
    checked = "" if eligible == len(frame) else f" (estimated from {eligible} of the {len(frame)} rows)"
    return finding(
        ROWS,
        "training_rows",
        severity="warn",
        statistic=share,
        value=share,
        reference=expected,
        level="model",
        badness=share,
        detail=f"{share:.0%} of the batch's rows are rows the model was trained on{checked}; new rows of "
               f"the same kind repeat a training row {expected:.0%} of the time. The model predicts its "
               "training rows in-sample, so prediction drift and performance on them do not show how it "
               "does on new data",
    )


def performance_check(
    profile: ReferenceProfile, metric, codes, prediction, n_classes, th: Thresholds, seed: int = 0
) -> tuple[dict, float]:
    """The metric on the labelled rows, and its change from the CV estimate.

    The p-value is one-sided (is the batch worse?), from the standard error
    of the batch metric (:mod:`.performance`) and the spread of the CV fold scores.
    """
    from ..engine.metrics import score

    perf = profile.performance
    cv, cv_std = perf["cv_score"], perf["cv_std"]
    n = len(codes)
    if n < th.min_rows:
        return finding(
            LABELS,
            "performance",
            severity="info",
            level="model",
            reference=cv,
            detail=f"{NOT_ENOUGH} ({n} labelled rows; {th.min_rows} needed)",
        ), np.nan
    value = score(metric, codes, prediction, n_classes)
    if np.isnan(value):
        return finding(
            LABELS,
            "performance",
            severity="info",
            level="model",
            reference=cv,
            detail=f"{metric.name} is undefined on these labels (a single class?)",
        ), value
    se = metric_se(metric, codes, prediction, n_classes, seed)
    loss = (cv - value) if metric.greater_is_better else (value - cv)
    relative = loss / max(abs(cv), 1e-12)
    n_folds = max(len(perf.get("fold_scores") or []), 1)
    scale = math.sqrt(se**2 + cv_std**2 / n_folds)
    p = float(stats.norm.sf(loss / scale)) if scale > 0 and np.isfinite(scale) else np.nan
    word = "worse" if relative > 0 else "better"
    row = finding(
        LABELS,
        "performance",
        statistic=value,
        p_value=p,
        value=value,
        reference=cv,
        level="model",
        badness=relative / th.performance_alert,
        family="performance",
        detail=f"{metric.name} {value:.4f} on {n} rows vs CV {cv:.4f} ± {cv_std:.4f} "
        f"({abs(relative):.1%} {word})",
        severity=("alert", "warn", relative, th.performance_alert, th.performance_warn),
    )
    return row, value


# --------------------------------------------------------------------------- severity and order


def finalize(rows: list[dict], th: Thresholds) -> pd.DataFrame:
    """Correct p-values per family, decide severities, sort worst first."""
    families: dict[str, list[dict]] = {}
    for row in rows:
        if row["_family"] is not None:
            families.setdefault(row["_family"], []).append(row)
    for members in families.values():
        q_values = drift.benjamini_hochberg([r["p_value"] for r in members])
        for row, q in zip(members, q_values):
            row["q_value"] = float(q)
    for row in rows:
        row["severity"] = _severity(row, th)
    rows = sorted(
        rows,
        key=lambda r: (
            -RANK[r["severity"]],
            r["_level"] != "column",
            -_nan0(r["_badness"]),
            str(r["feature"]),
        ),
    )
    return pd.DataFrame(rows, columns=COLUMNS)


def _severity(row: dict, th: Thresholds) -> str:
    rule = row["severity"]
    if isinstance(rule, str) and rule != "drift":
        return rule
    q = row["q_value"]
    significant = not np.isnan(q) and q < th.alpha
    if rule == "drift":
        if not significant:
            return "ok"
        psi, w = row["psi"], _nan0(row["wasserstein"])
        if psi >= th.psi_alert or w >= th.wasserstein_alert:
            return "alert"
        if psi >= th.psi_warn or w >= th.wasserstein_warn:
            return "warn"
        return "info"
    top, low, effect, alert_at, warn_at = rule
    if significant and effect >= alert_at:
        return top
    if significant and effect >= warn_at:
        return low
    return "info" if effect > 0 else "ok"
