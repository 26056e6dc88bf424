"""%automl_monitor --auto-retrain, %automl_retrain, %automl_promote and %automl_rollback in a real shell."""

from __future__ import annotations

import warnings

import pytest
from IPython.core.error import UsageError

from nbautoml.policy import RetrainPolicy, set_policy
from nbautoml.registry import Registry

NAME = "employee"


@pytest.fixture
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.reset(new_session=False)
    shell.extension_manager.loaded.discard("nbautoml")
    shell.run_line_magic("load_ext", "nbautoml")
    return shell


@pytest.fixture
def shown(ip, monkeypatch):
    bundles = []
    monkeypatch.setattr(ip.display_pub, "publish", lambda data, metadata=None, **kw: bundles.append(data))
    return bundles


def test_auto_retrain_collects_labelled_batches_then_promotes(ip, shown, period, capsys):
    reg = Registry()
    reg.register(period.result, NAME, stage="production", reason="first model")
    set_policy(NAME, RetrainPolicy(time_budget=40, max_evals=2))
    ip.push({"calm": period.batch(0), "small": period.batch(1, shifted=True).head(60),
             "shifted": period.batch(2, shifted=True).head(500)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ip.run_line_magic("automl_monitor", f"{NAME}@production calm --auto-retrain") is None
        assert "No retraining: status ok." in capsys.readouterr().out
        ip.run_line_magic("automl_monitor", f"{NAME}@production small --auto-retrain")
        out = capsys.readouterr().out
        assert "not possible yet" in out and "at least 30 are needed" in out
        assert reg.versions(NAME)["version"].tolist() == [1]  # nothing trained on 60 rows
        ip.run_line_magic("automl_monitor", f"{NAME}@production shifted --auto-retrain -o week")
    result = ip.user_ns["week_retrain"]
    assert ip.user_ns["week"].action == "retrain"
    assert result.promoted and result.n_holdout == 168  # 30 % of the 60 + 500 rows since the alert
    assert reg.get(f"{NAME}@production").version == 2
    texts = [b.get("text/plain", "") for b in shown]
    assert any(t.startswith("MonitorReport: ALERT") for t in texts)
    assert any(t.startswith("RetrainResult: PROMOTED") for t in texts)

    ip.run_line_magic("automl_rollback", f"{NAME} --reason v2 under review")
    assert "back to v1" in capsys.readouterr().out
    ip.run_line_magic("automl_promote", f"{NAME}@2 --reason review passed")
    history = reg.history(NAME)
    assert history["version"].tolist() == [1, 2, 1, 2]
    assert history["reason"].iloc[-2:].tolist() == ["rollback: v2 -> v1: v2 under review",
                                                    "promote: v2 (was v1): review passed"]


@pytest.mark.slow
def test_retrain_magic_runs_the_comparison_and_keeps_the_champion(ip, period):
    reg = Registry()
    reg.register(period.result, NAME, stage="production", reason="first model")
    ip.push({"b1": period.batch(3), "b2": period.batch(4)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ip.run_line_magic(
            "automl_retrain", f"{NAME} [b1, b2] --data new --max-evals 1 --time-budget 40 -o r")
    assert ip.user_ns["r"] is result and result.data == "new" and result.n_train == 1400
    assert result.decision == "kept" and reg.get(f"{NAME}@production").version == 1
    assert reg.history(NAME)["stage"].tolist() == ["production", "challenger"]


@pytest.mark.parametrize("magic,line,message", [
    ("automl_retrain", f"{NAME}@2 df", r"takes the registered NAME \('employee'\)"),
    ("automl_retrain", f"{NAME} 42", "DATA gave int; expected a DataFrame"),
    ("automl_retrain", "nobody df", "No model named 'nobody'"),
    ("automl_promote", NAME, "needs a version: employee@VERSION"),
    ("automl_rollback", NAME, "no earlier production version than v1"),
    ("automl_monitor", f"{NAME}@production --history --auto-retrain", "--auto-retrain applies to a batch"),
    ("automl_monitor", "model df --auto-retrain", "--auto-retrain needs a registered model"),
])
def test_magic_errors_say_what_to_do(ip, period, magic, line, message):
    Registry().register(period.result, NAME, stage="production", reason="first model")
    ip.push({"df": period.batch(0), "model": period.result})
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic(magic, line)


def test_help_pages(ip, capsys):
    for magic, needles in {
        "automl_retrain": ["--data {window,new,old+new}", "--old EXPR", "--window ROWS", "Example::"],
        "automl_promote": ["NAME@VERSION", "--reason TEXT", "Example::"],
        "automl_rollback": ["--to VERSION", "Example::"],
        "automl_monitor": ["--auto-retrain"],
    }.items():
        assert ip.run_line_magic(magic, "--help") is None
        text = capsys.readouterr().out + ip.find_line_magic(magic).__doc__
        assert all(n in text for n in needles), (magic, text)
