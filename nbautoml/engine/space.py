"""The search space: estimator families, their priors, strong defaults, and pipelines.

A *config* is a plain JSON-able dict::

    {"family": "random_forest",
     "params": {"n_estimators": 200, "max_features": 0.5, ...},
     "pre": {"num_impute": "median", "scaler": "none", "cat_encoding": "ordinal", ...}}

Each family is described once by a list of :class:`Param`; the hyperopt space,
the default points (``points_to_evaluate``) and the pipeline all come from that
description. Labels are dotted and unique (``random_forest.n_estimators``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigError, unknown_choice

# --------------------------------------------------------------------------- params


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its prior and its default.

    ``kind`` is one of ``choice`` (``args`` = options), ``loguniform`` /
    ``uniform`` (``args`` = low, high), ``qloguniform`` / ``quniform``
    (``args`` = low, high, q; the value is cast to int).
    """

    name: str
    kind: str
    args: tuple
    default: Any

    def hp(self, label: str):
        from hyperopt import hp

        if self.kind == "choice":
            return hp.choice(label, list(self.args))
        if self.kind == "uniform":
            return hp.uniform(label, *self.args)
        if self.kind == "loguniform":
            low, high = self.args
            return hp.loguniform(label, math.log(low), math.log(high))
        if self.kind == "quniform":
            return hp.quniform(label, *self.args)
        if self.kind == "qloguniform":
            low, high, q = self.args
            return hp.qloguniform(label, math.log(low), math.log(high), q)
        raise ValueError(self.kind)

    def encode(self, value):
        """The value hyperopt stores for ``value`` (an index for a choice)."""
        if self.kind == "choice":
            return list(self.args).index(value)
        return value


@dataclass(frozen=True)
class Family:
    """An estimator family: what it needs and the priors of its hyperparameters."""

    name: str
    tasks: tuple[str, ...]
    params: tuple[Param, ...]
    scale: bool = False  # sensitive to feature scale: scaler and one-hot searched
    dense_only: bool = False  # cannot take sparse input (text goes through SVD)
    max_rows: int | None = None  # skip above this many rows
    defaults: tuple[dict, ...] = field(default_factory=tuple)  # extra good starting points
    # starting points that replace ``defaults`` when a trial fits on more than
    # LARGE_FIT_ROWS rows (empty: ``defaults`` at every size)
    large_data_defaults: tuple[dict, ...] = field(default_factory=tuple)
    # regression: fit on the standardized target (an SVR's epsilon and C, a lasso's alpha
    # and a net's loss are in the target's units; on house prices an SVR scored R² -0.06)
    scale_target: bool = False
    # an additive model on request: each number through a B-spline basis
    # (``pre["splines"]``), so a linear model can bend and levels off beyond the
    # training range (FINDINGS.md, "Splines for linear models")
    splines: bool = False
    # priors that replace the same-named ones in ``params`` when the data has a text column
    # (thousands of TF-IDF columns): see :meth:`params_for`
    text_params: tuple[Param, ...] = ()

    def params_for(self, has_text: bool = False) -> tuple[Param, ...]:
        """The hyperparameters searched: ``params``, with ``text_params`` in their place on
        data with a text column."""
        if not (has_text and self.text_params):
            return self.params
        on_text = {p.name: p for p in self.text_params}
        return tuple(on_text.get(p.name, p) for p in self.params)


_CLS = ("binary", "multiclass")
_ALL = ("binary", "multiclass", "regression")
_REG = ("regression",)

# Above this many rows in a trial's fit, HistGradientBoosting stops early on its own
# (early_stopping="auto"), so a large max_iter is only a cap.
LARGE_FIT_ROWS = 10_000

