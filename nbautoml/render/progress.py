"""Terminal progress for a search: a tqdm bar fed by the engine's events."""

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
    """A search listener that writes whole lines, for logs and pipes.

    A line when the search starts, one per new best score, one at least every
    ``every`` seconds of the search, and one when it ends: no carriage returns,
    so a log file reads line by line.
    """

    def __init__(self, file=None, disable: bool = False, every: float = 10.0):
        self.file = file
        self.disable = disable
        self.every = every
        self._last_line_at = 0.0

    def _write(self, text: str) -> None:
        import sys

        file = self.file if self.file is not None else sys.stderr
        print(f"nbautoml: {text}", file=file, flush=True)

    def __call__(self, event) -> None:
        if self.disable:
            return
        data = event.data
        if event.kind == "search_started":
            budget = (f"time budget {data['time_budget']:g} s" if data["time_budget"]
                      else f"{data['max_evals']} trials")
            self._write(f"search started ({budget})")
        elif event.kind == "new_best":
            trial = data["trial"]
            self._write(f"{data['elapsed']:6.1f} s  trial {trial.trial_id} ({trial.family}): "
                        f"new best {data['metric']} {trial.score:.4f}")
        elif event.kind == "trial_finished" and data["elapsed"] - self._last_line_at >= self.every:
            self._write(f"{data['elapsed']:6.1f} s  {self._counts(data)}")
        elif event.kind == "search_finished":
            self._write(f"finished in {data['elapsed']:.1f} s: {self._counts(data)}")
            return
        else:
            return
        self._last_line_at = data["elapsed"]

    @staticmethod
    def _counts(data: dict) -> str:
        best = data.get("best_score")
        return (f"{data['n_done']} trials, {data['n_failed']} failed, best {data['metric']} "
                + ("n/a" if best is None else f"{best:.4f}"))


def terminal_progress(file, disable: bool = False):
    """A tqdm bar on a terminal, whole lines (:class:`LineProgress`) on a log or pipe."""
    isatty = getattr(file, "isatty", None)
    if callable(isatty) and isatty():
        return TqdmProgress(file=file, disable=disable)
    return LineProgress(file=file, disable=disable)
