"""The notebook's stop button during ``%%automl``, in a real kernel (RELIABILITY R5, F-13)."""

from __future__ import annotations

import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client")


def _run(client, code: str, timeout: float = 120) -> tuple[dict, list[dict]]:
    """Execute ``code``; return its reply and the iopub messages it caused."""
    msg_id = client.execute(code)
    messages = []
    while True:
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(message)
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    return client.get_shell_msg(timeout=timeout), messages


def _text(messages: list[dict]) -> str:
    parts = []
    for message in messages:
        content = message["content"]
        parts.append(content.get("text", ""))
        parts.append(content.get("data", {}).get("text/plain", ""))
        parts.extend(content.get("traceback", []))
    return "\n".join(parts)


def _finished_trials(directory) -> int:
    """Trials with a score in the search store the kernel writes under ``directory``."""
    import sqlite3

    for path in directory.glob("runs/*/search.sqlite"):
        try:
            with sqlite3.connect(path) as store:
                return store.execute("SELECT COUNT(*) FROM trials WHERE status = 'ok'").fetchone()[0]
        except sqlite3.OperationalError:  # the file exists before its tables (as list_runs allows for)
            return 0
    return 0


def test_the_stop_button_keeps_the_best_model_and_the_kernel_answers(datasets_dir, tmp_path):
    manager, client = jupyter_client.manager.start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        reply, _ = _run(client, "%load_ext nbautoml\nimport pandas as pd\n"
                                f"%config AutoMLMagics.search_dir = {str(tmp_path / 'runs')!r}\n"
                                f"df = pd.read_csv({str(datasets_dir / 'titanic.csv')!r})")
        assert reply["content"]["status"] == "ok"
        msg_id = client.execute("%%automl --target Survived --time-budget 300 --no-widgets "
                                "--models logistic_regression,random_forest\ndf")
        deadline = time.monotonic() + 120
        while _finished_trials(tmp_path) < 2:  # two trials in the store
            assert time.monotonic() < deadline, "no two trials in 120 s"
            time.sleep(0.2)
        pressed = time.monotonic()
        manager.interrupt_kernel()  # what the stop button does
        messages = []
        while True:
            message = client.get_iopub_msg(timeout=60)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
        assert time.monotonic() - pressed < 10  # ~5 s to stop, plus the refit of the best pipeline
        reply = client.get_shell_msg(timeout=60)
        assert reply["content"]["status"] == "ok", _text(messages)
        shown = _text(messages)
        assert "Traceback" not in shown and "KeyboardInterrupt" not in shown, shown
        reply, messages = _run(client, "print(automl.status_, sum(t.status == 'ok' for t in automl.trials_), "
                                       "list(automl.predict(df.head(3))))")
        assert reply["content"]["status"] == "ok", _text(messages)
        status, n_ok, *_ = _text(messages).split()
        assert status == "interrupted" and int(n_ok) >= 1, _text(messages)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
