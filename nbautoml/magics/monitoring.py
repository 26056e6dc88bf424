"""``%automl_monitor``: check a batch with :func:`nbautoml.monitor`, show the monitoring history."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.display import display

from ..monitor.history import BATCH_COLUMNS
from .models import find_model
from .parsing import resolve_data
from .results import Table, show_figure

#: the history columns shown (``name`` is the model's, the same on every row)
HISTORY_COLUMNS = [c for c in BATCH_COLUMNS if c != "name"]


def monitor(magics, args):
    """Monitor DATA; with ``--history``, also show the model's batches so far."""
    if not args.data and not args.history:
        raise UsageError(
            f"Give the new rows to check: %automl_monitor {args.name} DATA (a DataFrame "
            "expression or a data file (CSV, Parquet, JSON, Excel, ...)), or --history for the batches checked so far."
        )
    if not args.data and (args.labels or args.threshold or args.auto_retrain):
        option = "--labels" if args.labels else "--threshold" if args.threshold else "--auto-retrain"
        raise UsageError(f"{option} applies to a batch: give DATA too.")
    model = find_model(magics, args.name, "%automl_monitor")
    if args.auto_retrain:
        from .retraining import check_registered

        check_registered(model, args.name)
    report = check_batch(magics, model, args) if args.data else None
    if report is not None and args.auto_retrain:
        from .retraining import auto_retrain

        auto_retrain(magics, args, model, report)  # shows the report, then what it did
    if not args.history:
        if args.out:
            magics.shell.user_ns[args.out] = report
        return None if args.auto_retrain else report
    if report is not None and not args.auto_retrain:
        display(report)
    frame = show_history(model, args.name)
    if args.out:
        magics.shell.user_ns[args.out] = report if report is not None else frame
    return None


def check_batch(magics, model, args):
    """The MonitorReport of DATA (recorded in the monitoring history)."""
    import pandas as pd

    from ..monitor import Thresholds
    from ..monitor import monitor as run_monitor
    from ..schema import model_text_columns

    batch = resolve_data(magics.shell, " ".join(args.data), what="DATA",
                         text_columns=model_text_columns(model))
    if not isinstance(batch, pd.DataFrame):
        raise UsageError(
            f"DATA gave a {type(batch).__name__}; expected a DataFrame or a data file (CSV, Parquet, JSON, Excel, ...)."
        )
    try:
        thresholds = Thresholds.coerce(dict(args.threshold) if args.threshold else None)
    except (TypeError, ValueError) as err:
        raise UsageError(f"--threshold: {err}") from None
    try:
        policy = "registry" if args.auto_retrain else None
        return run_monitor(model, batch, labels=args.labels, thresholds=thresholds, policy=policy)
    except ValueError as err:  # labels that name no column, a model without a profile
        raise UsageError(str(err)) from None


def show_history(model, shown_name: str):
    """Display the batches of ``model`` (table and plots); return the history table."""
    from ..monitor import _identity, plots
    from ..monitor.history import history, names

    name = _identity(model, None)[0]
    frame = history(name)
    if frame.empty:
        known = names()
        listing = f" Models with a history: {', '.join(known)}." if known else ""
        display(
            Table(
                frame[HISTORY_COLUMNS],
                f"No monitored batches for {name!r} yet: run %automl_monitor {shown_name} DATA "
                f"first.{listing}",
            )
        )
        return frame
    table = frame[HISTORY_COLUMNS].copy()
    table["time"] = table["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    display(
        Table(
            table,
            f"Monitoring history of {name!r}: {len(table)} batch(es), oldest first "
            "(metric_value: on the batch's labels; prediction_psi: drift of the predictions).",
        )
    )
    show_figure(plots.plot_history(name))
    return frame
