"""Terminal progress: a tqdm bar on a terminal, whole lines in a log."""

import io

from nbautoml.engine.records import SearchEvent, TrialRecord
from nbautoml.render.progress import LineProgress, TqdmProgress, terminal_progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _event(kind, elapsed, n_done, best=None, **extra):
    data = dict(elapsed=elapsed, n_done=n_done, n_failed=int(n_done >= 2), best_score=None if best is None else best.score,
                best=best, metric="accuracy", time_budget=30, max_evals=None, **extra)
    return SearchEvent(kind, data)


def test_terminal_progress_draws_a_bar_on_a_terminal_and_lines_elsewhere():
    assert isinstance(terminal_progress(_Terminal()), TqdmProgress)
    assert isinstance(terminal_progress(io.StringIO()), LineProgress)


def test_line_progress_writes_new_bests_and_a_line_every_few_seconds():
    out = io.StringIO()
    progress = LineProgress(file=out, every=10.0)
    first = TrialRecord(trial_id=0, config={"family": "ridge"}, status="ok", score=0.9)
    best = TrialRecord(trial_id=3, config={"family": "random_forest"}, status="ok", score=0.91234)
    progress(_event("search_started", 0.0, 0))
    progress(_event("new_best", 0.5, 1, best=first, trial=first))
    for i, t in enumerate([1.0, 2.0, 9.0, 12.5, 13.0, 20.0, 23.0], start=1):
        progress(_event("trial_finished", t, i, best=first))
    progress(_event("new_best", 23.0, 7, best=best, trial=best))
    progress(_event("trial_finished", 24.0, 8, best=best))
    progress(_event("search_finished", 29.5, 8, best=best, status="completed", reason="time_budget=30s used"))
    assert out.getvalue().splitlines() == [
        "nbautoml: running · 0 trials · 0.0 / 30 s · best accuracy n/a",
        "nbautoml: running · 1 trial · 0.5 / 30 s · best accuracy 0.9000 (ridge, trial 0)",
        "nbautoml: running · 4 trials (1 failed or timed out) · 12.5 / 30 s · best accuracy 0.9000 (ridge, trial 0)",
        "nbautoml: running · 7 trials (1 failed or timed out) · 23.0 / 30 s · best accuracy 0.9000 (ridge, trial 0)",
        "nbautoml: running · 7 trials (1 failed or timed out) · 23.0 / 30 s · best accuracy 0.9123 "
        "(random_forest, trial 3)",
        "nbautoml: finished · 8 trials (1 failed or timed out) · 29.5 / 30 s · best accuracy 0.9123 "
        "(random_forest, trial 3) · time_budget=30s used",
    ]


def test_line_progress_is_silent_when_disabled():
    out = io.StringIO()
    progress = LineProgress(file=out, disable=True)
    progress(_event("search_started", 0.0, 0))
    progress(_event("search_finished", 1.0, 1))
    assert out.getvalue() == ""
