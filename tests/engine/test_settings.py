"""Project defaults in pyproject.toml ([tool.nbautoml]) for the magics and ``nbautoml run``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nbautoml.exceptions import ConfigError
from nbautoml.settings import find_pyproject, project_defaults
from tests.conftest import COURSE


def test_the_nearest_pyproject_gives_the_defaults(course):
    defaults = project_defaults()
    assert defaults.path == course / "pyproject.toml" == find_pyproject()
    assert defaults.values == {"time_budget": 30, "max_evals": 3, "seed": 7, "ensemble": False,
                               "models": ["logistic_regression", "hist_gradient_boosting"],
                               "search_dir": str(course / "runs"), "widgets": False}


def test_a_git_folder_ends_the_lookup_and_bad_tables_are_named(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(COURSE)
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    monkeypatch.chdir(project)
    assert project_defaults().values == {}  # the pyproject above the repository is not this project's
    (project / "pyproject.toml").write_text("[tool.nbautoml]\ntime_budgett = 30\n")
    with pytest.raises(ConfigError, match=r"unknown option 'time_budgett'. Did you mean 'time_budget'\?"):
        project_defaults()
    (project / "pyproject.toml").write_text("[tool.nbautoml\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        project_defaults()


@pytest.mark.slow
def test_nbautoml_run_takes_the_defaults_and_its_options_win(course, datasets_dir):
    data = str(datasets_dir / "iris.csv")

    def run(*options):
        return subprocess.run([sys.executable, "-m", "nbautoml", "run", data, "--target", "species", *options],
                              capture_output=True, text=True, timeout=300)

    proc = run()
    assert proc.returncode == 0, proc.stderr
    assert "max_evals=3 reached" in proc.stderr and "hist_gradient_boosting" in proc.stdout
    assert "random_forest" not in proc.stdout  # models= from the pyproject
    assert list((course / "runs").iterdir())  # search_dir, relative to the pyproject
    assert "max_evals=2 reached" in run("--max-evals", "2").stderr
    (course / "pyproject.toml").write_text("[tool.nbautoml]\ntime_budget = 'none'\nmax_evals = 2\n"
                                           "models = 'logistic_regression'\n")
    proc = run()
    assert proc.returncode == 0 and "no time budget" in proc.stdout, proc.stderr
    (course / "pyproject.toml").write_text("[tool.nbautoml]\ntask = 'clustering'\n")
    proc = run()
    assert proc.returncode == 2
    assert "[tool.nbautoml] task = 'clustering': choose from auto, binary, multiclass, regression" in proc.stderr
    (course / "pyproject.toml").write_text("[tool.nbautoml]\nbudget = 30\n")
    proc = run()
    assert proc.returncode == 2 and "[tool.nbautoml] has an unknown option 'budget'" in proc.stderr


def test_nbautoml_run_takes_a_decision_threshold_default(course, datasets_dir):
    (course / "pyproject.toml").write_text("[tool.nbautoml]\ndecision_threshold = 0.3\nmax_evals = 2\n"
                                           "time_budget = 'none'\nmodels = 'logistic_regression'\n")
    proc = subprocess.run([sys.executable, "-m", "nbautoml", "run", str(datasets_dir / "blood.csv"), "--target",
                           "Class", "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "decision threshold: 0.3, as given" in proc.stdout
