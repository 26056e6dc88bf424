"""Wide data (RELIABILITY D-24): many columns, few rows.

On 200 rows x 20,000 columns a 30 s search used to run 3 trials (2 timed out), score ROC AUC
0.446 and take 37.6 s: scikit-learn 1.9 looked every selected column up in a list (2 s a
fit), every trial fitted all 20,000 columns, the column plan, the schema and the monitoring
profile took 2.6, 2.2 and 7.7 s column by column, and the schema was written after the
search had taken its start time. Now: columns selected through a mask (``ColumnNames``), a
univariate selection prior down to 1 % on wide data, column statistics and sketches from
sorted 2-D arrays (0.2, 0.2 and 1.8 s), a pipeline built in 0.01 s instead of 0.65 s (six
builds a trial), and the whole fit counted against the budget: 10-12 trials, 0.95, 28.6 s.
Later the checks before the first trial (dtypes, infinite values, leakage, the fingerprint)
took 13.6 s column by column on a slower day; now about 1 s, the first trial starting at 1.5 s.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import time

import numpy as np
import pandas as pd
import pytest

import nbautoml
from nbautoml.codegen import pipeline_code
from nbautoml.engine import data as data_mod
from nbautoml.engine import hashing, space, workers
from nbautoml.engine.data import plain_number_stats, plan_columns
from nbautoml.engine.prepare import prepare_data
from nbautoml.engine.transformers import ColumnNames, NumbersFromText, to_numbers
from nbautoml.monitor.profile import _round_array, numeric_block_sketches, profile_column
from nbautoml.schema import build_schema

from ..conftest import load_dataset


def wide_frame(rows: int = 200, columns: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Gaussian noise columns; the target is whether f0 + f1 > 0."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, columns))
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(columns)])
    frame["target"] = (values[:, 0] + values[:, 1] > 0).astype(int)
    return frame


def test_the_selection_prior_reaches_down_to_one_percent_on_wide_data_only():
    assert space.selection_param(20_000, 160).default == 1  # keeps 200 columns
    assert space.selection_param(5_000, 160).default == 5  # 250
    assert space.selection_param(1_000, 160).default == 25  # 250
    assert space.selection_param(1_000, 160).args == (1, 2, 5, 10, 25, 50, 100)
    for n_features, fit_rows in [(999, 160), (5_000, 8_000), (30, 100)]:  # not wide
        prior = space.selection_param(n_features, fit_rows)
        assert (prior.args, prior.default) == ((100, 80, 50, 25), 100)


def test_column_names_give_a_mask_only_for_the_same_columns_in_the_same_order(datasets_dir):
    frame, target, _ = load_dataset("concrete")
    X = frame.drop(columns=[target])
    names = list(X.columns[2:6])
    mask = ColumnNames(names)(X)
    assert mask.dtype == bool and list(X.columns[mask]) == names
    # another order, or a missing column: the names, for scikit-learn's own path and error
    assert ColumnNames(names[::-1])(X) == names[::-1]
    assert ColumnNames(names + ["nope"])(X) == names + ["nope"]


def test_a_model_whose_columns_are_selected_by_a_mask_predicts_saves_exports_and_writes_code(
        datasets_dir, tmp_path, monkeypatch):
    # above MANY_COLUMNS a part of the ColumnTransformer selects through ColumnNames; lowered
    # to 3 here so that diabetes (8 numeric columns) takes that path everywhere a model goes
    pytest.importorskip("skl2onnx")
    frame, target, _ = load_dataset("diabetes")
    X, y = frame.drop(columns=[target]), frame[target]
    listed = nbautoml.AutoML(max_evals=1, models=["logistic_regression"], n_jobs=1, ensemble=False,
                             seed=0).fit(X, y)
    monkeypatch.setattr(space, "MANY_COLUMNS", 3)
    result = nbautoml.AutoML(max_evals=1, models=["logistic_regression"], n_jobs=1, ensemble=False,
                             seed=0).fit(X, y)
    _, numbers, columns = result.best_pipeline_.named_steps["features"].transformers[0]
    assert isinstance(columns, ColumnNames) and columns.names == list(X.columns)
    assert numbers.steps[0][0] == "as_numbers"  # the many columns handed on as one float array
    # the same CV score and the same predictions as the plain list of names
    assert result.best_score_ == pytest.approx(listed.best_score_, abs=1e-12)
    expected = listed.predict_proba(X)
    assert np.allclose(result.predict_proba(X), expected)
    assert np.allclose(result.best_pipeline_.predict_proba(X[X.columns[::-1]]), expected)  # reordered
    # saved and loaded by skops (ColumnNames is allowlisted), exported, written as code
    path = nbautoml.save(result, tmp_path / "wide.nbautoml")
    loaded = nbautoml.load(path)
    assert np.allclose(loaded.predict_proba(X), expected)
    report = nbautoml.export_onnx(result, tmp_path / "wide.onnx", check_rows=X.iloc[:100])
    assert report.passed and report.rows_checked == 100
    code = pipeline_code(result)
    assert "ColumnNames" not in code and all(repr(c) in code for c in X.columns)  # a plain list
    namespace = {"df": frame}
    exec(compile(code, "<code>", "exec"), namespace)  # noqa: S102 - the code under test
    assert namespace["scores"][0] == pytest.approx(result.best_trial_.fold_scores[0], abs=1e-9)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the inf column's mean and std, on both sides
@pytest.mark.parametrize("name", ["concrete", "satellite", "house", "bike"])
def test_numeric_sketches_of_a_block_equal_the_sketches_column_by_column(datasets_dir, name):
    frame, target, _ = load_dataset(name)
    flags = np.arange(len(frame)) % 3  # few values, one of them infinite: a discrete sketch
    spread = np.random.default_rng(0).normal(size=len(frame))
    spread[::50] = -np.inf  # many values and an infinite one: sketched one column at a time
    signed_zeros = np.where(flags == 0, -0.0, np.where(flags == 1, 0.0, 2.0))  # -0.0 == 0.0: one value
    frame = frame.assign(with_inf=np.where(flags == 0, np.inf, flags.astype(float)), spread_inf=spread,
                         signed_zeros=signed_zeros, genotype=(flags + 1) % 3)
    numeric = [c for c in frame.columns if c != target and frame[c].dtype.kind in "iuf"]
    sample = frame.sample(min(len(frame), 3_000), random_state=0)
    block = numeric_block_sketches(frame, sample, numeric, chunk=7)
    with_gaps = [c for c in numeric if sample[c].isna().any()]
    assert sorted(block) == sorted(set(numeric) - set(with_gaps))  # gaps: sketched one by one
    assert len(block) >= 8
    for column in block:
        expected = profile_column(frame[column], sample[column], "numeric")
        assert json.dumps(block[column], sort_keys=True) == json.dumps(expected, sort_keys=True), column  # NaN too


@pytest.mark.parametrize("name", ["house", "bike", "satellite", "CTG"])
def test_numeric_column_stats_of_a_block_equal_pandas_column_by_column(datasets_dir, name):
    frame, _, _ = load_dataset(name)
    frame = pd.concat([frame, pd.DataFrame({  # the awkward cases
        "inf": [np.inf] * (len(frame) - 1) + [1.0], "zeros": [0.0, -0.0] * (len(frame) // 2) + [0.0] * (len(frame) % 2),
        "gone": np.nan, "one": 3.5, "ints": np.arange(len(frame)) % 7})], axis=1)
    stats = plain_number_stats(frame)
    plain = [c for c, d in frame.dtypes.items() if isinstance(d, np.dtype) and d.kind in "iuf"]
    assert sorted(stats) == sorted(plain) and len(plain) >= 8
    for column in plain:
        expected = (frame[column].nunique(), float(frame[column].isna().mean()))
        assert stats[column] == expected, column
    plan = plan_columns(frame)
    roles = {c.name: (c.role, c.reason) for c in plan.columns}
    assert roles["gone"] == ("dropped", "all values missing") and roles["one"][0] == "dropped"
    assert roles["inf"] == ("numeric", "") and roles["zeros"][0] == "dropped"  # -0.0 == 0.0
    # the schema's numeric entries, as build_schema writes them column by column
    schema = {c["name"]: c for c in build_schema(frame, plan)["columns"]}
    for column in plain:
        col = frame[column]
        finite = col[np.isfinite(col.to_numpy(dtype=float, na_value=np.nan))]
        if roles[column][0] != "numeric":
            continue
        assert schema[column]["missing"] == int(col.isna().sum())
        assert schema[column]["min"] == (finite.min() if len(finite) else None), column
        assert schema[column]["max"] == (finite.max() if len(finite) else None), column
        assert schema[column]["integer"] == (col.dtype.kind in "iu")


@pytest.mark.parametrize("name", ["titanic", "house", "employee", "bike"])
def test_the_data_fingerprint_is_pandas_row_hash_computed_a_block_at_a_time(datasets_dir, name, monkeypatch):
    """Resume compares fingerprints written by earlier versions: the hashes must not change."""
    frame, _, _ = load_dataset(name)
    rng = np.random.default_rng(0)
    frame = frame.assign(  # dtypes a CSV does not give
        f32=rng.normal(size=len(frame)).astype("float32"), u8=rng.integers(0, 255, len(frame)).astype("uint8"),
        flag=rng.random(len(frame)) < 0.5, when=pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(len(frame)), "h"),
        nullable=pd.array(rng.integers(0, 3, len(frame)), dtype="Int64"), kind=pd.Categorical(rng.choice(["a", "b"], len(frame))),
        zero=np.where(rng.random(len(frame)) < 0.5, 0.0, -0.0))
    frame.loc[::7, "f32"] = np.nan
    expected = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    np.testing.assert_array_equal(hashing.frame_hashes(frame), expected)
    assert len(set(frame.dtypes.astype(str))) >= 8
    digest = hashlib.sha256(expected.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    assert hashing.fingerprint(frame)["sha256"] == digest.hexdigest()
    np.testing.assert_array_equal(hashing.frame_hashes(frame.iloc[:0]), expected[:0])
    monkeypatch.setattr(hashing, "HASH_BLOCK_CELLS", 3 * len(frame))  # runs of 3 columns at most
    np.testing.assert_array_equal(hashing.frame_hashes(frame), expected)
    twice = pd.concat([frame, frame[["f32", "u8"]]], axis=1)  # a repeated name: by position
    np.testing.assert_array_equal(hashing.frame_hashes(twice),
                                  pd.util.hash_pandas_object(twice, index=False).to_numpy())


def genotype_frame(rows: int = 200, columns: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Genotypes (0, 1, 2 copies of an allele) as int8, as a SNP table; the class is g0 + g1 > 2."""
    values = np.random.default_rng(seed).integers(0, 3, size=(rows, columns)).astype("int8")
    frame = pd.DataFrame(values, columns=[f"snp{i}" for i in range(columns)])
    return frame.assign(target=(values[:, 0] + values[:, 1] > 2).astype(int))


