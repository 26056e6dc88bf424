"""Saving and loading models: one artifact = skops pipeline + JSON model card, no pickle.

File layout (``.nbautoml``, a zip file)::

    model.nbautoml
      card.json               the model card: human-readable JSON (read it with
                              ``nbautoml.read_card(path)`` or ``unzip -p model.nbautoml card.json``)
      model.skops             the fitted scikit-learn Pipeline, skops format
      detector.skops          (optional) the monitoring anomaly detector, skops format
      reference_profile.json  (optional) the monitoring reference profile
      <zip comment>           "nbautoml-artifact v1 sha256=<hex> size=<n>": SHA-256 and size
                              of every byte before the zip's end record

The card lists the SHA-256 and size of every member. :func:`load` checks, in
this order and before anything is deserialised: the file exists and is not
empty; the expected SHA-256 from the caller or the registry (``sha256=``, or
the registry's record of a file in its ``models`` directory: a forger can make
a swapped model agree with its own card and trailer, not with the registry);
the trailer hash over the whole file (catches any flipped byte and truncation);
each member's hash and size against the card; that the library modules the
skops files name still exist (else an error naming the module and both
versions); the library versions; the types in the skops files against
nbautoml's own allowlist (:data:`ALLOWED_TYPES`). Only then is the pipeline
constructed. A file nothing can check (a skops file without a card) needs
``verify=False``.

Versions: a different scikit-learn *minor* version (1.8 vs 1.9) or numpy major
version is refused unless ``allow_version_mismatch=True`` (RELIABILITY R9: such
models can fail or predict differently); any other difference (patch release,
Python, skops, scipy, pandas, nbautoml) is a :class:`VersionMismatchWarning`.

Pickle and joblib files are never unpickled unless the call says
``format="pickle", allow_pickle=True`` and gives the file's recorded SHA-256
(``sha256=``) or ``verify=False``.

Writes are atomic (:mod:`nbautoml.atomic`): the bytes go to a temporary file in the
destination's directory, are fsynced, then ``os.replace`` puts them in place; the old
artifact stays complete until then, and no temporary file is left behind.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import platform
import re
import threading
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_write
from .exceptions import (
    ArtifactError,
    ConfigError,
    DataError,
    EnvironmentMismatchError,
    IntegrityError,
    NotFittedError,
    UntrustedArtifactError,
    unknown_choice,
)
from .neighbor_trees import rebuild_trees, trees_left_out
from .words import counted

FORMAT = "nbautoml-model"
FORMAT_VERSION = 1
SUFFIX = ".nbautoml"
CARD, MODEL, DETECTOR, PROFILE = "card.json", "model.skops", "detector.skops", "reference_profile.json"
_TRAILER = re.compile(rb"^nbautoml-artifact v(\d+) sha256=([0-9a-f]{64}) size=(\d+)$")
# caps on what a file's zip entries declare once unpacked, checked before anything is read:
# each JSON part (card, reference profile), and all parts together (of an artifact or a skops part)
_MAX_JSON_BYTES = 64 * 2**20
_MAX_INFLATE_RATIO = 200
_MIN_INFLATE_CAP = 256 * 2**20

# --------------------------------------------------------------------------- warnings


class VersionMismatchWarning(UserWarning):
    """The model was saved with other library versions than the ones installed."""


class UnsafeLoadWarning(UserWarning):
    """A pickle was loaded: that runs whatever code the file holds."""


# --------------------------------------------------------------------------- allowlist

_BUILTINS = {f"builtins.{t}" for t in ("dict", "list", "tuple", "set", "frozenset", "str", "int", "float",
                                       "bool", "complex", "bytes", "bytearray", "slice", "NoneType")}
_NUMPY = {f"numpy.{t}" for t in (
    "ndarray", "dtype", "bool_", "float16", "float32", "float64", "longdouble", "int8", "int16", "int32",
    "int64", "uint8", "uint16", "uint32", "uint64", "str_", "bytes_", "object_", "datetime64",
    "timedelta64", "random.mtrand.RandomState", "random._generator.Generator",
    "random._mt19937.MT19937", "random._pcg64.PCG64", "random.bit_generator.SeedSequence",
)}
_SCIPY = {f"scipy.sparse._{k}.{k}_{kind}" for k in ("csr", "csc") for kind in ("matrix", "array")} | {
    # a fitted SplineTransformer holds one BSpline per column, and each keeps the array
    # function of its array namespace (SciPy's bundled array-api-compat: numpy.asarray)
    "scipy.interpolate._bsplines.BSpline", "scipy._lib.array_api_compat.numpy._aliases.asarray",
}
_NBAUTOML = {f"nbautoml.engine.transformers.{t}" for t in (
    "AsString", "ColumnNames", "DatetimeFeatures", "LogTarget", "MedianImputer", "NumbersFromText",
    "OneHotCategories", "OrdinalCategories", "TextColumn")}
_SKLEARN = {f"sklearn.{t}" for t in (
    # pipelines and preprocessing (engine/space.py build_pipeline)
    "pipeline.Pipeline",
    "compose._column_transformer.ColumnTransformer",
    # what ColumnTransformer makes of "passthrough" (gradient boosting's numeric columns): an
    # identity FunctionTransformer; a function in it would be a type of its own, not allowed
    "preprocessing._function_transformer.FunctionTransformer",
    "impute._base.SimpleImputer",
    "preprocessing._data.StandardScaler", "preprocessing._data.RobustScaler",
    "preprocessing._data.MinMaxScaler", "preprocessing._polynomial.SplineTransformer",
    "preprocessing._encoders.OneHotEncoder", "preprocessing._encoders.OrdinalEncoder",
    "preprocessing._label.LabelEncoder", "preprocessing._label.LabelBinarizer",
    "feature_extraction.text.TfidfVectorizer", "feature_extraction.text.TfidfTransformer",
    "decomposition._truncated_svd.TruncatedSVD",
    "feature_selection._univariate_selection.SelectPercentile",
    "feature_selection._univariate_selection.f_classif",
    "feature_selection._univariate_selection.f_regression",
    # estimators (engine/space.py make_estimator) and their fitted internals
    "ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "ensemble._hist_gradient_boosting.binning._BinMapper",
    "ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "_loss.loss.HalfBinomialLoss", "_loss.loss.HalfMultinomialLoss", "_loss.loss.HalfSquaredError",
    "_loss._loss.CyHalfBinomialLoss", "_loss._loss.CyHalfMultinomialLoss", "_loss._loss.CyHalfSquaredError",
    "_loss.link.IdentityLink", "_loss.link.LogitLink", "_loss.link.MultinomialLogit", "_loss.link.Interval",
    "ensemble._forest.RandomForestClassifier", "ensemble._forest.RandomForestRegressor",
    "ensemble._forest.ExtraTreesClassifier", "ensemble._forest.ExtraTreesRegressor",
    "tree._classes.DecisionTreeClassifier", "tree._classes.DecisionTreeRegressor",
    "tree._classes.ExtraTreeClassifier", "tree._classes.ExtraTreeRegressor", "tree._tree.Tree",
    "linear_model._logistic.LogisticRegression",
    "linear_model._ridge.Ridge", "linear_model._ridge.RidgeClassifier",
    "linear_model._coordinate_descent.Lasso", "linear_model._coordinate_descent.ElasticNet",
    "linear_model._stochastic_gradient.SGDClassifier",
    "svm._classes.LinearSVC", "svm._classes.LinearSVR", "svm._classes.SVC", "svm._classes.SVR",
    "calibration.CalibratedClassifierCV", "calibration._CalibratedClassifier",
    "calibration._SigmoidCalibration",
    "neighbors._classification.KNeighborsClassifier", "neighbors._regression.KNeighborsRegressor",
    "neural_network._multilayer_perceptron.MLPClassifier",
    "neural_network._multilayer_perceptron.MLPRegressor",
    "neural_network._stochastic_optimizers.AdamOptimizer",
    "naive_bayes.GaussianNB",
    # regression families fitted on the standardized target (Family.scale_target)
    "compose._target.TransformedTargetRegressor",
    # AutoML(ensemble=...) (engine/ensemble.py build_ensemble): soft voting over pipelines
    "ensemble._voting.VotingClassifier", "ensemble._voting.VotingRegressor", "utils._bunch.Bunch",
    # AutoML(decision_threshold=...) (engine/threshold.py with_threshold): a binary model's cut
    "model_selection._classification_threshold.FixedThresholdClassifier",
    # the monitoring anomaly detector
    "ensemble._iforest.IsolationForest",
)}

ALLOWED_TYPES: frozenset[str] = frozenset(_BUILTINS | _NUMPY | _SCIPY | _NBAUTOML | _SKLEARN)
"""Every type nbautoml's search space puts in a saved pipeline (scikit-learn, numpy, scipy and
nbautoml's own transformers), plus the monitoring IsolationForest. Anything else in a file is
refused unless listed in ``load(..., trusted=[...])``.
``tests/deploy/test_persist.py::test_allowlist_covers_every_family_of_the_search_space`` checks
that every family of the search space stays inside this set."""

# --------------------------------------------------------------------------- helpers


def versions() -> dict:
    """Versions of Python and the libraries a saved model depends on."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    found = {"python": platform.python_version()}
    for package in ("scikit-learn", "numpy", "scipy", "pandas", "skops"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    found["nbautoml"] = __version__
    return found


def _jsonable(value):
    """Default for ``json.dumps``: numpy scalars/arrays, paths, sets, dates."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (Path, _dt.date)):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return repr(value)


def json_ready(value):
    """JSON-ready copy: non-finite floats become None (the card must be strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_ready(value.tolist())
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


def _dumps(data: dict) -> bytes:
    return json.dumps(json_ready(data), indent=2, default=_jsonable, ensure_ascii=False,
                      allow_nan=False).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _qualname(obj) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def pipeline_steps(pipeline, prefix: str = "") -> list[dict]:
    """Flatten a pipeline into ``[{"path": "features/num/impute", "class": ...}, ...]``."""
    steps = []
    children = []
    if hasattr(pipeline, "steps"):
        children = [(name, step) for name, step in pipeline.steps]
    elif hasattr(pipeline, "transformers_") or hasattr(pipeline, "transformers"):
        items = getattr(pipeline, "transformers_", None) or pipeline.transformers
        children = [(name, step) for name, step, _cols in items if not isinstance(step, str)]
    elif _is_threshold_wrapper(pipeline):  # decision_threshold: the last step it wraps
        children = [("estimator", pipeline.estimator)]
    elif isinstance(getattr(pipeline, "estimators", None), list):  # voting ensembles
        fitted = getattr(pipeline, "named_estimators_", None)
        children = [(name, fitted[name] if fitted is not None and name in fitted else step)
                    for name, step in pipeline.estimators if not isinstance(step, str)]
    for name, step in children:
        path = f"{prefix}/{name}" if prefix else name
        steps.append({"path": path, "class": _qualname(step)})
        steps.extend(pipeline_steps(step, path))
    return steps


def _is_threshold_wrapper(obj) -> bool:
    from sklearn.model_selection import FixedThresholdClassifier

    return isinstance(obj, FixedThresholdClassifier)


def _looks_like_result(obj) -> bool:
    return hasattr(obj, "trials_") and hasattr(obj, "best_pipeline_")


# --------------------------------------------------------------------------- card


def _fitted_pipeline(obj):
    if isinstance(obj, LoadedModel):
        return obj.best_pipeline_
    if _looks_like_result(obj) or hasattr(obj, "best_pipeline"):
        return obj.best_pipeline  # raises NotFittedError with the reason when there is none
    if hasattr(obj, "predict"):
        return obj
    raise ConfigError(f"Expected a fitted AutoML, a LoadedModel or a fitted scikit-learn pipeline; "
                      f"got {type(obj).__name__}.", code="bad_model")


def _card_for_pipeline(pipeline) -> dict:
    """A minimal card for a bare scikit-learn pipeline (no search behind it)."""
    classes = getattr(pipeline, "classes_", None)
    task = None
    if classes is not None:
        task = "binary" if len(classes) == 2 else "multiclass"
    elif hasattr(pipeline, "predict"):
        task = "regression"
    names = getattr(pipeline, "feature_names_in_", None)
    schema = None
    if names is not None:
        schema = {"columns": [{"name": str(n), "role": "unknown", "dtype": None} for n in names]}
    return {
        "task": task, "target": None, "classes": None if classes is None else list(classes),
        "metric": None, "model": {"family": None, "description": type(pipeline[-1]).__name__
                                  if hasattr(pipeline, "steps") else type(pipeline).__name__,
                                  "config": None},
        "decision_threshold": {"value": _model_threshold(pipeline), "note": None},
        "input_schema": schema,
        "feature_names_in": None if names is None else [str(n) for n in names],
        "training_data": None, "search": None, "plan": None,
    }


def _card_for_result(result) -> dict:
    from .schema import build_schema

    config = getattr(result, "best_config_", None)
    try:
        from .engine.ensemble import describe_model

        description = describe_model(result) if config else None
    except Exception:  # a custom space may give configs describe() cannot read
        description = None
    classes = getattr(result, "classes_", None)
    plan = getattr(result, "plan_", None)
    X = getattr(result, "_X", None)
    holdout = getattr(result, "holdout_score_", getattr(result, "test_score_", None))
    validation = getattr(result, "validation_", None)
    fingerprint = dict(getattr(result, "data_fingerprint_", None) or {})
    if plan is not None:
        fingerprint["dropped_columns"] = plan.dropped
    chosen, best = getattr(result, "best_trial_", None), getattr(result, "overall_best_trial_", None)
    return {
        "task": result.task_,
        "target": result.target_,
        "groups_column": getattr(result, "groups_column_", None),  # cv="group:COL": not a feature
        "classes": None if classes is None else list(classes),
        "positive_class": None if classes is None or len(classes) != 2 else classes[1],
        "metric": {
            "name": result.metric_,
            "greater_is_better": bool(getattr(result, "greater_is_better_", True)),
            "cv_score": getattr(result, "best_score_", None),
            "cv_std": getattr(result, "best_score_std_", None),
            "validation": getattr(validation, "description", None),
            # shuffled folds on rows in time order: the CV score may not hold on future rows
            "validation_note": getattr(result, "time_order_note_", None),
            "holdout_score": holdout,
            "note": getattr(result, "metric_note_", None),  # why metric="auto" chose it, if it says
        },
        "model": {"family": (config or {}).get("family"), "description": description, "config": config,
                  "top_configs": _top_configs(result)},
        # the positive class is predicted from this probability on (None: 0.5), and why
        "decision_threshold": {"value": getattr(result, "decision_threshold_", None),
                               "note": getattr(result, "threshold_note_", None)},
        "input_schema": None if X is None else build_schema(X, plan),
        "feature_names_in": [str(c) for c in getattr(result, "feature_names_in_", [])],
        "plan": None if plan is None else plan.to_dict(),
        "training_data": fingerprint or None,
        "search": {
            "seed": getattr(result, "seed", None),
            "time_budget": getattr(result, "time_budget", None),
            "max_evals": getattr(result, "max_evals", None),
            "algo": getattr(result, "algo", None),
            "cv": None if getattr(result, "cv", None) is None else str(result.cv),
            "models": getattr(result, "families_", None),
            "trials": len(getattr(result, "trials_", []) or []),
            "elapsed": getattr(result, "elapsed_", None),
            "status": getattr(result, "status_", None),
            "stop_reason": getattr(result, "stop_reason_", None),
            "prefer": getattr(result, "prefer", None),
            "preference": getattr(result, "preference_", None),  # which trial was refitted, and why
            "decision_threshold": getattr(result, "decision_threshold", "auto"),  # the setting
            "traded": chosen is not None and best is not None and chosen.trial_id != best.trial_id,
        },
    }


def _model_threshold(pipeline) -> float | None:
    from .engine.threshold import model_threshold

    return model_threshold(pipeline)


def _top_configs(result, top: int = 5) -> list[dict] | None:
    """The configs of the ``top`` best successful trials, best first (retraining warm-starts from them)."""
    trials = [t for t in getattr(result, "trials_", None) or [] if t.status == "ok" and t.config]
    sign = -1 if getattr(result, "greater_is_better_", True) else 1
    trials.sort(key=lambda t: (sign * t.score, t.trial_id))
    return [t.config for t in trials[:top]] or None


@dataclass
class _Prepared:
    card: dict
    members: dict  # name -> bytes, in write order (card.json excluded)


class _CompactJson:
    """``json`` for skops' writer: its ``schema.json`` without the indentation.

    skops writes the schema with ``json.dumps(state, indent=2)``, and an indent sends
    ``json`` to its pure-Python encoder: 1.9 s of the 3.4 s skops took for titanic's
    ensemble (1,200 boosting trees, a 150-tree forest). The same JSON on one line
    reads back the same; skops' reader is ``json.loads``.
    """

    @staticmethod
    def dumps(obj, indent=None, **kwargs):  # noqa: ARG004 - the indent is what is dropped
        return json.dumps(obj, **kwargs)


_SKOPS_WRITER = threading.Lock()  # one swap of skops' json at a time


def _skops_dumps(obj) -> bytes:
    """``skops.io.dumps(obj)`` (deflated), its ``schema.json`` written by :class:`_CompactJson`."""
    import skops.io as sio
    import skops.io._persist as writer

    with _SKOPS_WRITER:
        if getattr(writer, "json", None) is not json:  # another skops: leave it as it is
            return sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)
        writer.json = _CompactJson
        try:
            return sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)
        finally:
            writer.json = json


