"""The command line and the process-level contracts (import cost, Ctrl-C)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import nbautoml

PY = sys.executable
REPO = Path(__file__).resolve().parents[2]


def run(args, **kw):
    return subprocess.run([PY, "-m", "nbautoml", *args], capture_output=True, text=True, timeout=180, **kw)


def test_cli_run_prints_leaderboard_and_saves(datasets_dir, tmp_path):
    out = tmp_path / "models" / "titanic"
    proc = run(["run", str(datasets_dir / "titanic.csv"), "--target", "Survived", "--time-budget", "8",
                "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    wall = float(proc.stdout.split("wall time:")[1].split()[0])
    assert wall <= 8 * 1.1
    assert re.search(r"(best|chosen) roc_auc: 0\.\d{4} ± ", proc.stdout)  # chosen: a tied default point
    assert re.search(r"Model \(trial \d+\):|Model \(an ensemble of ", proc.stdout)
    assert "rank" in proc.stdout and "logistic_regression" in proc.stdout
    # stderr is a pipe here, as in a log: whole progress lines, no carriage-return redraws
    assert "\r" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("nbautoml: ")]
    assert re.search(r"^nbautoml: running · 0 trials · \d\.\d / 8 s · best roc_auc n/a$", lines[0])
    assert re.search(r"^nbautoml: running · \d+ trials?[^·]* · \d\.\d / 8 s · best roc_auc 0\.\d{4} "
                     r"\(\w+, trial 0\)$", lines[1])
    assert re.search(r"^nbautoml: finished · \d+ trials.* · \d\.\d / 8 s · best roc_auc 0\.\d{4} "
                     r"\(\w+, trial \d+\) · time_budget=8s used$", lines[-1])
    n_trials = int(re.search(r"finished · (\d+) trials", lines[-1]).group(1))
    assert 3 <= len(lines) < n_trials + 3  # not a line per trial
    assert any(p.name.startswith("titanic") for p in out.parent.iterdir())


@pytest.mark.slow
def test_cli_cv_takes_a_number_of_folds(datasets_dir, tmp_path):
    """``--cv 3`` is 3 folds (stratified for a classifier), as ``cv=3`` and ``%%automl --cv 3`` are;
    it was refused as "Unknown cv scheme '3'"."""
    proc = run(["run", str(datasets_dir / "iris.csv"), "--target", "species", "--cv", "3", "--max-evals", "2",
                "--time-budget", "none", "--models", "logistic_regression", "--out", str(tmp_path / "m")])
    assert proc.returncode == 0, proc.stderr
    assert "(stratified 3-fold)" in proc.stdout
    proc = run(["run", str(datasets_dir / "iris.csv"), "--target", "species", "--cv", "1"])
    assert proc.returncode == 2 and "cv=1: k-fold needs at least 2 folds" in proc.stderr, proc.stderr


def test_cli_durations_take_a_unit(datasets_dir, tmp_path):
    proc = run(["run", str(datasets_dir / "iris.csv"), "--target", "species", "--time-budget", "0.05m",
                "--trial-timeout", "2s", "--out", str(tmp_path / "m")])
    assert proc.returncode == 0, proc.stderr
    assert "/ 3 s · best accuracy" in proc.stderr and "time_budget=3s used" in proc.stderr
    proc = run(["run", str(datasets_dir / "iris.csv"), "--target", "species", "--time-budget", "10x"])
    assert proc.returncode == 2
    assert ("argument --time-budget: '10x' is not a duration: give a number of seconds > 0, or with a unit: "
            "30s, 2m, 1.5h") in proc.stderr


def test_cli_misspelled_target_is_a_short_error(datasets_dir):
    proc = run(["run", str(datasets_dir / "titanic.csv"), "--target", "survived"])
    assert proc.returncode == 2
    assert "Did you mean 'Survived'" in proc.stderr and "Traceback" not in proc.stderr
    proc = run(["run", str(datasets_dir / "iris.csv")])  # no --target: the columns to choose from
    assert proc.returncode == 2 and proc.stderr == (
        f"nbautoml: error: Name the column to predict with --target COLUMN. {datasets_dir / 'iris.csv'} has 5 "
        "columns: sepal_length, sepal_width, petal_length, petal_width, species.\n")


def test_cli_checks_out_and_the_file_before_the_search(datasets_dir, tmp_path):
    started = time.perf_counter()
    proc = run(["run", str(datasets_dir / "titanic.csv"), "--target", "Survived", "--out", "registry:"])
    assert proc.returncode == 2 and "Invalid model name ''" in proc.stderr and "wall time" not in proc.stdout
    proc = run(["run", str(tmp_path), "--target", "Survived"])
    assert proc.returncode == 2 and "is a directory" in proc.stderr and "Traceback" not in proc.stderr
    notes = tmp_path / "notes.md"
    notes.write_text("# nbautoml\n\nModel automation for Jupyter\ntrain, validate\ndeploy, monitor, explain\n")
    proc = run(["run", str(notes), "--target", "Survived"])
    assert proc.returncode == 2 and "cannot be read as a CSV table" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert time.perf_counter() - started < 30  # three processes that each stop before any search


@pytest.mark.slow
def test_cli_resume_says_when_the_budget_is_already_spent_and_a_closed_pipe_is_quiet(datasets_dir, tmp_path):
    data = str(datasets_dir / "blood.csv")
    common = ["--target", "Class", "--search-dir", str(tmp_path), "--models", "logistic_regression"]
    first = run(["run", data, *common, "--time-budget", "3", "--name", "blood"])
    assert first.returncode == 0, first.stderr
    again = run(["run", data, *common, "--time-budget", "2", "--resume", "blood"])
    assert again.returncode == 0, again.stderr
    assert re.search(r"nbautoml: warning: resume='blood': the search already ran \d+\.\d s and "
                     r"time_budget=2 counts the whole search", again.stderr)
    assert "UserWarning" not in again.stderr
    # `nbautoml run ... | head -1`: the reader leaves early; no BrokenPipeError traceback
    shell = subprocess.run(f"{PY} -m nbautoml run {data} --target Class --max-evals 2 --models logistic_regression --quiet "
                           f"--search-dir {tmp_path} | head -1", shell=True, capture_output=True, text=True,
                           timeout=180)
    assert shell.stdout.count("\n") == 1 and "BrokenPipe" not in shell.stderr, shell.stderr


@pytest.mark.slow
def test_cli_resume_on_changed_data_names_force_and_force_starts_from_the_best_configs(datasets_dir, tmp_path):
    full = datasets_dir / "blood.csv"
    part = tmp_path / "blood-part.csv"
    part.write_text("".join(full.read_text().splitlines(keepends=True)[:401]))  # the header and 400 rows
    common = ["--target", "Class", "--search-dir", str(tmp_path), "--models", "logistic_regression",
              "--max-evals", "3", "--jobs", "1"]
    assert run(["run", str(part), *common, "--name", "blood"]).returncode == 0
    refused = run(["run", str(full), *common, "--resume", "blood"])
    assert refused.returncode != 0 and "400 rows then, 748 now" in refused.stderr
    assert "force_resume=True (--force)" in refused.stderr
    forced = run(["run", str(full), *common, "--resume", "blood", "--force"])
    assert forced.returncode == 0, forced.stderr
    assert "a new search on this data starts from its 3 best configs" in forced.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("blood-new-data-")]


@pytest.mark.parametrize("bad", [["--time-budget", "-3"], ["--bud", "3"], ["--max-evals", "0"],
                                 ["--jobs", "0"], ["--jobs", "many"]])
def test_cli_refuses_bad_and_abbreviated_options(datasets_dir, bad):
    proc = run(["run", str(datasets_dir / "titanic.csv"), "--target", "Survived", *bad])
    assert proc.returncode == 2 and "error" in proc.stderr
    if bad[0] == "--jobs":
        assert "argument --jobs:" in proc.stderr and "auto" in proc.stderr


def test_cli_ctrl_c_keeps_the_model_and_says_how_to_resume(datasets_dir, tmp_path):
    proc = subprocess.Popen([PY, "-m", "nbautoml", "run", str(datasets_dir / "blood.csv"), "--target", "Class",
                             "--time-budget", "300", "--search-dir", str(tmp_path), "--name", "cut",
                             "--models", "logistic_regression,random_forest"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(8)  # past the start-up and the first trials
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "AutoML result (interrupted)" in out
    assert re.search(r"to continue it: nbautoml run \S+blood\.csv --target Class --resume cut "
                     r"--time-budget SECONDS \(the budget counts the time already spent: \d+ s\)", out)
    assert re.search(r"Model \(trial \d+\): |Model \(an ensemble of \d+ pipelines, weight × trial\):\n  ×\d+ trial",
                     out)
    assert (tmp_path / "cut" / "model.nbautoml").is_file()  # the best model so far, saved without --out


def test_cli_ctrl_c_before_any_trial_finished_says_there_is_no_model(datasets_dir, tmp_path, monkeypatch, capsys):
    import nbautoml.render.progress
    from nbautoml.cli import main

    def stop_at_once(stream, disable=False):
        def on_event(event):
            if event.kind == "trial_started":
                raise KeyboardInterrupt
        return on_event

    monkeypatch.setattr(nbautoml.render.progress, "terminal_progress", stop_at_once)
    code = main(["run", str(datasets_dir / "blood.csv"), "--target", "Class", "--max-evals", "3", "--time-budget",
                 "none", "--search-dir", str(tmp_path), "--name", "cut", "--out", str(tmp_path / "model")])
    out, err = capsys.readouterr()
    assert code == 130, err  # as a shell's Ctrl-C: nothing was made
    assert "AutoML result (interrupted)" in out and "to continue it: nbautoml run" in out and "--resume cut" in out
    assert "No model: the search was interrupted before any trial finished, so nothing was saved." in out
    assert not (tmp_path / "model.nbautoml").exists()


def test_cli_a_failed_search_lists_its_trials_and_says_the_flags(datasets_dir, tmp_path, monkeypatch, capsys):
    """The Python message points at ``err.trials`` and ``time_budget=``, which a shell cannot use."""
    from nbautoml.cli import main
    from nbautoml.engine.automl import AutoML
    from nbautoml.exceptions import SearchFailedError

    monkeypatch.chdir(tmp_path)
    code = main(["run", str(datasets_dir / "iris.csv"), "--target", "species", "--max-evals", "2", "--time-budget",
                 "none", "--trial-timeout", "0.01", "--quiet", "--models", "random_forest", "--name", "cut", "--search-dir", "runs"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("nbautoml: error: All 2 trials failed; the most common failure (")
    assert re.search(r"\n  trial 0 random_forest: timeout: trial_timeout=0\.01s reached", err)
    assert re.search(r"\n  trial 1 random_forest: timeout: ", err)
    assert (f"The search directory runs/cut keeps every trial with its traceback and output; nbautoml run "
            f"{datasets_dir / 'iris.csv'} --target species --resume cut continues it.") in err
    assert ".trials" not in err and "result.trials_" not in err

    def too_small(self, *args, **kwargs):
        raise SearchFailedError("No trial finished within time_budget=1s (...). Give a larger time_budget, or "
                                "... models=['logistic_regression', 'ridge'].", code="budget_too_small")

    monkeypatch.setattr(AutoML, "fit", too_small)
    assert main(["run", str(datasets_dir / "iris.csv"), "--target", "species", "--time-budget", "1"]) == 2
    assert ("nbautoml: error: No trial finished within --time-budget 1s: every one was stopped at the end of the "
            "budget. Give a larger --time-budget, or try faster models first, e.g. --models logistic_regression,"
            "ridge.") in capsys.readouterr().err


def test_import_is_light():
    code = ("import sys, time; t = time.perf_counter(); import nbautoml; dt = time.perf_counter() - t; "
            "import json; print(json.dumps({'t': dt, 'mods': [m for m in ('sklearn', 'hyperopt', "
            "'matplotlib', 'IPython') if m in sys.modules]}))")
    info = json.loads(subprocess.check_output([PY, "-c", code], text=True))
    assert info["mods"] == []
    assert info["t"] < 0.2


def test_engine_does_not_import_ipython():
    code = "import sys, nbautoml.engine.automl; print('IPython' in sys.modules)"
    assert subprocess.check_output([PY, "-c", code], text=True).strip() == "False"


@pytest.mark.parametrize("to_group", [True, False], ids=["process group", "parent only"])
def test_sigint_ends_the_search_with_the_best_so_far(datasets_dir, tmp_path, to_group):
    """RELIABILITY R5 / F-12: within 5 s, the best pipeline kept and no worker process left, whether
    the signal reaches the workers too (the stop button) or only the search's process."""
    script = tmp_path / "search.py"
    script.write_text(
        "import pandas as pd, sys, json\n"
        "from nbautoml import AutoML\n"
        f"df = pd.read_csv({str(datasets_dir / 'titanic.csv')!r})\n"
        "def ready(e):\n"
        "    if e.kind == 'trial_finished' and e['n_done'] == 2: print('READY', flush=True)\n"
        "r = AutoML(time_budget=300, callbacks=[ready], models=['logistic_regression', 'random_forest']).fit(df, target='Survived')\n"
        "import psutil\n"
        "workers = [c.pid for c in psutil.Process().children(recursive=True) if c.is_running() and "
        "c.status() != psutil.STATUS_ZOMBIE]\n"
        "print(json.dumps({'status': r.status_, 'ok': sum(t.status == 'ok' for t in r.trials_), "
        "'pred': int(r.predict(df.head(1))[0]), 'workers': workers}), flush=True)\n"
    )
    proc = subprocess.Popen([PY, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=tmp_path)
    for line in proc.stdout:
        if line.startswith("READY"):
            break
    sent = time.perf_counter()
    if to_group:
        os.killpg(proc.pid, signal.SIGINT)  # like the notebook's stop button: the whole group
    else:
        os.kill(proc.pid, signal.SIGINT)  # the workers are left to the search to stop
    out, err = proc.communicate(timeout=60)
    assert time.perf_counter() - sent < 5 + 5, "the search must end within ~5 s of Ctrl-C (plus refit)"
    info = json.loads(out.strip().splitlines()[-1])
    assert info["status"] == "interrupted" and info["ok"] >= 2
    assert info["workers"] == []  # the search's worker processes were gone when fit returned


@pytest.mark.parametrize("flag, expected", [([], True), (["--no-prune"], False)])
def test_cli_no_prune_keeps_every_family(datasets_dir, tmp_path, monkeypatch, capsys, flag, expected):
    from nbautoml.cli import main
    from nbautoml.engine.automl import AutoML

    seen = []
    fit = AutoML.fit

    def recording_fit(self, *args, **kwargs):
        seen.append(self.prune_families)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(AutoML, "fit", recording_fit)
    code = main(["run", str(datasets_dir / "blood.csv"), "--target", "Class", "--max-evals", "2",
                 "--quiet", "--search-dir", str(tmp_path), *flag])
    assert code == 0 and seen == [expected]
    assert "2 trials" in capsys.readouterr().out


def test_cli_time_budget_none_is_a_search_that_max_evals_ends(datasets_dir, tmp_path, capsys, monkeypatch):
    from nbautoml.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(["run", str(datasets_dir / "blood.csv"), "--target", "Class", "--max-evals", "2",
                 "--time-budget", "none", "--quiet", "--search-dir", str(tmp_path), "--name", "blood"])
    out = capsys.readouterr().out
    assert code == 0 and "no time budget" in out and "max_evals=2 reached" in out
    # without --out the model is saved in its search directory, and the output says where and what next
    saved = tmp_path / "blood" / "model.nbautoml"  # shown relative to the working directory, tmp_path
    assert "Saved the model to blood/model.nbautoml (--out PATH saves it elsewhere)" in out
    assert "  predict: nbautoml predict blood/model.nbautoml NEW.csv --out predictions.csv" in out
    frame = pd.read_csv(datasets_dir / "blood.csv")
    assert len(nbautoml.load(saved).predict(frame.drop(columns="Class"))) == len(frame)
    # monitored under its search's name, not the file's "model" that every such file shares
    main(["monitor", "blood/model.nbautoml", str(datasets_dir / "blood.csv")])
    assert "MonitorReport: WARN for blood: 748 rows" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["run", str(datasets_dir / "blood.csv"), "--target", "Class", "--time-budget", "never"])
    assert "'never' is not a duration: give a number of seconds > 0" in capsys.readouterr().err


