"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The bytes go to a temporary file in the destination's directory (named after it and the
writing process: ``.NAME.PID.XXXX.tmp``), are fsynced, then ``os.replace`` puts them in
place and the directory is fsynced. An error (disk full, permission, a read-only file
system) leaves an existing file as it was and removes the temporary file; a temporary file
left by a process that died mid-write is removed by the next write to the same place.
Models (:mod:`nbautoml.persist`), predictions, figures and deployment files are all
written this way.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
from pathlib import Path

from .exceptions import ArtifactError


def _save_error(err: OSError, path: Path, what: str = "the model") -> ArtifactError:
    reason = {
        errno.ENOSPC: "there is no space left on the device",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EFBIG: "the file is larger than the size limit",
        errno.EACCES: "permission was denied",
        errno.EPERM: "the operation is not permitted",
        errno.EROFS: "the file system is read-only",
    }.get(err.errno, err.strerror or str(err))
    fix = ("Free some space or save elsewhere." if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
           else "Save to a directory you can write to.")
    return ArtifactError(f"Could not save {what} to {str(path)!r}: {reason}. Nothing was changed "
                         f"there (an existing file is intact). {fix}", code="save_failed",
                         path=str(path), errno=err.errno)


def _remove_stale_temps(path: Path) -> None:
    """Temp files of this destination left by a process that died mid-write."""
    # lazily: the engine's package imports AutoML
    from .engine.processes import left_by_dead_process

    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        if left_by_dead_process(tmp.name[len(path.name) + 2:].split(".")[0]):
            try:
                tmp.unlink()
            except OSError:
                pass


def atomic_write(path: str | Path, data: bytes, what: str = "the model") -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same directory, fsync, ``os.replace``).

    Raises
    ------
    ArtifactError
        ``save_failed``, saying why (disk full, permission, read-only); the
        destination is unchanged and the temporary file removed.
    """
    with atomic_file(path, what) as handle:
        view = memoryview(data)
        for start in range(0, len(view), 2**20):
            handle.write(view[start:start + 2**20])
    return Path(path)


@contextlib.contextmanager
def atomic_file(path: str | Path, what: str = "the model"):
    """A binary file that replaces ``path`` when the ``with`` block ends without an error.

    Written in pieces (a batch of predictions chunk by chunk) to a temporary file in the
    same directory, then fsynced and moved into place with ``os.replace``: a reader never
    sees half a file, and an error in the block leaves an existing file as it was.

    Parameters
    ----------
    path : str or Path
        The destination.
    what : str
        What is written, for the error message ("the model", "the predictions").

    Raises
    ------
    ArtifactError
        ``save_failed`` on an OSError (disk full, permission, read-only), saying why.
    """
    path = Path(path)
    handle = tmp = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale_temps(path)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
            handle = _WholeWrites(fd, lambda err: _save_error(err, path, what))
            os.fchmod(fd, 0o644)
        except OSError as err:
            raise _save_error(err, path, what) from err
        yield handle  # an OSError of the block's own (reading its input, say) is not a save error
        try:
            os.fsync(handle.fileno())
            handle.close()
            os.replace(tmp, path)
            tmp = None
            _fsync_dir(path.parent)
        except OSError as err:
            raise _save_error(err, path, what) from err
    finally:
        if handle is not None and not handle.closed:
            try:
                handle.close()
            except OSError:
                pass
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


class _WholeWrites(io.RawIOBase):
    """An unbuffered binary file on ``fd`` whose ``write`` writes all of its bytes (``os.write``
    again after a short write), so a full disk raises at the write that hits it, as the error
    ``failed`` makes of the OSError."""

    def __init__(self, fd: int, failed):
        self._fd, self._failed = fd, failed

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        written = 0
        try:
            while written < len(view):
                written += os.write(self._fd, view[written:])
        except OSError as err:
            raise self._failed(err) from err
        return written

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def close(self) -> None:
        if not self.closed:
            super().close()
            os.close(self._fd)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
