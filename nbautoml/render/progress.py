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