_CLASS_WEIGHT = Param("class_weight", "choice", (None, "balanced"), None)
# A forest's share of the columns tried at each split, on data with text. The shares above
# (0.35, 0.5) are of a few dozen columns; of spam's TF-IDF columns they made the two default
# forests the slowest and weakest trees (5-fold CV ROC AUC, 150 trees on nbautoml's TF-IDF:
# random forest 0.9865 in 24.2 s at 0.35, 0.9933 in 5.0 s at 0.01; extra trees 0.9876 in
# 29.2 s at 0.5, 0.9941 in 5.7 s at 0.01), and on a shuffled target 5-6 minutes a trial
# (trees grown to single rows)
_TEXT_FOREST_MAX_FEATURES = Param("max_features", "loguniform", (0.002, 1.0), 0.01)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            "hist_gradient_boosting",
            _ALL,
            (
                Param("learning_rate", "loguniform", (0.01, 0.5), 0.1),
                Param("max_iter", "qloguniform", (50, 1000, 10), 100),
                Param("max_leaf_nodes", "qloguniform", (4, 256, 1), 31),
                Param("min_samples_leaf", "qloguniform", (2, 200, 1), 20),
                Param("l2_regularization", "loguniform", (1e-8, 10.0), 1e-8),
                Param("max_features", "uniform", (0.3, 1.0), 1.0),
            ),
            dense_only=True,
            defaults=(
                {"learning_rate": 0.05, "max_iter": 400, "max_leaf_nodes": 15, "min_samples_leaf": 10,
                 "l2_regularization": 1e-8, "max_features": 0.6},
                # shallow and slow: few interactions (3-fold CV on the training splits of the
                # benchmark: insurance 0.835 vs 0.823, juice 0.885 vs 0.877, credit 0.777 vs 0.771
                # for the first default)
                {"learning_rate": 0.03, "max_iter": 600, "max_leaf_nodes": 6, "min_samples_leaf": 20,
                 "l2_regularization": 1e-8, "max_features": 1.0},
            ),
            # on large data the shallow point above is the worst boosting default on bike (0.915)
            # and income (0.923) and second on credit (0.783; wide trees 0.778), each fitted on
            # the benchmark's split-0 training rows and scored on its test rows; wide trees,
            # stopped early, win where interactions matter (bike 0.963, the library default 0.952)
            large_data_defaults=(
                {"learning_rate": 0.05, "max_iter": 400, "max_leaf_nodes": 15, "min_samples_leaf": 10,
                 "l2_regularization": 1e-8, "max_features": 0.6},
                {"learning_rate": 0.1, "max_iter": 1000, "max_leaf_nodes": 63, "min_samples_leaf": 20,
                 "l2_regularization": 1e-8, "max_features": 1.0},
            ),
        ),
        Family(
            "random_forest",
            _ALL,
            (
                Param("n_estimators", "qloguniform", (20, 500, 10), 150),
                Param("max_features", "uniform", (0.05, 1.0), 0.35),
                Param("min_samples_leaf", "qloguniform", (1, 30, 1), 1),
                Param("bootstrap", "choice", (True, False), True),
            ),
            max_rows=300_000,
            text_params=(_TEXT_FOREST_MAX_FEATURES,),
        ),
        Family(
            "extra_trees",
            _ALL,
            (
                Param("n_estimators", "qloguniform", (20, 500, 10), 150),
                Param("max_features", "uniform", (0.05, 1.0), 0.5),
                Param("min_samples_leaf", "qloguniform", (1, 30, 1), 1),
                Param("bootstrap", "choice", (False, True), False),
            ),
            max_rows=300_000,
            text_params=(_TEXT_FOREST_MAX_FEATURES,),
        ),
        Family(
            "logistic_regression",
            _CLS,
            (Param("C", "loguniform", (1e-3, 1e3), 1.0), _CLASS_WEIGHT),
            scale=True,
            defaults=({"C": 10.0, "class_weight": None},),
        ),
        Family(
            "ridge",
            _ALL,
            (Param("alpha", "loguniform", (1e-3, 1e3), 1.0),),
            scale=True,
            splines=True,
        ),
        Family(
            "lasso",
            _REG,
            (Param("alpha", "loguniform", (1e-5, 10.0), 0.01),),
            scale=True,
            splines=True,
            scale_target=True,
        ),
        Family(
            "elastic_net",
            _ALL,
            (
                Param("alpha", "loguniform", (1e-6, 1.0), 1e-4),
                Param("l1_ratio", "uniform", (0.0, 1.0), 0.15),
            ),
            scale=True,
            splines=True,
            scale_target=True,
        ),
        Family(
            "linear_svm",
            _ALL,
            (Param("C", "loguniform", (1e-3, 100.0), 1.0),),
            scale=True,
            splines=True,
            scale_target=True,
        ),
        Family(
            "svm",
            _ALL,
            (
                Param("C", "loguniform", (1e-2, 1e3), 1.0),
                Param("gamma", "loguniform", (1e-4, 1.0), 0.05),
            ),
            scale=True,
            scale_target=True,
            max_rows=10_000,
        ),
        Family(
            "knn",
            _ALL,
            (
                Param("n_neighbors", "qloguniform", (1, 50, 1), 10),
                Param("weights", "choice", ("uniform", "distance"), "distance"),
            ),
            scale=True,
            max_rows=100_000,
        ),
        Family(
            "decision_tree",
            _ALL,
            (
                Param("max_depth", "qloguniform", (2, 30, 1), 8),
                Param("min_samples_leaf", "qloguniform", (1, 50, 1), 5),
            ),
        ),
        Family(
            "mlp",
            _ALL,
            (
                Param("hidden_layer_sizes", "choice", ("64", "128", "64-64", "128-64"), "64"),
                Param("alpha", "loguniform", (1e-6, 1e-1), 1e-4),
                Param("learning_rate_init", "loguniform", (1e-4, 3e-2), 1e-3),
            ),
            scale=True,
            scale_target=True,
            max_rows=300_000,
        ),
        Family(
            "naive_bayes",
            _CLS,
            (Param("var_smoothing", "loguniform", (1e-12, 1e-1), 1e-9),),
            scale=True,
            dense_only=True,
        ),
    ]
}

