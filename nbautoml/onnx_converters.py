"""The ONNX converters nbautoml adds to skl2onnx's, and the ones of skl2onnx it mends.

:func:`register` is called before each export (idempotent). It teaches skl2onnx
the steps of nbautoml's pipelines that it has no converter for, and wraps five of
its converters that get nbautoml's models wrong (skl2onnx 1.20).
"""

from __future__ import annotations

import threading

#: held while :func:`register` runs, so that two exports at once wrap each converter once
_REGISTERING = threading.Lock()


def register():
    """Teach skl2onnx the steps of nbautoml's pipelines, and mend the converters it gets wrong.

    New: a decision threshold, the standardized or log target, splines, categories, dates,
    text. Mended:
    HistGradientBoosting, k-NN with distance weights or sparse training points, one-hot
    codes with infrequent categories, TF-IDF with sublinear term frequencies, a selection
    of the first column alone. Idempotent, and safe from several threads at once (a
    converter wrapped twice would mend twice).
    """
    with _REGISTERING:
        _register_threshold_converter()
        _register_target_converter()
        _register_spline_converter()
        _register_category_converters()
        _register_date_converter()
        _register_text_converters()
        _mend_boosting_converters()
        _mend_neighbor_converters()
        _mend_selection_converter()


def _register_threshold_converter():
    """``FixedThresholdClassifier`` (``AutoML(decision_threshold=...)``): the wrapped
    classifier's probabilities as they are, and as labels the second class where its
    probability is at least the threshold, else the first."""
    import numpy as np
    from skl2onnx import update_registered_converter
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import (
        OnnxArrayFeatureExtractor,
        OnnxCast,
        OnnxGreaterOrEqual,
        OnnxIdentity,
        OnnxReshape,
    )
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.common.shape_calculator import _infer_linear_classifier_output_types
    from skl2onnx.common.utils import check_input_and_output_numbers
    from skl2onnx.proto import onnx_proto
    from sklearn.model_selection import FixedThresholdClassifier

    def shape(operator):
        # as skl2onnx's VotingClassifier: any number of inputs (an ensemble, the pipeline's first
        # step, takes the columns one by one), a label and the probabilities out
        check_input_and_output_numbers(operator, output_count_range=2)
        _infer_linear_classifier_output_types(operator)

    def convert(scope, operator, container):
        model = operator.raw_operator
        opset = container.target_opset
        inner = OnnxSubEstimator(getattr(model, "estimator_", model.estimator), *operator.inputs,
                                 op_version=opset, options={"zipmap": False})
        proba = inner[1]
        dtype = guess_proto_type(operator.outputs[1].type)
        cut = np.array([model.threshold], dtype=np.float64 if dtype == onnx_proto.TensorProto.DOUBLE
                       else np.float32)
        positive = OnnxArrayFeatureExtractor(proba, np.array([1], dtype=np.int64), op_version=opset)
        index = OnnxCast(OnnxGreaterOrEqual(positive, cut, op_version=opset),
                         to=onnx_proto.TensorProto.INT64, op_version=opset)
        classes = np.asarray(model.classes_)
        classes = classes.astype(np.int64) if classes.dtype.kind in "iub" else classes.astype(str)
        labels = OnnxReshape(OnnxArrayFeatureExtractor(classes, index, op_version=opset),
                             np.array([-1], dtype=np.int64), op_version=opset,
                             output_names=operator.outputs[:1])
        labels.add_to(scope, container)
        OnnxIdentity(proba, op_version=opset, output_names=operator.outputs[1:2]).add_to(scope, container)

    update_registered_converter(FixedThresholdClassifier, "NbautomlFixedThresholdClassifier", shape, convert,
                                options={"zipmap": [True, False, "columns"], "nocl": [True, False]})


def _register_target_converter():
    """``TransformedTargetRegressor`` with a ``StandardScaler`` (the regression families
    fitted on the standardized target): the regressor's output times the target's
    scale plus its mean; with a ``LogTarget`` (models fitted on the log of the target):
    the output clipped to its range, ``exp``, minus one."""
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


