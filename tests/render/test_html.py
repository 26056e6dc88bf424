"""Static HTML and text of results and running searches."""

from __future__ import annotations

import copy

from nbautoml.render.html import leaderboard_html, progress_html, result_html
from nbautoml.render.live import LiveState
from nbautoml.render.text import leaderboard_text, status_line

from .test_panel import synthetic_events


def test_result_html_summarises_the_search(searches):
    result = searches["binary"]
    html = result_html(result)
    assert html == result._repr_html_()
    assert f"{result.best_score_:.4f} ± {result.best_score_std_:.4f}" in html
    assert "Best CV roc_auc" in html and "stratified 5-fold" in html
    assert result.summary()["best_pipeline"].split("(")[0] in html
    assert not result.plan_.dropped  # so the summary has 6 rows
    assert html.count("<tr>") == 6 + 1 + min(10, len(result.leaderboard))  # summary, header, rows
    assert "<script" not in html and "interrupted" not in html.lower()


def test_result_html_marks_ties_and_interrupts(searches):
    result = copy.copy(searches["regression"])
    result.status_ = "interrupted"
    result.stop_reason_ = "interrupted by the user"
    html = result_html(result)
    assert "The search was interrupted; the best pipeline found so far was refitted" in html
    ties = result.leaderboard["tied_with_best"].head(10).iloc[1:].any()
    assert ("≈ = not significantly different from the best" in html) == bool(ties)
    assert html.count("title='tied with the best'") == int(result.leaderboard["tied_with_best"]
                                                          .head(10).iloc[1:].sum())


def test_leaderboard_html_escapes_and_drops_empty_error_column(searches):
    result = copy.copy(searches["multiclass"])
    board = leaderboard_html(result, top=3)
    assert board.count("<tr>") == 1 + 3 and ">error<" not in board
    result.leaderboard_ = result.leaderboard_.copy()
    result.leaderboard_.loc[0, "pipeline"] = "<script>alert(1)</script>"
    assert "<script>" not in leaderboard_html(result) and "&lt;script&gt;" in leaderboard_html(result)


def test_live_views_of_a_running_search():
    state = LiveState()
    for event in synthetic_events(20):
        state.update(event)
        if state.n_done == 14 and event.kind == "trial_started":
            break
    assert state.status == "running" and state.n_done == 14 and state.n_failed == 2
    line = status_line(state, "demo")
    assert line.startswith("nbautoml demo: running · 14 trials (2 failed or timed out: 2 timeout)")
    assert f"best roc_auc {state.best_score:.4f}" in line
    rows = state.leaderboard(5)
    assert [r.rank for r in rows] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(rows, rows[1:]))
    text = leaderboard_text(state, 5)
    assert len(text.splitlines()) >= 6 and "ridge" in text
    html = progress_html(state, "demo", top=5)
    assert html.count("<tr>") == 6 and "Running: ridge (trial 14)" in html
    assert f"width:{100 * state.elapsed / 60:.1f}%" in html  # the bar: seconds of the 60 s budget
    assert "Best CV roc_auc so far" in html


def test_fraction_uses_the_binding_budget():
    state = LiveState(time_budget=10.0, max_evals=4, elapsed=2.0, n_done=3)
    assert state.fraction() == 0.75
    state.elapsed = 9.0
    assert state.fraction() == 0.9
    assert LiveState(elapsed=5.0).fraction() == 0.0
