"""Every scikit-learn estimator inside a fitted model: pipeline steps, ensemble members and
the regressors of wrappers such as ``TransformedTargetRegressor``, found through their
attributes, so no kind of container needs to be known in advance."""

from __future__ import annotations

from collections.abc import Iterator


def estimators_inside(obj) -> Iterator:
    """Yield ``obj`` (if it is an estimator) and every estimator reachable from its attributes,
    each once (lists, tuples and dicts are looked into; arrays are not)."""
    from sklearn.base import BaseEstimator

    seen, stack = set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, BaseEstimator):
            yield item
            stack.extend(vars(item).values())
