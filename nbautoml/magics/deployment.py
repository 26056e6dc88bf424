"""``%automl_deploy`` (an HTTP API with :func:`nbautoml.write_api`) and ``%automl_export`` (ONNX)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from IPython.core.error import UsageError

from .models import find_model
from .results import Table

#: the files ``write_api`` writes, and what each is
API_FILES = {
    "app.py": "the FastAPI app: POST /predict, GET /health, GET /model",
    "requirements.txt": "the packages to install where it runs",
    "model.nbautoml": "the model (its SHA-256 is checked when the app starts)",
}


def deploy(magics, args):
    """Write ``app.py``, ``requirements.txt`` and ``model.nbautoml`` to ``--api DIR``."""
    from ..serve import write_api

    directory = Path(args.api)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--api {args.api}: a file of that name exists; give a directory.")
    model = find_model(magics, args.name, "%automl_deploy")
    directory = write_api(model, directory)
    width = max(map(len, API_FILES))
    lines = [f"Wrote an HTTP API for {args.name!r} to {directory}/:"]
    for name, what in API_FILES.items():
        size = (directory / name).stat().st_size
        lines.append(f"  {name:<{width}}  {_size(size):>8}  {what}")
    lines += [
        "Run it:",
        f"  cd {directory}",
        "  pip install -r requirements.txt",
        "  uvicorn app:app --host 127.0.0.1 --port 8000",
        f"Or, in place: nbautoml serve {directory / 'model.nbautoml'}",
    ]
    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        lines.append(
            f"({' and '.join(missing)} not installed here: pip install 'nbautoml[serve]')"
        )
    print("\n".join(lines))


def export(magics, args):
    """Export to ONNX and show the parity check against scikit-learn."""
    from ..export import ExportError, export_onnx

    path = Path(args.path)
    if not args.onnx and path.suffix.lower() != ".onnx":
        raise UsageError(
            f"Which format? ONNX is the only export format: add --onnx, or give a PATH ending in "
            f".onnx. To save the model itself, use %automl_save {args.name} {args.path}."
        )
    if not path.suffix:
        path = path.with_name(path.name + ".onnx")
    model = find_model(magics, args.name, "%automl_export")
    check_rows = getattr(model, "_X", None)  # a search of this session: its training rows
    try:
        report = export_onnx(model, path, check_rows=check_rows)
    except ExportError as err:
        raise UsageError(f"Cannot export {args.name!r} to ONNX: {err}") from None
    if args.out:
        magics.shell.user_ns[args.out] = report
    return onnx_table(report, trained=check_rows is not None)


def _onnx_input(report, column: str) -> str:
    name = report.input_names.get(column, column)
    return column if name == column else f"{name} (column {column!r})"


def _input_rows(report) -> list[tuple[str, str]]:
    """The inputs, numbers and strings apart: ``[("inputs", "3 float32 columns [N, 1]: a, b, c"), ...]``."""
    strings = set(getattr(report, "string_inputs", []))
    dates = set(getattr(report, "date_inputs", []))
    texts = set(getattr(report, "text_inputs", []))
    notes = {"string inputs": ' (a missing value as "missing")', "inputs": "",
             "date inputs": " (days since 1970-01-01, the time of day as a fraction)",
             "text inputs": ' (lowercased, accents stripped, a missing value as "")'}
    rows = []
    for label, kind, columns in (("inputs", "float32", [c for c in report.inputs if c not in strings | dates | texts]),
                                 ("string inputs", "string", [c for c in report.inputs if c in strings]),
                                 ("date inputs", "float64", [c for c in report.inputs if c in dates]),
                                 ("text inputs", "string", [c for c in report.inputs if c in texts])):
        if columns:
            names = ", ".join(_onnx_input(report, c) for c in columns)
            note = notes[label]
            plural = "s" if len(columns) != 1 else ""
            rows.append((label, f"{len(columns)} {kind} column{plural} [N, 1]{note}: {names}"))
    return rows


def onnx_table(report, trained: bool) -> Table:
    """The export report as a two-column table, with the parity check in words."""
    import pandas as pd

    rows = [
        ("file", str(report.path)),
        ("size", _size(report.size)),
        *_input_rows(report),
        ("outputs", ", ".join(report.outputs)),
    ]
    if report.rows_checked:
        where = "training rows" if trained else "rows"
        verdict = "passed" if report.passed else "FAILED"
        rows.append(("parity check", f"{verdict} on {report.rows_checked:,} {where}"))
        if report.label_agreement is not None:
            rows.append(("labels agree", f"{report.label_agreement:.2%}"))
        if report.value_agreement is not None:
            what = "probabilities agree" if report.label_agreement is not None else "predictions agree"
            rows.append((what, f"{report.value_agreement:.2%} of the rows"))
        if report.max_abs_diff is not None:
            rows.append(("max abs difference", f"{report.max_abs_diff:.2e}"))
        if report.max_rel_diff is not None:
            rows.append(("max relative difference", f"{report.max_rel_diff:.2e}"))
    else:
        rows.append(
            (
                "parity check",
                "not run (a loaded model has no training rows): run "
                "nbautoml.export_onnx(model, path, check_rows=held_out_rows)",
            )
        )
    frame = pd.DataFrame(rows, columns=["", "value"])
    caption = (
        "ONNX export: ONNX Runtime and scikit-learn predicted the same rows"
        if report.rows_checked
        else "ONNX export (not checked against scikit-learn)"
    )
    return Table(frame, caption)


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 2**20 else f"{n / 2**20:.1f} MB"
