"""``%automl_plan``: the column plan before a search, and ``--roles`` shared with ``%%automl``."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError

from .conftest import FAST


def test_automl_plan_magic_shows_the_plan_and_roles_reach_the_search(ip, titanic, capsys):
    ip.push({"df": titanic})
    ip.run_line_magic("automl_plan", "df --target Survived --roles Pclass=categorical,Cabin=dropped --out p")
    plan = ip.user_ns["p"]
    roles = plan.to_frame().set_index("column")["role"]
    assert (roles["Pclass"], roles["Cabin"]) == ("categorical", "dropped")
    assert "Cabin" in capsys.readouterr().out  # the text display, without a front end
    ip.run_cell_magic("automl", f"--target Survived --roles Pclass=categorical,Cabin=dropped {FAST} "
                                "--name searched", "df")
    assert ip.user_ns["searched"].plan_.to_dict() == plan.to_dict()
    with pytest.raises(UsageError, match=r"unknown role 'gone' for 'Cabin'\. Roles: numeric"):
        ip.run_line_magic("automl_plan", "df --target Survived --roles Cabin=gone")
    with pytest.raises(UsageError, match=r"unknown role 'categorial' for 'Pclass'\. Did you mean 'categorical'\? "
                                         r"Roles: numeric, categorical"):
        ip.run_line_magic("automl_plan", "df --target Survived --roles Pclass=categorial")
    with pytest.raises(UsageError, match="Did you mean 'Survived'"):
        ip.run_line_magic("automl_plan", "df --target Survivd")


def test_the_magics_take_a_polars_frame(ip, titanic):
    pl = pytest.importorskip("polars")
    ip.push({"pdf": pl.from_pandas(titanic)})
    ip.run_line_magic("automl_plan", "pdf --target Survived --out polars_plan")
    ip.push({"df": titanic})
    ip.run_line_magic("automl_plan", "df --target Survived --out pandas_plan")
    assert ip.user_ns["polars_plan"].to_dict() == ip.user_ns["pandas_plan"].to_dict()
    ip.run_cell_magic("automl", f"--target Survived {FAST} --name from_polars", "pdf")
    assert ip.user_ns["from_polars"].target_ == "Survived"
    ip.run_line_magic("automl_predict", "from_polars pdf.head(20) --out polars_preds")
    ip.run_line_magic("automl_predict", "from_polars df.head(20) --out pandas_preds")
    pd.testing.assert_series_equal(ip.user_ns["polars_preds"], ip.user_ns["pandas_preds"])


def test_the_magics_read_json_lines_and_compressed_csv_files(ip, titanic):
    titanic.to_json("titanic.jsonl", orient="records", lines=True)
    titanic.to_csv("titanic.csv.gz", index=False)
    ip.push({"df": titanic})
    ip.run_line_magic("automl_plan", "df --target Survived --out from_frame")
    for path in ("titanic.jsonl", "titanic.csv.gz"):
        ip.run_line_magic("automl_plan", f"{path} --target Survived --out from_file")
        roles = {c.name: c.role for c in ip.user_ns["from_file"].columns}
        assert roles == {c.name: c.role for c in ip.user_ns["from_frame"].columns}
    for gone in ("gone.csv.bz2", "gone.ndjson", "gone.ods"):  # every suffix read_table reads is a path
        with pytest.raises(UsageError, match=f"File not found: '{gone}'"):
            ip.run_line_magic("automl_plan", f"{gone} --target Survived")


def test_automl_sanity_shows_the_check_and_stores_it(ip, titanic):
    from nbautoml.sanity import SanityCheck

    ip.push({"df": titanic})
    ip.run_cell_magic("automl", f"--target Survived {FAST} --name searched", "df")
    assert ip.run_line_magic("automl_sanity", "searched --max-evals 3 --out check") is None
    check = ip.user_ns["check"]
    assert isinstance(check, SanityCheck) and check.n_trials == 3 and check.passed
    assert "Example::" in ip.find_line_magic("automl_sanity").__doc__
    import nbautoml

    ip.push({"loaded": nbautoml.load(nbautoml.save(ip.user_ns["searched"], "searched"))})
    with pytest.raises(UsageError, match=r"'loaded' is a LoadedModel: the check searches again on the training "
                                         r"rows, .* %automl_sanity loaded"):
        ip.run_line_magic("automl_sanity", "loaded")


def test_options_take_notebook_variables_as_ipython_expands_them(ip, titanic):
    ip.push({"df": titanic, "target": "Survived", "evals": 2})
    ip.run_cell("%%automl --target {target} --max-evals $evals --models logistic_regression --no-widgets "
                "--name expanded\ndf")
    result = ip.user_ns["expanded"]
    assert result.target_ == "Survived" and len(result.trials_) == 2


def test_cv_group_column_reaches_the_search(ip, titanic):
    ip.push({"df": titanic})
    ip.run_cell_magic("automl", f"--target Survived {FAST} --cv group:Ticket --name grouped", "df")
    grouped = ip.user_ns["grouped"]
    assert grouped.validation_.description.endswith("(column 'Ticket')")
    assert "Ticket" not in grouped.feature_names_in_
    assert "group:COL" in ip.find_cell_magic("automl").__doc__ or "group:COL" in _help(ip)


def _help(ip) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ip.run_cell_magic("automl", "--help", "")
    return out.getvalue()
