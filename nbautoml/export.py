"""Export a model to ONNX (skl2onnx; ``pip install 'nbautoml[onnx]'``), checked against scikit-learn.

The ONNX graph has one input per model column, shape ``[N, 1]``: ``float32``
for a numeric column, a string for a categorical one (its values as text, a
missing value as ``"missing"``), ``float64`` for a date (its days since
1970-01-01, the time of day as a fraction, NaN when missing), a string for a
text column (lowercased, accents stripped, a missing value as "");
``report.feeds(frame)`` writes them so (numbers stored as text parsed as the
model reads them), and the file's metadata ``nbautoml.inputs`` says so in JSON
for programs without nbautoml. It outputs ``label`` and ``probabilities`` (classifiers) or
``variable`` (regressors).

Examples
--------
>>> report = nbautoml.export_onnx(result, "model.onnx", check_rows=X_test)   # doctest: +SKIP
>>> import onnxruntime as ort                                                 # doctest: +SKIP
>>> sess = ort.InferenceSession("model.onnx")                                 # doctest: +SKIP
>>> sess.run(None, report.feeds(X_test))                                       # doctest: +SKIP

skl2onnx makes each input name a valid identifier (``"Age (day)"`` becomes
``"Age__day_"``); ``report.input_names`` maps column names to ONNX names and
``report.feeds(frame)`` builds the input dict.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import onnx_converters
from .exceptions import NbAutoMLError


class ExportError(NbAutoMLError):
    """The model cannot be exported, or the export does not match scikit-learn."""

    code = "export_failed"


@dataclass
class OnnxReport:
    """The result of :func:`export_onnx`.

    Attributes
    ----------
    path : Path
    size : int
        Bytes.
    inputs, outputs : list of str
        ``inputs`` are the model's column names, in order.
    input_names : dict
        Column name -> the ONNX graph's input name (skl2onnx turns characters
        other than letters, digits and ``_`` into ``_``).
    string_inputs : list of str
        The categorical columns, fed as strings (the others as ``float32``).
    date_inputs : list of str
        The date columns, fed as ``float64`` days since 1970-01-01.
    text_inputs : list of str
        The free-text columns, fed as strings lowercased with their accents
        stripped (:func:`nbautoml.onnx_converters.text_for_onnx`).
    rows_checked : int
        Rows compared between ONNX Runtime and scikit-learn (0: not checked).
    prepare : callable or None
        The model's input check, which ``feeds`` applies first: the schema's
        columns and dtypes, durations in seconds, periods as dates.
    label_agreement : float or None
        Share of identical labels (classifiers).
    value_agreement : float or None
        Share of rows whose probabilities are within ``atol`` (classifiers) or
        whose prediction is within ``rtol`` of the predictions' scale (regressors).
    max_abs_diff : float or None
        Largest absolute difference of probabilities (classifiers) or predictions (regressors).
    max_rel_diff : float or None
        ``max_abs_diff`` relative to the largest absolute prediction (regressors).
    passed : bool or None
        None when nothing was checked.
    """

    path: Path
    size: int
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    input_names: dict[str, str] = field(default_factory=dict)
    string_inputs: list[str] = field(default_factory=list)
    date_inputs: list[str] = field(default_factory=list)
    text_inputs: list[str] = field(default_factory=list)
    rows_checked: int = 0
    label_agreement: float | None = None
    value_agreement: float | None = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    passed: bool | None = None
    prepare: Callable | None = field(default=None, repr=False, compare=False)

    def feeds(self, frame) -> dict:
        """The ONNX Runtime input dict for ``frame``: columns of shape ``[N, 1]``, ``float32``,
        strings for ``string_inputs`` (a missing value as ``"missing"``), ``float64`` days
        since 1970-01-01 for ``date_inputs`` and strings lowercased without accents for
        ``text_inputs``, after the model's own input check (:attr:`prepare`)."""
        return self._checked_feeds(frame if self.prepare is None else self.prepare(frame))

    def _checked_feeds(self, frame) -> dict:
        """The input dict for rows the model's input check has already seen."""
        return _feeds(frame, self.inputs, self.input_names, self.string_inputs, self.date_inputs,
                      self.text_inputs)

    def __repr__(self) -> str:
        check = "not checked"
        if self.rows_checked:
            bits = []
            if self.label_agreement is not None:
                bits.append(f"labels agree on {self.label_agreement:.2%}")
            if self.value_agreement is not None:
                what = "probabilities" if self.label_agreement is not None else "predictions"
                bits.append(f"{what} agree on {self.value_agreement:.2%}")
            if self.max_abs_diff is not None:
                bits.append(f"max abs diff {self.max_abs_diff:.2e}")
            check = f"{'passed' if self.passed else 'FAILED'} on {self.rows_checked} rows (" + ", ".join(bits) + ")"
        return f"OnnxReport({str(self.path)!r}, {self.size:,} bytes, parity {check})"


