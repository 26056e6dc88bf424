"""The plot kinds, their other names and the tasks they fit: one table for ``plot()`` and
``%automl_plot``. Imports nothing heavy, so the magics can check a kind before matplotlib loads.
"""

from __future__ import annotations

from difflib import get_close_matches

BINARY = ("binary",)
CLASSIFICATION = ("binary", "multiclass")
REGRESSION = ("regression",)
ALL_TASKS = CLASSIFICATION + REGRESSION

#: kind -> the tasks it fits
PLOT_KINDS: dict[str, tuple[str, ...]] = {
    "convergence": ALL_TASKS,
    "leaderboard": ALL_TASKS,
    "confusion": CLASSIFICATION,
    "roc": CLASSIFICATION,
    "pr": CLASSIFICATION,
    "calibration": CLASSIFICATION,
    "threshold": BINARY,
    "residuals": REGRESSION,
    "prediction": REGRESSION,
    "importance": ALL_TASKS,
    "hyperparameters": ALL_TASKS,
}
#: other names of a kind, lower case with "_" for "-" (``prediction-vs-actual`` is ``prediction``)
ALIASES = {
    "history": "convergence",
    "confusion_matrix": "confusion",
    "precision_recall": "pr",
    "prediction_vs_actual": "prediction",
    "predicted_vs_actual": "prediction",
    "feature_importance": "importance",
    "params": "hyperparameters",
    "discrimination_threshold": "threshold",
    "decision_threshold": "threshold",
}
_SCOPE_WORDS = {ALL_TASKS: "any task", CLASSIFICATION: "classification", BINARY: "binary classification",
                REGRESSION: "regression"}


class PlotKindError(ValueError):
    """A plot kind that does not exist, or that does not fit the search's task."""


def plot_kinds(task: str | None = None) -> list[str]:
    """The plot kinds, all or those that fit a task ("binary", "multiclass", "regression")."""
    return [k for k, tasks in PLOT_KINDS.items() if task is None or task in tasks]


def kind_name(kind: str) -> str | None:
    """The kind ``kind`` names (its own name or another name of it, in any case, with "-"
    or "_"), or None."""
    name = str(kind).strip().lower().replace("-", "_")
    name = ALIASES.get(name, name)
    return name if name in PLOT_KINDS else None


def resolve_kind(kind: str, task: str | None = None, search: str = "this search") -> str:
    """The kind ``kind`` names, checked against the search's task.

    Raises
    ------
    PlotKindError
        For an unknown kind (with the closest name and the valid kinds) or one that does not
        fit ``task`` (with the kinds that do).
    """
    name = kind_name(kind)
    if name is None:
        typed = str(kind).strip().lower().replace("-", "_")
        close = get_close_matches(typed, list(PLOT_KINDS) + list(ALIASES), n=1)
        hint = f" Did you mean {ALIASES.get(close[0], close[0])!r}?" if close else ""
        raise PlotKindError(f"Unknown plot kind {kind!r}.{hint} Valid kinds: {', '.join(PLOT_KINDS)}.")
    if task is not None and task not in PLOT_KINDS[name]:
        raise PlotKindError(f"The {name!r} plot is for {_SCOPE_WORDS[PLOT_KINDS[name]]}; {search} is a "
                            f"{task} search. Plots for it: {', '.join(plot_kinds(task))}.")
    return name
