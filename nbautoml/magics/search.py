"""``%%automl``: resolve the data, run the search with a live display, bind the result."""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
from pathlib import Path

from IPython.core.error import UsageError

from .parsing import NO_TIME_BUDGET, SEARCH_OPTIONS, closest_hint, resolve_data, split_data

log = logging.getLogger("nbautoml")


def run(magics, args, cell):
    """Run ``%%automl``; return the result to display (None when the panel showed it)."""
    options = search_options(magics, args)
    check_options(options)
    name = args.name or magics.name
    target = args.target
    if args.resume is not None:
        options["resume"], meta = resolve_resume(magics, args.resume)
        target = target or meta.get("target")
    X, y = split_data(resolve_data(magics.shell, cell, sheet=args.sheet))
    if y is None and not target:
        columns = [str(c) for c in getattr(X, "columns", [])]
        raise UsageError(
            "Name the target column: %%automl --target COLUMN (or give `X, y` in the cell)."
            + (f" The data has {len(columns)} columns: {', '.join(columns[:30])}"
               + (", ..." if len(columns) > 30 else "") + "." if columns else "")
        )
    if y is not None and target:
        y = _renamed(y, target)
    listener = make_listener(widgets=None if magics.widgets and not args.no_widgets else False)
    from ..engine.automl import AutoML
    from ..exceptions import SearchFailedError

    automl = AutoML(**options, search_dir=magics.search_dir, callbacks=[listener])
    try:
        if y is None:
            automl.fit(X, target=target)
        else:
            automl.fit(X, y)
    except SearchFailedError as err:
        if hasattr(automl, "trials_"):
            magics.shell.user_ns[name] = automl
            magics.remember(name, automl)
            raise UsageError(f"{err} The failed trials are in {name}.leaderboard.") from None
        raise
    magics.shell.user_ns[name] = automl
    magics.remember(name, automl)
    _record_variable(automl, name)
    return finish(listener, automl)


def plan(magics, args):
    """Show ``nbautoml.plan`` of the data (``%automl_plan``); store it in ``--out``."""
    from IPython.display import display

    from ..engine.prepare import plan as plan_columns

    data = resolve_data(magics.shell, " ".join(args.data), what="DATA")
    X, y = split_data(data)
    if y is not None and args.target:
        y = _renamed(y, args.target)
    found = plan_columns(X, None if y is not None else args.target, y=y, task=args.task, roles=args.roles)
    display(found)
    if args.out:
        magics.shell.user_ns[args.out] = found


def _record_variable(automl, name: str) -> None:
    """Note in the stored search which variable holds it, so the name still finds it after a restart."""
    from ..engine.store import RunStore

    if getattr(automl, "run_dir_", None) is None:
        return
    store = RunStore(automl.run_dir_)
    try:
        store.set_meta(variable=name)
    finally:
        store.close()


def search_options(magics, args) -> dict:
    """AutoML keyword arguments: the options given, else the ``AutoMLMagics`` trait defaults."""
    options = {}
    for option in SEARCH_OPTIONS:
        if option.param is None:
            continue
        value = getattr(args, option.dest)
        if value is None and option.trait:
            value = getattr(magics, option.dest)
            if option.from_trait is not None:
                value = option.from_trait(value)
        if value == NO_TIME_BUDGET:  # "none" (--time-budget, --decision-threshold): the keyword is None
            options[option.param] = None
        elif value is not None:
            options[option.param] = value
    if isinstance(options.get("cv"), str) and options["cv"].strip().isdigit():
        options["cv"] = int(options["cv"])
    for key in ("models", "exclude"):
        if key in options and not options[key]:
            del options[key]
    return options


