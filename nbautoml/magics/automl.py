"""The ``AutoMLMagics`` class: thin magics that parse, dispatch and display.

Each magic parses its line with ``magic_arguments`` (no abbreviations), then
calls one function of a subcommand module through :data:`COMMANDS`. Engine
errors (:class:`nbautoml.exceptions.NbAutoMLError`) become ``UsageError``
here and only here: a short message, no traceback.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument
from traitlets import Bool, Enum, Float, Int, List, TraitError, Unicode, Union, validate

from . import parsing
from .parsing import parse, search_arguments, strict_magic_arguments

#: subcommand -> "module:function" (modules are imported when first used)
COMMANDS = {
    "search": "nbautoml.magics.search:run",
    "plan": "nbautoml.magics.search:plan",
    "leaderboard": "nbautoml.magics.results:leaderboard",
    "plot": "nbautoml.magics.results:plot",
    "predict": "nbautoml.magics.results:predict",
    "code": "nbautoml.magics.results:code",
    "save": "nbautoml.magics.storage:save",
    "load": "nbautoml.magics.storage:load",
    "history": "nbautoml.magics.storage:history",
    "monitor": "nbautoml.magics.monitoring:monitor",
    "explain": "nbautoml.magics.explaining:explain",
    "pareto": "nbautoml.magics.explaining:pareto",
    "sanity": "nbautoml.magics.explaining:sanity",
    "deploy": "nbautoml.magics.deployment:deploy",
    "export": "nbautoml.magics.deployment:export",
    "retrain": "nbautoml.magics.retraining:retrain",
    "promote": "nbautoml.magics.retraining:promote",
    "rollback": "nbautoml.magics.retraining:rollback",
}

# Decorators list the arguments in parser order, top to bottom (positionals in that order too).
_NAME = argument(
    "name",
    nargs="?",
    type=parsing.identifier,
    metavar="NAME",
    help="The result variable (default: the last search of this kernel, else AutoMLMagics.name).",
)

#: NAME of a model: a variable, a saved file or a registry reference (see models.find_model)
_MODEL = argument(
    "name",
    metavar="NAME",
    help="A search result or loaded model in the notebook, a .nbautoml file, or a registry "
    "reference such as churn@production or churn@3.",
)


def _out(what: str):
    """The ``-o/--out VAR`` option of a magic whose result is ``what``."""
    return argument(
        "-o", "--out", type=parsing.identifier, metavar="VAR", help=f"Also store {what} in VAR."
    )


@magics_class
class AutoMLMagics(Magics):
    """Model automation in the notebook: ``%%automl`` and the ``%automl_*`` magics.

    The defaults of ``%%automl`` are configurable traits, e.g.
    ``%config AutoMLMagics.time_budget = 120``.
    """

    time_budget = Union([Float(), Unicode()], default_value=60.0,
                        help="Seconds for a search (--time-budget), or 'none' (max_evals ends it).").tag(config=True)
    max_evals = Int(None, allow_none=True, help="Stop after this many trials (--max-evals).").tag(
        config=True
    )
    early_stop = Int(None, allow_none=True, help="Stop after N trials without improvement.").tag(
        config=True
    )
    trial_timeout = Float(None, allow_none=True, help="Kill a trial after this many seconds.").tag(
        config=True
    )
    memory_limit = Float(None, allow_none=True, help="Stop a trial above this many MB (--memory-limit).").tag(
        config=True
    )
    task = Enum(["auto", "binary", "multiclass", "regression"], "auto", help="The task.").tag(
        config=True
    )
    metric = Unicode("auto", help="The metric (--metric).").tag(config=True)
    cv = Unicode("auto", help="The validation scheme (--cv).").tag(config=True)
    models = List(Unicode(), help="Only these model families (--models).").tag(config=True)
    exclude = List(Unicode(), help="Leave these model families out (--exclude).").tag(config=True)
    seed = Int(0, help="Random seed (--seed).").tag(config=True)
    jobs = Union([Int(), Unicode()], default_value="auto",
                 help="Trials in parallel: an int, -1 for one per CPU, or 'auto' (--jobs).").tag(config=True)
    prefer = Enum(
        ["accurate", "fast", "small"], "accurate", help="Which pipeline to refit (--prefer)."
    ).tag(config=True)
    ensemble = Bool(
        True, help="End with an ensemble of the best trials when it helps (False: --no-ensemble)."
    ).tag(config=True)
    decision_threshold = Union([Float(), Unicode()], default_value="auto",
                               help="Binary tasks: 'auto', 'none' or a probability (--decision-threshold)."
                               ).tag(config=True)
    backend = Enum(["local", "spark"], "local", help="Where trials run (--backend).").tag(
        config=True
    )
    name = Unicode("automl", help="Variable that receives a search's result (--name).").tag(
        config=True
    )
    widgets = Bool(True, help="Show the live widget panel when the front end supports it.").tag(
        config=True
    )
    search_dir = Unicode(
        None,
        allow_none=True,
        help="Where searches are stored (default: $NBAUTOML_HOME/runs or ./nbautoml_runs).",
    ).tag(config=True)

    @validate("time_budget", "trial_timeout", "memory_limit", "max_evals", "early_stop", "seed", "jobs")
    def _check_number(self, proposal):
        checks = {
            "time_budget": parsing.time_budget_value,
            "trial_timeout": parsing.positive_float,
            "memory_limit": parsing.positive_float,
            "max_evals": parsing.positive_int,
            "early_stop": parsing.positive_int,
            "seed": parsing.seed_int,
            "jobs": parsing.jobs_int,
        }
        name, value = proposal["trait"].name, proposal["value"]
        check = checks[name]
        if value is not None and not _passes(check, value):
            raise TraitError(f"AutoMLMagics.{name} must be {check.expected}; got {value!r}.")
        return check(value) if name == "time_budget" else value  # "None" -> "none", "30" -> 30.0

    @validate("decision_threshold")
    def _check_decision_threshold(self, proposal):
        value = proposal["value"]
        try:
            parsing.decision_threshold(str(value))
        except parsing.argparse.ArgumentTypeError as err:
            raise TraitError(f"AutoMLMagics.decision_threshold: {err}.") from None
        return value

    @validate("name")
    def _check_name(self, proposal):
        if not _passes(parsing.identifier, proposal["value"]):
            raise TraitError(
                f"AutoMLMagics.name must be a valid variable name; got {proposal['value']!r}."
            )
        return proposal["value"]

    def __init__(self, shell=None, **kwargs):
        super().__init__(shell=shell, **kwargs)
        self.searches: list[dict] = []  # this kernel's searches, oldest first
        self.pending_retrain: dict = {}  # name -> (version, labelled batches since an alert)
        self.project_defaults = self._apply_project_defaults()

    def _apply_project_defaults(self):
        """Take the defaults of ``[tool.nbautoml]`` in the nearest pyproject.toml (nbautoml.settings),
        except those an IPython config sets; a bad value is warned about and left out."""
        import warnings

        from ..exceptions import ConfigError
        from ..settings import ProjectDefaults, project_defaults

        try:
            defaults = project_defaults()
        except ConfigError as err:
            warnings.warn(f"nbautoml: {err} Its defaults are not used.", UserWarning, stacklevel=2)
            return ProjectDefaults()
        configured = self.config["AutoMLMagics"] if "AutoMLMagics" in self.config else {}
        for key, value in defaults.values.items():
            if key in configured:
                continue
            try:
                setattr(self, key, value)
            except TraitError as err:
                warnings.warn(f"nbautoml: {defaults.describe(key)} = {value!r} is not used: {err}", UserWarning,
                              stacklevel=2)
        return defaults

    # ------------------------------------------------------------------ magics
    @search_arguments
    @cell_magic
    def automl(self, line, cell):
        """Search preprocessing + model pipelines; the result goes to a variable (``automl``).

        The cell names the data: an expression (a DataFrame, or ``X, y``), the
        path of a CSV/Parquet file, or code whose last line is such an expression.
        Defaults come from ``%config AutoMLMagics.<option> = ...``.

        Example::

            %%automl --target Survived --time-budget 60 --name titanic_search
            df = pd.read_csv("titanic.csv")
            df[df.Fare > 0]
        """
        args = parse(self.automl, line)
        return None if args is None else self._run("search", args, cell)

    @strict_magic_arguments
    @_out("the DataPlan")
    @argument("--roles", type=parsing.role_map, metavar="COL=ROLE,...",
              help="Override column roles, as %%automl --roles does.")
    @argument("--task", choices=["auto", "binary", "multiclass", "regression"], default="auto",
              help="As %%automl --task (a text target of numbers is read as numbers for regression).")
    @argument("-t", "--target", metavar="COL", help="The target column (without it: features only).")
    @argument(
        "data", nargs="+", metavar="DATA", help="An expression giving a DataFrame, or a file path."
    )
    @line_magic
    def automl_plan(self, line):
        """Show how a search would treat each column (role, reason, notes), without searching.

        The same plan and warnings as ``%%automl`` on the same data and options; change
        it with ``--roles`` here and in ``%%automl``.

        Example::

            %automl_plan df --target Survived --roles Pclass=categorical
        """
        args = parse(self.automl_plan, line)
        return None if args is None else self._run("plan", args)

    @strict_magic_arguments
    @argument(
        "--top", type=parsing.positive_int, default=10, metavar="N", help="Rows shown (default 10)."
    )
    @argument("--all", action="store_true", help="Show every trial.")
    @_NAME
    @line_magic
    def automl_leaderboard(self, line):
        """Show a search's leaderboard: score as mean ± fold std, ≈ for ties with the best.

        Example::

            %automl_leaderboard automl --top 5
        """
        args = parse(self.automl_leaderboard, line)
        return None if args is None else self._run("leaderboard", args)

    @strict_magic_arguments
    @argument(
        "-o", "--out", type=parsing.identifier, metavar="VAR", help="Also store the Figure in VAR."
    )
    @_NAME
    @argument(
        "kind",
        metavar="KIND",
        help="convergence, leaderboard, importance, hyperparameters; for classification "
        "confusion, roc, pr, calibration, threshold (binary); for regression residuals or prediction (prediction-vs-actual).",
    )
    @line_magic
    def automl_plot(self, line):
        """Plot one aspect of a search.

        Example::

            %automl_plot automl roc
        """
        args = parse(self.automl_plot, line)
        return None if args is None else self._run("plot", args)

    @strict_magic_arguments
    @argument(
        "-o", "--out", type=parsing.identifier, metavar="VAR", help="Store the predictions in VAR."
    )
    @argument("--proba", action="store_true", help="Class probabilities instead of labels.")
    @argument(
        "--keep",
        type=parsing.name_list,
        metavar="COL,...",
        help="A table: these columns of DATA, the prediction and (with --proba) a probability per class.",
    )
    @argument(
        "--file",
        metavar="PATH",
        help="Also write the predictions to PATH (.csv, .parquet or .jsonl, written whole or not at all).",
    )
    @argument(
        "name", type=parsing.identifier, metavar="NAME", help="The search result or loaded model."
    )
    @argument(
        "data", nargs="+", metavar="DATA", help="An expression giving a DataFrame, or a file path."
    )
    @line_magic
    def automl_predict(self, line):
        """Predict with a search result (or a loaded model) and display the predictions.

        Example::

            %automl_predict automl test_df --out predictions
            %automl_predict automl test.csv --keep PassengerId --file submission.csv
        """
        args = parse(self.automl_predict, line)
        return None if args is None else self._run("predict", args)

    @strict_magic_arguments
    @argument(
        "-o", "--out", type=parsing.identifier, metavar="VAR", help="Also store the code in VAR."
    )
    @argument("--file", metavar="PATH", help="Write the code to this file instead of printing it.")
    @argument("--trial", type=int, metavar="ID", help="Code for this trial instead of the best.")
    @argument(
        "--data-var",
        default="df",
        type=parsing.identifier,
        metavar="VAR",
        help="Variable that holds the data in the code (default df).",
    )
    @_NAME
    @line_magic
    def automl_code(self, line):
        """Print scikit-learn code that rebuilds, cross-validates and fits the best pipeline.

        The code needs no nbautoml: its small transformers are written out.

        Example::

            %automl_code automl
        """
        args = parse(self.automl_code, line)
        return None if args is None else self._run("code", args)

    @strict_magic_arguments
    @argument(
        "--stage",
        metavar="STAGE",
        help="With registry:NAME, also point this stage (e.g. production) at the new version.",
    )
    @argument("name", type=parsing.identifier, metavar="NAME", help="The search result.")
    @argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="Where to save (default: NAME), or registry:NAME to register a new version.",
    )
    @line_magic
    def automl_save(self, line):
        """Save a search result with ``nbautoml.save``: to a file, or to the model registry.

        ``registry:NAME`` registers a new version of NAME (shown, e.g. ``titanic@2``);
        load it back with ``%automl_load titanic@2`` or ``%automl_load titanic@production``.

        Example::

            %automl_save automl models/titanic
            %automl_save automl registry:titanic --stage production
        """
        args = parse(self.automl_save, line)
        return None if args is None else self._run("save", args)

    @strict_magic_arguments
    @argument(
        "-n",
        "--name",
        type=parsing.identifier,
        metavar="VAR",
        help="Variable to load into (default: the file name, else model).",
    )
    @argument(
        "--no-verify",
        action="store_true",
        help="Load a file whose integrity nothing can check (a bare skops file, an artifact "
        "without its card), with a warning. Only for files from a source you trust.",
    )
    @argument(
        "--sha256",
        metavar="HEX",
        help="The SHA-256 the file must have (the one you recorded when it was made).",
    )
    @argument(
        "--trusted",
        action="append",
        metavar="TYPE",
        help="Trust this type beyond nbautoml's allowlist (repeatable; review it first).",
    )
    @argument(
        "path",
        metavar="PATH",
        help="A file written by %%automl_save or nbautoml.save, or a registry reference "
        "NAME[@VERSION|@STAGE] such as titanic@production or titanic@3.",
    )
    @line_magic
    def automl_load(self, line):
        """Load a saved or registered model with ``nbautoml.load``.

        Example::

            %automl_load models/titanic.nbautoml --name titanic
            %automl_load titanic@production
            %automl_load model.skops --sha256 3f5a...   # a bare skops file: its recorded hash
            model = %automl_load titanic@production     # also returns the model
        """
        args = parse(self.automl_load, line)
        return None if args is None else self._run("load", args)

    @strict_magic_arguments
    @argument("--top", type=parsing.positive_int, metavar="N", help="Only the N newest searches.")
    @line_magic
    def automl_history(self, line):
        """List the searches of this kernel and of the search directory (resume one with --resume).

        Example::

            %automl_history --top 5
        """
        args = parse(self.automl_history, line)
        return None if args is None else self._run("history", args)

    @strict_magic_arguments
    @argument(
        "--auto-retrain",
        action="store_true",
        help="Apply the model's stored retraining policy (nbautoml.set_policy) and carry it out: "
        "when it recommends retraining, run nbautoml.retrain on the labelled batches since the "
        "alert (the RetrainResult goes to VAR_retrain with -o VAR). NAME must be registered.",
    )
    @argument(
        "--threshold",
        nargs="+",
        action="extend",
        type=parsing.threshold_pair,
        metavar="KEY=VALUE",
        help="Override thresholds of nbautoml.monitor.Thresholds, e.g. psi_warn=0.2 min_rows=50.",
    )
    @argument(
        "-o",
        "--out",
        type=parsing.identifier,
        metavar="VAR",
        help="Store the MonitorReport in VAR (with --history and no DATA: the history table).",
    )
    @argument(
        "--history",
        action="store_true",
        help="Show the monitored batches of the model: metric and drift over batches and the "
        "feature x batch drift heatmap (DATA is then optional).",
    )
    @argument(
        "--labels",
        metavar="COL",
        help="The column of DATA with the true targets (default: the training target's column, "
        "when DATA has it).",
    )
    @_MODEL
    @argument(
        "data",
        nargs="*",
        default=[],
        metavar="DATA",
        help="New rows: an expression giving a DataFrame, or a data file (CSV, Parquet, JSON, Excel, ...).",
    )
    @line_magic
    def automl_monitor(self, line):
        """Check a batch of new data against what the model saw in training.

        Drift, data quality, anomalies and (with labels) performance, per feature,
        worst first; each batch is added to the model's monitoring history.

        Example::

            %automl_monitor titanic@production new_rows --labels Survived --out report
            %automl_monitor titanic@production --history
            %automl_monitor titanic@production labelled_rows --auto-retrain
        """
        args = parse(self.automl_monitor, line)
        return None if args is None else self._run("monitor", args)

    @strict_magic_arguments
    @_out("the RetrainResult")
    @argument("--max-evals", type=parsing.positive_int, metavar="N", help="Stop after N trials.")
    @argument(
        "--time-budget",
        type=parsing.positive_float,
        metavar="SECONDS",
        help="Seconds for the search (default: the stored policy's, else 60).",
    )
    @argument(
        "--window",
        type=parsing.positive_int,
        metavar="ROWS",
        help="With --data window: train on the ROWS most recent rows (default: as many as the "
        "champion was trained on).",
    )
    @argument(
        "--old",
        metavar="EXPR",
        help="Earlier labelled rows (e.g. the champion's training data) for --data window or "
        "old+new; a saved model keeps no training rows.",
    )
    @argument(
        "--data",
        dest="data_mode",
        choices=["window", "new", "old+new"],
        help="The challenger's training rows (default: the stored policy's, else window).",
    )
    @argument("--target", metavar="COL", help="The target column (default: the champion's).")
    @argument(
        "name", metavar="NAME", help="A registered model; its production version is the champion."
    )
    @argument(
        "data",
        nargs="+",
        metavar="DATA",
        help="New labelled rows: a DataFrame, a list of them (batches, oldest first) or a path.",
    )
    @line_magic
    def automl_retrain(self, line):
        """Retrain a registered model on new data; promote the challenger only if it earns it.

        The newest 30 % of DATA is held out; the challenger (warm-started from the
        champion's best configurations) replaces the production version when it is
        significantly better there (paired bootstrap), or when the champion fails
        monitoring there and the challenger passes. The decision and its reason are
        recorded in the registry. See ``nbautoml.retrain``.

        Example::

            %automl_retrain churn [week_7, week_8] --data new --time-budget 120 --out result
        """
        args = parse(self.automl_retrain, line)
        return None if args is None else self._run("retrain", args)

    @strict_magic_arguments
    @argument(
        "--reason", nargs="+", metavar="TEXT", help="Why (recorded in the registry's history)."
    )
    @argument("ref", metavar="NAME@VERSION", help="The registered version, e.g. churn@3.")
    @line_magic
    def automl_promote(self, line):
        """Put a registered version in production, with the reason recorded.

        Example::

            %automl_promote churn@3 --reason validated by the risk team
        """
        args = parse(self.automl_promote, line)
        return None if args is None else self._run("promote", args)

    @strict_magic_arguments
    @argument("--to", type=parsing.positive_int, metavar="VERSION", help="Roll back to VERSION.")
    @argument(
        "--reason", nargs="+", metavar="TEXT", help="Why (recorded in the registry's history)."
    )
    @argument("name", metavar="NAME", help="A registered model.")
    @line_magic
    def automl_rollback(self, line):
        """Put back the production version that preceded the current one (the same file).

        Example::

            %automl_rollback churn --reason v4 mislabels new customers
        """
        args = parse(self.automl_rollback, line)
        return None if args is None else self._run("rollback", args)

    @strict_magic_arguments
    @_out("the Explanation")
    @argument(
        "--top",
        type=parsing.positive_int,
        metavar="K",
        help="Partial dependence of the K most important columns (default 5).",
    )
    @argument(
        "--row",
        type=int,
        metavar="N",
        help="Also explain the prediction of row N (position in DATA, else in the training data).",
    )
    @argument(
        "name", type=parsing.identifier, metavar="NAME",
        help="A search result of this session, or a loaded model (%%automl_load) with DATA.",
    )
    @argument(
        "data",
        nargs="*",
        default=[],
        metavar="DATA",
        help="Held-out rows with the target (default: the training data, on CV folds; a loaded model "
        "needs them).",
    )
    @line_magic
    def automl_explain(self, line):
        """Explain a search result or a loaded model: permutation importance, partial dependence, one prediction.

        Shows a summary in words, the importance and partial-dependence plots, and
        with ``--row`` the contributions of each column to that row's prediction.

        Example::

            %automl_explain automl test_df --row 0 --top 3 --out explanation
            %automl_explain titanic recent.csv   # a model loaded with %automl_load
        """
        args = parse(self.automl_explain, line)
        return None if args is None else self._run("explain", args)

    @strict_magic_arguments
    @_out("the SanityCheck")
    @argument("--seed", type=int, default=0, metavar="N", help="Seeds the shuffle (default 0).")
    @argument("--max-evals", type=parsing.positive_int, metavar="N", help="Stop after N trials.")
    @argument(
        "--time-budget",
        type=parsing.positive_float,
        metavar="SECONDS",
        help="Seconds for the search on the shuffled target (default: the search's own budget).",
    )
    @_NAME
    @line_magic
    def automl_sanity(self, line):
        """Run a search again with its target shuffled: the best CV score should stay at chance.

        Shows the real, shuffled and chance scores and what they mean: how much
        picking the best of many noisy scores adds by luck, and whether the
        validation rows' targets reach the model some other way (a leak).

        Example::

            %automl_sanity titanic --max-evals 20 --out check
        """
        args = parse(self.automl_sanity, line)
        return None if args is None else self._run("sanity", args)

    @strict_magic_arguments
    @argument(
        "--api",
        required=True,
        metavar="DIR",
        help="Write a FastAPI app (app.py, requirements.txt, model.nbautoml) to DIR.",
    )
    @_MODEL
    @line_magic
    def automl_deploy(self, line):
        """Write a standalone HTTP API for a model, with ``nbautoml.write_api``.

        Example::

            %automl_deploy titanic@production --api deploy/titanic
        """
        args = parse(self.automl_deploy, line)
        return None if args is None else self._run("deploy", args)

    @strict_magic_arguments
    @_out("the OnnxReport")
    @argument(
        "--onnx",
        action="store_true",
        help="Export to ONNX (the only format so far; implied by a PATH ending in .onnx).",
    )
    @_MODEL
    @argument("path", metavar="PATH", help="The file to write (.onnx is added without a suffix).")
    @line_magic
    def automl_export(self, line):
        """Export a model to ONNX with ``nbautoml.export_onnx``, checked against scikit-learn.

        A search result of this session is checked on its training rows. Numeric,
        categorical and date columns convert (a category is a string input, a date
        float64 days since 1970); a model that reads a text column is refused, with
        the steps named.

        Example::

            %automl_export automl models/diabetes.onnx --onnx
        """
        args = parse(self.automl_export, line)
        return None if args is None else self._run("export", args)

    @strict_magic_arguments
    @_out("the Figure")
    @argument(
        "--x",
        choices=["latency", "size"],
        default="latency",
        help="Cost axis: prediction latency (default) or model size.",
    )
    @_NAME
    @line_magic
    def automl_pareto(self, line):
        """Plot the CV score of every trial against its cost, with the Pareto front.

        Example::

            %automl_pareto automl --x size
        """
        args = parse(self.automl_pareto, line)
        return None if args is None else self._run("pareto", args)

    # ------------------------------------------------------------------ helpers for the subcommands
    def _run(self, command: str, args, *rest):
        from ..exceptions import NbAutoMLError

        module, func = COMMANDS[command].split(":")
        try:
            return getattr(importlib.import_module(module), func)(self, args, *rest)
        except NbAutoMLError as err:
            raise UsageError(str(err)) from None

    def default_name(self) -> str:
        """The variable of this kernel's last search, else ``AutoMLMagics.name``."""
        return self.searches[-1]["variable"] if self.searches else self.name

    def result(self, name: str | None, search: bool = True):
        """The object bound to ``name``; with ``search``, it must be a search result."""
        name = name or self.default_name()
        ns = self.shell.user_ns
        if name not in ns:
            known = [r["variable"] for r in self.searches if r["variable"] in ns]
            listing = (
                f" Searches in this kernel: {', '.join(dict.fromkeys(known))}." if known else ""
            )
            stored = self.stored_search(name)
            on_disk = (
                f" A stored search is on disk for it ({stored.name}): %automl_leaderboard {name} "
                f"reads its leaderboard, and %%automl --resume {stored.name} --name {name} with the "
                "same data in the cell reopens it with its model."
                if stored is not None
                else ""
            )
            raise UsageError(
                f"No search named {name!r} in this kernel; run %%automl --name {name} first."
                f"{parsing.closest_hint(name, known)}{listing}{on_disk}"
            )
        value = ns[name]
        if search and not hasattr(value, "leaderboard_display"):
            raise UsageError(
                f"{name!r} is a {type(value).__name__}, not a search result. "
                f"Run %%automl --name {name} first."
            )
        if not search and not hasattr(value, "predict"):
            raise UsageError(f"{name!r} is a {type(value).__name__}, not a model or search result.")
        return value

    def stored_search(self, name: str | None):
        """The directory of the stored search ``name`` refers to when the kernel holds no such
        variable (after a restart): a search name, a path, or the variable a search was bound to.
        None otherwise."""
        from ..engine.store import find_run

        name = name or self.default_name()
        if name in self.shell.user_ns:
            return None
        return find_run(self.search_base(), name)

    def remember(self, name: str, result) -> None:
        """Record a search of this kernel (for ``%automl_history`` and the default NAME)."""
        from .search import history_record

        for record in self.searches:
            if record["variable"] == name:
                record["variable"] = ""
        self.searches.append(history_record(name, result))

    def search_base(self) -> Path:
        from ..engine.automl import default_search_dir

        return Path(self.search_dir) if self.search_dir else default_search_dir()


def _passes(check, value) -> bool:
    try:
        check(value)
    except (ValueError, TypeError, parsing.argparse.ArgumentTypeError):
        return False
    return True
