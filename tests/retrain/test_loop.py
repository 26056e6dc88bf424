"""The whole loop on real data: monitor -> retrain -> compare -> promote (or not) -> roll back.

Figures are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import nbautoml
from nbautoml.engine.automl import normalize_config
from nbautoml.policy import RetrainPolicy, set_policy
from nbautoml.registry import Registry, RegistryError

NAME = "employee"
REPO = Path(__file__).resolve().parents[2]


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _production_events(reg: Registry, name: str = NAME):
    history = reg.history(name)
    return history[history["stage"] == "production"].reset_index(drop=True)


@pytest.fixture(scope="module")
def shift_loop(period, tmp_path_factory):
    """Monitor four batches (a concept shift from the third on) under a stored policy; act on it."""
    home = tmp_path_factory.mktemp("shift_home")
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mp.setenv("NBAUTOML_HOME", str(home))
        reg = Registry()
        reg.register(period.result, NAME, stage="production", reason="first model, trained on period 1")
        v1 = reg.get(f"{NAME}@1")
        set_policy(NAME, RetrainPolicy(on_alert=True, time_budget=40, max_evals=3), reason="test policy")
        reports, results = [], []
        for i in range(4):
            batch = period.batch(i, shifted=i >= 2)
            report = nbautoml.monitor(reg.load(f"{NAME}@production"), batch, policy="registry")
            reports.append(report)
            if report.action == "retrain":
                results.append(nbautoml.retrain(NAME, batch))
    return SimpleNamespace(home=home, reports=reports, results=results, v1_sha=v1.sha256,
                           v1_file_sha=_sha(v1.path))


def test_concept_shift_is_detected_retrained_and_promoted(shift_loop, period):
    reports, results = shift_loop.reports, shift_loop.results
    print("\n" + "\n".join(f"batch {i}: {r.status}, {r.metric} {r.metric_value:.4f}, {r.action} "
                           f"({r.recommendation})" for i, r in enumerate(reports)))
    assert [r.action for r in reports[:2]] == ["none", "none"]
    assert reports[2].status == "alert" and reports[2].action == "retrain"
    assert "performance" in reports[2].recommendation
    assert len(results) == 1, "the promoted model must not need another retrain on the next batch"
    assert reports[3].action == "none" and reports[3].version == "2"
    result = results[0]
    print(repr(result))
    assert result.promoted and result.decision == "promoted"
    assert result.champion_version == 1 and result.challenger_version == 2
    assert result.p_value < 0.01 and result.difference > 0.1
    assert result.champion_status == "alert" and result.challenger_status != "alert"
    assert result.data == "window" and result.n_holdout == 300 and result.n_train == 700

    reg = Registry(shift_loop.home)
    events = _production_events(reg)
    assert events["version"].tolist() == [1, 2]
    assert events["previous_version"].iloc[1] == 1
    assert events["reason"].iloc[1].startswith("retrain: promoted v2 over v1: significantly better")
    facts = reg.card(f"{NAME}@2")["retrain"]
    assert facts["champion_version"] == 1 and facts["p_value"] == result.p_value
    assert facts["policy"]["max_evals"] == 3  # the stored policy was used

    later = period.later(shifted=True)  # post-shift rows no model saw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = reg.load(f"{NAME}@1").score(later)
        new = reg.load(f"{NAME}@production").score(later)
    print(f"post-shift roc_auc on {len(later)} later rows: champion v1 {old:.4f}, promoted v2 {new:.4f}")
    assert new > old + 0.1


def test_challenger_search_starts_from_the_champions_top_configs(shift_loop, period):
    challenger = shift_loop.results[0].challenger
    card = Registry(shift_loop.home).card(f"{NAME}@1")
    top = card["model"]["top_configs"]
    assert len(top) == 3 and top[0] == card["model"]["config"]
    first = [t.config for t in sorted(challenger.trials_, key=lambda t: t.trial_id)[:len(top)]]
    assert first == [normalize_config(c) for c in top]


def test_result_shows_scores_p_value_decision_and_reason(shift_loop):
    result = shift_loop.results[0]
    page = result._repr_html_()
    for text in ("PROMOTED", f"{result.champion_score:.4f}", f"{result.challenger_score:.4f}",
                 "p &lt; 0.001", "significantly better", "rows (data=&#x27;window&#x27; of up to 3,000 rows, the default)"):
        assert text in page, text
    assert "production: v2" in repr(result)


def test_iid_batches_are_not_promoted(period):
    reg = Registry()
    reg.register(period.result, NAME, stage="production", reason="first model")
    policy = RetrainPolicy(every=2, time_budget=40, max_evals=3)  # retrain every 2 batches, alert or not
    batches = [period.batch(4).assign(batch_id=4), period.batch(5).assign(batch_id=5)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reports = [nbautoml.monitor(f"{NAME}@production", b, policy=policy) for b in batches]
        assert [r.action for r in reports] == ["none", "retrain"], [r.recommendation for r in reports]
        assert all(r.status != "alert" for r in reports)
        result = nbautoml.retrain(NAME, batches, policy=policy)
    print("\n" + repr(result))
    assert not result.promoted and result.decision == "kept"
    assert list(result.challenger.feature_names_in_) == list(period.result.feature_names_in_)
    assert result.p_value >= 0.05 and result.champion_status != "alert"
    assert reg.get(f"{NAME}@production").version == 1
    assert _production_events(reg)["version"].tolist() == [1]
    history = reg.history(NAME)
    last = history.iloc[-1]
    assert last["stage"] == "challenger" and last["version"] == 2
    assert last["reason"].startswith("retrain: kept v1: not significantly better")


_WORKER = """
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
import nbautoml
ready = os.path.join(sys.argv[2], "ready-%d" % os.getpid())
open(ready, "w").close()
deadline = time.time() + 60
while len([f for f in os.listdir(sys.argv[2]) if f.startswith("ready-")]) < 2 and time.time() < deadline:
    time.sleep(0.05)
