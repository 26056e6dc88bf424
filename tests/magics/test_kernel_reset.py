"""A search after IPython's ``%reset``: the reset deletes ``__spec__`` from the kernel's
``__main__``, and multiprocessing's spawn and forkserver (the defaults on macOS and Windows)
then failed to start any worker: "module '__main__' has no attribute '__spec__'"."""

from __future__ import annotations

import sys

import pytest

from nbautoml import AutoML


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_search_after_reset_starts_its_workers(ip, iris, start_method):
    ip.run_line_magic("reset", "-f")
    assert not hasattr(sys.modules["__main__"], "__spec__")  # what the reset leaves
    result = AutoML(max_evals=2, time_budget=None, n_jobs=1, cv=3, ensemble=False, start_method=start_method,
                    models=["logistic_regression"]).fit(iris, target="target")
    assert [t.status for t in result.trials_] == ["ok", "ok"] and result.best_score_ > 0.9
