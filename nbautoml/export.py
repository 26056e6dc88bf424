"""Export a model to ONNX (skl2onnx; ``pip install 'nbautoml[onnx]'``), checked against scikit-learn.

The ONNX graph has one input per model column (``float32``, shape ``[N, 1]``)
and outputs ``label`` and ``probabilities`` (classifiers) or ``variable``
(regressors). Pipelines with nbautoml's own transformers (categorical, text
and date columns go through them) have no ONNX converter; the error names
the steps. All-numeric pipelines convert.

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
from dataclasses import dataclass, field
from pathlib import Path

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
    rows_checked : int
        Rows compared between ONNX Runtime and scikit-learn (0: not checked).
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
    rows_checked: int = 0
    label_agreement: float | None = None
    value_agreement: float | None = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    passed: bool | None = None

    def feeds(self, frame) -> dict:
        """The ONNX Runtime input dict for ``frame`` (``float32`` columns of shape ``[N, 1]``)."""
        return _feeds(frame, self.inputs, self.input_names)

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


def _register_converters():
    """Teach skl2onnx the steps nbautoml's pipelines use that it has no converter for.

    ``TransformedTargetRegressor`` with a ``StandardScaler`` (the regression families
    fitted on the standardized target): the regressor's output times the target's
    scale plus its mean; with a ``LogTarget`` (models fitted on the log of the target):
    the output clipped to its range, ``exp``, minus one. ``SplineTransformer`` (linear models on splines):
    :func:`spline_pieces`.
    """
    import numpy as np
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import OnnxAdd, OnnxClip, OnnxExp, OnnxMul, OnnxSub
    from skl2onnx.common.shape_calculator import calculate_linear_regressor_output_shapes
    from sklearn.compose import TransformedTargetRegressor

    def convert(scope, operator, container):
        model = operator.raw_operator
        transformer = model.transformer_
        kind = type(transformer).__name__
        if kind not in ("StandardScaler", "LogTarget") or model.func is not None:
            raise NotImplementedError("TransformedTargetRegressor converts with a StandardScaler or "
                                      "LogTarget transformer only")
        opset = container.target_opset
        inner = OnnxSubEstimator(model.regressor_, operator.inputs[0], op_version=opset)
        if kind == "LogTarget":
            low = np.array(transformer.low_ - transformer.margin, dtype=np.float32)
            high = np.array(transformer.high_ + transformer.margin, dtype=np.float32)
            output = OnnxSub(OnnxExp(OnnxClip(inner, low, high, op_version=opset), op_version=opset),
                             np.array([1.0], dtype=np.float32), op_version=opset,
                             output_names=operator.outputs[:1])
        else:
            scale = np.asarray(transformer.scale_ if transformer.scale_ is not None else [1.0], dtype=np.float32)
            mean = np.asarray(transformer.mean_ if transformer.mean_ is not None else [0.0], dtype=np.float32)
            output = OnnxAdd(OnnxMul(inner, scale, op_version=opset), mean, op_version=opset,
                             output_names=operator.outputs[:1])
        output.add_to(scope, container)

    update_registered_converter(TransformedTargetRegressor, "NbautomlTransformedTargetRegressor",
                                calculate_linear_regressor_output_shapes, convert)
    _register_spline_converter()
    _mend_boosting_converters()
    _mend_neighbor_converters()


def _mend_boosting_converters():
    """Let skl2onnx's HistGradientBoosting converters write integer flags.

    skl2onnx (1.20) gives every leaf ``False`` in the integer list
    ``nodes_missing_value_tracks_true`` of ``TreeEnsembleClassifier`` /
    ``TreeEnsembleRegressor``, and onnx (1.23) refuses a bool there ("Expected an
    int, got a boolean"), so no boosting model converted. The wrapped converter
    hands the same flags on as 0 and 1; everything else is skl2onnx's own.
    """
    from skl2onnx.common._registration import get_converter, register_converter

    for alias in ("SklearnHistGradientBoostingClassifier", "SklearnHistGradientBoostingRegressor"):
        registered = get_converter(alias)
        if getattr(registered._fct, "nbautoml_int_flags", False):
            continue
        register_converter(alias, _with_int_flags(registered._fct), overwrite=True,
                           options=registered.get_allowed_options())


def _mend_neighbor_converters():
    """Let skl2onnx's k-NN converters weight neighbours by their distance.

    skl2onnx (1.20) takes the neighbours' distances from ``TopK`` and negates them
    (a step meant for opsets before 11, whose ``TopK`` had no ``largest=0``), so with
    ``weights="distance"`` every weight ``1 / max(distance, 1e-6)`` is 1e6: the ONNX
    model weighs its neighbours uniformly. The wrapped converter takes the absolute
    value of those distances, which leaves correct ones as they are.
    """
    from skl2onnx.common._registration import get_converter, register_converter

    for alias in ("SklearnKNeighborsClassifier", "SklearnKNeighborsRegressor"):
        registered = get_converter(alias)
        if getattr(registered._fct, "nbautoml_abs_distances", False):
            continue
        register_converter(alias, _with_abs_distances(registered._fct), overwrite=True,
                           options=registered.get_allowed_options())


def _with_abs_distances(convert):
    from skl2onnx.algebra.onnx_ops import OnnxAbs
    from skl2onnx.operator_converters import nearest_neighbours

    def converter(scope, operator, container):
        find = nearest_neighbours.onnx_nearest_neighbors_indices_k

        def find_with_abs_distances(*args, **kwargs):
            found = find(*args, **kwargs)
            if not kwargs.get("keep_distances"):
                return found
            indices, distances = found
            return indices, OnnxAbs(distances, op_version=kwargs.get("op_version"))

        nearest_neighbours.onnx_nearest_neighbors_indices_k = find_with_abs_distances  # this conversion only
        try:
            convert(scope, operator, container)
        finally:
            nearest_neighbours.onnx_nearest_neighbors_indices_k = find

    converter.nbautoml_abs_distances = True
    return converter


def _with_int_flags(convert):
    def converter(scope, operator, container):
        add_node = container.add_node

        def add_node_with_int_flags(*args, **attrs):
            flags = attrs.get("nodes_missing_value_tracks_true")
            if flags is not None:
                attrs["nodes_missing_value_tracks_true"] = [int(flag) for flag in flags]
            return add_node(*args, **attrs)

        container.add_node = add_node_with_int_flags  # this conversion's container only
        try:
            convert(scope, operator, container)
        finally:
            del container.add_node

    converter.nbautoml_int_flags = True
    return converter


def spline_pieces(transformer):
    """A fitted ``SplineTransformer`` (constant extrapolation) as cubic pieces per knot interval.

    Returns ``(knots, coefficients)``: ``knots`` of shape (columns, n_knots), each column's
    knots over its training range; ``coefficients`` of shape (intervals, 4, columns,
    n_splines), such that on interval ``i`` of column ``c`` at ``u = (x - knots[c, i]) /
    width`` (``u`` in [0, 1]) spline ``s`` is ``sum_m coefficients[i, m, c, s] * u**m``.
    They are read from the transformer itself (four points per interval, solved exactly for
    the cubic), so they hold whatever its fitted B-splines are.
    """
    import numpy as np

    if transformer.extrapolation != "constant" or transformer.degree > 3 or not transformer.include_bias:
        raise NotImplementedError("SplineTransformer converts with extrapolation='constant', degree <= 3 "
                                  "and include_bias=True only")
    knots = np.array([spl.t[spl.k:len(spl.t) - spl.k] for spl in transformer.bsplines_])
    n_columns, n_knots = knots.shape
    n_splines = transformer.n_features_out_ // n_columns
    widths = np.diff(knots, axis=1)
    u = np.array([0.0, 1 / 3, 2 / 3, 1.0])
    probe = (knots[None, :, :-1] + widths[None] * u[:, None, None])  # (4, columns, intervals)
    probe = probe.transpose(2, 0, 1).reshape(-1, n_columns)  # rows: interval-major, then u
    values = transformer.transform(probe).reshape(n_knots - 1, 4, n_columns * n_splines)
    vandermonde = np.vander(u, 4, increasing=True)
    coefficients = np.stack([np.linalg.solve(vandermonde, v) for v in values])
    return knots, coefficients.reshape(n_knots - 1, 4, n_columns, n_splines)


def _register_spline_converter():
    """ONNX for ``SplineTransformer`` (linear models on splines): clip each column to its
    training range, pick its knot interval, evaluate the interval's cubic in each spline."""
    import numpy as np
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxAnd,
        OnnxCast,
        OnnxDiv,
        OnnxLess,
        OnnxMax,
        OnnxMin,
        OnnxMul,
        OnnxNot,
        OnnxReshape,
        OnnxSub,
    )
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.preprocessing import SplineTransformer

    def shape(operator):
        rows = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = FloatTensorType([rows, operator.raw_operator.n_features_out_])

    def convert(scope, operator, container):
        opset = container.target_opset
        knots, coefficients = spline_pieces(operator.raw_operator)
        n_columns, n_knots = knots.shape
        n_splines = coefficients.shape[-1]
        f32 = np.float32
        x = operator.inputs[0]
        clipped = OnnxMin(OnnxMax(x, knots[:, 0].astype(f32), op_version=opset), knots[:, -1].astype(f32),
                          op_version=opset)
        total = None
        for i in range(n_knots - 1):
            left, right = knots[:, i], knots[:, i + 1]
            width = np.where(right > left, right - left, 1.0)
            u = OnnxReshape(OnnxDiv(OnnxSub(clipped, left.astype(f32), op_version=opset), width.astype(f32),
                                    op_version=opset),
                            np.array([-1, n_columns, 1], dtype=np.int64), op_version=opset)
            c = coefficients[i].astype(f32)  # (4, columns, splines): Horner's rule in u
            piece = OnnxAdd(c[2], OnnxMul(u, c[3], op_version=opset), op_version=opset)
            piece = OnnxAdd(c[1], OnnxMul(u, piece, op_version=opset), op_version=opset)
            piece = OnnxAdd(c[0], OnnxMul(u, piece, op_version=opset), op_version=opset)
            inside = None
            if i > 0:  # x >= left
                inside = OnnxNot(OnnxLess(clipped, left.astype(f32), op_version=opset), op_version=opset)
            if i < n_knots - 2:  # x < right
                below = OnnxLess(clipped, right.astype(f32), op_version=opset)
                inside = below if inside is None else OnnxAnd(inside, below, op_version=opset)
            if inside is not None:
                mask = OnnxReshape(OnnxCast(inside, to=TensorProto.FLOAT, op_version=opset),
                                   np.array([-1, n_columns, 1], dtype=np.int64), op_version=opset)
                piece = OnnxMul(mask, piece, op_version=opset)
            total = piece if total is None else OnnxAdd(total, piece, op_version=opset)
        output = OnnxReshape(total, np.array([-1, n_columns * n_splines], dtype=np.int64), op_version=opset,
                             output_names=operator.outputs[:1])
        output.add_to(scope, container)

    update_registered_converter(SplineTransformer, "NbautomlSplineTransformer", shape, convert)


