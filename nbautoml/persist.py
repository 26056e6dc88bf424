"""Saving and loading models (minimal version: skops, atomic write)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def save(obj, path) -> Path:
    """Save a fitted AutoML or Pipeline to ``path`` (skops format, atomic)."""
    import skops.io as sio

    pipeline = getattr(obj, "best_pipeline", obj)
    path = Path(path)
    if path.suffix != ".skops":
        path = path.with_suffix(".skops")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".skops")
    os.close(fd)
    try:
        sio.dump(pipeline, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load(path, trusted=None):
    """Load a pipeline saved by :func:`save`."""
    import skops.io as sio

    return sio.load(path, trusted=trusted or sio.get_untrusted_types(file=path))
