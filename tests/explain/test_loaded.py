"""A saved and loaded model explained on labelled rows (it keeps no training rows): the same
importance, dependence and row attributions as the search it came from, on the command line too."""

from __future__ import annotations

import pandas as pd
import pytest

import nbautoml
from nbautoml.exceptions import DataError


@pytest.fixture(scope="module")
def saved_concrete(concrete_noisy, tmp_path_factory):
    """concrete_noisy saved and loaded back, and 200 of its rows with the target (labelled rows)."""
    path = nbautoml.save(concrete_noisy, tmp_path_factory.mktemp("saved") / "concrete")
    rows = concrete_noisy._X.iloc[:200].copy()
    rows[concrete_noisy.target_] = concrete_noisy._y.iloc[:200].to_numpy()
    return path, nbautoml.load(path), rows


def test_a_loaded_model_explains_as_the_search_it_came_from(concrete_noisy, saved_concrete):
    """pycaret's interpret_model fails after load_model (pycaret/pycaret#3468): here the loaded
    model's explanation on the same rows is the search's, number for number."""
    _, loaded, rows = saved_concrete
    options = dict(row=5, n_repeats=2, n_background=20, n_permutations=4, seed=1)
    searched = concrete_noisy.explain(rows, **options)
    explained = loaded.explain(rows, **options)
    pd.testing.assert_frame_equal(explained.importance, searched.importance, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(explained.row, searched.row, check_exact=False, rtol=1e-9)
    assert list(explained.dependence) == list(searched.dependence)
    for feature, info in explained.dependence.items():
        assert info["average"] == pytest.approx(searched.dependence[feature]["average"], rel=1e-9)
    # its words say what it was scored on: the rows given, by the loaded model
    baseline = explained.importance.attrs["baseline"]
    assert baseline == pytest.approx(loaded.score(rows))
    assert f"r2 {baseline:.3f} on the given rows) relies mostly on" in explained.summary
    assert "200 rows of the given data, the loaded model" in explained.summary
    assert explained.model == loaded.card["model"]["description"]
    assert explained.plot_row().axes[0].get_title().startswith("predicted strength: ")


def test_a_loaded_model_needs_labelled_rows(saved_concrete):
    _, loaded, rows = saved_concrete
    for data, got in ((None, "no data"), (rows.drop(columns="strength"), "data without it")):
        with pytest.raises(DataError, match=rf"keeps no training rows \(a loaded model\): explain it on rows with "
                           rf"the target column 'strength', e\.g\. held-out or recent labelled rows; got {got}\.") \
                as info:
            loaded.explain(data)
        assert info.value.code == "no_data"


def test_a_loaded_multiclass_model_draws_the_given_rows_most_frequent_class(datasets_dir, tmp_path):
    from tests.conftest import load_dataset

    frame, target, _ = load_dataset("iris")
    result = nbautoml.AutoML(max_evals=2, time_budget=None, models=["logistic_regression"], seed=0,
                             search_dir=tmp_path).fit(frame, target=target)
    loaded = nbautoml.load(nbautoml.save(result, tmp_path / "iris"))
    rows = frame[frame[target] != "Iris-setosa"].head(60)  # versicolor 50, virginica 10
    explained = loaded.explain(rows, n_repeats=2)
    assert {info["output"] for info in explained.dependence.values()} == {"P(species = Iris-versicolor)"}
    assert explained.importance.attrs["metric"] == "accuracy"


def test_the_command_line_explains_a_saved_model_and_writes_its_figures(saved_concrete, tmp_path, capsys,
                                                                        monkeypatch):
    from nbautoml.cli import main

    path, _, rows = saved_concrete
    monkeypatch.chdir(tmp_path)
    rows.to_csv("labelled.csv", index=False)
    assert main(["explain", str(path), "labelled.csv", "--row", "3", "--top", "2", "--figures", "why"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Explanation of ") and "relies mostly on" in out and "For row 3, the predicted" in out
    # what it is doing, while it does it (on house: about 30 s)
    n_features = rows.shape[1] - 1
    assert err == (f"Explaining the model on 200 rows of labelled.csv: permutation importance of {n_features} "
                   "columns, partial dependence, row 3 ...\n")
    assert "\nWrote importance.png, dependence.png, row.png to why\n" in out
    for name in ("importance.png", "dependence.png", "row.png"):
        assert (tmp_path / "why" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["explain", str(path), "labelled.csv", "--row", "200"]) == 2
    assert "--row 200 is out of range: labelled.csv has 200 rows." in capsys.readouterr().err
    rows.drop(columns="strength").to_csv("unlabelled.csv", index=False)
    assert main(["explain", str(path), "unlabelled.csv"]) == 2
    err = capsys.readouterr().err
    assert "with the target column 'strength'" in err and "Explaining" not in err