def _mend_boosting_converters():
    """Let skl2onnx's HistGradientBoosting converters write integer flags.

    skl2onnx (1.20) gives every leaf ``False`` in the integer list
    ``nodes_missing_value_tracks_true`` of ``TreeEnsembleClassifier`` /
    ``TreeEnsembleRegressor``, and onnx (1.23) refuses a bool there ("Expected an
    int, got a boolean"), so no boosting model converted. The wrapped converter
    hands the same flags on as 0 and 1; everything else is skl2onnx's own.
    """
    _wrap_converters(("SklearnHistGradientBoostingClassifier", "SklearnHistGradientBoostingRegressor"),
                     _with_int_flags)


def _wrap_converters(aliases, wrap) -> bool:
    """Register ``wrap(skl2onnx's converter)`` in its place for each alias, once.

    Returns True when it wrapped something (False: already done in this process).
    """
    from skl2onnx.common._registration import get_converter, register_converter

    wrapped_any = False
    for alias in aliases:
        registered = get_converter(alias)
        if getattr(registered._fct, "nbautoml_wrapped", False):
            continue
        wrapped = wrap(registered._fct)
        wrapped.nbautoml_wrapped = True
        register_converter(alias, wrapped, overwrite=True, options=registered.get_allowed_options())
        wrapped_any = True
    return wrapped_any


def _mend_neighbor_converters():
    """Let skl2onnx's k-NN converters weight neighbours by their distance.

    skl2onnx (1.20) takes the neighbours' distances from ``TopK`` and negates them
    (a step meant for opsets before 11, whose ``TopK`` had no ``largest=0``), so with
    ``weights="distance"`` every weight ``1 / max(distance, 1e-6)`` is 1e6: the ONNX
    model weighs its neighbours uniformly. The wrapped converter takes the absolute
    value of those distances, which leaves correct ones as they are, and hands over
    training points held as a sparse matrix densely (:func:`_with_dense_points`).
    """
    _wrap_converters(("SklearnKNeighborsClassifier", "SklearnKNeighborsRegressor"),
                     lambda convert: _with_dense_points(_with_abs_distances(convert)))


def _mend_selection_converter():
    """Let skl2onnx's ``SelectPercentile`` converter keep the first column alone.

    skl2onnx (1.20) tests the selected column indices with ``index.any()``, which is False
    for ``[0]``, and then writes ``ConstantOfShape`` of the input, a graph ONNX Runtime
    refuses ("Type 'tensor(float)' of input parameter ... is invalid"): blood's Recency
    selected alone by ``select_percentile=25``. The wrapped converter writes the column
    extractor for that case; every other selection is skl2onnx's own.
    """
    _wrap_converters(("SklearnSelectPercentile",), _with_first_column_alone)


def _with_first_column_alone(convert):
    from skl2onnx.proto import onnx_proto

    def converter(scope, operator, container):
        index = operator.raw_operator.get_support(indices=True)
        if list(index) != [0]:
            return convert(scope, operator, container)
        columns = scope.get_unique_variable_name("column_indices")
        container.add_initializer(columns, onnx_proto.TensorProto.INT64, [1], [0])
        container.add_node("ArrayFeatureExtractor", [operator.inputs[0].full_name, columns],
                           operator.outputs[0].full_name, op_domain="ai.onnx.ml",
                           name=scope.get_unique_operator_name("ArrayFeatureExtractor"))

    return converter


#: held while a k-NN conversion has skl2onnx's neighbour function swapped (exports in threads)
_NEIGHBOR_SWAP = threading.RLock()


#: the most training-point cells a k-NN model fitted on sparse features is written with densely
DENSE_NEIGHBOR_CELLS = 20_000_000


def _with_dense_points(convert):
    """skl2onnx writes k-NN's training points as a dense constant and fails on a sparse
    matrix ("Unexpected type <class 'scipy.sparse._csr.csr_matrix'> for input 1 of operator
    'OnnxScan'": titanic's one-hot and TF-IDF features): convert a copy holding them densely."""
    import copy

    import scipy.sparse

    def converter(scope, operator, container):
        model = operator.raw_operator
        points = getattr(model, "_fit_X", None)
        if not scipy.sparse.issparse(points):
            return convert(scope, operator, container)
        rows, columns = points.shape
        if rows * columns > DENSE_NEIGHBOR_CELLS:
            raise NotImplementedError(f"the k-NN model {type(model).__name__!r} has {rows:,} x {columns:,} sparse "
                                      f"training points, too many to write densely into ONNX (at most "
                                      f"{DENSE_NEIGHBOR_CELLS:,} cells)")
        dense = copy.copy(model)  # the model itself keeps its sparse points
        dense._fit_X = points.toarray()
        operator.raw_operator = dense
        try:
            return convert(scope, operator, container)
        finally:
            operator.raw_operator = model

    return converter


