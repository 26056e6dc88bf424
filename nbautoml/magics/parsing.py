"""Argument parsing and data resolution for the ``%automl`` magics.

Nothing heavy is imported here (no pandas, scikit-learn or hyperopt), so that
``%load_ext nbautoml`` stays fast. The options of ``%%automl`` are declared once
in :data:`SEARCH_OPTIONS`; adding an option is one entry there (plus a trait on
``AutoMLMagics`` if its default should be configurable).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.utils.process import arg_split

from ..arguments import SECONDS_EXPECTED, checked, duration
from ..formats import DATA_SUFFIXES

# --------------------------------------------------------------------------- value types
# argparse reports "argument --X: invalid <__name__> value: 'v'" for a ValueError and the
# message itself for an ArgumentTypeError, so each checker is named after its base type.


def _number(kind, check, expected):
    def parse(text):
        value = kind(text)  # ValueError -> "invalid float value: 'ten'"
        if not check(value):
            raise argparse.ArgumentTypeError(f"must be {expected}; got {text}")
        return value

    parse.__name__ = kind.__name__
    parse.expected = expected
    return parse


positive_float = _number(float, lambda v: v > 0 and v != float("inf"), "a number > 0")
positive_int = _number(int, lambda v: v > 0, "an int >= 1")
seed_int = _number(int, lambda v: 0 <= v < 2**32, "an int in [0, 2**32 - 1]")

NO_TIME_BUDGET = "none"  # --time-budget none: no clock (max_evals or early_stop end the search)


def time_budget_value(text):
    """``--time-budget``: seconds > 0, or ``none`` for a search that only ``--max-evals`` ends."""
    if isinstance(text, str) and text.strip().lower() == NO_TIME_BUDGET:
        return NO_TIME_BUDGET
    return duration(text)


time_budget_value.__name__ = "duration"
time_budget_value.expected = f"{SECONDS_EXPECTED}, or 'none'"


#: ``auto``, -1 or an int >= 1 (the ``n_jobs`` values; checked by the engine's parser)
jobs_int = checked("nbautoml.engine.workers:parse_n_jobs", "int",
                   expected="an int >= 1, -1 for one per CPU, or auto")  # = engine.workers.N_JOBS_VALUES (tested)


def name_list(text: str) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]``."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated names, e.g. random_forest,ridge")
    return names


name_list.__name__ = "list"


def role_map(text: str) -> dict[str, str]:
    """``"Pclass=categorical,Cabin=dropped"`` -> ``{"Pclass": "categorical", "Cabin": "dropped"}``."""
    from ..engine.data import roles_argument

    return roles_argument(text)


role_map.__name__ = "COLUMN=ROLE list"


def cv_value(text: str):
    """``"5"`` -> 5 (k-fold); other strings (``"stratified:5"``, ``"holdout:0.2"``) as given."""
    return int(text) if text.strip().isdigit() else text


def identifier(text: str) -> str:
    """A valid Python variable name."""
    if not text.isidentifier() or keyword.iskeyword(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid Python variable name")
    return text


identifier.__name__ = "name"


_decision_threshold = checked("nbautoml.engine.threshold:parse_decision_threshold", "decision threshold")
_threshold_pair = checked("nbautoml.monitor.checks:threshold_pair", "threshold")


def decision_threshold(text: str):
    """``auto``, ``none`` or a probability between 0 and 1 (``--decision-threshold``)."""
    value = _decision_threshold(text)
    return NO_TIME_BUDGET if value is None else value  # "none": the keyword is passed as None


decision_threshold.__name__ = "decision threshold"


def threshold_pair(text: str) -> tuple[str, float]:
    """``"psi_warn=0.2"`` -> ``("psi_warn", 0.2)`` (see :func:`nbautoml.monitor.checks.threshold_pair`)."""
    try:
        return _threshold_pair(text)
    except argparse.ArgumentTypeError as err:
        hint = " (give --threshold after NAME and DATA)" if "KEY=VALUE" in str(err) else ""
        raise argparse.ArgumentTypeError(f"{err}{hint}") from None


threshold_pair.__name__ = "threshold"


# --------------------------------------------------------------------------- the %%automl options


@dataclass(frozen=True)
class Option:
    """One ``%%automl`` option.

    ``param`` is the :class:`~nbautoml.AutoML` keyword it sets (None: used by the
    magic itself). When ``trait`` is true, "not given" falls back to the trait of
    the same name on ``AutoMLMagics`` (``%config AutoMLMagics.<dest> = ...``).
    """

    flags: tuple[str, ...]
    dest: str
    param: str | None = None
    trait: bool = True
    kwargs: dict = field(default_factory=dict)
    #: turns the trait's value into the AutoML keyword's (None: leave the keyword out)
    from_trait: Callable | None = None

    def decorator(self):
        kwargs = dict(self.kwargs)
        if kwargs.get("action") not in ("store_true", "store_false"):
            kwargs.setdefault("default", None)
        return argument(*self.flags, dest=self.dest, **kwargs)


def _decision_threshold_from_trait(value):
    """``AutoMLMagics.decision_threshold``: "auto" leaves AutoML's default; "none" passes None."""
    value = decision_threshold(str(value))
    return None if value == "auto" else value


