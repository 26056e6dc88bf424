"""Command line: ``nbautoml run data.csv --target y``, ``nbautoml serve MODEL``, ``nbautoml export
MODEL OUT.onnx --check DATA``, ``nbautoml predict MODEL DATA``, ``nbautoml monitor MODEL DATA``,
``nbautoml explain MODEL DATA`` (also ``python -m nbautoml``)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import warnings
from pathlib import Path

from .arguments import checked, duration
from .exceptions import ConfigError, DataError, NbAutoMLError, SearchFailedError
from .render.text import shown_path

RUN_MODEL_FILE = "model.nbautoml"
"""Where ``nbautoml run`` without ``--out`` saves the model: this file in the search directory."""


def _time_budget(text):
    """Seconds > 0, or ``none`` (no clock: ``--max-evals`` ends the search)."""
    return None if text.strip().lower() == "none" else duration(text)


_decision_threshold = checked("nbautoml.engine.threshold:parse_decision_threshold", "decision threshold")
"""``auto``, ``none`` or a probability between 0 and 1."""


def _positive(kind, allow_zero: bool = False):
    """An argparse type: a ``kind`` (int or float) > 0, or >= 0 with ``allow_zero``."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value < 0 or (value == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(f"must be {'>=' if allow_zero else '>'} 0, got {text}")
        return value

    return parse


jobs_value = checked("nbautoml.engine.workers:parse_n_jobs", "jobs")
"""``--jobs``: ``auto``, -1 or an int >= 1."""