def _require():
    try:
        import onnxruntime  # noqa: F401
        import skl2onnx  # noqa: F401
    except ImportError as err:
        raise ExportError("ONNX export needs skl2onnx and onnxruntime. Install them with: "
                          "pip install 'nbautoml[onnx]' (or: pip install skl2onnx onnxruntime).",
                          code="missing_dependency") from err


def unsupported_steps(pipeline) -> list[str]:
    """Steps of the pipeline that skl2onnx cannot convert (nbautoml's own transformers)."""
    from .persist import pipeline_steps

    return [f"{s['path']} ({s['class'].rsplit('.', 1)[-1]})" for s in pipeline_steps(pipeline)
            if s["class"].startswith("nbautoml.")
            and s["class"].rsplit(".", 1)[-1] not in onnx_converters.CONVERTIBLE_STEPS]


def _step_for_class(pipeline, class_name: str) -> str | None:
    from .persist import pipeline_steps

    for step in pipeline_steps(pipeline):
        if step["class"].rsplit(".", 1)[-1] == class_name:
            return step["path"]
    return None


def _feeds(frame, columns, names=None, strings=(), dates=(), texts=()):
    import numpy as np
    import pandas as pd

    from .engine.transformers import AsString, to_numbers

    def feed(c):
        if c in strings:
            return AsString().fit(frame[[c]]).transform(frame[[c]])
        if c in dates:
            return onnx_converters.days_since_epoch(frame[[c]]).reshape(-1, 1)
        if c in texts:
            return onnx_converters.text_for_onnx(frame[[c]])
        if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]):
            return to_numbers(frame[c]).to_numpy(dtype=np.float32, na_value=np.nan).reshape(-1, 1)
        return frame[[c]].to_numpy(dtype=np.float32, na_value=np.nan)

    names = names or {}
    return {names.get(c, c): feed(c) for c in columns}


def _describe_inputs(columns, graph_inputs, strings, dates, texts) -> str:
    """How to write each input, as JSON for the ONNX file's metadata (``nbautoml.inputs``), for
    a program that runs the file without nbautoml."""
    import json

    def feed(column):
        if column in texts:
            return ("string: the text lowercased, accents stripped (Unicode NFKD without combining "
                    "marks), a missing value as ''")
        if column in strings:
            return "string: the category as text, a missing value as 'missing'"
        if column in dates:
            return "float64: days since 1970-01-01, the time of day as a fraction, NaN when missing"
        return "float32: the number, NaN when missing"

    return json.dumps([{"column": column, "input": name, "feed": feed(column)}
                       for column, name in zip(columns, graph_inputs)], ensure_ascii=False)


def _columns_read_by(pipeline, step_class: str) -> set[str]:
    """The columns the pipeline's ColumnTransformers send first through a ``step_class``
    step (``AsString``: the categories; ``DatetimeFeatures``: the dates), in its pipelines
    and ensemble members."""
    from sklearn.compose import ColumnTransformer

    from .engine.transformers import ColumnNames

    found = set()
    for step in _parts(pipeline):
        if not isinstance(step, ColumnTransformer):
            continue
        for _, part, cols in step.transformers:
            first = part.steps[0][1] if hasattr(part, "steps") else part
            if type(first).__name__ == step_class:
                found.update(cols.names if isinstance(cols, ColumnNames) else cols)
    return found


