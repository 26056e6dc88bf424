"""A model scored on labels (accuracy) is monitored on the class codes it predicts."""

import numpy as np

import nbautoml
from nbautoml import AutoML
from tests.conftest import load_dataset


def test_prediction_drift_fires_for_a_label_metric_model(datasets_dir):
    df, target, _ = load_dataset("employee", rows=6000, seed=1)
    ref, batch = df.iloc[:5000], df.iloc[5000:5500].drop(columns=[target])
    result = AutoML(metric="accuracy", max_evals=2, time_budget=None,
                    models=["decision_tree"]).fit(ref, target=target)
    profile = result.reference_profile_.prediction
    assert profile["kind"] == "label"
    assert set(np.asarray(profile["sketch"]["values"], dtype=float)) <= {0.0, 1.0}
    assert nbautoml.monitor(result, batch, history=False).status == "ok"
    shifted = batch.assign(satisfaction_level=0.05)
    findings = nbautoml.monitor(result, shifted, history=False).findings
    drift = findings[findings["check"] == "prediction_drift"]
    assert (drift["severity"] != "ok").all() and len(drift) == 1
