"""The HTTP API: a real uvicorn server on loopback, good and bad requests, the CLI, write_api."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

import nbautoml
from nbautoml.persist import IntegrityError
from tests.deploy.helpers import ServerThread, free_port

pytest.importorskip("fastapi", reason="serving needs the 'serve' extra (fastapi, uvicorn)")
pytest.importorskip("uvicorn", reason="serving needs the 'serve' extra (fastapi, uvicorn)")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api(titanic_artifact):
    from nbautoml.serve import create_app

    model = nbautoml.load(titanic_artifact[0])
    with ServerThread(create_app(model, max_body_bytes=100_000, max_records=500)) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client, model


def _records(fitted, n=5):
    X = fitted("titanic").X.head(n)
    return X, X.astype(object).where(X.notna(), None).to_dict("records")


def test_predict_returns_predictions_probabilities_and_classes(api, fitted):
    client, model = api
    X, records = _records(fitted)
    answer = client.post("/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == model.predict(X).tolist()
    np.testing.assert_allclose(body["probabilities"], model.predict_proba(X), rtol=1e-12)
    assert body["classes"] == [0, 1] and body["warnings"] == []
    extra = client.post("/predict", json={"records": [dict(records[0], Comment="vip", Sex="other")]}).json()
    assert any("Comment" in w for w in extra["warnings"]) and any("Sex" in w for w in extra["warnings"])


def test_the_columns_apart_and_mlflows_shapes_give_the_same_answer(api, fitted):
    """pandas' to_json(orient="split") and MLflow's dataframe_split / dataframe_records bodies."""
    client, model = api
    X, records = _records(fitted)
    expected = client.post("/predict", json={"records": records}).json()
    split = json.loads(X.to_json(orient="split"))
    assert set(split) == {"columns", "index", "data"}
    for body in (split, {"dataframe_split": split}, {"dataframe_records": records}):
        answer = client.post("/predict", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json() == expected
    assert expected["predictions"] == model.predict(X).tolist()
    # one record as a plain object, as model.predict(dict) takes it (it was a 422 bad_payload)
    for i, record in enumerate(records):
        answer = client.post("/predict", json=record)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected["predictions"][i:i + 1]
        assert answer.json()["probabilities"] == expected["probabilities"][i:i + 1]


def test_a_csv_body_gives_the_same_answer_and_bad_csv_is_named(api, fitted):
    client, _ = api
    X, records = _records(fitted)
    expected = client.post("/predict", json={"records": records}).json()
    csv = {"content-type": "text/csv; charset=utf-8"}
    answer = client.post("/predict", content=X.to_csv(index=False), headers=csv)
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected
    for content, status, code, words in [
        ("", 400, "invalid_csv", "not a UTF-8 CSV table with a header line"),
        (b"Pclass,Age\n\xff\xfe,1\n", 400, "invalid_csv", "not a UTF-8 CSV"),
        (X.head(0).to_csv(index=False), 422, "no_records", "The CSV body is empty; send at least one row"),
        ("Pclass,Age\n3,22\n", 422, "missing_columns", "Name"),
        ("Pclass\n" + "3\n" * 501, 413, "too_many_records", "501 rows in one request; the limit is 500"),
        (X.head(2).assign(Age=["22", "twenty"]).to_csv(index=False), 422, "bad_dtype", "Column 'Age' must be numeric"),
    ]:
        answer = client.post("/predict", content=content, headers=csv)
        assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
        assert words in answer.json()["message"]


@pytest.mark.parametrize("content,headers,status,code,words", [
    ('{"records": [{"Pclass": 1}]}', None, 422, "missing_columns", ["Name", "Age"]),
    ("not json", None, 400, "invalid_json", ["not valid JSON"]),
    ("[" * 5_000 + "]" * 5_000, None, 400, "invalid_json", ["nested too deeply"]),
    ('{"records": ' + "[" * 40_000 + "]" * 40_000 + "}", None, 400, "invalid_json", ["nested too deeply"]),
    ('{"records": {"a": 1}}', None, 422, "records_not_a_list", ["must be a list"]),
    ('[{"Pclass": 1}]', None, 422, "bad_payload", ['"records"']),
    # an object naming none of the model's columns is no record; one naming some lacks the others
    ('{"x": 1}', None, 422, "bad_payload", ['"records"', "or one record {column: value, ...}; got keys ['x']"]),
    ('{"Pclass": 1}', None, 422, "missing_columns", ["Name", "Age"]),
    ('{"Pclass": [1, 2]}', None, 422, "bad_value", ["'Pclass' must be a number, string, boolean or null"]),
    ('{"records": []}', None, 422, "no_records", ["empty"]),
    ('{"records": [7]}', None, 422, "record_not_an_object", ["records[0]"]),
    ('{"records": [{"Age": {"x": 1}}]}', None, 422, "bad_value", ["records[0]['Age']"]),
    ("Pclass=1", {"content-type": "text/plain"}, 415, "not_json", ["application/json"]),
    ('{"columns": ["Age"], "data": [[1, 2]]}', None, 422, "row_length", ["data[0] holds 2 values for 1"]),
    ('{"columns": "Age", "data": [[1]]}', None, 422, "bad_columns", ['"columns" must be a list']),
    ('{"columns": ["Age", "Age"], "data": [[1, 2]]}', None, 422, "duplicate_columns", ["['Age']"]),
    ('{"columns": ["Age"], "data": [1]}', None, 422, "row_not_a_list", ["data[0]"]),
    ('{"columns": ["Age"], "data": [[{"x": 1}]]}', None, 422, "bad_value", ["data[0][0] (column 'Age')"]),
    ('{"columns": ["Age"], "data": []}', None, 422, "no_records", ['"data" is empty']),
    ('{"columns": ["Age"]}', None, 422, "data_not_a_list", ['"data" must be a list of rows']),
    ('{"dataframe_split": [1]}', None, 422, "bad_payload", ['"dataframe_split" must be an object']),
    ('{"columns": ["Age"], "data": [' + ",".join(["[1]"] * 501) + "]}", None, 413, "too_many_records",
     ["501 rows", "limit is 500"]),
    ('{"records": [' + ",".join(["{}"] * 501) + "]}", None, 413, "too_many_records", ["limit is 500"]),
    ('{"records": [{"x": "' + "a" * 200_000 + '"}]}', None, 413, "body_too_large", ["100,000"]),
])
def test_bad_requests_get_a_4xx_naming_the_problem(api, content, headers, status, code, words):
    client, _ = api
    answer = client.post("/predict", content=content, headers=headers or {"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == code
    assert all(w in body["message"] for w in words), body["message"]
    assert "Traceback" not in answer.text


def test_wrong_types_are_named_and_the_server_stays_up(api, fitted):
    client, _ = api
    _, records = _records(fitted, 2)
    bad = client.post("/predict", json={"records": [dict(records[0], Age="twenty")]})
    assert bad.status_code == 422 and bad.json()["columns"] == ["Age"] and "twenty" in bad.json()["message"]
    coerced = client.post("/predict", json={"records": [dict(records[0], Age="22")]})
    assert coerced.status_code == 200 and "converted column 'Age'" in coerced.json()["warnings"][0]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(30):
            yield b" " * 10_000

    streamed = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert client.get("/health").json()["status"] == "ok"
    assert client.post("/predict", json={"records": records}).status_code == 200


@pytest.mark.parametrize("values,columns", [
    ({"Age": float("inf")}, ["Age"]),
    ({"Age": float("inf"), "Fare": float("-inf")}, ["Age", "Fare"]),
    ({"Fare": 1e308}, ["Fare"]),  # finite, but it overflows the float32 a tree model computes in
])
def test_infinite_or_too_large_numbers_are_a_422_naming_the_columns(api, fitted, values, columns):
    client, _ = api
    _, records = _records(fitted, 2)
    body = json.dumps({"records": [records[0], dict(records[1], **values)]})  # writes Infinity, -Infinity
    answer = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    reply = answer.json()
    assert reply["error"] == "value_out_of_range" and reply["columns"] == columns
    assert "infinite" in reply["message"] and "too large" in reply["message"]
    assert all(repr(c) in reply["message"] for c in columns)


def test_unknown_paths_and_methods_answer_in_the_error_shape(api):
    client, _ = api
    endpoints = "the endpoints are POST /predict, GET /health, GET /model"
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert "'/nope'" in missing.json()["message"] and endpoints in missing.json()["message"]
    wrong = client.put("/predict", json={})
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    assert "PUT /predict" in wrong.json()["message"] and endpoints in wrong.json()["message"]
    assert wrong.headers["allow"] == "POST"
    assert client.post("/health").json()["error"] == "method_not_allowed"


def test_a_body_nested_100_000_deep_is_invalid_json_not_a_server_fault(titanic_artifact):
    from nbautoml.serve import create_app

    with ServerThread(create_app(titanic_artifact[0])) as url, httpx.Client(base_url=url, timeout=60) as client:
        for body in ("[" * 100_000 + "]" * 100_000, '{"a": ' * 100_000 + "1" + "}" * 100_000):
            answer = client.post("/predict", content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 400, answer.text[:300]
            assert answer.json()["error"] == "invalid_json" and "nested too deeply" in answer.json()["message"]


def test_a_server_fault_is_a_json_500_without_traceback(api, fitted, monkeypatch):
    client, model = api
    _, records = _records(fitted, 1)

    def broken(X):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(model.best_pipeline_.steps[-1][1], "predict", broken)
    answer = client.post("/predict", json={"records": records})
    assert answer.status_code == 500 and answer.json()["error"] == "internal_error"
    assert "secret" not in answer.text and "Traceback" not in answer.text


def test_health_and_model_card(api, titanic_artifact):
    client, model = api
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["target"] == "Survived" and health["sha256"] == model.sha256_
    card = client.get("/model").json()
    assert card == nbautoml.read_card(titanic_artifact[0])


def test_cli_serve_from_the_registry(fitted, tmp_path):
    nbautoml.register(fitted("titanic").result, "titanic", stage="production")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen([sys.executable, "-m", "nbautoml", "serve", "titanic@production", "--port",
                                str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "nbautoml serve did not start"
                time.sleep(0.2)
        assert health["model"] == "titanic@1"
        _, records = _records(fitted, 3)
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json={"records": records}, timeout=30)
        assert answer.status_code == 200 and len(answer.json()["predictions"]) == 3
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert "Serving titanic@1" in process.stderr.read().decode()


def test_cli_serve_reports_a_missing_model(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "nbautoml", "serve", "nosuch@production"], cwd=tmp_path,
                          env=env, capture_output=True, timeout=120)
    assert done.returncode == 2
    assert b"No model named 'nosuch'" in done.stderr and b"Traceback" not in done.stderr


def test_cli_serve_refuses_an_address_it_cannot_listen_on(titanic_artifact, capsys):
    """A port beyond 65535 or one in use is a short error (it was uvicorn's traceback)."""
    import socket

    from nbautoml.cli import main

    with pytest.raises(SystemExit) as leaving:
        main(["serve", str(titanic_artifact[0]), "--port", "99999"])
    assert leaving.value.code == 2
    assert "argument --port: a TCP port is 1 to 65535; got 99999" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(titanic_artifact[0]), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"Cannot serve at 127.0.0.1:{port}: Address already in use. Give another --port" in err


def test_write_api_makes_a_standalone_app(titanic_artifact, fitted, tmp_path):
    directory = nbautoml.write_api(titanic_artifact[0], tmp_path / "api")
    assert sorted(p.name for p in directory.iterdir()) == ["app.py", "model.nbautoml", "requirements.txt"]
    assert (directory / "model.nbautoml").read_bytes() == titanic_artifact[1]
    requirements = (directory / "requirements.txt").read_text()
    card = nbautoml.read_card(directory / "model.nbautoml")
    assert f"scikit-learn=={card['environment']['scikit-learn']}" in requirements and "uvicorn" in requirements

    def import_app():
        spec = importlib.util.spec_from_file_location(f"generated_app_{time.monotonic_ns()}", directory / "app.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.app

    _, records = _records(fitted, 2)
    with ServerThread(import_app()) as url:
        answer = httpx.post(f"{url}/predict", json={"records": records}, timeout=30)
    assert answer.status_code == 200 and len(answer.json()["probabilities"]) == 2
    # a fitted AutoML works too, and a changed artifact is refused by the generated app
    other = nbautoml.write_api(fitted("titanic").result, tmp_path / "api2")
    (directory / "model.nbautoml").write_bytes((other / "model.nbautoml").read_bytes())
    with pytest.raises(IntegrityError, match="not the expected file"):
        import_app()