def _csv_list(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def _roles(text):
    from .engine.data import roles_argument

    return roles_argument(text)


_roles.__name__ = "COLUMN=ROLE list"


DATA_HELP = "data file: CSV (also .gz, .zip), Parquet, Feather, JSON or Excel"


def build_parser(project_defaults: bool = False) -> argparse.ArgumentParser:
    """The ``nbautoml`` parser; with ``project_defaults``, ``run`` takes its defaults from
    ``[tool.nbautoml]`` of the nearest pyproject.toml (:func:`_project_defaults`)."""
    parser = argparse.ArgumentParser(prog="nbautoml", allow_abbrev=False,
                                     description="Model automation on a CSV: search, validate, save.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", allow_abbrev=False, help="search pipelines on a data file (CSV, Parquet, Feather, JSON, Excel)",
                         description="Search preprocessing + model pipelines on a table and save the best.",
                         epilog="example: nbautoml run titanic.csv --target Survived --time-budget 60 "
                                "--out models/titanic")
    run.add_argument("data", help=DATA_HELP)
    run.add_argument("--target", help="target column (required; without it the error lists the columns)")
    run.add_argument("--task", default="auto", choices=["auto", "binary", "multiclass", "regression"])
    run.add_argument("--metric", default="auto")
    run.add_argument("--time-budget", type=_time_budget, default=60.0,
                     help="seconds, or 90s, 2m, 1h (default 60); 'none' with --max-evals: no clock, and the same seed "
                          "repeats the same trials with 1 to 4 --jobs")
    run.add_argument("--max-evals", type=_positive(int))
    run.add_argument("--trial-timeout", type=duration, metavar="SEC",
                     help="stop a trial after SEC seconds (or 30s, 2m); the search goes on")
    run.add_argument("--memory-limit", type=_positive(float), metavar="MB",
                     help="stop a trial that needs more than MB megabytes; the search goes on (enforced on Linux)")
    run.add_argument("--early-stop", type=_positive(int))
    run.add_argument("--cv", default="auto", help="auto, 5 (folds), kfold:5, stratified:5, holdout:0.2, timeseries:5, or "
                     "group:COL (folds that keep each value of the column COL together; not a feature then)")
    run.add_argument("--roles", type=_roles, metavar="COL=ROLE,...",
                     help="override column roles (numeric, categorical, datetime, text, dropped), e.g. "
                          "Pclass=categorical,Cabin=dropped; nbautoml plan shows them first")
    run.add_argument("--models", type=_csv_list, help="comma-separated families to search")
    run.add_argument("--exclude", type=_csv_list, help="comma-separated families to leave out")
    run.add_argument("--algo", default="tpe", choices=["tpe", "random", "anneal", "atpe"])
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--jobs", type=jobs_value, default="auto",
                     help="trials in parallel: an int, -1 for one per CPU, or auto (default: one per "
                          "CPU up to 10 million data cells, else 1)")
    run.add_argument("--no-ensemble", action="store_true",
                     help="refit the best single pipeline only (default: an ensemble of the best "
                          "trials when it beats it)")
    run.add_argument("--decision-threshold", type=_decision_threshold, default="auto", metavar="auto|none|P",
                     help="binary tasks: predict the positive class from probability P on; auto (default) "
                          "chooses P on the out-of-fold probabilities for accuracy, balanced_accuracy, f1 "
                          "and f1_macro when it beats 0.5 by more than 0.1 %%; none keeps 0.5")
    run.add_argument("--no-prune", action="store_true",
                     help="keep every model family in the search (default: a family far behind the "
                          "best one gets no more trials)")
    _reading_arguments(run)
    run.add_argument("--search-dir", help="where search directories go (default ./nbautoml_runs)")
    run.add_argument("--name", help="name of the search directory")
    run.add_argument("--resume", help="continue the search with this name or directory; --time-budget "
                     "counts the whole search, the time already spent included")
    run.add_argument("--force", action="store_true",
                     help="with --resume, when the data changed: start a new search on this data from "
                          "the old search's 5 best configs (the old one is left as it is)")
    run.add_argument("--out", help="save the best model to this path (.nbautoml artifact), or "
                     f"registry:NAME to register it (default: {RUN_MODEL_FILE} in the search directory)")
    run.add_argument("--show-pipeline", action="store_true",
                     help="also print the fitted scikit-learn pipeline, step by step")
    run.add_argument("--quiet", action="store_true", help="no progress (a bar on a terminal, lines in a log)")
    if project_defaults:
        _project_defaults(run)

    plan = sub.add_parser("plan", allow_abbrev=False, help="show how a search would treat each column",
                          description="The column plan of a search (role, reason, notes), without searching.",
                          epilog="example: nbautoml plan titanic.csv --target Survived --roles Pclass=categorical")
    plan.add_argument("data", help=DATA_HELP)
    plan.add_argument("--target", help="target column (without it: the features only)")
    plan.add_argument("--task", default="auto", choices=["auto", "binary", "multiclass", "regression"])
    plan.add_argument("--roles", type=_roles, metavar="COL=ROLE,...", help="override column roles")
    _reading_arguments(plan)

    serve = sub.add_parser("serve", allow_abbrev=False, help="serve a saved model as an HTTP JSON API",
                           description="Serve a model: POST /predict, GET /health, GET /model "
                                       "(needs pip install 'nbautoml[serve]').",
                           epilog="examples: nbautoml serve models/titanic.nbautoml --port 8000; "
                                  "nbautoml serve titanic@production")
    _model_arguments(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this "
                       "machine only; 0.0.0.0 exposes the model to the network)")
    serve.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    serve.add_argument("--max-body-mb", type=_positive(float), default=10.0,
                       help="largest request body in MB (default 10)")

    export = sub.add_parser("export", allow_abbrev=False, help="export a saved model to ONNX",
                            description="Export a model to ONNX and check ONNX Runtime's predictions "
                                        "against scikit-learn's (needs pip install 'nbautoml[onnx]').",
                            epilog="example: nbautoml export models/churn.nbautoml churn.onnx --check "
                                   "holdout.csv")
    _model_arguments(export)
    export.add_argument("out", help="the .onnx file to write (nothing is written when the check fails)")
    export.add_argument("--check", metavar="DATA", help="CSV/Parquet rows to check the export on (held-out "
                        "rows; a target column is ignored); without it nothing is checked")
    export.add_argument("--encoding", default=None, help="text encoding of the --check CSV")

    predict = sub.add_parser("predict", allow_abbrev=False, help="predict the rows of a data file with a saved model",
                             description="Predict the rows of a data file with a saved model (the training "
                                         "columns are checked as at any prediction; other columns are ignored). "
                                         "The predictions go to --out, or to standard output as CSV.",
                             epilog="example: nbautoml predict models/titanic.nbautoml new.csv --keep PassengerId "
                                    "--proba --out predictions.csv")
    _model_arguments(predict)
    predict.add_argument("data", help=DATA_HELP)
    predict.add_argument("--out", metavar="FILE", help="write the predictions to this file (.csv, .parquet or "
                         ".jsonl; written whole or not at all)")
    predict.add_argument("--proba", action="store_true", help="add a column 'probability CLASS' per class")
    predict.add_argument("--keep", type=_csv_list, metavar="COL,...",
                         help="copy these columns of the data in front of the predictions (an ID, say)")
    predict.add_argument("--quiet", action="store_true", help="no progress on standard error")
    predict.add_argument("--chunk-rows", type=_positive(int, allow_zero=True), default=None, metavar="N",
                         help="read, predict and write N rows at a time, so memory holds one chunk of a file "
                              "larger than memory (default 100000; 0: the whole file at once)")
    _reading_arguments(predict)

    explain = sub.add_parser("explain", allow_abbrev=False,
                             help="explain a saved model on labelled rows: importance, dependence, one row",
                             description="Explain a saved model on rows with its target column (held-out or "
                                         "recent labelled rows): which columns it relies on (permutation "
                                         "importance, in words and as a table), how its output moves with the "
                                         "top columns (partial dependence) and, with --row, why one row got "
                                         "its prediction.",
                             epilog="example: nbautoml explain models/titanic.nbautoml test.csv --row 0 "
                                    "--figures explain/")
    _model_arguments(explain)
    explain.add_argument("data", help=DATA_HELP + " with the model's target column")
    explain.add_argument("--row", type=int, metavar="N", help="also explain the prediction of row N of the data "
                         "(its position, from 0)")
    explain.add_argument("--top", type=_positive(int), default=5, metavar="K",
                         help="partial dependence of the K most important columns (default 5)")
    explain.add_argument("--figures", metavar="DIR", help="also write the plots as PNG files into DIR "
                         "(importance.png, dependence.png, row.png)")
    _reading_arguments(explain)

    monitor = sub.add_parser("monitor", allow_abbrev=False,
                             help="check a batch of new rows against what a saved model saw in training",
                             description="Check new rows for drift, data quality, anomalies and (with labels) "
                                         "performance, against the model's reference profile; the batch is "
                                         "added to the model's monitoring history. Exit status: 0 when the "
                                         "status is below --fail-on, 1 when it reaches it, 2 on an error.",
                             epilog="examples: nbautoml monitor titanic@production batch.csv --labels Survived; "
                                    "nbautoml monitor models/churn.nbautoml week-48.parquet --json --fail-on warn")
    _model_arguments(monitor)
    monitor.add_argument("data", nargs="?", help=DATA_HELP + " (optional with --history)")
    monitor.add_argument("--labels", metavar="COL", help="the column with the true targets (default: the "
                         "model's target column, when the data has it)")
    monitor.add_argument("--threshold", action="append", type=_threshold, metavar="KEY=VALUE",
                         help="override a threshold of nbautoml.monitor.Thresholds, e.g. psi_warn=0.2 "
                         "(repeatable)")
    monitor.add_argument("--policy", action="store_true",
                         help="say whether to retrain, by the retraining policy stored for the registered model")
    monitor.add_argument("--name", help="the name the batch is recorded under in the monitoring history "
                         "(default: the model's registry name, search name or file name)")
    monitor.add_argument("--no-history", action="store_true", help="do not record the batch in the history")
    monitor.add_argument("--history", action="store_true",
                         help="print the model's monitored batches so far, oldest first (after the batch's report)")
    monitor.add_argument("--fail-on", choices=["alert", "warn", "never"], default="alert",
                         help="exit with status 1 when the report's status is this or worse (default alert)")
    monitor.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    _reading_arguments(monitor)
    return parser


