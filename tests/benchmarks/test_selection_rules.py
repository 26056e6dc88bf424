"""benchmarks/selection_rules.py on a real search: every rule's pick is one of its candidates,
scored on the held-out rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATASETS

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "selection_rules.py"


@pytest.mark.slow  # two 6 s searches, then 2 pipelines refit 16 times each: about 20 s
def test_the_log_loss_and_repeated_cv_rules_pick_among_the_top_trials_and_score_their_picks():
    if not DATASETS.exists():
        pytest.skip(f"the shared data sets are not at {DATASETS}")
    done = subprocess.run([sys.executable, str(SCRIPT), "iris", "species", "multiclass", "--budget", "6",
                           "--seeds", "0-1", "--top", "2", "--datasets-dir", str(DATASETS)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["seed"] for row in rows] == [0, 1]
    for row in rows:
        if row["ensemble"] is None:  # the script refits the anchor as nbautoml refit its model
            assert row["model"] == row["chosen"]
        candidates = {c["trial"]: c for c in row["candidates"]}
        assert len(candidates) == 2  # iris's first two starting points end in well under a second
        assert [c["cv"] for c in row["candidates"]] == sorted((c["cv"] for c in row["candidates"]), reverse=True)
        for rule in ("log_loss", "repeated_cv"):
            pick = candidates[row[f"{rule}_trial"]]
            assert row[rule] == pick["held_out"] and 0.5 <= pick["held_out"] <= 1.0
        assert candidates[row["log_loss_trial"]]["log_loss"] == min(c["log_loss"] for c in candidates.values())
        assert all(0.0 < c["log_loss"] < 2.0 and 0.5 <= c["repeated_cv"] <= 1.0 for c in candidates.values())
