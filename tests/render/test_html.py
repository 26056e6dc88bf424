"""Static HTML and text of results and running searches."""

from __future__ import annotations

import copy
import re
from html import escape

from nbautoml.engine.records import SearchEvent, TrialRecord
from nbautoml.render.html import (
    LIVE_PIPELINE_WIDTH,
    final_status_html,
    leaderboard_html,
    live_leaderboard_html,
    progress_html,
    result_html,
)
from nbautoml.render.live import LiveState
from nbautoml.render.text import leaderboard_text, result_board_text, status_line

from .test_panel import synthetic_events


def test_jupyter_shows_the_result_summary_not_the_estimator_diagram(searches):
    """IPython asks for ``_repr_mimebundle_`` first, which scikit-learn's BaseEstimator answers
    with its estimator diagram: a fitted AutoML answers with its summary."""
    from IPython.core.interactiveshell import InteractiveShell

    from nbautoml import AutoML

    result = searches["binary"]
    shown, _ = InteractiveShell.instance().display_formatter.format(result)
    assert shown["text/html"] == result_html(result) and shown["text/plain"] == repr(result)
    unfitted, _ = InteractiveShell.instance().display_formatter.format(AutoML(time_budget=5))
    assert "sk-global" in unfitted["text/html"]  # before fit: scikit-learn's diagram of the options


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
    timed, untimed = copy.copy(result), copy.copy(result)
    timed.time_budget, untimed.time_budget = 8, None
    # the measured elapsed, rounded once: 0.9503 s reads "1.0 s" (it read "0.9 s" when the
    # summary rounded it to 0.95 and the displays rounded that again)
    assert f"in {timed.elapsed_:.1f} s of the 8 s budget" in result_html(timed)  # not "of a 8 s"
    timed.elapsed_ = 0.9503
    assert "in 1.0 s of the 8 s budget" in result_html(timed) and " trials in 1.0 s" in repr(timed)
    assert " s budget" not in result_html(untimed)


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


def _state_with_long_pipelines(n=4):
    """A running search whose pipelines describe long configs (like hist_gradient_boosting's)."""
    state = LiveState()
    state.update(SearchEvent("search_started", {"metric": "roc_auc", "time_budget": 30.0,
                                                "elapsed": 0.0, "n_done": 0}))
    for i in range(n):
        params = {"l2_regularization": 1e-08, "learning_rate": 0.1 + i, "max_features": 1.0,
                  "max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20}
        config = {"family": "hist_gradient_boosting", "params": params,
                  "pre": {"cat_encoding": "ordinal"}}
        score = 0.86 - 0.01 * i
        trial = TrialRecord(trial_id=i, config=config, status="ok", score=score, score_std=0.0165,
                            fold_scores=[score - 0.02, score, score + 0.02], fit_time=0.5 * i,
                            finished=float(i))
        best = state.best or trial
        state.update(SearchEvent("trial_finished", {"elapsed": float(i + 1), "n_done": i + 1,
                                                    "trial": trial, "best": best,
                                                    "best_score": best.score}))
    return state


def test_live_table_cuts_pipelines_and_keeps_them_on_hover():
    state = _state_with_long_pipelines()
    html = live_leaderboard_html(state)
    rows = state.leaderboard()
    assert all(len(r.pipeline) > 80 for r in rows)
    for r in rows:
        cut = r.pipeline[: LIVE_PIPELINE_WIDTH - 1] + "…"
        assert f"<code title='{escape(r.pipeline)}' style='white-space:nowrap'>{escape(cut)}</code>" \
            in html
        assert f">{escape(r.pipeline)}<" not in html  # the full text only in the title
    shown = re.findall(r"<code[^>]*>([^<]*)</code>", html)
    assert len(shown) == len(rows) and max(map(len, shown)) == LIVE_PIPELINE_WIDTH
    # scores on one line; fit times with two decimals in every row
    assert html.count("<span style='white-space:nowrap'>0.") == len(rows)
    assert [m for m in re.findall(r"<td[^>]*>(\d+\.\d+)</td>", html)] == \
        ["0.00", "0.50", "1.00", "1.50"]


def test_running_line_keeps_its_place_between_trials():
    """The "Running: ..." line is there during a trial and between trials: no 28 px jump."""
    state = _state_with_long_pipelines(2)
    between = progress_html(state, "demo")
    assert not state.running() and "Running:" not in between
    state.update(SearchEvent("trial_started", {"elapsed": 2.5, "n_done": 2, "trial": TrialRecord(
        trial_id=2, config={"family": "knn", "params": {}, "pre": {}}, started=2.5)}))
    during = progress_html(state, "demo")
    assert "Running: knn (trial 2)" in during

    def line(html):
        return re.search(r"<div class='nbautoml-running' style='([^']*)'>", html).group(1)

    assert line(between) == line(during) and "height:16px" in line(during)
    # the tie note keeps its line too, hidden while no row is tied
    assert during.count("≈ = not significantly different") == 1


def test_final_status_is_one_line():
    state = _state_with_long_pipelines(3)
    state.update(SearchEvent("search_finished", {"status": "completed", "elapsed": 30.1,
                                                 "reason": "time_budget=30s used"}))
    html = final_status_html(state, "titanic")
    assert html == progress_html(state, "titanic", leaderboard=False)
    assert "<table" not in html and "Running" not in html
    text = re.sub(r"<[^>]+>", "", html).strip()
    assert text == ("nbautoml search titanic finished 3 trials · 30.1 / 30 s · best CV roc_auc "
                    "0.8600 (hist_gradient_boosting, trial 0) · stopped: time_budget=30s used")
    assert "<table" in progress_html(state, "titanic")  # the full view, when nothing follows


def test_result_leaderboard_scores_do_not_wrap_and_fit_times_align(searches):
    result = searches["binary"]
    board = leaderboard_html(result)
    n = min(10, len(result.leaderboard))
    assert board.count("<span style='white-space:nowrap'>") == sum(
        result.leaderboard["score"].head(n).notna())
    times = re.findall(r"<td[^>]*>(\d+\.\d+)</td>", board)
    assert len(times) == n and all(re.fullmatch(r"\d+\.\d\d", t) for t in times)
    text = result_board_text(result)
    top = result.leaderboard.head(n)
    for t in top.loc[top["status"] == "ok", "fit_time"]:
        assert f"{t:.2f}" in text
    rows = text.splitlines()[1:]
    assert len(rows) == n and "<NA>" not in text and "0.000" not in text
    for row, (_, trial) in zip(rows, top.iterrows()):  # an unscored trial: no rank, no fit time
        assert row.split()[0] == (str(int(trial["rank"])) if trial["status"] == "ok" else "-")
