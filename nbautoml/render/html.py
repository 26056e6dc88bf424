"""Static HTML for results and running searches.

Everything here is a plain HTML string with inline styles only (no scripts, no CSS classes that
need a stylesheet), so it reads the same in JupyterLab, VS Code, an nbconvert export and a
notebook saved to GitHub, with or without a kernel.
"""

from __future__ import annotations

import html

from .live import LiveState
from .text import STATUS_WORDS, budget_text, fmt_score, fmt_seconds, shown_path

STATUS_COLORS = {
    "waiting": "#546e7a",
    "running": "#1565c0",
    "completed": "#2e7d32",
    "interrupted": "#e65100",
    "failed": "#c62828",
}
_TABLE = "border-collapse:collapse;font-size:12px;margin-top:4px"
_CELL = "padding:2px 8px;text-align:left;border-bottom:1px solid #e0e0e0"
_TIE_NOTE = ("≈ = not significantly different from the best: a paired t-test over the same CV folds "
             "(corrected for overlapping training sets) gives p ≥ 0.05.")
_LIVE_TIE_NOTE = ("≈ = not significantly different from the best (paired t-test over the CV folds, "
                  "p ≥ 0.05)")
_INTERRUPTED = "Interrupted: the trials finished so far are kept and the best of them is the model."
LIVE_PIPELINE_WIDTH = 45  # characters of a pipeline in the live table (all of it on hover)
RUNNING_LINE_PX = 16  # the "Running: ..." line keeps this height, also between trials


def _e(value) -> str:
    return html.escape(str(value))


def _status_badge(status: str) -> str:
    color = STATUS_COLORS.get(status, "#555")
    return (f"<span style='color:white;background:{color};border-radius:3px;padding:0 6px;"
            f"font-size:11px'>{_e(STATUS_WORDS.get(status, status))}</span>")


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th style='{_CELL}'>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='{_CELL}'>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table style='{_TABLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def progress_bar_html(fraction: float, status: str, width: int = 260) -> str:
    """A bar drawn with two divs (no script, no widget)."""
    pct = max(0.0, min(100.0, 100.0 * fraction))
    color = STATUS_COLORS.get(status, "#1565c0")
    return (f"<div style='display:inline-block;vertical-align:middle;width:{width}px;height:10px;"
            f"background:#e0e0e0;border-radius:3px;overflow:hidden'>"
            f"<div style='width:{pct:.1f}%;height:100%;background:{color}'></div></div>")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _score_cell(score: str, tied: bool) -> str:
    mark = " <b title='tied with the best'>≈</b>" if tied else ""
    return f"<span style='white-space:nowrap'>{_e(score)}{mark}</span>"


def live_leaderboard_html(state: LiveState, top: int = 10) -> str:
    """The live top of the leaderboard: pipelines cut to ``LIVE_PIPELINE_WIDTH`` characters
    (the full text shows on hover), so the table leaves room for the plot beside it."""
    rows = state.leaderboard(top)
    if not rows:
        return "<div style='color:#777;font-size:12px'>No successful trial yet.</div>"
    body = []
    for r in rows:
        pipeline = (f"<code title='{_e(r.pipeline)}' style='white-space:nowrap'>"
                    f"{_e(_cut(r.pipeline, LIVE_PIPELINE_WIDTH))}</code>")
        body.append([str(r.rank), _e(r.model), _score_cell(fmt_score(r.score, r.score_std), r.tied),
                     fmt_seconds(r.fit_time), pipeline])
    # the note keeps its line while no row is tied, so the panel does not jump
    shown = "visible" if any(r.tied for r in rows) else "hidden"
    note = f"<div style='color:#777;font-size:11px;visibility:{shown}'>{_e(_LIVE_TIE_NOTE)}</div>"
    return _table(["rank", "model", _e(state.metric_), "fit s", "pipeline"], body) + note


