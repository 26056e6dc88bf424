"""The teaching notebooks are stored executed, and read well without a kernel (U-04).

They are executed again by CI with ``pytest --nbval-lax notebooks/``; this checks what a
reader sees on GitHub: outputs present, results as static HTML and PNG, no widget reprs, no
errors, no paths of the machine that ran them.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
FORBIDDEN = ("HBox(", "VBox(", "Widget", "/work/", "/home/", "/tmp/", "Traceback")


def test_the_teaching_notebooks_exist():
    assert [p.name for p in NOTEBOOKS][:4] == ["01_quickstart.ipynb", "02_classification.ipynb",
                                               "03_regression.ipynb", "04_custom_search_space.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_notebook_is_executed_and_readable(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), "run top to bottom in a fresh kernel"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"], "warnings"
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any(("nbautoml-result" in h or "nbautoml-retrain" in h) and "<table" in h for h in html)
    if "nbautoml-result" in " ".join(html):  # a search shown: its plots come as PNG
        assert any("image/png" in o.get("data", {}) for o in outputs)
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    for output in outputs:
        for text in (output.get("text", ""), output.get("data", {}).get("text/plain", "")):
            for bad in FORBIDDEN:
                assert bad not in text, f"{bad!r} in an output of {path.name}: {text[:200]}"
    # self-contained: scikit-learn's bundled data or a CSV beside the notebook
    source = "\n".join(c.source for c in code)
    assert not re.search(r"read_csv\((?!\"data/)", source) and "/work/" not in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_search_cells_are_marked_volatile(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and (".fit(" in cell.source or "%%automl" in cell.source):
            tags = cell.metadata.get("tags", [])
            assert "nbval-ignore-output" in tags or "NBVAL_IGNORE_OUTPUT" in cell.source
