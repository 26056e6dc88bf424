"""Worker time lost to trials stopped for time, per data set.

A trial stopped at the end of the time budget (or, since 8887f17, stopped early because its
first folds say it would end after it) gives nothing for the time it ran. For each data set
of ``../shared/datasets`` this script runs ``AutoML(time_budget=B)`` on the benchmark's split
and prints one JSON line: the trials, how many were stopped for time and the seconds they had
run (``lost``; ``early`` and ``early_lost`` for those stopped at their pace), the seconds of
the trials that finished (``ok_time``) and the held-out score.

Example::

    .venv/bin/python benchmarks/lost_time.py --budget 30 > lost-30.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402


def ran_for(trial) -> float:
    """Seconds a trial stopped for time had run, read from its error."""
    found = re.search(r"stopped after ([\d.]+) s", trial.error) or re.search(r"\(([\d.]+) s\)", trial.error)
    return float(found.group(1))


def lost_time(entry: dict, datasets_dir: Path, budget: float) -> dict:
    import nbautoml

    task, target = entry["task"], entry["target"]
    train, test, _ = bench.load_split(str(datasets_dir / entry["file"]), target, task)
    started = time.perf_counter()
    result = nbautoml.AutoML(time_budget=budget).fit(train, target=target)
    wall = time.perf_counter() - started
    cut = [t for t in result.trials_ if t.status == "timeout" and "end of the time budget" in (t.error or "")]
    early = [t for t in cut if t.error.startswith("stopped after fold")]
    return {
        "ds": entry["dataset"], "wall": round(wall, 1), "score": round(result.score(test), 4),
        "n": len(result.trials_), "cut": len(cut), "lost": round(sum(map(ran_for, cut)), 1),
        "cut_long": [round(ran_for(t), 1) for t in cut], "early": len(early),
        "early_lost": round(sum(map(ran_for, early)), 1), "cut_fams": [t.family for t in cut],
        "ok_time": round(sum(t.finished - t.started for t in result.trials_ if t.status == "ok"), 1),
        "best": result.best_trial_.family, "best_at": round(result.best_trial_.finished, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets-dir", type=Path, default=bench.DEFAULT_DATASETS)
    parser.add_argument("--only", help="comma-separated data set names (default: all of INDEX.csv)")
    parser.add_argument("--budget", type=float, default=30.0)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    for entry in bench.read_index(args.datasets_dir):
        if args.only and entry["dataset"] not in args.only.split(","):
            continue
        print(json.dumps(lost_time(entry, args.datasets_dir, args.budget)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