def _with_abs_distances(convert):
    from skl2onnx.algebra.onnx_ops import OnnxAbs
    from skl2onnx.operator_converters import nearest_neighbours

    def converter(scope, operator, container):
        def find_with_abs_distances(*args, **kwargs):
            found = find(*args, **kwargs)
            if not kwargs.get("keep_distances"):
                return found
            indices, distances = found
            return indices, OnnxAbs(distances, op_version=kwargs.get("op_version"))

        with _NEIGHBOR_SWAP:  # one conversion at a time swaps and restores the module's function
            find = nearest_neighbours.onnx_nearest_neighbors_indices_k
            nearest_neighbours.onnx_nearest_neighbors_indices_k = find_with_abs_distances  # this conversion only
            try:
                convert(scope, operator, container)
            finally:
                nearest_neighbours.onnx_nearest_neighbors_indices_k = find

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

    shape = _output_shape(FloatTensorType, lambda step: step.n_features_out_)

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


def _identity(scope, operator, container):
    """A converter for a step whose input is already what it outputs (the feeds wrote it so)."""
    from skl2onnx.algebra.onnx_ops import OnnxIdentity

    OnnxIdentity(operator.inputs[0], op_version=container.target_opset,
                 output_names=operator.outputs[:1]).add_to(scope, container)


def _output_shape(tensor_type, width):
    """A shape calculator: one output of ``tensor_type`` with ``width(fitted step)`` columns."""

    def shape(operator):
        rows = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = tensor_type([rows, width(operator.raw_operator)])

    return shape


# nbautoml's steps with a converter here: categorical columns are string inputs (what AsString
# makes of them), dates float64 days since 1970, text strings (text_for_onnx), numbers stored as
# text float32 (the feeds parse them)
CONVERTIBLE_STEPS = ("AsString", "OrdinalCategories", "OneHotCategories", "MedianImputer", "DatetimeFeatures",
                     "TextColumn", "NumbersFromText")


def _register_category_converters():
    """``AsString`` (the input is already strings: an identity), ``OrdinalCategories``
    (each category to its code, :func:`category_slots`; a category not seen in
    training to ``unknown_codes_``) and ``OneHotEncoder`` with infrequent categories,
    which skl2onnx refuses (:func:`_one_hot_with_infrequent`), for nbautoml's
    ``OneHotCategories`` too."""
    from skl2onnx import update_registered_converter
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_shape_calculator, register_shape_calculator
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.impute import SimpleImputer

    from .engine.transformers import AsString, MedianImputer, OneHotCategories, OrdinalCategories

    def ordinal(scope, operator, container):
        # skl2onnx's OrdinalEncoder converter codes infrequent categories wrongly when
        # several columns are encoded (house's Neighborhood, 2026-12-05): mapped here
        model = operator.raw_operator
        unseen = [float(code) for code in model.unknown_codes_]
        _encode_columns(scope, operator, container, model.encoder_, unseen, one_hot=False)

    update_registered_converter(AsString, "NbautomlAsString",
                                _output_shape(StringTensorType, lambda step: step.n_features_in_), _identity)
    update_registered_converter(OrdinalCategories, "NbautomlOrdinalCategories",
                                _output_shape(FloatTensorType, lambda step: step.n_features_in_), ordinal)
    if _wrap_converters(("SklearnOneHotEncoder",), _one_hot_with_infrequent):
        shape = get_shape_calculator("SklearnOneHotEncoder")

        def one_hot_shape(operator):
            encoder = operator.raw_operator
            if not _has_infrequent(encoder):
                return shape(operator)
            width = sum(n_slots for _, n_slots, _ in category_slots(encoder))
            operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])

        register_shape_calculator("SklearnOneHotEncoder", one_hot_shape, overwrite=True)
    # nbautoml's one-hot encoder and imputer are scikit-learn's, fitted faster: the same converters
    sklearn_operator_name_map[OneHotCategories] = "SklearnOneHotEncoder"
    sklearn_operator_name_map[MedianImputer] = sklearn_operator_name_map[SimpleImputer]


