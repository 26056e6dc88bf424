"""``%automl_explain`` (importance, partial dependence, one prediction), ``%automl_pareto`` and
``%automl_sanity`` (the search again on a shuffled target)."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.display import display

from .parsing import resolve_data
from .results import show_figure


def _search_of_this_session(magics, name, magic: str, why: str):
    """The search result ``name``; a loaded model (no training rows in memory) is refused with ``why``."""
    value = magics.shell.user_ns.get(name) if name else None
    if value is not None and not hasattr(value, "leaderboard_display") and hasattr(value, "predict"):
        raise UsageError(
            f"{name!r} is a {type(value).__name__}: {why}, which only a search of this session keeps in "
            f"memory. Run %%automl --name {name} and then %automl_{magic} {name}."
        )
    return magics.result(name)


def explain(magics, args):
    """Show ``result.explain(...)``: its summary, then the importance and dependence plots."""
    import pandas as pd

    from ..schema import model_text_columns

    value = magics.shell.user_ns.get(args.name) if args.name else None
    if value is not None and hasattr(value, "card") and hasattr(value, "explain"):  # a loaded model
        if not args.data:
            raise UsageError(f"{args.name!r} is a loaded model, which keeps no training rows: explain it on "
                             f"labelled rows, %automl_explain {args.name} DATA, where DATA holds the target "
                             f"column {value.target_!r} (held-out or recent rows).")
        result = value
    else:
        result = _search_of_this_session(magics, args.name, "explain", "explaining needs the training data")
    data = None
    if args.data:
        data = resolve_data(magics.shell, " ".join(args.data), what="DATA",
                            text_columns=model_text_columns(result))
        if not isinstance(data, pd.DataFrame):
            raise UsageError(
                f"DATA gave a {type(data).__name__}; expected a DataFrame or a data file (CSV, Parquet, JSON, Excel, ...)."
            )
    frame = data if data is not None else getattr(result, "_X", None)
    rows = 0 if frame is None else len(frame)
    if args.row is not None and rows and not -rows <= args.row < rows:
        where = "DATA" if data is not None else "the training data"
        raise UsageError(f"--row {args.row} is out of range: {where} has {rows} rows.")
    options = {} if args.top is None else {"top": args.top}
    explanation = result.explain(data=data, row=args.row, **options)
    display(explanation)
    show_figure(explanation.plot_importance())
    if explanation.dependence:
        show_figure(explanation.plot_dependence(), "Partial dependence")
    if explanation.row is not None:
        show_figure(explanation.plot_row())
    if args.out:
        magics.shell.user_ns[args.out] = explanation


def pareto(magics, args):
    """Plot score against cost with :func:`nbautoml.render.pareto.plot_pareto`."""
    from ..render.pareto import plot_pareto

    result = magics.result(args.name)
    figure = plot_pareto(result, x=args.x).figure
    show_figure(figure)
    if args.out:
        magics.shell.user_ns[args.out] = figure


def sanity(magics, args):
    """Show ``result.sanity_check(...)``: the real, shuffled-target and chance scores."""
    result = _search_of_this_session(magics, args.name, "sanity", "the check searches again on the training rows")
    check = result.sanity_check(time_budget=args.time_budget, max_evals=args.max_evals, seed=args.seed)
    display(check)
    if args.out:
        magics.shell.user_ns[args.out] = check
    return None