result = nbautoml.retrain("employee", pd.read_csv(sys.argv[1]), data="new", time_budget=40, max_evals=2,
                          models=["decision_tree"])
print(json.dumps({"version": result.challenger_version, "decision": result.decision,
                  "champion": result.champion_version, "reason": result.reason}))
"""


@pytest.mark.slow
def test_two_processes_retraining_at_once_leave_one_production_version(period, tmp_path):
    reg = Registry()
    reg.register(period.result, NAME, stage="production", reason="first model")
    data = tmp_path / "batch.csv"
    period.batch(6, shifted=True).head(500).to_csv(data, index=False)  # both challengers qualify
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(data), str(barrier)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in procs]
    for p, (_out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    runs = sorted((json.loads(out.strip().splitlines()[-1]) for out, _ in outputs),
                  key=lambda r: r["version"])
    print("\n" + "\n".join(json.dumps(r)[:300] for r in runs))

    assert reg.integrity_check() == "ok"
    versions = reg.versions(NAME)
    assert versions["version"].tolist() == [1, 2, 3]
    assert (versions["stages"].str.contains("production")).sum() == 1
    assert [r["champion"] for r in runs] == [1, 1]  # both compared with v1, at the same time
    assert sorted(r["decision"] for r in runs) == ["not promoted", "promoted"]
    winner = next(r for r in runs if r["decision"] == "promoted")
    loser = next(r for r in runs if r["decision"] == "not promoted")
    assert reg.get(f"{NAME}@production").version == winner["version"]
    events = _production_events(reg)
    assert events["version"].tolist() == [1, winner["version"]]
    for event in events.iloc[1:].itertuples():  # nobody promoted over a version it was not compared with
        assert reg.card(f"{NAME}@{event.version}")["retrain"]["champion_version"] == event.previous_version
    history = reg.history(NAME)
    note = history[(history["stage"] == "challenger") & (history["version"] == loser["version"])]
    assert len(note) == 1 and "production moved" in note["reason"].iloc[0]


def test_rollback_restores_the_previous_model_bit_for_bit(shift_loop, period, tmp_path):
    home = tmp_path / "copy"
    shutil.copytree(shift_loop.home, home)
    reg = Registry(home)
    assert reg.get(f"{NAME}@production").version == 2
    X = period.later().drop(columns=[period.target]).head(200)

    entry = nbautoml.rollback(NAME, "v2 misbehaves in production", registry=home)
    assert entry.version == 1 and "production" in entry.stages
    assert entry.sha256 == shift_loop.v1_sha and _sha(entry.path) == shift_loop.v1_file_sha
    model = reg.load(f"{NAME}@production")
    assert model.sha256_ == shift_loop.v1_sha
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(model.predict_proba(X), period.result.predict_proba(X))
    last = _production_events(reg).iloc[-1]
    assert (last["version"], last["previous_version"]) == (1, 2)
    assert last["reason"] == "rollback: v2 -> v1: v2 misbehaves in production"

    with pytest.raises(RegistryError, match="no earlier production version"):
        nbautoml.rollback(NAME, registry=home)
    nbautoml.promote(f"{NAME}@2", "fixed upstream data", registry=home)
    assert reg.get(f"{NAME}@production").version == 2
    assert nbautoml.rollback(NAME, registry=home).version == 1
    assert _production_events(reg)["version"].tolist() == [1, 2, 1, 2, 1]
    assert all(_production_events(reg)["reason"].str.len() > 0)


def test_retrain_is_callable_however_it_was_imported():
    import nbautoml.retrain  # noqa: F401  (binds the name to the function again, via __getattr__)

    module = sys.modules["nbautoml.retrain"]
    assert callable(module) and callable(nbautoml.retrain)
    with pytest.raises(RegistryError, match="No model named 'nope'"):
        module("nope", None)


def test_the_challenger_keeps_the_champions_decision_threshold_setting(period, tmp_path):
    """A champion searched with decision_threshold=0.3 (a cost ratio, say) is challenged by a model
    cut at 0.3 too, not at whatever "auto" would choose."""
    from nbautoml import AutoML

    reg = Registry()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        champion = AutoML(max_evals=2, time_budget=None, models=["decision_tree"], seed=0, decision_threshold=0.3,
                          search_dir=tmp_path).fit(period.frame.iloc[:3000], target=period.target)
        reg.register(champion, "cut", stage="production", reason="first model")
        assert reg.load("cut@production").card["search"]["decision_threshold"] == 0.3
        result = nbautoml.retrain("cut", period.batch(0), data="new", time_budget=None, max_evals=2,
                                  models=["decision_tree"], search_dir=tmp_path)
    assert result.challenger.decision_threshold == 0.3 and result.challenger.decision_threshold_ == 0.3
