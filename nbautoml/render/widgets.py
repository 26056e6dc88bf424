"""The ipywidgets search panel: progress bar, status and leaderboard, convergence plot.

Three widgets change while the search runs: a ``FloatProgress`` (the budget used), an ``HTML``
(status, best score, failures, top-10 leaderboard) and an ``Image`` (the convergence plot as
PNG). No ``Output`` widget is used: its contents are lost in conversions and do not show in
Colab, and writing to it from another thread lands in the wrong cell
(jupyter-widgets/ipywidgets#2358, #2279). A redraw sends at most two comm messages (bar, HTML),
at most four times a second, plus one image every two seconds at most.

When the search ends and the static result follows, the panel shrinks to its bar and one
status line (the live leaderboard and plot are hidden), so nothing shows twice; without a
static result it keeps them.

The panel is displayed as a MIME bundle that carries, next to the widget view, a text/plain
and text/html fallback: a front end without the widget manager shows a short note instead of
``HBox(children=...)`` (EpistasisLab/tpot#909). The static results that follow the panel carry
the actual information.
"""

from __future__ import annotations

from .live import Throttle
from .panel import SearchPanel, ipython_display

_FALLBACK_TEXT = ("nbautoml live search panel (an ipywidgets view; the results are shown below "
                  "when the search ends)")


class WidgetPanel(SearchPanel):
    """The live panel as ipywidgets (see the module docstring)."""

    update_interval = 0.25
    plot_interval = 2.0
    plot_dpi = 80
    plot_width = 440  # px, as shown

    def __init__(self, *args, display=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._plot_throttle = Throttle(self.plot_interval, self.clock)
        self._plotted_version = -1
        self._display = display or ipython_display
        self.bar = self.info = self.image = self.box = None
        self.n_plots = 0

    # ---------------------------------------------------------------- widgets
    def _start(self) -> None:
        import ipywidgets as w

        self.bar = w.FloatProgress(value=self.state.fraction(), min=0.0, max=1.0, bar_style="info",
                                   description="search", layout=w.Layout(width="320px"))
        self.info = w.HTML(value=self._info_html(), layout=w.Layout(min_width="420px"))
        self.image = w.Image(format="png", layout=w.Layout(width=f"{self.plot_width}px",
                                                           visibility="hidden",
                                                           margin="4px 0 0 12px"))
        # side by side when the notebook is wide enough (the table is ~750 px), else wrapped;
        # top-aligned, so the image keeps its proportions next to a taller table
        self.box = w.VBox([self.bar, w.HBox([self.info, self.image],
                                            layout=w.Layout(flex_flow="row wrap",
                                                            align_items="flex-start"))])
        bundle = dict(self.box._repr_mimebundle_())
        bundle["text/plain"] = _FALLBACK_TEXT
        bundle["text/html"] = f"<div style='color:#777;font-size:12px'>{_FALLBACK_TEXT}</div>"
        self._display(bundle)

    def _info_html(self, leaderboard: bool = True) -> str:
        from .html import progress_html

        return progress_html(self.state, self.title, self.top, bar=False, leaderboard=leaderboard)

    def _plot_png(self) -> bytes:
        from .plots import NbFigure, _convergence_info, draw_convergence, figure_png

        fig = NbFigure(figsize=(5.4, 3.4), layout="constrained")
        draw_convergence(_convergence_info(self.state), fig.add_subplot(), compact=True)
        return figure_png(fig, dpi=self.plot_dpi)

    def _set_plot(self, force: bool = False) -> None:
        if self.state.version == self._plotted_version or not self.state.n_done:
            return
        if not self._plot_throttle.ready(force):
            return
        self.image.value = self._plot_png()
        if self.image.layout.visibility == "hidden":
            self.image.layout.visibility = "visible"
        self._plotted_version = self.state.version
        self.n_plots += 1

    def _update(self) -> None:
        self.bar.value = self.state.fraction()
        self.info.value = self._info_html()
        self._set_plot()

    def _final(self) -> None:
        status = self.state.status
        with self.bar.hold_sync():
            if status == "completed":
                self.bar.value = 1.0
                self.bar.bar_style = "success"
            else:  # interrupted or failed: leave the bar where it stopped, marked
                self.bar.value = self.state.fraction()
                self.bar.bar_style = "danger"
            self.bar.description = {"completed": "done", "interrupted": "interrupted"}.get(status, status)
        self.info.value = self._info_html()
        if not self.result_follows:  # the last plot; else the result's own plot comes below
            self._set_plot(force=True)
        self.n_updates += 1

    def _compact(self) -> None:
        # the static result below has the leaderboard and the plots: the panel keeps its bar
        # and one status line, so nothing shows twice
        self.info.value = self._info_html(leaderboard=False)
        self.image.layout.display = "none"
        self.n_updates += 1

    def _result_missing(self) -> None:
        self._set_plot(force=True)  # the last plot, skipped in _final for the result's own