def unsupported_steps(pipeline) -> list[str]:
    """Steps of the pipeline that skl2onnx cannot convert (nbautoml's own transformers)."""
    from .persist import pipeline_steps

    return [f"{s['path']} ({s['class'].rsplit('.', 1)[-1]})" for s in pipeline_steps(pipeline)
            if s["class"].startswith("nbautoml.")]


def _step_for_class(pipeline, class_name: str) -> str | None:
    from .persist import pipeline_steps

    for step in pipeline_steps(pipeline):
        if step["class"].rsplit(".", 1)[-1] == class_name:
            return step["path"]
    return None


def _feeds(frame, columns, names=None):
    import numpy as np

    names = names or {}
    return {names.get(c, c): frame[[c]].to_numpy(dtype=np.float32, na_value=np.nan) for c in columns}


def _convertible(pipeline):
    """``pipeline``, or a copy in the form skl2onnx reads.

    Two things differ: a ColumnNames selection becomes the list of its names (the
    fitted ``transformers_`` hold the mask it returned), and a voting ensemble's
    ``weights`` become an array (skl2onnx divides by ``weights.sum()``; nbautoml
    stores a list; its converter also refuses ``flatten_transform=True``, which
    only shapes ``transform()``).
    """
    import copy

    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    from .engine.transformers import ColumnNames

    def parts(root):  # every step, in pipelines and in a voting ensemble's members
        yield root
        for _name, step in getattr(root, "steps", []):
            yield from parts(step)
        for member in getattr(root, "estimators_", None) or []:
            yield from parts(member)

    def named_columns(step):
        return isinstance(step, ColumnTransformer) and any(
            isinstance(cols, ColumnNames) for _, _, cols in step.transformers)

    def voting(step):
        return isinstance(step, (VotingClassifier, VotingRegressor)) and (
            isinstance(step.weights, (list, tuple)) or getattr(step, "flatten_transform", False))

    if not any(named_columns(step) or voting(step) for step in parts(pipeline)):
        return pipeline
    pipeline = copy.deepcopy(pipeline)
    for step in parts(pipeline):
        if named_columns(step):
            named = {name: cols.names for name, _, cols in step.transformers if isinstance(cols, ColumnNames)}
            step.transformers_ = [(name, part, named.get(name, cols)) for name, part, cols in step.transformers_]
        if voting(step):
            if step.weights is not None:
                step.weights = np.asarray(step.weights, dtype=float)
            if isinstance(step, VotingClassifier):
                step.flatten_transform = False  # the shape of transform() only, which ONNX does not export
    return pipeline


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
        ``onnx_mismatch`` with the figures when the check fails,
        ``missing_dependency`` when skl2onnx/onnxruntime are not installed.
    """
    import numpy as np

    from .persist import as_loaded, atomic_write

    loaded = as_loaded(model)
    pipeline = loaded.best_pipeline_
    columns = [c["name"] for c in (loaded.schema_ or {}).get("columns", [])]
    if not columns:
        raise ExportError("The model has no recorded input columns, so the ONNX inputs cannot be named. "
                          "Export a fitted AutoML or a model saved by nbautoml.save().",
                          code="onnx_unsupported")
    blocked = unsupported_steps(pipeline)
    non_numeric = [c["name"] for c in loaded.schema_["columns"] if c.get("role") not in ("numeric", "unknown")]
    if blocked or non_numeric:
        raise ExportError(
            "This pipeline cannot be exported to ONNX: no ONNX converter exists for the step(s) "
            + (", ".join(blocked) or "handling non-numeric columns")
            + (f" (they handle the non-numeric column(s) {', '.join(non_numeric[:10])})" if non_numeric else "")
            + ". ONNX export works for all-numeric pipelines: search on numeric columns only, or serve "
            "the model with nbautoml serve instead.", code="onnx_unsupported", steps=blocked,
            columns=non_numeric)
    _require()
    _register_converters()
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    pipeline = _convertible(pipeline)
    options = None
    classifier = loaded.task_ in ("binary", "multiclass")
    if classifier:
        options = {id(pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline): {"zipmap": False}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onx = to_onnx(pipeline, initial_types=[(c, FloatTensorType([None, 1])) for c in columns],
                          options=options, target_opset=target_opset)
    except Exception as err:
        text = str(err).strip().splitlines()[0][:300].rstrip(".") if str(err).strip() else type(err).__name__
        match = re.search(r"<class '([\w.]+)'>", str(err))
        step = _step_for_class(pipeline, match.group(1).rsplit(".", 1)[-1]) if match else None
        if step is None:
            for candidate in re.findall(r"'(\w+)'", str(err)):
                step = _step_for_class(pipeline, candidate)
                if step:
                    break
        where = f"the step {step!r}" if step else "a step of the pipeline"
        raise ExportError(f"skl2onnx could not convert {where}: {type(err).__name__}: {text}. "
                          "Search with models= that convert (e.g. random_forest, logistic_regression), or "
                          "serve the model with nbautoml serve.", code="onnx_unsupported",
                          steps=[step] if step else []) from err
    data = onx.SerializeToString()
    graph_inputs = [i.name for i in onx.graph.input]
    report = OnnxReport(Path(path), len(data), inputs=columns, outputs=[o.name for o in onx.graph.output],
                        input_names=dict(zip(columns, graph_inputs)))

    if check_rows is None and getattr(model, "_X", None) is not None:
        warnings.warn("export_onnx: no check_rows given; checking 200 training rows. Pass held-out rows "
                      "with check_rows= for a fair check.", UserWarning, stacklevel=2)
        check_rows = model._X.sample(min(200, len(model._X)), random_state=0)
    if check_rows is not None:
        import onnxruntime as ort

        frame, _ = loaded.check_input(check_rows, warn=False)
        session_options = ort.SessionOptions()
        session_options.log_severity_level = 3  # errors only: its notes on unused initializers are skl2onnx's to mend
        session = ort.InferenceSession(data, session_options, providers=["CPUExecutionProvider"])
        try:
            outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, report.feeds(frame))))
        finally:
            # freed now, not by a later garbage collection (a mismatch error's traceback holds
            # this frame): a session collected in a forked worker joins threads that are not there
            del session
        report.rows_checked = len(frame)
        if classifier:
            labels = np.asarray(outputs.get("label")).ravel()
            expected = np.asarray(pipeline.predict(frame)).ravel()
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
                              "a converter that gets the model wrong; try another model family, or serve "
                              "the model with nbautoml serve.",
                              code="onnx_mismatch", report=report)
    atomic_write(path, data)
    return report


__all__ = ["ExportError", "OnnxReport", "export_onnx", "unsupported_steps"]
