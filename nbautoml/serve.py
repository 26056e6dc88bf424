"""Serve a model over HTTP (FastAPI + uvicorn; ``pip install 'nbautoml[serve]'``).

Endpoints:

``POST /predict``
    Body ``{"records": [{"column": value, ...}, ...]}``, or the columns apart:
    ``{"columns": [...], "data": [[value, ...], ...]}`` (pandas'
    ``to_json(orient="split")``); MLflow's ``{"dataframe_records": [...]}`` and
    ``{"dataframe_split": {"columns": [...], "data": [...]}}`` are read too; so is one
    record ``{"column": value, ...}`` (an object that names the model's columns), or a
    CSV table with its header line (``Content-Type: text/csv``). Answer
    ``{"predictions": [...], "probabilities": [[...], ...], "classes": [...], "warnings": [...]}``
    (``probabilities`` and ``classes`` for classifiers; probability columns in
    ``classes`` order). Bad requests get a 4xx JSON ``{"error": code,
    "message": text}`` naming the problem: 400 invalid JSON (or nested too
    deeply) or CSV, 413 body or record count too large, 415 neither JSON nor CSV, 422 wrong
    shape, missing column, a value of the wrong type, or an infinite or too
    large number (422 answers about columns also carry ``"columns": [...]``).
``GET /health``
    ``{"status": "ok", ...}``.
``GET /model``
    The model card.

Any other path answers 404 ``not_found`` and a wrong method 405
``method_not_allowed``, in the same ``{"error", "message"}`` shape.

Run it with ``nbautoml serve PATH_OR_NAME`` or in Python::

    import uvicorn
    uvicorn.run(create_app(nbautoml.load("model.nbautoml")), host="127.0.0.1", port=8000)
"""

import logging
import math
import time
from pathlib import Path
from typing import NamedTuple

from .exceptions import NbAutoMLError
from .words import counted

log = logging.getLogger("nbautoml.serve")

MAX_BODY_BYTES = 10 * 2**20
MAX_RECORDS = 10_000
# float32's largest value: scikit-learn's tree models cast their input to float32, so a larger number
# (or an infinite one) cannot be predicted
MAX_ABS_VALUE = 3.4028234663852886e38
_SCALARS = (str, int, float, bool, type(None))


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise NbAutoMLError(f"Serving needs {module}, which is not installed. Install it with: "
                            "pip install 'nbautoml[serve]' (or: pip install fastapi uvicorn).",
                            code="missing_dependency") from err


def _plain(values) -> list:
    """numpy output to JSON-able lists (NaN and inf become null)."""
    out = values.tolist() if hasattr(values, "tolist") else list(values)

    def fix(v):
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    return [fix(v) for v in out]


class _BadRequest(Exception):
    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


BODY_SHAPES = ('{"records": [{column: value, ...}, ...]}, {"columns": [column, ...], "data": '
               '[[value, ...], ...]} or one record {column: value, ...}')
SHAPE_KEYS = frozenset({"records", "columns", "data", "dataframe_records", "dataframe_split"})
"""The keys that say a JSON object is a body shape, not one record."""


def _records(payload, max_records: int, columns=()) -> list[dict]:
    """The records of a request body in any of the shapes the API reads (see the module doc).

    An object without the keys of a shape that names one of the model's input ``columns``
    is one record.
    """
    if isinstance(payload, dict) and not SHAPE_KEYS & payload.keys() and set(columns) & payload.keys():
        for key, value in payload.items():
            _check_value(value, repr(key), key)
        return [payload]
    if isinstance(payload, dict) and "records" not in payload:
        if "dataframe_records" in payload:  # MLflow's serving format
            payload = {"records": payload["dataframe_records"]}
        elif "dataframe_split" in payload:
            payload = payload["dataframe_split"]
            if not isinstance(payload, dict):
                raise _BadRequest(422, "bad_payload", '"dataframe_split" must be an object {"columns": [...], '
                                  f'"data": [[...], ...]}}; got a JSON {_json_type(payload)}.')
        if "columns" in payload or "data" in payload:
            return _split_records(payload, max_records)
    if not isinstance(payload, dict) or "records" not in payload:
        got = f"a JSON {_json_type(payload)}" if not isinstance(payload, dict) else f"keys {sorted(payload)[:5]}"
        raise _BadRequest(422, "bad_payload", f"The body must be a JSON object {BODY_SHAPES}; got {got}.")
    records = _items(payload, "records", max_records)
    for i, record in enumerate(records):
        for key, value in record.items():
            _check_value(value, f"records[{i}][{key!r}]", key)
    return records


