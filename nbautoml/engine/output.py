"""What a trial prints: kept off the notebook in a size-capped file, its end kept on the trial.

During a trial the process's file descriptors 1 and 2 point at a file (so prints of C code
and of child processes are caught too), ``sys.stdout``/``sys.stderr`` write to it, and
logging handlers that wrote to the notebook's streams write to it (:class:`OutputCapture`).

The file is opened with ``O_APPEND`` and cut back to empty whenever it grows past
:data:`OUTPUT_FILE_CAP`, keeping its last :data:`OUTPUT_BYTES` in memory
(:class:`OutputFile`): every write lands at the file's current end, so after a cut the
writers go on at offset 0 (no hole at their old offset), and the end of what the trial
printed survives. The cut is made by a process or thread that never waits on the writer:
the parent for a worker (in :meth:`WorkerPool.wait <nbautoml.engine.workers.WorkerPool.wait>`),
a watchdog thread for a capture in the notebook's own process. A file never blocks its
writer, unlike a pipe: a writer holding the GIL on a full pipe read by a thread of its own
process would wait forever. The file can exceed the cap by what is written between two
checks (:data:`OUTPUT_POLL` seconds apart).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
import threading

#: what a trial printed is kept on its record: the last OUTPUT_LINES lines, at most OUTPUT_BYTES
OUTPUT_LINES = 20
OUTPUT_BYTES = 4096
#: a capture file is cut back to empty (its end kept) when it grows past this many bytes
OUTPUT_FILE_CAP = 4 * 2**20
#: seconds between two checks of a capture file's size
OUTPUT_POLL = 0.1


class OutputFile:
    """A capture file as seen by whoever caps it: its size, its end, what was cut.

    Parameters
    ----------
    where : str or int
        The file's path (opened here) or an open file descriptor (not closed here).
    cap : int, default=OUTPUT_FILE_CAP
        Size in bytes above which :meth:`trim` cuts the file.

    Notes
    -----
    Writers must hold the file open with ``O_APPEND``. Bytes written between reading the
    end and cutting (microseconds) are lost; they lie before the kept end of the output.
    """

    def __init__(self, where, cap: int = OUTPUT_FILE_CAP):
        self._owned = isinstance(where, str)
        self.fd = os.open(where, os.O_RDWR) if self._owned else where
        self.cap = cap
        self.reset()

    def reset(self) -> None:
        """Forget what was cut (a new trial starts)."""
        self.kept = b""  # the end of what was cut
        self.dropped = 0  # bytes cut so far (``kept`` included)

    def size(self) -> int:
        try:
            return os.fstat(self.fd).st_size
        except OSError:
            return 0

    def trim(self) -> bool:
        """Cut the file back to empty if it is over the cap, keeping its end; True if cut."""
        size = self.size()
        if size <= self.cap:
            return False
        try:
            end = os.pread(self.fd, OUTPUT_BYTES, size - OUTPUT_BYTES)
            os.ftruncate(self.fd, 0)
        except OSError:
            return False
        self.kept, self.dropped = end, self.dropped + size
        return True

    def tail(self) -> str | None:
        """The end of everything written since :meth:`reset` (see :func:`read_tail`); the file
        is emptied, so a trial that crashes before its capture starts is never shown the
        previous trial's output."""
        text = read_tail(self.fd, kept=self.kept, dropped=self.dropped)
        try:
            os.ftruncate(self.fd, 0)
        except OSError:
            pass
        self.reset()
        return text

    def close(self) -> None:
        if self._owned:
            os.close(self.fd)


def open_capture_file(path: str | None = None) -> tuple[int, bool]:
    """A file descriptor open for reading and appending; an unnamed temporary file without ``path``.

    Returns ``(fd, appending)``: ``appending`` is False where ``O_APPEND`` could not be set
    (no ``fcntl``, e.g. on Windows); such a file must not be cut.
    """
    if path is not None:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), True
    with tempfile.TemporaryFile() as unnamed:
        fd = os.dup(unnamed.fileno())  # the duplicate keeps the unnamed file alive
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
    except (ImportError, OSError):
        return fd, False
    return fd, True


