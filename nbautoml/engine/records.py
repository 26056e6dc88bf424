"""Trial records and search events: the data the engine hands to its listeners."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

TRIAL_STATUSES = ("ok", "failed", "timeout", "memory", "crashed", "interrupted", "running")


@dataclass
class TrialRecord:
    """One evaluated config.

    ``score`` is the mean CV score in the metric's own direction; ``loss`` is
    what the optimiser minimised. ``status`` is one of ``TRIAL_STATUSES``.
    """

    trial_id: int
    config: dict
    status: str = "running"
    score: float | None = None
    score_std: float | None = None
    fold_scores: list[float] = field(default_factory=list)
    fit_time: float = 0.0
    cpu_time: float = 0.0
    wall_time: float = 0.0
    predict_time: float | None = None  # seconds per 1,000 rows
    peak_memory: int | None = None  # bytes: the worker's peak RSS above its RSS at the start
    model_size: int | None = None  # bytes: the last fold's fitted pipeline, pickled
    error: str | None = None
    traceback: str | None = None  # a failed trial's traceback, its last lines (TRACEBACK_LINES)
    output: str | None = None  # what the trial printed (stdout and stderr), its tail (output.OUTPUT_LINES)
    started: float = 0.0  # seconds since the search started
    finished: float = 0.0
    source: str = "tpe"  # "default", "tpe", "random", "resume", ...
    vals: dict = field(default_factory=dict)  # hyperopt's stored values, for resume

    @property
    def family(self) -> str:
        return self.config.get("family", "?")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SearchEvent:
    """An event of a running search.

    ``kind`` is one of ``search_started``, ``trial_started``, ``trial_finished``,
    ``new_best``, ``search_finished``. ``data`` holds the details: for trial
    events ``data["trial"]`` is the :class:`TrialRecord`; every event has
    ``elapsed`` (s), ``n_done`` and ``n_failed``, ``best_score`` and the budget.
    """

    kind: str
    data: dict[str, Any]

    def __getitem__(self, key):
        return self.data[key]