# Preprocessing choices. Scale-sensitive families also search the scaler and
# default to one-hot; tree families default to ordinal codes.
_PRE_COMMON = (
    Param("num_impute", "choice", ("median", "mean"), "median"),
    Param("max_categories", "choice", (10, 20, 50), 20),
)
_SELECT = Param("select_percentile", "choice", (100, 80, 50, 25), 100)

# Above this many columns in one ColumnTransformer part, they are selected through
# transformers.ColumnNames (scikit-learn 1.9's lookup by name grows with the square).
MANY_COLUMNS = 1_000

# Wide data: at least WIDE_MIN_COLUMNS input columns and more of them than rows per fit
# (200 rows x 20,000 columns). The univariate selection (SelectPercentile, fitted inside
# each fold) then searches down to 1 % and starts where it keeps about WIDE_KEEP columns:
# on 200 x 20,000 synthetic rows a 5-fold CV of the default forest took 122 s on every
# column and 14 s on 1 % of them, and scored ROC AUC 0.916 against 0.939.
WIDE_MIN_COLUMNS = 1_000
WIDE_KEEP = 200
_SELECT_WIDE_CHOICES = (1, 2, 5, 10, 25, 50, 100)


def is_wide(n_features: int, fit_rows: float) -> bool:
    """True for wide data: at least ``WIDE_MIN_COLUMNS`` columns, and more than rows per fit."""
    return n_features >= WIDE_MIN_COLUMNS and n_features > fit_rows


def selection_param(n_features: int = 0, fit_rows: float = 0) -> Param:
    """The prior of ``select_percentile``: (100, 80, 50, 25), or on wide data 1-100 %.

    On wide data (:func:`is_wide`) the default is the smallest percentile that keeps at
    least ``WIDE_KEEP`` columns (1 % of 20,000, 25 % of 1,000).
    """
    if not is_wide(n_features, fit_rows):
        return _SELECT
    default = next(p for p in _SELECT_WIDE_CHOICES if p * n_features >= 100 * WIDE_KEEP)
    return Param("select_percentile", "choice", _SELECT_WIDE_CHOICES, default)


# B-spline features for the numbers of a linear model (an additive model): 5 knots over
# the training range, cubic, constant beyond it
_SPLINES = Param("splines", "choice", (False, True), False)
_SPLINES_ALWAYS = Param("splines", "choice", (True,), True)
SPLINE_MODES = ("off", "search", "always")
SPLINE_KNOTS = 5
SPLINE_DEGREE = 3
SPLINES_PER_NUMBER = SPLINE_KNOTS + SPLINE_DEGREE - 1
# at most this many spline columns (about 285 numbers): a ridge fit grows with their square
MAX_SPLINE_COLUMNS = 2_000


def spline_mode(task: str, fit_rows: float, n_numbers: int) -> str:
    """Whether the linear families' numbers go through splines: ``"always"`` on regression
    up to ``LARGE_FIT_ROWS`` rows per fit, ``"search"`` above (plain ridge starts there: seven
    columns per number cost more on many rows), ``"off"`` on classification and when
    ``n_numbers`` numeric columns would make more than ``MAX_SPLINE_COLUMNS`` (wide data).

    Measured (FINDINGS.md, "Splines for linear models"): on regression the default ridge on
    splines scored better in CV and on the held-out rows in all 15 cases (5 data sets x 3
    splits), and with plain linear models still searched, house's ensembles took them in.
    In "always", the first trials may still turn the splines off (``race.SplineChoice``).
    """
    if task != "regression" or n_numbers * SPLINES_PER_NUMBER > MAX_SPLINE_COLUMNS:
        return "off"
    return "always" if fit_rows <= LARGE_FIT_ROWS else "search"


