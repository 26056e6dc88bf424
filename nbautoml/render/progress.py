"""Terminal progress: a search's (a tqdm bar fed by the engine's events) and a batch
prediction's (rows predicted so far)."""

from __future__ import annotations


class TqdmProgress:
    """A search listener that draws a tqdm bar (trials, best score, failures).

    The bar counts seconds of the time budget when there is one, else trials.
    """

    def __init__(self, file=None, disable: bool = False):
        self.file = file
        self.disable = disable
        self.bar = None
        self._last = 0.0

    def __call__(self, event) -> None:
        from tqdm.auto import tqdm

        data = event.data
        if event.kind == "search_started":
            total = data["time_budget"] or data["max_evals"]
            unit = "s" if data["time_budget"] else "trial"
            self.bar = tqdm(total=total, unit=unit, file=self.file, disable=self.disable,
                            desc="nbautoml", bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f}{unit} {postfix}")
            self.unit = unit
            return
        if self.bar is None:
            return
        if event.kind in ("trial_finished", "search_finished"):
            value = data["elapsed"] if self.unit == "s" else data["n_done"]
            value = min(value, self.bar.total)
            self.bar.update(value - self._last)
            self._last = value
            best = data.get("best_score")
            self.bar.set_postfix_str(
                f"trials={data['n_done']} failed={data['n_failed']} best {data['metric']}="
                + ("n/a" if best is None else f"{best:.4f}"))
        if event.kind == "search_finished":
            self.bar.close()


class LineProgress:
    """A search listener that writes whole status lines, for logs and pipes.

    The line of the notebook's plain-text view (:func:`~nbautoml.render.text.status_line`)
    when the search starts, at each new best score, at least every ``every`` seconds
    while trials finish, and at the end: no carriage returns, so a log reads line by line.
    """

    def __init__(self, file=None, disable: bool = False, every: float = 10.0):
        from .live import LiveState

        self.file = file
        self.disable = disable
        self.every = every
        self.state = LiveState()
        self._last_line_at = 0.0

    def __call__(self, event) -> None:
        import sys

        from .text import status_line

        if self.disable:
            return
        self.state.update(event)
        due = event.kind == "trial_finished" and self.state.elapsed - self._last_line_at >= self.every
        if due or event.kind in ("search_started", "new_best", "search_finished"):
            print(status_line(self.state), file=self.file or sys.stderr, flush=True)
            self._last_line_at = self.state.elapsed


def terminal_progress(file, disable: bool = False):
    """A tqdm bar on a terminal, whole lines (:class:`LineProgress`) on a log or pipe."""
    isatty = getattr(file, "isatty", None)
    if callable(isatty) and isatty():
        return TqdmProgress(file=file, disable=disable)
    return LineProgress(file=file, disable=disable)


class RowProgress:
    """Rows predicted so far by ``nbautoml predict`` (:func:`nbautoml.batch.predict_file`'s
    ``on_chunk``), on standard error.

    On a terminal, a tqdm counter that appears after 2 s (a short job shows nothing); on a log
    or a pipe, a whole line at least ``every`` seconds apart, and a last one when a job that
    printed lines ends.
    """

    def __init__(self, file=None, every: float = 10.0, disable: bool = False):
        import sys
        import time

        self.file = file or sys.stderr
        self.every, self.disable = every, disable
        isatty = getattr(self.file, "isatty", None)
        self.bar = None
        self._tty = bool(callable(isatty) and isatty())
        self._started = self._last_line_at = time.perf_counter()
        self._lines = 0
        self._run = None

    def __call__(self, run) -> None:
        """After each chunk: ``run`` is the :class:`~nbautoml.batch.BatchRun` so far."""
        import time

        if self.disable:
            return
        if self._tty:
            if self.bar is None:
                from tqdm.auto import tqdm

                self.bar = tqdm(unit=" rows", unit_scale=True, delay=2.0, file=self.file, desc="predicted")
            self.bar.update(run.rows - self.bar.n)
        elif time.perf_counter() - self._last_line_at >= self.every:
            self._line(run)
        self._run = run

    def close(self) -> None:
        """The job ended (or failed): close the counter, or write a last line if lines were written."""
        if self.bar is not None:
            self.bar.close()
        elif self._lines and not self.disable:
            self._line(self._run)

    def _line(self, run) -> None:
        import time

        now = time.perf_counter()
        print(f"predicted {run.rows:,} rows ({run.chunks} chunk{'s' if run.chunks != 1 else ''}) in "
              f"{now - self._started:.1f} s", file=self.file, flush=True)
        self._last_line_at = now
        self._lines += 1
