"""What a trial costs beyond time: its peak memory and the size of its model.

Both are measured inside the worker that runs the trial (see ``evaluate.py``).

Peak memory is the worker's resident set size (RSS) high-water mark during the
trial *above its RSS when the trial started*: the memory the trial needed on
top of the interpreter, the libraries and the data already loaded. On Linux it
is exact: the kernel's high-water mark (``VmHWM`` in ``/proc/self/status``) is
reset per trial by writing ``5`` to ``/proc/self/clear_refs``. Where that is
not possible, a thread samples the RSS every few milliseconds (psutil), which
can miss a short spike. Memory held by threads of native libraries counts;
memory of other processes (none are started by the estimators here) does not.

Caveats: freed memory is first handed back to the OS (glibc ``malloc_trim``),
else a reused worker would serve the trial from memory it already holds and
report ~0 (without glibc that can happen). The first trial of a fresh worker
also counts the modules its estimator imports lazily while fitting (a few MB).

The model size is the length of the fitted pipeline pickled with the highest
protocol, counted without building the bytes.
"""

from __future__ import annotations

import pickle
import threading
import time

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def _proc_status_kb(key: str) -> int | None:
    try:
        with open(_STATUS) as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_high_water_mark() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False if not possible."""
    if _proc_status_kb("VmHWM") is None:
        return False
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def _release_free_memory() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``), so RSS is live memory."""
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC = None


def _rss_bytes() -> int | None:
    kb = _proc_status_kb("VmRSS")
    if kb is not None:
        return kb * 1024
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # psutil missing or the platform refuses
        return None


class PeakMemory:
    """Context manager: peak RSS of this process during the block, above the RSS at its start.

    After the block, ``peak`` is that number of bytes (None if it could not be
    measured) and ``method`` says how: ``"vmhwm"`` (kernel high-water mark,
    exact) or ``"sampled"`` (RSS polled every ``interval`` seconds).

    Examples
    --------
    >>> import numpy as np
    >>> with PeakMemory() as memory:
    ...     block = np.ones(2_000_000)
    >>> memory.peak is None or memory.peak > 0
    True
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak: int | None = None
        self.method: str | None = None
        self._start: int | None = None
        self._max = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        _release_free_memory()
        self._start = _rss_bytes()
        if self._start is None:
            return self
        if _reset_high_water_mark():
            self.method = "vmhwm"
            return self
        self.method = "sampled"
        self._max = self._start
        self._thread = threading.Thread(target=self._sample, name="nbautoml-rss", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            rss = _rss_bytes()
            if rss is not None and rss > self._max:
                self._max = rss

    def __exit__(self, *exc) -> None:
        if self._start is None:
            return
        if self.method == "vmhwm":
            hwm = _proc_status_kb("VmHWM")
            high = None if hwm is None else hwm * 1024
        else:
            self._stop.set()
            self._thread.join()
            rss = _rss_bytes()
            high = max(self._max, rss or 0)
        self.peak = None if high is None else max(0, high - self._start)


class _CountingFile:
    """A write-only file that only counts bytes."""

    def __init__(self):
        self.n = 0

    def write(self, data) -> int:
        n = memoryview(data).nbytes
        self.n += n
        return n


def pickled_size(obj) -> tuple[int | None, float]:
    """Bytes of ``obj`` pickled (highest protocol), and the seconds it took to count them.

    The pickle is streamed into a counter, so no copy of the model is built.
    Returns ``(None, seconds)`` when the object cannot be pickled.
    """
    started = time.perf_counter()
    sink = _CountingFile()
    try:
        pickle.Pickler(sink, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
        size = sink.n
    except Exception:  # an unpicklable custom estimator: no size, not a failed trial
        size = None
    return size, time.perf_counter() - started
