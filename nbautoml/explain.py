"""Explain a fitted AutoML, or a loaded model on labelled rows: which columns matter, how, and
why one prediction is what it is.

Everything works on the ORIGINAL input columns (``result.plan_.used``), not on
one-hot fragments, and treats the pipeline as a black box:

- :func:`permutation_importance`: how much the search metric worsens when a
  column's values are shuffled among held-out rows. By default the chosen
  config is refitted on the training part of a few CV folds and shuffled on
  their validation part, so no row is scored by a model that saw it.
- :func:`partial_dependence`: the average prediction (and one line per row,
  ICE) as one column is set to each value of a grid, the others kept.
- :func:`explain_row`: Shapley values of one prediction estimated by sampling
  feature orderings against background rows (Strumbelj and Kononenko, 2014);
  they add up to the prediction minus the average background prediction.
- :func:`summarize`: a few plain sentences for a teaching notebook.

Computing is kept apart from drawing: the ``plot_*`` functions take the
computed frames and draw on a Matplotlib ``Axes``.
"""

from __future__ import annotations

import html
import warnings

import numpy as np
import pandas as pd

from .engine.data import string_names, true_values
from .engine.frames import as_pandas
from .exceptions import DataError

__all__ = ["Explanation", "explain", "permutation_importance", "partial_dependence", "explain_row",
           "summarize", "plot_importance", "plot_partial_dependence", "plot_attribution"]


# --------------------------------------------------------------------------- helpers


def _metric(result):
    from .engine.metrics import get_metric

    return get_metric(result.metric_, result.task_)


def _n_classes(result) -> int:
    return 0 if result.classes_ is None else len(result.classes_)


def _encode_target(result, y) -> np.ndarray:
    """Target values as the engine scores them: floats, or class codes."""
    y = pd.Series(np.asarray(y).ravel())
    if result.task_ == "regression":
        return pd.to_numeric(y, errors="raise").to_numpy(dtype=float)
    unknown = set(y.unique()) - set(result.classes_.tolist())
    if unknown:
        raise DataError(f"The target has classes not seen in training: {sorted(map(str, unknown))}.",
                        code="unknown_classes")
    return np.searchsorted(result.classes_, y.to_numpy())


def _scores(result, pipeline, stacked: pd.DataFrame, n_copies: int, y, labels_are_codes: bool) -> list[float]:
    """The search metric of ``pipeline`` on each of the ``n_copies`` blocks of ``len(y)`` rows
    that ``stacked`` holds, one after another (one prediction call for all of them)."""
    from .engine.evaluate import _predictions
    from .engine.metrics import score

    metric = _metric(result)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prediction, _ = _predictions(pipeline, stacked, metric, result.task_)
    prediction = np.asarray(prediction)
    if metric.needs == "label" and result.task_ != "regression" and not labels_are_codes:
        prediction = np.searchsorted(result.classes_, prediction)
    n = len(y)
    return [score(metric, y, prediction[i * n:(i + 1) * n], _n_classes(result)) for i in range(n_copies)]


def _shuffled_copies(X: pd.DataFrame, columns: list, n_repeats: int, rng) -> pd.DataFrame:
    """``len(columns) * n_repeats`` copies of ``X`` stacked, copy ``i * n_repeats + r`` with
    ``columns[i]`` shuffled (``rng``'s permutations drawn in that order)."""
    n = len(X)
    stacked = pd.concat([X] * (len(columns) * n_repeats), ignore_index=True)
    for i, column in enumerate(columns):
        values = X[column].to_numpy()
        shuffled = stacked[column].to_numpy(copy=True)
        for r in range(n_repeats):
            start = (i * n_repeats + r) * n
            shuffled[start:start + n] = values[rng.permutation(n)]
        stacked[column] = pd.Series(shuffled, dtype=X[column].dtype)
    return stacked


def _fold_models(result, n_folds: int, max_rows: int, rng):
    """(pipeline fitted on a fold's training part, validation frame, validation target codes)."""
    from .engine.space import build_pipeline
    from .engine.workers import cpu_count

    X, y = result._X, result._y_codes()
    for train_idx, val_idx in result.validation_.folds[:max(1, n_folds)]:
        pipeline = build_pipeline(result.best_config_, result.plan_, result.task_,
                                  random_state=result.seed, n_jobs=cpu_count())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline.fit(X.iloc[train_idx], y[train_idx])
        if len(val_idx) > max_rows:
            val_idx = np.sort(rng.choice(val_idx, max_rows, replace=False))
        yield pipeline, X.iloc[val_idx].reset_index(drop=True), y[val_idx]


