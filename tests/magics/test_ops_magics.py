"""The deploy, monitor and explain magics, through a real IPython InteractiveShell.

One small real search on the blood data set (numeric, binary) is shared by the module;
one more (with a categorical column and --ensemble) checks the search options and the ONNX
export of an ensemble with a categorical input.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

from nbautoml.render.html import _CELL
from tests.conftest import load_dataset

from .conftest import fresh

SEARCH = "--target Class --max-evals 3 --models logistic_regression,decision_tree --cv 3"


@pytest.fixture(scope="module")
def blood(datasets_dir):
    frame, target, _task = load_dataset("blood")
    assert target == "Class"
    return frame


@pytest.fixture(scope="module")
def searched(shell, blood):
    """%%automl --prefer fast on blood: the model the other tests monitor, explain and deploy."""
    ip = fresh(shell)
    ip.push({"df": blood})
    ip.run_cell_magic("automl", f"{SEARCH} --prefer fast --no-widgets --name blood_search", "df")
    result = ip.user_ns["blood_search"]
    ip.reset(new_session=False)
    return result


@pytest.fixture
def shown(ip, monkeypatch):
    """The MIME bundles the magics display (IPython's display() goes through display_pub)."""
    class Bundles(list):
        """The data of each output; ``.metadata`` holds their output metadata, in order."""

        metadata: list = []

    bundles = Bundles()
    bundles.metadata = []

    def publish(data, metadata=None, **kw):
        bundles.append(data)
        bundles.metadata.append(metadata or {})

    monkeypatch.setattr(ip.display_pub, "publish", publish)
    return bundles


def _images(bundles) -> list[str]:
    return [b["text/plain"] for b in bundles if "image/png" in b]


# --------------------------------------------------------------------------- help and options


def test_help_pages_have_usage_options_and_an_example(ip, capsys):
    for magic, needles in {
        "automl_monitor": ["NAME [DATA ...]", "--threshold KEY=VALUE", "--history", "--labels COL"],
        "automl_explain": ["--row N", "--top K", "Example::"],
        "automl_deploy": ["--api DIR", "Example::"],
        "automl_export": ["--onnx", "PATH", "Example::"],
        "automl_pareto": ["{latency,size}", "Example::"],
        "automl_save": ["registry:NAME", "--stage STAGE"],
        "automl_load": ["titanic@production"],
    }.items():
        doc = ip.find_line_magic(magic).__doc__
        assert all(n in doc for n in needles), (magic, doc)
        assert "Example::" in doc
    assert ip.run_line_magic("automl_monitor", "--help") is None
    assert "--threshold KEY=VALUE" in capsys.readouterr().out
    cell_doc = ip.find_cell_magic("automl").__doc__
    assert "--prefer {accurate,fast,small}" in cell_doc and "--backend {local,spark}" in cell_doc
    assert "--ensemble" in cell_doc


@pytest.mark.parametrize(
    "line, expected",
    [
        ("--prefer fastest", r"invalid choice: 'fastest'.*Did you mean 'fast'\?"),
        ("--backend sparc", r"invalid choice: 'sparc'.*Did you mean 'spark'\?"),
        ("--ensemble --prefer small", r"--ensemble combines the most accurate trials.*small"),
        ("--ensembl", r"Unknown option --ensembl.*Did you mean --ensemble\?"),
    ],
)
def test_bad_search_options_are_refused_before_any_work(ip, blood, line, expected):
    ip.push({"df": blood})
    with pytest.raises(UsageError, match=expected):
        ip.run_cell_magic("automl", f"--target Class {line}", "df")
    assert not Path("nbautoml_home/runs").exists()


def test_config_traits_are_the_defaults_of_the_new_options(ip, caplog):
    from nbautoml.magics.search import search_options

    magics = ip.magics_manager.registry["AutoMLMagics"]
    ip.run_line_magic("config", "AutoMLMagics.backend = 'cloud'")  # %config logs the refusal
    assert "cloud" in caplog.text and magics.backend == "local"
    parse = ip.find_cell_magic("automl").parser.parse_args
    assert "ensemble" not in search_options(magics, parse([]))  # AutoML's default: "auto"
    assert search_options(magics, parse(["--no-ensemble"]))["ensemble"] is False
    assert search_options(magics, parse(["--ensemble"]))["ensemble"] == "auto"
    assert "prune_families" not in search_options(magics, parse([]))  # AutoML's default: True
    assert search_options(magics, parse(["--no-prune"]))["prune_families"] is False
    ip.run_line_magic("config", "AutoMLMagics.ensemble = False")
    ip.run_line_magic("config", "AutoMLMagics.prefer = 'small'")
    options = search_options(magics, parse([]))
    assert (options["ensemble"], options["prefer"], options["backend"]) == (False, "small", "local")
    assert search_options(magics, parse(["--ensemble"]))["ensemble"] == "auto"
    assert search_options(magics, parse(["--prefer", "fast"]))["prefer"] == "fast"


def test_time_budget_none_runs_a_search_that_only_max_evals_ends(ip, blood):
    from nbautoml.magics.search import search_options

    magics = ip.magics_manager.registry["AutoMLMagics"]
    parse = ip.find_cell_magic("automl").parser.parse_args
    assert search_options(magics, parse([]))["time_budget"] == 60.0
    assert search_options(magics, parse(["--time-budget", "None"]))["time_budget"] is None
    ip.run_line_magic("config", "AutoMLMagics.time_budget = 'None'")  # a course's default: no clock
    assert magics.time_budget == "none" and search_options(magics, parse([]))["time_budget"] is None
    assert search_options(magics, parse(["--time-budget", "20"]))["time_budget"] == 20.0
    ip.run_line_magic("config", "AutoMLMagics.time_budget = 'soon'")
    assert magics.time_budget == "none"  # refused: the value before stays
    ip.run_line_magic("config", "AutoMLMagics.time_budget = 45")
    assert search_options(magics, parse([]))["time_budget"] == 45.0
    ip.push({"blood": blood})
    with pytest.raises(UsageError, match="Give a time_budget, max_evals or early_stop"):
        ip.run_cell_magic("automl", "--target Class --time-budget none", "blood")
    ip.run_cell_magic("automl", "--target Class --time-budget none --max-evals 3 --jobs 2 --no-ensemble "
                      "--name clockless", "blood")
    result = ip.user_ns["clockless"]
    assert result.time_budget is None and len(result.trials_) == 3
    assert result.stop_reason_ == "max_evals=3 reached"


# --------------------------------------------------------------------------- leaderboard and result


def test_leaderboard_shows_the_measured_costs(ip, searched):
    ip.push({"blood_search": searched})
    table = ip.run_line_magic("automl_leaderboard", "blood_search")
    board = searched.leaderboard
    for header, column in [
        ("ms/1k", "predict_ms_per_1k"),
        ("KB", "model_size_kb"),
        ("MB", "peak_memory_mb"),
        ("cpu s", "cpu_time"),
    ]:
        assert board[column].notna().all()
        expected = [float(f"{v:.3g}") for v in board[column]]
        assert table.frame[header].tolist() == expected
    display = searched.leaderboard_display(10).drop(columns="error")  # left out: no trial failed
    assert table.frame[list(display.columns)].equals(display)
    assert "ms/1k = prediction ms per 1,000 rows" in table.caption


def test_prefer_reaches_automl_and_the_result_html(searched):
    assert searched.prefer == "fast" and searched.ensemble == "auto" and searched.ensemble_ is None
    assert searched.backend == "local"
    html = searched._repr_html_()
    assert f"Preference (fast)</th><td style='{_CELL}'>{escape(searched.preference_)}<" in html
    assert "Ensemble" not in html


def test_ensemble_and_backend_options_and_the_onnx_export_of_a_category(ip, blood):
    pytest.importorskip("skl2onnx", reason="ONNX export needs skl2onnx")
    data = blood.assign(donor=np.where(blood["Frequency"] > 5, "regular", "occasional"))
    ip.push({"df": data})
    ip.run_cell_magic(
        "automl",
        "--target Class --max-evals 3 --models decision_tree --cv kfold:3 --ensemble --backend local "
        "--no-widgets --name ens",
        "df",
    )
    result = ip.user_ns["ens"]
    assert (result.ensemble, result.backend, result.prefer) == ("auto", "local", "accurate")
    assert result.ensemble_ is not None and result.ensemble_.size >= 2
    html = result._repr_html_()
    assert f"the model averages {result.ensemble_.size} pipelines" in html
    # the two scores are named as pooled, not confused with the fold mean of the best CV score
    assert (f"{result.ensemble_.score:.4f} on the out-of-fold predictions of all rows pooled, against "
            f"{result.ensemble_.single_score:.4f} for the chosen single pipeline scored the same way, "
            f"and better on {result.ensemble_.folds_better} of its 3 validation folds") in html
    assert 2 * result.ensemble_.folds_better > 3  # "auto" keeps only an ensemble better on most folds
    assert "Preference" not in html
    # the ensemble and its categorical column (donor, fed as strings) convert
    table = ip.run_line_magic("automl_export", "ens model.onnx --out onx")
    assert Path("model.onnx").exists() and ip.user_ns["onx"].string_inputs == ["donor"]
    assert "4 float32 columns [N, 1]: Recency, Frequency, Monetary, Time" in table._repr_html_()
    assert "1 string column [N, 1] (a missing value as \"missing\"): donor" in table._repr_html_()
    assert f"passed on {len(data):,} training rows" in table._repr_html_()


def test_pareto_plot(ip, searched, shown):
    from matplotlib.figure import Figure

    ip.push({"blood_search": searched})
    ip.run_line_magic("automl_pareto", "blood_search --x size --out fig")
    fig = ip.user_ns["fig"]
    assert isinstance(fig, Figure) and "KB" in fig.axes[0].get_xlabel()
    assert _images(shown) == ["<Figure: roc_auc (higher is better) against cost>"]
    with pytest.raises(UsageError, match=r"invalid choice: 'speed' \(choose from 'latency', 'size'\)"):
        ip.run_line_magic("automl_pareto", "blood_search --x speed")
    with pytest.raises(UsageError, match=r"--x: expected one argument: one of latency, size"):
        ip.run_line_magic("automl_pareto", "blood_search --x")


# --------------------------------------------------------------------------- monitor


def test_monitor_batches_then_the_history(ip, searched, blood, shown):
    ok_batch = blood.sample(300, random_state=1).reset_index(drop=True)
    shifted = blood.sample(300, random_state=2).reset_index(drop=True)
    shifted["Recency"] = shifted["Recency"] + 25
    missing = blood.sample(200, random_state=3).drop(columns=["Recency"])
    ip.push({"blood_search": searched, "ok_batch": ok_batch, "shifted": shifted, "missing": missing})

    # the search saw every blood row: a sample of them is named as training rows, scored in-sample
    ok = ip.run_line_magic("automl_monitor", "blood_search ok_batch --labels Class --out ok")
    assert ip.user_ns["ok"] is ok and ok.status == "warn" and ok.n_rows == 300
    assert tuple(ok.findings.iloc[0][["check", "value"]]) == ("training_rows", 1.0)
    assert ok.metric == "roc_auc" and not np.isnan(ok.metric_value)

    ip.run_line_magic("automl_monitor", "blood_search shifted --out drift")
    drift = ip.user_ns["drift"]
    assert drift.status in ("warn", "alert") and drift.drifted_features()[0] == "Recency"
    assert drift.findings.iloc[0]["feature"] == "Recency"  # worst first, in the HTML too
    first_row = drift._repr_html_().split("<tbody>")[1].split("</tr>")[0]
    assert "Recency" in first_row and drift.status in first_row

    gone = ip.run_line_magic("automl_monitor", "blood_search missing")
    assert gone.status == "alert"
    row = gone.findings.iloc[0]
    assert (row["feature"], row["check"]) == ("Recency", "missing_column")
    assert shown == []  # without --history the report is the magic's value, displayed once

    ip.run_line_magic("automl_monitor", "blood_search --history --out past")
    past = ip.user_ns["past"]
    assert past["batch"].tolist() == [ok.history_id, drift.history_id, gone.history_id]
    assert past["status"].tolist() == ["warn", drift.status, "alert"]
    tables = [b["text/html"] for b in shown if "text/html" in b]
    assert len(tables) == 1 and "Monitoring history of" in tables[0]
    assert _images(shown) == [f"<Figure: Monitoring history: {ok.name}>"]


def test_monitor_thresholds_and_input_errors(ip, searched, blood):
    ip.push({"blood_search": searched, "df": blood.head(100)})
    report = ip.run_line_magic(
        "automl_monitor", "blood_search df --threshold psi_warn=0.2 psi_alert=0.5 min_rows=50"
    )
    assert (report.thresholds["psi_warn"], report.thresholds["min_rows"]) == (0.2, 50)
    cases = [
        ("blood_search", r"Give the new rows to check: %automl_monitor blood_search DATA"),
        ("blood_search df --threshold psi_wrn=0.2", r"Did you mean 'psi_warn'\?.*Valid names:"),
        ("blood_search df --threshold psi_warn", r"expected KEY=VALUE such as psi_warn=0.2"),
        ("blood_search df --threshold psi_warn=high", r"value of psi_warn must be a number"),
        ("blood_search df --labels Clas", r"'Clas' is not a column of the batch.*'Class'\?"),
        ("blood_search --history --labels Class", r"--labels applies to a batch: give DATA"),
        ("blood_search dff", r"name 'dff' is not defined.*Did you mean 'df'\?"),
        ("blood_serch df", r"no variable, file or registered model.*Did you mean 'blood_search'"),
        ("df df", r"'df' is a DataFrame, not a model"),
        ("churn@production df", r"Models in the notebook: blood_search"),
    ]
    for line, expected in cases:
        with pytest.raises(UsageError, match=expected):
            ip.run_line_magic("automl_monitor", line)


# --------------------------------------------------------------------------- explain


def test_explain_shows_the_summary_plots_and_one_row(ip, searched, shown):
    ip.push({"blood_search": searched})
    ip.run_line_magic("automl_explain", "blood_search --row 3 --top 2 --out why")
    why = ip.user_ns["why"]
    assert type(why).__name__ == "Explanation"
    assert len(why.dependence) == 2 and set(why.top_features) == set(searched.plan_.used)
    assert why.row is not None and why.row.attrs["row"] == "row 3"
    prediction = searched.predict_proba(searched._X.iloc[[3]])[0, 1]
    assert why.row.attrs["prediction"] == pytest.approx(prediction)
    htmls = [b["text/html"] for b in shown if "text/html" in b]
    assert len(htmls) == 1 and "Explanation of" in htmls[0] and "Row 3" in htmls[0]
    assert _images(shown) == [
        "<Figure: Permutation importance>",
        "<Figure: Partial dependence>",
        f"<Figure: P(Class = 1): {why.row.attrs['prediction']:.4g} against {why.row.attrs['baseline']:.4g} "
        "on average>",
    ]
    # each plot carries alternative text (a screen reader's view of it), from its own labels
    alts = [m["image/png"]["alt"] for b, m in zip(shown, shown.metadata) if "image/png" in b]
    assert len(alts) == 3 and alts[0].startswith("Permutation importance")
    assert all("x axis:" in alt for alt in alts), alts


def test_explain_errors(ip, searched):
    ip.push({"blood_search": searched, "loaded": _loaded(searched)})
    with pytest.raises(UsageError, match=r"--row 748 is out of range: the training data has 748"):
        ip.run_line_magic("automl_explain", "blood_search --row 748")
    with pytest.raises(UsageError, match=r"'loaded' is a loaded model, which keeps no training rows: explain it "
                       r"on labelled rows, %automl_explain loaded DATA, where DATA holds the target column 'Class'"):
        ip.run_line_magic("automl_explain", "loaded")
    with pytest.raises(UsageError, match=r"--top: must be an int >= 1; got 0"):
        ip.run_line_magic("automl_explain", "blood_search --top 0")


def test_explain_a_loaded_model_on_labelled_rows(ip, searched, blood, shown):
    """A model from %automl_load explains on DATA with the target, as the search it came from."""
    ip.push({"loaded": _loaded(searched), "recent": blood.tail(300)})
    ip.run_line_magic("automl_explain", "loaded recent --row 0 --top 2 --out why")
    why = ip.user_ns["why"]
    expected = searched.explain(blood.tail(300), row=0, top=2)
    pd.testing.assert_frame_equal(why.importance, expected.importance)
    assert "on the given rows" in why.summary and why.row.attrs["row"] == "row 0"
    assert len(_images(shown)) == 3


def _loaded(result):
    import nbautoml

    return nbautoml.load(nbautoml.save(result, "loaded"))


# --------------------------------------------------------------------------- deploy, export


def test_deploy_writes_the_api_and_says_how_to_run_it(ip, searched, blood, capsys):
    import nbautoml

    ip.push({"blood_search": searched})
    ip.run_line_magic("automl_deploy", "blood_search --api deploy/blood")
    out = capsys.readouterr().out
    folder = Path("deploy/blood")
    assert sorted(p.name for p in folder.iterdir()) == [
        "app.py",
        "model.nbautoml",
        "requirements.txt",
    ]
    assert "uvicorn app:app" in folder.joinpath("app.py").read_text()
    assert "fastapi" in folder.joinpath("requirements.txt").read_text()
    for needle in ("app.py", "requirements.txt", "model.nbautoml", "uvicorn app:app", "cd deploy"):
        assert needle in out
    model = nbautoml.load(folder / "model.nbautoml")
    X = blood.drop(columns=["Class"])
    assert np.array_equal(model.predict(X), searched.predict(X))
    with pytest.raises(UsageError, match=r"the following arguments are required: --api"):
        ip.run_line_magic("automl_deploy", "blood_search")


def test_export_onnx_checks_parity_on_the_training_rows(ip, searched, blood):
    pytest.importorskip("skl2onnx", reason="ONNX export needs skl2onnx")
    ort = pytest.importorskip("onnxruntime", reason="ONNX export needs onnxruntime")
    ip.push({"blood_search": searched})
    table = ip.run_line_magic("automl_export", "blood_search out/blood --onnx --out onx")
    report = ip.user_ns["onx"]
    assert report.path == Path("out/blood.onnx") and report.path.exists()
    assert report.passed and report.rows_checked == len(blood)
    assert f"passed on {len(blood):,} training rows" in table._repr_html_()
    X = blood.drop(columns=["Class"])
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    labels = session.run(["label"], {c: X[[c]].to_numpy(np.float32) for c in report.inputs})[0]
    assert np.mean(labels == searched.predict(X)) >= 0.99
    with pytest.raises(UsageError, match=r"ONNX is the only export format: add --onnx"):
        ip.run_line_magic("automl_export", "blood_search out/blood")


# --------------------------------------------------------------------------- registry


def test_a_registry_reference_loaded_with_sha256_must_be_that_version(ip, searched, blood):
    # --sha256 with NAME@STAGE used to be ignored: a stage moved to another version loaded
    # without a word. Now the registry's record must be the hash given
    from nbautoml.registry import Registry

    ip.push({"blood_search": searched})
    ip.run_line_magic("automl_save", "blood_search registry:blood --stage production")
    first = Registry().get("blood@1").sha256
    ip.run_line_magic("automl_load", f"blood@production --name checked --sha256 {first.upper()}")
    assert ip.user_ns["checked"].registry_ref_ == "blood@1"
    ip.run_line_magic("automl_save", "blood_search registry:blood --stage production")  # v2: a new card
    with pytest.raises(UsageError, match=r"blood@production is blood@2, whose registered SHA-256 is "
                                         rf"{Registry().get('blood@2').sha256[:16]}…, not the {first[:16]}… "
                                         r"expected \(sha256= / --sha256\)"):
        ip.run_line_magic("automl_load", f"blood@production --name moved --sha256 {first}")
    assert "moved" not in ip.user_ns
    # the same check in the Python API (nbautoml.load ignored sha256= for a reference)
    import nbautoml
    from nbautoml.exceptions import ConfigError
    from nbautoml.persist import IntegrityError

    for ref in ("blood@production", "registry:blood@production"):
        with pytest.raises(IntegrityError, match="blood@2, whose registered SHA-256") as info:
            nbautoml.load(ref, sha256=first)
        assert info.value.code == "sha256_mismatch"
        with pytest.raises(ConfigError, match="verify=False is for a file nothing can check"):
            nbautoml.load(ref, verify=False)
    assert nbautoml.load("blood@1", sha256=first).registry_ref_ == "blood@1"
    with pytest.raises(UsageError, match=r"--no-verify is for a file; blood@2 is a registry reference"):
        ip.run_line_magic("automl_load", "blood@2 --name unchecked --no-verify")
    assert "unchecked" not in ip.user_ns


def test_save_to_the_registry_then_load_and_monitor_references(ip, searched, blood, capsys):
    ip.push({"blood_search": searched, "batch": blood.sample(200, random_state=4)})
    ip.run_line_magic("automl_save", "blood_search registry:blood --stage production")
    out = capsys.readouterr().out
    assert "Registered 'blood_search' as blood@1 (stage production)" in out
    assert "%automl_load blood@1" in out
    ip.run_line_magic("automl_save", "blood_search registry:blood")
    assert "as blood@2 in" in capsys.readouterr().out

    ip.run_line_magic("automl_load", "blood@1")
    assert ip.user_ns["blood"].registry_ref_ == "blood@1"
    assert "Loaded blood@1 from the registry into `blood`" in capsys.readouterr().out
    ip.push({"blood": searched})  # a search result named like the model: not replaced silently
    ip.run_line_magic("automl_load", "blood@1")
    assert ip.user_ns["blood"] is searched and ip.user_ns["blood_v1"].registry_ref_ == "blood@1"
    assert "into `blood_v1` (`blood` already holds your AutoML object; --name NAME" in capsys.readouterr().out
    ip.run_line_magic("automl_load", "blood@production --name prod")
    ip.run_line_magic("automl_load", "registry:blood --name newest")
    assert ip.user_ns["prod"].registry_ref_ == "blood@1"
    assert ip.user_ns["newest"].registry_ref_ == "blood@2"
    X = blood.drop(columns=["Class"])
    assert np.array_equal(ip.user_ns["prod"].predict(X), searched.predict(X))

    report = ip.run_line_magic("automl_monitor", "blood@production batch")
    assert (report.name, report.version, report.n_rows) == ("blood", "1", 200)

    cases = [
        ("automl_load", "blood@7", r"'blood' has no version 7; its versions are 1, 2"),
        ("automl_load", "blood@staging", r"'blood' has no version in stage 'staging'"),
        ("automl_load", "blod", r"No file or directory at 'blod'.*Did you mean 'blood'\?"),
        ("automl_monitor", "blood@9 batch", r"'blood' has no version 9"),
        ("automl_save", "blood_search models/b --stage production", r"--stage is for the regis"),
        ("automl_save", "blood_search registry:bad/name", r"Invalid model name 'bad/name'"),
    ]
    for magic, line, expected in cases:
        with pytest.raises(UsageError, match=expected):
            ip.run_line_magic(magic, line)


def test_decision_threshold_option_reaches_the_search(ip, blood):
    from nbautoml.magics.search import search_options

    magics = ip.magics_manager.registry["AutoMLMagics"]
    parse = ip.find_cell_magic("automl").parser.parse_args
    assert "decision_threshold" not in search_options(magics, parse([]))  # AutoML's default: "auto"
    assert search_options(magics, parse(["--decision-threshold", "none"]))["decision_threshold"] is None
    assert search_options(magics, parse(["--decision-threshold", "0.3"]))["decision_threshold"] == 0.3
    ip.push({"df": blood})
    with pytest.raises(UsageError, match=r"--decision-threshold: '1.2' is not auto, none or a probability"):
        ip.run_cell_magic("automl", "--target Class --decision-threshold 1.2", "df")
    ip.run_cell_magic("automl", "--target Class --max-evals 2 --time-budget none --models logistic_regression "
                      "--decision-threshold 0.3 --name cut", "df")
    cut = ip.user_ns["cut"]
    assert cut.decision_threshold_ == 0.3
    proba = cut.predict_proba(blood.drop(columns=["Class"]))[:, 1]
    assert (cut.predict(blood.drop(columns=["Class"])) == cut.classes_[(proba >= 0.3).astype(int)]).all()


def test_decision_threshold_trait_and_project_default(ip, course):
    from traitlets import TraitError

    from nbautoml.magics.search import search_options
    from nbautoml.settings import project_defaults

    magics = ip.magics_manager.registry["AutoMLMagics"]
    parse = ip.find_cell_magic("automl").parser.parse_args
    assert magics.decision_threshold == "auto" and "decision_threshold" not in search_options(magics, parse([]))
    ip.run_line_magic("config", "AutoMLMagics.decision_threshold = 'none'")  # a course that keeps 0.5
    assert search_options(magics, parse([]))["decision_threshold"] is None
    assert search_options(magics, parse(["--decision-threshold", "auto"]))["decision_threshold"] == "auto"
    magics.decision_threshold = 0.25
    assert search_options(magics, parse([]))["decision_threshold"] == 0.25
    with pytest.raises(TraitError, match="decision_threshold: '2' is not auto, none or a probability"):
        magics.decision_threshold = "2"
    (course / "pyproject.toml").write_text("[tool.nbautoml]\ndecision-threshold = 'none'\n")
    assert project_defaults().values == {"decision_threshold": "none"}