def _has_infrequent(encoder) -> bool:
    return any(rare is not None for rare in getattr(encoder, "infrequent_categories_", None) or [])


def category_slots(encoder) -> list[tuple[dict, int, bool]]:
    """Per column of a fitted ``OneHotEncoder`` or ``OrdinalEncoder``: ``(category ->
    slot, number of slots, whether it has infrequent categories)``.

    A slot is an ordinal code or a one-hot column: the frequent categories in the
    order of ``categories_``, then one shared by the infrequent ones, if any.
    """
    if getattr(encoder, "drop", None) is not None:
        raise NotImplementedError("OneHotEncoder with drop= has no nbautoml ONNX converter")
    infrequent = getattr(encoder, "infrequent_categories_", None) or [None] * len(encoder.categories_)
    columns = []
    for categories, rare in zip(encoder.categories_, infrequent):
        rare = set() if rare is None else set(rare.tolist())
        frequent = [c for c in categories.tolist() if c not in rare]
        slots = {c: i for i, c in enumerate(frequent)} | {c: len(frequent) for c in rare}
        columns.append((slots, len(frequent) + (1 if rare else 0), bool(rare)))
    return columns


def _encode_columns(scope, operator, container, encoder, unseen, one_hot: bool):
    """Per column a ``LabelEncoder`` from category to slot (:func:`category_slots`; a
    category not seen in training gets ``unseen[j]``), then ``OneHot`` or the slot as
    a float; the columns concatenated."""
    import numpy as np
    from skl2onnx.algebra.onnx_ops import (
        OnnxConcat,
        OnnxGather,
        OnnxLabelEncoder,
        OnnxOneHot,
        OnnxReshape,
    )

    opset = container.target_opset
    parts = []
    for j, (slots, n_slots, _) in enumerate(category_slots(encoder)):
        column = OnnxGather(operator.inputs[0], np.array([j], dtype=np.int64), axis=1, op_version=opset)
        keys = [str(c) for c in slots]
        if one_hot:
            index = OnnxLabelEncoder(column, keys_strings=keys, values_int64s=list(slots.values()),
                                     default_int64=int(unseen[j]), op_version=2)
            hot = OnnxOneHot(index, np.array([n_slots], dtype=np.int64), np.array([0.0, 1.0], dtype=np.float32),
                             axis=-1, op_version=opset)
            parts.append(OnnxReshape(hot, np.array([-1, n_slots], dtype=np.int64), op_version=opset))
        else:
            parts.append(OnnxLabelEncoder(column, keys_strings=keys, values_floats=[float(v) for v in slots.values()],
                                          default_float=float(unseen[j]), op_version=2))
    OnnxConcat(*parts, axis=1, op_version=opset, output_names=operator.outputs[:1]).add_to(scope, container)


def _one_hot_with_infrequent(convert):
    """skl2onnx's OneHotEncoder converter, but for an encoder with infrequent categories
    (``max_categories``, as nbautoml's linear pipelines use it), which it refuses. A
    category not seen in training takes the infrequent slot (``handle_unknown=
    "infrequent_if_exist"``) or, without one, none: ``OneHot`` codes the slot count
    as all zeros."""

    def converter(scope, operator, container):
        encoder = operator.raw_operator
        if not _has_infrequent(encoder):
            return convert(scope, operator, container)
        columns = category_slots(encoder)
        unseen = [n_slots - 1 if rare and encoder.handle_unknown == "infrequent_if_exist" else n_slots
                  for _, n_slots, rare in columns]
        _encode_columns(scope, operator, container, encoder, unseen, one_hot=True)

    return converter