def _training_rows(result):
    """The training features a search keeps in memory; None for a loaded model."""
    return getattr(result, "_X", None)


def _model_words(result) -> tuple[str, str]:
    """(short kind for sentences, full description) of a search's model or a loaded one's."""
    import re

    from .engine.ensemble import describe_model, model_kind

    card = getattr(result, "card", None)
    if card is None:
        return model_kind(result), describe_model(result)
    description = (card.get("model") or {}).get("description") or type(result.best_pipeline[-1]).__name__
    ensemble = re.match(r"ensemble of \d+", description)
    family = (result.best_config_ or {}).get("family") or type(result.best_pipeline[-1]).__name__
    return (ensemble.group(0) if ensemble else str(family)), description


def _split_data(result, data):
    """(feature frame, target or None) of user data; the target only if it is a column."""
    if data is None:
        return None, None
    data = string_names(as_pandas(data))
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a DataFrame; got {type(data).__name__}.", code="bad_data")
    y = data[result.target_] if result.target_ in data.columns else None
    X = result._input_frame(data.drop(columns=[result.target_]) if y is not None else data)
    if y is not None:
        y = true_values(y, result.task_).set_axis(y.index)  # "$1,234.50" as fit read it, "?" missing
        keep = y.notna().to_numpy()
        X, y = X[keep], y[keep]
    return X.reset_index(drop=True), y


# --------------------------------------------------------------------------- importance

#: rows of shuffled copies predicted in one call by :func:`permutation_importance`
SHUFFLED_ROWS_PER_CALL = 20_000