def without_splines(config: dict) -> dict:
    """The same linear model on plain numbers (the scaler and clipping at their defaults);
    any other config unchanged."""
    family = FAMILIES.get(config.get("family"))
    pre = dict(config.get("pre", {}))
    if family is None or not family.splines or not pre.pop("splines", False):
        return config
    for p in pre_params(family, False, False, splines="off"):
        if p.name in ("scaler", "clip"):
            pre.setdefault(p.name, p.default)
    return {**config, "pre": pre}


# The regression target on the log scale (transformers.LogTarget): "off" (no such option:
# classification, a target with negative values or little skew), "raw" or "log" (decided
# per data set by race.TargetChoice from the default boosting and its twin on the log)
TARGET_MODES = ("off", "raw", "log")
_TARGET_RAW = Param("log_target", "choice", (False,), False)
_TARGET_LOG = Param("log_target", "choice", (True,), True)
# a skew below this leaves the target as it is (no twin): concrete's 0.45, and the log lost there
LOG_TARGET_MIN_SKEW = 1.0


def target_mode(task: str, y) -> str:
    """``"raw"`` (the log is tried) for a regression target without negative values and a
    skew of at least ``LOG_TARGET_MIN_SKEW``, else ``"off"``."""
    import pandas as pd

    if task != "regression":
        return "off"
    y = pd.Series(y, dtype=float)
    return "raw" if y.min() >= 0 and y.skew() >= LOG_TARGET_MIN_SKEW else "off"


def with_log_target(config: dict) -> dict:
    """The same config fitted on the log of the target."""
    return {**config, "pre": {**config.get("pre", {}), "log_target": True}}


_PRE_TEXT = (
    Param("text_max_features", "choice", (2000, 10000, 30000), 10000),
    Param("text_ngrams", "choice", (1, 2), 2),
    Param("text_sublinear_tf", "choice", (True, False), True),
)

# The order in which families are tried first, when they are in the search: a fast
# linear model first (so even a short budget gives a model), then the strong
# tree ensembles, then variants. Entries "name#k" are the family's k-th extra default.
DEFAULT_ORDER = (
    "logistic_regression",
    "ridge",
    "hist_gradient_boosting",
    "random_forest",
    "extra_trees",
    "hist_gradient_boosting#1",
    "hist_gradient_boosting#2",
    "knn",
    "logistic_regression#1",
)
# On large data (more than LARGE_FIT_ROWS rows per fit) boosting stops early and its
# points take a second or two, while a forest's cost grows with the rows (bike: 6 s a
# trial): the boosting points go first, so a short budget does not spend itself on forests.
DEFAULT_ORDER_LARGE = (
    "logistic_regression",
    "ridge",
    "hist_gradient_boosting",
    "hist_gradient_boosting#1",
    "hist_gradient_boosting#2",
    "random_forest",
    "extra_trees",
    "knn",
    "logistic_regression#1",
)
DEFAULT_ORDER_TEXT = (
    "logistic_regression#1",
    "ridge",
    "linear_svm",
    "hist_gradient_boosting",
    "random_forest",
)


def pre_params(family: Family, has_categorical: bool, has_text: bool,
               selection: Param | None = None, splines: str = "off", target: str = "off") -> tuple[Param, ...]:
    """The preprocessing parameters searched for this family.

    ``selection``: the prior of ``select_percentile`` (:func:`selection_param`; default
    the one for data that is not wide). ``splines`` (:func:`spline_mode`): whether a linear
    family's numbers go through B-splines ("off", "search" or "always": then the scaler and
    clipping, which splines make moot, are not searched).
    """
    params = list(_PRE_COMMON) + [selection or _SELECT]
    if splines not in SPLINE_MODES:
        raise ValueError(f"splines={splines!r}: one of {SPLINE_MODES}")
    on_splines = family.splines and splines != "off"
    if family.scale and not (on_splines and splines == "always"):  # splines need no scaler
        params.append(Param("scaler", "choice", ("standard", "robust", "minmax"), "standard"))
        params.append(Param("clip", "choice", (True, False), True))
    if on_splines:
        params.append(_SPLINES_ALWAYS if splines == "always" else _SPLINES)
    if has_categorical:
        default = "onehot" if family.scale else "ordinal"
        other = "ordinal" if family.scale else "onehot"
        params.append(Param("cat_encoding", "choice", (default, other), default))
    if has_text:
        params.extend(_PRE_TEXT)
    if target not in TARGET_MODES:
        raise ValueError(f"target={target!r}: one of {TARGET_MODES}")
    if target != "off":
        params.append(_TARGET_LOG if target == "log" else _TARGET_RAW)
    return tuple(params)


