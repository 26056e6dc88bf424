"""``%automl_leaderboard``, ``%automl_plot``, ``%automl_predict`` and ``%automl_code``."""

from __future__ import annotations

import html
import sys
from pathlib import Path

from IPython.core.error import UsageError
from IPython.display import display

from ..render.kinds import PLOT_KINDS, PlotKindError, resolve_kind
from .parsing import resolve_data


class Table:
    """A DataFrame with a caption, shown as HTML in notebooks and as text elsewhere."""

    def __init__(self, frame, caption: str = "", left=None):
        self.frame = frame
        self.caption = caption
        self.left = left  # columns left-aligned in the text form (default: the text columns)

    def _repr_html_(self) -> str:
        caption = f"<p>{html.escape(self.caption)}</p>" if self.caption else ""
        return caption + self.frame.to_html(index=False, na_rep="", escape=True)

    def __repr__(self) -> str:
        from ..render.text import frame_text

        text = frame_text(self.frame, left=self.left)
        return f"{self.caption}\n{text}" if self.caption else text


def show_figure(figure, label: str = "") -> None:
    """Display a matplotlib Figure as a PNG with alternative text, also without ``%matplotlib inline``.

    Its text form is ``<Figure: label>`` (default: its first title). A figure that
    pyplot manages is closed, so the inline backend does not show it twice.
    """
    from ..render.plots import png_display_bundle

    data, metadata = png_display_bundle(figure, label)
    display(data, metadata=metadata, raw=True)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(figure)


#: leaderboard cost column -> (short header, what it is), shown when measured
COST_COLUMNS = {
    "predict_ms_per_1k": ("ms/1k", "prediction ms per 1,000 rows"),
    "model_size_kb": ("KB", "pickled model size"),
    "peak_memory_mb": ("MB", "peak fit memory"),
    "cpu_time": ("cpu s", "CPU seconds of the trial"),
}


def with_costs(frame, board):
    """``frame`` (the display leaderboard) with the measured cost columns of ``board``, 3 digits."""
    import pandas as pd

    shown = []
    at = list(frame.columns).index("fit_time") + 1 if "fit_time" in frame.columns else len(frame)
    for column, (header, _) in COST_COLUMNS.items():
        if column not in board.columns or not board[column].notna().any():
            continue
        values = pd.to_numeric(board.loc[frame.index, column], errors="coerce")
        frame.insert(at + len(shown), header, values.map(_three_digits))
        shown.append(column)
    return frame, shown


def _three_digits(value):
    return value if value != value else float(f"{value:.3g}")  # NaN stays NaN


def leaderboard(magics, args):
    """The leaderboard of a search: score as mean ± fold std, ≈ for ties, and measured costs.

    A name the kernel does not hold (after a restart) is looked up among the stored
    searches, and their leaderboard is read from disk.
    """
    from ..engine.leaderboard import IN_MODEL_NOTE, format_leaderboard

    top = None if args.all else args.top
    stored = magics.stored_search(args.name)
    if stored is not None:
        from ..engine.store import stored_leaderboard

        board, meta = stored_leaderboard(stored)
        metric, validation = meta.get("metric"), meta.get("validation", "CV")
        in_model = {int(k): v for k, v in (meta.get("model_trials") or {}).items()}
        source = (
            f"; read from the stored search {stored.name} (this kernel holds no result named "
            f"{args.name or magics.default_name()!r}; %%automl --resume {stored.name} on the same "
            "data reopens it with its model)"
        )
    else:
        from ..engine.ensemble import model_trials

        result = magics.result(args.name)
        board, metric, validation = result.leaderboard, result.metric_, result.validation_.description
        in_model = model_trials(result)
        source = ""
    frame, costs = with_costs(format_leaderboard(board, metric, top, in_model), board)
    if not frame["error"].astype(str).str.len().any():
        frame = frame.drop(columns="error")  # no trial shown failed
    n = len(board)
    shown = f"top {min(top, n)} of {n} trials" if top else f"all {n} trials"
    legend = "; ".join(f"{COST_COLUMNS[c][0]} = {COST_COLUMNS[c][1]}" for c in costs)
    caption = (
        f"{metric} ({validation}), {shown}; score = mean ± std over "
        "the folds; ≈ = not significantly different from the best (paired corrected t-test)"
        + (f"; {IN_MODEL_NOTE}" if in_model else "") + (f"; {legend}" if legend else "") + source + "."
    )
    return Table(frame, caption, left=("in_model", "model", "status", "pipeline", "error"))


