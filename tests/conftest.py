"""Shared fixtures: the real data sets in ../shared/datasets and an isolated NBAUTOML_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("NBAUTOML_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture(autouse=True, scope="session")
def _session_home(tmp_path_factory):
    """Module- and session-scoped fixtures also write under a tmp dir, never into the repo."""
    os.environ["NBAUTOML_HOME"] = str(tmp_path_factory.mktemp("nbautoml_session_home"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test writes its searches, registry and history under its own tmp dir."""
    monkeypatch.setenv("NBAUTOML_HOME", str(tmp_path / "nbautoml_home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    if not DATASETS.exists():
        pytest.skip(f"the shared data sets are not at {DATASETS}")
    return DATASETS


def load_dataset(name: str, rows: int | None = None, seed: int = 0) -> tuple[pd.DataFrame, str, str]:
    """A data set from ../shared/datasets as (frame, target, task), optionally subsampled."""
    index = pd.read_csv(DATASETS / "INDEX.csv")
    entry = index.set_index("dataset").loc[name]
    frame = pd.read_csv(DATASETS / entry["file"])
    if rows is not None and rows < len(frame):
        frame = frame.sample(rows, random_state=seed).reset_index(drop=True)
    return frame, entry["target"], entry["task"]


@pytest.fixture(scope="session")
def titanic(datasets_dir) -> pd.DataFrame:
    return pd.read_csv(datasets_dir / "titanic.csv")


# a course's pyproject.toml with nbautoml defaults (nbautoml.settings)
COURSE = """
[project]
name = "ml-course"

[tool.nbautoml]
time-budget = 30
max_evals = 3
models = "logistic_regression, hist_gradient_boosting"
seed = 7
ensemble = false
search_dir = "runs"
widgets = false
"""


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course folder: pyproject.toml at the top, notebooks in a folder below."""
    (tmp_path / "pyproject.toml").write_text(COURSE)
    notebooks = tmp_path / "week1"
    notebooks.mkdir()
    monkeypatch.chdir(notebooks)
    return tmp_path
