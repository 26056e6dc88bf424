"""Plain scikit-learn code for a search's pipeline (``%automl_code``).

:func:`pipeline_code` writes a script that needs only numpy, pandas and
scikit-learn: it selects the columns the search used, encodes the target the
way the engine does (classes sorted, code ``i`` is ``classes[i]``, the positive
class is ``classes[1]``), rebuilds the search's folds (same splitter and seed),
cross-validates the pipeline with the same metric, prints the CV score, and
fits the final model on all the rows. nbautoml's own small transformers are
written out in full (their source), so the script never imports nbautoml.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import math
import types

import numpy as np

__all__ = ["pipeline_code"]

_WIDTH = 99

# metric -> (scikit-learn function, extra arguments, what the model must give)
_METRICS = {
    "accuracy": ("accuracy_score", "", "label"),
    "balanced_accuracy": ("balanced_accuracy_score", "", "label"),
    "f1": ("f1_score", ", pos_label=1, zero_division=0", "label"),
    "f1_macro": ("f1_score", ', average="macro", zero_division=0', "label"),
    "precision": ("precision_score", ", pos_label=1, zero_division=0", "label"),
    "recall": ("recall_score", ", pos_label=1, zero_division=0", "label"),
    "roc_auc": ("roc_auc_score", "", "score"),
    "average_precision": ("average_precision_score", "", "score"),
    "log_loss": ("log_loss", "", "proba"),
    "r2": ("r2_score", "", "label"),
    "rmse": ("mean_squared_error", "", "label"),
    "mae": ("mean_absolute_error", "", "label"),
    "mape": ("mean_absolute_percentage_error", "", "label"),
}

_ROC_AUC_OVR = '''
def roc_auc_ovr(y_true, scores):
    """One-vs-rest ROC AUC over the classes present in the fold (as nbautoml scores it)."""
    present = np.unique(y_true)
    if len(present) < scores.shape[1]:
        scores = scores[:, present]
        scores = scores / np.clip(scores.sum(axis=1, keepdims=True), 1e-12, None)
        if len(present) == 2:
            return roc_auc_score(y_true == present[1], scores[:, 1])
        return roc_auc_score(y_true, scores, multi_class="ovr", labels=present)
    return roc_auc_score(y_true, scores, multi_class="ovr", labels=np.arange(scores.shape[1]))
'''


def pipeline_code(result, data_var: str = "df", trial: int | None = None) -> str:
    """Code that rebuilds, cross-validates and fits a search's pipeline with scikit-learn only.

    Parameters
    ----------
    result : AutoML
        A fitted search.
    data_var : str, default="df"
        The variable that holds the data in the code: a DataFrame with the
        feature columns and the target column.
    trial : int, optional
        The trial whose pipeline is written (default: the best).

    Returns
    -------
    str
        The code. Run after ``df`` is loaded, it prints the CV score (equal to
        the search's) and leaves the fitted pipeline in ``model``.

    Raises
    ------
    ValueError
        For a trial that did not succeed, or a pipeline part that cannot be
        written as code.

    Examples
    --------
    >>> from nbautoml.codegen import pipeline_code
    >>> code = pipeline_code(automl)  # doctest: +SKIP
    >>> exec(code, {"df": df})  # doctest: +SKIP
    CV roc_auc: 0.8676412345 ± 0.0110123456 (stratified 5-fold)
    """
    from .engine.space import build_pipeline, describe

    if trial is None and getattr(result, "ensemble_", None) is not None:
        return _ensemble_code(result, data_var)
    record = _trial(result, trial)
    pipeline = build_pipeline(
        record.config, result.plan_, result.task_, random_state=result.seed, n_jobs=-1
    )
    writer = _Writer()
    builder = writer.builder(pipeline)
    classification = result.task_ != "regression"
    cv_lines = _cv_lines(result, writer, "y_codes" if classification else "y_values", data_var)
    score_lines = _score_lines(
        result, pipeline, writer, "y_codes" if classification else "y_values"
    )
    writer.use_module("numpy", "np")
    writer.use_module("pandas", "pd")
    head = [
        f"# scikit-learn code for the pipeline of trial {record.trial_id} of an nbautoml search:",
        f"#   {describe(record.config)}",
        f"#   CV {result.metric_}: {record.score:.6f} ± {record.score_std:.6f} "
        f"({result.validation_.description}, seed {result.seed})",
        f"# Input: `{data_var}`, a DataFrame with the feature columns and {result.target_!r}.",
        "# It prints the same CV score and leaves the pipeline fitted on all the rows in `model`.",
        "",
    ]
    body = _data_lines(result, writer, data_var)
    body += ["", "", "def build_pipeline():"] + [f"    {line}" for line in builder] + ["", ""]
    body += cv_lines + score_lines
    return _script(head, writer, body, result if trial is None else None)


def _script(head: list[str], writer: _Writer, body: list[str], result=None) -> str:
    """The comment head, the imports and helpers, the body, then the final fit on all the rows
    (around it the decision threshold of ``result``'s model, if it has one)."""
    final = [
        "",
        "# The final model, fitted on all the rows; it predicts the original labels:",
        "# model.predict(new_data[feature_columns])",
        "model = build_pipeline().fit(X, y.to_numpy())",
    ]
    threshold = getattr(result, "decision_threshold_", None)
    if threshold is not None:
        writer.use("sklearn.model_selection", "FixedThresholdClassifier")
        negative, positive = list(result.classes_.tolist())
        final[1:] = [
            f"# The final model, fitted on all the rows. It predicts {positive!r} where that class's",
            f"# probability is at least {threshold!r} (the search's decision threshold:",
            f"# {result.threshold_note_}), else {negative!r}:",
            "# model.predict(new_data[feature_columns])",
            f"model = FixedThresholdClassifier(build_pipeline(), threshold={threshold!r}, "
            'response_method="predict_proba")',
            "model.fit(X, y.to_numpy())",
        ]
    return "\n".join(head + writer.header() + ["", ""] + body + final) + "\n"


def _metric_entry(name: str):
    """``(scikit-learn function, extra arguments, what the model must give)`` for a metric."""
    if name not in _METRICS:
        raise ValueError(
            f"Cannot write code for the metric {name!r}; known: {', '.join(_METRICS)}."
        )
    return _METRICS[name]


def _data_lines(result, writer: _Writer, data_var: str) -> list[str]:
    """Select the columns and rows the search used; encode the target as the engine does."""
    dropped = "; ".join(f"{k} ({v})" for k, v in result.plan_.dropped.items()) or "none"
    lines = [
        "# The data: the columns the search used, and the rows that have a target.",
        f"# Dropped columns: {dropped}.",
        f"target = {result.target_!r}",
        f"feature_columns = {writer.expr(list(result.plan_.used), 0)}",
        f"data = {data_var}[{data_var}[target].notna()]",
        "X = data[feature_columns]",
        "y = data[target]",
    ]
    converted = _converted_lines(result.plan_)
    if converted:
        lines += ["# as nbautoml reads them: durations in seconds, periods as their start dates,",
                  "# nullable numbers with <NA> as float64 with NaN",
                  "X = X.assign(**{"] + converted + ["})"]
    if result.task_ != "regression":
        lines += [
            "classes = np.unique(y.to_numpy())  # sorted; class code i is classes[i], "
            "the positive class is classes[1]",
            "y_codes = np.searchsorted(classes, y.to_numpy())",
        ]
    elif getattr(result, "target_as_numbers_", False):  # "$1,234.50", "?": read as the search read them
        from .engine.transformers import to_numbers

        read = writer.reference(to_numbers)
        lines[lines.index(f"data = {data_var}[{data_var}[target].notna()]")] = (
            f"data = {data_var}[{read}({data_var}[target]).notna()]  # the target holds numbers as text")
        lines[lines.index("y = data[target]")] = f"y = {read}(data[target])"
        lines += ["y_values = y.to_numpy(dtype=float)"]
    else:
        lines += ["y_values = pd.to_numeric(y).to_numpy(dtype=float)"]
    return lines


def _converted_lines(plan) -> list[str]:
    """``name: conversion,`` lines for the used columns that ``data.plain_dtypes`` converts."""
    from .engine.data import read_as

    code = {"seconds": "dt.total_seconds()", "dates": "dt.to_timestamp()", "float64": 'astype("float64")',
            "text": ('map(lambda v: ", ".join(f"{k}: {x}" for k, x in v.items()) if isinstance(v, dict) '
                     'else ", ".join(sorted(map(str, v)) if isinstance(v, (set, frozenset)) else map(str, v)), '
                     'na_action="ignore")')}
    return [f"    {c.name!r}: X[{c.name!r}].{code[read_as(c.dtype)]},"
            for c in plan.columns if c.role != "dropped" and read_as(c.dtype)]


def _ensemble_code(result, data_var: str) -> str:
    """Code for a soft-voting ensemble: one builder per member, CV on pooled out-of-fold predictions."""
    from .engine.ensemble import describe_ensemble
    from .engine.space import build_pipeline, describe

    choice = result.ensemble_
    by_id = {t.trial_id: t for t in result.trials_}
    writer = _Writer()
    classification = result.task_ != "regression"
    y = "y_codes" if classification else "y_values"
    members, builders = [], []
    for tid, weight in choice.weights.items():
        pipeline = build_pipeline(by_id[tid].config, result.plan_, result.task_,
                                  random_state=result.seed, n_jobs=-1)
        builders += [f"def build_trial_{tid}():", f"    # {describe(by_id[tid].config)}"]
        builders += [f"    {line}" for line in writer.builder(pipeline)] + ["", ""]
        members.append((tid, weight))
    voter = "VotingClassifier" if classification else "VotingRegressor"
    writer.use("sklearn.ensemble", voter)
    writer.use("sklearn.pipeline", "Pipeline")
    writer.use_module("numpy", "np")
    writer.use_module("pandas", "pd")
    estimators = ", ".join(f'("trial_{tid}", build_trial_{tid}())' for tid, _ in members)
    weights = ", ".join(str(w) for _, w in members)
    soft = ', voting="soft"' if classification else ""
    builders += [
        "def build_pipeline():",
        f"    voter = {voter}([{estimators}]{soft}, weights=[{weights}])",
        '    return Pipeline([("ensemble", voter)])',
        "",
        "",
    ]
    cv_lines = _cv_lines(result, writer, y, data_var)
    head = [
        "# scikit-learn code for the model of an nbautoml search: a weighted average of the",
        "# predictions of the best trials, chosen by greedy ensemble selection:",
        f"#   {describe_ensemble(choice.weights, {t: by_id[t].config for t in choice.weights})}",
        f"#   CV {result.metric_} of the out-of-fold predictions: {choice.score:.6f} "
        f"(best single trial {choice.single_score:.6f}; {result.validation_.description}, "
        f"seed {result.seed})",
        f"# Input: `{data_var}`, a DataFrame with the feature columns and {result.target_!r}.",
        "# It prints the same CV score and leaves the ensemble fitted on all the rows in `model`.",
        "",
    ]
    body = _data_lines(result, writer, data_var) + ["", ""] + builders + cv_lines
    body += _pooled_score_lines(result, writer, y)
    return _script(head, writer, body, result)


def _pooled_score_lines(result, writer: _Writer, y: str) -> list[str]:
    """Score the ensemble on its out-of-fold predictions pooled over the folds (as the selection does)."""
    name = result.metric_
    func, extra, needs = _metric_entry(name)
    writer.use("sklearn.metrics", func)
    classification = result.task_ != "regression"
    if classification:
        lines = [
            "oof = np.full((len(X), len(classes)), np.nan)",
            "for train, test in folds:",
            f"    pipeline = build_pipeline().fit(X.iloc[train], {y}[train])",
            "    oof[test] = pipeline.predict_proba(X.iloc[test])",
            "scored = ~np.isnan(oof[:, 0])  # the rows some fold validated",
        ]
    else:
        lines = [
            "oof = np.full(len(X), np.nan)",
            "for train, test in folds:",
            f"    pipeline = build_pipeline().fit(X.iloc[train], {y}[train])",
            "    oof[test] = pipeline.predict(X.iloc[test])",
            "scored = ~np.isnan(oof)  # the rows some fold validated",
        ]
    truth, prediction = f"{y}[scored]", "oof[scored]"
    if name == "roc_auc" and result.task_ == "multiclass":
        writer.helpers.append(_ROC_AUC_OVR.strip("\n"))
        score = f"roc_auc_ovr({truth}, {prediction})"
    elif name in ("roc_auc", "average_precision"):
        score = f"{func}({truth}, {prediction}[:, 1])"
    elif name == "log_loss":
        score = f"log_loss({truth}, np.clip({prediction}, 1e-15, 1), labels=np.arange(len(classes)))"
    elif name == "rmse":
        score = f"np.sqrt(mean_squared_error({truth}, {prediction}))"
    elif classification and needs == "label":
        score = f"{func}({truth}, {prediction}.argmax(axis=1){extra})"
    else:
        score = f"{func}({truth}, {prediction}{extra})"
    return lines + [
        f"score = {score}",
        f'print(f"CV {name} of the ensemble (out-of-fold, pooled): {{score:.10f}} '
        f'({result.validation_.description})")',
    ]


def _trial(result, trial):
    if trial is None:
        record = getattr(result, "best_trial_", None)
        if record is None:
            raise ValueError(
                "The search has no successful trial, so there is no pipeline to write."
            )
        return record
    for record in result.trials_:
        if record.trial_id == trial:
            if record.status != "ok":
                raise ValueError(
                    f"Trial {trial} did not succeed ({record.status}); pick a trial with "
                    "status 'ok' from the leaderboard."
                )
            return record
    raise ValueError(f"No trial {trial}; the trials are {[t.trial_id for t in result.trials_]}.")


def _cv_lines(result, writer: _Writer, y: str, data_var: str) -> list[str]:
    validation = result.validation_
    scheme, k, seed = validation.scheme, validation.n_splits, result.seed
    lines = [f"# Cross-validation: {validation.description}, the folds of the search."]
    if seed is None:
        lines.append(
            "# The search ran with seed=None, so these folds (and scores) differ from its own."
        )
    lines.append("rows = np.arange(len(X))")
    ms = "sklearn.model_selection"
    if scheme == "stratified":
        writer.use(ms, "StratifiedKFold")
        lines.append(
            f"folds = list(StratifiedKFold(n_splits={k}, shuffle=True, random_state={seed})"
            f".split(rows, {y}))"
        )
    elif scheme == "kfold":
        writer.use(ms, "KFold")
        lines.append(
            f"folds = list(KFold(n_splits={k}, shuffle=True, random_state={seed}).split(rows))"
        )
    elif scheme == "timeseries":
        writer.use(ms, "TimeSeriesSplit")
        lines.append(
            f"folds = list(TimeSeriesSplit(n_splits={k}).split(rows))  # rows in the given order"
        )
    elif scheme == "holdout":
        writer.use(ms, "train_test_split")
        n_test = len(validation.folds[0][1])
        stratify = y if result.task_ != "regression" else "None"
        lines += [
            f"train, test = train_test_split(rows, test_size={n_test}, random_state={seed}, "
            f"stratify={stratify})",
            "folds = [(np.sort(train), np.sort(test))]",
        ]
    elif scheme == "group":
        writer.use(ms, "GroupKFold")
        lines += [
            "# `groups`: the group labels given to AutoML.fit(groups=...), one per row.",
            f"groups = np.asarray(groups)[{data_var}[target].notna().to_numpy()]",
            f"folds = list(GroupKFold(n_splits={k}).split(rows, {y}, groups))",
        ]
    else:
        splitter = writer.expr(result.cv, None)
        lines.append(f"folds = list({splitter}.split(rows.reshape(-1, 1), {y}))")
    return lines


def _score_lines(result, pipeline, writer: _Writer, y: str) -> list[str]:
    name = result.metric_
    func, extra, needs = _metric_entry(name)
    writer.use("sklearn.metrics", func)
    if result.task_ == "regression" or needs == "label":
        predict = "pipeline.predict(X.iloc[test])"
    elif needs == "proba" or hasattr(pipeline, "predict_proba"):
        predict = "pipeline.predict_proba(X.iloc[test])"
    else:
        predict = "pipeline.decision_function(X.iloc[test])"
    truth = f"{y}[test]"
    if name == "roc_auc" and result.task_ == "multiclass":
        writer.helpers.append(_ROC_AUC_OVR.strip("\n"))
        score = f"roc_auc_ovr({truth}, prediction)"
    elif name in ("roc_auc", "average_precision"):
        column = "[:, 1]" if predict.startswith("pipeline.predict_proba") else ""
        score = f"{func}({truth}, prediction{column})"
    elif name == "log_loss":
        score = f"log_loss({truth}, np.clip(prediction, 1e-15, 1), labels=np.arange(len(classes)))"
    elif name == "rmse":
        score = f"np.sqrt(mean_squared_error({truth}, prediction))"
    else:
        score = f"{func}({truth}, prediction{extra})"
    return [
        "scores = []",
        "for train, test in folds:",
        f"    pipeline = build_pipeline().fit(X.iloc[train], {y}[train])",
        f"    prediction = {predict}",
        f"    scores.append({score})",
        f'print(f"CV {name}: {{np.mean(scores):.10f}} ± {{np.std(scores):.10f}} '
        f'({result.validation_.description})")',
    ]


# ------------------------------------------------------------------- writing objects as code


def _public_equivalent(cls: type) -> type:
    """The scikit-learn class an nbautoml subclass only fits faster (the same fitted
    encoder or imputer, tested), so that the code shows the class a reader knows."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    from .engine.transformers import MedianImputer, OneHotCategories

    return {OneHotCategories: OneHotEncoder, MedianImputer: SimpleImputer}.get(cls, cls)


class _Writer:
    """Writes estimators as constructor calls; collects the imports and helper sources needed."""

    def __init__(self):
        self.imports: dict[str, set[str]] = {}  # module -> names (from module import name)
        self.modules: dict[str, str] = {}  # alias -> module (import module as alias)
        self.constants: dict[str, str] = {}
        self.helpers: list[str] = []
        self.names: dict[int, str] = {}  # id(object) -> the variable that holds it
        self._inlined: set = set()

    # -- imports and helpers
    def use(self, module: str, name: str) -> None:
        self.imports.setdefault(module, set()).add(name)

    def use_module(self, module: str, alias: str) -> None:
        self.modules[alias] = module

    def header(self) -> list[str]:
        lines = []
        for alias, module in sorted(self.modules.items(), key=lambda kv: kv[1]):
            lines.append(f"import {module}" + (f" as {alias}" if alias != module else ""))
        for module in sorted(self.imports):
            names = ", ".join(sorted(self.imports[module]))
            line = f"from {module} import {names}"
            if len(line) > _WIDTH:
                line = (
                    f"from {module} import (\n    "
                    + ",\n    ".join(sorted(self.imports[module]))
                    + ",\n)"
                )
            lines.append(line)
        if self.constants:
            lines.append("")
            lines += [f"{name} = {value}" for name, value in self.constants.items()]
        for source in self.helpers:
            lines += ["", "", source]
        return lines

    def reference(self, obj) -> str:
        """The name of a class or function, imported from its public module or written out."""
        module = getattr(obj, "__module__", "") or ""
        name = obj.__qualname__
        if module.split(".")[0] == "nbautoml":
            self.inline(obj)
            return name
        if module.split(".")[0] == "numpy":
            self.use_module("numpy", "np")
            return f"np.{obj.__name__}"
        self.use(_public_module(obj), name)
        return name

    def inline(self, obj) -> None:
        """Write out the source of an nbautoml class or function, with what it refers to."""
        if obj in self._inlined:
            return
        self._inlined.add(obj)
        source = inspect.getsource(obj)
        module = importlib.import_module(obj.__module__)
        used = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
        for name in sorted(used):
            if name == obj.__name__ or name not in vars(module) or hasattr(builtins, name):
                continue
            value = vars(module)[name]
            if isinstance(value, types.ModuleType):
                self.use_module(value.__name__, name)
            elif isinstance(value, type) or callable(value):
                if value.__module__.split(".")[0] == "nbautoml":
                    self.inline(value)
                else:
                    self.use(_public_module(value), value.__name__)
            elif _is_literal(value):
                self.constants[name] = repr(value)
            else:
                raise ValueError(
                    f"Cannot write {obj.__name__} as code: it uses {name!r}, a "
                    f"{type(value).__name__}."
                )
        self.helpers.append(source.rstrip("\n"))

    # -- the pipeline, one variable per part
    def builder(self, pipeline) -> list[str]:
        """Statements building ``pipeline``, each step in a variable."""
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline

        self.names = {}  # variables are local to each builder function
        self._alive = getattr(self, "_alive", []) + [pipeline]  # ids stay unique while writing
        if not isinstance(pipeline, Pipeline):
            return [f"return {self.expr(pipeline, 4)}"]
        lines, taken = [], set()

        def bind(obj, name):
            var = name if name.isidentifier() and name not in taken else f"{name}_{len(taken)}"
            var = var if var.isidentifier() else f"part_{len(taken)}"
            taken.add(var)
            lines.append(f"{var} = {self.expr(obj, 4)}")
            self.names[id(obj)] = var

        for name, step in pipeline.steps:
            if isinstance(step, ColumnTransformer):
                for part_name, part, _ in step.transformers:
                    if not isinstance(part, str):
                        bind(part, part_name)
            if not isinstance(step, str):
                bind(step, name)
        lines.append(f"return {self.expr(pipeline, 4)}")
        return lines

    # -- expressions
    def expr(self, value, indent: int | None) -> str:
        """``value`` as source, broken over lines indented at ``indent`` past the line width."""
        flat = self._render(value, None)
        if indent is None or indent + len(flat) <= _WIDTH:
            return flat
        return self._render(value, indent)

    def _render(self, value, indent):
        from sklearn.base import BaseEstimator

        value = _plain(value)
        if id(value) in self.names:
            return self.names[id(value)]
        inner = None if indent is None else indent + 4
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        if isinstance(value, float):
            return repr(value) if math.isfinite(value) else f'float("{value}")'
        if isinstance(value, BaseEstimator):
            head = self.reference(_public_equivalent(type(value)))
            return self._wrap(f"{head}(", self._arguments(value, inner), ")", indent)
        if isinstance(value, (list, tuple)):
            items = [self.expr(v, inner) for v in value]
            if isinstance(value, tuple):
                return self._wrap("(", items, ",)" if len(items) == 1 else ")", indent)
            return self._wrap("[", items, "]", indent)
        if isinstance(value, dict):
            items = [f"{self.expr(k, None)}: {self.expr(v, inner)}" for k, v in value.items()]
            return self._wrap("{", items, "}", indent)
        if isinstance(value, np.ndarray):
            self.use_module("numpy", "np")
            return f"np.array({self.expr(value.tolist(), indent)})"
        if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
            return self.reference(value)
        raise ValueError(f"Cannot write a {type(value).__name__} ({value!r}) as code.")

    def _arguments(self, estimator, indent) -> list[str]:
        """The constructor arguments that differ from the defaults (required ones positional)."""
        params = estimator.get_params(deep=False)
        parameters = list(inspect.signature(type(estimator).__init__).parameters.items())[1:]
        args = []
        for i, (name, parameter) in enumerate(parameters):
            if name not in params:
                continue
            value = _plain(params[name])
            if parameter.default is inspect.Parameter.empty:
                rendered = self.expr(value, indent)
                args.append(rendered if i == 0 else f"{name}={rendered}")
            elif repr(value) != repr(_plain(parameter.default)):
                args.append(f"{name}={self.expr(value, indent)}")
        return args

    @staticmethod
    def _wrap(opener: str, items: list[str], closer: str, indent) -> str:
        if indent is None or not items:
            return opener + ", ".join(items) + closer
        pad = " " * (indent + 4)
        return (
            opener
            + "\n"
            + "".join(f"{pad}{item},\n" for item in items)
            + " " * indent
            + closer.lstrip(",")
        )


def _plain(value):
    """numpy scalars as Python numbers; a ``ColumnNames`` selection as its list of names."""
    from .engine.transformers import ColumnNames

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, ColumnNames):
        return list(value.names)
    return value


def _is_literal(value) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError):
        return False


def _public_module(obj) -> str:
    """The shortest public module exporting ``obj`` (``sklearn.ensemble``, not ``..._forest``)."""
    parts = obj.__module__.split(".")
    for i in range(1, len(parts) + 1):
        if any(p.startswith("_") for p in parts[:i]):
            break
        candidate = ".".join(parts[:i])
        try:
            if getattr(importlib.import_module(candidate), obj.__name__, None) is obj:
                return candidate
        except ImportError:
            continue
    return obj.__module__
