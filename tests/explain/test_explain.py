"""Explanations on a real regression search (concrete + three noise columns)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from nbautoml.explain import Explanation, explain_row, partial_dependence, permutation_importance
from tests.explain.conftest import NOISE


@pytest.fixture(scope="module")
def importance(concrete_noisy):
    return permutation_importance(concrete_noisy, n_repeats=3, n_folds=3, seed=0)


@pytest.fixture(scope="module")
def explanation(concrete_noisy):
    return concrete_noisy.explain(row=7, n_repeats=3, n_folds=2, seed=0)


def test_noise_columns_rank_last(concrete_noisy, importance):
    assert list(importance.columns[:3]) == ["feature", "importance", "importance_std"]
    assert sorted(importance["feature"]) == sorted(concrete_noisy.plan_.used)  # original columns
    assert importance["importance"].is_monotonic_decreasing
    assert set(importance["feature"].tail(3)) == set(NOISE)
    real = importance[~importance["feature"].isin(NOISE)]
    noise = importance[importance["feature"].isin(NOISE)]
    assert noise["importance"].abs().max() < 0.02  # r2 lost: about nothing
    assert real["importance"].iloc[0] > 0.2
    assert importance.attrs["metric"] == "r2" and importance.attrs["n_models"] == 3
    assert (importance["importance_std"] >= 0).all()


def test_importance_on_held_out_data_uses_the_refitted_pipeline(concrete_noisy):
    frame = concrete_noisy._X.iloc[:200].copy()
    frame[concrete_noisy.target_] = concrete_noisy._y.iloc[:200].to_numpy()
    on_data = permutation_importance(concrete_noisy, frame, n_repeats=2, seed=1)
    assert on_data.attrs["n_models"] == 1 and "given data" in on_data.attrs["source"]
    expected = concrete_noisy.score(frame)
    assert on_data.attrs["baseline"] == pytest.approx(expected)


def test_row_attributions_add_up_and_are_deterministic(concrete_noisy):
    row = explain_row(concrete_noisy, 5, n_background=40, n_permutations=6, seed=3)
    attrs = row.attrs
    prediction = concrete_noisy.predict(concrete_noisy._X.iloc[[5]])[0]
    assert attrs["prediction"] == pytest.approx(prediction)
    assert row["attribution"].sum() == pytest.approx(attrs["prediction"] - attrs["baseline"], abs=1e-8)
    # the baseline is the mean prediction over the background rows drawn with that seed
    picks = np.sort(np.random.default_rng(3).choice(len(concrete_noisy._X), 40, replace=False))
    assert attrs["baseline"] == pytest.approx(concrete_noisy.predict(concrete_noisy._X.iloc[picks]).mean())
    again = explain_row(concrete_noisy, 5, n_background=40, n_permutations=6, seed=3)
    pd.testing.assert_frame_equal(row, again)
    other = explain_row(concrete_noisy, 5, n_background=40, n_permutations=6, seed=4)
    assert not np.allclose(other.set_index("feature")["attribution"],
                           row.set_index("feature")["attribution"])
    # pure noise gets little of the credit
    by_feature = row.set_index("feature")["attribution"].abs()
    assert by_feature[NOISE].max() < 0.1 * by_feature.max()


def test_row_given_as_a_dict(concrete_noisy):
    values = concrete_noisy._X.iloc[11].to_dict()
    from_dict = explain_row(concrete_noisy, values, n_background=20, n_permutations=2, seed=0)
    from_index = explain_row(concrete_noisy, 11, n_background=20, n_permutations=2, seed=0)
    assert from_dict.attrs["prediction"] == pytest.approx(from_index.attrs["prediction"])
    assert np.allclose(from_dict["attribution"], from_index["attribution"])


def test_partial_dependence_follows_the_physics(concrete_noisy):
    age = next(c for c in concrete_noisy.plan_.used if c.startswith("Age"))
    cement = next(c for c in concrete_noisy.plan_.used if c.startswith("Cement"))
    info = partial_dependence(concrete_noisy, [age, cement, "noise_category"], n_ice=10, seed=0)
    for column in (age, cement):
        grid, average = info[column]["grid"], info[column]["average"]
        assert np.all(np.diff(grid) > 0) and len(average) == len(grid)
        assert info[column]["ice"].shape == (10, len(grid))
        assert average[-1] > average[0] + 5  # older concrete and more cement: stronger (MPa)
    assert info["noise_category"]["kind"] == "categorical"
    assert set(info["noise_category"]["grid"]) == {"a", "b", "c", "d"}
    spread = np.ptp(info["noise_category"]["average"])
    assert spread < 0.2 * np.ptp(info[age]["average"])


def test_summary_names_the_top_features(explanation):
    assert isinstance(explanation, Explanation)
    top = list(explanation.importance["feature"][:2])
    lead = explanation.summary.split(". ")[0]
    assert "relies mostly on" in lead
    for feature in top:
        assert feature in lead
    assert not any(noise in lead for noise in NOISE)
    assert "For row 7" in explanation.summary


def test_explanation_displays_and_plots(explanation):
    html = explanation._repr_html_()
    assert "<table" in html and "relies mostly on" in html and "contribution" in html
    assert explanation.top_features[0] in repr(explanation)
    assert explanation.dependence  # the top numeric/categorical columns
    from IPython.core.interactiveshell import InteractiveShell

    for figure in (explanation.plot_importance(), explanation.plot_dependence(),
                   explanation.plot_row()):
        # a PNG in a notebook that never imported pyplot (a plain Figure shows as "<Figure size ...>")
        assert "image/png" in InteractiveShell.instance().display_formatter.format(figure)[0]
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        assert buffer.tell() > 1000
    ax = explanation.plot_importance(top=5).axes[0]
    assert len(ax.patches) == 5  # one bar per feature


def test_shuffled_copies_of_many_columns_in_one_call_give_the_same_importance(concrete_noisy, monkeypatch):
    """The shuffled copies of several columns go through one prediction call (on house, 79
    columns: 19.5 s one column a call, 11.8 s batched); the figures are those of one call a column."""
    import nbautoml.explain as E

    calls = []  # the number of copies scored in each call
    original = E._scores
    monkeypatch.setattr(E, "_scores", lambda *args: calls.append(args[3]) or original(*args))
    batched = permutation_importance(concrete_noisy, n_repeats=3, n_folds=2, seed=0)
    n_columns = len(concrete_noisy.plan_.used)
    assert calls == [1, 3 * n_columns] * 2  # per fold: the unshuffled rows, then all the copies
    calls.clear()
    monkeypatch.setattr(E, "SHUFFLED_ROWS_PER_CALL", 1)
    one_by_one = permutation_importance(concrete_noisy, n_repeats=3, n_folds=2, seed=0)
    assert calls == ([1] + [3] * n_columns) * 2
    pd.testing.assert_frame_equal(batched, one_by_one)


def test_shuffled_copies_keep_dtypes_and_shuffle_one_column_each():
    from nbautoml.explain import _shuffled_copies

    frame = pd.DataFrame({"a": np.arange(6), "b": pd.Series(list("uvwxyz"), dtype="category"),
                          "c": pd.array([1, None, 3, 4, 5, 6], dtype="Int64")})
    stacked = _shuffled_copies(frame, ["b", "c"], 2, np.random.default_rng(0))
    assert len(stacked) == 4 * 6 and (stacked.dtypes == frame.dtypes).all()
    for copy in range(4):
        block = stacked.iloc[copy * 6:(copy + 1) * 6].reset_index(drop=True)
        shuffled = "b" if copy < 2 else "c"
        for column in frame.columns:
            if column != shuffled:
                assert block[column].equals(frame[column])
        in_order = block[shuffled].sort_values().reset_index(drop=True)
        assert in_order.equals(frame[shuffled].sort_values().reset_index(drop=True))
        assert not block[shuffled].equals(frame[shuffled])
