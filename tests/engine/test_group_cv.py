"""Grouped folds by a column: ``cv="group:COLUMN"`` (``--cv group:COLUMN`` in the magic and the CLI).

Passengers on one titanic ticket travelled together and share their fate: with the ticket a
feature and its passengers on both sides of a fold, the CV score is too good for new passengers.
Grouped CV was reachable from Python only (``groups=``), not from ``%%automl`` or ``nbautoml run``.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import nbautoml
from nbautoml import AutoML
from nbautoml.exceptions import ConfigError, DataError

FAST = dict(max_evals=2, time_budget=None, n_jobs=1, seed=0, models=["logistic_regression", "hist_gradient_boosting"])


@pytest.fixture(scope="module")
def by_ticket(titanic, tmp_path_factory):
    return AutoML(cv="group:Ticket", search_dir=tmp_path_factory.mktemp("runs"), **FAST).fit(
        titanic, target="Survived")


def test_folds_keep_each_ticket_together_and_the_ticket_is_not_a_feature(titanic, by_ticket, tmp_path):
    tickets = titanic["Ticket"].to_numpy()
    assert all(not set(tickets[train]) & set(tickets[test]) for train, test in by_ticket.validation_.folds)
    assert by_ticket.validation_.description == "group 5-fold over 681 groups (column 'Ticket')"
    assert "Ticket" not in by_ticket.feature_names_in_ and by_ticket.groups_column_ == "Ticket"
    stratified = AutoML(search_dir=tmp_path, **FAST).fit(titanic, target="Survived")
    assert by_ticket.best_score_ < stratified.best_score_  # the honest score is lower
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the group column in new data is no "extra column"
        by_ticket.predict(titanic.head(20))
        loaded = nbautoml.load(nbautoml.save(by_ticket, tmp_path / "by_ticket"))
        np.testing.assert_array_equal(loaded.predict(titanic.head(20)), by_ticket.predict(titanic.head(20)))
    assert loaded.groups_column_ == "Ticket"


def test_a_misspelt_group_column_and_two_group_sources_are_refused(titanic, tmp_path):
    with pytest.raises(DataError, match=r"The group column 'Tiket' is not in the data. Did you mean 'Ticket'\?"):
        AutoML(cv="group:Tiket", search_dir=tmp_path, **FAST).fit(titanic, target="Survived")
    with pytest.raises(ConfigError, match=r"cv='group:Ticket' names the group column; leave groups= out"):
        AutoML(cv="group:Ticket", search_dir=tmp_path, **FAST).fit(titanic, target="Survived",
                                                                   groups=titanic["Ticket"])


def test_the_cli_takes_cv_group_column(datasets_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nbautoml", "run", str(datasets_dir / "titanic.csv"), "--target",
                           "Survived", "--cv", "group:Ticket", "--max-evals", "2", "--search-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "group 5-fold over 681 groups (column 'Ticket')" in proc.stdout
