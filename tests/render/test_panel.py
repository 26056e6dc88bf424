"""The live panel: widget state from engine events, throttling, fallbacks, the end of a search."""

from __future__ import annotations

import logging

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

    def __call__(self, bundle, display_id=None, update=False):
        self.calls.append({"bundle": bundle, "display_id": display_id, "update": update})


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
    panel.finish(result)  # idempotent
    assert len(shown.calls) == 1


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


def test_headless_runner_found_among_ancestors(monkeypatch):
    class Process:
        def __init__(self, cmd, parent=None):
            self.cmd, self._parent = cmd, parent

        def cmdline(self):
            return self.cmd

        def parent(self):
            return self._parent

    runner = Process(["/usr/bin/python", "-m", "jupyter", "nbconvert", "--execute", "x.ipynb"])
    kernel = Process(["python", "-m", "ipykernel_launcher"], parent=runner)
    import psutil

    monkeypatch.setattr(psutil, "Process", lambda pid: Process([], parent=kernel.parent()))
    assert panel_mod._headless_runner() == "nbconvert"
    lab = Process(["/home/me/pytest-course/.venv/bin/python", "/home/me/pytest-course/.venv/bin/jupyter-lab"])
    monkeypatch.setattr(psutil, "Process", lambda pid: Process([], parent=lab))
    assert panel_mod._headless_runner() is None  # a word inside a path does not count


@pytest.mark.parametrize("cmdline,runner", [
    (["python", "-m", "pytest", "--nbval-lax", "notebooks/"], "pytest"),
    ([r"C:\venv\Scripts\papermill.exe", "in.ipynb", "out.ipynb"], "papermill"),
    (["/venv/bin/jupyter-nbconvert", "--execute", "a.ipynb"], "jupyter-nbconvert"),
    (["python", "run.py", "--nbval"], "nbval"),
    (["/usr/bin/python", "-m", "jupyterlab"], None),
    (["node", "/usr/lib/code/out/bootstrap-fork", "--type=extensionHost"], None),
])
def test_runner_names_are_whole_words(cmdline, runner):
    assert panel_mod._runner_in(cmdline) == runner