def _running_html(state: LiveState) -> str:
    """The trials running now, on a line that is always there (empty between trials)."""
    running = state.running()
    now = ", ".join(f"{_e(t.family)} (trial {t.trial_id})" for t in running[:4])
    if len(running) > 4:
        now += f" and {len(running) - 4} more"
    text = f"Running: {now}" if now else "&nbsp;"
    return (f"<div class='nbautoml-running' style='font-size:11px;color:#777;"
            f"height:{RUNNING_LINE_PX}px;line-height:{RUNNING_LINE_PX}px;max-width:640px;"
            f"overflow:hidden;white-space:nowrap;text-overflow:ellipsis'>{text}</div>")


def _best_html(state: LiveState) -> str:
    best = f"<b>{_e(fmt_score(state.best_score))}</b>"
    if state.best is not None:
        best += f" ({_e(state.best.family)}, trial {state.best.trial_id})"
    return best


def progress_html(state: LiveState, title: str | None = None, top: int = 10, bar: bool = True,
                  leaderboard: bool = True) -> str:
    """The live view of a search: status, progress bar, best score, top of the leaderboard.

    With ``leaderboard=False`` and a finished search, the compact final status
    (:func:`final_status_html`): the static result that follows carries the rest.
    """
    if state.finished and not leaderboard:
        return final_status_html(state, title, bar=bar)
    name = f" <code>{_e(title)}</code>" if title else ""
    parts = [f"<div style='font-size:13px'><b>nbautoml search</b>{name} "
             f"{_status_badge(state.status)}</div>"]
    line = (progress_bar_html(state.fraction(), state.status) + " ") if bar else ""
    parts.append(f"<div style='margin:3px 0'>{line}<span style='font-size:12px'>"
                 f"{_e(budget_text(state))}</span></div>")
    parts.append(f"<div style='font-size:12px'>Best CV {_e(state.metric_)} so far: "
                 f"{_best_html(state)}</div>")
    if not state.finished:
        parts.append(_running_html(state))
    if state.finished and state.reason:
        parts.append(f"<div style='font-size:12px'>Stopped: {_e(state.reason)}</div>")
    if state.status == "interrupted":
        parts.append(f"<div style='font-size:12px;color:#e65100'>{_e(_INTERRUPTED)}</div>")
    if leaderboard:
        parts.append(live_leaderboard_html(state, top))
    return "<div class='nbautoml-progress'>" + "".join(parts) + "</div>"


def final_status_html(state: LiveState, title: str | None = None, bar: bool = True) -> str:
    """The end of a search in one line: status, trials and time, best score, why it stopped."""
    name = f" <code>{_e(title)}</code>" if title else ""
    facts = [_e(budget_text(state)), f"best CV {_e(state.metric_)} {_best_html(state)}"]
    if state.reason:
        facts.append(f"stopped: {_e(state.reason)}")
    line = (progress_bar_html(state.fraction(), state.status, width=160) + " ") if bar else ""
    parts = [f"<div style='font-size:13px;line-height:20px'>{line}<b>nbautoml search</b>{name} "
             f"{_status_badge(state.status)} <span style='font-size:12px'>{' · '.join(facts)}</span>"
             "</div>"]
    if state.status == "interrupted":
        parts.append(f"<div style='font-size:12px;color:#e65100'>{_e(_INTERRUPTED)}</div>")
    return ("<div class='nbautoml-progress nbautoml-final' style='margin-bottom:8px'>"
            + "".join(parts) + "</div>")


def leaderboard_html(result, top: int | None = 10) -> str:
    """The result's leaderboard (``leaderboard_display``) as an HTML table."""
    board = result.leaderboard_display(top)
    if "error" in board.columns and not board["error"].astype(str).str.len().any():
        board = board.drop(columns=["error"])
    if board.empty:
        return "<div style='color:#777;font-size:12px'>No trial finished.</div>"
    metric = getattr(result, "metric_", None)
    header = [_e(c) for c in board.columns]
    rows = []
    for _, row in board.iterrows():
        cells = []
        for column, value in row.items():
            text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
            if column == "pipeline":
                cells.append(f"<code>{_e(text)}</code>")
            elif column == "fit_time" and text:
                cells.append(fmt_seconds(value))
            elif column == metric and text:  # "0.8695 ± 0.0272 ≈" on one line
                cells.append(_score_cell(text.removesuffix(" ≈"), text.endswith(" ≈")))
            else:
                cells.append(_e(text))
        rows.append(cells)
    return _table(header, rows)


