"""The live search panel: a listener for the engine's events that shows the search as it runs.

``make_panel()`` returns a callable to pass as ``AutoML(callbacks=[panel])``. Where a widget
front end runs (JupyterLab, Notebook 7, VS Code) it is an ipywidgets panel; elsewhere (nbconvert
or nbclient execution, nbval, Colab, terminal IPython, plain Python) the same information comes
as an HTML block updated in place through a ``display_id`` with a text/plain twin, or as
occasional text lines where there is no rich display at all.

Whatever the front end, when the search ends the panel is followed by static outputs: the
result summary and leaderboard as HTML (with a text/plain twin) and the convergence and main
diagnostic plots as PNG, so a notebook saved to disk shows the results without a kernel or
widget state. Once they are shown, the live view is cut down to its bar and one status line
(status, trials, time, best score, why it stopped), so the leaderboard and plot do not show
twice; without a static result (``show_result=False``, a failed search) it keeps them.

Rules the panel keeps (see RELIABILITY.md U-01..U-04):

* it runs in the thread that calls it (the engine calls listeners in the main thread) and never
  uses ``with out:``; widgets change only through their values;
* live redraws are throttled: at most one per ``update_interval`` (0.25 s for widgets, 0.5 s for
  HTML blocks) and one plot per ``plot_interval`` (2 s), so a widget panel sends under 10 comm
  messages per second however fast the trials are;
* a rendering error is logged once and never stops the search; the static results are still
  written at the end.

Examples
--------
>>> from nbautoml.render.panel import make_panel
>>> panel = make_panel(widgets=False)
>>> type(panel).__name__
'TextPanel'
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time

from .live import LiveState, Throttle
from .text import progress_text, status_line

log = logging.getLogger("nbautoml")

ENV_VAR = "NBAUTOML_WIDGETS"
# program or module name -> the headless runner it is (the kernel's outputs only go to a file)
_HEADLESS_RUNNERS = {
    "nbconvert": "nbconvert", "jupyter-nbconvert": "nbconvert",
    "jupyter-execute": "nbclient", "nbclient": "nbclient",
    "papermill": "papermill",
    "pytest": "pytest", "py.test": "pytest",
}
# programs that serve a front end: the kernel belongs to them, whatever started them
_FRONT_ENDS = ("jupyter-lab", "jupyterlab", "jupyter-notebook", "notebook", "jupyter-server",
               "jupyter_server", "jupyter-nbclassic", "nbclassic", "voila", "jupyter-voila")
_PYTHON = re.compile(r"(python|pythonw|pypy)[0-9.]*[tw]?")
_PYTHON_OPTIONS_WITH_VALUE = ("-W", "-X", "-Q")
_WRAPPERS = {"coverage": "run"}  # coverage run [-m module | script]: the program is the module

__all__ = ["make_panel", "widgets_supported", "SearchPanel", "TextPanel", "show_result",
           "result_figure", "ENV_VAR"]


# --------------------------------------------------------------------------- front-end detection


def _shell():
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    return get_ipython()


def _headless_runner(max_depth: int = 4) -> str | None:
    """The name of a headless notebook runner among this process's ancestors, if any.

    A kernel started by nbconvert, nbclient, papermill or nbval (pytest) has no front end to
    draw widgets: its outputs only go to a file. The runner is the process that started the
    kernel, so its program name says what it is (see :func:`_runner_in`). The walk up stops
    at a front-end server (``jupyter lab``, ``jupyter notebook``, ...): a JupyterLab started
    from a test run or a script still draws widgets.
    """
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return None
    try:
        process = psutil.Process(os.getpid()).parent()
        for _ in range(max_depth):
            if process is None:
                break
            cmdline = process.cmdline()
            if _program(cmdline) in _FRONT_ENDS:
                return None
            found = _runner_in(cmdline)
            if found:
                return found
            process = process.parent()
    except (psutil.Error, OSError):
        return None
    return None


def _base_name(arg: str) -> str:
    """A program's name from its path: POSIX or Windows, without .exe / .py / -script.py."""
    name = arg.replace("\\", "/").rsplit("/", 1)[-1].lower()
    for suffix in ("-script.py", ".exe", ".py"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _program(cmdline: list[str]) -> str | None:
    """What a command line runs: argv[0]'s name; for a Python interpreter the ``-m`` module
    or the script's name; ``jupyter-<sub>`` for ``jupyter <sub>``; for ``coverage run`` the
    program it runs.

    >>> _program(["/venv/bin/python3.11", "-u", "-m", "pytest", "tests"])
    'pytest'
    >>> _program(["jupyter", "nbconvert", "--execute", "a.ipynb"])
    'jupyter-nbconvert'
    >>> _program(["/home/me/pytest-tutorial/.venv/bin/jupyter-lab"])
    'jupyter-lab'
    """
    args = [str(a) for a in cmdline]
    if not args:
        return None
    name, rest = _base_name(args[0]), args[1:]
    if _PYTHON.fullmatch(name):
        i = 0
        while i < len(rest):
            arg = rest[i]
            if arg.startswith("-m"):  # -m module, or -mmodule
                module = arg[2:] or (rest[i + 1] if i + 1 < len(rest) else "")
                name = module.removesuffix(".__main__").lower()
                rest = rest[i + 1:] if arg[2:] else rest[i + 2:]
                break
            if arg in ("-c", "-"):  # code on the command line or stdin: no program name
                return name
            if arg in _PYTHON_OPTIONS_WITH_VALUE:
                i += 2
                continue
            if arg.startswith("-"):
                i += 1
                continue
            name, rest = _base_name(arg), rest[i + 1:]
            break
        else:
            return name
    if name in _WRAPPERS and rest[:1] == [_WRAPPERS[name]]:
        inner = _program(["python", *rest[1:]])
        return name if inner == "python" else inner
    if name == "jupyter" and rest and not rest[0].startswith("-"):
        return f"jupyter-{rest[0].lower()}"
    return name


def _runner_in(cmdline: list[str]) -> str | None:
    """The headless runner a command line runs, by its program or module name, or None.

    Only the program counts (``jupyter nbconvert``, ``python -m pytest``, ``papermill``), not
    the other arguments: ``jupyter lab ~/pytest-tutorial`` is a front end. A pytest run is
    also recognised by nbval's ``--nbval`` / ``--nbval-lax`` options.
    """
    program = _program(cmdline)
    if program in _HEADLESS_RUNNERS:
        return _HEADLESS_RUNNERS[program]
    if any(str(arg) in ("--nbval", "--nbval-lax") for arg in cmdline):
        return "nbval"
    return None


def widgets_supported() -> tuple[bool, str]:
    """Whether a live widget panel can be shown here, and why (or why not).

    In order: the ``NBAUTOML_WIDGETS`` environment variable (``0``/``1``) decides when set;
    ipywidgets must import; the code must run in a Jupyter kernel (not terminal IPython or a
    script) with a comm manager; Colab (whose widget manager needs a manual opt-in for
    ipywidgets 8) and kernels started by a headless runner (nbconvert, nbclient, papermill,
    nbval) get the HTML fallback.
    """
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False, f"{ENV_VAR}={env}"
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False, "ipywidgets is not installed (pip install ipywidgets)"
    if env in ("1", "true", "yes", "on"):
        return True, f"{ENV_VAR}={env}"
    shell = _shell()
    if shell is None:
        return False, "not running in IPython"
    if getattr(shell, "kernel", None) is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return False, f"no Jupyter kernel ({type(shell).__name__})"
    try:
        from comm import get_comm_manager

        if get_comm_manager() is None:
            return False, "the kernel has no comm manager"
    except Exception:  # noqa: BLE001 - any failure here means: no comms
        if getattr(shell.kernel, "comm_manager", None) is None:
            return False, "the kernel has no comm manager"
    if "google.colab" in sys.modules:
        return False, f"Colab (set {ENV_VAR}=1 after output.enable_custom_widget_manager())"
    runner = _headless_runner()
    if runner is not None:
        return False, f"the notebook runs headless under {runner}"
    return True, "Jupyter kernel with ipywidgets"


def make_panel(widgets: bool | None = None, title: str | None = None, top: int = 10,
               show_result: bool = True) -> SearchPanel:
    """A search listener that shows the search live and its results at the end.

    Parameters
    ----------
    widgets : bool, optional
        ``True`` for the ipywidgets panel, ``False`` for HTML/text updates (``--no-widgets``),
        ``None`` to detect the front end (see :func:`widgets_supported`).
    title : str, optional
        Shown in the panel's heading (e.g. the search name).
    top : int, default=10
        Rows of the live leaderboard.
    show_result : bool, default=True
        At the end, display the result summary, leaderboard and plots.

    Returns
    -------
    SearchPanel
        Call it with engine events (``AutoML(callbacks=[panel])``); ``panel.finish(result)``
        writes the final outputs (it runs on ``search_finished`` too, and only once).
    """
    reason = "widgets=False"
    if widgets is None:
        widgets, reason = widgets_supported()
    elif widgets:
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            log.warning("widgets=True, but ipywidgets is not installed (pip install ipywidgets); "
                        "showing HTML updates instead.")
            widgets, reason = False, "ipywidgets is not installed"
    if widgets:
        from .widgets import WidgetPanel

        return WidgetPanel(title=title, top=top, show_result=show_result)
    panel = TextPanel(title=title, top=top, show_result=show_result)
    panel.reason = reason
    return panel


# --------------------------------------------------------------------------- displaying


def _rich_display() -> bool:
    """True when IPython's display() reaches a front end that keeps rich outputs."""
    shell = _shell()
    return shell is not None and type(shell).__name__ != "TerminalInteractiveShell"


def ipython_display(bundle: dict, display_id=None, update: bool = False, metadata=None):
    """Display (or update) a raw MIME bundle; returns the DisplayHandle when one is asked for.

    ``metadata`` is the output's metadata per MIME type (``{"image/png": {"alt": ...}}``).
    """
    from IPython.display import display, update_display

    if update:
        update_display(bundle, raw=True, display_id=display_id, metadata=metadata)
        return None
    return display(bundle, raw=True, display_id=display_id, metadata=metadata)


def result_text(result, top: int = 10) -> str:
    """The result as text/plain: its repr and the top of the leaderboard."""
    from .text import result_board_text

    return f"{result!r}\n\n{result_board_text(result, top)}"


def result_figure(result):
    """One figure with the convergence plot and the main diagnostic (confusion or residuals)."""
    from .plots import NbFigure, plot_confusion, plot_convergence, plot_residuals

    has_best = getattr(result, "best_trial_", None) is not None
    fig = NbFigure(figsize=(12, 4.4) if has_best else (6.4, 4.4), layout="constrained")
    if not has_best:
        plot_convergence(result, ax=fig.add_subplot())
        return fig
    left, right = fig.subplots(1, 2, width_ratios=[1.25, 1])
    plot_convergence(result, ax=left)
    try:
        if result.task_ == "regression":
            plot_residuals(result, ax=right)
        else:
            plot_confusion(result, ax=right)
    except Exception as exc:  # noqa: BLE001 - the convergence plot is still worth showing
        log.warning("nbautoml: the diagnostic plot failed (%s: %s).", type(exc).__name__, exc)
        right.set_axis_off()
        right.text(0.5, 0.5, f"diagnostic plot unavailable:\n{type(exc).__name__}", ha="center",
                   va="center", transform=right.transAxes)
    return fig


def show_result(result, top: int = 10, display=None) -> None:
    """Display a finished search: summary and leaderboard (HTML + text), then plots (PNG).

    ``display(bundle)`` receives raw MIME bundles; by default IPython's display, or print of
    the text/plain part outside IPython.
    """
    from .html import result_html
    from .plots import png_display_bundle

    if display is None:
        display = ipython_display if _rich_display() else _print_bundle
    display({"text/html": result_html(result, top), "text/plain": result_text(result, top)})
    fig = result_figure(result)
    what = "confusion matrix" if getattr(result, "task_", "") != "regression" else "residuals"
    data, metadata = png_display_bundle(fig)
    data["text/plain"] = f"<nbautoml plots: convergence and {what} (PNG)>"
    display(data, metadata=metadata)


def _print_bundle(bundle: dict, display_id=None, update: bool = False, metadata=None):
    text = bundle.get("text/plain")
    if text and not bundle.get("image/png"):
        print(text, flush=True)
    return None


# --------------------------------------------------------------------------- the listener


class SearchPanel:
    """Base listener: keeps a :class:`LiveState`, throttles redraws, writes the final outputs.

    Subclasses implement ``_start`` (first display), ``_update`` (a live redraw), ``_final``
    (the last redraw of the live view) and ``_compact`` (after the static result was shown
    below: cut the live view down to a status line, so nothing shows twice).
    """

    update_interval = 0.25
    plot_interval = 2.0

    def __init__(self, title: str | None = None, top: int = 10, show_result: bool = True,
                 clock=time.monotonic):
        self.title = title
        self.top = top
        self.show_result = show_result
        self.state = LiveState()
        self.clock = clock
        self._throttle = Throttle(self.update_interval, clock)
        self.n_updates = 0  # live redraws done
        self.started = False
        self.finished = False
        self.result = None
        self.error = None
        self.render_failed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {status_line(self.state, self.title)}>"

    # ---------------------------------------------------------------- events
    def __call__(self, event) -> None:
        self.state.update(event)
        if event.kind == "search_finished":
            self.finish(event.data.get("result"))
            return
        if self.render_failed or self.finished:
            return
        if self._throttle.ready(force=event.kind == "search_started"):
            self._guard(self._redraw)

    def _redraw(self) -> None:
        if not self.started:
            self.started = True
            self._start()  # shows the current state
        else:
            self._update()
        self.n_updates += 1

    def _guard(self, action, *args) -> bool:
        try:
            action(*args)
            return True
        except Exception as exc:  # noqa: BLE001 - a display problem must not stop the search
            if not self.render_failed:
                log.warning("nbautoml: the live panel failed (%s: %s); the search goes on and the "
                            "results are shown when it ends.", type(exc).__name__, exc)
            self.render_failed = True
            return False

    # ---------------------------------------------------------------- the end
    def finish(self, result=None, *, error: BaseException | None = None) -> None:
        """Show the final state and the static results. Safe to call more than once.

        Parameters
        ----------
        result : AutoML, optional
            The fitted search (also when interrupted).
        error : exception, optional
            The search failed with this error (no result): the panel shows the failed state.
        """
        if self.finished:
            return
        self.finished = True
        if result is not None:
            self.result = result
            try:
                self.state.update_from_result(result)
            except Exception as exc:  # noqa: BLE001
                log.debug("nbautoml: could not read the result's state: %s", exc)
        if error is not None:
            self.error = error
            self.state.status = "failed"
            self.state.reason = f"{type(error).__name__}: {error}"
        elif result is None and self.state.status == "running":
            self.state.status = "failed"
        panel_up = False
        if self.started or result is not None:
            try:
                if not self.started:
                    self.started = True
                    self._start()
                self._final()
                panel_up = True
            except Exception as exc:  # noqa: BLE001
                if not self.render_failed:
                    log.warning("nbautoml: the panel's final update failed (%s: %s).",
                                type(exc).__name__, exc)
        if result is not None and self.show_result:
            try:
                show_result(result, self.top, display=self._result_display())
            except Exception as exc:  # noqa: BLE001
                log.warning("nbautoml: showing the result failed (%s: %s); the result is intact.",
                            type(exc).__name__, exc)
                if panel_up:  # the panel stays the only view of the search
                    self._guard(self._result_missing)
                return
            # the result below repeats the leaderboard and the plot: the panel keeps one status
            # line. Only now, so the output area never shrinks before the result is there.
            if panel_up:
                try:
                    self._compact()
                except Exception as exc:  # noqa: BLE001
                    log.warning("nbautoml: the panel's final update failed (%s: %s).",
                                type(exc).__name__, exc)

    def _result_display(self):
        return getattr(self, "_display", None)

    # ---------------------------------------------------------------- to implement
    def _start(self) -> None:
        raise NotImplementedError

    def _update(self) -> None:
        raise NotImplementedError

    def _final(self) -> None:
        self._update()

    def _compact(self) -> None:
        raise NotImplementedError

    def _result_missing(self) -> None:
        """The static result could not be shown: complete the live view instead."""

    @property
    def result_follows(self) -> bool:
        """A static result will be shown below the panel when the search ends."""
        return self.show_result and self.result is not None


class TextPanel(SearchPanel):
    """The panel without widgets.

    In IPython (a kernel, nbclient, an embedded shell) it shows one HTML block with a
    text/plain twin and updates it in place (``display_id``), at most every 0.5 s. Without rich
    display (terminal IPython, plain Python) it prints a status line at most every 5 s.
    """

    update_interval = 0.5
    line_interval = 5.0

    def __init__(self, *args, rich: bool | None = None, display=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rich = _rich_display() if rich is None else rich
        self.reason = ""
        if not self.rich:
            self._throttle = Throttle(self.line_interval, self.clock)
        self._display = display or (ipython_display if self.rich else _print_bundle)
        self._display_id = None

    def _bundle(self, leaderboard: bool = True) -> dict:
        from .html import progress_html

        text = progress_text(self.state, self.title, self.top) if leaderboard else \
            status_line(self.state, self.title)
        return {"text/html": progress_html(self.state, self.title, self.top, leaderboard=leaderboard),
                "text/plain": text}

    def _start(self) -> None:
        if self.rich:
            import uuid

            self._display_id = f"nbautoml-{uuid.uuid4().hex}"
            self._display(self._bundle(), display_id=self._display_id)
        else:
            self._display({"text/plain": status_line(self.state, self.title)})

    def _update(self) -> None:
        if self.rich:
            self._display(self._bundle(), display_id=self._display_id, update=True)
        else:
            self._display({"text/plain": status_line(self.state, self.title)})

    def _final(self) -> None:
        if self.rich:
            self._display(self._bundle(), display_id=self._display_id, update=True)
        elif not self.result_follows:  # the result's own text carries the leaderboard
            self._display({"text/plain": progress_text(self.state, self.title, self.top)})
        self.n_updates += 1

    def _compact(self) -> None:
        if self.rich:
            self._display(self._bundle(leaderboard=False), display_id=self._display_id,
                          update=True)
            self.n_updates += 1
