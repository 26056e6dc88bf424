"""A forked worker must not finalize the notebook's garbage: the parent's heap is frozen at the fork."""

from __future__ import annotations

import gc

import pytest
from hyperopt import hp

from nbautoml import AutoML

FAULTY = "tests.engine.faulty"


def test_garbage_of_the_notebook_collected_in_a_worker_does_not_hang_it(titanic):
    """An ONNX Runtime session left in a reference cycle (as a failed export's traceback leaves
    it) was collected by the first full collection in a forked worker, whose finalizer joined
    the parent's thread pool, absent in the child: the trial hung until its timeout (in the
    test suite, with no timeout, for ever). Seen in CI after the ONNX export tests."""
    ort = pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    onx = skl2onnx.to_onnx(model, X[:1], options={id(model): {"zipmap": False}})

    class Holder:
        pass

    holder = Holder()
    holder.itself, holder.session = holder, ort.InferenceSession(onx.SerializeToString(),
                                                                 providers=["CPUExecutionProvider"])
    holder.session.run(None, {holder.session.get_inputs()[0].name: X})  # its threads are started
    gc.collect()  # the cycle moves to the oldest generation, which the parent seldom collects
    del holder
    collector = {"family": f"{FAULTY}:Collector", "params": {"tag": hp.choice("tag", [0, 1])}}
    try:
        result = AutoML(space=hp.choice("family", [collector]), max_evals=2, time_budget=None, cv=2,
                        trial_timeout=20, n_jobs=1, ensemble=False, start_method="fork").fit(
            titanic.head(200), target="Survived")
    finally:
        gc.collect()  # the session is freed here, in the process that owns its threads
    assert [t.status for t in result.trials_] == ["ok", "ok"], [(t.status, t.error) for t in result.trials_]
