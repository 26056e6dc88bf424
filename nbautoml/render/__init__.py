"""Display of searches and results: text, HTML, widgets, plots. No search computation here.

Public names (imported when first used, so ``import nbautoml.render`` stays light):

* :func:`make_panel` — the live search panel (widgets, or HTML/text where widgets cannot show);
* :func:`show_result` — the static summary, leaderboard and plots of a finished search;
* :func:`plot`, :func:`plot_kinds` — one plot of a search by kind name;
* :func:`result_html` — the HTML of a result (``AutoML._repr_html_``).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "make_panel": ("nbautoml.render.panel", "make_panel"),
    "show_result": ("nbautoml.render.panel", "show_result"),
    "widgets_supported": ("nbautoml.render.panel", "widgets_supported"),
    "plot": ("nbautoml.render.plots", "plot"),
    "plot_kinds": ("nbautoml.render.kinds", "plot_kinds"),
    "result_html": ("nbautoml.render.html", "result_html"),
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nbautoml.render' has no attribute {name!r}")