def _ensemble_from_trait(value: bool):
    """``AutoMLMagics.ensemble = False`` means ``AutoML(ensemble=False)``; True, AutoML's default ("auto")."""
    return None if value else False


SEARCH_OPTIONS: tuple[Option, ...] = (
    Option(
        ("-t", "--target"),
        "target",
        trait=False,
        kwargs={
            "metavar": "COL",
            "help": "Target column (not needed for `X, y`, nor with --resume).",
        },
    ),
    Option(
        ("--task",),
        "task",
        "task",
        kwargs={
            "choices": ["auto", "binary", "multiclass", "regression"],
            "help": "auto (default: inferred from the target), binary, multiclass or regression.",
        },
    ),
    Option(
        ("-m", "--metric"),
        "metric",
        "metric",
        kwargs={
            "metavar": "NAME",
            "help": "accuracy, balanced_accuracy, f1, f1_macro, roc_auc, log_loss, "
            "precision, recall, average_precision, r2, rmse, mae, mape (default: auto).",
        },
    ),
    Option(
        ("--time-budget",),
        "time_budget",
        "time_budget",
        kwargs={
            "type": time_budget_value,
            "metavar": "SEC",
            "help": "Seconds for the whole search, or 90s, 2m, 1h (default: AutoMLMagics.time_budget, 60); 'none' with "
            "--max-evals: no clock, and the same seed repeats the same trials with 1 to 4 --jobs.",
        },
    ),
    Option(
        ("--max-evals",),
        "max_evals",
        "max_evals",
        kwargs={"type": positive_int, "metavar": "N", "help": "Stop after N trials."},
    ),
    Option(
        ("--early-stop",),
        "early_stop",
        "early_stop",
        kwargs={
            "type": positive_int,
            "metavar": "N",
            "help": "Stop after N trials without improvement.",
        },
    ),
    Option(
        ("--cv",),
        "cv",
        "cv",
        kwargs={
            "type": cv_value,
            "metavar": "SCHEME",
            "help": "auto, 5, kfold:5, stratified:5, timeseries:5, holdout:0.2, or group:COL (folds that "
                    "keep each value of the column COL together; COL is then not a feature) (default: auto).",
        },
    ),
    Option(
        ("--roles",),
        "roles",
        "roles",
        trait=False,
        kwargs={"type": role_map, "metavar": "COL=ROLE,...",
                "help": "Override column roles (numeric, categorical, datetime, text, dropped), "
                        "e.g. Pclass=categorical,Cabin=dropped; %automl_plan shows them first."},
    ),
    Option(
        ("--models",),
        "models",
        "models",
        kwargs={"type": name_list, "metavar": "A,B", "help": "Only these model families."},
    ),
    Option(
        ("--exclude",),
        "exclude",
        "exclude",
        kwargs={"type": name_list, "metavar": "A,B", "help": "Leave these model families out."},
    ),
    Option(
        ("--seed",),
        "seed",
        "seed",
        kwargs={"type": seed_int, "metavar": "N", "help": "Random seed (default 0)."},
    ),
    Option(
        ("-j", "--jobs"),
        "jobs",
        "n_jobs",
        kwargs={
            "type": jobs_int,
            "metavar": "N",
            "help": "Trials in parallel: N, -1 for one per CPU, or auto (default: one per CPU "
            "up to 10 million data cells, else 1).",
        },
    ),
    Option(
        ("--trial-timeout",),
        "trial_timeout",
        "trial_timeout",
        kwargs={
            "type": duration,
            "metavar": "SEC",
            "help": "Kill a trial after SEC seconds (or 30s, 2m).",
        },
    ),
    Option(
        ("--memory-limit",),
        "memory_limit",
        "memory_limit",
        kwargs={
            "type": positive_float,
            "metavar": "MB",
            "help": "A trial that needs more than MB megabytes of memory is stopped and recorded "
            "as 'memory'; the search goes on (enforced on Linux).",
        },
    ),
    Option(
        ("--prefer",),
        "prefer",
        "prefer",
        kwargs={
            "choices": ["accurate", "fast", "small"],
            "help": "Which pipeline to refit: accurate (default: the best CV score), or among "
            "those within one standard error of it the fastest to predict (fast) or the "
            "smallest (small).",
        },
    ),
    Option(
        ("--ensemble",),
        "ensemble",
        "ensemble",
        from_trait=_ensemble_from_trait,
        kwargs={
            "action": "store_const",
            "const": "auto",
            "help": "Try a weighted ensemble of the best trials, kept when it beats the best "
            "single pipeline (the default; needs --prefer accurate).",
        },
    ),
    Option(
        ("--no-ensemble",),
        "ensemble",
        "ensemble",
        trait=False,
        kwargs={
            "action": "store_const",
            "const": False,
            "help": "Refit the best single pipeline only, never an ensemble.",
        },
    ),
    Option(
        ("--decision-threshold",),
        "decision_threshold",
        "decision_threshold",
        from_trait=_decision_threshold_from_trait,
        kwargs={
            "type": decision_threshold,
            "metavar": "auto|none|P",
            "help": "Binary tasks: predict the positive class from probability P on; auto (the "
            "default) chooses P on the out-of-fold probabilities for accuracy, "
            "balanced_accuracy, f1 and f1_macro when it beats 0.5 by more than 0.1 %%; none keeps 0.5.",
        },
    ),
    Option(
        ("--no-prune",),
        "prune_families",
        "prune_families",
        trait=False,
        kwargs={
            "action": "store_const",
            "const": False,
            "help": "Keep every model family in the search (default: a family far behind the "
            "best one gets no more trials).",
        },
    ),
    Option(
        ("--backend",),
        "backend",
        "backend",
        kwargs={
            "choices": ["local", "spark"],
            "help": "Where trials run: local (default: worker processes here) or spark "
            "(Spark tasks; needs pyspark).",
        },
    ),
    Option(
        ("-n", "--name"),
        "name",
        None,
        kwargs={
            "type": identifier,
            "metavar": "NAME",
            "help": "Variable that receives the result (default: automl).",
        },
    ),
    Option(
        ("--sheet",),
        "sheet",
        None,
        trait=False,
        kwargs={
            "metavar": "SHEET",
            "help": "With an Excel file in the cell: the sheet to read, its name or position from 0 "
            "(default: the first).",
        },
    ),
    Option(
        ("--no-widgets",),
        "no_widgets",
        None,
        trait=False,
        kwargs={"action": "store_true", "help": "Text progress instead of the live widget panel."},
    ),
    Option(
        ("--resume",),
        "resume",
        "resume",
        trait=False,
        kwargs={
            "metavar": "SEARCH",
            "help": "Continue a search: a result variable of this kernel, or a "
            "search listed by %%automl_history (also after a kernel restart).",
        },
    ),
    Option(
        ("--force",),
        "force_resume",
        "force_resume",
        trait=False,
        kwargs={
            "action": "store_true",
            "help": "With --resume, when the data changed: start a new search on this data "
            "from the old search's 5 best configs (the old one is left as it is).",
        },
    ),
)