def available_families(task: str) -> list[str]:
    """Names of the families that fit the task."""
    return [name for name, fam in FAMILIES.items() if task in fam.tasks]


def resolve_families(task: str, models=None, exclude=None, n_rows: int = 0) -> list[str]:
    """Check ``models`` / ``exclude`` and return the families to search.

    Raises
    ------
    ConfigError
        For a name that is not a family of this task (listing the valid ones).
    """
    valid = available_families(task)
    all_names = list(FAMILIES)
    for name in list(models or []) + list(exclude or []):
        if name not in all_names:
            raise unknown_choice("model", name, valid, code="unknown_model")
        if name not in valid:
            raise ConfigError(
                f"The model {name!r} does not fit a {task} task. Valid models for {task}: {', '.join(valid)}.",
                code="model_task_mismatch",
            )
    chosen = list(models) if models else valid
    chosen = [f for f in chosen if f not in set(exclude or [])]
    if not models:
        chosen = [f for f in chosen if FAMILIES[f].max_rows is None or n_rows <= FAMILIES[f].max_rows]
    if not chosen:
        raise ConfigError("models= and exclude= leave no model to search.", code="no_models")
    return chosen


# --------------------------------------------------------------------------- hyperopt space


def _label(family: str, section: str, name: str) -> str:
    return f"{family}.{section}.{name}" if section == "pre" else f"{family}.{name}"


def build_space(families: list[str], has_categorical: bool, has_text: bool,
                selection: Param | None = None, splines: str = "off", target: str = "off"):
    """The conditional hyperopt space over the given families (``selection``, ``splines``:
    :func:`pre_params`)."""
    from hyperopt import hp

    branches = []
    for name in families:
        fam = FAMILIES[name]
        branches.append(
            {
                "family": name,
                "params": {p.name: p.hp(_label(name, "params", p.name)) for p in fam.params_for(has_text)},
                "pre": {p.name: p.hp(_label(name, "pre", p.name))
                        for p in pre_params(fam, has_categorical, has_text, selection, splines, target)},
            }
        )
    return hp.choice("family", branches)


def default_points(families: list[str], has_categorical: bool, has_text: bool, n: int,
                   fit_rows: int = 0, selection: Param | None = None, splines: str = "off",
                   target: str = "off") -> list[dict]:
    """Up to ``n`` strong starting configs (``{"family", "params", "pre"}``), best first.

    ``fit_rows``, the rows a trial fits on: above ``LARGE_FIT_ROWS`` the order is
    ``DEFAULT_ORDER_LARGE`` and a family's ``large_data_defaults`` replace its defaults.
    With ``splines="always"`` the first linear model on splines is followed by its plain
    twin (:func:`without_splines`), one point more than ``n``: the pair from which
    ``race.SplineChoice`` decides whether the linear models keep their splines.
    """
    large = fit_rows > LARGE_FIT_ROWS
    order = DEFAULT_ORDER_TEXT if has_text else DEFAULT_ORDER_LARGE if large else DEFAULT_ORDER
    if "logistic_regression" in families:  # classification: one linear model first is enough
        order = tuple(e for e in order if e != "ridge")
    configs = []
    for entry in list(order) + [f for f in families if f not in order]:
        name, _, variant = entry.partition("#")
        if name not in families or len(configs) >= n:
            continue
        fam = FAMILIES[name]
        extra = fam.large_data_defaults if large and fam.large_data_defaults else fam.defaults
        if variant and int(variant) > len(extra):
            continue
        overrides = extra[int(variant) - 1] if variant else {}
        config = {
            "family": name,
            "params": {p.name: overrides.get(p.name, p.default) for p in fam.params_for(has_text)},
            "pre": {p.name: p.default
                    for p in pre_params(fam, has_categorical, has_text, selection, splines, target)},
        }
        if config not in configs:
            configs.append(config)
    if splines == "always":
        first = next((c for c in configs if c["pre"].get("splines")), None)
        if first is not None:
            configs.insert(configs.index(first) + 1, without_splines(first))
    if target == "raw":
        first = next((c for c in configs if c["family"] == "hist_gradient_boosting"), None)
        if first is not None:
            configs.insert(configs.index(first) + 1, with_log_target(first))
    return configs


