"""The live panel: widget state from engine events, throttling, fallbacks, the end of a search."""

from __future__ import annotations

import logging
from html import escape as html_escape

import comm
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nbautoml.engine.records import SearchEvent, TrialRecord
from nbautoml.render import panel as panel_mod
from nbautoml.render.panel import TextPanel, make_panel, widgets_supported
from nbautoml.render.widgets import WidgetPanel

from .conftest import run_search


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class RecordingComm(comm.DummyComm):
    """A widget comm that records what it would send to the front end."""

    log: list = []
    clock = None

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        RecordingComm.log.append((RecordingComm.clock() if RecordingComm.clock else 0.0, msg_type, data))


@pytest.fixture
def comms(monkeypatch):
    RecordingComm.log = []
    RecordingComm.clock = None
    monkeypatch.setattr(comm, "create_comm", lambda *a, **k: RecordingComm(*a, **k))
    return RecordingComm


def comm_messages(comms):
    return [m for m in comms.log if m[1] == "comm_msg"]


class Displays:
    """Collects the MIME bundles a panel displays."""

    def __init__(self):
        self.calls = []

    def __call__(self, bundle, display_id=None, update=False, metadata=None):
        self.calls.append({"bundle": bundle, "display_id": display_id, "update": update,
                           "metadata": metadata})


def replay(panel, events, clock=None, step=0.0):
    for event in events:
        if clock is not None:
            clock.now += step
        panel(event)


def synthetic_events(n, metric="roc_auc", fail_every=7, time_budget=60.0):
    """A search of ``n`` trials, as the engine would report it (every 7th trial fails)."""
    events = []
    best, n_failed = None, 0
    base = dict(max_evals=None, time_budget=time_budget, metric=metric)

    def data(**more):
        return dict(base, n_done=more.pop("n_done"), n_failed=n_failed,
                    best_score=None if best is None else best.score, best=best, **more)

    events.append(SearchEvent("search_started", data(elapsed=0.0, n_done=0)))
    for i in range(n):
        record = TrialRecord(trial_id=i, config={"family": "ridge", "params": {"alpha": 1.0 + i},
                                                  "pre": {}}, started=0.01 * i)
        events.append(SearchEvent("trial_started", data(elapsed=0.01 * i, n_done=i, trial=record)))
        if i % fail_every == fail_every - 1:
            record = TrialRecord(trial_id=i, config=record.config, status="timeout", error="slow",
                                 finished=0.01 * i + 0.005)
            n_failed += 1
        else:
            score = 0.7 + 0.2 * ((i * 37) % 100) / 100
            record = TrialRecord(trial_id=i, config=record.config, status="ok", score=score,
                                 score_std=0.01, fold_scores=[score - 0.01, score, score + 0.01],
                                 fit_time=0.001, finished=0.01 * i + 0.005)
        improved = record.status == "ok" and (best is None or record.score > best.score)
        if improved:
            best = record
        events.append(SearchEvent("trial_finished", data(elapsed=0.01 * i + 0.005, n_done=i + 1,
                                                         trial=record)))
        if improved:
            events.append(SearchEvent("new_best", data(elapsed=0.01 * i + 0.005, n_done=i + 1,
                                                       trial=record)))
    return events


# --------------------------------------------------------------------------- widget panel


def test_widget_panel_state_from_a_real_search(binary_search, comms):
    result, events = binary_search
    shown = Displays()
    clock = FakeClock()
    panel = WidgetPanel(title="blood", display=shown, show_result=False, clock=clock)
    replay(panel, events[:-1], clock, step=0.3)  # everything but search_finished; no throttling
    state = panel.state
    assert panel.bar.max == 1.0 and 0 < panel.bar.value <= 1.0
    assert panel.bar.value == pytest.approx(state.n_done / 6)  # max_evals=6 binds first
    last = events[-2].data
    assert state.n_done == last["n_done"] and state.best_score == pytest.approx(last["best_score"])
    assert f"{last['best_score']:.4f}" in panel.info.value and "blood" in panel.info.value
    n_ok = sum(t.status == "ok" for t in result.trials_)
    assert panel.info.value.count("<tr>") == 1 + min(10, n_ok)  # header + rows
    # displayed once, with a readable fallback instead of the widget repr
    assert len(shown.calls) == 1
    bundle = shown.calls[0]["bundle"]
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.box.model_id
    assert "HBox(" not in bundle["text/plain"] and "VBox(" not in bundle["text/plain"]

    panel(events[-1])  # search_finished -> finish(result)
    assert panel.finished and panel.bar.bar_style == "success" and panel.bar.value == 1.0
    assert "finished" in panel.info.value and result.stop_reason_ in panel.info.value
    assert panel.image.value[:4] == b"\x89PNG" and panel.image.layout.visibility == "visible"
    # no static result follows (show_result=False): the leaderboard and plot stay
    assert panel.info.value.count("<tr>") == 1 + min(10, n_ok)
    assert panel.image.layout.display != "none"
    panel.finish(result)  # idempotent
    assert len(shown.calls) == 1


