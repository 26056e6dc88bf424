"""Fitted searches shared by the deploy tests: each real search runs once per session."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd
import pytest

from tests.conftest import load_dataset

# name -> (rows, models, cv, roles): one trial each, small so the whole deploy suite stays fast
SEARCHES = {
    # binary, text (Name, forced: the engine would drop it as an ID) + categorical + missing values
    "titanic": (None, ["logistic_regression"], "stratified:3", {"Name": "text"}),
    "house": (500, ["ridge"], "kfold:3", None),  # regression, 43 categorical columns, missing values
    "CTG": (600, ["extra_trees"], "stratified:3", None),  # multiclass, categorical + missing
}


@dataclass
class Fitted:
    name: str
    result: object
    frame: pd.DataFrame
    target: str

    @property
    def X(self) -> pd.DataFrame:
        return self.frame.drop(columns=[self.target])


@pytest.fixture(scope="session")
def fitted(datasets_dir, tmp_path_factory):
    """A function name -> Fitted that runs each search at most once per session."""
    from nbautoml import AutoML

    cache: dict[str, Fitted] = {}
    runs = tmp_path_factory.mktemp("deploy_runs")

    def get(name: str) -> Fitted:
        if name not in cache:
            rows, models, cv, roles = SEARCHES[name]
            frame, target, _task = load_dataset(name, rows=rows)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = AutoML(max_evals=1, time_budget=120, models=models, cv=cv, seed=0, roles=roles,
                                search_dir=runs).fit(frame, target=target)
            assert roles is None or all(result.plan_.names(r) for r in roles.values())
            cache[name] = Fitted(name, result, frame, target)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def titanic_artifact(fitted, tmp_path_factory):
    """The titanic model saved once: (path, bytes)."""
    import nbautoml

    path = nbautoml.save(fitted("titanic").result, tmp_path_factory.mktemp("artifacts") / "titanic")
    return path, path.read_bytes()


@pytest.fixture(scope="session")
def blood_cli(datasets_dir, tmp_path_factory):
    """An all-numeric model made by ``nbautoml run --out`` (the CLI path): (artifact path, frame, output)."""
    import contextlib
    import io

    from nbautoml.cli import main

    frame, target, _task = load_dataset("blood")
    work = tmp_path_factory.mktemp("blood_cli")
    train, holdout = frame.iloc[:600], frame.iloc[600:]
    train.to_csv(work / "blood.csv", index=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["run", str(work / "blood.csv"), "--target", target, "--models", "random_forest",
                     "--max-evals", "1", "--time-budget", "120", "--cv", "stratified:3", "--quiet",
                     "--search-dir", str(work / "runs"), "--out", str(work / "blood")])
    assert code == 0, out.getvalue()
    return work / "blood.nbautoml", holdout, target, out.getvalue()
