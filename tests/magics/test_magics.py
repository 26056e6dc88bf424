"""The %%automl and %automl_* magics, driven through a real IPython InteractiveShell."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

from .conftest import FAST, fresh

# --------------------------------------------------------------------------- loading


def test_load_ext_is_fast_and_imports_nothing_heavy():
    script = textwrap.dedent("""
        import json, sys, time
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        started = time.perf_counter()
        ip.run_line_magic("load_ext", "nbautoml")
        seconds = time.perf_counter() - started
        heavy = [m for m in ("sklearn", "hyperopt", "matplotlib", "pandas") if m in sys.modules]
        magics = ip.magics_manager.magics
        print(json.dumps({"seconds": seconds, "heavy": heavy, "cell": sorted(magics["cell"]),
                          "line": sorted(m for m in magics["line"] if m.startswith("automl"))}))
    """)
    runs = []
    for _ in range(3):  # the machine is shared: keep the best of up to three fresh interpreters
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if runs[-1]["seconds"] < 0.2:
            break
    info = min(runs, key=lambda r: r["seconds"])
    assert info["heavy"] == []
    assert info["seconds"] < 0.2, runs
    assert "automl" in info["cell"]
    assert set(info["line"]) >= {
        "automl_code",
        "automl_deploy",
        "automl_explain",
        "automl_export",
        "automl_history",
        "automl_leaderboard",
        "automl_load",
        "automl_monitor",
        "automl_pareto",
        "automl_plan",
        "automl_plot",
        "automl_predict",
        "automl_promote",
        "automl_retrain",
        "automl_rollback",
        "automl_save",
    }


def test_help_pages_show_the_options_and_an_example(ip, capsys):
    doc = ip.find_cell_magic("automl").__doc__
    assert "%%automl" in doc and "--time-budget SEC" in doc and "Example::" in doc
    plot_doc = ip.find_line_magic("automl_plot").__doc__
    assert "KIND" in plot_doc and "prediction-vs-actual" in plot_doc and "Example::" in plot_doc
    assert ip.run_cell_magic("automl", "--help", "df") is None
    assert "--max-evals N" in capsys.readouterr().out


# --------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    "line, expected",
    [
        ("--target target --bud 3", r"Unknown option --bud \(options are never abbreviated\)"),
        ("--target target stray", r"Unexpected argument: stray\.\n"),
        ("--target target two strays", r"Unexpected arguments: two strays\.\n"),
        ("--target target --max-ev 3", r"Unknown option --max-ev .*Did you mean --max-evals\?"),
        (
            "--target target --metrc accuracy",
            r"Did you mean --metric\?.*Valid options: .*--time-budget",
        ),
        (
            "--target target --time-budget -5",
            r"argument --time-budget: must be a number of seconds > 0, or with a unit: 30s, 2m, 1\.5h; got -5",
        ),
        ("--target target --time-budget 0", r"--time-budget: must be a number of seconds > 0, or with a unit: 30s, 2m, 1\.5h; got 0"),
        (
            "--target target --time-budget ten",
            r"argument --time-budget: 'ten' is not a duration: give a number of seconds > 0",
        ),
        ("--target target --max-evals 0", r"--max-evals: must be an int >= 1; got 0"),
        ("--target target --trial-timeout -1", r"--trial-timeout: must be a number of seconds > 0, or with a unit: 30s, 2m, 1\.5h; got -1"),
        ("--target target --jobs 0", r"--jobs: must be an int >= 1, -1 for one per CPU, or auto; got 0"),
        ("--target target --jobs some", r"argument -j/--jobs: must be an int >= 1, -1 for one per CPU, or auto; got 'some'"),
        ("--target target --seed -1", r"--seed: must be an int in \[0, 2\*\*32 - 1\]; got -1"),
        ("--target target --seed 1.5", r"--seed: invalid int value: '1.5'"),
        (
            "--target target --task regresion",
            r"invalid choice: 'regresion'.*Did you mean 'regression'\?",
        ),
        (
            "--target target --metric acuracy",
            r"Unknown metric 'acuracy'. Did you mean 'accuracy'\? Valid metrics: .*r2",
        ),
        (
            "--target target --models xgbost",
            r"Unknown model 'xgbost'.*Valid models: .*random_forest",
        ),
        (
            "--target target --models ridge --exclude ridge",
            r"--models and --exclude both name ridge",
        ),
        (
            "--target target --task regression --metric f1",
            r"'f1' does not fit a regression task.*r2",
        ),
        ("--target target --cv bogus", r"Unknown cv scheme 'bogus'.*stratified"),
        ("--target target --metric Balanced-Acuracy", r"Unknown metric 'Balanced-Acuracy'\. Did you mean "
                                                      r"'balanced_accuracy'\?"),
        ("--target target --name 1x", r"'1x' is not a valid Python variable name"),
    ],
)
def test_bad_options_are_refused_before_any_work(ip, iris, line, expected):
    ip.push({"df": iris})
    with pytest.raises(UsageError, match=expected):
        ip.run_cell_magic("automl", line, "df")
    assert not Path("nbautoml_home/runs").exists()  # no search started
    assert "automl" not in ip.user_ns


def test_usage_error_prints_a_short_message_without_traceback(ip, iris, capsys):
    ip.push({"df": iris})
    result = ip.run_cell("%%automl --target target --time-budget -5\ndf")
    assert isinstance(result.error_in_exec, UsageError)
    result = ip.run_cell("%%automl --target tagret --no-widgets\ndf")  # an engine error (DataError)
    assert isinstance(result.error_in_exec, UsageError)
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "UsageError: argument --time-budget: must be a number of seconds > 0, or with a unit: 30s, 2m, 1.5h; got -5" in text
    assert "Target column 'tagret' not found. Did you mean 'target'?" in text
    assert "Traceback" not in text and 'File "' not in text


def test_quoted_values_are_literal_text(ip, iris):
    ip.push({"df": iris})
    with pytest.raises(UsageError, match=r"Target column 'no such column' not found"):
        ip.run_cell_magic("automl", '--target "no such column" --no-widgets', "df")
    injected = "__import__('pathlib').Path('pwned').touch()"
    with pytest.raises(UsageError, match=r"Target column .*pwned.* not found"):
        ip.run_cell_magic("automl", f'--target "{injected}" --no-widgets', "df")
    assert not Path("pwned").exists()


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("\n  \n", r"(?s)The cell is empty: name the data.*%%automl --target"),
        ("# only a comment\n", r"The cell is empty"),
        ("dff", r"name 'dff' is not defined in the notebook. Did you mean 'df'\?"),
        ("[1, 2, 3]", r"The cell gave a list; expected a DataFrame, `X, y`, or the path"),
        ("df, df, df", r"gave a tuple of 3 items"),
        ("data = df", r"The last line of the cell must be an expression"),
        ("df[", r"not valid Python \(.*\) nor a .csv/.parquet path"),
        ("missing.csv", r"File not found: 'missing.csv'"),
    ],
)
def test_bad_cell_bodies_say_what_to_write(ip, iris, cell, expected):
    ip.push({"df": iris})
    with pytest.raises(UsageError, match=expected):
        ip.run_cell_magic("automl", "--target target --no-widgets", cell)


def test_missing_target_and_missing_search_names(ip, iris):
    ip.push({"df": iris})
    with pytest.raises(UsageError, match=r"Name the target column: %%automl --target COLUMN \(or give `X, y` "
                       r"in the cell\)\. The data has 5 columns: sepal length \(cm\), .*, target\.$"):
        ip.run_cell_magic("automl", "--no-widgets", "df")
    with pytest.raises(
        UsageError, match=r"No search named 'x' in this kernel; run %%automl --name x first."
    ):
        ip.run_line_magic("automl_leaderboard", "x")
    with pytest.raises(UsageError, match=r"No search named 'automl' in this kernel"):
        ip.run_line_magic("automl_code", "")
    with pytest.raises(UsageError, match=r"'df' is a DataFrame, not a search result"):
        ip.run_line_magic("automl_plot", "df convergence")
    with pytest.raises(UsageError, match=r"No search named 'nope' to resume"):
        ip.run_cell_magic("automl", "--target target --resume nope --no-widgets", "df")


# --------------------------------------------------------------------------- searches


def test_dataframe_expression_binds_the_result_under_its_name(ip, iris):
    ip.push({"df": iris})
    shown = ip.run_cell_magic("automl", f"--target target {FAST} --name my_search", "df")
    result = ip.user_ns["my_search"]
    assert "automl" not in ip.user_ns
    assert type(result).__name__ == "AutoML" and result.task_ == "multiclass"
    assert len(result.trials_) == 2 and result.best_score_ > 0.8
    assert shown is None or shown is result  # the panel showed it, or IPython displays it
    board = ip.run_line_magic("automl_leaderboard", "")  # default NAME: this kernel's last search
    display = result.leaderboard_display(10)
    assert "error" not in board.frame.columns  # no trial failed: no empty error column
    assert board.frame[[c for c in display.columns if c != "error"]].equals(display.drop(columns="error"))


def test_x_y_pair_and_the_kernel_history(ip, iris):
    X, y = iris.drop(columns="target"), iris["target"].rename("species_code")
    ip.push({"X": X, "y": y})
    ip.run_cell_magic("automl", f"{FAST} --name pair", "X, y")
    result = ip.user_ns["pair"]
    assert result.target_ == "species_code" and list(result.feature_names_in_) == list(X.columns)
    history = ip.run_line_magic("automl_history", "").frame
    row = history.iloc[0]
    assert (row["variable"], row["search"]) == ("pair", Path(result.run_dir_).name)
    assert row["trials"] == 2 and row["status"] == "completed"
    fresh(ip)  # a kernel restart: the search is still listed, from the search directory
    history = ip.run_line_magic("automl_history", "").frame
    assert history["search"].tolist() == [Path(result.run_dir_).name]
    assert history["variable"].tolist() == [""]


def test_file_path_in_the_cell(ip, diabetes):
    diabetes.to_csv("diabetes.csv", index=False)
    ip.run_cell_magic(
        "automl",
        "--target target --max-evals 1 --models ridge --cv 3 --no-widgets",
        "diabetes.csv  # the file",
    )
    result = ip.user_ns["automl"]
    assert result.task_ == "regression" and result.metric_ == "r2"
    assert result.data_fingerprint_["rows"] == len(diabetes)


def test_a_sheet_of_an_excel_file_in_the_cell(ip, diabetes, capsys):
    """``--sheet`` names the sheet; without it the first is read and the cell says so."""
    pytest.importorskip("openpyxl")
    with pd.ExcelWriter("book.xlsx") as writer:
        diabetes.head(3).to_excel(writer, sheet_name="notes", index=False)
        diabetes.to_excel(writer, sheet_name="patients", index=False)
    options = "--target target --max-evals 1 --models ridge --cv 3 --no-widgets"
    ip.run_cell_magic("automl", f"{options} --sheet patients", "book.xlsx")
    assert ip.user_ns["automl"].data_fingerprint_["rows"] == len(diabetes)
    assert "read book.xlsx: sheet 'patients'" in capsys.readouterr().out
    ip.run_line_magic("automl_plan", "book.xlsx")  # a plan of the first sheet: the cell says which
    assert "read book.xlsx: sheet 'notes', the first of 2 (sheet= or --sheet for another)" in capsys.readouterr().out
    with pytest.raises(UsageError, match=r"--sheet patients is for Excel files; d.csv is read as csv"):
        diabetes.to_csv("d.csv", index=False)
        ip.run_cell_magic("automl", f"{options} --sheet patients", "d.csv")
    ip.push({"df": diabetes})
    with pytest.raises(UsageError, match="--sheet is for an Excel file named in the cell; it names a DataFrame"):
        ip.run_cell_magic("automl", f"{options} --sheet patients", "df")
    with pytest.raises(Exception, match=r"book.xlsx has no sheet 'patient'.*Did you mean 'patients'\?"):
        ip.run_cell_magic("automl", f"{options} --sheet patient", "book.xlsx")


def test_code_whose_last_line_names_the_data(ip, iris):
    ip.push({"raw": iris})
    cell = (
        "subset = raw[raw.target != 0].copy()\n"
        "subset['target'] = subset['target'].map({1: 'a', 2: 'b'})\n"
        "subset"
    )
    ip.run_cell_magic("automl", f"--target target {FAST}", cell)
    result = ip.user_ns["automl"]
    assert "subset" in ip.user_ns  # the code ran in the user namespace
    assert result.task_ == "binary" and list(result.classes_) == ["a", "b"]
    assert result.data_fingerprint_["rows"] == 100


def test_config_traits_set_the_defaults(ip, iris, caplog):
    ip.run_line_magic("config", "AutoMLMagics.time_budget = -3")  # %config logs the refusal
    assert "AutoMLMagics.time_budget must be a number of seconds > 0, or with a unit: 30s, 2m, 1.5h, or 'none'; got -3" in caplog.text
    assert ip.magics_manager.registry["AutoMLMagics"].time_budget == 60.0
    ip.run_line_magic("config", "AutoMLMagics.max_evals = 1")
    ip.run_line_magic("config", "AutoMLMagics.time_budget = 45.0")
    ip.run_line_magic("config", "AutoMLMagics.name = 'iris_search'")
    ip.push({"df": iris})
    ip.run_cell_magic("automl", "--target target --models decision_tree --cv 3 --no-widgets", "df")
    result = ip.user_ns["iris_search"]
    assert (result.max_evals, result.time_budget, len(result.trials_)) == (1, 45.0, 1)
    ip.run_cell_magic(
        "automl", "--target target --models decision_tree --cv 3 --max-evals 2 --no-widgets", "df"
    )
    assert len(ip.user_ns["iris_search"].trials_) == 2  # the option wins over the trait
    # durations with a unit, in a cell and in %config
    ip.run_line_magic("config", "AutoMLMagics.time_budget = '1.5m'")
    assert ip.magics_manager.registry["AutoMLMagics"].time_budget == 90.0
    ip.run_cell_magic("automl", "--target target --models decision_tree --cv 3 --time-budget 20s "
                                "--trial-timeout 0.25m --no-widgets", "df")
    assert (ip.user_ns["iris_search"].time_budget, ip.user_ns["iris_search"].trial_timeout) == (20.0, 15.0)


def test_resume_after_a_kernel_restart(ip, iris):
    ip.push({"df": iris})
    ip.run_cell_magic(
        "automl",
        "--target target --max-evals 1 --models logistic_regression,decision_tree "
        "--cv 3 --no-widgets --name first",
        "df",
    )
    first = ip.user_ns["first"]
    search = Path(first.run_dir_).name
    fresh(ip)  # restart: nothing in memory
    ip.push({"df": iris})
    ip.run_cell_magic(
        "automl",
        f"--resume {search} --max-evals 2 --models logistic_regression,"
        "decision_tree --cv 3 --no-widgets",
        "df",
    )  # the target comes from the store
    resumed = ip.user_ns["automl"]
    assert Path(resumed.run_dir_) == Path(first.run_dir_)
    assert len(resumed.trials_) == 2
    assert resumed.trials_[0].config == first.trials_[0].config
    assert resumed.trials_[0].score == first.trials_[0].score
    history = ip.run_line_magic("automl_history", "").frame
    assert history.loc[history["search"] == search, "variable"].tolist() == ["automl"]
    assert history.loc[history["search"] == search, "trials"].tolist() == [2]


def test_leaderboard_of_a_stored_search_after_a_kernel_restart(ip, iris):
    ip.push({"df": iris})
    ip.run_cell_magic("automl", f"--target target {FAST} --name before", "df")
    before = ip.user_ns["before"]
    live = ip.run_line_magic("automl_leaderboard", "before --all")
    fresh(ip)  # restart: nothing in memory, the search directory is still on disk
    assert "before" not in ip.user_ns
    stored = ip.run_line_magic("automl_leaderboard", "before --all")  # the variable's name still works
    pd.testing.assert_frame_equal(stored.frame, live.frame)
    run = Path(before.run_dir_).name
    assert f"read from the stored search {run}" in stored.caption
    assert stored.caption.startswith(live.caption[:-1])  # the same metric, validation and legend
    top = ip.run_line_magic("automl_leaderboard", "before --top 1")
    assert len(top.frame) == 1 and top.frame.iloc[0]["model"] == live.frame.iloc[0]["model"]
    # what needs the model says how to get it back
    with pytest.raises(UsageError, match=rf"A stored search is on disk for it \({run}\).*--resume {run}"):
        ip.run_line_magic("automl_plot", "before convergence")
    with pytest.raises(UsageError, match=r"No search named 'never_ran' in this kernel") as err:
        ip.run_line_magic("automl_leaderboard", "never_ran")
    assert "stored search" not in str(err.value)
    # and --resume takes the variable's name too: same search directory, same trials
    ip.push({"df": iris})
    ip.run_cell_magic("automl", f"--resume before {FAST} --name before", "df")
    reopened = ip.user_ns["before"]
    assert Path(reopened.run_dir_) == Path(before.run_dir_)
    assert [t.score for t in reopened.trials_] == [t.score for t in before.trials_]


# --------------------------------------------------------------------------- working with a result


def test_leaderboard_shows_fold_spread_and_ties(ip, fitted):
    ip.push({"fitted": fitted})
    table = ip.run_line_magic("automl_leaderboard", "fitted --all")
    html = table._repr_html_()
    ok = fitted.leaderboard[fitted.leaderboard["status"] == "ok"]
    for _, row in ok.iterrows():
        assert f"{row['score']:.4f} ± {row['score_std']:.4f}" in html
    ties = int((ok["tied_with_best"] & (ok["rank"] != 1)).sum())
    assert html.count("≈") == ties + 1  # the marks, and the caption that explains them
    assert "paired corrected t-test" in repr(table)


def test_leaderboard_text_left_aligns_pipelines_and_keeps_errors(ip, fitted):
    """In a terminal or a log the leaderboard is text: pipelines and errors start under their
    header, as a reader scans them; the error column shows where a trial failed."""
    import copy

    failed = copy.deepcopy(fitted)
    board = failed.leaderboard_.copy()
    last = board.index[-1]
    board.loc[last, ["status", "error"]] = ["error", "ValueError: boom"]
    failed.leaderboard_ = board
    ip.push({"failed": failed, "fitted": fitted})
    for name, has_error in (("fitted", False), ("failed", True)):
        table = ip.run_line_magic("automl_leaderboard", f"{name} --all")
        lines = repr(table).splitlines()[1:]
        assert ("error" in table.frame.columns) is has_error
        assert (" error" in lines[0]) is has_error
        at = lines[0].index(" pipeline") + 1
        for row in lines[1:]:
            assert row[at - 1] == " " and row[at] != " ", (lines[0], row)
    assert "ValueError: boom" in lines[-1]


def test_predict_from_an_expression_and_a_file(ip, fitted, iris):
    ip.push({"fitted": fitted, "df": iris})
    shown = ip.run_line_magic("automl_predict", "fitted df.iloc[:20] --out preds")
    assert ip.user_ns["preds"] is shown
    assert np.array_equal(shown.to_numpy(), fitted.predict(iris.iloc[:20]))
    iris.to_csv("new.csv", index=False)
    proba = ip.run_line_magic("automl_predict", "fitted new.csv --proba")
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1)
    with pytest.raises(
        UsageError, match=r"name 'dg' is not defined in the notebook. Did you mean 'df'\?"
    ):
        ip.run_line_magic("automl_predict", "fitted dg")
    # a submission file: the kept columns, the prediction, a probability per class (as the CLI)
    ip.push({"test": iris.assign(row_id=range(150))})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # row_id is asked for, not "ignored" as a column the model does not use
        table = ip.run_line_magic("automl_predict", "fitted test --keep row_id --proba --file sub/submission.csv")
    written = pd.read_csv("sub/submission.csv")
    assert list(written.columns) == ["row_id", "predicted target", "probability 0", "probability 1",
                                     "probability 2"] == list(table.columns)
    assert written["predicted target"].tolist() == fitted.predict(iris).tolist()
    with pytest.raises(UsageError, match="No column 'rowid' to keep in the data. Did you mean 'row_id'"):
        ip.run_line_magic("automl_predict", "fitted test --keep rowid")
    with pytest.raises(UsageError, match="give a file ending in .csv, .parquet, .jsonl"):
        ip.run_line_magic("automl_predict", "fitted test --file sub.xlsx")


def test_code_is_printed_and_reproduces_the_score(ip, fitted, iris, capsys):
    from nbautoml.codegen import pipeline_code

    ip.push({"fitted": fitted})
    ip.run_line_magic("automl_code", "fitted --out code")
    code = ip.user_ns["code"]
    assert capsys.readouterr().out == code + "\n"
    assert code == pipeline_code(fitted)
    assert not re.search(r"^\s*(import|from)\s+nbautoml", code, re.M)
    namespace = {"df": iris}
    exec(compile(code, "<automl_code>", "exec"), namespace)  # noqa: S102 - the code under test
    score = float(re.search(r"CV accuracy: ([0-9.]+)", capsys.readouterr().out).group(1))
    assert abs(score - fitted.best_score_) < 1e-6
    with pytest.raises(UsageError, match=r"No trial 99; the trials are \[0, 1\]"):
        ip.run_line_magic("automl_code", "fitted --trial 99")
    ip.run_line_magic("automl_code", "fitted --file out/code.py --data-var frame")
    assert "data = frame[frame[target].notna()]" in Path("out/code.py").read_text()


def test_plot_kinds(ip, fitted, monkeypatch):
    ip.push({"fitted": fitted})
    with pytest.raises(
        UsageError, match=r"Unknown plot kind 'rocc'. Did you mean 'roc'\? Valid kinds: conv"
    ):
        ip.run_line_magic("automl_plot", "fitted rocc")
    with pytest.raises(UsageError, match=r"'fitted' is a variable, not a plot kind: give the kind after "
                                         r"it, e\.g\. %automl_plot fitted convergence"):
        ip.run_line_magic("automl_plot", "fitted")
    with pytest.raises(
        UsageError, match=r"'residuals' plot is for regression.*Plots for it: .*confusion"
    ):
        ip.run_line_magic("automl_plot", "fitted residuals")
    with pytest.raises(UsageError, match=r"The 'threshold' plot is for binary classification; 'fitted' is a "
                                         r"multiclass search\. Plots for it: .*calibration, importance") as err:
        ip.run_line_magic("automl_plot", "fitted decision-threshold")
    assert "threshold," not in str(err.value).split("Plots for it:")[1]
    pytest.importorskip("nbautoml.render.plots")
    from matplotlib.figure import Figure

    published = []
    monkeypatch.setattr(ip.display_pub, "publish",
                        lambda data, metadata=None, **kw: published.append((data, metadata)))
    ip.run_line_magic("automl_plot", "fitted convergence --out fig")
    assert isinstance(ip.user_ns["fig"], Figure)
    (data, metadata), = published
    assert base64.b64decode(data["image/png"])[:4] == b"\x89PNG"
    assert metadata["image/png"]["alt"].startswith("Convergence: best accuracy so far. x axis: Trial")
    # the other names plot() takes (one table for both): "history", "Confusion-Matrix"
    ip.run_line_magic("automl_plot", "fitted history")
    ip.run_line_magic("automl_plot", "fitted Confusion-Matrix")
    alts = [metadata["image/png"]["alt"] for _data, metadata in published]
    assert alts[1].startswith("Convergence: ") and alts[2].startswith("Confusion matrix"), alts


def test_save_and_load(ip, fitted, iris, capsys):
    ip.push({"fitted": fitted, "df": iris})
    ip.run_line_magic("automl_save", "fitted models/iris")
    saved = [p for p in Path("models").iterdir() if not p.name.startswith(".")]
    assert len(saved) == 1 and str(saved[0]) in capsys.readouterr().out
    returned = ip.run_line_magic("automl_load", f"{saved[0]} --name back")
    predicted = ip.run_line_magic("automl_predict", "back df")
    assert np.array_equal(predicted.to_numpy(), fitted.predict(iris))
    # `model = %automl_load PATH` binds the model it loaded (it was None)
    assert returned is ip.user_ns["back"] and np.array_equal(returned.predict(iris), fitted.predict(iris))
    ip.run_cell(f"assigned = %automl_load {saved[0]}")
    assert type(ip.user_ns["assigned"]).__name__ == "LoadedModel"
    with pytest.raises(UsageError, match=r"No file or directory at 'models/nope'"):
        ip.run_line_magic("automl_load", "models/nope")
    # a directory: the file goes inside it, named after the search (not models.nbautoml beside it)
    ip.run_line_magic("automl_save", "fitted models")
    assert Path("models/fitted.nbautoml").is_file() and not Path("models.nbautoml").exists()
    # without PATH the file is NAME.nbautoml, even beside a folder of that name
    Path("fitted").mkdir()
    ip.run_line_magic("automl_save", "fitted")
    assert Path("fitted.nbautoml").is_file() and not Path("fitted/fitted.nbautoml").exists()


def test_live_display_is_the_panel_or_the_text_fallback():
    from nbautoml.magics.search import make_listener

    listener = make_listener(widgets=False)
    try:
        import nbautoml.render.panel  # noqa: F401
    except ImportError:
        from nbautoml.render.progress import TqdmProgress

        assert isinstance(listener, TqdmProgress)
    else:
        assert callable(listener) and callable(listener.finish)


def test_history_is_a_table_when_empty(ip):
    table = ip.run_line_magic("automl_history", "")
    assert isinstance(table.frame, pd.DataFrame) and table.frame.empty
    assert "No searches yet" in repr(table)


def test_load_of_a_file_nothing_can_verify_needs_its_sha256_or_no_verify(ip, fitted, capsys):
    # S-08 from a notebook: a bare skops file (no card with its hashes, no registry record) is
    # refused, and the message names the magic's own ways in, not only nbautoml.load's
    import hashlib

    import skops.io as sio

    sio.dump(fitted.best_pipeline_, "bare.skops")
    with pytest.raises(UsageError, match=r"integrity cannot be verified.*%automl_load bare.skops "
                                         r"--sha256 HEX, or --no-verify"):
        ip.run_line_magic("automl_load", "bare.skops --name bare")
    assert "bare" not in ip.user_ns
    digest = hashlib.sha256(Path("bare.skops").read_bytes()).hexdigest()
    ip.run_line_magic("automl_load", f"bare.skops --name bare --sha256 {digest}")
    assert "Loaded 'bare.skops' into `bare`" in capsys.readouterr().out
    with pytest.raises(UsageError, match="SHA-256"):
        ip.run_line_magic("automl_load", f"bare.skops --name wrong --sha256 {'0' * 64}")
    with pytest.warns(UserWarning, match=r"loaded with verify=False"):
        ip.run_line_magic("automl_load", "bare.skops --name trusted --no-verify")
    assert ip.user_ns["trusted"].predict(fitted._X.head(5)).tolist() == fitted.predict(fitted._X.head(5)).tolist()


def test_load_of_a_type_outside_the_allowlist_names_the_magics_trusted_option(ip, iris, capsys):
    """The refusal tells a notebook user the magic's own way in (--trusted TYPE, as on the
    command line), not only nbautoml.load's trusted=[...]."""
    from sklearn.neighbors import NearestCentroid

    import nbautoml

    X, y = iris.drop(columns=["target"]), iris["target"]
    with pytest.warns(UserWarning, match="outside nbautoml's allowlist"):
        nbautoml.save(NearestCentroid().fit(X, y), "nc")
    name = "sklearn.neighbors._nearest_centroid.NearestCentroid"
    with pytest.raises(UsageError, match=rf"reviewed these types, add --trusted {re.escape(name)}\.$"):
        ip.run_line_magic("automl_load", "nc.nbautoml --name nc")
    assert "nc" not in ip.user_ns
    ip.run_line_magic("automl_load", f"nc.nbautoml --name nc --trusted {name}")
    assert "Loaded 'nc.nbautoml' into `nc`" in capsys.readouterr().out
    assert ip.user_ns["nc"].predict(X.head(5)).tolist() == NearestCentroid().fit(X, y).predict(X.head(5)).tolist()


def test_memory_limit_option_and_trait_reach_the_search(ip, iris):
    # AutoML(memory_limit=MB) (audit F-06) from the cell magic: the option, else the trait
    from tests.magics.conftest import FAST

    ip.push({"df": iris})
    ip.run_cell_magic("automl", f"--target target {FAST} --memory-limit 2048 --name limited", "df")
    limited = ip.user_ns["limited"]
    assert limited.memory_limit == 2048 and limited.summary()["statuses"].get("memory", 0) == 0
    ip.run_line_magic("config", "AutoMLMagics.memory_limit = 4096")
    ip.run_cell_magic("automl", f"--target target {FAST} --name configured", "df")
    assert ip.user_ns["configured"].memory_limit == 4096
    with pytest.raises(UsageError, match=r"--memory-limit: must be a number > 0; got 0"):
        ip.run_cell_magic("automl", "--target target --memory-limit 0", "df")
