"""Issue 7's memory target as a test (``pytest -m load``; CI runs it after the default suite):
a search on 1,000,000 rows x 20 features with ``time_budget=120`` peaks under 4x the data."""

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
