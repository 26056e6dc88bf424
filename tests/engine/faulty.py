"""Fault-injecting estimators for the engine's failure tests (importable, so workers can load them)."""

from __future__ import annotations

import logging
import os
import signal
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class _Base(ClassifierMixin, BaseEstimator):
    def _fit_classes(self, y):
        self.classes_ = np.unique(y)
        self.prior_ = np.bincount(np.searchsorted(self.classes_, y)) / len(y)
        return self

    def predict_proba(self, X):
        return np.tile(self.prior_, (X.shape[0], 1))

    def predict(self, X):
        return self.classes_[np.zeros(X.shape[0], dtype=int)]


class Sleeper(_Base):
    """Sleeps in fit (interruptible Python)."""

    def __init__(self, seconds=30.0):
        self.seconds = seconds

    def fit(self, X, y):
        time.sleep(self.seconds)
        return self._fit_classes(y)


class WarmUp(_Base):
    """Its first fit in a process sleeps ``first`` seconds (a warm-up), the later ones ``then``."""

    fits_in_this_process = 0

    def __init__(self, first=1.0, then=0.1):
        self.first = first
        self.then = then

    def fit(self, X, y):
        time.sleep(self.first if WarmUp.fits_in_this_process == 0 else self.then)
        WarmUp.fits_in_this_process += 1
        return self._fit_classes(y)


class CLoop(_Base):
    """Spins in C code holding the GIL (signals are not handled meanwhile)."""

    def __init__(self, n=10**11):
        self.n = n

    def fit(self, X, y):
        sum(range(int(self.n)))
        return self._fit_classes(y)


class Raiser(_Base):
    """Always raises in fit."""

    def __init__(self, message="deliberate failure"):
        self.message = message

    def fit(self, X, y):
        raise RuntimeError(self.message)


class SelfKill(_Base):
    """Kills its own process, as the OOM killer would."""

    def __init__(self, sig=int(signal.SIGKILL)):
        self.sig = sig

    def fit(self, X, y):
        os.kill(os.getpid(), self.sig)
        time.sleep(10)
        return self


class PredictRaiser(_Base):
    """Fits, then raises in predict and predict_proba."""

    def __init__(self, tag=0):
        self.tag = tag

    def fit(self, X, y):
        return self._fit_classes(y)

    def predict_proba(self, X):
        raise RuntimeError("deliberate predict failure")

    predict = predict_proba


class NaNPredictor(_Base):
    """Fits, then predicts NaN probabilities."""

    def __init__(self, tag=0):
        self.tag = tag

    def fit(self, X, y):
        return self._fit_classes(y)

    def predict_proba(self, X):
        return np.full((X.shape[0], len(self.classes_)), np.nan)


class Aborter(_Base):
    """Ends its process with a native crash (``os.abort``: SIGABRT, as a failed C assertion)."""

    def __init__(self, tag=0):
        self.tag = tag

    def fit(self, X, y):
        import faulthandler

        faulthandler.disable()  # pytest's would print every thread's stack into the test log
        os.abort()


class Prior(_Base):
    """A fast, working classifier (predicts the class prior)."""

    def __init__(self, tag=0):
        self.tag = tag

    def fit(self, X, y):
        return self._fit_classes(y)


class RefitRaiser(_Base):
    """Fits on fewer than ``n_rows`` rows (the validation folds), raises on more (the final refit)."""

    def __init__(self, n_rows=0):
        self.n_rows = n_rows

    def fit(self, X, y):
        if X.shape[0] >= self.n_rows:
            raise RuntimeError(f"deliberate failure on {X.shape[0]} rows")
        return self._fit_classes(y)


class Chatty(_Base):
    """Prints ``lines`` lines per fit: half with print (sys.stdout), half written to file
    descriptors 1 and 2 as C code would; then ends as ``then`` says ("ok", "raise", "kill")."""

    def __init__(self, lines=3000, then="ok"):
        self.lines = lines
        self.then = then

    def fit(self, X, y):
        import sys

        for i in range(self.lines // 2):
            print(f"chatty python line {i}")
        sys.stdout.flush()
        for i in range(self.lines // 2):
            os.write(1 + i % 2, f"chatty fd line {i}\n".encode())
        print("chatty last line", file=sys.stderr, flush=True)
        if self.then == "raise":
            raise RuntimeError("chatty failure")
        if self.then == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        return self._fit_classes(y)


_PEAK = [0]  # the largest size of this process's fd 1 (the capture file) seen after a write


class Flood(_Base):
    """Prints ``mb`` MB per fit (prints and writes to file descriptors 1 and 2), at most about
    ``rate`` MB/s; then ``flood peak N``, the largest size of the file behind fd 1 seen after
    any write in this process so far, and ``flood last line``."""

    def __init__(self, mb=60, rate=100, tag=0):
        self.mb = mb
        self.rate = rate
        self.tag = tag

    def fit(self, X, y):
        import sys

        chunk = ("flood " + "x" * 57 + "\n") * 1024  # 64 KiB of 64-byte lines
        pause = len(chunk) / (self.rate * 2**20)
        for i in range(int(self.mb * 16)):
            if i % 2:
                sys.stdout.write(chunk)
                sys.stdout.flush()
            else:
                os.write(1 if i % 4 == 0 else 2, chunk.encode())
            _PEAK[0] = max(_PEAK[0], os.fstat(1).st_size)
            time.sleep(pause)
        print(f"flood peak {_PEAK[0]}", flush=True)
        print("flood last line", file=sys.stderr, flush=True)
        return self._fit_classes(y)


class LogWarner(_Base):
    """Logs a warning per fit through the logger ``x``, as a library would."""

    def __init__(self, tag=0):
        self.tag = tag

    def fit(self, X, y):
        logging.getLogger("x").warning("estimator warning via logging")
        return self._fit_classes(y)


class MemoryHog(_Base):
    """Allocates ``mb`` MB in fit and touches every page: at once (one block) or in 64 MB steps."""

    def __init__(self, mb=2048, steps=False):
        self.mb = mb
        self.steps = steps

    def fit(self, X, y):
        sizes = [64] * (self.mb // 64) if self.steps else [self.mb]
        held = []
        for size in sizes:
            block = bytearray(size * 2**20)
            block[::4096] = b"x" * len(block[::4096])
            held.append(block)
        return self._fit_classes(y)


class Collector(_Base):
    """Runs a full garbage collection in fit (as any allocation-heavy fit eventually does)."""

    def __init__(self, tag=0):
        self.tag = tag

    def fit(self, X, y):
        import gc

        gc.collect()
        return self._fit_classes(y)


class SlowLogistic(_Base):
    """Logistic regression that sleeps ``seconds`` per fit when ``C < slow_below``: the same
    trials as with ``slow_below=0``, ending in another order."""

    def __init__(self, C=1.0, slow_below=0.0, seconds=0.5):
        self.C = C
        self.slow_below = slow_below
        self.seconds = seconds

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression

        if self.C < self.slow_below:
            time.sleep(self.seconds)
        self.model_ = LogisticRegression(C=self.C, max_iter=500).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)