def _reading_arguments(parser) -> None:
    """How to read a data file: its text encoding and, for Excel, the sheet."""
    parser.add_argument("--encoding", help="text encoding of the CSV (default: UTF-8, then detected)")
    parser.add_argument("--sheet", help="the sheet of an Excel file: its name or position from 0 "
                        "(default: the first)")


_threshold = checked("nbautoml.monitor.checks:threshold_pair", "threshold")


def _model_arguments(parser) -> None:
    """The saved model, and the options that say where it comes from and what to trust in it."""
    parser.add_argument("model", help="a .nbautoml file, or a registry reference NAME[@VERSION|@STAGE]")
    parser.add_argument("--registry", help="the project directory of the registry (default $NBAUTOML_HOME "
                        "or ./.nbautoml)")
    parser.add_argument("--trusted", action="append", default=None, metavar="TYPE",
                        help="trust this type beyond nbautoml's allowlist (repeatable; review it first)")
    parser.add_argument("--sha256", metavar="HEX", help="the SHA-256 the model file must have (the one you "
                        "recorded when it was made)")
    parser.add_argument("--no-verify", action="store_true",
                        help="load a file whose integrity nothing can check (a bare skops file), with a warning")
    parser.add_argument("--allow-version-mismatch", action="store_true",
                        help="load even if the scikit-learn version differs from the saved one")