# date columns: ONNX takes each as its days since 1970-01-01 (float64, the time of day as a fraction)
EPOCH = "1970-01-01"
_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def _register_date_converter():
    """``DatetimeFeatures``: the calendar parts of a date given as days since 1970-01-01.

    ONNX has no date type, so a date column is a float64 input (``report.feeds``
    writes it); year, month and day follow by integer arithmetic (the proleptic
    Gregorian calendar, "civil from days" as in H. Hinnant's *chrono-compatible
    low-level date algorithms*), the day of the week and of the year and the hour
    by the same. A missing date gives NaN in every part, as in scikit-learn.
    """
    from skl2onnx import get_model_alias, update_registered_converter
    from skl2onnx.common.data_types import FloatTensorType

    from .engine.transformers import DatetimeFeatures

    shape = _output_shape(FloatTensorType, lambda step: len(step.parts_))

    def convert(scope, operator, container):
        from onnx import TensorProto
        from skl2onnx.algebra.onnx_ops import OnnxCast, OnnxConcat

        model = operator.raw_operator
        opset = container.target_opset
        columns = list(model.feature_names_in_)
        calendars = {name: _calendar_graph(operator.inputs[0], columns.index(name), opset)
                     for name in dict.fromkeys(name for name, _ in model.parts_)}
        parts = [calendars[name][part] for name, part in model.parts_]
        OnnxCast(OnnxConcat(*parts, axis=1, op_version=opset), to=TensorProto.FLOAT, op_version=opset,
                 output_names=operator.outputs[:1]).add_to(scope, container)

    def parse(scope, model, inputs, custom_parsers=None):
        # float64 in, float32 out: the default parser would declare the output float64 too,
        # and the steps after it (an imputer) would then expect float64
        operator = scope.declare_local_operator(get_model_alias(type(model)), model)
        operator.inputs = inputs
        operator.outputs.append(scope.declare_local_variable("date_parts", FloatTensorType()))
        return operator.outputs

    update_registered_converter(DatetimeFeatures, "NbautomlDatetimeFeatures", shape, convert, parser=parse)


def _calendar_graph(x, j: int, opset: int) -> dict:
    """The ONNX graphs of the DATETIME_PARTS of column ``j`` of ``x`` (days since 1970), by part.

    They share their intermediate nodes; only the parts a model uses reach its graph.
    """
    import numpy as np
    from onnx import TensorProto
    from skl2onnx.algebra.onnx_ops import (
        OnnxAdd,
        OnnxAnd,
        OnnxCast,
        OnnxDiv,
        OnnxEqual,
        OnnxFloor,
        OnnxGather,
        OnnxGreater,
        OnnxIsNaN,
        OnnxLessOrEqual,
        OnnxMul,
        OnnxNot,
        OnnxOr,
        OnnxSub,
        OnnxWhere,
    )

    def const(value):
        return np.array([value], dtype=np.float64)

    def num(value):
        return const(value) if isinstance(value, (int, float)) else value

    def add(a, b):
        return OnnxAdd(num(a), num(b), op_version=opset)

    def sub(a, b):
        return OnnxSub(num(a), num(b), op_version=opset)

    def mul(a, b):
        return OnnxMul(num(a), num(b), op_version=opset)

    def floor_div(a, b):
        return OnnxFloor(OnnxDiv(num(a), num(b), op_version=opset), op_version=opset)

    def mod(a, b):  # a - b * floor(a / b): never negative, unlike fmod
        return sub(a, mul(b, floor_div(a, b)))

    def as_number(flag):
        return OnnxCast(flag, to=TensorProto.DOUBLE, op_version=opset)

    column = OnnxGather(x, np.array([j], dtype=np.int64), axis=1, op_version=opset)
    missing = OnnxIsNaN(column, op_version=opset)
    safe = OnnxWhere(missing, const(0.0), column, op_version=opset)
    hours = OnnxFloor(add(mul(safe, 24.0), 1e-6), op_version=opset)  # 1e-6 h: rounding of the fraction
    days = floor_div(hours, 24.0)
    z = add(days, 719468.0)  # days since 0000-03-01
    era = floor_div(z, 146097.0)
    day_of_era = sub(z, mul(era, 146097.0))
    year_of_era = floor_div(sub(add(sub(day_of_era, floor_div(day_of_era, 1460.0)),
                                    floor_div(day_of_era, 36524.0)),
                                floor_div(day_of_era, 146096.0)), 365.0)
    day_of_march_year = sub(day_of_era, sub(add(mul(year_of_era, 365.0), floor_div(year_of_era, 4.0)),
                                            floor_div(year_of_era, 100.0)))
    march_month = floor_div(add(mul(day_of_march_year, 5.0), 2.0), 153.0)  # 0 = March
    day = add(sub(day_of_march_year, floor_div(add(mul(march_month, 153.0), 2.0), 5.0)), 1.0)
    month = sub(add(march_month, 3.0), mul(as_number(OnnxGreater(march_month, const(9.0), op_version=opset)), 12.0))
    year = add(add(year_of_era, mul(era, 400.0)), as_number(OnnxLessOrEqual(month, const(2.0), op_version=opset)))
    leap = OnnxAnd(OnnxEqual(mod(year, 4.0), const(0.0), op_version=opset),
                   OnnxOr(OnnxNot(OnnxEqual(mod(year, 100.0), const(0.0), op_version=opset), op_version=opset),
                          OnnxEqual(mod(year, 400.0), const(0.0), op_version=opset), op_version=opset),
                   op_version=opset)
    after_february = OnnxGreater(month, const(2.0), op_version=opset)
    before = OnnxGather(np.array(_DAYS_BEFORE_MONTH, dtype=np.float64),
                        OnnxCast(sub(month, 1.0), to=TensorProto.INT64, op_version=opset), op_version=opset)
    values = {
        "year": year,
        "month": month,
        "day": day,
        "day_of_week": mod(add(days, 3.0), 7.0),  # Monday 0, as pandas; 1970-01-01 was a Thursday
        "day_of_year": add(add(before, day), as_number(OnnxAnd(leap, after_february, op_version=opset))),
        "hour": sub(hours, mul(days, 24.0)),
    }
    return {part: OnnxWhere(missing, const(np.nan), value, op_version=opset) for part, value in values.items()}