def test_widget_panel_shrinks_to_a_status_line_when_the_result_follows(binary_search, comms):
    """At the end the static result repeats the leaderboard and plot: the panel hides its own."""
    result, events = binary_search
    panel = None
    while_shown = []  # the panel's state when each static output was displayed

    class Snapshots(Displays):
        def __call__(self, bundle, display_id=None, update=False, metadata=None):
            super().__call__(bundle, display_id, update, metadata)
            if panel is not None and panel.info is not None:
                while_shown.append((panel.info.value, panel.image.layout.display))

    shown = Snapshots()
    clock = FakeClock()
    panel = WidgetPanel(title="blood", display=shown, clock=clock)
    replay(panel, events[:-1], clock, step=3.0)  # every redraw and plot passes the throttles
    assert "<table" in panel.info.value and panel.image.layout.visibility == "visible"
    n_plots = panel.n_plots
    panel(events[-1])  # search_finished -> the final state, then the static result

    info = panel.info.value
    assert "<table" not in info and "Running:" not in info  # no live leaderboard any more
    assert panel.image.layout.display == "none" and panel.n_plots == n_plots  # no new plot sent
    assert panel.bar.description == "done" and panel.bar.bar_style == "success"
    # one line: status, trials and time, best score, why it stopped
    assert "finished" in info and f"{len(result.trials_)}/6 trials" in info
    assert f"{result.elapsed_:.1f} / 120 s" in info
    assert f"best CV roc_auc <b>{result.best_score_:.4f}</b>" in info
    assert f"stopped: {result.stop_reason_}" in info and "blood" in info
    # the static outputs come after the panel and carry everything
    kinds = [sorted(c["bundle"]) for c in shown.calls]
    assert "application/vnd.jupyter.widget-view+json" in kinds[0]
    assert kinds[1:] == [["text/html", "text/plain"], ["image/png", "text/plain"]]
    static = shown.calls[1]["bundle"]["text/html"]
    assert "nbautoml-result" in static
    n_ok = sum(t.status == "ok" for t in result.trials_)
    board = static[static.index("Leaderboard"):]
    assert board.count("<tr>") == 1 + min(10, len(result.trials_)) and n_ok >= 3
    longest = max(result.leaderboard["pipeline"], key=len)
    assert html_escape(longest) in static  # the pipelines in full
    # the panel shrank only after the result was there (the output area never collapses)
    assert all("<table" in info and display != "none" for info, display in while_shown[1:])


def test_widget_panel_keeps_the_board_when_the_result_cannot_be_shown(binary_search, comms,
                                                                      monkeypatch, caplog):
    result, events = binary_search

    def broken(*args, **kwargs):
        raise ValueError("no room for the figure")

    monkeypatch.setattr(panel_mod, "show_result", broken)
    panel = WidgetPanel(display=Displays())
    with caplog.at_level(logging.WARNING, logger="nbautoml"):
        replay(panel, events)
    assert any("showing the result failed" in r.getMessage() for r in caplog.records)
    assert panel.bar.description == "done" and "<table" in panel.info.value
    assert panel.image.layout.display != "none" and panel.image.value[:4] == b"\x89PNG"


def test_widget_panel_keeps_the_board_after_a_failure(comms):
    """A search that failed has no result to show below: the panel keeps what it had."""
    events = synthetic_events(12)
    panel = WidgetPanel(display=Displays())
    replay(panel, events)
    panel.finish(error=RuntimeError("out of memory"))
    assert panel.bar.description == "failed" and panel.bar.bar_style == "danger"
    assert "FAILED" in panel.info.value and "<table" in panel.info.value
    assert panel.image.layout.display != "none"