def cmd_run(args) -> int:
    from .engine.automl import AutoML
    from .render.progress import terminal_progress

    if args.out:
        _check_out(args.out)  # before the search, not after it
    frame = _read_data(args.data, args.encoding, quiet=args.quiet, sheet=args.sheet)
    if not args.target:
        columns = [str(c) for c in frame.columns]
        raise ConfigError(f"Name the column to predict with --target COLUMN. {args.data} has {len(columns)} "
                          f"columns: {', '.join(columns[:30])}{', ...' if len(columns) > 30 else ''}.",
                          code="no_target")
    progress = terminal_progress(sys.stderr, disable=args.quiet)
    automl = AutoML(task=args.task, metric=args.metric, time_budget=args.time_budget, roles=args.roles,
                    max_evals=args.max_evals, trial_timeout=args.trial_timeout, early_stop=args.early_stop,
                    memory_limit=args.memory_limit,
                    cv=args.cv, models=args.models, exclude=args.exclude, algo=args.algo, seed=args.seed,
                    n_jobs=args.jobs, search_dir=args.search_dir, name=args.name, resume=args.resume,
                    force_resume=args.force,
                    ensemble=False if args.no_ensemble else "auto", prune_families=not args.no_prune,
                    decision_threshold=args.decision_threshold, callbacks=[progress])
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            automl.fit(frame, target=args.target)
        except SearchFailedError as err:
            raise _failed_search(err, args) from None
    wall = time.perf_counter() - started
    print(automl)
    asked = "no time budget" if args.time_budget is None else f"of {args.time_budget:g} s asked"
    print(f"  wall time: {wall:.1f} s {asked}")
    if automl.status_ == "interrupted":  # by Ctrl-C, during the search or its final refit
        print(f"  to continue it: nbautoml run {shlex.quote(args.data)} --target {shlex.quote(args.target)} --resume "
              f"{automl.run_dir_.name} --time-budget SECONDS (the budget counts the time already spent: "
              f"{automl.elapsed_:.0f} s)")
    print()
    from .engine.ensemble import member_descriptions
    from .engine.space import describe
    from .render.text import board_legend, result_board_text

    print(result_board_text(automl, top=10, width=100))
    print(board_legend(automl))
    print()
    if automl.best_config_ is None:
        print("No model: the search was interrupted before any trial finished, so nothing was saved.")
        return 130
    if automl.ensemble_ is not None:
        weights = automl.ensemble_.weights
        configs = {t.trial_id: t.config for t in automl.trials_ if t.trial_id in weights}
        print(f"Model (an ensemble of {automl.ensemble_.size} pipelines, weight × trial):")
        for weight, member in zip(weights.values(), member_descriptions(weights, configs)):
            print(f"  ×{weight} {member}")
    else:
        print(f"Model (trial {automl.best_trial_.trial_id}): {describe(automl.best_config_)}")
    if args.show_pipeline:
        print(automl.best_pipeline)
    from .persist import save

    # without --out the model goes into its search directory: a search a user ran is never lost
    saved = save(automl, args.out or str(Path(automl.run_dir_) / RUN_MODEL_FILE))
    if hasattr(saved, "ref"):
        print(f"\nSaved the model to {saved.ref} in the registry ({saved.path})")
        model = saved.ref
    else:
        print(f"\nSaved the model to {shown_path(saved)}" + ("" if args.out else " (--out PATH saves it elsewhere)"))
        model = shlex.quote(shown_path(saved))
    print(f"  predict: nbautoml predict {model} NEW.csv --out predictions.csv")
    print(f"  serve:   nbautoml serve {model} --port 8000")
    return 0


