"""Terminal progress: a tqdm bar on a terminal, whole lines in a log."""

import io

from nbautoml.engine.records import SearchEvent, TrialRecord
from nbautoml.render.progress import LineProgress, TqdmProgress, terminal_progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _event(kind, elapsed, n_done, best=None, trial=None):
    data = dict(elapsed=elapsed, n_done=n_done, n_failed=1, best_score=best, metric="accuracy",
                time_budget=30, max_evals=None)
    if trial is not None:
        data["trial"] = trial
    return SearchEvent(kind, data)


def test_terminal_progress_draws_a_bar_on_a_terminal_and_lines_elsewhere():
    assert isinstance(terminal_progress(_Terminal()), TqdmProgress)
    assert isinstance(terminal_progress(io.StringIO()), LineProgress)


def test_line_progress_writes_new_bests_and_a_line_every_few_seconds():
    out = io.StringIO()
    progress = LineProgress(file=out, every=10.0)
    best = TrialRecord(trial_id=3, config={"family": "random_forest"}, status="ok", score=0.91234)
    progress(_event("search_started", 0.0, 0))
    for i, t in enumerate([1.0, 2.0, 9.0, 12.5, 13.0, 20.0, 23.0], start=1):
        progress(_event("trial_finished", t, i, best=0.9))
    progress(_event("new_best", 23.0, 7, best=0.91234, trial=best))
    progress(_event("trial_finished", 24.0, 8, best=0.91234))
    progress(_event("search_finished", 29.5, 8, best=0.91234))
    assert out.getvalue().splitlines() == [
        "nbautoml: search started (time budget 30 s)",
        "nbautoml:   12.5 s  4 trials, 1 failed, best accuracy 0.9000",
        "nbautoml:   23.0 s  7 trials, 1 failed, best accuracy 0.9000",
        "nbautoml:   23.0 s  trial 3 (random_forest): new best accuracy 0.9123",
        "nbautoml: finished in 29.5 s: 8 trials, 1 failed, best accuracy 0.9123",
    ]


def test_line_progress_is_silent_when_disabled():
    out = io.StringIO()
    progress = LineProgress(file=out, disable=True)
    progress(_event("search_started", 0.0, 0))
    progress(_event("search_finished", 1.0, 1, best=0.5))
    assert out.getvalue() == ""