@pytest.mark.parametrize("jobs, expected", [(None, "auto"), ("auto", "auto"), ("1", 1), ("-1", -1)])
def test_cli_jobs(datasets_dir, tmp_path, monkeypatch, capsys, jobs, expected):
    from nbautoml.cli import main
    from nbautoml.engine.automl import AutoML

    seen = []
    fit = AutoML.fit

    def recording_fit(self, *args, **kwargs):
        result = fit(self, *args, **kwargs)
        seen.append((self.n_jobs, self.n_jobs_))
        return result

    monkeypatch.setattr(AutoML, "fit", recording_fit)
    flag = [] if jobs is None else ["--jobs", jobs]
    code = main(["run", str(datasets_dir / "blood.csv"), "--target", "Class", "--max-evals", "2",
                 "--quiet", "--search-dir", str(tmp_path), *flag])
    from nbautoml.engine.workers import cpu_count

    assert code == 0 and seen == [(expected, 1 if expected == 1 else cpu_count())]


def test_cli_plan_prints_the_plan_and_run_takes_the_same_roles(datasets_dir, tmp_path, capsys, monkeypatch):
    from nbautoml.cli import main
    from nbautoml.engine.automl import AutoML

    data = str(datasets_dir / "titanic.csv")
    assert main(["plan", data, "--target", "Survived", "--roles", "Pclass=categorical,Cabin=dropped"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "DataPlan (11 columns)"
    assert lines[3].split()[:3] == ["Pclass", "int64", "categorical"] and lines[3].endswith("set by the user")
    assert any(line.split()[:1] == ["Cabin"] and "dropped by the user" in line for line in lines)

    plans = []
    fit = AutoML.fit
    monkeypatch.setattr(AutoML, "fit", lambda self, *a, **k: plans.append(fit(self, *a, **k).plan_) or self)
    assert main(["run", data, "--target", "Survived", "--max-evals", "1", "--quiet", "--models", "random_forest",
                 "--search-dir", str(tmp_path), "--roles", "Pclass=categorical,Cabin=dropped"]) == 0
    roles = plans[0].to_frame().set_index("column")["role"]
    assert (roles["Pclass"], roles["Cabin"]) == ("categorical", "dropped")
    with pytest.raises(SystemExit):
        main(["plan", data, "--roles", "Cabin=gone"])
    assert "unknown role 'gone' for 'Cabin'. Roles: numeric" in capsys.readouterr().err


def test_cli_says_how_it_read_a_csv_with_decimal_commas(titanic, tmp_path, capsys):
    from nbautoml.cli import main

    path = tmp_path / "titanic_de.csv"
    titanic.to_csv(path, sep=";", decimal=",", index=False)
    code = main(["run", str(path), "--target", "Survived", "--max-evals", "2", "--models", "random_forest",
                 "--search-dir", str(tmp_path / "runs")])
    captured = capsys.readouterr()
    assert code == 0
    assert f"read {path}: separator ';', decimal comma (1,5 read as 1.5)" in captured.err


def test_cli_bad_seed_search_dir_and_resume_are_one_line_errors(datasets_dir, tmp_path, capsys):
    from nbautoml.cli import main
    from nbautoml.engine.store import RunStore

    data = [str(datasets_dir / "blood.csv"), "--target", "Class", "--max-evals", "1"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    RunStore(tmp_path / "runs" / "bloodsearch").close()
    cases = {
        "--seed -1": (["--seed", "-1"], "seed must be an int from 0 to 2**32 - 1 (4294967295), or None; got -1."),
        "--search-dir under a file": (["--search-dir", str(afile / "runs")],
                                      f"'{afile}' is a file, not a directory"),
        "--resume misspelt": (["--search-dir", str(tmp_path / "runs"), "--resume", "bloodsearc"],
                              "Did you mean 'bloodsearch'? Searches in "),
    }
    for i, (case, (extra, expected)) in enumerate(cases.items()):
        if i == 0:  # the whole of stderr, in a process of its own
            proc = run(["run", *data, *extra])
            code, stderr = proc.returncode, proc.stderr
        else:  # the same main() in this process: 3 s less each
            code, stderr = main(["run", *data, *extra]), capsys.readouterr().err
        assert code == 2, (case, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nbautoml: error: ") and expected in lines[0], (case, lines)


def test_cli_memory_limit_reaches_the_search(datasets_dir, tmp_path, monkeypatch, capsys):
    from nbautoml.cli import main
    from nbautoml.engine.automl import AutoML

    seen = []
    fit = AutoML.fit

    def recording_fit(self, *args, **kwargs):
        result = fit(self, *args, **kwargs)
        seen.append((self.memory_limit, result.summary()["statuses"]))
        return result

    monkeypatch.setattr(AutoML, "fit", recording_fit)
    code = main(["run", str(datasets_dir / "blood.csv"), "--target", "Class", "--max-evals", "2",
                 "--quiet", "--search-dir", str(tmp_path), "--memory-limit", "2048"])
    assert code == 0 and seen == [(2048.0, {"ok": 2})]
