"""``%load_ext nbautoml`` takes the defaults of [tool.nbautoml] in the nearest pyproject.toml."""

from __future__ import annotations

import warnings


def test_the_magics_take_the_defaults_and_ipython_config_still_wins(course, shell):
    from traitlets.config import Config

    from nbautoml.magics.automl import AutoMLMagics

    magics = AutoMLMagics(shell=shell)
    assert (magics.time_budget, magics.max_evals, magics.seed, magics.ensemble, magics.widgets) == (
        30.0, 3, 7, False, False)
    assert magics.models == ["logistic_regression", "hist_gradient_boosting"]
    assert magics.search_dir == str(course / "runs")
    configured = AutoMLMagics(shell=shell, config=Config({"AutoMLMagics": {"seed": 1}}))
    assert (configured.seed, configured.max_evals) == (1, 3)

    (course / "pyproject.toml").write_text("[tool.nbautoml]\ntime_budget = -5\nseed = 3\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        magics = AutoMLMagics(shell=shell)
    assert magics.seed == 3 and magics.time_budget == 60.0  # the bad value left out, the rest used
    assert any("[tool.nbautoml] time_budget = -5 is not used" in str(w.message) for w in caught)
