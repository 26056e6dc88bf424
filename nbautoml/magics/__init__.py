"""IPython magics of nbautoml: ``%load_ext nbautoml`` registers them.

``%%automl`` runs a search on the data named in the cell; ``%automl_leaderboard``,
``%automl_plot``, ``%automl_predict``, ``%automl_code``, ``%automl_explain``,
``%automl_pareto``, ``%automl_sanity``, ``%automl_save``, ``%automl_load`` and ``%automl_history``
work on its results; ``%automl_monitor``, ``%automl_deploy`` and
``%automl_export`` work on any model (a result, a saved file, a registry
reference). Loading the extension imports neither scikit-learn, hyperopt nor
matplotlib.
"""

from __future__ import annotations

__all__ = ["load_ipython_extension"]


def load_ipython_extension(ipython) -> None:
    """Register :class:`~nbautoml.magics.automl.AutoMLMagics` on ``ipython``."""
    from .automl import AutoMLMagics

    ipython.register_magics(AutoMLMagics)
