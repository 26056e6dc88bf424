"""Issue 7's memory target as a test (``pytest -m load``; CI runs it after the default suite):
a search on 1,000,000 rows x 20 features with ``time_budget=120`` peaks under 4x the data;
and RELIABILITY L-03, the same with 5 of the 20 columns text."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "memory.py"


@pytest.mark.load
@pytest.mark.timeout(600)
def test_a_search_on_a_million_rows_peaks_under_four_times_the_data(tmp_path):
    spec = importlib.util.spec_from_file_location("memory_benchmark", SCRIPT)
    memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory)
    budget = 120
    out = subprocess.run([sys.executable, "-c", memory.CHILD, "1000000", str(budget)], capture_output=True,
                         text=True, check=True, cwd=tmp_path)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(info, indent=1))
    data = info["data_mb"]
    assert 150 < data < 170  # 20 float64 columns and an int target
    assert (info["peak_search_sampled_mb"] - info["baseline_mb"]) / data < 4, info
    assert (info["peak_parent_mb"] - info["baseline_mb"]) / data < 4, info
    assert info["wall_s"] <= 1.1 * budget and info["statuses"].get("ok", 0) >= 1, info


@pytest.mark.load
@pytest.mark.timeout(600)
def test_a_search_on_a_million_rows_with_text_columns_peaks_under_four_times_the_data(tmp_path):
    """RELIABILITY L-03 (15 number and 5 text columns, pandas' str dtype). Before: 3.9-4.1x,
    and 6.8x in a run that refitted its logistic regression (ROC AUC 0.829) because the
    boosting trial ran out of time (each row's text was made a Python string, and
    scikit-learn's encoders counted them one by one: 7.9 s of a boosting trial's 19 s went
    to encoding 800,000 rows); now 3.6x, and the boosting trial (0.981) takes 14-15 s."""
    spec = importlib.util.spec_from_file_location("memory_benchmark", SCRIPT)
    memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory)
    budget = 60
    out = subprocess.run([sys.executable, "-c", memory.CHILD, "1000000", str(budget), "5", "str"],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(info, indent=1))
    data = info["data_mb"]
    assert 170 < data < 200  # 15 float64 columns, 5 Arrow string columns and an int target
    assert (info["peak_parent_mb"] - info["baseline_mb"]) / data < 4, info
    assert info["first_trial_s"] < 4, info  # the checks before it: 4.8 s before, 2.0-2.5 s now
    assert info["wall_s"] <= 1.1 * budget and info["statuses"].get("ok", 0) >= 2, info
    assert "hist_gradient_boosting" in info["best"] and info["best_score"] > 0.95, info