def search_arguments(func):
    """Declare the options of :data:`SEARCH_OPTIONS` on the ``%%automl`` magic."""
    for option in reversed(SEARCH_OPTIONS):
        func = option.decorator()(func)
    return strict_magic_arguments(func, cell=True)


def strict_magic_arguments(func, cell: bool = False):
    """``@magic_arguments()`` without abbreviations, and with a ``-h/--help`` flag.

    IPython's ``MagicArgumentParser`` takes no ``allow_abbrev`` keyword, but
    argparse reads the attribute when parsing, so it is set on the built parser.
    A cell magic's usage line starts with ``%%``.
    """
    func = argument("-h", "--help", action="store_true", help="Show this help and return.")(func)
    func = magic_arguments(name=f"%{func.__name__}" if cell else None)(func)
    func.parser.allow_abbrev = False
    return func


# --------------------------------------------------------------------------- parsing


def parse(magic_func, line: str):
    """Parse a magic's line; ``None`` when ``--help`` was asked (the help is printed).

    Raises
    ------
    UsageError
        With the valid options and the closest match for an unknown one.
    """
    parser = magic_func.parser
    try:
        tokens = [_unquoted(token) for token in arg_split(line, posix=False)]
    except ValueError as err:  # unbalanced quotes in the line
        raise UsageError(
            f"Cannot split the options: {err}. Check the quotes.\n{usage(parser)}"
        ) from None
    if "-h" in tokens or "--help" in tokens:  # before the check of required arguments
        print(parser.format_help())
        return None
    try:
        args = parser.parse_args(tokens)
    except UsageError as err:
        raise UsageError(_explain(parser, str(err))) from None
    return args


