"""Static HTML for results: readable in JupyterLab and in a saved notebook without a kernel."""

from __future__ import annotations

import html


def result_html(result) -> str:
    """The result's rich display: summary, best pipeline, metric and the top of the leaderboard."""
    s = result.summary()
    score_text = "n/a" if s["best_score"] is None else f"{s['best_score']:.4f} ± {s['best_score_std']:.4f}"
    status_color = {"completed": "#2e7d32", "interrupted": "#e65100"}.get(s["status"], "#555")
    rows = [
        ("Task", f"{s['task']} on <code>{html.escape(s['target'])}</code>"),
        (f"Best {s['metric']}", f"<b>{score_text}</b> ({html.escape(s['validation'])})"),
        ("Best pipeline", f"<code>{html.escape(str(s['best_pipeline']))}</code>"),
        ("Trials", f"{s['trials']} in {s['elapsed']:.1f} s ({html.escape(s['stop_reason'] or '')})"),
        ("Status", f"<span style='color:{status_color}'>{html.escape(s['status'])}</span>"),
    ]
    if s["dropped_columns"]:
        dropped = "; ".join(f"{html.escape(str(k))} ({html.escape(v)})" for k, v in s["dropped_columns"].items())
        rows.append(("Dropped columns", dropped))
    table = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
                    for k, v in rows)
    board = result.leaderboard_display(10).to_html(index=False, na_rep="", escape=True)
    return (f"<div class='nbautoml-result'><h4>nbautoml search</h4><table>{table}</table>"
            f"<p><b>Leaderboard</b> (top 10; ≈ = not significantly different from the best)</p>{board}</div>")