class OutputCapture:
    """During a trial, this process's stdout, stderr and console logging go to a file, not to the notebook.

    Used in each worker (with ``path``; the parent caps the file) and in the notebook's own
    process for the final refit (``AutoML._fit_quietly``; an unnamed file capped by a
    watchdog thread). File descriptors 1 and 2 are pointed at the file and
    ``sys.stdout``/``sys.stderr`` write to it (a notebook kernel replaces them with objects
    that send the text to the cell, which a forked worker inherits). Logging handlers
    writing to those streams, e.g. the one ``logging.basicConfig()`` adds in a notebook,
    are pointed at the file too (:func:`console_handlers`), and back afterwards. The file
    is emptied at the start of each trial; :meth:`tail` gives its end. Used as a context
    manager, once per trial.

    Parameters
    ----------
    path : str, optional
        The file (kept open for the process's life); an unnamed temporary file without it.
    watch : bool, optional
        Cap the file from a thread of this process. Default: without ``path``.
    """

    def __init__(self, path: str | None = None, watch: bool | None = None):
        self.fd, appending = open_capture_file(path)
        self.output = OutputFile(self.fd)
        self.watch = (path is None if watch is None else watch) and appending
        self.saved = (os.dup(1), os.dup(2))
        self.text = io.TextIOWrapper(open(self.fd, "wb", closefd=False), encoding="utf-8", errors="replace")
        self.streams = None
        self.handlers: list[tuple[logging.StreamHandler, object]] = []
        self._stop = threading.Event()
        self._watcher = None

    def __enter__(self):
        _flush_std()
        os.ftruncate(self.fd, 0)
        self.output.reset()
        self.streams = sys.stdout, sys.stderr
        self.handlers = [(h, h.stream) for h in console_handlers(self.streams)]
        os.dup2(self.fd, 1)
        os.dup2(self.fd, 2)
        sys.stdout = sys.stderr = self.text
        for handler, _ in self.handlers:
            _set_stream(handler, self.text)
        if self.watch:
            self._stop.clear()
            self._watcher = threading.Thread(target=self._cap, name="nbautoml-output-cap", daemon=True)
            self._watcher.start()
        return self

    def _cap(self) -> None:
        while not self._stop.wait(OUTPUT_POLL):
            self.output.trim()

    def __exit__(self, *exc_info):
        try:
            self.text.flush()
            _flush_std(c_only=True)
        finally:
            for handler, stream in self.handlers:
                _set_stream(handler, stream)
            self.handlers = []
            sys.stdout, sys.stderr = self.streams
            os.dup2(self.saved[0], 1)
            os.dup2(self.saved[1], 2)
            if self._watcher is not None:
                self._stop.set()
                self._watcher.join()
                self._watcher = None
        return False

    def close(self) -> None:
        self.text.close()
        for fd in self.saved:
            os.close(fd)
        os.close(self.fd)

    def tail(self) -> str | None:
        """The end of what the trial printed (the file is emptied)."""
        return self.output.tail()


def console_handlers(streams) -> list[logging.StreamHandler]:
    """The logging handlers (of every logger) that write to one of ``streams``; not file handlers.

    In a notebook these are the handlers writing to the cell. Handlers writing to the
    interpreter's original ``sys.__stderr__`` (a kernel's own log, a terminal) are left
    alone: in a worker, file descriptor 2 already goes to the capture.
    """
    targets = [s for s in streams if s is not None]
    loggers = [logging.getLogger()] + [logger for logger in list(logging.Logger.manager.loggerDict.values())
                                       if isinstance(logger, logging.Logger)]
    found = []
    for logger in loggers:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                stream = getattr(handler, "stream", None)
                if any(stream is target for target in targets) and handler not in found:
                    found.append(handler)
    return found


def _set_stream(handler: logging.StreamHandler, stream) -> None:
    """``handler.setStream(stream)``, without flushing the old stream (it may be gone)."""
    with handler.lock:
        handler.stream = stream


def _flush_std(c_only: bool = False) -> None:
    """Flush Python's stdout/stderr and C's stdio buffers (so that output lands where it was written)."""
    if not c_only:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a closed or odd stream: nothing to flush
                pass
    try:
        _libc().fflush(None)
    except Exception:  # no C library to ask (not Linux/macOS)
        pass


_LIBC = []


def _libc():
    if not _LIBC:
        import ctypes

        _LIBC.append(ctypes.CDLL(None))
    return _LIBC[0]


def read_tail(where, lines: int = OUTPUT_LINES, limit: int = OUTPUT_BYTES, kept: bytes = b"",
              dropped: int = 0) -> str | None:
    """The last ``lines`` lines (at most ``limit`` bytes) of what was written to a file.

    Parameters
    ----------
    where : str or int
        The file: a path or an open file descriptor.
    kept, dropped : bytes, int
        What :class:`OutputFile` cut from the file: its end, and how many bytes in all.

    Returns
    -------
    str or None
        None when nothing was written. A first line says how many earlier bytes are not kept.
    """
    try:
        fd = os.open(where, os.O_RDONLY) if isinstance(where, str) else where
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        start = max(0, size - limit)
        data = os.pread(fd, size - start, start) if size else b""
    except OSError:
        return None
    finally:
        if isinstance(where, str):
            os.close(fd)
    total = dropped + size
    if total == 0:
        return None
    data = (kept + data)[-limit:] if len(data) < limit else data
    kept_lines = data.decode("utf-8", errors="replace").rstrip("\n").split("\n")
    if len(data) < total and len(kept_lines) > 1:
        kept_lines = kept_lines[1:]  # the first line was cut
    if len(kept_lines) > lines:
        kept_lines = kept_lines[-lines:]
    shown = sum(len(line.encode("utf-8", errors="replace")) + 1 for line in kept_lines)
    if shown < total:
        kept_lines.insert(0, f"[... {total - min(shown, total):,} earlier bytes of output not kept]")
    return "\n".join(kept_lines)