def _parts(root):
    """Every step: ``root``, its pipelines' steps, its voting ensembles' members and the
    classifier a decision threshold wraps."""
    yield root
    for _name, step in getattr(root, "steps", []):
        yield from _parts(step)
    for member in getattr(root, "estimators_", None) or []:
        yield from _parts(member)
    if type(root).__name__ == "FixedThresholdClassifier":  # decision_threshold: the step it wraps
        yield from _parts(root.estimator_)


def _convertible(pipeline):
    """A copy of ``pipeline`` in the form skl2onnx reads, and the conversion options it needs.

    What differs: a ColumnNames selection becomes the list of its names (the fitted
    ``transformers_`` hold the mask it returned); a voting ensemble's ``weights``
    become an array (skl2onnx divides by ``weights.sum()``; nbautoml stores a list;
    its converter also refuses ``flatten_transform=True``, which only shapes
    ``transform()``); a TF-IDF step reads text already lowercased, with its
    n-grams as tuples (:func:`onnx_converters.text_vectorizer_for_onnx`). The copy
    converts; it does not predict as the model does.

    Raises
    ------
    ExportError
        ``onnx_unsupported`` for a TF-IDF step with settings ONNX cannot reproduce.
    """
    import copy

    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.feature_extraction.text import TfidfVectorizer

    from .engine.transformers import ColumnNames

    pipeline = copy.deepcopy(pipeline)
    options = {}
    for step in _parts(pipeline):
        if isinstance(step, ColumnTransformer):
            named = {name: cols.names for name, _, cols in step.transformers if isinstance(cols, ColumnNames)}
            if named:
                step.transformers_ = [(name, part, named.get(name, cols)) for name, part, cols in step.transformers_]
            for name, part, _ in step.transformers_:
                for _, vectorizer in getattr(part, "steps", [(name, part)]):
                    if isinstance(vectorizer, TfidfVectorizer):
                        try:
                            options[id(vectorizer)] = onnx_converters.text_vectorizer_for_onnx(vectorizer)
                        except ValueError as err:
                            raise ExportError(f"The text step {name!r} cannot be exported to ONNX: {err}.",
                                              code="onnx_unsupported", steps=[name]) from err
        if isinstance(step, (VotingClassifier, VotingRegressor)):
            if isinstance(step.weights, (list, tuple)):
                step.weights = np.asarray(step.weights, dtype=float)
            if isinstance(step, VotingClassifier):
                step.flatten_transform = False  # the shape of transform() only, which ONNX does not export
    return pipeline, options


def _mismatch_causes(pipeline) -> str:
    """What makes ONNX Runtime's predictions differ from scikit-learn's, for this model's steps."""
    from sklearn.svm import SVC, SVR

    from .estimators import estimators_inside
    from .neighbor_trees import neighbor_models

    causes = ["a converter that gets the model wrong"]
    if neighbor_models(pipeline):
        causes.append("(a k-NN step) neighbours at equal distances, as repeated values give, among which "
                      "ONNX Runtime picks others than scikit-learn")
    if any(isinstance(step, (SVC, SVR)) for step in estimators_inside(pipeline)):
        causes.append("(an SVM step) float32 rounding in its sum over the support vectors, large with a "
                      "large C")
    return ", or ".join(causes)


