"""Validation schemes: which rows train and which score each fold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, DataError, unknown_choice
from .data import check_classes

SCHEMES = ("auto", "kfold", "stratified", "group", "timeseries", "holdout")


@dataclass
class Validation:
    """The folds of a search and how they were chosen."""

    scheme: str
    folds: list[tuple[np.ndarray, np.ndarray]]
    description: str

    @property
    def n_splits(self) -> int:
        return len(self.folds)


def group_column(cv) -> str | None:
    """The column of ``cv="group:COLUMN"`` (folds that keep each value of a column of the data
    together: a patient's or a customer's rows); None for any other ``cv``."""
    if not isinstance(cv, str):
        return None
    scheme, _, arg = cv.partition(":")
    if scheme.strip().lower() != "group" or not arg.strip():
        return None
    try:
        float(arg)
    except ValueError:
        return arg.strip()
    return None


def folds_count(cv):
    """``cv`` with a number of folds written as text (``"5"``, as a command line gives it) made
    an int; anything else as given."""
    return int(cv) if isinstance(cv, str) and cv.strip().isdigit() else cv


def parse_cv(cv) -> tuple[str, float | None]:
    """Parse ``cv`` given as ``"auto"``, an int, ``"stratified:5"``, ``"holdout:0.2"`` or
    ``"group:COLUMN"`` (5 folds by that column)."""
    if cv is None:
        return "auto", None
    cv = folds_count(cv)
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise ConfigError(f"cv={cv}: k-fold needs at least 2 folds. Use cv='holdout' for one split.",
                              code="bad_cv")
        return "kfold", int(cv)
    if not isinstance(cv, str):
        if callable(getattr(cv, "split", None)) and not isinstance(cv, bool):
            return "splitter", None
        raise ConfigError(f"cv={cv!r}: give a number of folds (an int >= 2), a scheme such as "
                          "'stratified:5', 'holdout:0.2' or 'group:COLUMN', or a scikit-learn splitter "
                          "(an object with a split() method).", code="bad_cv")
    scheme, _, arg = cv.partition(":")
    scheme = scheme.strip().lower()
    if scheme not in SCHEMES:
        raise unknown_choice("cv scheme", scheme, SCHEMES, code="unknown_cv")
    if group_column(cv) is not None:
        return "group", None
    value = None
    if arg:
        try:
            value = float(arg)
        except ValueError:
            raise ConfigError(f"cv={cv!r}: the part after ':' must be a number, e.g. 'kfold:5' or "
                              "'holdout:0.2'.", code="bad_cv") from None
        if scheme == "holdout" and not 0 < value < 1:
            raise ConfigError(f"cv={cv!r}: the holdout fraction must be between 0 and 1.", code="bad_cv")
        if scheme != "holdout" and (value < 2 or value != int(value)):
            raise ConfigError(f"cv={cv!r}: the number of folds must be an integer >= 2.", code="bad_cv")
    return scheme, value


# cv="auto" uses a holdout when the data is large for the time budget: more cells
# (rows x columns) than this many per second of budget, from HOLDOUT_MIN_ROWS rows on
HOLDOUT_CELLS_PER_SECOND = 5_000
HOLDOUT_MIN_ROWS = 5_000


def make_validation(cv, task: str, y_codes: np.ndarray, groups=None, seed: int | None = 0,
                    y_for_checks=None, time_budget: float | None = None,
                    n_features: int | None = None) -> Validation:
    """Choose and build the folds.

    ``cv="auto"`` gives a 20 % holdout from 50,000 rows on, and from 5,000 rows
    on when rows x columns exceed 5,000 per second of ``time_budget`` (one fit
    per trial instead of k: three times the trials where each fit is slow);
    otherwise stratified k-fold for classification and k-fold for regression
    (5 folds under 10,000 rows, 3 above, or with a time budget under 20 s
    above 2,000 rows). An int ``cv`` is stratified for classification, as in
    scikit-learn; ``"kfold:k"`` asks for plain k-fold.
    """
    from sklearn import model_selection as ms

    n = len(y_codes)
    classification = task != "regression"
    cv = folds_count(cv)
    scheme, value = parse_cv(cv)
    rows = np.arange(n)
    fewer = ""  # why cv="auto" uses fewer folds than usual
    if scheme == "splitter":
        folds = list(cv.split(rows.reshape(-1, 1), y_codes, groups))
        return Validation("custom", folds, f"custom splitter {type(cv).__name__} ({len(folds)} folds)")
    if scheme == "auto":
        large_for_budget = (time_budget is not None and n >= HOLDOUT_MIN_ROWS
                            and n * (n_features or 1) > HOLDOUT_CELLS_PER_SECOND * time_budget)
        if n >= 50_000 or large_for_budget:
            scheme, value = "holdout", 0.2
        else:
            # 5 folds for small data, 3 when rows are many or the budget is short
            # (more trials matter more than a finer estimate then)
            folds = 5 if n < 2_000 or (n < 10_000 and (time_budget is None or time_budget >= 20)) else 3
            scheme, value = ("stratified" if classification else "kfold"), folds
            if classification:
                smallest = int(np.bincount(y_codes).min())
                if 2 <= smallest < value:
                    value = smallest
                    fewer = f", as the smallest class has {smallest} rows"
    if scheme == "kfold" and classification and isinstance(cv, (int, np.integer)):
        scheme = "stratified"  # as scikit-learn does for a classifier; cv="kfold:5" keeps plain k-fold
    if scheme == "stratified" and not classification:
        raise ConfigError("cv='stratified' needs a classification task; use cv='kfold' for regression.",
                          code="bad_cv")
    k = int(value or 5)
    if scheme == "holdout":
        fraction = value or 0.2
        stratify = y_codes if classification else None
        if classification:
            check_classes(y_for_checks, 2)
        train, test = ms.train_test_split(rows, test_size=fraction, random_state=seed, stratify=stratify)
        return Validation("holdout", [(np.sort(train), np.sort(test))],
                          f"holdout: {100 * fraction:.0f}% of the rows ({len(test)}) for validation"
                          + (", stratified" if classification else ""))
    if scheme == "group":
        if groups is None:
            raise ConfigError("cv='group' needs groups=: a column name or an array with a group per row "
                              "(or name the column in cv: cv='group:patient_id', --cv group:patient_id).",
                              code="no_groups")
        n_groups = len(np.unique(groups))
        if n_groups < k:
            raise DataError(f"cv='group' with {k} folds needs at least {k} groups; found {n_groups}.",
                            code="few_groups")
        folds = list(ms.GroupKFold(n_splits=k).split(rows, y_codes, groups))
        return Validation("group", folds, f"group {k}-fold over {n_groups} groups")
    if scheme == "timeseries":
        folds = list(ms.TimeSeriesSplit(n_splits=k).split(rows))
        return Validation("timeseries", folds, f"time-series split, {k} folds (rows in the given order)")
    if classification and scheme in ("stratified", "kfold"):
        check_classes(y_for_checks, k)
    if scheme == "stratified":
        splitter = ms.StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        folds = list(splitter.split(rows, y_codes))
        return Validation("stratified", folds, f"stratified {k}-fold{fewer}")
    if k > n:
        raise DataError(f"{k}-fold CV needs at least {k} rows; the data has {n}.", code="too_few_rows")
    folds = list(ms.KFold(n_splits=k, shuffle=True, random_state=seed).split(rows))
    return Validation("kfold", folds, f"{k}-fold")


#: a date column with at least this many distinct dates, never going back over the rows, puts them in time order
TIME_ORDER_MIN_DATES = 10
#: rows (evenly spaced) whose dates are read to tell
TIME_ORDER_SAMPLE = 2_000


def time_order_note(X: pd.DataFrame, plan, validation: Validation) -> str | None:
    """Say when the rows are in time order by a date column and the folds mix them.

    k-fold and a random holdout then train on later rows to score earlier ones, which a
    model that forecasts never can: its CV score is optimistic for predicting the future.
    The order is read on ``TIME_ORDER_SAMPLE`` evenly spaced rows.
    None when the folds keep the order (``timeseries``), follow groups or a custom
    splitter, or no date column orders the rows.
    """
    if validation.scheme not in ("kfold", "stratified", "holdout"):
        return None
    # evenly spaced rows: a text date is parsed one by one, which on a million rows takes minutes
    rows = np.unique(np.linspace(0, len(X) - 1, min(len(X), TIME_ORDER_SAMPLE)).astype(int))
    for name in plan.names("datetime"):
        column = X[name].iloc[rows]
        dates = column if pd.api.types.is_datetime64_any_dtype(column) else pd.to_datetime(
            column, errors="coerce", format="mixed")
        dates = dates.dropna()
        if len(dates) < 0.9 * len(column) or dates.nunique() < TIME_ORDER_MIN_DATES:
            continue
        try:
            in_order = dates.is_monotonic_increasing
        except TypeError:  # dates of mixed time zones: no single order
            continue
        if in_order:
            mixing = {"kfold": "shuffled k-fold", "stratified": "shuffled stratified k-fold",
                      "holdout": "a random holdout"}[validation.scheme]
            return (f"the rows are in time order by {name!r}, and {mixing} mixes them: it trains on later rows "
                    "to score earlier ones. If the model is to predict the future, cv='timeseries:5' "
                    "(--cv timeseries:5) validates it that way: each fold trains on earlier rows only")
    return None