@pytest.mark.parametrize("make", [wide_frame, genotype_frame], ids=["floats", "genotypes"])
def test_the_checks_before_the_first_trial_take_a_second_on_20000_columns_not_13_s(make):
    """Converted dtypes, infinite values, leakage, magnitudes and units were read column by
    column (13.6 s of a 30 s budget on 200 x 20,000 floats here, before any trial; 25 s on
    int8 genotypes, each of whose columns of 3 values was grouped by the target for leakage);
    now NumPy number columns are settled by their dtype, the plan's counts or 2-D blocks."""
    frame = make()
    started = time.perf_counter()
    prepared = prepare_data(frame, target="target")
    hashing.fingerprint(prepared.X, prepared.y)
    took = time.perf_counter() - started
    assert took < 5, f"{took:.1f} s"  # about 1 s on an idle machine
    assert prepared.plan.names("numeric") == [c for c in frame.columns if c != "target"]
    assert prepared.task == "binary" and not prepared.plan.notes  # no column determines the class


def test_a_column_that_determines_the_class_is_found_among_many_integer_columns():
    frame = genotype_frame(columns=3_000)
    leak = frame["target"].to_numpy() * 2 + (np.arange(len(frame)) % 2) * (1 - frame["target"].to_numpy())
    frame = frame.assign(leak=leak.astype("int8"), ids=np.arange(len(frame)))  # values 0, 1 and 2
    mixed = frame.copy()
    mixed.loc[int(np.flatnonzero(leak == 0)[0]), "leak"] = 2  # one row of class 0 given class 1's value
    with pytest.warns(UserWarning, match="'leak' determines the target 'target' exactly"):
        prepared = prepare_data(frame, target="target")
    assert list(prepared.plan.notes) == ["leak"]
    assert prepared.plan.dropped["ids"] == "ID-like: a distinct, increasing integer per row"
    assert not prepare_data(mixed, target="target").plan.notes  # one row off: no longer one class per value


