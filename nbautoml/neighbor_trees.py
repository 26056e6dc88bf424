"""A k-NN model's search tree is left out of a saved file and built again when it is loaded.

scikit-learn's ``KNeighborsClassifier`` / ``KNeighborsRegressor`` fitted on a few dense
columns keep a ``KDTree`` (or ``BallTree``) whose state is arrays of node bounds and row
indices that scikit-learn reads back without checking them: a forged file could make it
read outside its arrays. So :mod:`nbautoml.persist` saves such a model as its training
points (``_fit_X``, which it keeps anyway) with the name of its search method, and the
loader builds the tree from those points with scikit-learn's own constructor: the same
tree, the same predictions, no tree type to trust, and a smaller file.
"""

from __future__ import annotations

import contextlib

from .estimators import estimators_inside

#: the search method a saved k-NN model is rebuilt with (an attribute of the saved copy only)
TREE_METHOD = "_nbautoml_tree_method"
_METHODS = ("kd_tree", "ball_tree")


def neighbor_models(obj) -> list:
    """The fitted k-NN estimators anywhere inside ``obj`` (pipelines, ensembles, wrappers)."""
    from sklearn.neighbors._base import NeighborsBase

    return [e for e in estimators_inside(obj) if isinstance(e, NeighborsBase) and hasattr(e, "_fit_X")]


@contextlib.contextmanager
def trees_left_out(obj):
    """Within the block, the k-NN models in ``obj`` hold no tree (for saving); restored after."""
    swapped = []
    try:
        for model in neighbor_models(obj):
            if getattr(model, "_fit_method", None) in _METHODS and getattr(model, "_tree", None) is not None:
                swapped.append((model, model._fit_method, model._tree))
                model._fit_method, model._tree = "brute", None
                setattr(model, TREE_METHOD, swapped[-1][1])
        yield
    finally:
        for model, method, tree in swapped:
            model._fit_method, model._tree = method, tree
            vars(model).pop(TREE_METHOD, None)


def rebuild_trees(obj) -> None:
    """Build the tree of every k-NN model in ``obj`` saved by :func:`trees_left_out`.

    Raises
    ------
    ValueError
        A search method other than ``kd_tree`` / ``ball_tree``, or training points or
        metric the tree cannot be built from (a damaged or forged file).
    """
    from sklearn.neighbors import BallTree, KDTree

    for model in neighbor_models(obj):
        method = vars(model).pop(TREE_METHOD, None)
        if method is None:
            continue
        if method not in _METHODS:
            raise ValueError(f"a k-NN model names the search method {method!r}; expected one of {_METHODS}")
        tree = KDTree if method == "kd_tree" else BallTree
        try:
            model._tree = tree(model._fit_X, model.leaf_size, metric=model.effective_metric_,
                               **dict(model.effective_metric_params_))
        except (TypeError, ValueError, AttributeError) as err:
            raise ValueError(f"the tree of a k-NN model could not be built from its training points: {err}") from None
        model._fit_method = method
