"""Peak memory and time of ``nbautoml predict`` on a large CSV: whole file against chunks.

Fits a small model on titanic, writes its rows again and again to one CSV (``--rows``),
then runs ``nbautoml predict MODEL DATA --out predictions.csv`` in a child process with
``--chunk-rows 0`` (the whole file at once) and with each ``--chunk-rows`` given, and prints
each run's wall time and peak RSS (the child's own ``ru_maxrss``, from ``os.wait4``) side by side, and how far
its predictions are from the whole file's.

    .venv/bin/python benchmarks/batch_memory.py --rows 2000000 --chunk-rows 100000,20000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parent.parent / "shared" / "datasets"


def _peak_of_child(command: list[str]) -> tuple[float, float]:
    """Run ``command``; its wall time (s) and peak RSS (MB, this child's own ``ru_maxrss``)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} exited with {child.returncode}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-rows", default="100000,20000", help="comma-separated chunk sizes")
    args = parser.parse_args()

    import pandas as pd

    import nbautoml

    frame = pd.read_csv(DATASETS / "titanic.csv")
    with tempfile.TemporaryDirectory(prefix="nbautoml-batch-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tmp = Path(tmp)
        result = nbautoml.AutoML(max_evals=4, seed=0, search_dir=tmp / "runs").fit(frame, target="Survived")
        model = nbautoml.save(result, tmp / "titanic")
        data = tmp / "big.csv"
        rows = frame.drop(columns=["Survived"])
        with open(data, "w") as handle:
            written = 0
            while written < args.rows:
                block = rows.head(args.rows - written)
                block.to_csv(handle, index=False, header=written == 0)
                written += len(block)
        size = data.stat().st_size / 2**20
        print(f"model: {result.best_config_['family']}; data: {args.rows:,} rows, {size:,.0f} MB of CSV "
              f"({rows.shape[1]} columns)")
        print(f"{'chunk rows':>12} {'wall s':>8} {'peak RSS MB':>12} {'labels differ':>14} {'max |Δ proba|':>14}")
        settings = sorted(int(c) for c in args.chunk_rows.split(","))
        runs = {}
        for chunk_rows in [0, *settings]:
            out = tmp / f"p{chunk_rows}.csv"
            runs[chunk_rows] = _peak_of_child([sys.executable, "-m", "nbautoml", "predict", str(model), str(data),
                                               "--proba", "--chunk-rows", str(chunk_rows), "--out", str(out)])
        whole = pd.read_csv(tmp / "p0.csv")
        for chunk_rows, (wall, peak) in runs.items():
            table = pd.read_csv(tmp / f"p{chunk_rows}.csv")
            labels = int((table["predicted Survived"] != whole["predicted Survived"]).sum())
            proba = [c for c in table.columns if c.startswith("probability")]
            gap = float((table[proba] - whole[proba]).abs().to_numpy().max())
            label = "whole file" if chunk_rows == 0 else f"{chunk_rows:,}"
            print(f"{label:>12} {wall:8.1f} {peak:12,.0f} {labels:14,d} {gap:14.1e}")


if __name__ == "__main__":
    main()