def _prepare(obj) -> _Prepared:
    """Serialise the pipeline (and the monitoring parts) and build the card."""
    pipeline = _fitted_pipeline(obj)
    if isinstance(obj, LoadedModel):
        skip = ("format", "format_version", "files", "environment", "created", "model_sha256", "registry")
        card = {k: v for k, v in obj.card.items() if k not in skip}
        if obj.card.get("environment") and obj.card["environment"] != versions():
            card["previous_environment"] = obj.card["environment"]
    elif _looks_like_result(obj):
        card = _card_for_result(obj)
    else:
        card = _card_for_pipeline(pipeline)
    try:
        with trees_left_out(pipeline):  # a k-NN tree is built again at load, not trusted from the file
            members = {MODEL: _skops_dumps(pipeline)}
    except Exception as err:
        raise ArtifactError(f"The pipeline cannot be saved in the skops format: {err}. "
                            "Only scikit-learn-compatible objects that skops supports can be saved.",
                            code="save_failed") from err
    profile = getattr(obj, "reference_profile_", None)
    card["reference_profile"] = None
    if profile is not None:
        members[PROFILE] = _dumps(profile.to_dict())
        card["reference_profile"] = PROFILE
        detector = getattr(profile, "anomaly_detector", None)
        if detector is not None:
            members[DETECTOR] = _skops_dumps(detector)
    outside = sorted(set().union(*(_types_in_skops(members[m]) for m in (MODEL, DETECTOR)
                                   if m in members)) - ALLOWED_TYPES)
    if outside:
        warnings.warn(f"The model contains types outside nbautoml's allowlist: {', '.join(outside)}. "
                      f"Loading it will need load(path, trusted={outside!r}).", stacklevel=3)
    return _Prepared(card, members)