def _split_records(payload: dict, max_records: int) -> list[dict]:
    """Records from ``{"columns": [...], "data": [[...], ...]}`` (an ``index`` is ignored)."""
    columns = payload.get("columns")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise _BadRequest(422, "bad_columns", f'"columns" must be a list of column names (strings) next to '
                          f'"data"; got {"nothing" if columns is None else "a JSON " + _json_type(columns)}.')
    if len(set(columns)) < len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise _BadRequest(422, "duplicate_columns", f'"columns" names {twice} more than once.', columns=twice)
    data = _items(payload, "data", max_records)
    for i, row in enumerate(data):
        if len(row) != len(columns):
            raise _BadRequest(422, "row_length", f"data[{i}] holds {len(row)} values for {len(columns)} "
                              f'columns; give one value per column (null for a missing one).')
        for j, value in enumerate(row):
            _check_value(value, f"data[{i}][{j}] (column {columns[j]!r})", columns[j])
    return [dict(zip(columns, row)) for row in data]


class _ListShape(NamedTuple):
    """What one list of a request body holds, and the error codes when it does not."""

    holds: str  # the list's items, in its error message
    code: str  # the error code when it is no list
    item: str  # one item, in counts ("501 rows")
    must_be: str  # what an item must be, in its error message
    kind: type
    item_code: str  # the error code of an item of another type


_LISTS = {
    "records": _ListShape("objects", "records_not_a_list", "record", "an object {column: value}", dict,
                          "record_not_an_object"),
    "data": _ListShape('rows (lists of values, in the order of "columns")', "data_not_a_list", "row",
                       'a list of values in the order of "columns"', list, "row_not_a_list"),
}


def _items(payload: dict, field: str, max_records: int) -> list:
    """``payload[field]``: a list of at most ``max_records`` items of the type ``_LISTS`` says."""
    shape = _LISTS[field]
    values = payload.get(field)
    if not isinstance(values, list):
        got = "nothing" if field not in payload else f"a JSON {_json_type(values)}"
        raise _BadRequest(422, shape.code, f'"{field}" must be a list of {shape.holds}; got {got}.')
    _check_count(len(values), f'"{field}"', shape.item, max_records)
    for i, value in enumerate(values):
        if not isinstance(value, shape.kind):
            raise _BadRequest(422, shape.item_code, f"{field}[{i}] must be {shape.must_be}; got a JSON "
                              f"{_json_type(value)}.")
    return values


def _csv_frame(body: bytes, max_records: int, schema: dict | None):
    """A ``text/csv`` body as a DataFrame: the columns the model was trained on as text are read
    as text (``schema.text_columns``), the others as pandas infers them, as in training."""
    import io

    import pandas as pd

    from .schema import text_columns

    as_text = dict.fromkeys(text_columns(schema), str)
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=as_text, nrows=max_records + 1, encoding="utf-8")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise _BadRequest(400, "invalid_csv", f"The body is not a UTF-8 CSV table with a header line: "
                          f"{str(err).strip()}.") from None
    _check_count(len(frame), "The CSV body", "row", max_records)
    return frame


def _check_count(n: int, field: str, item: str, max_records: int) -> None:
    if not n:
        raise _BadRequest(422, "no_records", f"{field} is empty; send at least one {item}.")
    if n > max_records:
        raise _BadRequest(413, "too_many_records", f"{n:,} {item}s in one request; the limit is "
                          f"{max_records:,}. Split the request.")


def _check_value(value, where: str, column: str) -> None:
    if not isinstance(value, _SCALARS):
        raise _BadRequest(422, "bad_value", f"{where} must be a number, string, boolean or null; got a JSON "
                          f"{_json_type(value)}.", columns=[column])


