"""A notebook executed headless (nbclient: no widget front end) keeps readable static results (U-04)."""

from __future__ import annotations

import base64
import re

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import DATASETS

SETUP = """\
import pandas as pd
from nbautoml import AutoML
from nbautoml.render.panel import make_panel, widgets_supported
frame = pd.read_csv({path!r})
print(widgets_supported())"""

SEARCH = """\
result = AutoML(time_budget=60, max_evals={n}, seed=0, models=["naive_bayes", "decision_tree"],
                callbacks=[make_panel(title={title!r})]).fit(frame, target="Class")"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    if not DATASETS.exists():
        pytest.skip(f"the shared data sets are not at {DATASETS}")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP.format(path=str(DATASETS / "blood.csv"))),
        nbformat.v4.new_code_cell(SEARCH.format(n=4, title="auto")),
        # a front end that claims widgets: the saved notebook must still read well
        nbformat.v4.new_code_cell("import os\nos.environ['NBAUTOML_WIDGETS'] = '1'\n"
                                  + SEARCH.format(n=2, title="forced")),
    ]
    workdir = tmp_path_factory.mktemp("notebook")
    NotebookClient(nb, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def _displays(cell):
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


def test_headless_kernel_gets_no_widgets(executed):
    text = "".join(o.get("text", "") for o in executed.cells[0].outputs if o.output_type == "stream")
    assert "(False, 'the notebook runs headless under" in text


def test_search_cell_has_static_html_and_png(executed):
    outputs = _displays(executed.cells[1])
    html = [o.data["text/html"] for o in outputs if "text/html" in o.data]
    live = [h for h in html if "nbautoml-progress" in h]
    results = [h for h in html if "nbautoml-result" in h]
    assert len(live) == 1 and "finished" in live[0] and "max_evals=4 reached" in live[0]
    assert len(results) == 1 and results[0].count("<tr>") >= 1 + 4  # header + leaderboard rows
    pngs = [o.data["image/png"] for o in outputs if "image/png" in o.data]
    assert len(pngs) == 1 and base64.b64decode(pngs[0])[:4] == b"\x89PNG"
    assert all("text/plain" in o.data for o in outputs)
    assert not any("application/vnd.jupyter.widget-view+json" in o.data for o in outputs)


def test_the_result_plot_has_alternative_text_in_the_saved_notebook_and_its_html(executed):
    """The plot's output carries alternative text for a screen reader, as IPython's API puts it."""
    from nbconvert import HTMLExporter

    outputs = [o for o in _displays(executed.cells[1]) if "image/png" in o.data]
    alt = outputs[0].metadata["image/png"]["alt"]
    assert alt.startswith("Convergence: best roc_auc so far.") and "Confusion matrix" in alt
    assert "legend: trial score, best so far, best: 0." in alt  # the figure's own figures

    # nbconvert's classic template writes the output's alt metadata into the <img> tag (its
    # default lab template, 7.17, does not read it yet and warns)
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(executed)
    images = re.findall(r"<img [^>]*>", body)
    assert len(images) == 2  # one result plot per search cell
    assert all('alt="Convergence: best roc_auc so far.' in tag for tag in images), images


def test_no_widget_reprs_in_text_outputs(executed):
    for cell in executed.cells:
        for output in cell.outputs:
            texts = [output.get("text", "")] + [output.get("data", {}).get("text/plain", "")]
            for text in texts:
                assert "HBox(" not in text and "VBox(" not in text and "Widget" not in text, text


def test_forced_widgets_still_leave_static_results(executed):
    outputs = _displays(executed.cells[2])
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.data]
    assert len(views) == 1
    assert views[0].data["text/plain"].startswith("nbautoml live search panel")
    assert any("nbautoml-result" in o.data.get("text/html", "") for o in outputs)
    assert any("image/png" in o.data for o in outputs)
