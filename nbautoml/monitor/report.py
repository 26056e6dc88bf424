"""``MonitorReport``: the result of monitoring one batch, and how it is shown (text and HTML)."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..words import counted

_COLORS = {"alert": "#c62828", "warn": "#ef6c00", "info": "#1565c0", "ok": "#2e7d32"}
_HTML_ROWS = 25


@dataclass
class MonitorReport:
    """What monitoring found in one batch.

    Attributes
    ----------
    status : {"ok", "warn", "alert"}
        The worst severity among the findings ("info" counts as ok).
    findings : DataFrame
        One row per feature and check, worst first: ``feature``, ``check``,
        ``severity``, ``statistic``, ``p_value``, ``q_value`` (Benjamini-Hochberg),
        ``psi``, ``wasserstein`` (in reference std), ``value``, ``reference``, ``detail``.
    n_rows : int
    name, version : str or None
        The monitored model, as stored in the history.
    metric, metric_value, cv_score : str, float, float
        The model's metric on the labelled rows (NaN without labels) and its CV estimate.
    anomaly_scores : ndarray or None
        One score per row (higher is more unusual); None without a detector.
    anomaly_threshold : float or None
        Scores above it count as anomalies (1 % of the training rows are).
    history_id : int or None
        The batch's id in the history database, when it was saved.
    notes : list of str
        What monitoring assumed (e.g. where the labels came from).
    thresholds : dict
        The :class:`~nbautoml.monitor.Thresholds` used.
    action : {"retrain", "none"} or None
        What the retraining policy recommends (None: no policy was given).
    recommendation : str
        Why (the trigger that held, or why none did).
    policy : dict or None
        The :class:`~nbautoml.policy.RetrainPolicy` used.
    """

    status: str
    findings: pd.DataFrame
    n_rows: int
    name: str | None = None
    version: str | None = None
    metric: str | None = None
    metric_value: float = float("nan")
    cv_score: float = float("nan")
    anomaly_scores: np.ndarray | None = field(default=None, repr=False)
    anomaly_threshold: float | None = None
    created: float = field(default_factory=time.time)
    history_id: int | None = None
    notes: list[str] = field(default_factory=list)
    thresholds: dict = field(default_factory=dict, repr=False)
    action: str | None = None
    recommendation: str = ""
    policy: dict | None = field(default=None, repr=False)

    def problems(self) -> pd.DataFrame:
        """The findings with severity "warn" or "alert"."""
        return self.findings[self.findings["severity"].isin(["warn", "alert"])].reset_index(
            drop=True
        )

    def drifted_features(self) -> list[str]:
        """Features whose drift finding is "warn" or "alert", worst first."""
        rows = self.problems()
        return rows.loc[rows["check"] == "drift", "feature"].tolist()

    def anomalies(self, top: int = 10) -> pd.Series:
        """The ``top`` most unusual rows: row position to anomaly score."""
        if self.anomaly_scores is None:
            return pd.Series(dtype=float)
        order = np.argsort(-self.anomaly_scores, kind="stable")[:top]
        return pd.Series(self.anomaly_scores[order], index=order, name="anomaly_score")

    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        return {
            s: int((self.findings["severity"] == s).sum()) for s in ("alert", "warn", "info", "ok")
        }

    def to_dict(self) -> dict:
        """The report as plain JSON-ready values (NaN as None): what ``nbautoml monitor --json`` prints."""
        anomalies = None
        if self.anomaly_scores is not None and self.anomaly_threshold is not None:
            anomalies = int((self.anomaly_scores > self.anomaly_threshold).sum())
        from ..persist import json_ready

        findings = self.findings.astype(object).where(self.findings.notna(), None)
        return json_ready({
            "status": self.status, "name": self.name, "version": self.version, "n_rows": self.n_rows,
            "metric": self.metric, "metric_value": self.metric_value, "cv_score": self.cv_score,
            "counts": self.counts(), "anomalies": anomalies, "anomaly_threshold": self.anomaly_threshold,
            "findings": findings.to_dict(orient="records"), "notes": list(self.notes),
            "action": self.action, "recommendation": self.recommendation, "history_id": self.history_id,
            "thresholds": self.thresholds, "created": self.created,
        })

    def __repr__(self) -> str:
        c = self.counts()
        head = (
            f"MonitorReport: {self.status.upper()} for {self.name or 'model'}"
            f"{'' if self.version is None else ' v' + str(self.version)}: {self.n_rows} row{'' if self.n_rows == 1 else 's'}, "
            f"{counted(c['alert'], 'alert')}, {counted(c['warn'], 'warning')}"
        )
        lines = [head]
        if not np.isnan(self.metric_value):
            lines.append(f"  {self.metric}: {self.metric_value:.4f} (CV {self.cv_score:.4f})")
        shown = self.findings[self.findings["severity"] != "ok"]
        # the model's own findings ("(prediction)", "(labels)", "(rows)") lead this short summary;
        # the table keeps the columns that explain them first
        whole_model = shown["feature"].astype(str).str.startswith("(")
        shown = pd.concat([shown[whole_model], shown[~whole_model]])
        for row in shown.head(10).itertuples():
            lines.append(f"  [{row.severity}] {row.feature} {row.check}: {row.detail}")
        if len(shown) > 10:
            lines.append(f"  ... and {len(shown) - 10} more (report.findings lists them all)")
        lines.extend(f"  note: {n}" for n in self.notes)
        if self.action is not None:
            lines.append(f"  action: {self.action} ({self.recommendation})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return report_html(self)


def report_html(report: MonitorReport) -> str:
    """The report as an HTML block: a status line and the findings table, worst first."""
    c = report.counts()
    color = _COLORS[report.status]
    esc = html.escape
    title = esc(
        f"{report.name or 'model'}" + ("" if report.version is None else f" v{report.version}")
    )
    parts = [
        "<div class='nbautoml-monitor'>",
        f"<p><span style='background:{color};color:white;padding:2px 8px;border-radius:3px;"
        f"font-weight:bold'>{esc(report.status.upper())}</span> "
        f"<b>{title}</b>: {report.n_rows:,} row{'' if report.n_rows == 1 else 's'}; {counted(c['alert'], 'alert')}, {counted(c['warn'], 'warning')}, "
        f"{counted(c['info'], 'note')}</p>",
    ]
    if not np.isnan(report.metric_value):
        parts.append(
            f"<p>{esc(str(report.metric))}: <b>{report.metric_value:.4f}</b> "
            f"(CV estimate {report.cv_score:.4f})</p>"
        )
    shown = report.findings[report.findings["severity"] != "ok"]
    if shown.empty:
        shown = report.findings
    table = shown.head(_HTML_ROWS)
    cells = [
        "<table><thead><tr>"
        + "".join(
            f"<th>{h}</th>"
            for h in ("severity", "feature", "check", "PSI", "Wasserstein", "p (BH)", "detail")
        )
        + "</tr></thead><tbody>"
    ]
    for row in table.itertuples():
        color = _COLORS[row.severity]
        sev = f"<span style='color:{color};font-weight:bold'>{esc(row.severity)}</span>"
        cells.append(
            f"<tr><td>{sev}</td><td>{esc(str(row.feature))}</td><td>{esc(row.check)}</td>"
            f"<td>{_num(row.psi)}</td><td>{_num(row.wasserstein)}</td>"
            f"<td>{_num(row.q_value, p=True)}</td>"
            f"<td style='text-align:left'>{esc(row.detail)}</td></tr>"
        )
    cells.append("</tbody></table>")
    parts.extend(cells)
    rest = len(report.findings) - len(table)
    if rest > 0:
        parts.append(f"<p><i>{counted(rest, 'more finding')} in report.findings.</i></p>")
    parts.extend(f"<p><i>{esc(n)}</i></p>" for n in report.notes)
    if report.action is not None:
        parts.append(
            f"<p>Recommended action: <b>{esc(report.action)}</b> ({esc(report.recommendation)})</p>"
        )
    parts.append("</div>")
    return "".join(parts)


def _num(x, p=False) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return ""
    if p:
        return "&lt;1e-4" if x < 1e-4 else f"{x:.4f}"
    return f"{x:.3f}"