def _out_of_range(frame) -> None:
    """Refuse numeric columns holding infinite values or numbers beyond float32 (``DataError``, naming them)."""
    from .exceptions import DataError

    numeric = frame.select_dtypes("number")
    bad = {name: numeric[name][numeric[name].abs() > MAX_ABS_VALUE] for name in numeric.columns}
    bad = {name: values for name, values in bad.items() if len(values)}
    if bad:
        examples = "; ".join(f"{name!r}: {', '.join(repr(float(v)) for v in values.unique()[:3])}"
                             for name, values in bad.items())
        raise DataError(f"{counted(len(bad), 'column')} {'holds' if len(bad) == 1 else 'hold'} infinite values or numbers too large for the model (beyond "
                        f"±{MAX_ABS_VALUE:.3g}): {examples}. Send finite numbers in range (or null for a "
                        "missing value).", code="value_out_of_range", columns=list(bad))


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


def create_app(model, *, max_body_bytes: int = MAX_BODY_BYTES, max_records: int = MAX_RECORDS):
    """The FastAPI application serving ``model``.

    Parameters
    ----------
    model : LoadedModel, AutoML, path or registry reference
    max_body_bytes : int, default=10 MiB
        Larger request bodies get 413.
    max_records : int, default=10,000
        More records in one request get 413.

    Returns
    -------
    fastapi.FastAPI
    """
    fastapi = _require("fastapi")
    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from .persist import as_loaded

    model = as_loaded(model)
    name = model.registry_ref_ or (model.path_.name if model.path_ is not None else "model")
    started = time.time()
    app = fastapi.FastAPI(title=f"nbautoml: {name}", version=str(model.card.get("created") or ""),
                          description=f"{model.task_} model predicting {model.target_!r}")
    app.state.model = model

    def error(status: int, code: str, message: str, **extra):
        return JSONResponse({"error": code, "message": message, **extra}, status_code=status)

    input_columns = [entry["name"] for entry in (model.schema_ or {}).get("columns", [])]

    def predict(read_frame) -> dict:
        """Read the request's frame and predict it (in a worker thread: pandas off the event loop)."""
        frame, report = model.check_input(read_frame(), warn=False)
        _out_of_range(frame)
        pipeline = model.best_pipeline_
        final, features = pipeline, frame
        if hasattr(pipeline, "steps"):  # preprocess once for both predict and predict_proba
            for _name, step in pipeline.steps[:-1]:
                if step is not None and step != "passthrough":
                    features = step.transform(features)
            final = pipeline.steps[-1][1]
        answer = {"predictions": _plain(final.predict(features))}
        if model.task_ in ("binary", "multiclass") and hasattr(final, "predict_proba"):
            answer["probabilities"] = _plain(final.predict_proba(features))
            answer["classes"] = _plain(model.classes_)
        answer["warnings"] = report.messages()
        return answer

    @app.post("/predict")
    async def predict_endpoint(request: fastapi.Request):
        import json

        import pandas as pd

        from .exceptions import DataError

        try:
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
                raise _BadRequest(413, "body_too_large", f"The body is {int(declared):,} bytes; the limit is "
                                  f"{max_body_bytes:,}. Send fewer records per request.")
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind not in ("application/json", "text/csv"):
                raise _BadRequest(415, "not_json", f"Send the body as JSON (Content-Type: application/json) or "
                                  f"as CSV with a header line (text/csv); got {kind or 'no content type'!r}.")
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_body_bytes:
                    raise _BadRequest(413, "body_too_large", f"The body is larger than {max_body_bytes:,} "
                                      "bytes. Send fewer records per request.")
            if kind == "text/csv":
                return await run_in_threadpool(predict, lambda: _csv_frame(bytes(body), max_records, model.schema_))
            try:
                payload = json.loads(bytes(body))
            except ValueError as err:
                raise _BadRequest(400, "invalid_json", f"The body is not valid JSON: {err}.") from None
            except RecursionError:
                raise _BadRequest(400, "invalid_json", "The body is nested too deeply to be read (arrays or "
                                  'objects inside each other); send {"records": [{column: value, ...}, '
                                  "...]}.") from None
            records = _records(payload, max_records, input_columns)
            return await run_in_threadpool(predict, lambda: pd.DataFrame.from_records(records))
        except _BadRequest as bad:
            return error(bad.status, bad.code, bad.message, **bad.extra)
        except DataError as err:
            return error(422, err.code, str(err), **({"columns": err.details["columns"]}
                                                     if "columns" in err.details else {}))
        except (ValueError, TypeError) as err:
            return error(422, "cannot_predict", f"The model could not predict these records: {err}")
        except Exception:  # a server fault: logged here, never sent as a traceback
            log.exception("nbautoml serve: prediction failed")
            return error(500, "internal_error", "The prediction failed on the server; see its log.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: fastapi.Request, exc: StarletteHTTPException):
        endpoints = ", ".join(f"{method} {route.path}" for route in app.routes if isinstance(route, APIRoute)
                              for method in sorted(route.methods))
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 404:
            code, message = "not_found", f"There is no endpoint {request.url.path!r}"
        elif exc.status_code == 405:
            code, message = "method_not_allowed", f"{where} is not allowed"
        else:
            code, message = "http_error", f"{where}: {exc.detail}"
        return JSONResponse({"error": code, "message": f"{message}; the endpoints are {endpoints}."},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": name, "task": model.task_, "target": model.target_,
                "sha256": model.sha256_, "uptime_s": round(time.time() - started, 1)}

    @app.get("/model")
    async def card():
        return JSONResponse(model.card)

    return app


def serve(model, host: str = "127.0.0.1", port: int = 8000, **kwargs) -> None:
    """Run the API with uvicorn until interrupted (binds to loopback by default)."""
    uvicorn = _require("uvicorn")
    uvicorn.run(create_app(model, **kwargs), host=host, port=port, log_level="warning")


_APP_TEMPLATE = '''"""HTTP API for {title} (written by nbautoml.serve.write_api).

Run:   pip install -r requirements.txt
       uvicorn app:app --host 127.0.0.1 --port 8000
Call:  curl -X POST localhost:8000/predict -H 'Content-Type: application/json' \\
            -d '{{"records": [{example}]}}'
"""

from pathlib import Path

import nbautoml
from nbautoml.serve import create_app

MODEL = Path(__file__).with_name("model.nbautoml")
SHA256 = "{sha256}"  # a changed artifact is refused

model = nbautoml.load(MODEL, sha256=SHA256)
app = create_app(model)
'''


def _example(column: dict) -> str:
    import json

    if column.get("role") == "numeric" and column.get("min") is not None:
        return json.dumps(column["min"])
    if column.get("categories"):
        return json.dumps(column["categories"][0])
    return "null"


def write_api(model_or_path, directory) -> Path:
    """Write a standalone API: ``app.py``, ``requirements.txt`` and ``model.nbautoml``.

    Parameters
    ----------
    model_or_path : LoadedModel, AutoML, path or registry reference
    directory : str or Path
        Created if needed; the three files are (over)written there.

    Returns
    -------
    Path
        The directory.
    """
    from . import persist
    from .atomic import atomic_write

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "model.nbautoml"
    source = None
    if isinstance(model_or_path, (str, Path)) and not str(model_or_path).startswith("registry:"):
        source = Path(model_or_path)
    elif isinstance(model_or_path, str):
        from .registry import Registry

        source = Registry().get(model_or_path[len("registry:"):]).path
    elif isinstance(model_or_path, persist.LoadedModel) and model_or_path.path_ is not None \
            and model_or_path.sha256_ and model_or_path.card.get("format") == persist.FORMAT:
        source = model_or_path.path_
    if source is not None:
        data = persist._read_file(source)
        persist._read_artifact(source, data)  # verified before it is copied
        atomic_write(target, data)
    else:
        persist.save(model_or_path, target)
    data = target.read_bytes()
    card = persist.read_card(target)
    env = card.get("environment") or {}
    schema = (card.get("input_schema") or {}).get("columns", [])
    example = ", ".join(f'"{c["name"]}": {_example(c)}' for c in schema[:3])
    title = f"the {card.get('task')} model predicting {card.get('target')!r}"
    atomic_write(directory / "app.py", _APP_TEMPLATE.format(
        title=title, sha256=persist._sha256(data), example="{" + example + "}").encode())
    pins = [f"{pkg}=={env[pkg]}" for pkg in ("scikit-learn", "numpy", "scipy", "pandas", "skops")
            if env.get(pkg)]
    requirements = "\n".join([
        "# nbautoml (and its transformers) must be installed: from your package index or its repository",
        f"nbautoml[serve]=={env.get('nbautoml', '0.1.0')}",
        "# the versions the model was saved with (a different scikit-learn minor version is refused)",
        *pins, "fastapi>=0.110", "uvicorn>=0.29", ""])
    atomic_write(directory / "requirements.txt", requirements.encode())
    return directory


__all__ = ["create_app", "serve", "write_api"]