def _assemble(prepared: _Prepared, extra: dict | None = None) -> tuple[bytes, dict]:
    """The artifact's bytes (card.json + members + the trailer hash) and its card."""
    now = _dt.datetime.now(_dt.timezone.utc)
    card = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "created": now.isoformat(timespec="seconds")}
    card.update({k: v for k, v in prepared.card.items() if k not in card})
    card.update(extra or {})
    card["environment"] = versions()
    card["files"] = {name: {"sha256": _sha256(data), "size": len(data)}
                     for name, data in prepared.members.items()}
    card["model_sha256"] = card["files"][MODEL]["sha256"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(_zipinfo(CARD, now), _dumps(card), compress_type=zipfile.ZIP_DEFLATED)
        for name, data in prepared.members.items():
            method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            zf.writestr(_zipinfo(name, now), data, compress_type=method)
    body = buffer.getvalue()
    # append the trailer as the zip comment: hash of everything before the end record
    if body[-22:-18] != b"PK\x05\x06" or body[-2:] != b"\x00\x00":
        raise RuntimeError("unexpected zip layout (end record not last)")
    hashed = body[:-22]
    comment = f"nbautoml-artifact v{FORMAT_VERSION} sha256={_sha256(hashed)} size={len(hashed)}".encode()
    return body[:-2] + len(comment).to_bytes(2, "little") + comment, json.loads(_dumps(card))


def _zipinfo(name: str, when: _dt.datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.external_attr = 0o644 << 16
    return info


# --------------------------------------------------------------------------- save


def save(obj, path, *, stage: str | None = None, reason: str = ""):
    """Save a fitted model as one artifact: skops pipeline + JSON model card.

    Parameters
    ----------
    obj : AutoML, LoadedModel or scikit-learn Pipeline
        A fitted search result (its best pipeline and card), a loaded model,
        or any fitted scikit-learn estimator.
    path : str or Path
        The file to write (``.nbautoml`` is added when there is no suffix), or
        ``"registry:NAME"`` to register a new version of NAME in the local
        registry (see :mod:`nbautoml.registry`).
    stage, reason : str, optional
        With ``"registry:NAME"`` only: also set this stage (e.g. "production").

    Returns
    -------
    Path or ModelVersion
        The artifact's path, or the registered version.

    Raises
    ------
    ArtifactError
        ``save_failed`` when the file cannot be written (nothing is changed).

    Examples
    --------
    >>> nbautoml.save(result, "models/titanic")           # doctest: +SKIP
    PosixPath('models/titanic.nbautoml')
    >>> nbautoml.save(result, "registry:titanic")         # doctest: +SKIP
    ModelVersion(titanic@1)
    """
    if isinstance(path, str) and path.startswith("registry:"):
        from .registry import Registry

        return Registry().register(obj, path[len("registry:"):], stage=stage, reason=reason)
    if stage is not None:
        raise ConfigError("stage= is for registry saves: save(result, 'registry:NAME', stage=...).",
                          code="bad_option")
    path = Path(path)
    if not path.suffix:
        path = path.with_name(path.name + SUFFIX)
    if path.is_dir():
        raise ArtifactError(f"{str(path)!r} is a directory; give a file name such as "
                            f"{str(path / ('model' + SUFFIX))!r}.", code="save_failed")
    data, _card = _assemble(_prepare(obj))
    return atomic_write(path, data)


# --------------------------------------------------------------------------- reading and checks

_ZIP_MAGIC = b"PK\x03\x04"
_COMPRESSED_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ": "xz", b"\x04\x22\x4d\x18": "lz4",
                     b"\x78\x01": "zlib", b"\x78\x5e": "zlib", b"\x78\x9c": "zlib", b"\x78\xda": "zlib"}


def _sniff(data: bytes) -> str:
    """'zip', 'pickle', 'compressed:<kind>' or 'unknown'."""
    if data.startswith(_ZIP_MAGIC) or data.startswith(b"PK\x05\x06"):
        return "zip"
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return "pickle"
    for magic, kind in _COMPRESSED_MAGIC.items():
        if data.startswith(magic):
            return f"compressed:{kind}"
    return "unknown"


def _pickle_refusal(path: Path, kind: str) -> ArtifactError:
    what = "a pickle (or joblib) file" if kind == "pickle" else f"a {kind.split(':')[1]}-compressed file " \
        "(joblib writes compressed pickles like this)"
    return ArtifactError(
        f"{str(path)!r} is {what}, not an nbautoml artifact. It was not loaded: unpickling runs whatever "
        "code the file contains, so a file from someone else can take over this machine. If you made "
        "this file yourself and trust it, load it with nbautoml.load(path, format='pickle', "
        "allow_pickle=True, verify=False) (or sha256='<the hash you recorded>' instead of verify=False), then "
        "save it again with nbautoml.save(model, path) to get a safe artifact.",
        code="pickle_refused", path=str(path))


def _looks_like_registry_ref(path) -> bool:
    """A string with no such file that reads as ``name[@version|stage]`` (the form ``serve`` and
    ``monitor`` accept): no directory part and no file suffix."""
    if not isinstance(path, str) or Path(path).exists() or Path(path + SUFFIX).exists():
        return False
    name, sep, which = path.partition("@")
    return (bool(name) and (not sep or bool(which)) and not any(c in path for c in "/\\:")
            and not Path(name).suffix)


def _load_registered(ref: str, trusted, allow_version_mismatch, sha256=None) -> LoadedModel:
    from .registry import Registry, RegistryError

    registry = Registry()
    if not registry.db_path.exists():  # looking must not create a registry
        raise ArtifactError(f"No model file at {ref!r}, and no model registry at {str(registry.root)!r} "
                            f"to look the name up in. Give the path of a {SUFFIX} file.",
                            code="file_not_found", path=ref)
    try:
        return registry.load(ref, trusted=trusted, allow_version_mismatch=allow_version_mismatch,
                             sha256=sha256)
    except RegistryError as exc:
        if exc.code != "model_not_found":
            raise
        raise ArtifactError(f"No model file at {ref!r}, and the registry says: {exc} For a file, give its "
                            f"path (ending in {SUFFIX}).", code="file_not_found", path=ref) from exc


def _read_file(path: Path) -> bytes:
    if not path.exists():
        hint = ""
        if not path.suffix and path.with_name(path.name + SUFFIX).exists():
            hint = f" Did you mean {str(path.with_name(path.name + SUFFIX))!r}?"
        raise ArtifactError(f"No model file at {str(path)!r}.{hint}", code="file_not_found", path=str(path))
    if path.is_dir():
        raise ArtifactError(f"{str(path)!r} is a directory, not a model file. Give the path of the "
                            f"{SUFFIX} file.", code="not_an_artifact", path=str(path))
    data = path.read_bytes()
    if not data:
        raise IntegrityError(f"{str(path)!r} is empty (0 bytes): the save did not complete or the copy "
                             "failed. Save or copy the model again.", path=str(path))
    return data


def _trailer(zf: zipfile.ZipFile):
    match = _TRAILER.match(zf.comment or b"")
    if not match:
        return None
    return int(match.group(1)), match.group(2).decode(), int(match.group(3))


def _verify_whole(path: Path, data: bytes, zf: zipfile.ZipFile) -> None:
    trailer = _trailer(zf)
    if trailer is None:
        raise _truncated(path, data, "the integrity record at its end is missing or changed")
    _version, expected, size = trailer
    end = len(data) - 22 - len(zf.comment)
    if end != size:
        raise _truncated(path, data, f"its body is {end:,} bytes, its integrity record says {size:,}")
    actual = _sha256(data[:end])
    if actual != expected:
        raise IntegrityError(f"{str(path)!r} is damaged or was modified after it was saved: SHA-256 "
                             f"mismatch (expected {expected[:16]}…, got {actual[:16]}…). Do not use it; "
                             "copy or save the model again.", path=str(path), expected=expected,
                             actual=actual)


def _truncated(path: Path, data: bytes, why: str) -> IntegrityError:
    return IntegrityError(
        f"{str(path)!r} is truncated or damaged ({len(data):,} bytes; {why}). It starts like a model file "
        "but its end is missing or wrong: it was not fully written or copied. Copy or save it again.",
        path=str(path))


def _open_zip(path: Path, data: bytes) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise _truncated(path, data, str(err)) from err
    # zipfile accepts junk before a zip; a cut artifact can end inside its (zip) model part, whose
    # end record then passes for the whole file's: the first entry must start at byte 0.
    if not infos or min(i.header_offset for i in infos) != 0:
        raise _truncated(path, data, "its zip directory does not describe the whole file")
    return zf


def _inflate_cap(data: bytes) -> int:
    """The most a zip of ``data``'s size may declare once unpacked."""
    return max(_MIN_INFLATE_CAP, _MAX_INFLATE_RATIO * len(data))


def _check_declared_sizes(path: Path, data: bytes, zf: zipfile.ZipFile) -> None:
    """Refuse an artifact whose parts declare more bytes once unpacked than a genuine one could hold.

    Read from the zip directory (``ZipInfo.file_size``) before any part is
    unpacked, so a zip bomb is refused without inflating it.
    """
    infos = zf.infolist()
    for info in infos:
        if info.filename.endswith(".json") and info.file_size > _MAX_JSON_BYTES:
            raise IntegrityError(f"{str(path)!r}: {info.filename} declares {info.file_size:,} bytes once "
                                 f"unpacked, more than the {_MAX_JSON_BYTES:,} allowed for a JSON part; "
                                 "refused as a possible zip bomb: the file is not a genuine artifact.",
                                 path=str(path), member=info.filename, size=info.file_size)
    total = sum(info.file_size for info in infos)
    if total > _inflate_cap(data):
        largest = max(infos, key=lambda info: info.file_size)
        raise IntegrityError(f"{str(path)!r}: its parts declare {total:,} bytes once unpacked ({len(data):,} "
                             f"packed; the largest, {largest.filename}, {largest.file_size:,}); refused as a "
                             "possible zip bomb: the file is not a genuine artifact.", path=str(path),
                             member=largest.filename, size=largest.file_size)


def _is_artifact(data: bytes) -> bool:
    """An nbautoml artifact's first zip entry is card.json (read from the raw header, not the directory)."""
    return data.startswith(_ZIP_MAGIC) and data[30:30 + len(CARD)] == CARD.encode()


def _read_member(path: Path, zf: zipfile.ZipFile, name: str, limit: int | None = None) -> bytes:
    try:
        info = zf.getinfo(name)
        if limit is not None and info.file_size > limit:
            raise IntegrityError(f"{str(path)!r}: {name} declares {info.file_size:,} bytes, more than the "
                                 f"{limit:,} allowed; the file is not a genuine artifact.", path=str(path))
        return zf.read(name)
    except KeyError:
        raise IntegrityError(f"{str(path)!r} lacks its {name} part; it is not a complete nbautoml "
                             "artifact.", path=str(path)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise IntegrityError(f"{str(path)!r} is damaged: {name} cannot be read ({err}). Copy or save the "
                             "model again.", path=str(path)) from err


@dataclass
class _Artifact:
    path: Path
    card: dict
    members: dict
    sha256: str
    size: int


def _check_expected(path: Path, data: bytes, sha256: str | None) -> str:
    """The file's SHA-256, after checking it against the one expected (when there is one)."""
    whole = _sha256(data)
    if sha256 is not None and whole != sha256:
        raise IntegrityError(
            f"{str(path)!r} is not the expected file: SHA-256 mismatch (expected {sha256[:16]}…, got "
            f"{whole[:16]}…). It was replaced or modified after it was registered or deployed; do not use "
            "it.", path=str(path),
            expected=sha256, actual=whole)
    return whole


def _registry_sha256(path: Path, data: bytes) -> str | None:
    """The SHA-256 a registry records for this file when it lies in the registry's ``models`` directory.

    A forger who swaps the model can rewrite the card's hashes and the trailer
    so that the file agrees with itself; only a record kept elsewhere shows it.

    Raises
    ------
    IntegrityError
        When the file differs from the registry's record.
    """
    from .registry import recorded_file

    entry = recorded_file(path)
    if entry is None:
        return None
    actual = _sha256(data)
    if actual != entry.sha256 or len(data) != entry.size:
        raise IntegrityError(
            f"{str(path)!r} is {entry.ref} of the registry {str(entry.path.parents[2])!r}, but not the file "
            f"that was registered: SHA-256 mismatch with the registry's record (expected {entry.sha256[:16]}…, "
            f"got {actual[:16]}…). It was replaced or rewritten after registration (a rewritten file can agree "
            "with its own card; the registry's record cannot be rewritten with it). Do not use it: restore it "
            "from a backup (Registry.backup), or register the model again.", path=str(path),
            expected=entry.sha256, actual=actual, registry_ref=entry.ref)
    return entry.sha256


def _unverifiable(path: Path, why: str, fix: str) -> ArtifactError:
    """The refusal of a file whose integrity nothing can check (``verify=False`` overrides it)."""
    return ArtifactError(
        f"{str(path)!r} was not loaded: {why}, so its integrity cannot be verified (it may have been changed "
        f"or swapped, and nothing would show it). {fix}", code="integrity_unverified", path=str(path))


def _read_artifact(path: Path, data: bytes, sha256: str | None = None) -> _Artifact:
    """Check an nbautoml artifact's bytes and return its card and members (nothing constructed).

    ``sha256`` is the hash the file must have; without it, a file in a
    registry's ``models`` directory must have the registry's.
    """
    if sha256 is None:
        sha256 = _registry_sha256(path, data)
    whole = _check_expected(path, data, sha256)
    zf = _open_zip(path, data)
    _verify_whole(path, data, zf)
    _check_declared_sizes(path, data, zf)
    try:
        card = json.loads(_read_member(path, zf, CARD, _MAX_JSON_BYTES))
    except ValueError as err:
        raise IntegrityError(f"{str(path)!r}: card.json is not valid JSON ({err}).", path=str(path)) from err
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ArtifactError(f"{str(path)!r} is not an nbautoml model artifact (card format "
                            f"{card.get('format') if isinstance(card, dict) else None!r}).",
                            code="not_an_artifact", path=str(path))
    if int(card.get("format_version", 0)) > FORMAT_VERSION:
        raise ArtifactError(f"{str(path)!r} was written by a newer nbautoml (artifact format "
                            f"{card['format_version']}, this version reads up to {FORMAT_VERSION}). "
                            "Upgrade nbautoml: pip install -U nbautoml.", code="format_too_new",
                            path=str(path))
    files = card.get("files") or {}
    if MODEL not in files:
        raise IntegrityError(f"{str(path)!r}: the card lists no {MODEL}.", path=str(path))
    members = {}
    for name, meta in files.items():
        blob = _read_member(path, zf, name, int(meta["size"]))
        if len(blob) != int(meta["size"]):
            raise IntegrityError(f"{str(path)!r}: {name} does not match the card: it is {len(blob):,} "
                                 f"bytes, the card says {int(meta['size']):,}. The file was modified; do "
                                 "not use it.", path=str(path))
        actual = _sha256(blob)
        if actual != meta["sha256"]:
            raise IntegrityError(f"{str(path)!r}: {name} does not match the card (SHA-256 expected "
                                 f"{meta['sha256'][:16]}…, got {actual[:16]}…). The file was modified; "
                                 "do not use it.", path=str(path))
        members[name] = blob
    return _Artifact(path, card, members, whole, len(data))


def read_card(path) -> dict:
    """The model card of an artifact, after checking the file's integrity (nothing is constructed).

    Parameters
    ----------
    path : str or Path
        An ``.nbautoml`` file.

    Returns
    -------
    dict
    """
    path = Path(path)
    data = _read_file(path)
    kind = _sniff(data)
    if kind == "pickle" or kind.startswith("compressed"):
        raise _pickle_refusal(path, kind)
    if not _is_artifact(data):
        raise ArtifactError(f"{str(path)!r} is not an nbautoml artifact (it has no card.json first).",
                            code="not_an_artifact", path=str(path))
    return _read_artifact(path, data).card


# --------------------------------------------------------------------------- environment


def _minor(version: str | None) -> tuple:
    if not version:
        return ()
    parts = re.findall(r"\d+", version)
    return tuple(int(p) for p in parts[:2])


def check_environment(recorded: dict | None, allow_version_mismatch: bool = False) -> list[str]:
    """Compare the versions in a card with the installed ones.

    Returns the differences that were only worth a warning (already warned).

    Raises
    ------
    EnvironmentMismatchError
        When scikit-learn's major.minor or numpy's major version differs and
        ``allow_version_mismatch`` is False.
    """
    if not recorded:
        return []
    current = versions()
    blocking, notes = [], []
    for package, was in recorded.items():
        now = current.get(package)
        if was is None or now is None or was == now:
            continue
        text = f"{package} {was} (saved) vs {now} (installed)"
        if (package == "scikit-learn" and _minor(was) != _minor(now)) or \
                (package == "numpy" and _minor(was)[:1] != _minor(now)[:1]):
            blocking.append(text)
        else:
            notes.append(text)
    if blocking and not allow_version_mismatch:
        pins = " ".join(f"'{t.split()[0]}=={t.split()[1]}'" for t in blocking)
        raise EnvironmentMismatchError(
            "The model was saved with other library versions: " + "; ".join(blocking) + ". Models do not "
            "reliably carry across these versions (they can fail or predict differently). Fix: install the "
            f"saved versions (pip install {pins}), or retrain from the card's recipe (card['model']"
            "['config'], card['search']); or pass allow_version_mismatch=True to load it anyway.",
            recorded=recorded, current=current, differences=blocking)
    differences = blocking + notes
    if differences:
        warnings.warn("The model was saved with other library versions: " + "; ".join(differences)
                      + ". Check its predictions, or install the saved versions.", VersionMismatchWarning,
                      stacklevel=3)
    return differences


# --------------------------------------------------------------------------- skops audit


@dataclass
class _SkopsContents:
    """What a skops file's schema.json declares (read without building anything)."""

    types: set  # "module.Class" (and "module.Class.method" for a MethodNode)
    modules: dict  # module -> the first class named in it
    sklearn_version: str | None  # the first estimator's recorded _sklearn_version


def _skops_contents(data: bytes, path: Path | None = None) -> _SkopsContents:
    """Every type and module a skops file would import, and the scikit-learn version it records."""
    where = "" if path is None else f"{str(path)!r}: "
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            declared = sum(i.file_size for i in zf.infolist())
            if declared > _inflate_cap(data):
                raise IntegrityError(f"{where}the skops part declares {declared:,} bytes once unpacked "
                                     f"({len(data):,} packed); refused as a possible zip bomb.")
            schema = json.loads(zf.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        raise IntegrityError(f"{where}the skops part is not a valid skops file ({err}).") from err
    found = _SkopsContents(set(), {}, None)
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            module, cls, loader = node.get("__module__"), node.get("__class__"), node.get("__loader__")
            if isinstance(module, str) and isinstance(cls, str):
                found.types.add(f"{module}.{cls}")
                found.modules.setdefault(module, cls)
                if loader == "MethodNode":
                    found.types.add(f"{module}.{cls}.{(node.get('content') or {}).get('func')}")
            recorded = node.get("_sklearn_version")
            if found.sklearn_version is None and isinstance(recorded, dict) and \
                    isinstance(recorded.get("content"), str):
                try:
                    value = json.loads(recorded["content"])
                except ValueError:
                    value = None
                found.sklearn_version = value if isinstance(value, str) else None
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _types_in_skops(data: bytes, path: Path | None = None) -> set[str]:
    """Every type a skops file would construct or import, read from its schema.json (nothing built)."""
    return _skops_contents(data, path).types


# --------------------------------------------------------------------------- modules that are gone

# top-level packages a saved pipeline is made of -> their distribution names (as in versions())
_PACKAGES = {"sklearn": "scikit-learn", "numpy": "numpy", "scipy": "scipy", "nbautoml": "nbautoml"}
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _module_exists(module: str) -> bool:
    """Whether an installed library has ``module``: its parent packages are imported, never the module."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is gone too
        return False
    except ValueError:  # a module in sys.modules without a spec: it exists
        return True


def _check_modules(contents: _SkopsContents, path: Path, part: str, environment: dict | None) -> None:
    """Refuse, before building anything, a skops part naming a library module this environment lacks.

    Only modules of the libraries a pipeline is made of (:data:`_PACKAGES`) are
    looked up; any other module is left to the allowlist, which refuses it.
    """
    for module in sorted(contents.modules):
        if module.partition(".")[0] in _PACKAGES and _MODULE_NAME.match(module) and not _module_exists(module):
            raise _module_gone(path, part, module, contents.modules[module], environment,
                               contents.sklearn_version)


def _module_gone(path: Path, part: str, module: str, name: str | None, environment: dict | None,
                 sklearn_version: str | None) -> ArtifactError:
    """The error for a model that names a module the installed libraries no longer have.

    ``environment`` is the card's record of the versions (None without a card);
    ``sklearn_version`` the version the file's estimators record.
    """
    package = _PACKAGES.get(module.partition(".")[0])
    what = f"its {name}" if name else "part of it"
    retrain = ("retrain the model here from its card's recipe (nbautoml.read_card(path)['model']['config'] and "
               "['search']; AutoML(warm_start=...) takes the card's top configs)" if environment else
               "retrain the model here from its training code and data, and save it with nbautoml.save()")
    if package is None:
        return ArtifactError(
            f"{str(path)!r} ({part}) needs the module {module!r}, which cannot be imported here, so {what} "
            f"cannot be rebuilt. Install the code that defines it (the package {module.partition('.')[0]!r}), "
            f"or {retrain}.", code="module_not_found", path=str(path), module=module)
    installed = versions().get(package)
    saved = (environment or {}).get(package) or (sklearn_version if package == "scikit-learn" else None)
    saved_text = f"{package} {saved}" if saved else f"a {package} version it does not record"
    if saved and saved == installed:
        why = (f"the file names a module that {package} {installed} does not have: it was edited, or made by "
               "another tool")
    else:
        why = f"{package} moved or removed it since"
    pin = f" (pip install '{package}=={saved}' in a separate environment)" if saved else ""
    return EnvironmentMismatchError(
        f"{str(path)!r} ({part}): this model was saved with {saved_text}; module {module!r} no longer exists "
        f"in {package} {installed} (installed), so {what} cannot be rebuilt ({why}). allow_version_mismatch="
        f"True cannot help. Fixes: load and use it in an environment with the saved versions{pin}; or "
        f"{retrain}.", code="module_not_found", path=str(path), module=module, package=package,
        saved=saved, installed=installed)


def _trusted_names(trusted) -> set[str]:
    names = set()
    for item in trusted or []:
        names.add(item if isinstance(item, str) else _qualname(item))
    return names


def _construct(data: bytes, trusted, path: Path, part: str, environment: dict | None = None,
               contents: _SkopsContents | None = None):
    """Audit a skops blob (library modules present, types in the allowlist), then construct it.

    ``environment`` is the card's record of the library versions, for the
    error naming a module the installed libraries no longer have; ``contents``
    is the blob's :func:`_skops_contents` when the caller already checked them.
    """
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    if contents is None:
        contents = _skops_contents(data, path)
        _check_modules(contents, path, part, environment)
    types = contents.types
    allowed = ALLOWED_TYPES | _trusted_names(trusted)
    untrusted = sorted(types - allowed)
    if untrusted:
        raise UntrustedArtifactError(
            f"{str(path)!r} ({part}) contains types nbautoml does not trust: {', '.join(untrusted)}. "
            "Loading would construct them, which can run their code. If you trust the file's source and "
            f"have reviewed these types, pass trusted={untrusted!r} to load().",
            types=untrusted, path=str(path))
    try:
        obj = sio.loads(data, trusted=sorted(types & allowed))
    except UntrustedTypesFoundException as err:  # a type our schema walk did not see
        raise UntrustedArtifactError(
            f"{str(path)!r} ({part}) contains types nbautoml does not trust: {err}. Pass them in "
            "trusted=[...] only if you trust the file's source.", types=[], path=str(path)) from err
    except MemoryError:  # e.g. an .npy header declaring a shape of 2**44 items
        raise ArtifactError(
            f"{str(path)!r} ({part}) declares arrays too large to be a genuine model: building them ran out "
            "of memory. The file is damaged or forged; do not use it (a model you saved yourself on a "
            "machine with more memory loads only there).", code="arrays_too_large", path=str(path)) from None
    except ModuleNotFoundError as err:  # a trusted type whose module is gone (not one of _PACKAGES')
        raise _module_gone(path, part, err.name or str(err), None, environment,
                           contents.sklearn_version) from err
    except (ImportError, AttributeError, TypeError, ValueError) as err:
        raise ArtifactError(
            f"{str(path)!r} ({part}) could not be rebuilt with the installed libraries: "
            f"{type(err).__name__}: {err}. It was probably saved with other versions; install the versions "
            "in its card (nbautoml.read_card(path)['environment']) or retrain the model.",
            code="load_failed", path=str(path)) from err
    try:
        rebuild_trees(obj)
    except ValueError as err:
        raise ArtifactError(f"{str(path)!r} ({part}) is damaged or forged: {err}.", code="damaged_model",
                            path=str(path)) from None
    return obj


# --------------------------------------------------------------------------- load

_FORMATS = ("nbautoml", "skops", "pickle", "joblib")


def load(path, trusted=None, format=None, allow_pickle: bool = False, allow_version_mismatch: bool = False,
         sha256: str | None = None, verify: bool = True) -> LoadedModel:
    """Load a model saved by :func:`save`, checking integrity and types before building anything.

    Parameters
    ----------
    path : str or Path
        An ``.nbautoml`` artifact, a bare ``.skops`` file, or
        ``"registry:NAME[@VERSION|@STAGE]"`` for the local registry.
    trusted : list of str or type, optional
        Types to trust beyond nbautoml's allowlist (:data:`ALLOWED_TYPES`),
        after you have reviewed them. The error for an untrusted file names them.
    format : {None, "nbautoml", "skops", "pickle", "joblib"}, default=None
        None detects nbautoml and skops files. Pickle/joblib files are loaded
        only with ``format="pickle"``, ``allow_pickle=True`` and either the
        ``sha256`` recorded for the file or ``verify=False``.
    allow_pickle : bool, default=False
        Required with ``format="pickle"``: unpickling runs the file's code.
    allow_version_mismatch : bool, default=False
        Load even when scikit-learn's minor (or numpy's major) version differs
        from the saved one; a warning is issued instead of an error.
    sha256 : str, optional
        The SHA-256 the whole file must have (the registry passes its record).
        A file in a registry's ``models`` directory is checked against the
        registry's record without it.
    verify : bool, default=True
        False loads a file whose integrity nothing can check: a skops file
        without a model card, or a pickle whose SHA-256 is on no record (with
        ``allow_pickle=True``), with a warning. It never loads a file that
        fails a check.

    Returns
    -------
    LoadedModel

    Raises
    ------
    ArtifactError
        ``file_not_found``, ``not_an_artifact``, ``pickle_refused``,
        ``pickle_unverified``, ``integrity_unverified``, ``load_failed``,
        ``damaged_model`` (a k-NN model whose tree cannot be built again),
        ``module_not_found`` (for a module outside scikit-learn, numpy, scipy
        and nbautoml); subclasses :class:`IntegrityError` (``artifact_corrupt``),
        :class:`UntrustedArtifactError` (``untrusted_types``) and
        :class:`EnvironmentMismatchError` (``environment_mismatch``, and
        ``module_not_found`` for a module the installed libraries no longer have).
    """
    if isinstance(path, str) and (path.startswith("registry:") or _looks_like_registry_ref(path)):
        if not verify:  # the registry's record is the check; there is nothing to skip
            raise ConfigError(f"verify=False is for a file nothing can check; {path!r} is a registry "
                              "reference, always checked against the registry's record. Drop verify=False.",
                              code="bad_option")
        if path.startswith("registry:"):
            from .registry import Registry

            return Registry().load(path[len("registry:"):], trusted=trusted,
                                   allow_version_mismatch=allow_version_mismatch, sha256=sha256)
        # "titanic@production": no such file, a registered name
        return _load_registered(path, trusted, allow_version_mismatch, sha256)
    if format is not None and format not in _FORMATS:
        raise unknown_choice("format", str(format), _FORMATS, code="bad_option")
    path = Path(path)
    data = _read_file(path)
    if sha256 is not None:
        _check_expected(path, data, sha256)
    else:  # a file in a registry's models directory must be the one registered
        sha256 = _registry_sha256(path, data)
    if format in ("pickle", "joblib"):
        return _load_pickle(path, data, allow_pickle, sha256, verify)
    kind = _sniff(data)
    if kind == "pickle" or kind.startswith("compressed"):
        raise _pickle_refusal(path, kind)
    if kind != "zip":
        raise ArtifactError(f"{str(path)!r} is not an nbautoml artifact or a skops file (it does not start "
                            "with a zip header). Give the path of a file written by nbautoml.save().",
                            code="not_an_artifact", path=str(path))
    if not _is_artifact(data):
        zf = _open_zip(path, data)
        names = zf.namelist()
        if CARD in names:
            raise _truncated(path, data, "the header of its card.json entry is damaged")
        if MODEL in names and "schema.json" not in names:  # an artifact whose card.json was taken out
            if sha256 is None and verify:
                raise _unverifiable(path, f"it holds {MODEL} but no {CARD}: its manifest (the card with the "
                                    "SHA-256 of each part) is missing",
                                    "If you trust its source, load it with verify=False, then save it again "
                                    "with nbautoml.save() to get a complete artifact.")
            _check_declared_sizes(path, data, zf)
            return _load_bare_skops(path, data, trusted, sha256, MODEL, _read_member(path, zf, MODEL))
        if "schema.json" not in names:
            raise ArtifactError(f"{str(path)!r} is a zip file but neither an nbautoml artifact nor a skops "
                                "file.", code="not_an_artifact", path=str(path))
        if format == "nbautoml":
            raise ArtifactError(f"{str(path)!r} is a bare skops file, not an nbautoml artifact; load it "
                                "with format=None or format='skops'.", code="not_an_artifact", path=str(path))
        if sha256 is None and verify:
            raise _unverifiable(path, "it is a bare skops file: it has no model card (the manifest with its "
                                "SHA-256 and library versions), and no registry records it",
                                "If you trust its source, load it with verify=False (or give the SHA-256 you "
                                "recorded for it: sha256='<hex>'), then save it with nbautoml.save() to get "
                                "an artifact that is checked at every load.")
        return _load_bare_skops(path, data, trusted, sha256, "skops file")
    artifact = _read_artifact(path, data, sha256)
    environment = artifact.card.get("environment")
    parts = {name: _skops_contents(artifact.members[name], path) for name in (MODEL, DETECTOR)
             if name in artifact.members}
    for name, contents in parts.items():  # a module that is gone: no version flag can help, say so first
        _check_modules(contents, path, name, environment)
    check_environment(environment, allow_version_mismatch)
    pipeline = _construct(artifact.members[MODEL], trusted, path, MODEL, environment, parts[MODEL])
    profile = None
    if PROFILE in artifact.members:
        detector = None
        if DETECTOR in artifact.members:
            detector = _construct(artifact.members[DETECTOR], trusted, path, DETECTOR, environment,
                                  parts[DETECTOR])
        profile = _profile_from(json.loads(artifact.members[PROFILE]), detector)
    return LoadedModel(pipeline, artifact.card, path=path, sha256=artifact.sha256, size=artifact.size,
                       reference_profile=profile)


def _profile_from(data: dict, detector):
    try:
        from .monitor.profile import ReferenceProfile
    except ImportError:
        warnings.warn("The artifact holds a monitoring reference profile, but nbautoml.monitor is not "
                      "available in this installation; model.reference_profile_ is None.", stacklevel=3)
        return None
    return ReferenceProfile.from_dict(data, anomaly_detector=detector)


def _load_bare_skops(path: Path, data: bytes, trusted, sha256: str | None, part: str,
                     blob: bytes | None = None) -> LoadedModel:
    """Load a file's skops bytes (``blob``, default the whole file) that have no card.

    ``sha256`` is the whole file's hash when it was checked against a record.
    """
    pipeline = _construct(data if blob is None else blob, trusted, path, part)
    checked = ("its library versions cannot be checked" if sha256 is not None else
               "its integrity and library versions cannot be checked (loaded with verify=False)")
    warnings.warn(f"{str(path)!r} is a bare skops file without a model card: {checked}. Save it again with "
                  "nbautoml.save() to add them.", UserWarning, stacklevel=3)
    card = {"format": "skops", **_card_for_pipeline(pipeline)}
    return LoadedModel(pipeline, card, path=path, sha256=_sha256(data), size=len(data))


def _pickle_sklearn_version(data: bytes) -> str | None:
    """The ``_sklearn_version`` a pickle records for its first estimator, read without unpickling."""
    import pickletools

    is_key = False
    try:
        for _opcode, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if isinstance(arg, str):
                if is_key:
                    return arg
                is_key = arg == "_sklearn_version"
            elif isinstance(arg, bytes):
                is_key = False
    except Exception:  # joblib's raw array bytes, a compressed file, the stream's end: nothing more to read
        pass
    return None


def _load_pickle(path: Path, data: bytes, allow_pickle: bool, sha256: str | None, verify: bool) -> LoadedModel:
    """Unpickle a file, only with ``allow_pickle`` and a SHA-256 on record (or ``verify=False``)."""
    if not allow_pickle:
        raise ArtifactError(
            f"format='pickle' needs allow_pickle=True as well: unpickling {str(path)!r} runs whatever code it "
            "contains. Only do this for a file you made yourself or fully trust.",
            code="pickle_refused", path=str(path))
    if sha256 is None and verify:
        raise ArtifactError(
            f"{str(path)!r} was not unpickled: allow_pickle=True is not enough for a file whose SHA-256 "
            f"({_sha256(data)[:16]}…) is on no record (the registry keeps nbautoml artifacts only), so it "
            "may have been swapped for one that takes over this machine. Give the SHA-256 you recorded when "
            "you made it (sha256='<hex>'), or, for a file you made yourself, verify=False for this call; then "
            "save it with nbautoml.save() to get a safe artifact.", code="pickle_unverified", path=str(path),
            sha256=_sha256(data))
    import joblib

    warnings.warn(f"Loading {str(path)!r} as a pickle runs the code it contains. Save it again with "
                  "nbautoml.save() to get a safe artifact.", UnsafeLoadWarning, stacklevel=3)
    try:
        obj = joblib.load(io.BytesIO(data))  # the bytes that were checked, not the file read again
    except ModuleNotFoundError as err:
        raise _module_gone(path, "pickle", err.name or str(err), None, None,
                           _pickle_sklearn_version(data)) from err
    if isinstance(obj, LoadedModel):
        return obj
    pipeline = _fitted_pipeline(obj)
    card = _card_for_result(obj) if _looks_like_result(obj) else _card_for_pipeline(pipeline)
    card = {"format": "pickle", **card, "environment": None}
    return LoadedModel(pipeline, card, path=path, reference_profile=getattr(obj, "reference_profile_", None))


def as_loaded(obj) -> LoadedModel:
    """A :class:`LoadedModel` for a path, a registry reference, a fitted AutoML or a pipeline.

    An AutoML or pipeline is wrapped in memory (nothing is written), so the
    same schema checks and card apply as after a save and a load.
    """
    if isinstance(obj, LoadedModel):
        return obj
    if isinstance(obj, (str, Path)):
        return load(obj)
    pipeline = _fitted_pipeline(obj)
    card = _card_for_result(obj) if _looks_like_result(obj) else _card_for_pipeline(pipeline)
    card = {"format": "memory", **card, "environment": versions()}
    return LoadedModel(pipeline, card, reference_profile=getattr(obj, "reference_profile_", None))


# --------------------------------------------------------------------------- LoadedModel


class LoadedModel:
    """A model loaded from an artifact, with the fitted ``AutoML``'s attribute names.

    Predictions go through the input schema recorded at training time
    (:func:`nbautoml.schema.enforce_schema`): missing columns are named,
    extra ones ignored (said once), safe dtype changes converted, unsafe
    ones refused, unseen categories counted.

    Attributes
    ----------
    best_pipeline, best_pipeline_ : Pipeline
    task_, target_, metric_, greater_is_better_, classes_ : as on ``AutoML``
    best_score_, best_score_std_, best_config_, feature_names_in_ : as on ``AutoML``
    metric_note_, preference_ : str or None
        As on ``AutoML``: why ``metric="auto"`` chose the metric, and which
        trial ``prefer`` refitted and why (None in cards saved before they
        were kept).
    top_configs_ : list of dict
        The best trials' configs, best first (``card["model"]["top_configs"]``;
        older cards give ``[best_config_]``), for ``AutoML(warm_start=...)``.
    plan_ : DataPlan or None
    schema_ : dict or None
        The input schema (``card["input_schema"]``).
    reference_profile_ : ReferenceProfile or None
    card : dict
        The model card.
    path_, sha256_, size_ : where the model came from
    registry_ref_ : str or None
        ``"name@version"`` when loaded from the registry.
    last_input_report_ : InputReport or None
        What the last predict did to its input.
    """

    def __init__(self, pipeline, card: dict, *, path=None, sha256=None, size=None, reference_profile=None):
        import numpy as np

        self.best_pipeline_ = pipeline
        self.card = card
        self.path_ = None if path is None else Path(path)
        self.sha256_ = sha256
        self.size_ = size
        self.reference_profile_ = reference_profile
        self.registry_ref_ = None
        self.last_input_report_ = None
        self._warned_extra: set = set()
        metric = card.get("metric") or {}
        self.task_ = card.get("task")
        self.target_ = card.get("target")
        self.groups_column_ = card.get("groups_column")
        self.metric_ = metric.get("name")
        self.greater_is_better_ = metric.get("greater_is_better")
        self.best_score_ = metric.get("cv_score")
        self.best_score_std_ = metric.get("cv_std")
        self.holdout_score_ = metric.get("holdout_score")
        self.metric_note_ = metric.get("note")
        self.preference_ = (card.get("search") or {}).get("preference")
        self.decision_threshold_ = _model_threshold(pipeline)  # the model's own, whatever the card says
        self.threshold_note_ = (card.get("decision_threshold") or {}).get("note")
        self.best_config_ = (card.get("model") or {}).get("config")
        self.top_configs_ = (card.get("model") or {}).get("top_configs") or (
            [self.best_config_] if self.best_config_ else [])
        classes = getattr(pipeline, "classes_", None)
        if classes is None and card.get("classes") is not None:
            classes = np.asarray(card["classes"])
        self.classes_ = None if self.task_ == "regression" else classes
        names = card.get("feature_names_in") or []
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.schema_ = card.get("input_schema")
        self.data_fingerprint_ = card.get("training_data")
        self.plan_ = None
        if card.get("plan"):
            from .engine.data import DataPlan

            self.plan_ = DataPlan.from_dict(card["plan"])

    @property
    def best_pipeline(self):
        """The fitted scikit-learn Pipeline."""
        return self.best_pipeline_

    # ------------------------------------------------------------ input
    def check_input(self, X, warn: bool = True):
        """Enforce the training schema on ``X``; returns ``(frame, InputReport)``.

        With ``warn`` (the default), ignored extra columns and units never seen in
        training (``"12 g"`` where it read ``"kg"``) are reported once each as a
        ``UserWarning``.
        """
        from .schema import InputReport, as_frame, enforce_schema, warn_about_input

        if self.schema_ and self.schema_.get("columns") and all(
                c.get("role") != "unknown" for c in self.schema_["columns"]):
            known = [*self.feature_names_in_.tolist(), *([self.target_] if self.target_ else []),
                     *([self.groups_column_] if self.groups_column_ else [])]
            frame, report = enforce_schema(X, self.schema_, known=known)
        else:
            names = [c["name"] for c in (self.schema_ or {}).get("columns", [])]
            frame = as_frame(X, names or None)
            report = InputReport(rows=len(frame))
            if names:
                frame.columns = [str(c) for c in frame.columns]
                missing = [n for n in names if n not in frame.columns]
                if missing:
                    raise DataError(f"The data lacks {counted(len(missing), 'column')} the model needs: "
                                    f"{', '.join(missing)}.", code="missing_columns", columns=missing)
                report.extra = [c for c in frame.columns if c not in names]
                frame = frame[names]
        if warn:
            warn_about_input(report, self._warned_extra, stacklevel=3)
        self.last_input_report_ = report
        return frame, report

    def _input_frame(self, X):
        """``X`` as the model's input frame (``check_input``), as ``AutoML._input_frame``."""
        return self.check_input(X, warn=False)[0]

    # ------------------------------------------------------------ predictions
    def predict(self, X):
        """Predict (original labels for classifiers) after enforcing the input schema."""
        frame, _ = self.check_input(X)
        return self.best_pipeline_.predict(frame)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        if self.task_ == "regression":
            raise AttributeError("predict_proba is for classification; this is a regression model.")
        if not hasattr(self.best_pipeline_, "predict_proba"):
            raise AttributeError(f"The model ({type(self.best_pipeline_[-1]).__name__}) gives no "
                                 "probabilities.")
        frame, _ = self.check_input(X)
        return self.best_pipeline_.predict_proba(frame)

    def decision_function(self, X):
        frame, _ = self.check_input(X)
        return self.best_pipeline_.decision_function(frame)

    def score(self, X, y=None) -> float:
        """The model's metric on new data with the target (a column of ``X``, or ``y``)."""
        import pandas as pd

        from .engine.data import string_names, true_values
        from .engine.evaluate import score_fitted
        from .engine.frames import as_pandas
        from .engine.metrics import get_metric

        if self.task_ is None:
            raise NotFittedError("This model's card has no task; score() cannot pick a metric.")
        X, y = string_names(as_pandas(X)), as_pandas(y)
        if y is None:
            if not isinstance(X, pd.DataFrame) or not self.target_ or self.target_ not in X.columns:
                raise DataError(f"score() needs the target: a {self.target_!r} column in the data, or y.",
                                code="no_target")
            y, X = X[self.target_], X.drop(columns=[self.target_])
        y = true_values(y, self.task_)
        keep = y.notna().to_numpy()
        frame, _ = self.check_input(X)
        metric = get_metric(self.metric_ or "auto", self.task_)
        return score_fitted(self.best_pipeline_, frame[keep], y[keep], metric, self.task_, self.classes_)

    def explain(self, data, row=None, **kwargs):
        """Explain the model on labelled rows: permutation importance, partial dependence, one row.

        A loaded model keeps no training rows, so ``data`` (held-out or recent rows
        with the target column) is what importance is measured on, dependence
        averaged over and a row explained against. See :func:`nbautoml.explain.explain`.

        Returns
        -------
        nbautoml.explain.Explanation
        """
        from .explain import explain

        return explain(self, data=data, row=row, **kwargs)

    # ------------------------------------------------------------ display
    def summary(self) -> dict:
        """The main facts of the model, as a dict."""
        env = self.card.get("environment") or {}
        search = self.card.get("search") or {}
        schema = self.schema_ or {}
        roles: dict[str, int] = {}
        for column in schema.get("columns", []):
            roles[column.get("role")] = roles.get(column.get("role"), 0) + 1
        return {
            "task": self.task_, "target": self.target_, "metric": self.metric_,
            "metric_note": self.metric_note_, "best_score": self.best_score_, "best_score_std": self.best_score_std_,
            "holdout_score": self.holdout_score_,
            "validation": (self.card.get("metric") or {}).get("validation"),
            "validation_note": (self.card.get("metric") or {}).get("validation_note"),
            "model": (self.card.get("model") or {}).get("description"),
            "inputs": roles, "classes": None if self.classes_ is None else self.classes_.tolist(),
            "created": self.card.get("created"), "scikit-learn": env.get("scikit-learn"),
            "path": None if self.path_ is None else str(self.path_), "sha256": self.sha256_,
            "size": self.size_, "registry": self.registry_ref_,
            "monitoring_profile": self.reference_profile_ is not None,
            "prefer": search.get("prefer"), "preference": self.preference_, "traded": bool(search.get("traded")),
            "decision_threshold": self.decision_threshold_, "threshold_note": self.threshold_note_,
        }

    def _lines(self) -> list[tuple[str, str]]:
        s = self.summary()
        score = "n/a" if s["best_score"] is None else f"{s['best_score']:.4f} ± {s['best_score_std'] or 0:.4f}"
        rows = [("Task", f"{s['task']} on {s['target']!r}" if s["target"] else str(s["task"])),
                ("Model", str(s["model"]))]
        if s["metric"]:
            rows.append((f"CV {s['metric']}", f"{score} ({s['validation']})"))
        if s["validation_note"]:
            rows.append(("Validation", s["validation_note"]))
        if s["metric_note"]:
            rows.append(("Metric", f"{s['metric']} ({s['metric_note']})"))
        if s["preference"] and (s["traded"] or s["prefer"] not in (None, "accurate")):
            rows.append((f"Preference ({s['prefer']})", s["preference"]))
        if s["decision_threshold"] is not None:
            rows.append(("Decision threshold", s["threshold_note"] or f"{s['decision_threshold']:.4g}"))
        if s["holdout_score"] is not None:
            rows.append(("Held-out", f"{s['holdout_score']:.4f}"))
        if s["inputs"]:
            rows.append(("Input", f"{sum(s['inputs'].values())} columns ("
                         + ", ".join(f"{n} {r}" for r, n in s["inputs"].items()) + ")"))
        source = s["registry"] or s["path"] or "memory"
        if s["sha256"]:
            size = f", {s['size'] / 1e6:.2f} MB" if s["size"] else ""
            source += f" (sha256 {s['sha256'][:12]}…{size})"
        rows.append(("From", source))
        rows.append(("Saved", f"{s['created']} with scikit-learn {s['scikit-learn']}"))
        return rows

    def __repr__(self) -> str:
        return "LoadedModel\n" + "\n".join(f"  {k}: {v}" for k, v in self._lines())

    def _repr_html_(self) -> str:
        import html

        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in self._lines())
        return f"<div class='nbautoml-model'><h4>nbautoml model</h4><table>{rows}</table></div>"


__all__ = ["ALLOWED_TYPES", "ArtifactError", "as_loaded", "EnvironmentMismatchError", "IntegrityError", "LoadedModel",
           "UnsafeLoadWarning", "UntrustedArtifactError", "VersionMismatchWarning", "atomic_write",
           "check_environment", "load", "read_card", "save", "versions"]