def plot(magics, args):
    """Draw one plot of a search with ``nbautoml.render.plots.plot`` and display it."""
    try:
        resolve_kind(args.kind)  # an unknown kind is named before the search is looked up
    except PlotKindError as err:
        if args.name is None and args.kind in magics.shell.user_ns:  # "%automl_plot titanic"
            raise UsageError(
                f"{args.kind!r} is a variable, not a plot kind: give the kind after it, e.g. "
                f"%automl_plot {args.kind} convergence. Kinds: {', '.join(PLOT_KINDS)}."
            ) from None
        raise UsageError(str(err)) from None
    result = magics.result(args.name)
    try:
        kind = resolve_kind(args.kind, result.task_, repr(args.name or magics.default_name()))
    except PlotKindError as err:
        raise UsageError(str(err)) from None
    try:
        from ..render.plots import plot as draw
    except ImportError as err:
        raise UsageError(
            f"Plots need matplotlib and nbautoml.render.plots ({err}). "
            "Install it with: pip install matplotlib"
        ) from None
    figure = draw(result, kind)
    display(figure)
    if "matplotlib.pyplot" in sys.modules:  # a pyplot-managed figure would be shown a second time
        sys.modules["matplotlib.pyplot"].close(figure)
    if args.out:
        magics.shell.user_ns[args.out] = figure


def predict(magics, args):
    """Predict with a search result (or a loaded model) on a DataFrame or a file."""
    import numpy as np
    import pandas as pd

    from ..schema import model_text_columns

    model = magics.result(args.name, search=False)
    data = resolve_data(magics.shell, " ".join(args.data), what="DATA",
                        text_columns=model_text_columns(model))
    if not isinstance(data, pd.DataFrame):
        raise UsageError(
            f"DATA gave a {type(data).__name__}; expected a DataFrame or a data file (CSV, Parquet, JSON, Excel, ...)."
        )
    if args.keep is not None or args.file:
        return _prediction_file(magics, args, model, data)
    target = getattr(model, "target_", None)
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise UsageError(f"{args.name!r} gives no probabilities; drop --proba.")
        classes = getattr(model, "classes_", None)
        values = np.asarray(model.predict_proba(data))
        columns = [str(c) for c in classes] if classes is not None else None
        out = pd.DataFrame(values, index=data.index, columns=columns)
    else:
        out = pd.Series(
            np.asarray(model.predict(data)),
            index=data.index,
            name=f"predicted {target}" if target else "prediction",
        )
    if args.out:
        magics.shell.user_ns[args.out] = out
    return out


def _prediction_file(magics, args, model, data):
    """``--keep`` / ``--file``: the table ``nbautoml predict`` writes (kept columns, prediction,
    probabilities), also written to ``--file``."""
    from ..batch import prediction_table, write_predictions

    if args.file:
        table, path = write_predictions(model, data, args.file, proba=args.proba, keep=args.keep or ())
        print(f"Wrote {len(table)} predictions to {path}")
    else:
        table = prediction_table(model, data, proba=args.proba, keep=args.keep or ())
    if args.out:
        magics.shell.user_ns[args.out] = table
    return table


def code(magics, args):
    """Print (or write) scikit-learn code that rebuilds and cross-validates the best pipeline."""
    from ..codegen import pipeline_code

    result = magics.result(args.name)
    try:
        text = pipeline_code(result, data_var=args.data_var, trial=args.trial)
    except ValueError as err:  # no such trial, or a part that cannot be written as code
        raise UsageError(str(err)) from None
    if args.file:
        path = Path(args.file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"Wrote the code to {path}")
    else:
        print(text)
    if args.out:
        magics.shell.user_ns[args.out] = text