def _unquoted(token: str) -> str:
    """``"Class variable"`` -> ``Class variable``: values are literal text, never evaluated.

    The line is split like IPython splits it (quotes kept, so Windows paths and
    expressions such as ``df["a b"]`` survive); a token quoted as a whole loses
    its quotes.
    """
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1]
    return token


def usage(parser) -> str:
    """The usage, as it is typed: ``Usage: %%automl [-t COL] ...``."""
    return "Usage: " + " ".join(parser.format_usage().replace("::", "").split())


def _explain(parser, message: str) -> str:
    options = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
    helps = f"See {parser.prog.join('%?')} for the help."
    if message.startswith("unrecognized arguments:"):
        tokens = message.split(":", 1)[1].split()
        unknown = [t.split("=")[0] for t in tokens if t.startswith("-") and not _is_number(t)]
        if unknown:
            bad = unknown[0]
            return (
                f"Unknown option {bad} (options are never abbreviated)."
                f"{_option_hint(bad, options)} "
                f"Valid options: {', '.join(options)}."
            )
        return f"Unexpected argument{'s' if len(tokens) > 1 else ''}: {' '.join(tokens)}.\n{usage(parser)}"
    if message.startswith("the following arguments are required"):
        return f"{message}.\n{usage(parser)}"
    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        valid = [c.strip(" '") for c in choice.group(2).split(",")]
        return f"{message}.{closest_hint(choice.group(1), valid)}"
    option = re.match(r"argument ([^:]+):", message)
    flags = option.group(1).split("/") if option else []
    choices = [a.choices for a in parser._actions if a.choices and set(flags) & set(a.option_strings)]
    if choices:
        return f"{message}: one of {', '.join(map(str, choices[0]))}. {helps}"
    return f"{message}. {helps}"


def _option_hint(bad: str, options: list[str]) -> str:
    word = bad.lstrip("-")
    hits = [o for o in options if o.startswith(bad)] if word else []
    hits = hits or [o for o in options if word and word in o]
    hits = hits or difflib.get_close_matches(bad, options, n=1, cutoff=0.5)
    return f" Did you mean {hits[0]}?" if hits else ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def closest_hint(name: str, choices) -> str:
    """The sentence " Did you mean 'x'?" for the choice closest to ``name``, or "" (see
    :func:`nbautoml.exceptions.closest`: case-insensitive, as the engine's own errors)."""
    from ..exceptions import closest

    hits = closest(name, choices)
    return f" Did you mean {hits[0]!r}?" if hits else ""


# ---------------------------------------------------------------------- data in a cell or a line

EXAMPLE = (
    "%%automl --target Survived --time-budget 60\n"
    "df                      # a DataFrame, `X, y`, a file path, or code ending with one"
)