def permutation_importance(result, data=None, *, n_repeats: int = 5, n_folds: int = 3,
                           max_rows: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Permutation importance of the original columns, scored with the search metric.

    Parameters
    ----------
    result : AutoML
        A fitted search.
    data : DataFrame, optional
        Held-out rows with the target column: the refitted pipeline is scored
        on them. Default: refit the chosen config on the training part of the
        first ``n_folds`` CV folds and shuffle on their validation part.
    n_repeats : int, default=5
        Shuffles per column and fold.
    n_folds : int, default=3
    max_rows : int, default=1000
        Validation rows used per fold (a random subset above that).
    seed : int, default=0

    Returns
    -------
    DataFrame
        ``feature``, ``importance`` (mean loss of score when shuffled: positive
        means the model relies on the column), ``importance_std`` (over folds
        and repeats), ``role``; most important first. ``attrs`` holds
        ``metric``, ``baseline`` (the unshuffled score), ``n`` (models x
        repeats), ``n_models`` (fitted pipelines), ``n_repeats`` and ``source``.
    """
    rng = np.random.default_rng(seed)
    sign = 1.0 if result.greater_is_better_ else -1.0
    columns = list(result.plan_.used)
    X_data, y_data = _split_data(result, data)
    if y_data is not None:
        if len(X_data) > max_rows:
            keep = np.sort(rng.choice(len(X_data), max_rows, replace=False))
            X_data, y_data = X_data.iloc[keep].reset_index(drop=True), y_data.iloc[keep]
        models = [(result.best_pipeline, X_data, _encode_target(result, y_data))]
        fitted = "refitted pipeline" if _training_rows(result) is not None else "the loaded model"
        codes, source = False, f"{len(X_data)} rows of the given data, {fitted}"
    else:
        models = _fold_models(result, n_folds, max_rows, rng)
        n_used = min(max(1, n_folds), len(result.validation_.folds))
        codes = True
        source = f"validation part of {n_used} CV fold{'s' if n_used > 1 else ''}, refitted on each"
    drops = {c: [] for c in columns}
    baselines = []
    for pipeline, X_val, y_val in models:
        base = _scores(result, pipeline, X_val, 1, y_val, codes)[0]
        baselines.append(base)
        # shuffled copies of several columns go through one prediction call: a pipeline's
        # call costs a fixed ~25 ms on 80 columns (house) besides its rows
        per_call = max(1, SHUFFLED_ROWS_PER_CALL // max(1, len(X_val) * n_repeats))
        for start in range(0, len(columns), per_call):
            batch = columns[start:start + per_call]
            stacked = _shuffled_copies(X_val, batch, n_repeats, rng)
            scores = _scores(result, pipeline, stacked, len(batch) * n_repeats, y_val, codes)
            for i, column in enumerate(batch):
                drops[column].extend(sign * (base - s) for s in scores[i * n_repeats:(i + 1) * n_repeats])
    roles = {c.name: c.role for c in result.plan_.columns}
    frame = pd.DataFrame({
        "feature": columns,
        "importance": [float(np.mean(drops[c])) for c in columns],
        "importance_std": [float(np.std(drops[c], ddof=1)) if len(drops[c]) > 1 else 0.0
                           for c in columns],
        "role": [roles.get(c, "") for c in columns],
    })
    frame = frame.sort_values(["importance", "feature"], ascending=[False, True], kind="stable")
    frame = frame.reset_index(drop=True)
    frame.attrs.update(metric=result.metric_, baseline=float(np.mean(baselines)),
                       n=len(baselines) * n_repeats, n_models=len(baselines), n_repeats=n_repeats,
                       source=source)
    return frame


# --------------------------------------------------------------------------- model output


def _target_class(result, target_class, row_frame=None) -> int | None:
    """Index of the class whose probability is explained (None for regression)."""
    if result.task_ == "regression":
        return None
    classes = list(result.classes_)
    if target_class is not None:
        if target_class not in classes:
            raise DataError(f"target_class={target_class!r} is not a class of the model: {classes}.",
                            code="unknown_class")
        return classes.index(target_class)
    if len(classes) == 2:
        return 1
    if row_frame is not None:
        return classes.index(result.best_pipeline.predict(row_frame)[0])
    return int(np.bincount(result._y_codes(), minlength=len(classes)).argmax())


def _output(result, frame: pd.DataFrame, k: int | None) -> np.ndarray:
    """The explained number: the prediction (regression) or class ``k``'s probability."""
    pipeline = result.best_pipeline
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if k is None:
            return np.asarray(pipeline.predict(frame), dtype=float)
        if hasattr(pipeline, "predict_proba"):
            try:
                return np.asarray(pipeline.predict_proba(frame))[:, k]
            except AttributeError:
                pass
        decision = np.asarray(pipeline.decision_function(frame), dtype=float)
    return decision if decision.ndim == 1 else decision[:, k]


def _output_label(result, k: int | None) -> str:
    if k is None:
        return f"predicted {result.target_}"
    if hasattr(result.best_pipeline, "predict_proba"):
        return f"P({result.target_} = {result.classes_[k]})"
    return f"decision value for {result.target_} = {result.classes_[k]}"


# --------------------------------------------------------------------------- partial dependence


def _grid(values: pd.Series, role: str, size: int) -> tuple[np.ndarray, str]:
    present = values.dropna()
    if role == "numeric" and pd.api.types.is_numeric_dtype(present):
        unique = np.unique(present.to_numpy())
        if len(unique) <= size:
            return unique, "numeric"
        grid = np.quantile(present.to_numpy(dtype=float), np.linspace(0.05, 0.95, size))
        if pd.api.types.is_integer_dtype(present):
            grid = np.round(grid)
        return np.unique(grid), "numeric"
    counts = present.astype(str).value_counts()
    return counts.index[:min(size, 12)].to_numpy(dtype=object), "categorical"


def partial_dependence(result, features, data=None, *, grid_size: int = 20, max_rows: int = 300,
                       n_ice: int = 50, target_class=None, seed: int = 0) -> dict[str, dict]:
    """Partial dependence and ICE curves of the refitted pipeline, one original column at a time.

    Parameters
    ----------
    result : AutoML
    features : list of str
        Numeric or categorical columns (text and date columns are skipped).
    data : DataFrame, optional
        The rows to average over (default: the training data).
    grid_size : int, default=20
        Quantiles (5th to 95th) of a numeric column; a categorical one's most
        frequent categories (at most 12).
    max_rows : int, default=300
        Rows averaged (a random subset above that).
    n_ice : int, default=50
        Rows drawn as individual (ICE) lines.
    target_class : label, optional
        For classifiers, whose probability (default: the positive class for
        binary, the most frequent class for multiclass).
    seed : int, default=0

    Returns
    -------
    dict
        feature -> ``{"grid", "kind", "average", "ice", "output"}``; ``average``
        has one value per grid point, ``ice`` one row per ICE line.
    """
    X, _ = _split_data(result, data)
    X = result._X if X is None else X
    rng = np.random.default_rng(seed)
    if len(X) > max_rows:
        X = X.iloc[np.sort(rng.choice(len(X), max_rows, replace=False))]
    X = X.reset_index(drop=True)
    ice_rows = np.sort(rng.choice(len(X), min(n_ice, len(X)), replace=False))  # a random few, not the first
    k = _target_class(result, target_class)
    roles = {c.name: c.role for c in result.plan_.columns}
    out = {}
    for feature in features:
        if roles.get(feature) not in ("numeric", "categorical"):
            continue
        grid, kind = _grid(X[feature], roles[feature], grid_size)
        if len(grid) == 0:
            continue
        frames = []
        for value in grid:
            frame = X.copy()
            frame[feature] = value if kind == "numeric" else _like(X[feature], value)
            frames.append(frame)
        values = _output(result, pd.concat(frames, ignore_index=True), k).reshape(len(grid), len(X))
        out[feature] = {"grid": grid, "kind": kind, "average": values.mean(axis=1),
                        "ice": values[:, ice_rows].T, "output": _output_label(result, k)}
    return out


def _like(column: pd.Series, text: str):
    """A category given as text, back in the column's own type (e.g. 3 for "3")."""
    for value in column.dropna().unique():
        if str(value) == text:
            return value
    return text


# --------------------------------------------------------------------------- one prediction


def _one_row(result, row, data) -> tuple[pd.DataFrame, str]:
    if isinstance(row, (int, np.integer)) and not isinstance(row, bool):
        X, _ = _split_data(result, data)
        X = result._X if X is None else X
        if not -len(X) <= row < len(X):
            raise DataError(f"row={row} is out of range: the data has {len(X)} rows.", code="bad_row")
        return X.iloc[[int(row)]].reset_index(drop=True), f"row {int(row)}"
    row = as_pandas(row)
    if isinstance(row, dict):
        row = pd.DataFrame([row])
    elif isinstance(row, pd.Series):
        row = row.to_frame().T
    row = string_names(row)
    if not isinstance(row, pd.DataFrame) or len(row) != 1:
        raise DataError("row must be a row position (int), a dict, a Series or a one-row DataFrame.",
                        code="bad_row")
    frame = result._input_frame(row.drop(columns=[result.target_], errors="ignore"))
    training = _training_rows(result)
    for column in frame.columns if training is not None else ():  # the training dtypes, as fitted
        try:
            frame[column] = frame[column].astype(training[column].dtype)
        except (TypeError, ValueError):
            pass
    return frame.reset_index(drop=True), "the given row"


def explain_row(result, row, data=None, *, n_background: int = 50, n_permutations: int = 8,
                target_class=None, seed: int = 0) -> pd.DataFrame:
    """Attribute one prediction to the original columns (sampled Shapley values).

    For each of ``n_background`` background rows and ``n_permutations``
    orderings of the columns (half of them the reverse of the other half),
    the background row's values are replaced one column at a time, in that
    order, by the explained row's; each column is credited with the change of
    the prediction when it is replaced. The average credits add up exactly to
    the prediction minus the mean prediction over the background rows used.

    Parameters
    ----------
    result : AutoML
    row : int, dict, Series or one-row DataFrame
        An int is a row position in ``data`` (or in the training data).
    data : DataFrame, optional
        Background rows (default: the training data).
    n_background : int, default=50
    n_permutations : int, default=8
    target_class : label, optional
        For classifiers, whose probability is explained (default: the positive
        class for binary, the predicted class for multiclass).
    seed : int, default=0

    Returns
    -------
    DataFrame
        ``feature``, ``value`` (the row's), ``attribution``, ``attribution_se``
        (sampling error), sorted by absolute attribution. ``attrs`` holds
        ``prediction``, ``baseline``, ``output`` and ``row``.
    """
    frame, where = _one_row(result, row, data)
    background, _ = _split_data(result, data)
    background = result._X if background is None else background
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(background), min(n_background, len(background)), replace=False)
    background = background.iloc[np.sort(picks)].reset_index(drop=True)
    k = _target_class(result, target_class, frame)
    columns = list(frame.columns)
    d = len(columns)
    half = max(1, n_permutations // 2)
    orders = [rng.permutation(d) for _ in range(len(background) * half)]
    orders = np.array([o for order in orders for o in (order, order[::-1])])  # antithetic pairs
    which = np.repeat(np.arange(len(background)), 2 * half)  # background row of each ordering
    ranks = np.argsort(orders, axis=1)  # ranks[s, j]: step at which column j takes the row's value
    taken = ranks[:, None, :] < np.arange(d + 1)[None, :, None]  # (S, d + 1, d)
    taken = taken.reshape(-1, d)
    source_rows = np.repeat(which, d + 1)
    mixed = {}
    for j, column in enumerate(columns):
        base = background[column].to_numpy()[source_rows]
        values = np.where(taken[:, j], frame[column].iloc[0], base)
        series = pd.Series(values)
        try:
            series = series.astype(background[column].dtype)
        except (TypeError, ValueError):
            pass
        mixed[column] = series
    predictions = _output(result, pd.DataFrame(mixed), k).reshape(len(orders), d + 1)
    steps = np.diff(predictions, axis=1)  # steps[s, r]: change when the column ranked r is replaced
    credit = np.take_along_axis(steps, ranks, axis=1)  # (S, d), per column
    n = len(orders)
    table = pd.DataFrame({
        "feature": columns,
        "value": [_show(frame[c].iloc[0]) for c in columns],
        "attribution": credit.mean(axis=0),
        "attribution_se": credit.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(d),
    })
    table = table.reindex(table["attribution"].abs().sort_values(ascending=False, kind="stable").index)
    table = table.reset_index(drop=True)
    table.attrs.update(prediction=float(predictions[0, -1]), baseline=float(predictions[:, 0].mean()),
                       output=_output_label(result, k), row=where, n_samples=n)
    return table


def _show(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------- words


def _and(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def summarize(result, importance: pd.DataFrame, row: pd.DataFrame | None = None) -> str:
    """A few sentences on what the model relies on (and why one row got its prediction).

    A column "matters" when its mean importance is above twice its standard
    error (its std over folds and repeats divided by the square root of the
    number of fitted models, a conservative count); the leading group is the fewest columns (at most three) holding
    60 % of the positive importance.
    """
    metric = importance.attrs.get("metric", result.metric_)
    # the repeats on one fitted model are not independent: count the fitted models only
    n = max(1, int(importance.attrs.get("n_models", 1)))
    se = importance["importance_std"] / np.sqrt(n)
    matters = importance[importance["importance"] > 2 * se]
    noise = importance[importance["importance"] <= 2 * se]
    harmful = importance[importance["importance"] < -2 * se]
    model = _model_words(result)[0]
    choice = getattr(result, "ensemble_", None)
    if _training_rows(result) is None:  # a loaded model: what it scores on the rows it is explained on
        score = f"{metric} {importance.attrs['baseline']:.3f} on the given rows"
    elif choice is None:
        score = f"{metric} {result.best_score_:.3f} ± {result.best_score_std_:.3f}"
    else:
        score = f"{metric} {choice.score:.3f} out-of-fold"
    sentences = []
    if matters.empty:
        sentences.append(f"The model ({model}, {score}) relies on no single column measurably: "
                         "shuffling any one of them leaves the score within its noise.")
    else:
        total = matters["importance"].sum()
        lead = []
        for _, r in matters.iterrows():
            lead.append(r)
            if len(lead) == 3 or sum(x["importance"] for x in lead) >= 0.6 * total:
                break
        names = _and([r["feature"] for r in lead])
        if len(lead) == 1:
            cost = f"{lead[0]['importance']:.3g} {metric}"
        else:
            cost = _and([f"{r['importance']:.3g} ({r['feature']})" for r in lead]) + f" {metric}"
        sentences.append(f"The model ({model}, {score}) relies mostly on {names}: shuffling "
                         f"{'it' if len(lead) == 1 else 'them'} costs {cost}.")
        rest = matters.iloc[len(lead):]
        if len(rest):
            named = list(rest["feature"][:3]) + ([f"{len(rest) - 3} more"] if len(rest) > 3 else [])
            sentences.append(f"{_and(named)} matter{'s' if len(rest) == 1 else ''} less.")
    if len(noise):
        named = list(noise["feature"][:4]) + ([f"{len(noise) - 4} more"] if len(noise) > 4 else [])
        sentences.append(f"{_and(named)} {'has' if len(noise) == 1 else 'have'} no clear effect (within noise).")
    if len(harmful):
        sentences.append(f"Shuffling {_and(list(harmful['feature']))} even improves the held-out score: "
                         "the model may be fitting noise there.")
    sentences.append(f"(Permutation importance: the loss of {metric} when one column is shuffled, on the "
                     f"{importance.attrs.get('source', 'held-out rows')}; correlated columns share credit.)")
    if row is not None and len(row):
        a = row.attrs
        movers = list(row.head(3).itertuples())  # sorted by absolute attribution
        signs = {np.sign(m.attribution) for m in movers}
        if len(signs) == 1 and len(row) > 3:  # also the largest push the other way, if any
            other = row.iloc[3:][np.sign(row["attribution"].iloc[3:]) == -signs.pop()]
            movers += list(other.head(1).itertuples())
        parts = [f"{m.feature} = {m.value} {'raises' if m.attribution > 0 else 'lowers'} it by "
                 f"{abs(m.attribution):.3g}" for m in movers if m.attribution != 0]
        sentences.append(f"For {a['row']}, the {a['output']} is {a['prediction']:.3g} against "
                         f"{a['baseline']:.3g} on average" + (": " + "; ".join(parts) if parts else "") + ".")
    return " ".join(sentences)


# --------------------------------------------------------------------------- the result


class Explanation:
    """What :func:`explain` found: importance, partial dependence, one prediction, in words.

    Attributes
    ----------
    importance : DataFrame
        See :func:`permutation_importance`.
    dependence : dict
        See :func:`partial_dependence` (the top numeric/categorical columns).
    row : DataFrame or None
        See :func:`explain_row`.
    summary : str
    """

    def __init__(self, importance, dependence, row, summary, model: str):
        self.importance = importance
        self.dependence = dependence
        self.row = row
        self.summary = summary
        self.model = model

    @property
    def top_features(self) -> list[str]:
        """Columns by importance, most important first."""
        return list(self.importance["feature"])

    def plot_importance(self, top: int = 15, ax=None):
        """Bar chart of permutation importance with ± 1 std error bars; returns the Figure."""
        ax = _axes(ax, (7, 0.35 * min(top, len(self.importance)) + 1.2))
        plot_importance(self.importance, top=top, ax=ax)
        return ax.figure

    def plot_dependence(self, features=None, ice: bool = True):
        """Partial dependence (and ICE) of the top columns, one panel each; returns the Figure."""
        from .render.plots import NbFigure  # shown as PNG in a notebook without pyplot

        features = [f for f in (features or list(self.dependence)) if f in self.dependence]
        if not features:
            raise ValueError("No partial dependence was computed for these columns; "
                             f"available: {list(self.dependence)}.")
        n = len(features)
        cols = min(3, n)
        rows = -(-n // cols)
        fig = NbFigure(figsize=(4 * cols, 3 * rows), layout="constrained")
        axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
        for ax, feature in zip(axes, features):
            plot_partial_dependence(self.dependence[feature], feature, ice=ice, ax=ax)
        for ax in axes[n:]:
            ax.set_visible(False)
        return fig

    def plot_row(self, top: int = 12, ax=None):
        """Bar chart of one prediction's attributions; returns the Figure."""
        if self.row is None:
            raise ValueError("No row was explained. Call result.explain(row=...) with a row.")
        ax = _axes(ax, (7, 0.35 * min(top, len(self.row)) + 1.4))
        plot_attribution(self.row, top=top, ax=ax)
        return ax.figure

    def __repr__(self) -> str:
        from .render.text import frame_text

        def table(frame):  # names and values left-aligned, numbers right-aligned
            return frame_text(frame, left=["feature", "role", "value"], float_format=lambda v: f"{v:.4f}")

        lines = [f"Explanation of {self.model}", self.summary, "", table(self.importance.head(10))]
        if self.row is not None:
            lines += ["", table(self.row.head(10))]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        imp = self.importance.head(15)
        scale = max(float(imp["importance"].abs().max()), 1e-12)
        rows = []
        for _, r in imp.iterrows():
            width = max(0.0, r["importance"]) / scale * 100
            rows.append(
                f"<tr><td>{html.escape(str(r['feature']))}</td><td>{html.escape(str(r['role']))}</td>"
                f"<td style='text-align:right'>{r['importance']:.4f}</td>"
                f"<td style='text-align:right'>± {r['importance_std']:.4f}</td>"
                f"<td style='width:140px'><div style='background:#4c72b0;height:0.8em;"
                f"width:{width:.0f}%'></div></td></tr>")
        metric = html.escape(str(self.importance.attrs.get("metric", "")))
        parts = [
            f"<div><b>Explanation of {html.escape(self.model)}</b>",
            f"<p>{html.escape(self.summary)}</p>",
            f"<table><thead><tr><th>feature</th><th>role</th><th>importance ({metric} lost)</th>"
            f"<th>std</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>",
        ]
        if len(self.importance) > 15:
            parts.append(f"<p>… and {len(self.importance) - 15} more columns.</p>")
        if self.row is not None:
            a = self.row.attrs
            cells = "".join(
                f"<tr><td>{html.escape(str(r['feature']))}</td><td>{html.escape(str(r['value']))}</td>"
                f"<td style='text-align:right'>{r['attribution']:+.4f}</td></tr>"
                for _, r in self.row.head(10).iterrows())
            parts.append(
                f"<p>{html.escape(a['row'].capitalize())}: {html.escape(a['output'])} = "
                f"{a['prediction']:.4g} (average {a['baseline']:.4g})</p>"
                f"<table><thead><tr><th>feature</th><th>value</th><th>contribution</th></tr></thead>"
                f"<tbody>{cells}</tbody></table>")
        parts.append("</div>")
        return "".join(parts)


def explain(result, data=None, row=None, *, top: int = 5, n_repeats: int = 5, n_folds: int = 3,
            max_rows: int = 1000, grid_size: int = 20, n_background: int = 50,
            n_permutations: int = 8, target_class=None, seed: int = 0) -> Explanation:
    """Explain a fitted AutoML (also ``result.explain(...)``).

    Parameters
    ----------
    result : AutoML or LoadedModel
        A fitted search, or a loaded model (``nbautoml.load``): that keeps no
        training rows, so it is explained on ``data`` with the target column.
    data : DataFrame, optional
        Held-out rows. With the target column, importance is measured on them
        with the refitted pipeline; they are also the rows averaged in partial
        dependence and the background of the row explanation. Default: the
        training data, importance on CV folds.
    row : int, dict, Series or one-row DataFrame, optional
        A prediction to explain (an int is a row position in ``data``, or in
        the training data).
    top : int, default=5
        Partial dependence is computed for this many of the most important
        numeric or categorical columns.
    n_repeats, n_folds, max_rows
        See :func:`permutation_importance`.
    grid_size
        See :func:`partial_dependence`.
    n_background, n_permutations
        See :func:`explain_row`.
    target_class : label, optional
        For classifiers, whose probability is explained.
    seed : int, default=0
        The same seed gives the same explanation.

    Returns
    -------
    Explanation
    """
    if hasattr(result, "_check_fitted"):
        result._check_fitted()
    if _training_rows(result) is None:
        _check_explainable_without_training_rows(result, data)
        if target_class is None and row is None and result.task_ == "multiclass":
            # the class whose probability is drawn: the given rows' most frequent, as the training rows' would be
            target_class = _split_data(result, data)[1].value_counts().index[0]
    importance = permutation_importance(result, data, n_repeats=n_repeats, n_folds=n_folds,
                                        max_rows=max_rows, seed=seed)
    usable = importance[importance["role"].isin(["numeric", "categorical"])]
    row_frame = None
    if row is not None:
        if target_class is None and result.task_ == "multiclass":  # the row's predicted class, throughout
            target_class = result.classes_[_target_class(result, None, _one_row(result, row, data)[0])]
        row_frame = explain_row(result, row, data, n_background=n_background,
                                n_permutations=n_permutations, target_class=target_class, seed=seed)
    dependence = partial_dependence(result, list(usable["feature"][:top]), data, grid_size=grid_size,
                                    target_class=target_class, seed=seed)
    summary = summarize(result, importance, row_frame)
    return Explanation(importance, dependence, row_frame, summary, _model_words(result)[1])


def _check_explainable_without_training_rows(result, data) -> None:
    """A loaded model keeps no training rows: it is explained on labelled rows given to it."""
    target = result.target_
    if data is None or target not in getattr(data, "columns", ()):
        got = "no data" if data is None else "data without it"
        raise DataError(f"This model keeps no training rows (a loaded model): explain it on rows with the "
                        f"target column {target!r}, e.g. held-out or recent labelled rows; got {got}.",
                        code="no_data")
    if result.plan_ is None:
        raise DataError("This model's card has no column plan (saved by an older nbautoml), so its columns "
                        "cannot be explained one by one. Save it again with this version.", code="no_plan")


# --------------------------------------------------------------------------- drawing


def _axes(ax, size):
    if ax is not None:
        return ax
    from .render.plots import NbFigure  # shown as PNG in a notebook without pyplot

    return NbFigure(figsize=size, layout="constrained").subplots()


def _clip(text, n: int) -> str:
    text = str(text)
    return text if len(text) <= n else text[:n - 1] + "…"


def plot_importance(importance: pd.DataFrame, top: int = 15, ax=None):
    """Horizontal bars of permutation importance with ± 1 std error bars; returns the Axes."""
    ax = _axes(ax, (6, 4))
    shown = importance.head(top).iloc[::-1]
    positions = np.arange(len(shown))
    ax.barh(positions, shown["importance"], xerr=shown["importance_std"], color="#4c72b0",
            ecolor="#333333", capsize=2)
    ax.set_yticks(positions, [_clip(f, 32) for f in shown["feature"]])
    ax.axvline(0, color="#999999", linewidth=0.8)
    ax.set_xlabel(f"{importance.attrs.get('metric', 'score')} lost when shuffled")
    ax.set_title("Permutation importance")
    return ax


def plot_partial_dependence(info: dict, feature: str, ice: bool = True, ax=None):
    """One column's partial dependence (thick line) and ICE lines (thin); returns the Axes."""
    ax = _axes(ax, (4, 3))
    grid = info["grid"]
    if info["kind"] == "numeric":
        x = np.asarray(grid, dtype=float)
        if ice:
            for line in info["ice"]:
                ax.plot(x, line, color="#4c72b0", alpha=0.15, linewidth=0.7)
        ax.plot(x, info["average"], color="#c44e52", linewidth=2.2, label="average")
    else:
        x = np.arange(len(grid))
        if ice:
            for line in info["ice"]:
                ax.plot(x, line, color="#4c72b0", alpha=0.15, linewidth=0.7, marker=".", markersize=2)
        ax.bar(x, info["average"], color="#c44e52", alpha=0.6, width=0.6, label="average")
        ax.set_xticks(x, [str(g)[:12] for g in grid], rotation=45, ha="right")
    ax.set_xlabel(_clip(feature, 40))
    ax.set_ylabel(info["output"])
    return ax


def plot_attribution(row: pd.DataFrame, top: int = 12, ax=None):
    """Bars of one prediction's attributions (red raises, blue lowers); returns the Axes."""
    ax = _axes(ax, (6, 4))
    shown = row.head(top).iloc[::-1]
    positions = np.arange(len(shown))
    colors = ["#c44e52" if v > 0 else "#4c72b0" for v in shown["attribution"]]
    ax.barh(positions, shown["attribution"], color=colors)
    ax.set_yticks(positions, [f"{_clip(f, 28)} = {_clip(v, 14)}"
                              for f, v in zip(shown["feature"], shown["value"])])
    ax.axvline(0, color="#999999", linewidth=0.8)
    a = row.attrs
    ax.set_xlabel(f"contribution to {a.get('output', 'the prediction')}")
    ax.set_title(f"{_clip(a.get('output', 'Prediction'), 40)}: {a.get('prediction', float('nan')):.4g} "
                 f"against {a.get('baseline', float('nan')):.4g} on average")
    return ax
