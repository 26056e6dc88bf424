"""IPython magics of nbautoml: ``%load_ext nbautoml`` registers them.

``%%automl`` runs a search on the data named in the cell; ``%automl_leaderboard``,
``%automl_plot``, ``%automl_predict``, ``%automl_code``, ``%automl_save``,
``%automl_load`` and ``%automl_history`` work on its results. Loading the
extension imports neither scikit-learn, hyperopt nor matplotlib.
"""

from __future__ import annotations

__all__ = ["load_ipython_extension"]


def load_ipython_extension(ipython) -> None:
    """Register :class:`~nbautoml.magics.automl.AutoMLMagics` on ``ipython``."""
    from .automl import AutoMLMagics

    ipython.register_magics(AutoMLMagics)