def test_widget_panel_counts_failures(comms):
    events = synthetic_events(30)
    panel = WidgetPanel(display=Displays(), show_result=False)
    replay(panel, events)
    panel.finish()
    assert panel.state.n_failed == 4 and panel.state.failure_counts() == {"timeout": 4}
    assert "4 failed or timed out: 4 timeout" in panel.info.value
    assert panel.info.value.count("<tr>") == 1 + 10
    assert panel.bar.bar_style == "danger"  # no result: the search did not finish normally


def test_burst_of_1000_trials_is_throttled(comms):
    """1,000 trial events arriving at once cause a handful of redraws, not thousands."""
    events = synthetic_events(1000)
    panel = WidgetPanel(display=Displays(), show_result=False)
    replay(panel, events)  # real clock: the whole burst takes well under a second or two
    assert len(events) > 2000
    assert panel.n_updates <= 12
    assert len(comm_messages(comms)) <= 3 * panel.n_updates + 2
    assert panel.state.n_done == 1000  # the state itself saw every event


def test_comm_rate_stays_under_10_per_second(comms):
    """1,000 trials over 10 simulated seconds: at most 10 comm messages in any second."""
    clock = FakeClock()
    comms.clock = clock
    events = synthetic_events(1000)
    panel = WidgetPanel(display=Displays(), show_result=False, clock=clock)
    replay(panel, events, clock, step=10.0 / len(events))
    panel.finish()
    sent = comm_messages(comms)
    per_second: dict[int, int] = {}
    for t, _, _ in sent:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    assert len(sent) >= 40  # it did keep updating
    assert max(per_second.values()) <= 10, per_second
    plots = [m for m in sent if ["value"] in m[2].get("buffer_paths", [])]  # the PNG goes as a buffer
    assert 3 <= panel.n_plots <= 6  # one plot per 2 s at most (+ the final one)
    assert len(plots) == panel.n_plots


def test_renderer_error_does_not_break_the_search(datasets_dir, tmp_path, comms, monkeypatch, caplog):
    # a redraw on every event: with two trials at a time these four can all end within one
    # 0.25 s throttle interval, and then no live update (the broken part) would run at all
    monkeypatch.setattr(WidgetPanel, "update_interval", 0.0)
    shown = Displays()
    panel = WidgetPanel(display=shown)

    def broken(self):
        raise RuntimeError("the front end went away")

    monkeypatch.setattr(WidgetPanel, "_update", broken)
    with caplog.at_level(logging.WARNING, logger="nbautoml"):
        result, _ = run_search("blood", "binary", ["naive_bayes", "decision_tree"], 4, tmp_path,
                               callbacks=[panel])
    assert result.status_ == "completed" and len(result.trials_) == 4
    warnings = [r for r in caplog.records if "live panel failed" in r.getMessage()]
    assert len(warnings) == 1 and panel.render_failed
    kinds = [sorted(c["bundle"]) for c in shown.calls]
    assert ["text/html", "text/plain"] in kinds and ["image/png", "text/plain"] in kinds


def test_interrupted_search_shows_interrupted_state_and_best_model(datasets_dir, tmp_path, comms):
    shown = Displays()
    panel = WidgetPanel(display=shown)

    def interrupt_after_two(event):
        if event.kind == "trial_finished" and event.data["n_done"] >= 2:
            raise KeyboardInterrupt  # what Ctrl-C / the stop button does in the main thread

    result, _ = run_search("blood", "binary", ["naive_bayes", "decision_tree"], 20, tmp_path,
                           callbacks=[panel, interrupt_after_two])
    assert result.status_ == "interrupted" and result.best_pipeline_ is not None
    assert panel.state.status == "interrupted"
    assert panel.bar.bar_style == "danger" and panel.bar.description == "interrupted"
    assert panel.bar.value < 1.0
    assert "INTERRUPTED" in panel.info.value and "best of them is the model" in panel.info.value
    assert "<table" not in panel.info.value and panel.image.layout.display == "none"
    html = [c["bundle"]["text/html"] for c in shown.calls if "text/html" in c["bundle"]
            and "nbautoml-result" in c["bundle"]["text/html"]]
    assert len(html) == 1 and "interrupted" in html[0] and f"{result.best_score_:.4f}" in html[0]


