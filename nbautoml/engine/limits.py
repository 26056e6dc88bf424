"""A per-trial memory limit (``AutoML(memory_limit=MB)``), enforced inside each worker.

Before each trial the worker lowers its address-space limit (``RLIMIT_AS``) to what it
already maps plus the limit; afterwards the limit is lifted again. An allocation past
it fails at once (``MemoryError`` in Python and numpy, ``std::bad_alloc`` in C++), before
any page is touched, so the trial is recorded with status ``memory`` and the search goes
on; the notebook's process is not limited and keeps its memory. Counting what the worker
maps (virtual memory) rather than what it holds (RSS) is stricter: memory reserved and
never used counts too. A worker inherits the notebook's mappings when it is forked, so
the limit is measured from the worker's own size at the start of each trial.

Only Linux enforces ``RLIMIT_AS`` (macOS accepts it and ignores it; Windows has no
``resource`` module): elsewhere :func:`limit_supported` is False and nothing is limited.
"""

from __future__ import annotations

import sys

#: what a failed trial's error says when it ran out of memory (ours, numpy's, C++'s, the C library's)
_OUT_OF_MEMORY = ("MemoryError", "bad_alloc", "Cannot allocate memory", "Unable to allocate",
                  "can't start new thread")


def limit_supported() -> bool:
    """Whether this platform enforces a per-trial memory limit (Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import resource
    except ImportError:
        return False
    return hasattr(resource, "RLIMIT_AS")


def _mapped_bytes() -> int | None:
    """This process's virtual memory size (``VmSize``)."""
    from .cost import _proc_status_kb

    kb = _proc_status_kb("VmSize")
    return None if kb is None else kb * 1024


class MemoryLimit:
    """Context manager: within the block, this process may map at most ``limit_mb`` MB more.

    Parameters
    ----------
    limit_mb : float or None
        None (or an unsupported platform): no limit.
    """

    def __init__(self, limit_mb: float | None):
        self.limit_mb = limit_mb
        self._saved = None

    def __enter__(self):
        if self.limit_mb is None or not limit_supported():
            return self
        import resource

        mapped = _mapped_bytes()
        if mapped is None:
            return self
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        wanted = mapped + int(self.limit_mb * 2**20)
        if hard != resource.RLIM_INFINITY:
            wanted = min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
        self._saved = (soft, hard)
        return self

    def __exit__(self, *exc_info):
        if self._saved is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, self._saved)
            self._saved = None
        return False


def mark_out_of_memory(result: dict, limit_mb: float) -> dict:
    """Give a trial that failed for lack of memory under the limit the status ``memory``.

    Its ``error`` becomes "exceeded the N MB per-trial limit (memory_limit=N; <the error>)".
    """
    error = result.get("error") or ""
    if result.get("status") == "failed" and any(sign in error for sign in _OUT_OF_MEMORY):
        result["status"] = "memory"
        result["error"] = (f"exceeded the {limit_mb:g} MB per-trial limit (memory_limit={limit_mb:g}; "
                           f"{error})")
    return result
