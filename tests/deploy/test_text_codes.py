"""Codes such as "01" that a model was trained on as text are read as text wherever nbautoml
reads a file or a CSV body for that model (``schema.text_columns``): a batch whose codes all look
like numbers would otherwise hold the numbers 1 and 2, categories the model never saw."""

from __future__ import annotations

import importlib.util
import io
import warnings

import numpy as np
import pandas as pd
import pytest

import nbautoml
from nbautoml.batch import predict_file
from nbautoml.cli import main
from nbautoml.engine.reading import read_table_chunks
from nbautoml.schema import text_columns


@pytest.fixture(scope="module")
def ports(fitted, tmp_path_factory):
    """A titanic model with a port code ("01", "02" or "A3") saved, and a batch of the first
    200 rows with the "01"/"02" codes only, sorted so the first chunks hold "01" alone."""
    tmp = tmp_path_factory.mktemp("ports")
    frame = fitted("titanic").frame.copy()
    frame["Port"] = frame["Embarked"].map({"S": "01", "C": "02", "Q": "A3"})
    frame = frame.sort_values("Port", na_position="last", kind="stable").reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = nbautoml.AutoML(max_evals=1, models=["logistic_regression"], cv=3, seed=0,
                                 search_dir=tmp / "runs").fit(frame, target="Survived")
    path = nbautoml.save(result, tmp / "ports")
    batch = frame[frame["Port"].isin(["01", "02"])].head(200)
    batch.to_csv(tmp / "batch.csv", index=False)
    frame.to_csv(tmp / "all.csv", index=False)
    return path, frame, batch, tmp


def test_the_models_text_columns_are_its_training_text_columns(ports):
    path, *_ = ports
    model = nbautoml.load(path)
    assert "Port" in text_columns(model.schema_) and "Sex" in text_columns(model.schema_)
    assert "Pclass" not in text_columns(model.schema_)  # a category trained as the integer 3 stays 3
    assert "Age" not in text_columns(model.schema_)


def test_predicting_a_file_in_chunks(ports):
    path, frame, _, tmp = ports
    model = nbautoml.load(path)
    first = next(read_table_chunks(tmp / "all.csv", 100))
    assert first["Port"].tolist()[:3] == [1, 1, 1]  # what pandas makes of the first chunk alone
    out = io.StringIO()
    run = predict_file(model, tmp / "all.csv", proba=True, chunk_rows=100, stream=out)
    assert run.chunks == 9
    printed = pd.read_csv(io.StringIO(out.getvalue()))
    np.testing.assert_allclose(printed[["probability 0", "probability 1"]], model.predict_proba(frame),
                               atol=1e-12)


def test_monitoring_a_file_finds_no_unseen_codes(ports, capsys):
    path, _, batch, tmp = ports
    model = nbautoml.load(path)
    report = nbautoml.monitor(model, tmp / "batch.csv", history=False)
    assert "Port" not in set(report.findings.query("check == 'unseen_category'")["feature"])
    assert report.status == nbautoml.monitor(model, batch, history=False).status
    assert main(["monitor", str(path), str(tmp / "batch.csv"), "--json", "--no-history"]) in (0, 1)
    printed = capsys.readouterr().out
    assert "never seen in training" not in printed


@pytest.mark.skipif(importlib.util.find_spec("fastapi") is None, reason="serving needs the 'serve' extra")
def test_a_csv_body_reads_the_codes_as_text(ports):
    import httpx

    from nbautoml.serve import create_app
    from tests.deploy.helpers import ServerThread

    path, _, batch, _ = ports
    model = nbautoml.load(path)
    X = batch.drop(columns=["Survived"]).head(20)
    with ServerThread(create_app(model)) as url, httpx.Client(base_url=url, timeout=30) as client:
        answer = client.post("/predict", content=X.to_csv(index=False), headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    np.testing.assert_allclose(answer.json()["probabilities"], model.predict_proba(X), atol=1e-12)


def _shell():
    """IPython's shell (a singleton) as ``tests/magics`` makes it: without a history database."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    return InteractiveShell.instance(config=config)


def test_the_magics_read_a_file_for_a_model_the_same_way(ports, capsys):
    from tests.magics.conftest import fresh

    path, _, batch, tmp = ports
    ip = fresh(_shell())
    ip.run_line_magic("automl_load", f"{path} --name ports_model")
    model = ip.user_ns["ports_model"]
    proba = ip.run_line_magic("automl_predict", f"ports_model {tmp / 'batch.csv'} --proba")
    np.testing.assert_allclose(proba.to_numpy(), model.predict_proba(batch), atol=1e-12)
    ip.run_line_magic("automl_monitor", f"ports_model {tmp / 'batch.csv'} --out report")
    report = ip.user_ns["report"]
    assert "Port" not in set(report.findings.query("check == 'unseen_category'")["feature"])
    ip.reset(new_session=False)


def test_retraining_reads_a_file_with_the_champions_text_columns(ports):
    """``%automl_retrain NAME DATA`` reads DATA before the champion is loaded: the text columns
    come from the card of NAME@production in the registry."""
    import types

    from nbautoml.magics import retraining

    path, _, _, tmp = ports
    nbautoml.save(nbautoml.load(path), "registry:ports", stage="production")
    schema = retraining._production_schema("ports")
    assert "Port" in text_columns(schema)
    magics = types.SimpleNamespace(shell=_shell())
    batch = retraining._frames(magics, [str(tmp / "batch.csv")], "DATA", schema)
    assert set(batch["Port"]) == {"01"}  # the 200 rows hold "01" only: read as the number 1 before
    assert retraining._production_schema("nothing") is None
