"""The statistics against scipy and against brute force (no model fitting)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nbautoml.engine.metrics import get_metric, score
from nbautoml.monitor import Thresholds, drift
from nbautoml.monitor.performance import metric_se
from nbautoml.monitor.profile import categorical_sketch, continuous_sketch, discrete_sketch

RNG = np.random.default_rng(0)
REFERENCE = RNG.gamma(2.0, 3.0, 20_000)  # skewed, like amounts and durations


def test_ks_against_sketch_tracks_the_two_sample_ks():
    sketch = continuous_sketch(REFERENCE)
    for shift in (0.0, 0.3, 1.0):
        batch = np.sort(RNG.gamma(2.0, 3.0, 500) + shift)
        statistic, p_value = drift.ks_sketch(sketch, batch)
        full = stats.ks_2samp(REFERENCE, batch)
        # evaluated at the 101 reference percentiles: never above, at most one bin below
        assert full.statistic - 0.011 <= statistic <= full.statistic + 1e-9
        assert (
            abs(np.log10(p_value + 1e-300) - np.log10(full.pvalue + 1e-300)) < 1.0
            or p_value < 1e-10
        )


def test_ks_p_values_are_uniform_or_conservative_under_the_null():
    sketch = continuous_sketch(REFERENCE)
    p = [drift.ks_sketch(sketch, np.sort(RNG.gamma(2.0, 3.0, 500)))[1] for _ in range(300)]
    assert np.mean(np.asarray(p) < 0.05) <= 0.08


def test_wasserstein_matches_scipy():
    sketch = continuous_sketch(REFERENCE)
    batch = RNG.gamma(2.0, 3.0, 2000) * 1.3
    exact = stats.wasserstein_distance(REFERENCE, batch)
    assert drift.wasserstein_quantiles(sketch, batch) == pytest.approx(exact, rel=0.05)
    values = RNG.integers(0, 6, 5000).astype(float)
    dsketch = discrete_sketch(values)
    batch = RNG.integers(1, 8, 700).astype(float)
    assert drift.wasserstein_discrete(
        dsketch["values"], dsketch["proportions"], batch
    ) == pytest.approx(stats.wasserstein_distance(values, batch), rel=1e-4)


def test_psi_is_zero_for_the_same_distribution_and_matches_the_formula():
    ref = np.array([0.5, 0.3, 0.2])
    assert drift.psi(ref, ref * 100_000) == pytest.approx(0.0, abs=1e-4)
    counts = np.array([300, 300, 400])
    batch = (counts + 0.5) / (1000 + 1.5)
    smoothed = (ref + 0.5 / 1000) / (1 + 1.5 / 1000)
    assert drift.psi(ref, counts) == pytest.approx(
        np.sum((batch - smoothed) * np.log(batch / smoothed))
    )
    assert drift.psi(ref, counts) > 0.2


def test_chi2_homogeneity_matches_scipy():
    ref_props, m = np.array([0.6, 0.3, 0.1]), 4000
    batch = np.array([250, 180, 70])
    statistic, p_value = drift.chi2_homogeneity(ref_props, m, batch)
    expected = stats.chi2_contingency(np.vstack([ref_props * m, batch]), correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)


def test_categorical_drift_lumps_rare_and_unseen_categories():
    values = pd.Series(
        RNG.choice(["a", "b", "c", "rare1", "rare2"], 10_000, p=[0.5, 0.3, 0.196, 0.002, 0.002])
    )
    sketch = categorical_sketch(values)
    same = drift.categorical_drift(
        sketch, pd.Series(RNG.choice(["a", "b", "c"], 500, p=[0.5, 0.3, 0.2]))
    )
    assert same["p_value"] > 0.01 and same["psi"] < 0.05
    moved = drift.categorical_drift(
        sketch, pd.Series(RNG.choice(["a", "b", "new"], 500, p=[0.2, 0.3, 0.5]))
    )
    assert moved["p_value"] < 1e-10 and moved["psi"] > 0.25


def test_benjamini_hochberg():
    q = drift.benjamini_hochberg([0.01, 0.04, 0.03, 0.005, np.nan])
    np.testing.assert_allclose(q[:4], [0.02, 0.04, 0.04, 0.02])
    assert np.isnan(q[4])


@pytest.mark.parametrize(
    "name, task",
    [
        ("roc_auc", "binary"),
        ("accuracy", "binary"),
        ("f1", "binary"),
        ("log_loss", "binary"),
        ("average_precision", "binary"),
        ("r2", "regression"),
        ("mae", "regression"),
    ],
)
def test_metric_standard_errors_agree_with_a_bootstrap(name, task):
    rng = np.random.default_rng(1)
    n = 600
    if task == "regression":
        y = rng.normal(size=n)
        prediction = y + rng.normal(scale=0.7, size=n)
    else:
        y = rng.integers(0, 2, n)
        logit = 0.9 * y + rng.normal(size=n)
        proba = np.column_stack([1 / (1 + np.exp(logit)), 1 / (1 + np.exp(-logit))])
        prediction = proba if name in ("roc_auc", "log_loss", "average_precision") else (proba[:, 1] > 0.5).astype(int)
    metric = get_metric(name, task)
    boot = []
    for _ in range(200):
        idx = rng.integers(0, n, n)
        boot.append(score(metric, y[idx], prediction[idx], 2))
    assert metric_se(metric, y, prediction, 2) == pytest.approx(np.std(boot, ddof=1), rel=0.25)


def test_thresholds_validate_names_and_order():
    assert Thresholds.coerce({"psi_warn": 0.2}).psi_warn == 0.2
    with pytest.raises(ValueError, match="Did you mean 'psi_warn'"):
        Thresholds.coerce({"psi_wrn": 0.2})
    with pytest.raises(ValueError, match="must not exceed psi_alert"):
        Thresholds(psi_warn=0.5, psi_alert=0.2)
    with pytest.raises(ValueError, match="alpha must be in"):
        Thresholds(alpha=1.5)
    with pytest.raises(TypeError, match="thresholds must be"):
        Thresholds.coerce(0.1)