def check_options(options: dict) -> None:
    """Refuse unknown metrics, models and cv schemes, and conflicts, before the data is touched."""
    from ..engine.metrics import METRICS, get_metric, metric_name
    from ..engine.space import FAMILIES, resolve_families
    from ..engine.validation import parse_cv
    from ..exceptions import unknown_choice

    task, metric = options.get("task", "auto"), options.get("metric", "auto")
    models, exclude = options.get("models") or [], options.get("exclude") or []
    both = sorted(set(models) & set(exclude))
    if both:
        raise UsageError(
            f"--models and --exclude both name {', '.join(both)}; keep it in one of them."
        )
    if task != "auto":
        get_metric(metric, task)
        resolve_families(task, models, exclude)
    else:
        if metric_name(metric) not in (*METRICS, "auto"):
            raise unknown_choice("metric", metric, METRICS, code="unknown_metric")
        for model in models + exclude:
            if model not in FAMILIES:
                raise unknown_choice("model", model, FAMILIES, code="unknown_model")
    parse_cv(options.get("cv", "auto"))
    prefer = options.get("prefer", "accurate")
    if options.get("ensemble") and prefer != "accurate":
        raise UsageError(
            f"--ensemble combines the most accurate trials, so it needs --prefer accurate; got "
            f"--prefer {prefer}. Drop one of them (or set %config AutoMLMagics.ensemble = False)."
        )
    if options.get("backend") == "spark" and importlib.util.find_spec("pyspark") is None:
        raise UsageError(
            "--backend spark needs pyspark, which is not installed. Install it with: "
            "pip install 'nbautoml[spark]' (or: pip install pyspark), or use --backend local."
        )


def resolve_resume(magics, name: str) -> tuple[str, dict]:
    """The search directory to resume and its stored settings.

    ``name`` is a result variable of this kernel, a search name from
    ``%automl_history``, the path of a search directory, or the variable a
    search was bound to before a kernel restart.
    """
    from ..engine.store import RunStore, find_run, list_runs

    value = magics.shell.user_ns.get(name) if name.isidentifier() else None
    path = Path(value.run_dir_) if getattr(value, "run_dir_", None) is not None else None
    if path is None or not RunStore.exists(path):
        path = find_run(magics.search_base(), name)  # a path, a search name, or a variable's stored search
    if path is not None:
        store = RunStore(path)
        try:
            return str(path), store.meta()
        finally:
            store.close()
    known = [r["name"] for r in list_runs(magics.search_base())]
    listing = (
        f" Known searches: {', '.join(known[:20])}."
        if known
        else " There are no stored searches yet."
    )
    raise UsageError(
        f"No search named {name!r} to resume in {magics.search_base()}."
        f"{closest_hint(name, known)}{listing} See %automl_history."
    )


def _renamed(y, target: str):
    import pandas as pd

    if isinstance(y, pd.Series):
        return y.rename(target)
    return pd.Series(y, name=target)


# --------------------------------------------------------------------------- live display


def make_listener(widgets: bool | None):
    """The live display: the render panel when it is installed, else a text progress bar.

    ``widgets=None`` lets the panel choose (widgets when a front end shows them).
    """
    try:
        from ..render.panel import make_panel
    except ImportError as err:
        if getattr(err, "name", "") not in ("nbautoml.render.panel",):
            log.warning(
                "The live panel could not be imported (%s); showing a text progress bar.", err
            )
        from ..render.progress import TqdmProgress

        return TqdmProgress(file=sys.stdout)
    try:
        return make_panel(widgets=widgets)
    except Exception as exc:  # a broken display must not prevent the search
        log.warning(
            "The live panel failed to start (%s: %s); showing a text progress bar.",
            type(exc).__name__,
            exc,
        )
        from ..render.progress import TqdmProgress

        return TqdmProgress(file=sys.stdout)


def finish(listener, result):
    """Let the panel show its final static output; without a panel, return the result to display."""
    done = getattr(listener, "finish", None)
    if done is None:
        return result
    try:
        done(result)
    except Exception as exc:  # a broken renderer must not lose the result
        log.warning("The panel failed to show the result (%s: %s).", type(exc).__name__, exc)
        return result
    return None


def history_record(name: str, result) -> dict:
    """What ``%automl_history`` shows for a search of this kernel."""
    run_dir = getattr(result, "run_dir_", None)
    return {
        "variable": name,
        "search": Path(run_dir).name if run_dir else "",
        "target": getattr(result, "target_", None),
        "task": getattr(result, "task_", None),
        "metric": getattr(result, "metric_", None),
        "best_score": getattr(result, "best_score_", None),
        "trials": len(getattr(result, "trials_", [])),
        "status": getattr(result, "status_", None),
        "created": time.time(),
        "path": str(run_dir) if run_dir else "",
    }
