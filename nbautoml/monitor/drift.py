"""Drift statistics of a batch against a reference sketch (pure computation).

Numeric (continuous) features
    * **KS against the sketch**: the largest gap between the batch's empirical
      CDF and the reference CDF, taken at the 101 reference percentiles, where
      the reference CDF is stored exactly. Between those points the gap is not
      looked at, so the statistic is at most one percentile bin (0.01) below
      the full two-sample statistic: the test errs on the quiet side. The
      p-value is the two-sample one, with ``n_eff = n m / (n + m)``.
    * **PSI** over the reference deciles.
    * **Wasserstein-1** distance between the quantile functions, divided by
      the reference standard deviation (a shift of one std gives about 1).

Discrete numeric and categorical features
    * **chi-square** test of homogeneity and **PSI** over the reference
      categories holding at least ``MIN_BIN_SHARE`` of the rows, the rest
      (rare and unseen values) in one "other" bin;
    * for discrete numeric features, the exact Wasserstein-1 distance too.

Missing values are left out of the distribution tests (they have their own check).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .profile import QUANTILES

MIN_BIN_SHARE = 0.01
_SMOOTH = 0.5  # counts added to each bin before PSI's logarithm


def psi(ref_props, batch_counts) -> float:
    """Population stability index of batch counts against reference proportions.

    Half a count is added to every bin of the batch (and the same share to
    the reference) so that empty bins give a finite value.
    """
    ref = np.asarray(ref_props, dtype=float)
    counts = np.asarray(batch_counts, dtype=float)
    n, k = counts.sum(), len(counts)
    if n == 0 or k == 0:
        return float("nan")
    batch = (counts + _SMOOTH) / (n + _SMOOTH * k)
    ref = (ref + _SMOOTH / n) / (ref.sum() + _SMOOTH * k / n)
    return float(np.sum((batch - ref) * np.log(batch / ref)))


def chi2_homogeneity(ref_props, m: int, batch_counts) -> tuple[float, float]:
    """Chi-square test that the batch and the reference (``m`` rows) share one distribution."""
    counts = np.asarray(batch_counts, dtype=float)
    ref_counts = np.asarray(ref_props, dtype=float) * m
    keep = (counts + ref_counts) > 0
    counts, ref_counts = counts[keep], ref_counts[keep]
    n = counts.sum()
    if n == 0 or len(counts) < 2:
        return float("nan"), float("nan")
    total = counts + ref_counts
    expected_b = total * n / (n + m)
    expected_r = total * m / (n + m)
    statistic = float(
        np.sum((counts - expected_b) ** 2 / expected_b)
        + np.sum((ref_counts - expected_r) ** 2 / expected_r)
    )
    return statistic, float(stats.chi2.sf(statistic, len(counts) - 1))


def ks_sketch(sketch: dict, values: np.ndarray) -> tuple[float, float]:
    """KS statistic and p-value of sorted float values against a continuous sketch."""
    n, m = len(values), int(sketch["n"])
    if n == 0 or m == 0:
        return float("nan"), float("nan")
    grid = np.asarray(sketch["quantiles"])
    batch_cdf = np.searchsorted(values, grid, side="right") / n
    statistic = float(np.max(np.abs(batch_cdf - np.asarray(sketch["cdf"]))))
    n_eff = max(1, int(round(n * m / (n + m))))
    return statistic, float(stats.kstwo.sf(statistic, n_eff))


def wasserstein_quantiles(sketch: dict, values: np.ndarray) -> float:
    """Wasserstein-1 distance from the two quantile functions on the percentile grid."""
    if len(values) == 0:
        return float("nan")
    batch_q = np.quantile(values, QUANTILES)
    gap = np.abs(batch_q - np.asarray(sketch["quantiles"]))
    return float(np.sum((gap[1:] + gap[:-1]) / 2) / (len(QUANTILES) - 1))


def wasserstein_discrete(ref_values, ref_props, batch_values: np.ndarray) -> float:
    """Exact Wasserstein-1 distance between a discrete reference and batch values."""
    if len(batch_values) == 0:
        return float("nan")
    uniq, counts = np.unique(batch_values, return_counts=True)
    support = np.union1d(np.asarray(ref_values, dtype=float), uniq)
    ref_cdf = np.cumsum(
        pd.Series(ref_props, index=ref_values).reindex(support, fill_value=0).to_numpy()
    )
    batch_cdf = np.cumsum(
        pd.Series(counts / len(batch_values), index=uniq).reindex(support, fill_value=0).to_numpy()
    )
    return float(np.sum(np.abs(ref_cdf - batch_cdf)[:-1] * np.diff(support)))


def spread(sketch: dict) -> float:
    """The reference standard deviation (the interquartile range / 1.349 when the std is 0)."""
    std = float(sketch.get("std") or 0.0)
    if std > 0:
        return std
    q = sketch.get("quantiles")
    if q:
        iqr = (q[75] - q[25]) / 1.349
        if iqr > 0:
            return iqr
    return 1.0


def continuous_drift(sketch: dict, values: np.ndarray) -> dict:
    """PSI, KS and relative Wasserstein of present float values against a continuous sketch."""
    values = np.sort(values)
    counts = np.bincount(
        np.searchsorted(sketch["edges"], values, side="left"), minlength=len(sketch["edges"]) + 1
    )
    statistic, p_value = ks_sketch(sketch, values)
    return {
        "test": "ks",
        "statistic": statistic,
        "p_value": p_value,
        "psi": psi(sketch["proportions"], counts),
        "wasserstein": wasserstein_quantiles(sketch, values) / spread(sketch),
    }


def binned(keys: list, props: list, other: float = 0.0) -> tuple[list, np.ndarray]:
    """Keep keys holding at least ``MIN_BIN_SHARE``; the rest (and unseen values) are "other"."""
    props = np.asarray(props, dtype=float)
    big = props >= MIN_BIN_SHARE
    kept = [k for k, b in zip(keys, big) if b]
    rest = float(props[~big].sum() + other)
    return kept, np.append(props[big], rest)


def frequency_drift(keys: list, props: list, m: int, batch, other: float = 0.0) -> dict:
    """Chi-square and PSI of batch values (no missing) against reference frequencies."""
    kept, ref_props = binned(keys, props, other)
    values = np.asarray(batch)
    position = pd.Index(kept).get_indexer(values) if len(kept) else np.full(len(values), -1)
    batch_counts = np.bincount(
        np.where(position < 0, len(kept), position), minlength=len(kept) + 1
    ).astype(float)
    if ref_props[-1] == 0 and batch_counts[-1] == 0:
        ref_props, batch_counts = ref_props[:-1], batch_counts[:-1]
    statistic, p_value = chi2_homogeneity(ref_props, m, batch_counts)
    return {
        "test": "chi2",
        "statistic": statistic,
        "p_value": p_value,
        "psi": psi(ref_props, batch_counts),
    }


def discrete_drift(sketch: dict, values: np.ndarray) -> dict:
    """Chi-square, PSI and relative Wasserstein of float values against a discrete sketch."""
    out = frequency_drift(sketch["values"], sketch["proportions"], sketch["n"], values)
    out["wasserstein"] = wasserstein_discrete(
        sketch["values"], sketch["proportions"], values
    ) / spread(sketch)
    return out


def categorical_drift(sketch: dict, values: pd.Series) -> dict:
    """Chi-square and PSI of category strings against a categorical sketch."""
    out = frequency_drift(
        sketch["categories"],
        sketch["proportions"],
        sketch["n"],
        values,
        other=sketch.get("other", 0.0),
    )
    out["wasserstein"] = float("nan")
    return out


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if not ok.any():
        return q
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * len(pv) / np.arange(1, len(pv) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(pv)
    out[order] = np.minimum(adjusted, 1.0)
    q[ok] = out
    return q


def binomial_excess(k: int, n: int, rate: float) -> float:
    """One-sided p-value of seeing ``k`` or more events in ``n`` rows at the reference rate."""
    if n == 0:
        return float("nan")
    rate = min(max(rate, 1e-9), 1 - 1e-9)
    return float(stats.binom.sf(k - 1, n, rate))


def proportion_excess(k: int, n: int, k_ref: int, n_ref: int) -> float:
    """One-sided Fisher exact p-value that ``k/n`` exceeds the reference rate ``k_ref/n_ref``."""
    if n == 0 or n_ref == 0:
        return float("nan")
    table = [[k, n - k], [k_ref, n_ref - k_ref]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)