def vals_from_config(config: dict, families: list[str], has_categorical: bool, has_text: bool,
                     selection: Param | None = None, splines: str = "off", target: str = "off"):
    """hyperopt's stored values (label -> value) for a config of the built-in space.

    Returns None when the config is not a point of this space (unknown family,
    a choice value that is not an option, a preprocessing step the space does not
    have), so it can still be evaluated but is not shown to the optimiser.
    """
    name = config.get("family")
    if name not in families:
        return None
    fam = FAMILIES[name]
    vals = {"family": families.index(name)}
    sections = (("params", fam.params_for(has_text)),
                ("pre", pre_params(fam, has_categorical, has_text, selection, splines, target)))
    for section, params in sections:
        given = config.get(section, {})
        if section == "pre" and set(given) - {p.name for p in params}:
            return None  # e.g. a model on splines, in a space whose linear models have none
        for p in params:
            value = given.get(p.name, p.default)
            try:
                value = p.encode(value)
            except ValueError:
                return None
            if p.kind != "choice":
                low, high = p.args[0], p.args[1]
                value = min(max(float(value), low), high)
            vals[_label(name, section, p.name)] = value
    return vals


def config_from_vals(space, vals: dict) -> dict:
    """Turn hyperopt's stored values (active label -> value) into a config dict."""
    from hyperopt import space_eval

    config = space_eval(space, vals)
    return normalize_config(config)


def normalize_config(config: dict) -> dict:
    """Cast quantized floats to int and fill missing sections."""
    fam = FAMILIES.get(config.get("family"))
    params = {k: to_python(v) for k, v in sorted(config.get("params", {}).items())}  # as hyperopt gives them
    if fam is not None:
        for p in fam.params:
            if p.kind.startswith("q") and p.name in params and params[p.name] is not None:
                params[p.name] = int(params[p.name])
    pre = {k: to_python(v) for k, v in config.get("pre", {}).items()}
    return {"family": config["family"], "params": params, "pre": pre}


