"""``nbautoml predict`` and ``nbautoml monitor``: a saved model used from the command line
(batch scoring, and a monitoring job whose exit status says whether the batch drifted)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import nbautoml
from nbautoml.batch import prediction_table
from nbautoml.cli import main
from nbautoml.exceptions import ConfigError


@pytest.fixture()
def batches(fitted, tmp_path):
    """titanic rows as a user has them (target column included): as seen in training, and shifted."""
    frame = fitted("titanic").frame
    frame.iloc[:200].to_csv(tmp_path / "new.csv", index=False)
    shifted = frame.iloc[200:500].copy()
    shifted["Age"] += 25  # the passengers are 25 years older and pay three times the fare
    shifted["Fare"] *= 3
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    return tmp_path / "new.csv", tmp_path / "shifted.csv"


def test_predict_writes_kept_columns_labels_and_probabilities(titanic_artifact, batches, tmp_path, capsys):
    path, _ = titanic_artifact
    new, _ = batches
    model, rows = nbautoml.load(path), pd.read_csv(new)
    assert main(["predict", str(path), str(new), "--keep", "PassengerId,Name", "--proba"]) == 0
    printed = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(printed.columns) == ["PassengerId", "Name", "predicted Survived", "probability 0", "probability 1"]
    assert printed["PassengerId"].tolist() == rows["PassengerId"].tolist()
    assert (printed["predicted Survived"].to_numpy() == model.predict(rows)).all()
    np.testing.assert_allclose(printed[["probability 0", "probability 1"]], model.predict_proba(rows), atol=1e-12)

    for name, read in [("p.parquet", pd.read_parquet), ("p.jsonl", lambda p: pd.read_json(p, lines=True)),
                       ("sub/p.csv", pd.read_csv)]:
        assert main(["predict", str(path), str(new), "--keep", "PassengerId", "--out", str(tmp_path / name)]) == 0
        assert f"Wrote 200 predictions to {tmp_path / name}" in capsys.readouterr().err
        written = read(tmp_path / name)
        assert written["predicted Survived"].tolist() == model.predict(rows).tolist(), name
        assert written["PassengerId"].tolist() == rows["PassengerId"].tolist()


def test_predict_refuses_a_bad_out_before_loading_and_names_a_misspelled_column(titanic_artifact, batches,
                                                                                tmp_path, capsys):
    path, _ = titanic_artifact
    new, _ = batches
    # the model path does not exist: the --out suffix is refused first, in one line
    assert main(["predict", str(tmp_path / "none.nbautoml"), str(new), "--out", str(tmp_path / "p.xlsx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give a file ending in .csv, .parquet, .jsonl" in err
    assert main(["predict", str(path), str(new), "--keep", "PassengerID", "--out", str(tmp_path / "p.csv")]) == 2
    err = capsys.readouterr().err
    assert "No column 'PassengerID' to keep" in err and "Did you mean 'PassengerId'?" in err and "Columns: " in err
    assert not (tmp_path / "p.csv").exists()
    pd.read_csv(new).drop(columns=["Age"]).to_csv(tmp_path / "short.csv", index=False)
    assert main(["predict", str(path), str(tmp_path / "short.csv")]) == 2
    assert "lacks 1 column the model needs: Age" in capsys.readouterr().err


def test_probabilities_of_a_regression_model_are_refused(fitted):
    house = fitted("house")
    table = prediction_table(house.result, house.X.head(5), keep=["Id"])
    assert list(table.columns) == ["Id", "predicted SalePrice"] and table["predicted SalePrice"].between(1e4, 1e6).all()
    with pytest.raises(ConfigError, match="regression model.*drop --proba"):
        prediction_table(house.result, house.X.head(5), proba=True)


def test_monitor_exit_status_says_whether_the_batch_drifted(titanic_artifact, batches, capsys):
    path, _ = titanic_artifact
    new, shifted = batches
    assert main(["monitor", str(path), str(new)]) == 0  # a warning does not fail the job (--fail-on alert)
    printed = capsys.readouterr().out
    # new.csv holds training rows (the model saw all of titanic): named as such, scored in-sample
    assert printed.startswith("MonitorReport: WARN for titanic: 200 rows") and "roc_auc" in printed
    assert "[warn] (rows) training_rows: 100% of the batch's rows are rows the model was trained on" in printed
    assert main(["monitor", str(path), str(shifted)]) == 1
    printed = capsys.readouterr().out
    assert "ALERT for titanic: 300 rows" in printed
    assert "[alert] Age drift" in printed and "[alert] Fare drift" in printed
    assert main(["monitor", str(path), str(shifted), "--fail-on", "never"]) == 0
    assert nbautoml.monitor.history("titanic")["status"].tolist() == ["warn", "alert", "alert"]
    capsys.readouterr()
    assert main(["monitor", str(path), "--history"]) == 0  # what a scheduled job has seen so far
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "Monitoring history of 'titanic' (3 batches, oldest first):"
    assert [line.split()[5] for line in printed[2:]] == ["warn", "alert", "alert"]  # the status column
    assert main(["monitor", str(path)]) == 2
    assert "or --history for the batches checked so far" in capsys.readouterr().err

    # JSON for a program; a batch left out of the history; thresholds raised past the shift
    assert main(["monitor", str(path), str(shifted), "--json", "--no-history", "--fail-on", "warn",
                 "--threshold", "psi_alert=100", "--threshold", "wasserstein_alert=100"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["n_rows"] == 300 and report["metric"] == "roc_auc" and 0.5 < report["metric_value"] <= 1
    drift = {f["feature"]: f["severity"] for f in report["findings"] if f["check"] == "drift"}
    assert drift["Age"] != "alert" and drift["Fare"] != "alert"
    assert report["history_id"] is None and len(nbautoml.monitor.history("titanic")) == 3
    assert report["anomalies"] > 10 and report["status"] in ("warn", "alert")


def test_monitor_bad_options_are_one_line_errors(titanic_artifact, batches, capsys):
    path, _ = titanic_artifact
    new, _ = batches
    assert main(["monitor", str(path), str(new), "--labels", "survived"]) == 2
    assert "Did you mean 'Survived'?" in capsys.readouterr().err
    assert main(["monitor", str(path), str(new), "--threshold", "psi=3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Unknown threshold 'psi'" in err and "psi_warn" in err
    with pytest.raises(SystemExit) as info:
        main(["monitor", str(path), str(new), "--threshold", "psi_warn"])
    assert info.value.code == 2 and "expected KEY=VALUE such as psi_warn=0.2" in capsys.readouterr().err