def days_since_epoch(values):
    """A date column (anything ``DatetimeFeatures`` reads) as float64 days since 1970-01-01."""
    import pandas as pd

    from .engine.transformers import DatetimeFeatures

    frame = values.to_frame() if isinstance(values, pd.Series) else values
    dates = DatetimeFeatures._to_datetimes(frame).iloc[:, 0]
    return ((dates - pd.Timestamp(EPOCH)) / pd.Timedelta(days=1)).to_numpy(dtype="float64", na_value=float("nan"))


# scikit-learn's default token_pattern, (?u)\b\w\w+\b, in RE2 (ONNX Runtime's Tokenizer): runs
# of two or more letters, digits or underscores (Python's \w is a letter, a number or "_")
TOKEN_PATTERN = r"[\pL\pN_]{2,}"
_SKLEARN_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def text_for_onnx(values):
    """A text column as the ONNX graph reads it: ``[N, 1]`` strings, lowercased and
    without accents (scikit-learn's ``strip_accents_unicode``), a missing value as "".

    ONNX has no operator that strips accents, and its lowercasing depends on the
    locales installed where it runs, so the text comes in the form TF-IDF reads after
    its own preprocessing.
    """
    import numpy as np
    import pandas as pd
    from sklearn.feature_extraction.text import strip_accents_unicode

    from .engine.transformers import TextColumn

    frame = values.to_frame() if isinstance(values, pd.Series) else values
    text = TextColumn().fit(frame).transform(frame)
    return np.array([strip_accents_unicode(doc.lower()) for doc in text], dtype=object).reshape(-1, 1)


def text_vectorizer_for_onnx(vectorizer) -> dict:
    """Make a fitted ``TfidfVectorizer`` (a copy made for the export) convertible; return
    its skl2onnx options.

    Three changes, none to what it computes: its lowercasing and accent stripping move
    to :func:`text_for_onnx`; its vocabulary's n-grams become tuples of words (skl2onnx
    splits ``"0808 145"`` into two words only when both are in the vocabulary; when
    ``max_features`` had left one out, the n-gram became one word no text matches);
    and its tokens are matched by :data:`TOKEN_PATTERN` (skl2onnx's stand-in for the
    default pattern, ``[a-zA-Z0-9_]+``, keeps one-letter words, which breaks bigrams,
    and splits words at accented letters).

    Raises
    ------
    ValueError
        For settings the ONNX graph cannot reproduce, named.
    """
    wanted = {"analyzer": "word", "input": "content", "tokenizer": None, "preprocessor": None,
              "token_pattern": _SKLEARN_TOKEN_PATTERN, "lowercase": True, "strip_accents": "unicode",
              "stop_words": None}
    differ = {name: getattr(vectorizer, name) for name, value in wanted.items() if getattr(vectorizer, name) != value}
    if differ:
        raise ValueError("ONNX export reads text as nbautoml's search space does "
                         f"({', '.join(f'{k}={v!r}' for k, v in wanted.items() if k in differ)}); "
                         f"this TfidfVectorizer has {', '.join(f'{k}={v!r}' for k, v in differ.items())}")
    vectorizer.lowercase = False
    vectorizer.strip_accents = None
    vectorizer.vocabulary_ = {tuple(gram.split(" ")): index for gram, index in vectorizer.vocabulary_.items()}
    return {"tokenexp": TOKEN_PATTERN}