def to_python(value):
    """numpy scalars to plain Python (JSON-able) values."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict, str)) else value


# --------------------------------------------------------------------------- pipelines


def make_estimator(family: str, params: dict, task: str, random_state: int | None, n_jobs: int = 1):
    """Instantiate the scikit-learn estimator of a family."""
    from sklearn import ensemble, linear_model, naive_bayes, neighbors, neural_network, svm, tree

    cls = task != "regression"
    p = dict(params)
    if ":" in family:  # "package.module:EstimatorClass", a user's own estimator
        return import_estimator(family)(**p)
    if family == "hist_gradient_boosting":
        est = ensemble.HistGradientBoostingClassifier if cls else ensemble.HistGradientBoostingRegressor
        return est(early_stopping="auto", random_state=random_state, **p)
    if family in ("random_forest", "extra_trees"):
        if family == "random_forest":
            est = ensemble.RandomForestClassifier if cls else ensemble.RandomForestRegressor
        else:
            est = ensemble.ExtraTreesClassifier if cls else ensemble.ExtraTreesRegressor
        return est(n_jobs=n_jobs, random_state=random_state, **p)
    if family == "logistic_regression":
        return linear_model.LogisticRegression(max_iter=2000, **p)
    if family == "ridge":
        return _calibrated(linear_model.RidgeClassifier(**p)) if cls else linear_model.Ridge(**p)
    if family == "lasso":
        return linear_model.Lasso(max_iter=5000, random_state=random_state, **p)
    if family == "elastic_net":
        if cls:
            return linear_model.SGDClassifier(loss="log_loss", penalty="elasticnet", max_iter=2000,
                                              tol=1e-4, random_state=random_state, **p)
        return linear_model.ElasticNet(max_iter=5000, random_state=random_state, **p)
    if family == "linear_svm":
        if cls:
            return _calibrated(svm.LinearSVC(max_iter=5000, random_state=random_state, **p))
        return svm.LinearSVR(max_iter=5000, random_state=random_state, **p)
    if family == "svm":
        return svm.SVC(probability=True, random_state=random_state, **p) if cls else svm.SVR(**p)
    if family == "knn":
        est = neighbors.KNeighborsClassifier if cls else neighbors.KNeighborsRegressor
        return est(n_jobs=n_jobs, **p)
    if family == "decision_tree":
        est = tree.DecisionTreeClassifier if cls else tree.DecisionTreeRegressor
        return est(random_state=random_state, **p)
    if family == "mlp":
        sizes = tuple(int(s) for s in str(p.pop("hidden_layer_sizes")).split("-"))
        est = neural_network.MLPClassifier if cls else neural_network.MLPRegressor
        return est(hidden_layer_sizes=sizes, early_stopping=True, max_iter=300,
                   random_state=random_state, **p)
    if family == "naive_bayes":
        return naive_bayes.GaussianNB(**p)
    raise ConfigError(f"No estimator for family {family!r}.")


def import_estimator(path: str):
    """Import an estimator class given as ``"package.module:ClassName"``."""
    import importlib
    import sys

    module_name, _, class_name = path.partition(":")
    try:
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
        return getattr(module, class_name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"Cannot import the estimator {path!r}: {err}. Give 'module:ClassName' of an "
                          "importable module.", code="bad_estimator") from err


def _calibrated(estimator):
    """Give a classifier without ``predict_proba`` probabilities (Platt scaling on 3 internal folds)."""
    from sklearn.calibration import CalibratedClassifierCV

    return CalibratedClassifierCV(estimator, method="sigmoid", cv=3, ensemble=False)


def build_pipeline(config: dict, plan, task: str, random_state: int | None = 0, n_jobs: int = 1,
                   estimator=None):
    """Build the unfitted scikit-learn Pipeline for a config.

    Parameters
    ----------
    config : dict
        ``{"family", "params", "pre"}``.
    plan : DataPlan
        Column roles.
    task : str
    random_state : int, optional
    n_jobs : int, default=1
        Threads for estimators that use them.
    estimator : estimator, optional
        Use this instead of the family's estimator (custom spaces).
    """
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.feature_selection import SelectPercentile, f_classif, f_regression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (
        MinMaxScaler,
        RobustScaler,
        SplineTransformer,
        StandardScaler,
    )

    from .transformers import (
        AsString,
        ColumnNames,
        DatetimeFeatures,
        MedianImputer,
        NumbersFromText,
        OneHotCategories,
        OrdinalCategories,
        TextColumn,
    )

    family = FAMILIES.get(config["family"])
    pre = config.get("pre", {})
    scale = family.scale if family else True
    dense_only = family.dense_only if family else False
    scaler_name = pre.get("scaler", "standard" if scale else "none")
    scalers = {"standard": StandardScaler, "robust": RobustScaler, "minmax": MinMaxScaler}

    # gradient boosting handles missing values itself (and better than an imputer);
    # leaving them saves a copy of the numeric data per fit. Not with a feature selection,
    # whose univariate tests refuse missing values (every such trial failed on titanic)
    native_missing = (config["family"] == "hist_gradient_boosting"
                      and int(pre.get("select_percentile", 100)) == 100)

    # numbers clipped to the range seen in training: a linear model, a kernel or a neural
    # net then does not extrapolate on an out-of-range row (trees never do). Configs
    # written before the option existed have no "clip" key and are rebuilt unclipped.
    # (Clipping to the 1st-99th percentiles was measured and not adopted: FINDINGS.md.)
    clip = bool(pre.get("clip", False)) and scale
    # an additive model: each number through B-splines over its training range, constant
    # beyond it (so, like clipping, no extrapolation); the basis is in [0, 1], no scaler
    splines = bool(pre.get("splines", False)) and family is not None and family.splines

    def numeric_steps():
        if native_missing:
            return []
        steps = [("impute", MedianImputer(strategy=pre.get("num_impute", "median"), keep_empty_features=True))]
        if splines:
            steps.append(("splines", SplineTransformer(n_knots=SPLINE_KNOTS, degree=SPLINE_DEGREE,
                                                       extrapolation="constant")))
            return steps
        if clip:
            steps.append(("clip", MinMaxScaler(clip=True)))
        if scale and scaler_name in scalers and not (clip and scaler_name == "minmax"):
            steps.append(("scale", scalers[scaler_name]()))
        return steps

    def selected(names):
        return ColumnNames(names) if len(names) > MANY_COLUMNS else names

    transformers = []
    numeric = plan.names("numeric")
    if numeric:
        steps = numeric_steps()
        if any(_text_dtype(c.dtype) for c in plan.columns if c.role == "numeric") or (
                steps and len(numeric) > MANY_COLUMNS):
            # numbers stored as text ("1", "2.5", "?"): parsed here, so that predict on raw
            # data and best_pipeline_ used directly read them as the search did; and many
            # columns handed on as one float array (scikit-learn's checks of a frame of
            # 20,000 columns took 0.6 s of each fit and transform, reading its dtypes)
            steps = [("as_numbers", NumbersFromText())] + steps
        transformers.append(("num", Pipeline(steps) if steps else "passthrough", selected(numeric)))
    categorical = plan.names("categorical")
    if categorical:
        cap = int(pre.get("max_categories", 20))
        if pre.get("cat_encoding", "onehot" if scale else "ordinal") == "onehot":
            encoder = OneHotCategories(handle_unknown="infrequent_if_exist", max_categories=cap,
                                       sparse_output=not dense_only)
        else:
            encoder = OrdinalCategories(max_categories=cap)
        steps = [("as_string", AsString()), ("encode", encoder)]
        if scale and isinstance(encoder, OrdinalCategories):
            steps.append(("scale", StandardScaler()))
        transformers.append(("cat", Pipeline(steps), selected(categorical)))
    dates = plan.names("datetime")
    if dates:
        steps = [("expand", DatetimeFeatures())] + numeric_steps()
        transformers.append(("date", Pipeline(steps), selected(dates)))
    for i, column in enumerate(plan.names("text")):
        tfidf = TfidfVectorizer(
            max_features=int(pre.get("text_max_features", 10000)),
            ngram_range=(1, int(pre.get("text_ngrams", 2))),
            sublinear_tf=bool(pre.get("text_sublinear_tf", True)),
            min_df=2,
            strip_accents="unicode",
        )
        steps = [("as_text", TextColumn()), ("tfidf", tfidf)]
        if dense_only:
            steps.append(("svd", TruncatedSVD(n_components=50, random_state=random_state)))
        transformers.append((f"text{i}", Pipeline(steps), [column]))
    features = ColumnTransformer(transformers, remainder="drop",
                                 sparse_threshold=0.0 if dense_only else 0.3)
    steps = [("features", features)]
    percentile = int(pre.get("select_percentile", 100))
    if percentile < 100:
        score_func = f_regression if task == "regression" else f_classif
        steps.append(("select", SelectPercentile(score_func, percentile=percentile)))
    if estimator is None:
        estimator = make_estimator(config["family"], config.get("params", {}), task, random_state, n_jobs)
        if task == "regression" and family is not None and family.scale_target:
            estimator = TransformedTargetRegressor(regressor=estimator, transformer=StandardScaler(),
                                                   check_inverse=False)
        if task == "regression" and pre.get("log_target"):
            from .transformers import LogTarget

            estimator = TransformedTargetRegressor(regressor=estimator, transformer=LogTarget(),
                                                   check_inverse=False)
    steps.append(("model", estimator))
    return Pipeline(steps)


@functools.lru_cache(maxsize=256)  # build_pipeline asks per column: 0.65 s a pipeline on 20,000 columns
def _text_dtype(dtype: str) -> bool:
    """True for the dtype (as a plan stores it) of a column whose values are not numbers."""
    import pandas as pd

    if dtype.startswith("timedelta"):  # durations: seconds before the pipeline (data.plain_dtypes)
        return False
    try:
        return not pd.api.types.is_numeric_dtype(pd.api.types.pandas_dtype(dtype))
    except TypeError:
        return True


def describe(config: dict) -> str:
    """A one-line summary of a config, for leaderboards."""
    params = ", ".join(f"{k}={_short(v)}" for k, v in config.get("params", {}).items())
    pre = config.get("pre", {})
    bits = []
    if pre.get("cat_encoding"):
        bits.append(pre["cat_encoding"])
    if pre.get("scaler") and pre["scaler"] != "none" and not pre.get("splines"):
        bits.append(pre["scaler"])
    if pre.get("splines"):
        bits.append("splines")
    elif pre.get("clip"):
        bits.append("clipped")
    if int(pre.get("select_percentile", 100)) < 100:
        bits.append(f"top {pre['select_percentile']}%")
    if pre.get("log_target"):
        bits.append("log target")
    prefix = ("[" + ", ".join(bits) + "] ") if bits else ""
    return f"{prefix}{config['family']}({params})"


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return repr(value) if isinstance(value, str) else str(value)
