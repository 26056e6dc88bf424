"""The parts of the loop, without a search: metrics, bootstrap, decision rule, data split, policies,
the registry's conditional stage change, and the card's top configurations."""

from __future__ import annotations

import re
import sqlite3
import warnings

import numpy as np
import pandas as pd
import pytest

import nbautoml
from nbautoml.engine.metrics import METRICS, score
from nbautoml.exceptions import ConfigError, DataError
from nbautoml.policy import RetrainPolicy, get_policy, set_policy
from nbautoml.registry import Registry, RegistryError
from nbautoml.retrain import decide, paired_bootstrap, resampled_scores, split_data

from .conftest import shift


def _case(metric, task, rng, n=150):
    k = {"binary": 2, "multiclass": 3}.get(task, 0)
    if task == "regression":
        y = rng.normal(size=n) + (5 if metric.name == "mape" else 0)
        return y, y + rng.normal(size=n), None
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), y] += 0.3
    proba /= proba.sum(axis=1, keepdims=True)
    if metric.needs == "label":
        return y, np.where(rng.random(n) < 0.7, y, rng.integers(0, k, n)), k
    return y, proba, k


@pytest.mark.parametrize("name,task", [(m.name, t) for m in METRICS.values() for t in m.tasks])
def test_vectorised_resampled_scores_equal_the_engine_scores(name, task):
    metric = METRICS[name]
    rng = np.random.default_rng(len(name))
    y, prediction, k = _case(metric, task, rng)
    idx = rng.integers(0, len(y), size=(12, len(y)))
    idx[0] = np.flatnonzero(y == y[0])[:1].repeat(len(y))  # one resample of a single row: degenerate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.array([score(metric, y[i], prediction[i], k) for i in idx])
    np.testing.assert_allclose(resampled_scores(metric, y, prediction, idx, k), expected, atol=1e-9)


def test_resampled_average_precision_counts_tied_scores_as_one_cut():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    scores = np.round(np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1), 1)  # 11 distinct values
    idx = rng.integers(0, 200, size=(20, 200))
    expected = [score(METRICS["average_precision"], y[i], scores[i]) for i in idx]
    np.testing.assert_allclose(resampled_scores(METRICS["average_precision"], y, scores, idx), expected,
                               atol=1e-12)


def test_paired_bootstrap_separates_a_better_model_from_an_equal_one():
    metric = METRICS["roc_auc"]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    weak = y * 0.3 + rng.random(300)
    strong = y * 1.5 + rng.random(300)
    better = paired_bootstrap(metric, y, weak, strong, 2, n_resamples=1000)
    assert better["difference"] > 0.2 and better["p_better"] < 0.005 and better["ci_low"] > 0
    same = paired_bootstrap(metric, y, weak, weak, 2, n_resamples=1000)
    assert same["difference"] == 0 and same["p_better"] == 1.0
    close, far = y + rng.normal(0, 0.1, 300), y + rng.normal(0, 1.0, 300)
    rmse = paired_bootstrap(METRICS["rmse"], y * 1.0, close, far, None, n_resamples=1000)
    assert rmse["challenger"] > rmse["champion"] and rmse["difference"] < 0  # lower is better
    assert rmse["p_worse"] < 0.005 and rmse["p_better"] > 0.99


def _comparison(diff, p_better, p_worse):
    return {"champion": 0.80, "challenger": 0.80 + diff, "difference": diff, "ci_low": diff - 0.02,
            "ci_high": diff + 0.02, "p_better": p_better, "p_worse": p_worse}


@pytest.mark.parametrize("comparison,champion,challenger,promote,start", [
    (_comparison(0.05, 0.001, 0.999), "ok", "ok", True, "significantly better"),
    (_comparison(0.01, 0.20, 0.80), "ok", "ok", False, "not significantly better"),
    (_comparison(0.01, 0.20, 0.80), "alert", "warn", True, "the champion fails monitoring"),
    (_comparison(-0.01, 0.80, 0.20), "alert", "ok", True, "the champion fails monitoring"),
    (_comparison(-0.05, 0.999, 0.001), "alert", "ok", False, r"the champion fails monitoring \(.*\), but the challenger is significantly worse"),
    (_comparison(0.01, 0.20, 0.80), "alert", "alert", False, "not significantly better"),
    (_comparison(-0.05, 0.999, 0.001), "ok", "ok", False, "the challenger is significantly worse"),
    (_comparison(np.nan, np.nan, np.nan), "alert", "ok", False, "the models could not be compared"),
])
def test_decision_rule(comparison, champion, challenger, promote, start):
    promoted, reason = decide(comparison, champion, challenger, 0.05, "roc_auc", 300,
                              ["performance of (labels)"])
    assert promoted is promote
    assert re.match(start, reason), reason


def test_split_data_modes_hold_out_the_newest_rows():
    old = pd.DataFrame({"x": range(100), "y": [0, 1] * 50})
    new = pd.DataFrame({"x": range(100, 200), "y": [0, 1] * 50})
    new.loc[5, "y"] = np.nan  # unlabelled rows are left out
    train, held, window = split_data(new, old, "y", "new", None, 0.3)
    assert held["x"].tolist() == list(range(170, 200)) and len(train) == 69 and window is None
    train, held, _ = split_data(new, old, "y", "old+new", None, 0.3)
    assert train["x"].iloc[0] == 0 and len(train) == 169
    train, held, window = split_data(new, old, "y", "window", 80, 0.3)
    assert window == 80 and train["x"].tolist()[-1] == 169 and len(train) == 80
    assert train["x"].tolist()[:12] == [*range(89, 100), 100]  # the 11 newest old rows, then the new
    with pytest.raises(ConfigError, match="needs old_data"):
        split_data(new, None, "y", "old+new", None, 0.3)
    with pytest.raises(DataError, match="at least 30 are needed"):
        split_data(new.head(50), None, "y", "new", None, 0.3)
    with pytest.raises(DataError, match="no target column 'Y'"):
        split_data(new, None, "Y", "new", None, 0.3)


