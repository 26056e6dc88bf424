"""The data as a search uses it: read, checked and planned, with the warnings of
:meth:`AutoML.fit <nbautoml.AutoML.fit>` (``prepare_data``), and the column plan alone
(``nbautoml.plan``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataError, closest
from . import data as data_mod
from .frames import as_pandas
from .reading import read_table


@dataclass
class PreparedData:
    """The data as a search uses it: the rows with a target, the column plan and the task."""

    X: pd.DataFrame
    y: pd.Series | None
    groups: np.ndarray | None
    task: str | None
    plan: data_mod.DataPlan
    n_missing_target: int = 0
    target_as_numbers: bool = False


def _check_roles_name_features(roles, target, group_column) -> None:
    """Refuse ``roles=`` that name the target or the group column: neither is a feature."""
    for name in roles or {}:
        if name == target:
            raise DataError(f"roles= names {name!r}, the target: roles are for the feature columns "
                            "(the target's type is the task: task='binary', 'multiclass' or 'regression').",
                            code="role_for_target")
        if name == group_column:
            raise DataError(f"roles= names {name!r}, the group column of the folds: it keeps rows together "
                            "and is not a feature, so it has no role.", code="role_for_groups")


def prepare_data(X, y=None, *, target=None, groups=None, task="auto", roles=None,
                 stacklevel: int = 2) -> PreparedData:
    """Read, check and plan the data as :meth:`AutoML.fit` does, its warnings included.

    Without ``target`` and ``y`` only the feature columns are planned (no task, no
    leakage check). ``stacklevel`` is that of the warnings, counted from this function.
    """
    X, y = as_pandas(X), as_pandas(y)  # polars, pyarrow, DuckDB, ...
    # what split_target changes on its copy: non-string column names made strings,
    # durations seconds, periods dates
    renamed, converted = data_mod.renamed_columns(X), data_mod.converted_columns(X)
    if target is None and y is None:  # the features alone: a plan to look at before a search
        if isinstance(X, (str, Path)):
            X = read_table(X)
        X = data_mod.features_frame(X)
        data_mod.check_features(X)
        plan = data_mod.plan_columns(X, roles, notes=renamed, converted=converted)
        _warn_about_values(X, plan, stacklevel + 1)
        return PreparedData(X, None, None, None, plan)
    X, y = data_mod.split_target(X, target=target, y=y)
    _check_roles_name_features(roles, y.name, groups if isinstance(groups, str) else None)
    if isinstance(groups, str):
        if groups not in X.columns:
            hint = closest(groups, [str(c) for c in X.columns])
            raise DataError(f"The group column {groups!r} is not in the data."
                            + (f" Did you mean {hint[0]!r}?" if hint else ""), code="column_not_found")
        groups, X = X[groups].to_numpy(), X.drop(columns=[groups])
    y, numbers_note = data_mod.target_numbers_from_text(y, task)
    if numbers_note:
        warnings.warn(f"nbautoml: {numbers_note}", UserWarning, stacklevel=stacklevel)
    task = data_mod.infer_task(y, task)
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(y):
            raise DataError(f"groups has {len(groups)} values for {len(y)} rows.", code="length_mismatch")
        groups = groups[y.notna().to_numpy()]
    X, y, n_missing_target = data_mod.clean_target(X, y, task)
    y, labels_note = data_mod.decimal_labels_as_text(y, task)
    for note in (labels_note, data_mod.look_alike_labels(y, task)):
        if note:
            warnings.warn(f"nbautoml: {note}", UserWarning, stacklevel=stacklevel)
    data_mod.check_features(X)
    factorized = {}  # the plan's codes of the columns of few values, for the leak check
    plan = data_mod.plan_columns(X, roles, notes=renamed, converted=converted, factorized=factorized)
    leaks = data_mod.leaking_columns(X, y, plan, task, factorized=factorized)
    del factorized
    _note_and_warn(plan, leaks, lambda names, s: (
        f"{names} determine{s} the target {y.name!r} exactly: possible target leakage (a value known "
        f"only with the outcome?). A score near perfect would not hold on new data. If so, leave it "
        f"out: roles={ {name: 'dropped' for name in leaks} }."), stacklevel + 1)
    _warn_about_values(X, plan, stacklevel + 1)
    return PreparedData(X, y, groups, task, plan, n_missing_target, numbers_note is not None)


def _warn_about_values(X, plan, stacklevel: int) -> None:
    """Note and warn about numbers too large for float32 trees, and columns mixing units."""
    huge = data_mod.huge_magnitudes(X, plan)
    _note_and_warn(plan, huge, lambda names, s: (
        f"{names} hold{s} values of magnitude above {data_mod.HUGE_MAGNITUDE:.2g}: overflow risk. "
        "Random forest, extra trees and decision tree trials fail on them (too large for float32), "
        "and squaring or scaling them gives inf; the search goes on with what works. If they are "
        "meant as numbers, rescale them (e.g. divide by a power of ten, or take a log)."), stacklevel + 1)
    mixed = data_mod.mixed_units(X, plan)
    _note_and_warn(plan, {name: f"mixes units {units}" for name, units in mixed.items()}, lambda names, s: (
        f"{names} mix{'es' if s else ''} units ({'; '.join(mixed.values())}). If they differ in scale "
        "(g and kg), convert them to one unit first: nbautoml reads the numbers as written."), stacklevel + 1)


def plan(data, target=None, *, y=None, task="auto", roles=None) -> data_mod.DataPlan:
    """How a search would treat each column of ``data``, without searching.

    Parameters
    ----------
    data : DataFrame, array-like, or path to a CSV/Parquet file
    target : str, optional
        The target column; without it (and without ``y``) the columns are
        planned as features only, with no check of the target.
    y : array-like, optional
        The target, when it is not a column of ``data``.
    task, roles
        As for :class:`AutoML`.

    Returns
    -------
    DataPlan
        Each column's role (numeric, categorical, datetime, text, dropped), the
        reason and any note; the same plan ``fit`` makes (``result.plan_``),
        with the same warnings.

    Examples
    --------
    >>> import nbautoml
    >>> nbautoml.plan(df, target="Survived").to_frame()  # doctest: +SKIP
    """
    return prepare_data(data, y, target=target, task=task, roles=roles, stacklevel=3).plan


def _note_and_warn(plan, found: dict, message, stacklevel: int) -> None:
    """Add each found column's note to the plan and warn once about them all.

    ``message(names, s)`` gives the warning from the quoted column names and the verb's
    "s" (a single column) or "" (several).
    """
    for name, note in found.items():
        plan.add_note(name, note)
    if found:
        warnings.warn(message(", ".join(map(repr, found)), "s" if len(found) == 1 else ""), UserWarning,
                      stacklevel=stacklevel)