def result_html(result, top: int = 10) -> str:
    """The result's rich display: summary, best pipeline, metric and the top of the leaderboard."""
    s = result.summary()
    status = s["status"]
    score_text = "n/a" if s["best_score"] is None else fmt_score(s["best_score"], s["best_score_std"])
    statuses = s.get("statuses") or {}
    breakdown = ", ".join(f"{n} {k}" for k, n in sorted(statuses.items()))
    budget = f" of the {s['time_budget']:g} s budget" if s.get("time_budget") else ""
    if (s.get("n_jobs") or 1) > 1:
        budget += f", {s['n_jobs']} at a time"
    rows = [
        ("Task", f"{_e(s['task'])} on <code>{_e(s['target'])}</code>"),
        (f"{'CV' if s.get('traded') else 'Best CV'} {_e(s['metric'])}",
         f"<b>{_e(score_text)}</b> (mean ± std over the folds; {_e(s['validation'])})"),
        ("Pipeline" if s.get("traded") else "Best pipeline", f"<code>{_e(s['best_pipeline'] or 'none')}</code>"),
        ("Trials", f"{s['trials']} ({_e(breakdown)}) in {s['elapsed']:.1f} s{budget}"),
        ("Stopped", _e(s["stop_reason"] or "")),
    ]
    if (s.get("prefer", "accurate") != "accurate" or s.get("traded")) and s.get("preference"):
        rows.append((f"Preference ({_e(s['prefer'])})", _e(s["preference"])))
    ensemble = getattr(result, "ensemble_", None)
    if ensemble is not None:
        members = ", ".join(f"trial {tid} ×{weight}" for tid, weight in ensemble.weights.items())
        # pooled: one score over all the out-of-fold predictions, which is how the selection
        # compares them; it differs from the fold mean shown as the best CV score
        folds = ""
        if ensemble.folds_better is not None:  # None in models saved before the folds were counted
            folds = f", and better on {ensemble.folds_better} of its {ensemble.n_folds} validation folds"
        rows.append(("Ensemble", f"the model averages {len(ensemble.weights)} pipelines "
                                 f"({_e(members)}): {_e(s['metric'])} {ensemble.score:.4f} on the "
                                 f"out-of-fold predictions of all rows pooled, against "
                                 f"{ensemble.single_score:.4f} for the chosen single pipeline scored "
                                 f"the same way{folds}"))
    if s.get("decision_threshold") is not None:
        rows.append(("Decision threshold", f"the positive class <code>{_e(result.classes_[1])}</code> is "
                                           f"predicted from probability {_e(s['threshold_note'])}"))
    if status == "interrupted":
        has_model = getattr(result, "best_pipeline_", None) is not None
        note = ("The search was interrupted; the best pipeline found so far was refitted and is the model."
                if has_model else "The search was interrupted before a model could be fitted.")
        rows.append(("Interrupted", f"<span style='color:#e65100'>{_e(note)}</span>"))
    if s.get("time_order"):
        rows.append(("Validation", f"<span style='color:#e65100'>{_e(s['time_order'])}</span>"))
    if s.get("families_left"):
        left = "; ".join(f"<code>{_e(k)}</code> ({_e(v)})" for k, v in s["families_left"].items())
        rows.append(("Left early", f"families well behind the best got no more trials: {left}"))
    if s.get("linear_models"):
        rows.append(("Linear models", _e(s["linear_models"])))
    if s.get("target_scale"):
        rows.append(("Target", _e(s["target_scale"])))
    if s["dropped_columns"]:
        dropped = "; ".join(f"<code>{_e(k)}</code> ({_e(v)})" for k, v in s["dropped_columns"].items())
        rows.append(("Dropped columns", dropped))
    if s.get("metric_note"):
        rows.append(("Metric", f"{_e(s['metric'])}: {_e(s['metric_note'])}"))
    if s.get("column_notes"):
        notes = "; ".join(f"<code>{_e(k)}</code> ({_e(v)})" for k, v in s["column_notes"].items())
        rows.append(("Column notes", notes))
    if s.get("rows_dropped"):
        n = s["rows_dropped"]
        rows.append(("Rows left out", f"{n:,} row{'s' if n > 1 else ''} without a target"))
    rows.append(("Search directory", f"<code>{_e(shown_path(s['run_dir']))}</code>"))
    summary = "".join(f"<tr><th style='{_CELL};width:10em'>{k}</th><td style='{_CELL}'>{v}</td></tr>"
                      for k, v in rows)
    board = leaderboard_html(result, top)
    tied = result.leaderboard["tied_with_best"].head(top).iloc[1:].any() if len(result.leaderboard) else False
    note = f"<div style='color:#777;font-size:11px'>{_e(_TIE_NOTE)}</div>" if tied else ""
    from ..engine.ensemble import model_trials

    if model_trials(result):  # the board has an in_model column
        from ..engine.leaderboard import IN_MODEL_NOTE

        note += f"<div style='color:#777;font-size:11px'>{_e(IN_MODEL_NOTE)}</div>"
    return (f"<div class='nbautoml-result'><div style='font-size:14px'><b>nbautoml search result</b> "
            f"{_status_badge(status)}</div><table style='{_TABLE}'>{summary}</table>"
            f"<div style='margin-top:8px;font-size:13px'><b>Leaderboard</b> (top {min(top, s['trials'])} "
            f"of {s['trials']} trials, best first)</div>{board}{note}</div>")


