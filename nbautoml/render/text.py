"""Plain-text views of a search: for terminals, logs and the text/plain part of every display."""

from __future__ import annotations

from .live import LiveState

STATUS_WORDS = {
    "waiting": "starting",
    "running": "running",
    "completed": "finished",
    "interrupted": "INTERRUPTED",
    "failed": "FAILED",
}


def fmt_score(score, std=None) -> str:
    if score is None:
        return "n/a"
    return f"{score:.4f}" if std is None else f"{score:.4f} ± {std:.4f}"


def fmt_seconds(seconds) -> str:
    """Fit times in the live and final tables: always two decimals ("0.20", "12.35")."""
    try:
        return f"{float(seconds):.2f}"
    except (TypeError, ValueError):
        return str(seconds)


def budget_text(state: LiveState) -> str:
    """"12 trials (2 failed: 1 timeout, 1 failed) · 5.1 / 10 s"."""
    trials = (f"{state.n_done}/{state.max_evals} trials" if state.max_evals
              else f"{state.n_done} trial" + ("" if state.n_done == 1 else "s"))
    counts = state.failure_counts()
    if state.n_failed:
        detail = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        trials += f" ({state.n_failed} failed or timed out: {detail})" if detail else \
            f" ({state.n_failed} failed or timed out)"
    seconds = (f"{state.elapsed:.1f} / {state.time_budget:g} s" if state.time_budget
               else f"{state.elapsed:.1f} s")
    return f"{trials} · {seconds}"


def status_line(state: LiveState, title: str | None = None) -> str:
    """One line: status, budget used, best score so far."""
    head = f"nbautoml {title}: " if title else "nbautoml: "
    best = fmt_score(state.best_score)
    best_text = f"best {state.metric_} {best}"
    if state.best is not None:
        best_text += f" ({state.best.family}, trial {state.best.trial_id})"
    line = f"{head}{STATUS_WORDS.get(state.status, state.status)} · {budget_text(state)} · {best_text}"
    if state.finished and state.reason:
        line += f" · {state.reason}"
    if state.status == "interrupted":
        line += " · the best model so far is kept"
    return line


def leaderboard_text(state: LiveState, top: int = 10, width: int = 60) -> str:
    """The live leaderboard as fixed-width text."""
    rows = state.leaderboard(top)
    if not rows:
        return "(no successful trial yet)"
    metric = state.metric_
    lines = [f"{'rank':>4}  {'model':<24}{metric:>20}  {'fit s':>6}  pipeline"]
    for r in rows:
        score = fmt_score(r.score, r.score_std) + (" ≈" if r.tied else "  ")
        pipeline = r.pipeline if len(r.pipeline) <= width else r.pipeline[: width - 1] + "…"
        lines.append(f"{r.rank:>4}  {r.model:<24}{score:>20}  {fmt_seconds(r.fit_time):>6}  {pipeline}")
    if any(r.tied for r in rows):
        lines.append("≈ = not significantly different from the best (paired t-test over the folds)")
    return "\n".join(lines)


def progress_text(state: LiveState, title: str | None = None, top: int = 10) -> str:
    """Status line plus the leaderboard, as text/plain."""
    return status_line(state, title) + "\n" + leaderboard_text(state, top)


def result_board_text(result, top: int = 10, width: int = 60) -> str:
    """The result's leaderboard (``leaderboard_display``) as compact text: long pipelines and
    errors are cut, text columns are left-aligned, an empty error column is left out, and a trial without a
    score (failed, timed out) shows no rank and no fit time."""
    import pandas as pd

    board = result.leaderboard_display(top).copy()
    scored = board["status"].eq("ok") if "status" in board.columns else pd.Series(True, board.index)
    if "rank" in board.columns:
        board["rank"] = [str(int(r)) if ok and not pd.isna(r) else "-" for r, ok in zip(board["rank"], scored)]
    if "fit_time" in board.columns:
        board["fit_time"] = [fmt_seconds(t) if ok and not pd.isna(t) else "" for t, ok in
                             zip(board["fit_time"], scored)]
    if "error" in board.columns:
        errors = board["error"].fillna("").astype(str)
        if not errors.str.len().any():
            board = board.drop(columns=["error"])
        else:
            board["error"] = errors.map(lambda e: e if len(e) <= 40 else e[:39] + "…")
    if "pipeline" in board.columns:
        board["pipeline"] = board["pipeline"].astype(str).map(
            lambda p: p if len(p) <= width else p[: width - 1] + "…")
    return frame_text(board, width=250, max_colwidth=width + 5,
                      left=("model", "pipeline", "error"))


def frame_text(frame, width: int = 200, max_colwidth: int = 80, left=None, float_format=None) -> str:
    """``frame`` as text without its index, its ``left`` columns (default: the text columns)
    left-aligned as a reader scans them; numbers stay right-aligned (``float_format`` as pandas')."""
    import pandas as pd

    frame = frame.copy()
    if left is None:
        left = [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])
                or pd.api.types.is_string_dtype(frame[c])]
    for column in left:
        if column not in frame.columns:
            continue
        values = frame[column].map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v))
        values = values.map(lambda v: v if len(v) <= max_colwidth else v[: max_colwidth - 1] + "…")
        size = max([len(str(column)), *values.str.len()])
        frame[column] = values.str.ljust(size)
        frame = frame.rename(columns={column: str(column).ljust(size)})
    with pd.option_context("display.width", width, "display.max_colwidth", max_colwidth + 5):
        text = frame.to_string(index=False, na_rep="", float_format=float_format)
    return "\n".join(line.rstrip() for line in text.splitlines())  # no padding after the last column


def board_legend(result) -> str:
    """What the leaderboard's marks mean, for a text view."""
    from ..engine.leaderboard import IN_MODEL_NOTE

    return (f"score = mean ± std over the folds ({result.validation_.description}); ≈ = not "
            f"significantly different from the best (paired corrected t-test); {IN_MODEL_NOTE}.")


def shown_path(path) -> str:
    """``path`` relative to the working directory when it is below it, else as given: what
    output shows of a file (no home directories in saved notebooks and logs)."""
    import os

    try:
        relative = os.path.relpath(str(path))
    except ValueError:  # another drive on Windows
        return str(path)
    return relative if not relative.startswith("..") else str(path)