def test_policy_values_are_checked():
    assert RetrainPolicy.coerce({"every": 3}).every == 3
    with pytest.raises(ConfigError, match="Unknown policy field 'evry'.*'every'"):
        RetrainPolicy.coerce({"evry": 3})
    with pytest.raises(ConfigError, match="holdout must be in"):
        RetrainPolicy(holdout=1.5)
    with pytest.raises(ConfigError, match="Unknown data 'old'"):
        RetrainPolicy(data="old")
    assert RetrainPolicy(metric_threshold=0.9, every=5).describe().startswith(
        "retrain on a monitoring alert or the metric worse than 0.9 or every 5 monitored batches")


def test_policy_is_stored_with_the_model_append_only(period):
    reg = Registry()
    with pytest.raises(RegistryError, match="No model named"):
        set_policy("employee", RetrainPolicy())
    assert get_policy("employee") is None
    reg.register(period.result, "employee", stage="production", reason="first")
    assert get_policy("employee") is None
    set_policy("employee", {"every": 4, "time_budget": 20}, reason="weekly")
    set_policy("employee", RetrainPolicy(metric_threshold=0.95), reason="stricter")
    assert get_policy("employee") == RetrainPolicy(metric_threshold=0.95)
    changes = reg.policy_history("employee")
    assert changes["reason"].tolist() == ["weekly", "stricter"]
    assert changes["policy"].iloc[0]["every"] == 4
    with sqlite3.connect(reg.db_path) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE policies SET reason = 'rewritten'")


def test_monitor_recommends_by_policy_threshold_and_count(period):
    Registry().register(period.result, "employee", stage="production", reason="first")
    good, shifted = period.batch(0), period.batch(1, shifted=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = nbautoml.monitor("employee", good, policy={"on_alert": False, "metric_threshold": 0.95})
        assert report.action == "none" and "meets the threshold 0.95" in report.recommendation
        report = nbautoml.monitor("employee", shifted, policy={"on_alert": False, "metric_threshold": 0.95})
        assert report.action == "retrain" and "below the threshold 0.95" in report.recommendation
        assert "action: retrain" in repr(report) and "Recommended action" in report._repr_html_()
        unlabelled = good.drop(columns=[period.target])
        report = nbautoml.monitor("employee", unlabelled, policy="registry")  # none stored: default
        assert report.action == "none" and report.policy == RetrainPolicy().to_dict()
        assert any("no retraining policy stored" in n for n in report.notes)
        # every 2 batches of this version: 3 batches are already in the history
        counts = [nbautoml.monitor("employee", unlabelled, policy={"every": 2}).action for _ in range(2)]
        assert counts == ["retrain", "none"]
        report = nbautoml.monitor("employee", unlabelled, history=False, policy={"every": 3})
        assert report.action == "retrain"  # not recorded, but counted: the 6th batch
        assert "batch 6 of this version" in report.recommendation
        with pytest.raises(ValueError, match="policy='latest'"):
            nbautoml.monitor("employee", unlabelled, history=False, policy="latest")


def test_conditional_stage_change_refuses_a_moved_stage(period):
    reg = Registry()
    reg.register(period.result, "employee", stage="production", reason="first")
    reg.register(period.result, "employee")
    with pytest.raises(RegistryError, match="now version 1, not 2") as info:
        reg.set_stage("employee", 2, "production", reason="x", expected=2)
    assert info.value.code == "stage_moved"
    assert reg.history("employee")["version"].tolist() == [1]
    reg.set_stage("employee", 2, "production", reason="checked", expected=1)
    reg.set_stage("employee", 1, "staging", reason="first staging", expected=None)
    assert reg.history("employee")["version"].tolist() == [1, 2, 1]


def test_card_keeps_the_top_configurations(period):
    path = nbautoml.save(period.result, "model")
    card = nbautoml.read_card(path)
    top = card["model"]["top_configs"]
    ok = [t for t in period.result.trials_ if t.status == "ok"]
    assert len(top) == min(5, len(ok)) and top[0] == card["model"]["config"]
    scores = {repr(t.config): t.score for t in ok}
    assert [scores[repr(c)] for c in top] == sorted(scores.values(), reverse=True)[:len(top)]
    assert nbautoml.load(path).top_configs_ == top


def test_promote_needs_a_version_and_records_a_reason(period):
    reg = Registry()
    reg.register(period.result, "employee")
    with pytest.raises(ConfigError, match="needs a version: employee@VERSION"):
        nbautoml.promote("employee")
    assert nbautoml.promote("employee@1").stages == ("production",)
    assert reg.history("employee")["reason"].tolist() == [
        "promote: v1 (was none): manual promotion (no reason given)"]


def test_shift_changes_only_the_target(period):
    batch = period.batch(0)
    moved = shift(batch, period.target)
    features = [c for c in batch.columns if c != period.target]
    pd.testing.assert_frame_equal(batch[features], moved[features])
    region = batch["satisfaction_level"] < 0.5
    assert (moved.loc[region, period.target] != batch.loc[region, period.target]).all()
    assert (moved.loc[~region, period.target] == batch.loc[~region, period.target]).all()