def test_long_data_is_read_in_blocks_of_at_most_block_cells_values(datasets_dir, monkeypatch):
    """1,000,000 rows of 2,000 columns would be a 16 GB block: long data goes fewer columns at a time."""
    frame, _, _ = load_dataset("house")
    whole = plain_number_stats(frame)
    monkeypatch.setattr(data_mod, "BLOCK_CELLS", 10 * len(frame))
    blocks = list(data_mod.number_blocks(frame))
    assert max(values.shape[1] for _, values in blocks) == 10 and len(blocks) >= 4
    assert sorted(name for part, _ in blocks for name in part) == sorted(whole)
    assert plain_number_stats(frame) == whole


def test_long_data_is_counted_by_a_thread_per_core_with_the_same_counts_in_the_same_order(
        datasets_dir, monkeypatch):
    """Over THREADED_STATS_CELLS cells the blocks are sorted on threads, a few at once; the
    counts and their order are those of one thread (and of pandas)."""
    frame, _, _ = load_dataset("house")
    frame = frame.assign(gone=np.nan, inf=[np.inf] * (len(frame) - 1) + [1.0], flag=frame.index % 3 == 0)
    whole = plain_number_stats(frame, kinds="biuf")
    assert whole["gone"] == (0, 1.0) and whole["inf"] == (2, 0.0) and whole["flag"] == (2, 0.0)
    sorted_on_threads = []

    class Recording(concurrent.futures.ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            sorted_on_threads.append(self._thread_name_prefix)
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", Recording)
    monkeypatch.setattr(data_mod, "BLOCK_CELLS", 3 * len(frame))  # 3 columns a block: many blocks
    assert plain_number_stats(frame, kinds="biuf") == whole and not sorted_on_threads
    monkeypatch.setattr(data_mod, "THREADED_STATS_CELLS", 0)
    counted = plain_number_stats(frame, kinds="biuf")
    assert counted == whole and list(counted) == list(whole)
    if workers.cpu_count() > 1:
        blocks = list(data_mod.number_blocks(frame, kinds="biuf"))
        assert sorted_on_threads == ["nbautoml-stats"] * len(blocks) and len(blocks) >= 10


def test_many_number_columns_become_one_float_array_as_column_by_column_and_the_frame_is_left_alone(
        datasets_dir):
    frame, _, _ = load_dataset("house")
    numbers = frame.select_dtypes("number").assign(Small=frame["OverallQual"].astype("int8"),
                                                    Single=frame["LotFrontage"].astype("float32"))
    numbers.loc[3, "LotFrontage"] = np.inf
    before = numbers.copy()
    out = NumbersFromText().fit(numbers).transform(numbers)
    expected = np.column_stack([to_numbers(numbers[c]).to_numpy(dtype=float, na_value=np.nan) for c in numbers])
    np.testing.assert_array_equal(out, expected)  # inf missing, as to_numbers makes it
    assert np.isnan(out[3, list(numbers.columns).index("LotFrontage")])
    pd.testing.assert_frame_equal(numbers, before)  # the caller's frame keeps its inf


def test_rounding_to_seven_digits_agrees_with_formatting_them():
    rng = np.random.default_rng(1)
    values = rng.normal(size=50_000) * 10.0 ** rng.integers(-12, 15, 50_000)
    values[:4] = [0.0, np.inf, -np.inf, 12345675.0]
    expected = [float(f"{v:.7g}") for v in values]
    assert _round_array(values).tolist() == expected


@pytest.mark.slow
@pytest.mark.alone  # it times a 30 s search: beside another search on 2 cores it overran (33.6 s) or ran 1 trial
def test_a_search_on_200_rows_by_20000_columns_keeps_its_budget_and_finds_the_signal():
    frame = wide_frame()
    budget = 30
    started = time.perf_counter()
    result = nbautoml.AutoML(time_budget=budget, seed=0).fit(frame, target="target")
    wall = time.perf_counter() - started
    # everything since fit was called counts (the schema, the profile after the refit)
    assert wall <= 1.1 * budget, f"{wall:.1f} s for a {budget} s budget"
    assert abs(wall - result.elapsed_) < 1.0, (wall, result.elapsed_)
    ok = [t for t in result.trials_ if t.status == "ok"]
    assert len(ok) >= 3, [(t.family, t.status) for t in result.trials_]  # 6 on an idle machine
    assert all(t.config["pre"]["select_percentile"] == 1 for t in ok[:3])  # the default points
    # noise columns but for two: the old search scored 0.446 (below chance) at 30 s
    assert result.best_score_ > 0.85, result.best_score_
    assert result.reference_profile_ is not None and len(result.reference_profile_.features) == 20_000


def test_the_budget_counts_the_work_done_after_the_search_was_made(datasets_dir, monkeypatch):
    """The schema and the data's fingerprint were written after the search had taken its start
    time, and the budget did not count them (2.7 s of a 30 s budget on 20,000 columns); the
    search's own making (hyperopt's domain) was not counted either (0.52 s beside other work in CI)."""
    import nbautoml.engine.search
    import nbautoml.schema

    slow_schema = nbautoml.schema.build_schema
    slow_domain = nbautoml.engine.search.Search._new_hp_trials

    def build_schema(*args, **kwargs):
        time.sleep(1.5)
        return slow_schema(*args, **kwargs)

    def new_hp_trials(self, space):
        time.sleep(1.0)
        return slow_domain(self, space)

    monkeypatch.setattr(nbautoml.schema, "build_schema", build_schema)
    monkeypatch.setattr(nbautoml.engine.search.Search, "_new_hp_trials", new_hp_trials)
    frame, target, _ = load_dataset("blood")
    started = time.perf_counter()
    result = nbautoml.AutoML(time_budget=6, n_jobs=1, ensemble=False, seed=0).fit(frame, target=target)
    wall = time.perf_counter() - started
    assert abs(wall - result.elapsed_) < 0.5, (wall, result.elapsed_)
    assert wall <= 6 * 1.1, wall