def export_onnx(model, path, check_rows=None, *, target_opset: int | None = None, atol: float = 1e-3,
                rtol: float = 1e-4, min_agreement: float = 0.95) -> OnnxReport:
    """Convert the model's pipeline to ONNX and check it against scikit-learn.

    Parameters
    ----------
    model : AutoML, LoadedModel, Pipeline or path
    path : str or Path
        The ``.onnx`` file to write (atomically; nothing is written when the
        check fails).
    check_rows : DataFrame, optional
        Held-out rows (the model's input columns; extra ones are ignored).
        ONNX Runtime and scikit-learn predict them and must agree on at least
        ``min_agreement`` of the rows: the same label and probabilities within
        ``atol`` (classifiers), predictions within ``rtol`` of their scale
        (regressors).
        Without it, a fitted AutoML checks 200 of its training rows (with a
        warning); other models are not checked. A few rows may differ for good
        reasons: ONNX computes in float32, so a value within float32 rounding of
        a tree's split threshold can go down the other branch, and k-NN may
        break ties between equally distant (duplicate) rows another way. A
        wrong graph changes most rows (skl2onnx's k-NN without distance
        weights changed all of them).
    target_opset : int, optional
        The ONNX opset (default: skl2onnx's latest supported).
    atol, rtol : float
        Tolerances for probabilities and for predictions (relative to the
        largest absolute prediction).
    min_agreement : float, default=0.95
        The share of rows that must agree.

    Returns
    -------
    OnnxReport

    Raises
    ------
    ExportError
        ``onnx_unsupported`` naming the steps without a converter,
        ``onnx_mismatch`` with the figures when the check fails, ``onnx_invalid`` when
        ONNX Runtime refuses the graph skl2onnx wrote,
        ``missing_dependency`` when skl2onnx/onnxruntime are not installed.
    """
    import numpy as np

    from .atomic import atomic_write
    from .persist import as_loaded

    loaded = as_loaded(model)
    pipeline = loaded.best_pipeline_
    columns = [c["name"] for c in (loaded.schema_ or {}).get("columns", [])]
    if not columns:
        raise ExportError("The model has no recorded input columns, so the ONNX inputs cannot be named. "
                          "Export a fitted AutoML or a model saved by nbautoml.save().",
                          code="onnx_unsupported")
    blocked = unsupported_steps(pipeline)
    if blocked:
        raise ExportError(
            "This pipeline cannot be exported to ONNX: no ONNX converter exists for the step(s) "
            + ", ".join(blocked)
            + ". ONNX export works for numeric, categorical, date and text columns: search without the "
            "columns these steps read (drop them, or roles={column: 'dropped'}), or serve the model with "
            "nbautoml serve instead.", code="onnx_unsupported", steps=blocked)
    _require()
    onnx_converters.register()
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    strings = [c for c in columns if c in _columns_read_by(pipeline, "AsString")]
    dates = [c for c in columns if c in _columns_read_by(pipeline, "DatetimeFeatures")]
    texts = [c for c in columns if c in _columns_read_by(pipeline, "TextColumn")]

    convertible, options = _convertible(pipeline)
    classifier = loaded.task_ in ("binary", "multiclass")
    if classifier:
        options[id(convertible.steps[-1][1] if hasattr(convertible, "steps") else convertible)] = {"zipmap": False}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            types = [(c, StringTensorType([None, 1]) if c in strings or c in texts else DoubleTensorType([None, 1])
                      if c in dates else FloatTensorType([None, 1])) for c in columns]
            onx = to_onnx(convertible, initial_types=types, options=options or None, target_opset=target_opset)
    except Exception as err:
        text = str(err).strip().splitlines()[0][:300].rstrip(".") if str(err).strip() else type(err).__name__
        match = re.search(r"<class '([\w.]+)'>", str(err))
        step = _step_for_class(convertible, match.group(1).rsplit(".", 1)[-1]) if match else None
        if step is None:
            for candidate in re.findall(r"'(\w+)'", str(err)):
                step = _step_for_class(convertible, candidate)
                if step:
                    break
        where = f"the step {step!r}" if step else "a step of the pipeline"
        raise ExportError(f"skl2onnx could not convert {where}: {type(err).__name__}: {text}. "
                          "Search with models= that convert (e.g. random_forest, logistic_regression), or "
                          "serve the model with nbautoml serve.", code="onnx_unsupported",
                          steps=[step] if step else []) from err
    graph_inputs = [i.name for i in onx.graph.input]
    onx.metadata_props.add(key="nbautoml.inputs",
                           value=_describe_inputs(columns, graph_inputs, strings, dates, texts))
    data = onx.SerializeToString()
    report = OnnxReport(Path(path), len(data), inputs=columns, outputs=[o.name for o in onx.graph.output],
                        input_names=dict(zip(columns, graph_inputs)), string_inputs=strings,
                        date_inputs=dates, text_inputs=texts,
                        prepare=lambda frame: loaded.check_input(frame, warn=False)[0])

    if check_rows is None and getattr(model, "_X", None) is not None:
        warnings.warn("export_onnx: no check_rows given; checking 200 training rows. Pass held-out rows "
                      "with check_rows= for a fair check.", UserWarning, stacklevel=2)
        check_rows = model._X.sample(min(200, len(model._X)), random_state=0)
    if check_rows is not None:
        import onnxruntime as ort

        frame = report.prepare(check_rows)  # the rows as a user feeds them, checked once for both
        session_options = ort.SessionOptions()
        session_options.log_severity_level = 3  # errors only: its notes on unused initializers are skl2onnx's to mend
        try:
            session = ort.InferenceSession(data, session_options, providers=["CPUExecutionProvider"])
        except Exception as err:  # a graph skl2onnx wrote that ONNX Runtime refuses
            text = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
            raise ExportError(f"skl2onnx wrote a graph ONNX Runtime cannot run ({text}); it was not written. "
                              "Search with models= that convert (e.g. random_forest, logistic_regression), or "
                              "serve the model with nbautoml serve.", code="onnx_invalid") from err
        try:
            outputs = dict(zip([o.name for o in session.get_outputs()],
                               session.run(None, report._checked_feeds(frame))))
        finally:
            # freed now, not by a later garbage collection (a mismatch error's traceback holds
            # this frame): a session collected in a forked worker joins threads that are not there
            del session
        report.rows_checked = len(frame)
        if classifier:
            labels = np.asarray(outputs.get("label")).ravel()
            expected = np.asarray(pipeline.predict(frame)).ravel()
            if labels.dtype.kind in "iufb" and expected.dtype.kind in "iufb":  # float, bool classes come back as int64
                report.label_agreement = float(np.mean(labels.astype(float) == expected.astype(float)))
            else:
                report.label_agreement = float(np.mean(labels.astype(str) == expected.astype(str)))
            passed = report.label_agreement >= min_agreement
            if "probabilities" in outputs and hasattr(pipeline, "predict_proba"):
                diff = np.abs(np.asarray(outputs["probabilities"]) - pipeline.predict_proba(frame))
                report.max_abs_diff = float(np.nanmax(diff)) if diff.size else 0.0
                report.value_agreement = float(np.mean(np.nanmax(diff, axis=1) <= atol)) if diff.size else 1.0
                passed = passed and report.value_agreement >= min_agreement
        else:
            got = np.asarray(next(iter(outputs.values()))).ravel().astype(float)
            expected = np.asarray(pipeline.predict(frame), dtype=float).ravel()
            report.max_abs_diff = float(np.nanmax(np.abs(got - expected))) if got.size else 0.0
            scale = float(np.nanmax(np.abs(expected))) if expected.size else 1.0
            report.max_rel_diff = report.max_abs_diff / max(scale, 1e-12)
            report.value_agreement = float(np.mean(np.abs(got - expected) <= rtol * max(scale, 1e-12)))
            passed = report.value_agreement >= min_agreement
        report.passed = bool(passed)
        if not passed:
            raise ExportError(f"The ONNX model does not match scikit-learn on {report.rows_checked} rows "
                              f"({report!r}); it was not written. Differences on this many rows come from "
                              f"{_mismatch_causes(pipeline)}; try another model family, or serve the model "
                              "with nbautoml serve.", code="onnx_mismatch", report=report)
    atomic_write(path, data)
    return report


__all__ = ["ExportError", "OnnxReport", "export_onnx", "unsupported_steps"]
