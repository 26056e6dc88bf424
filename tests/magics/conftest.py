"""A real IPython shell with the nbautoml extension loaded, and small data sets."""

from __future__ import annotations

import pytest

FAST = "--max-evals 2 --models logistic_regression,decision_tree --cv 3 --no-widgets"


@pytest.fixture(scope="session")
def shell():
    """IPython's InteractiveShell (a singleton) with the history turned off."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    return InteractiveShell.instance(config=config)


def fresh(shell):
    """Load the extension anew (a new AutoMLMagics, default traits) into an empty namespace."""
    shell.reset(new_session=False)
    shell.config.pop("AutoMLMagics", None)
    shell.extension_manager.loaded.discard("nbautoml")
    shell.run_line_magic("load_ext", "nbautoml")
    return shell


@pytest.fixture
def ip(shell):
    yield fresh(shell)
    shell.config.pop("AutoMLMagics", None)


@pytest.fixture(scope="session")
def iris():
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).frame


@pytest.fixture(scope="session")
def diabetes():
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame.head(200)


@pytest.fixture(scope="module")
def fitted(shell, iris):
    """One small search on iris run through %%automl, shared by the tests that only read it."""
    ip = fresh(shell)
    ip.push({"df": iris})
    ip.run_cell_magic("automl", f"--target target {FAST} --name fitted", "df")
    result = ip.user_ns["fitted"]
    ip.reset(new_session=False)
    return result
