"""The quickstart notebook executed by nbclient: no widget front end, the HTML/text fallback.

tests/render/test_notebook_run.py covers the panel's fallback through the Python API on a
synthetic notebook; this runs the teaching notebook itself, through the ``%%automl`` magic
and the result magics, as ``jupyter nbconvert --execute`` or a CI job would, and reads the
outputs a notebook viewer would show. No browser is needed (only nbclient and a kernel).
"""

from __future__ import annotations

import base64
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

from .ui import WIDGET_VIEW, cleared_copy

pytestmark = pytest.mark.e2e

QUICKSTART = REPO / "notebooks" / "01_quickstart.ipynb"
WIDGET_REPRS = ("HBox(", "VBox(", "FloatProgress(", "Widget(", "IntProgress(")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    work = tmp_path_factory.mktemp("quickstart")
    path = cleared_copy(QUICKSTART, work / "01_quickstart.ipynb")
    shutil.copytree(REPO / "notebooks" / "data", work / "data")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    return nb


def _code(nb, contains: str):
    return next(c for c in nb.cells if c.cell_type == "code" and contains in c.source)


def _displays(cell):
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


@pytest.mark.timeout(360)
def test_every_cell_ran_without_errors_or_warnings(executed):
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, stderr


def test_search_cell_shows_the_html_fallback(executed):
    outputs = _displays(_code(executed, "%%automl"))
    assert not any(WIDGET_VIEW in o.data for o in outputs)
    html = [o.data["text/html"] for o in outputs if "text/html" in o.data]
    live = [h for h in html if "nbautoml-progress" in h]
    results = [h for h in html if "nbautoml-result" in h]
    # the live block (updated in place), ended as "finished"; then the static result
    assert len(live) == 1 and "finished" in live[0] and "time_budget=8s used" in live[0]
    assert len(results) == 1
    board = results[0].split("<b>Leaderboard</b>")[1]
    assert board.count("<tr>") >= 1 + 2  # header + at least 2 trials in an 8 s search
    pngs = [o.data["image/png"] for o in outputs if "image/png" in o.data]
    assert len(pngs) == 1 and base64.b64decode(pngs[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(o.data.get("text/plain") for o in outputs)  # a text twin for every display


def test_result_magics_show_html_and_png(executed):
    board = _displays(_code(executed, "%automl_leaderboard"))
    assert len(board) == 1 and "<table" in board[0].data["text/html"]
    for kind in ("convergence", "confusion"):
        shown = _displays(_code(executed, f"%automl_plot titanic_search {kind}"))
        assert len(shown) == 1 and "image/png" in shown[0].data, kind


def test_no_widget_reprs_in_text_outputs(executed):
    """Where only text is shown (a terminal, a text-only viewer), no widget reprs appear."""
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            texts = [output.get("text", ""), data.get("text/plain", "")]
            for text in texts:
                assert not any(r in text for r in WIDGET_REPRS), text[:300]
