"""Wide data: 200-400 rows, 20,000 columns, the five systems of run_benchmark.py side by side.

Genomics-like tables have far more columns than rows. This script writes two synthetic
binary data sets (``INDEX.csv`` and CSVs in a directory) and runs ``run_benchmark.py`` on
them under its protocol (75/25 stratified split, held-out ROC AUC, the same budget for
every system):

* ``wide_two``: 200 rows of 20,000 standard normal columns; the class is f0 + f1 > 0.
* ``wide_informative``: ``make_classification`` with 400 rows, 20,000 columns, 20 of them
  informative.

Example::

    .venv/bin/python benchmarks/wide_data.py --budget 30 --out benchmarks/results/wide-30.jsonl
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write_datasets(directory: Path, columns: int = 20_000) -> None:
    """The two data sets as CSV files, with the INDEX.csv run_benchmark.py reads."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(columns)]
    two = pd.DataFrame(rng.normal(size=(200, columns)).round(5), columns=names)
    two["target"] = (two["f0"] + two["f1"] > 0).astype(int)
    X, y = make_classification(n_samples=400, n_features=columns, n_informative=20, n_redundant=0,
                               random_state=0)
    informative = pd.DataFrame(X.round(5), columns=names).assign(target=y)
    rows = []
    for name, frame in (("wide_two", two), ("wide_informative", informative)):
        frame.to_csv(directory / f"{name}.csv", index=False)
        rows.append({"dataset": name, "file": f"{name}.csv", "task": "binary", "target": "target",
                     "rows": len(frame), "features": columns, "categorical": 0, "missing_cells": 0})
    pd.DataFrame(rows).to_csv(directory / "INDEX.csv", index=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per system per data set")
    parser.add_argument("--columns", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "wide.jsonl")
    parser.add_argument("--systems", help="as run_benchmark.py's --systems (default: all five)")
    parser.add_argument("--overwrite", action="store_true", help="replace an --out file of an earlier run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nbautoml-wide-") as directory:
        write_datasets(Path(directory), args.columns)
        command = [sys.executable, str(HERE / "run_benchmark.py"), "--datasets-dir", directory,
                   "--budget", str(args.budget), "--out", str(args.out)]
        if args.systems:
            command += ["--systems", args.systems]
        if args.overwrite:
            command.append("--overwrite")
        return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