def plan_html(plan) -> str:
    """A column plan (``DataPlan``) as a table: each column's dtype, role, reason and note."""
    frame = plan.to_frame()
    notes = plan.notes
    counts = frame["role"].value_counts()
    summary = ", ".join(f"{n} {role}" for role, n in counts.items())
    rows = []
    for record in frame.to_dict("records"):
        role = _e(record["role"])
        if record["role"] == "dropped":
            role = f"<span style='color:#9e9e9e'>{role}</span>"
        note = notes.get(record["column"], "")
        rows.append([f"<code>{_e(record['column'])}</code>", _e(record["dtype"]), role,
                     f"{record['unique']:,}", f"{record['missing']:.1%}", _e(record["reason"]),
                     f"<i>{_e(note)}</i>" if note else ""])
    table = _table(["column", "dtype", "role", "distinct", "missing", "reason", "note"], rows)
    return (f"<div class='nbautoml-plan'><div style='font-size:14px'><b>Column plan</b> "
            f"({len(frame)} columns: {_e(summary)})</div>{table}</div>")


def sanity_html(check) -> str:
    """The shuffled-target check (``SanityCheck``): three scores and what they mean."""
    verdict = ("<span style='color:#2e7d32'>passed</span>" if check.passed
               else "<span style='color:#c62828'>FAILED</span>")
    rows = [["real target", f"{check.score:.4f}"],
            ["shuffled target (best of the search)", f"{check.shuffled_score:.4f} ± {check.shuffled_std:.4f}"],
            ["chance (a model that ignores the features)", f"{check.chance_score:.4f}"]]
    table = _table(["CV " + _e(check.metric), "score"], rows)
    return (f"<div class='nbautoml-sanity'><div style='font-size:14px'><b>Shuffled-target check</b>: {verdict} "
            f"({_e(check.validation)})</div>{table}<p>{_e(check.summary)}</p></div>")
