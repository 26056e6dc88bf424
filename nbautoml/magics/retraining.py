"""``%automl_retrain``, ``%automl_promote``, ``%automl_rollback`` and ``%automl_monitor --auto-retrain``.

Thin wrappers over :mod:`nbautoml.retrain`: the decision rule, the registry
records and the display all live there.
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.display import display

from .parsing import resolve_data


def _frames(magics, tokens, what: str, schema: dict | None = None):
    """A DataFrame, or a list of them (batches, oldest first), from DATA (a file read with the
    text columns of the model whose input ``schema`` this is)."""
    import pandas as pd

    from ..schema import text_columns

    value = resolve_data(magics.shell, " ".join(tokens), what=what, text_columns=text_columns(schema))
    parts = list(value) if isinstance(value, (list, tuple)) else [value]
    bad = [type(p).__name__ for p in parts if not isinstance(p, pd.DataFrame)]
    if bad or not parts:
        raise UsageError(f"{what} gave {bad[0] if bad else 'an empty list'}; expected a DataFrame, a "
                         "list of DataFrames (batches, oldest first) or a data file (CSV, Parquet, JSON, Excel, ...).")
    return parts if isinstance(value, (list, tuple)) else value


def _production_schema(name: str) -> dict | None:
    """The input schema on the card of ``name@production`` (None when there is none: the
    retraining itself then says why)."""
    from ..registry import Registry, RegistryError

    try:
        return Registry().card(f"{name}@production").get("input_schema")
    except RegistryError:
        return None


def _model_name(text: str) -> str:
    from ..registry import RegistryError, parse_ref

    try:
        name, which = parse_ref(text)
    except RegistryError as err:
        raise UsageError(str(err)) from None
    if which is not None:
        raise UsageError(f"%automl_retrain takes the registered NAME ({name!r}); the champion is "
                         f"always its production version ({name}@production).")
    return name


def retrain(magics, args):
    """Retrain NAME on DATA, compare with the production version, promote or keep it."""
    from ..retrain import retrain as run_retrain

    name = _model_name(args.name)
    schema = _production_schema(name)  # files are read as the champion's training data was
    new = _frames(magics, args.data, "DATA", schema)
    old = _frames(magics, [args.old], "--old", schema) if args.old else None
    result = run_retrain(name, new, target=args.target, data=args.data_mode, old_data=old,
                         window=args.window, time_budget=args.time_budget, max_evals=args.max_evals)
    if args.out:
        magics.shell.user_ns[args.out] = result
    return result


def promote(magics, args):
    """Point production at NAME@VERSION, with the reason recorded."""
    from ..retrain import promote as run_promote

    entry = run_promote(args.ref, " ".join(args.reason or []))
    print(f"{entry.name}@production is now v{entry.version}; the change and its reason are in "
          f"nbautoml.Registry().history({entry.name!r}).")
    return entry


def rollback(magics, args):
    """Put back the production version that preceded the current one (or --to VERSION)."""
    from ..retrain import rollback as run_rollback

    entry = run_rollback(_model_name(args.name), " ".join(args.reason or []), to=args.to)
    print(f"{entry.name}@production is back to v{entry.version} (SHA-256 {entry.sha256[:12]}…, the "
          "file registered then).")
    return entry


def check_registered(model, shown_name: str) -> None:
    """``--auto-retrain`` acts on a registered model's production version."""
    if not getattr(model, "registry_ref_", None):
        raise UsageError(
            f"--auto-retrain needs a registered model, with a production version: register it "
            f"with %automl_save {shown_name} registry:NAME --stage production, then run "
            "%automl_monitor NAME@production DATA --auto-retrain.")


def auto_retrain(magics, args, model, report) -> None:
    """Show ``report``; when the stored policy says so, retrain on the batches since the alert.

    The labelled batches that recommended retraining are collected per model
    (in this kernel) until there are enough rows to train and compare; a batch
    that recommends nothing, or a new production version, starts over.
    """
    from ..exceptions import DataError
    from ..retrain import retrain as run_retrain

    display(report)
    name = report.name
    if report.action != "retrain":
        magics.pending_retrain.pop(name, None)
        print(f"No retraining: {report.recommendation}.")
        return
    target = model.target_
    batch = _frames(magics, args.data, "DATA", getattr(model, "schema_", None))
    if args.labels and args.labels != target:
        batch = batch.rename(columns={args.labels: target})
    if target not in batch.columns:
        print(f"Retraining recommended ({report.recommendation}), but DATA has no labels (no "
              f"{target!r} column, and retraining needs them). Monitor the batch again once its "
              f"labels are known, or run %automl_retrain {name} DATA.")
        return
    version, batches = magics.pending_retrain.get(name, (report.version, []))
    if version != report.version:
        batches = []
    batches = [*batches, batch]
    try:
        result = run_retrain(name, batches)
    except DataError as err:
        if err.code != "too_few_rows":
            raise
        magics.pending_retrain[name] = (report.version, batches)
        print(f"Retraining recommended ({report.recommendation}), not possible yet: {err} The "
              f"{len(batches)} batch(es) since the alert are kept; the next batch monitored with "
              "--auto-retrain is added to them.")
        return
    magics.pending_retrain.pop(name, None)
    display(result)
    if args.out:
        magics.shell.user_ns[f"{args.out}_retrain"] = result