def _failed_search(err, args) -> SearchFailedError:
    """``err`` said for the command line: its options as flags, and each failed trial listed
    (the Python message points at ``err.trials``, which a shell cannot reach)."""
    budget = "none" if args.time_budget is None else f"{args.time_budget:g}s"
    if err.code == "budget_too_small":
        message = (f"No trial finished within --time-budget {budget}: every one was stopped at the end of the "
                   "budget. Give a larger --time-budget, or try faster models first, e.g. --models "
                   "logistic_regression,ridge.")
    elif err.code == "no_trials":
        message = "No trial could run within the budget. Give a larger --time-budget or --max-evals."
    else:
        trials = getattr(err, "trials", [])
        lines = [f"  trial {t.trial_id} {t.family}: {t.status}: {(t.error or '').splitlines()[0][:160]}"
                 for t in trials[:20]]
        more = [f"  ... and {len(trials) - 20} more"] if len(trials) > 20 else []
        common = next(iter(err.details.get("errors", {}).items()), None)
        traceback = "" if not err.traceback else (
            "\nThe traceback of one of them, its last lines:\n"
            + "\n".join("    " + line for line in err.traceback.splitlines()))
        run = Path(err.details.get("run_dir", "."))
        message = (f"All {len(trials)} trials failed"
                   + (f"; the most common failure ({common[1]} of {len(trials)}): {common[0]}" if common else "")
                   + ".\n" + "\n".join(lines + more) + traceback
                   + f"\nThe search directory {shown_path(run)} keeps every trial with its traceback and "
                   f"output; nbautoml run {shlex.quote(args.data)} --target {shlex.quote(args.target)} --resume "
                   f"{run.name} continues it.")
    return SearchFailedError(message, code=err.code, **err.details)


def _check_out(out: str) -> None:
    """Refuse an ``--out`` the save would refuse, before spending the time budget."""
    from .registry import check_name

    if out.startswith("registry:"):
        check_name(out[len("registry:"):])
    elif Path(out).is_dir():
        raise ConfigError(f"--out {out!r} is a directory; give a file path such as "
                          f"{str(Path(out) / 'model.nbautoml')!r}.", code="bad_out")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    text = str(message)
    print(f"nbautoml: warning: {text.removeprefix('nbautoml: ')}", file=sys.stderr)


def _load_model(args):
    """The model ``args.model`` names: a file, or a registry reference."""
    from .persist import UntrustedArtifactError, load
    from .registry import Registry

    try:
        if Path(args.model).is_file() or args.model.endswith(".nbautoml") or "/" in args.model:
            return load(args.model, trusted=args.trusted, allow_version_mismatch=args.allow_version_mismatch,
                        sha256=args.sha256, verify=not args.no_verify)
        return Registry(args.registry).load(args.model, trusted=args.trusted,
                                            allow_version_mismatch=args.allow_version_mismatch)
    except UntrustedArtifactError as err:
        retold = err.for_option("--trusted")
        if retold is None:
            raise
        raise retold from None


def _port(text):
    """``--port``: an int from 1 to 65535."""
    value = _positive(int)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 1 to 65535; got {text}")
    return value


_port.__name__ = "port"