def resolve_data(shell, text: str, what: str = "the cell", sheet: str | None = None,
                 text_columns: Sequence[str] = ()):
    """Turn a cell body (or a ``DATA`` argument) into the object it names.

    Three forms: a path to a data file (CSV, Parquet, JSON, Excel: its sheet
    ``sheet``, ...; ``text_columns`` read as text: a model's, ``schema.text_columns``);
    a Python expression evaluated in the user namespace; or code whose last line is
    such an expression (the code runs in the user namespace first).

    Returns
    -------
    object
        What the expression gave, or the DataFrame read from the file.
    """
    source = (text or "").strip()
    code_lines = [ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not code_lines:
        raise UsageError(
            f"{what.capitalize()} is empty: name the data to learn from, for example\n{EXAMPLE}"
        )
    if len(code_lines) == 1 and _looks_like_path(code_lines[0].split("#")[0].strip()):
        return read_file(code_lines[0].split("#")[0].strip(), sheet, text_columns)
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as err:
        raise UsageError(
            f"{what.capitalize()} is not valid Python ({err.msg}, line {err.lineno}) "
            f"nor a .csv/.parquet path. For example\n{EXAMPLE}"
        ) from None
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise UsageError(
            f"The last line of {what} must be an expression naming the data "
            f"(a DataFrame, `X, y` or a path), not a statement. For example\n{EXAMPLE}"
        )
    last = ast.Expression(tree.body.pop().value)
    ns = shell.user_ns
    try:
        if tree.body:
            exec(compile(tree, "<automl cell>", "exec"), shell.user_global_ns, ns)  # noqa: S102 - the user's own cell
        value = eval(compile(last, "<automl cell>", "eval"), shell.user_global_ns, ns)  # noqa: S307
    except NameError as err:
        name = getattr(err, "name", None) or str(err)
        visible = [k for k in ns if not k.startswith("_")]
        raise UsageError(
            f"name {name!r} is not defined in the notebook.{closest_hint(name, visible)} "
            "Define it in a cell above, or give a file path."
        ) from None
    if isinstance(value, (str, Path)):
        return read_file(str(value), sheet, text_columns)
    if sheet is not None:
        raise UsageError(f"--sheet is for an Excel file named in {what}; it names a {type(value).__name__}. "
                         "Leave --sheet out.")
    from ..engine.frames import as_pandas

    if isinstance(value, tuple):  # X, y
        return tuple(as_pandas(part) for part in value)
    if isinstance(value, list):  # batches
        return [as_pandas(part) for part in value]
    return as_pandas(value)  # polars, pyarrow, DuckDB, ...


def _looks_like_path(text: str) -> bool:
    text = text.strip().strip("'\"")
    if not text or "\n" in text:
        return False
    return Path(text).suffix.lower() in DATA_SUFFIXES or Path(text).is_file()


def read_file(text: str, sheet: str | None = None, text_columns: Sequence[str] = ()):
    """The table at the path ``text`` (``text_columns`` read as text); how it was read is printed
    when it was not plain UTF-8 CSV."""
    from ..engine.reading import read_table, reading_notes
    from ..exceptions import DataError

    path = text.strip().strip("'\"")
    if not Path(path).exists():
        raise UsageError(f"File not found: {path!r} (relative to {Path.cwd()}). Check the path.")
    try:
        frame = read_table(path, sheet=sheet, text_columns=text_columns)
    except DataError as err:
        if err.code != "bad_sheet":
            raise
        raise UsageError(str(err).replace(f"sheet={sheet!r}", f"--sheet {sheet}")) from None
    notes = reading_notes(frame)
    if notes:  # another encoding, separator or sheet than the plain case: say so, as the CLI does
        print(f"read {path}: {', '.join(notes)}")
    return frame


def split_data(value, what: str = "the cell"):
    """``(frame_or_X, y)`` from a resolved value: a DataFrame, or a pair ``X, y``."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value, None
    if isinstance(value, tuple) and len(value) == 2:
        return value
    kind = type(value).__name__
    extra = f" of {len(value)} items" if isinstance(value, tuple) else ""
    raise UsageError(
        f"{what.capitalize()} gave a {kind}{extra}; expected a DataFrame, `X, y`, or the path "
        f"of a CSV/Parquet file. For example\n{EXAMPLE}"
    )