def _register_text_converters():
    """``TextColumn`` (an identity: the input is already the text :func:`text_for_onnx`
    writes), ``NumbersFromText`` (an identity: numbers stored as text are a float32
    input, parsed by the feeds) and scikit-learn's ``TfidfTransformer`` with
    ``sublinear_tf=True``.

    skl2onnx (1.20) computes sublinear term frequencies as ``log(1 + tf)``;
    scikit-learn takes ``1 + log(tf)`` of the nonzero counts (a word seen once weighs
    1, not 0.69): the mended converter computes that, then the idf weights and the
    norm as skl2onnx does. Without sublinear frequencies, skl2onnx's converter runs.
    """
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    from .engine.transformers import NumbersFromText, TextColumn

    def numbers_from_text(scope, operator, container):
        from onnx import TensorProto
        from skl2onnx.algebra.onnx_ops import OnnxCast

        OnnxCast(operator.inputs[0], to=TensorProto.FLOAT, op_version=container.target_opset,
                 output_names=operator.outputs[:1]).add_to(scope, container)

    update_registered_converter(TextColumn, "NbautomlTextColumn", _output_shape(StringTensorType, lambda step: 1),
                                _identity)
    update_registered_converter(NumbersFromText, "NbautomlNumbersFromText",
                                _output_shape(FloatTensorType, lambda step: step.n_features_in_), numbers_from_text)
    _wrap_converters(("SklearnTfidfTransformer",), _with_sublinear_tf)


def _with_sublinear_tf(convert):
    def converter(scope, operator, container):
        import numpy as np
        from onnx import TensorProto
        from skl2onnx.common._apply_operation import apply_identity, apply_mul, apply_normalizer
        from skl2onnx.common.data_types import guess_numpy_type

        model = operator.raw_operator
        if not model.sublinear_tf:
            return convert(scope, operator, container)
        double = guess_numpy_type(operator.inputs[0].type) == np.float64
        dtype, proto = (np.float64, TensorProto.DOUBLE) if double else (np.float32, TensorProto.FLOAT)

        def node(op_type, inputs, stem):
            name = scope.get_unique_variable_name(stem)
            container.add_node(op_type, inputs, name, name=scope.get_unique_operator_name(op_type))
            return name

        def constant(stem, values, shape):
            name = scope.get_unique_variable_name(stem)
            container.add_initializer(name, proto, shape, values)
            return name

        counts = operator.inputs[0].full_name
        zero, one = constant("zero", [0.0], []), constant("one", [1.0], [])
        seen = node("Greater", [counts, zero], "seen")
        logged = node("Log", [node("Where", [seen, counts, one], "counts_or_one")], "log_tf")
        x = node("Where", [seen, node("Add", [logged, one], "sublinear"), zero], "sublinear_tf")
        if model.use_idf:
            idf = constant("idf", model.idf_.astype(dtype).ravel(), [len(model.idf_)])
            weighted = scope.get_unique_variable_name("tfidf")
            apply_mul(scope, [x, idf], weighted, container, broadcast=1)
            x = weighted
        if model.norm is not None:
            normed = scope.get_unique_variable_name("tfidf_norm")
            apply_normalizer(scope, x, normed, container, norm=model.norm.upper(), use_float=not double)
            x = normed
        apply_identity(scope, x, operator.outputs[0].full_name, container)

    return converter
