"""Monitoring real data sets: false alarms on iid batches, injected shifts, schema, history.

Each data set is fitted once (module-scoped, 3 trials of fast families) on a
random part; the held-out rows are cut into batches of 500. The measured
rates are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest

import nbautoml
from nbautoml.monitor import (
    MonitorReport,
    ReferenceProfile,
    Thresholds,
    build_profile,
    history,
    monitor,
)

from .conftest import fit_split

matplotlib.use("Agg")

# data set -> (model families, training rows, numeric column to move,
#             column whose frequencies change)
CASES = {
    "income": (["logistic_regression"], 8000, "age", "relationship"),  # categories, missing values
    "credit": (
        ["decision_tree"],
        8000,
        "LIMIT_BAL",
        "EDUCATION",
    ),  # 23 numeric columns, a single tree
    "bike": (["ridge", "decision_tree"], 8000, "temp", "season"),  # regression, a date column
}
SHIFT_BATCHES = 12


@pytest.fixture(scope="module")
def splits(datasets_dir, tmp_path_factory):
    runs = tmp_path_factory.mktemp("monitor_runs")
    # credit stays one tree (no ensemble of trees): its case is the single-tree reference
    return {
        name: fit_split(name, models, n_ref, runs, ensemble=name != "credit" and "auto")
        for name, (models, n_ref, _, _) in CASES.items()
    }


@pytest.fixture(scope="module")
def income(splits):
    return splits["income"]


def _ok(report: MonitorReport) -> bool:
    return report.status == "ok"


# --------------------------------------------------------------------------- profile


def test_profile_is_built_at_fit_small_and_json(income):
    profile = income.result.reference_profile_
    assert isinstance(profile, ReferenceProfile)
    assert profile.anomaly_detector is not None
    data = profile.to_dict()
    text = json.dumps(data, allow_nan=False)
    print(f"\nincome profile: {len(text) / 1024:.1f} KB JSON")
    assert len(text) < 100_000
    assert set(data["features"]) == set(income.result.plan_.used)
    assert data["performance"]["fold_scores"] == pytest.approx(
        income.result.best_trial_.fold_scores
    )
    assert data["prediction"]["source"] == "oof"
    assert data["features"]["workclass"]["missing_rate"] > 0.03
    # a round trip through JSON monitors exactly like the original
    again = ReferenceProfile.from_dict(json.loads(text), anomaly_detector=profile.anomaly_detector)
    batch = income.batches(1)[0]
    a = monitor(income.result, batch, history=False).findings
    original = income.result.reference_profile_
    try:
        income.result.reference_profile_ = again
        b = monitor(income.result, batch, history=False).findings
    finally:
        income.result.reference_profile_ = original
    pd.testing.assert_frame_equal(a, b)


def test_profile_costs_under_a_second_on_30k_rows(income):
    import copy

    big = income.rest.sample(30_000, replace=True, random_state=1).reset_index(drop=True)
    result = copy.copy(income.result)
    result._X = big[result.plan_.used]  # sketches, ranges and the anomaly detector use these rows
    started, cpu = time.perf_counter(), time.process_time()
    profile = build_profile(result)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"\nbuild_profile on 30,000 rows: {wall:.2f} s wall, {cpu:.2f} s CPU")
    assert profile.n_rows == 30_000
    assert cpu < 1.0


# -------------------------------------------------- false alarms and shifts


def test_a_single_tree_is_compared_with_its_own_leaf_values(splits):
    # fold trees predict other leaf values than the refitted tree: OOF would be a false reference
    assert splits["credit"].result.reference_profile_.prediction["source"].startswith("in-sample")
    assert splits["income"].result.reference_profile_.prediction["source"] == "oof"


def test_iid_batches_raise_few_alarms(splits):
    total = flagged = 0
    lines = []
    for name, split in splits.items():
        reports = [monitor(split.result, batch, history=False) for batch in split.batches()]
        bad = [r for r in reports if not _ok(r)]
        total, flagged = total + len(reports), flagged + len(bad)
        causes = sorted(
            {f"{r.findings.iloc[0]['feature']}/{r.findings.iloc[0]['check']}" for r in bad}
        )
        lines.append(f"  {name}: {len(bad)}/{len(reports)} batches not ok {causes}")
    rate = flagged / total
    print(
        f"\nfalse-alarm rate on iid batches of 500: {flagged}/{total} = {rate:.1%}\n"
        + "\n".join(lines)
    )
    assert rate <= 0.05


def _scale(split, batch, rng):
    column = CASES[split.name][2]
    batch[column] = batch[column] * 1.5
    return column


def _move(split, batch, rng):
    column = CASES[split.name][2]
    batch[column] = batch[column] + split.ref[column].std()
    return column


def _frequency(split, batch, rng):
    column = CASES[split.name][3]
    top = split.ref[column].value_counts().index
    rows = np.flatnonzero((batch[column] == top[0]).to_numpy())
    batch.loc[rows[rng.random(len(rows)) < 0.5], column] = top[
        1
    ]  # half of the commonest become the next
    return column


def _drop(split, batch, rng):
    column = CASES[split.name][2]
    del batch[column]
    return column


def _label_noise(split, batch, rng):
    if split.task == "regression":
        batch[split.target] = batch[split.target] + rng.normal(
            0, split.ref[split.target].std(), len(batch)
        )
    else:
        flip = rng.random(len(batch)) < 0.3
        classes = split.result.classes_
        batch.loc[flip, split.target] = [
            rng.choice(classes[classes != v]) for v in batch.loc[flip, split.target]
        ]
    return "(labels)"


SHIFTS = {
    "scale x1.5": _scale,
    "move +1 std": _move,
    "category frequency": _frequency,
    "dropped column": _drop,
    "label noise": _label_noise,
}


@pytest.mark.parametrize("dataset", list(CASES))
def test_injected_shifts_are_detected_and_ranked_first(splits, dataset):
    split = splits[dataset]
    rng = np.random.default_rng(0)
    lines, failures = [], []
    for label, inject in SHIFTS.items():
        detected = first = 0
        batches = split.batches(SHIFT_BATCHES)
        for batch in batches:
            batch = batch.copy()
            expected = inject(split, batch, rng)
            report = monitor(split.result, batch, history=False)
            detected += not _ok(report)
            first += report.findings.iloc[0]["feature"] == expected
        lines.append(
            f"  {label:20s} detected {detected}/{len(batches)}, ranked first {first}/{len(batches)}"
        )
        if detected < 0.95 * len(batches) or first < 0.95 * len(batches):
            failures.append(label)
    print(f"\n{dataset}: injected shifts in batches of 500\n" + "\n".join(lines))
    assert not failures, f"{dataset}: shifts not detected or not ranked first: {failures}"


def test_a_big_iid_batch_stays_ok_and_is_fast(income):
    big = income.rest.sample(100_000, replace=True, random_state=0).reset_index(drop=True)
    started, cpu = time.perf_counter(), time.process_time()
    report = monitor(income.result, big)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"\nmonitor on 100,000 rows: {wall:.2f} s wall, {cpu:.2f} s CPU; status {report.status}")
    assert report.status == "ok", report.problems()
    # the p-values alone would flag tiny differences at this size; the effect sizes keep them quiet
    assert cpu < 5.0


# -------------------------------------------------- schema and data quality


def _batch(income, n=500):
    return income.batches(1)[0].iloc[:n].copy()


def test_missing_column_is_an_alert_not_a_crash(income):  # M-01
    report = monitor(
        income.result, _batch(income).drop(columns=["age", "occupation"]), history=False
    )
    assert report.status == "alert"
    missing = report.findings[report.findings["check"] == "missing_column"]
    assert set(missing["feature"]) == {"age", "occupation"}
    assert (missing["severity"] == "alert").all()
    checked = set(report.findings.loc[report.findings["check"] == "drift", "feature"])
    assert {
        "education",
        "hours-per-week",
        "native-country",
    } <= checked  # the others are still checked
    assert "prediction_drift" in set(report.findings["check"])


def test_new_column_is_info(income):  # M-02
    batch = _batch(income)
    batch["campaign"] = "spring"
    report = monitor(income.result, batch, history=False)
    row = report.findings[report.findings["check"] == "new_column"]
    assert row["feature"].tolist() == ["campaign"] and row["severity"].tolist() == ["info"]
    assert report.status == "ok"


def test_all_missing_column_is_a_missing_rate_jump(income):  # M-03
    batch = _batch(income)
    batch["hours-per-week"] = np.nan
    report = monitor(income.result, batch, history=False)
    row = report.findings.query("feature == 'hours-per-week' and check == 'missing_rate'").iloc[0]
    assert row["severity"] == "alert" and row["value"] == 1.0
    drift_row = report.findings.query("feature == 'hours-per-week' and check == 'drift'").iloc[0]
    assert np.isnan(drift_row["p_value"]) and "not enough data" in drift_row["detail"]


def test_unseen_categories_are_counted(income):  # M-04
    batch = _batch(income)
    batch.loc[:59, "workclass"] = "Martian"
    batch.loc[60:64, "workclass"] = "Venusian"
    report = monitor(income.result, batch, history=False)
    row = report.findings.query("feature == 'workclass' and check == 'unseen_category'").iloc[0]
    assert row["statistic"] == 65
    assert row["detail"].startswith("65 rows with 2 categories never seen in training: 'Martian' (60), 'Venusian' (5)")
    assert row["severity"] == "alert"
    one = _batch(income)
    one.loc[0, "workclass"] = "Martian"
    row = (
        monitor(income.result, one, history=False)
        .findings.query("check == 'unseen_category'")
        .iloc[0]
    )
    assert row["statistic"] == 1 and row["severity"] == "info"  # one odd row is not an alarm
    assert row["detail"].startswith("1 row with 1 category never seen in training: 'Martian' (1)")  # not "1 row(s)"


@pytest.mark.parametrize("rows", [1, 5, 10])
def test_tiny_batches_say_not_enough_data(income, rows):  # M-05
    report = monitor(income.result, _batch(income, rows), history=False)
    assert report.status != "alert"
    drift_rows = report.findings[report.findings["check"].isin(["drift", "prediction_drift"])]
    assert len(drift_rows) == len(income.result.plan_.used) + 1
    assert drift_rows["p_value"].isna().all()
    assert drift_rows["detail"].str.contains("not enough data").all()
    perf = report.findings.query("check == 'performance'").iloc[0]
    assert np.isnan(perf["statistic"]) and "not enough data" in perf["detail"]


def test_labels_with_another_label_set_are_named(income):  # M-06
    batch = _batch(income)
    labels = np.where(batch.pop(income.target) == 1, "yes", "no")
    report = monitor(income.result, batch, labels=labels, history=False)
    row = report.findings.query("check == 'label_mismatch'").iloc[0]
    assert (
        row["severity"] == "alert" and "'no'" in row["detail"] and "model classes" in row["detail"]
    )
    assert "performance" not in set(report.findings["check"])
    # the same labels as text ("0"/"1") are matched, and said so
    batch[income.target] = _batch(income)[income.target].astype(str).to_numpy()
    report = monitor(income.result, batch, labels=income.target, history=False)
    assert report.findings.query("check == 'label_mismatch'")["severity"].tolist() == ["info"]
    assert report.metric_value > 0.8
    with pytest.raises(ValueError, match="labels has 3 values for a batch of 500 rows"):
        monitor(income.result, batch, labels=[1, 0, 1], history=False)
    with pytest.raises(ValueError, match="Did you mean 'income >50K'"):
        monitor(income.result, batch, labels="income>50K", history=False)


def test_strings_in_a_numeric_column_are_a_type_mismatch(income):  # M-07
    batch = _batch(income)
    batch["age"] = batch["age"].astype(object)
    batch.loc[[3, 7], "age"] = "forty"
    report = monitor(income.result, batch, history=False)
    row = report.findings.query("feature == 'age' and check == 'type_mismatch'").iloc[0]
    assert row["severity"] == "alert" and row["statistic"] == 2 and "'forty'" in row["detail"]
    assert report.findings.iloc[0]["check"] in ("type_mismatch", "missing_column")
    assert not np.isnan(report.metric_value)  # still predicted, with those values as missing


def test_injected_outlier_rows_get_the_top_anomaly_scores(income):
    batch = _batch(income)
    odd = [11, 222, 333]
    batch.loc[odd, ["age", "hours-per-week", "capital-gain"]] = [[97, 99, 99999]] * 3
    batch.loc[odd, "native-country"] = "Holand-Netherlands"
    report = monitor(income.result, batch, history=False)
    assert set(report.anomalies(top=5).index) >= set(odd)
    assert (report.anomaly_scores[odd] > report.anomaly_threshold).all()


def test_user_thresholds_change_the_verdict(income):
    batch = _batch(income)
    batch["age"] = batch["age"] + income.ref["age"].std()
    assert monitor(income.result, batch, history=False).status == "alert"
    lenient = {
        "psi_warn": 50,
        "psi_alert": 100,
        "wasserstein_warn": 50,
        "wasserstein_alert": 100,
        "out_of_range_warn": 0.9,
        "out_of_range_alert": 1.0,
        "anomaly_warn": 50,
        "anomaly_alert": 100,
        "performance_warn": 0.9,
        "performance_alert": 1.0,
    }
    report = monitor(income.result, batch, thresholds=lenient, history=False)
    assert report.status == "ok"
    assert (
        report.findings.query("feature == 'age' and check == 'drift'")["severity"].item() == "info"
    )
    assert (
        monitor(income.result, batch, thresholds=Thresholds(alpha=1e-300), history=False).status
        == "ok"
    )


# --------------------------------------------------------------------------- report, history, plots


def test_report_renders_worst_first(income):
    batch = _batch(income).drop(columns=["race"])
    batch["age"] = batch["age"] * 1.5
    report = monitor(income.result, batch, history=False)
    html = report._repr_html_()
    assert "ALERT" in html
    assert html.index(">race<") < html.index(">age<")  # missing column first, then the drifted one
    text = repr(report)
    assert text.startswith("MonitorReport: ALERT") and "race missing_column" in text
    assert report.drifted_features()[0] == "age"
    # many findings: the short text leads with the model's own and says how many it leaves out
    batch = _batch(income)
    numeric = [c for c in batch.columns if c != income.target and pd.api.types.is_numeric_dtype(batch[c])]
    for column in numeric:
        batch[column] = batch[column] * 3 + 10
    for column in [c for c in batch.columns if c not in numeric and c != income.target]:
        batch[column] = batch[column].sample(frac=1, random_state=0).to_numpy()[::-1]
    batch[income.target] = batch[income.target].to_numpy()[::-1]
    report = monitor(income.result, batch, labels=income.target, history=False)
    lines = repr(report).splitlines()
    found = [line for line in lines if line.startswith("  [")]
    problems = int((report.findings["severity"] != "ok").sum())
    assert len(found) == min(10, problems) and problems > 10
    assert lines[lines.index(found[-1]) + 1] == f"  ... and {problems - 10} more (report.findings lists them all)"
    first_column = next(i for i, line in enumerate(found) if not line.split("] ")[1].startswith("("))
    assert first_column > 0 and all(line.split("] ")[1].startswith("(") for line in found[:first_column])


def test_history_persists_across_processes(income):
    for batch in income.batches(3):
        monitor(income.result, batch, name="adult-income")
    drifted = _batch(income)
    drifted["age"] = drifted["age"] + 15
    last = monitor(income.result, drifted, name="adult-income")
    assert last.history_id is not None
    script = (
        "import nbautoml.monitor as m, json; h = m.history('adult-income'); "
        "d = m.history('adult-income', detail=True); "
        "print(json.dumps([h.status.tolist(), h.n_rows.tolist(), "
        "h.metric_value.notna().all().item(), "
        "d.query(\"feature == 'age' and check == 'drift'\").psi.round(3).tolist()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
        timeout=120,
    )
    statuses, rows, has_metric, age_psi = json.loads(out.stdout.strip().splitlines()[-1])
    assert statuses[-1] == "alert" and statuses[:3] == ["ok"] * 3
    assert rows == [500] * 4 and has_metric
    assert len(age_psi) == 4 and age_psi[-1] > 0.25 > max(age_psi[:3])
    assert history("another-model").empty
    assert nbautoml.monitor.history("adult-income")["batch"].is_monotonic_increasing


def test_history_write_failure_still_returns_the_report(income, tmp_path, monkeypatch):  # M-08
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("a file where the project directory should be")
    monkeypatch.setenv("NBAUTOML_HOME", str(blocker / "home"))
    with pytest.warns(RuntimeWarning, match="monitoring history was not saved"):
        report = monitor(income.result, _batch(income))
    assert report.history_id is None and report.status == "ok"


def test_plots_draw_history_and_reports(income):
    import matplotlib.pyplot as plt

    from nbautoml.monitor import plots

    for i, batch in enumerate(income.batches(3)):
        if i == 2:
            batch = batch.assign(age=batch["age"] * 1.5)
        monitor(income.result, batch, name="plots")
    ax = plots.plot_metric_history("plots")
    assert ax.get_title() == "roc_auc over batches" and len(ax.lines) == 2
    ax = plots.plot_drift_history("plots")
    assert ax.get_title() == "Drift over batches (psi)" and ax.lines[0].get_label() == "age"
    ax = plots.plot_drift_heatmap("plots")
    assert ax.get_title() == "Drift by feature and batch (psi)"
    assert ax.get_yticklabels()[0].get_text() == "age"
    fig = plots.plot_history("plots")
    assert (
        isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 4
    )  # 3 panels and a colorbar
    report = monitor(income.result, income.batches(1)[0], history=False)
    ax = plots.plot_report(report)
    assert ax.get_title() == "Drift by feature (psi), status ok"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.tell() > 10_000
    empty = plots.plot_drift_heatmap("no-such-model")
    assert empty.get_title() == "Drift by feature and batch (psi)"
    plt.close("all")


# -------------------------------------------------- models and entry points


def test_monitor_is_callable_from_the_package(income):
    import nbautoml.monitor as package

    batch = income.batches(1)[0]
    a = package(income.result, batch, history=False)
    b = nbautoml.monitor(income.result, batch, history=False)
    c = package.monitor(income.result, batch, history=False)
    assert a.status == b.status == c.status == "ok"
    assert callable(nbautoml.monitor.history)


def test_a_saved_and_loaded_model_is_monitored_the_same(income, tmp_path):
    persist = pytest.importorskip("nbautoml.persist")
    if not hasattr(persist, "LoadedModel"):
        pytest.skip("nbautoml.persist has no LoadedModel yet")
    path = tmp_path / "income.nbautoml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nbautoml.save(income.result, path)
        loaded = nbautoml.load(path)
    assert isinstance(loaded.reference_profile_, ReferenceProfile)
    batch = income.batches(2)[1]
    batch["age"] = batch["age"] + 10
    expected = monitor(income.result, batch, history=False).findings
    got = monitor(loaded, batch, history=False).findings
    pd.testing.assert_frame_equal(expected, got)
    from_path = monitor(str(path), batch, history=False)
    assert from_path.status == "alert"
    registry = pytest.importorskip("nbautoml.registry")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry.register(income.result, "adult-income")
        report = monitor("adult-income", batch)
    assert (report.name, str(report.version)) == ("adult-income", "1")
    assert history("adult-income")["version"].tolist() == ["1"]
    with pytest.raises(ValueError, match="Cannot monitor 'no-such-model': No model file at "
                                         "'no-such-model', and the registry says: No model named"):
        monitor("no-such-model", batch)


def test_the_public_name_works_in_a_fresh_process_and_stays_light():
    script = (
        "import sys, nbautoml; m = nbautoml.monitor; "
        "print(callable(m), callable(m.history), callable(m.plots.plot_history), "
        "m.Thresholds().alpha, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         timeout=120)
    assert out.stdout.split() == ["True", "True", "True", "0.01", "False"]


def test_unfitted_model_is_refused():
    from nbautoml import AutoML

    with pytest.raises(ValueError, match="needs a fitted model"):
        monitor(AutoML(), pd.DataFrame({"a": [1]}))
