"""nbautoml: model automation (train, validate, deploy, monitor) for Jupyter.

``import nbautoml`` stays light: scikit-learn, hyperopt and matplotlib are
imported when they are first needed, not here.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "AutoML": ("nbautoml.engine.automl", "AutoML"),
    "available_models": ("nbautoml.engine.automl", "available_models"),
    "plan": ("nbautoml.engine.prepare", "plan"),
    "read_table": ("nbautoml.engine.reading", "read_table"),
    "save": ("nbautoml.persist", "save"),
    "load": ("nbautoml.persist", "load"),
    "read_card": ("nbautoml.persist", "read_card"),
    "register": ("nbautoml.registry", "register"),
    "Registry": ("nbautoml.registry", "Registry"),
    "export_onnx": ("nbautoml.export", "export_onnx"),
    "write_api": ("nbautoml.serve", "write_api"),
    "monitor": ("nbautoml.monitor", "monitor"),
    "sanity_check": ("nbautoml.sanity", "sanity_check"),
    "plot": ("nbautoml.render.plots", "plot"),
    "retrain": ("nbautoml.retrain", "retrain"),
    "promote": ("nbautoml.retrain", "promote"),
    "rollback": ("nbautoml.retrain", "rollback"),
    "RetrainPolicy": ("nbautoml.policy", "RetrainPolicy"),
    "set_policy": ("nbautoml.policy", "set_policy"),
}

__all__ = ["__version__", "load_ipython_extension", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nbautoml' has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:
    """Register the ``%%automl`` magics (``%load_ext nbautoml``)."""
    from .magics import load_ipython_extension as _load

    _load(ipython)