# --------------------------------------------------------------------------- fallbacks


@pytest.fixture
def shell():
    ip = InteractiveShell.instance()
    yield ip


def test_text_panel_updates_one_html_block_in_ipython(binary_search, shell):
    result, events = binary_search
    clock = FakeClock()
    panel = TextPanel(title="blood", clock=clock)
    assert panel.rich
    with capture_output() as captured:
        replay(panel, events, clock, step=0.6)  # every event passes the 0.5 s throttle
    outputs = captured.outputs
    first, updates = outputs[0], [o for o in outputs if o.update]
    display_id = first.transient["display_id"]
    assert not first.update and {"text/html", "text/plain"} <= set(first.data)
    assert updates and all(o.transient["display_id"] == display_id for o in updates)
    assert all("text/plain" in o.data for o in outputs)
    final_block = updates[-1].data
    assert "finished" in final_block["text/plain"] and result.stop_reason_ in final_block["text/plain"]
    # the result follows: the block keeps one status line, not a second leaderboard
    assert "<table" not in final_block["text/html"] and "nbautoml-final" in final_block["text/html"]
    assert f"{result.best_score_:.4f}" in final_block["text/html"]
    static = [o for o in outputs if not o.update][1:]
    assert [sorted(o.data) for o in static] == [["text/html", "text/plain"], ["image/png", "text/plain"]]
    assert "<table" in static[0].data["text/html"] and "nbautoml-result" in static[0].data["text/html"]
    assert "AutoML result (completed)" in static[0].data["text/plain"]
    for o in outputs:
        assert "HBox(" not in o.data["text/plain"] and "Widget" not in o.data["text/plain"]


def test_text_panel_throttles_html_updates(shell):
    events = synthetic_events(1000)
    panel = TextPanel()
    with capture_output() as captured:
        replay(panel, events)
        panel.finish()
    assert len(captured.outputs) <= 8  # start, a few throttled updates, the final state
    assert "1000 trials (142 failed or timed out: 142 timeout)" in captured.outputs[-1].data["text/plain"]


def test_plain_text_panel_prints_few_lines(binary_search, capsys):
    result, events = binary_search
    panel = TextPanel(rich=False)
    replay(panel, events)
    out = capsys.readouterr().out
    assert out.count("nbautoml: running") <= 3
    assert "AutoML result (completed)" in out and "roc_auc" in out


# --------------------------------------------------------------------------- choosing


def test_environment_variable_decides(monkeypatch):
    monkeypatch.setenv("NBAUTOML_WIDGETS", "0")
    assert widgets_supported() == (False, "NBAUTOML_WIDGETS=0")
    monkeypatch.setenv("NBAUTOML_WIDGETS", "1")
    assert widgets_supported()[0] is True
    assert isinstance(make_panel(), WidgetPanel)
    assert isinstance(make_panel(widgets=False), TextPanel)  # --no-widgets wins


def test_no_widgets_outside_a_kernel(monkeypatch, shell):
    monkeypatch.delenv("NBAUTOML_WIDGETS", raising=False)
    ok, reason = widgets_supported()
    assert not ok and reason == "no Jupyter kernel (InteractiveShell)"
    panel = make_panel()
    assert isinstance(panel, TextPanel) and panel.reason == reason


class Process:
    """A stand-in for psutil.Process: a command line and a parent."""

    def __init__(self, cmd, parent=None):
        self.cmd, self._parent = cmd, parent

    def cmdline(self):
        return self.cmd

    def parent(self):
        return self._parent


def _ancestors(monkeypatch, *cmdlines):
    """Make this process's parent, grandparent, ... run the given command lines."""
    import psutil

    parent = None
    for cmd in reversed(cmdlines):
        parent = Process(cmd, parent=parent)
    monkeypatch.setattr(psutil, "Process", lambda pid: Process([], parent=parent))