def _check_address(host: str, port: int) -> None:
    """Refuse an address the server could not listen on, with the reason, before loading the model."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(infos[0][4])
    except OSError as err:
        raise ConfigError(f"Cannot serve at {host}:{port}: {err.strerror or err}. Give another --port, or a "
                          "--host of this machine (127.0.0.1, or 0.0.0.0 for every interface).",
                          code="bad_address") from None


def cmd_serve(args) -> int:
    from .serve import _require, create_app

    uvicorn = _require("uvicorn")
    _check_address(args.host, args.port)
    model = _load_model(args)
    app = create_app(model, max_body_bytes=int(args.max_body_mb * 2**20))
    name = model.registry_ref_ or str(model.path_)
    print(f"Serving {name} ({model.task_} on {model.target_!r}) at http://{args.host}:{args.port}  "
          "POST /predict, GET /health, GET /model. Ctrl-C stops.", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_export(args) -> int:
    from .engine.reading import read_table
    from .export import export_onnx
    from .schema import model_text_columns

    model = _load_model(args)
    check_rows = None if args.check is None else read_table(args.check, encoding=args.encoding,
                                                            text_columns=model_text_columns(model))
    if check_rows is not None and model.target_ in check_rows.columns:
        check_rows = check_rows.drop(columns=[model.target_])
    report = export_onnx(model, args.out, check_rows=check_rows)
    print(report)
    print(f"  inputs, one [N, 1] tensor per column: {', '.join(report.input_names.values())}")
    if report.string_inputs:
        print(f"  strings (a missing value as \"missing\"): {', '.join(report.string_inputs)}")
    if report.date_inputs:
        print(f"  float64 days since 1970-01-01 (NaN when missing): {', '.join(report.date_inputs)}")
    if report.text_inputs:
        print(f"  text as strings, lowercased, accents stripped (a missing value as \"\"): "
              f"{', '.join(report.text_inputs)}")
    print(f"  outputs: {', '.join(report.outputs)}")
    if check_rows is None:
        print("  not checked against scikit-learn: add --check DATA with held-out rows", file=sys.stderr)
    return 0


def cmd_predict(args) -> int:
    from .batch import CHUNK_ROWS, output_format, predict_file
    from .render.progress import RowProgress

    if args.out:
        output_format(args.out)  # a bad --out is refused before the model is loaded
    model = _load_model(args)
    progress = RowProgress(sys.stderr, disable=args.quiet)

    def on_chunk(run) -> None:
        if run.chunks == 1 and run.notes:  # how the file was read, before a long job goes on
            print(f"read {args.data}: {', '.join(run.notes)}", file=sys.stderr)
        progress(run)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            run = predict_file(model, args.data, args.out, proba=args.proba, keep=args.keep or (),
                               chunk_rows=CHUNK_ROWS if args.chunk_rows is None else args.chunk_rows,
                               encoding=args.encoding, sheet=args.sheet, on_chunk=on_chunk)
        finally:
            progress.close()
    if args.out:
        chunks = f" (in {run.chunks} chunks)" if run.chunks > 1 else ""
        print(f"Wrote {run.rows} predictions to {run.path}{chunks}", file=sys.stderr)
    return 0


#: how bad each monitoring status is, for ``--fail-on``
_SEVERITY = {"ok": 0, "warn": 1, "alert": 2, "never": 3}


def cmd_monitor(args) -> int:
    import json

    from .monitor import Thresholds, monitor

    if args.data is None and not args.history:
        raise ConfigError("Give the new rows to check (nbautoml monitor MODEL DATA), or --history for the "
                          "batches checked so far.", code="no_data")
    if args.data is None:
        return _print_history(_load_model(args), args)
    try:
        thresholds = Thresholds.coerce(dict(args.threshold) if args.threshold else None)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"--threshold: {err}", code="bad_threshold") from None
    model = _load_model(args)
    frame = _read_data(args.data, args.encoding, sheet=args.sheet, model=model)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            report = monitor(model, frame, labels=args.labels, thresholds=thresholds, history=not args.no_history,
                             name=args.name, policy="registry" if args.policy else None)
        except ValueError as err:  # labels that name no column, a model without a profile
            if isinstance(err, NbAutoMLError):
                raise
            raise DataError(str(err), code="bad_monitor_input") from None
    print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if args.json else report)
    if args.history:
        print()
        _print_history(model, args)
    return 1 if _SEVERITY[report.status] >= _SEVERITY[args.fail_on] else 0


def cmd_explain(args) -> int:
    from .atomic import atomic_write
    from .render.plots import figure_png

    if args.figures:
        figures = Path(args.figures)
        if figures.exists() and not figures.is_dir():
            raise ConfigError(f"--figures {args.figures!r} is a file; give a directory (made if missing).",
                              code="bad_out")
    model = _load_model(args)
    frame = _read_data(args.data, args.encoding, sheet=args.sheet, model=model)
    if args.row is not None and not -len(frame) <= args.row < len(frame):
        raise ConfigError(f"--row {args.row} is out of range: {args.data} has {len(frame)} rows.", code="bad_row")
    if model.target_ in frame.columns:  # else explain() says what to give, at once
        print(f"Explaining the model on {len(frame):,} rows of {args.data}: permutation importance of "
              f"{frame.shape[1] - 1} columns, partial dependence{'' if args.row is None else f', row {args.row}'}"
              " ...", file=sys.stderr, flush=True)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        explanation = model.explain(frame, row=args.row, top=args.top)
    print(explanation)
    if args.figures:
        figures.mkdir(parents=True, exist_ok=True)
        drawn = {"importance.png": explanation.plot_importance()}
        if explanation.dependence:
            drawn["dependence.png"] = explanation.plot_dependence()
        if explanation.row is not None:
            drawn["row.png"] = explanation.plot_row()
        for name, figure in drawn.items():
            atomic_write(figures / name, figure_png(figure), what="the figure")
        print(f"\nWrote {', '.join(drawn)} to {shown_path(figures)}")
    return 0


def _print_history(model, args) -> int:
    """Print the monitoring history of ``model`` (as text, or JSON records with ``--json``)."""
    from .monitor import _identity
    from .monitor.history import history

    name = _identity(model, args.name)[0]
    batches = history(name)
    if args.json:
        print(batches.to_json(orient="records", date_format="iso"))
    elif batches.empty:
        print(f"No batch of {name!r} has been monitored yet.")
    else:
        shown = batches.drop(columns=["name"]).assign(time=batches["time"].astype(str).str[:19])
        print(f"Monitoring history of {name!r} ({len(batches)} batch{'es' if len(batches) != 1 else ''}, "
              "oldest first):")
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def _read_data(path, encoding, quiet: bool = False, sheet=None, model=None):
    """The table at ``path`` (for ``model``: the columns it was trained on as text read as text);
    on stderr, how it was read when it was not plain UTF-8 with commas."""
    from .engine.reading import read_table, reading_notes
    from .schema import model_text_columns

    frame = read_table(path, encoding=encoding, sheet=sheet,
                       text_columns=model_text_columns(model))
    notes = reading_notes(frame)
    if notes and not quiet:
        print(f"read {path}: {', '.join(notes)}", file=sys.stderr)
    return frame


def cmd_plan(args) -> int:
    from .engine.prepare import plan

    frame = _read_data(args.data, args.encoding, sheet=args.sheet)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        found = plan(frame, args.target, task=args.task, roles=args.roles)
    print(found)
    return 0


def _project_defaults(run: argparse.ArgumentParser) -> None:
    """``nbautoml run``'s defaults from ``[tool.nbautoml]`` of the nearest pyproject.toml (the
    options it has; a command line option still wins). A bad value is a usage error naming it."""
    from .settings import project_defaults

    try:
        defaults = project_defaults()
    except NbAutoMLError as err:
        run.error(str(err))
    actions = {a.dest: a for a in run._actions}
    chosen = {}
    for key, value in defaults.values.items():
        if key == "ensemble":
            key, value = "no_ensemble", not value
        if key not in actions:
            continue  # an option of the magics only (name, widgets, prefer, backend)
        action = actions[key]
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        try:
            value = action.type(text) if action.type is not None and not isinstance(value, bool) else value
        except (argparse.ArgumentTypeError, ValueError, TypeError) as err:
            run.error(f"{defaults.describe(key)} = {value!r}: {err}")
        if action.choices is not None and value not in action.choices:
            run.error(f"{defaults.describe(key)} = {value!r}: choose from {', '.join(map(str, action.choices))}")
        chosen[key] = value
    run.set_defaults(**chosen)


def main(argv=None) -> int:
    parser = build_parser(project_defaults=(sys.argv[1:] if argv is None else list(argv))[:1] == ["run"])
    args = parser.parse_args(argv)
    commands = {"run": cmd_run, "plan": cmd_plan, "serve": cmd_serve, "export": cmd_export,
                "predict": cmd_predict, "monitor": cmd_monitor, "explain": cmd_explain}
    if args.command not in commands:
        parser.error(f"unknown command {args.command}")
    try:
        code = commands[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, where it is handled, not at exit
        return code
    except NbAutoMLError as err:
        print(f"nbautoml: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nbautoml: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `nbautoml run ... | head`: the reader left, nothing to report
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
