"""Estimators with a known cost, for engine benchmarks (importable by worker processes)."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


def spin(work: int) -> int:
    """A fixed amount of pure-Python CPU work."""
    total = 0
    for i in range(work):
        total += i * i % 7
    return total


def calibrate(seconds: float) -> int:
    """Iterations of :func:`spin` that take about ``seconds`` on one core here."""
    work = 100_000
    while True:
        started = time.perf_counter()
        spin(work)
        elapsed = time.perf_counter() - started
        if elapsed > 0.05:
            return int(work * seconds / elapsed)
        work *= 4


class FixedWork(ClassifierMixin, BaseEstimator):
    """Spins for a fixed amount of work in ``fit``, then predicts the class prior."""

    def __init__(self, work=1_000_000, tag=0.0):
        self.work = work
        self.tag = tag

    def fit(self, X, y):
        spin(int(self.work))
        self.classes_ = np.unique(y)
        self.prior_ = np.bincount(np.searchsorted(self.classes_, y), minlength=len(self.classes_)) / len(y)
        return self

    def predict_proba(self, X):
        return np.tile(self.prior_, (X.shape[0], 1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