def test_headless_runner_found_among_ancestors(monkeypatch):
    _ancestors(monkeypatch, ["/usr/bin/python", "-m", "jupyter", "nbconvert", "--execute", "x.ipynb"])
    assert panel_mod._headless_runner() == "nbconvert"
    # a kernel started by nbval: the kernel launcher's parent is pytest
    _ancestors(monkeypatch, ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "k.json"],
               ["/venv/bin/python", "-m", "pytest", "--nbval-lax", "notebooks"])
    assert panel_mod._headless_runner() == "pytest"
    # JupyterLab started in a folder named after a runner: the words are in paths, not programs
    _ancestors(monkeypatch, ["/home/me/pytest-tutorial/.venv/bin/python",
                             "/home/me/pytest-tutorial/.venv/bin/jupyter-lab", "/home/me/pytest"],
               ["/bin/bash", "/home/me/nbconvert/start-lab.sh"])
    assert panel_mod._headless_runner() is None
    # JupyterLab started by a test run (tests/e2e): the front end owns the kernel
    _ancestors(monkeypatch, ["/venv/bin/python", "-m", "jupyterlab", "--no-browser"],
               ["/venv/bin/python", "-m", "pytest", "tests/e2e"])
    assert panel_mod._headless_runner() is None


@pytest.mark.parametrize("cmdline,program,runner", [
    (["python", "-m", "pytest", "--nbval-lax", "notebooks/"], "pytest", "pytest"),
    (["/venv/bin/python3.11", "-u", "-X", "dev", "-mpytest", "tests"], "pytest", "pytest"),
    (["/venv/bin/pytest", "--nbval", "nb.ipynb"], "pytest", "pytest"),
    (["/venv/bin/py.test", "x"], "py.test", "pytest"),
    (["coverage", "run", "-m", "pytest", "--nbval"], "pytest", "pytest"),
    ([r"C:\venv\Scripts\papermill.exe", "in.ipynb", "out.ipynb"], "papermill", "papermill"),
    (["/venv/bin/jupyter-nbconvert", "--execute", "a.ipynb"], "jupyter-nbconvert", "nbconvert"),
    (["/usr/bin/python3", "/usr/bin/jupyter", "nbconvert", "--to", "html"], "jupyter-nbconvert",
     "nbconvert"),
    (["python", "-m", "nbconvert", "--execute", "a.ipynb"], "nbconvert", "nbconvert"),
    ([r"C:\py\python.exe", r"C:\py\Scripts\jupyter-execute-script.py", "a.ipynb"],
     "jupyter-execute", "nbclient"),
    (["python", "run.py", "--nbval"], "run", "nbval"),  # nbval's option on a wrapper script
    # front ends and others, whatever their paths and arguments say
    (["/usr/bin/python", "-m", "jupyterlab"], "jupyterlab", None),
    (["/home/me/pytest-tutorial/.venv/bin/jupyter-lab", "--notebook-dir", "/home/me/pytest"],
     "jupyter-lab", None),
    (["/srv/papermill/bin/python", "/srv/papermill/bin/jupyter", "lab", "papermill/"],
     "jupyter-lab", None),
    (["python", "/home/me/pytest/serve.py", "--config", "nbconvert.json"], "serve", None),
    (["python", "-c", "import pytest"], "python", None),
    (["node", "/usr/lib/code/out/bootstrap-fork", "--type=extensionHost"], "node", None),
    ([], None, None),
])
def test_runner_is_matched_by_program_or_module_name(cmdline, program, runner):
    assert panel_mod._program(cmdline) == program
    assert panel_mod._runner_in(cmdline) == runner


def test_widgets_off_under_a_runner_with_a_reason(monkeypatch):
    """In a kernel with comms, the runner decides; NBAUTOML_WIDGETS=1 still overrides it."""
    from types import SimpleNamespace

    shell = SimpleNamespace(kernel=SimpleNamespace(comm_manager=object()),
                            config={"IPKernelApp": {}})
    monkeypatch.setattr(panel_mod, "_shell", lambda: shell)
    monkeypatch.delenv("NBAUTOML_WIDGETS", raising=False)
    monkeypatch.setattr(panel_mod, "_headless_runner", lambda: "papermill")
    assert widgets_supported() == (False, "the notebook runs headless under papermill")
    monkeypatch.setattr(panel_mod, "_headless_runner", lambda: None)
    assert widgets_supported() == (True, "Jupyter kernel with ipywidgets")
    monkeypatch.setattr(panel_mod, "_headless_runner", lambda: "pytest")
    monkeypatch.setenv("NBAUTOML_WIDGETS", "1")
    assert widgets_supported() == (True, "NBAUTOML_WIDGETS=1")
