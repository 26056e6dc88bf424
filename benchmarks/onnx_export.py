"""Which models nbautoml finds can be exported to ONNX, and whether ONNX predicts as they do.

For each bundled data set: a search with the default options and a short time budget
on the benchmark's training rows (75 %, split seed 0), then ``export_onnx`` checked on
the held-out rows. Prints one line per data set: the chosen pipeline, the file's size,
the export's time and its parity figures (share of equal labels, share of rows within
the tolerance, largest difference), or the error.

Example::

    .venv/bin/python benchmarks/onnx_export.py --budget 6
    .venv/bin/python benchmarks/onnx_export.py --only spam,titanic
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402
from linear_clip import protocol_split  # noqa: E402


def export_one(datasets_dir: Path, name: str, budget: float, out_dir: Path) -> str:
    """Search, export and check one data set; one line of figures."""
    import nbautoml
    from nbautoml.export import ExportError

    task, X_train, y_train, X_test, _ = protocol_split(datasets_dir, name, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = nbautoml.AutoML(task=task, time_budget=budget, seed=0).fit(X_train, y_train)
    started = time.perf_counter()
    try:
        report = nbautoml.export_onnx(model, out_dir / f"{name}.onnx", check_rows=X_test)
    except ExportError as err:
        return f"{name:10s} {model.best_config_.get('family', '?'):24s} {err.code}: {str(err)[:160]}"
    seconds = time.perf_counter() - started
    labels = "" if report.label_agreement is None else f"labels {report.label_agreement:7.2%}  "
    kinds = [f"{len(report.text_inputs)} text"] if report.text_inputs else []
    kinds += [f"{len(report.date_inputs)} date"] if report.date_inputs else []
    return (f"{name:10s} {model.best_config_.get('family', '?'):24s} {report.size / 1e6:6.2f} MB {seconds:5.1f} s  "
            f"{labels}values {report.value_agreement:7.2%}  max diff {report.max_abs_diff:.1e}  "
            f"{report.rows_checked} rows {' '.join(kinds)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=6.0, help="seconds of search per data set")
    parser.add_argument("--only", default="", help="comma-separated data set names")
    parser.add_argument("--datasets-dir", type=Path, default=bench.DEFAULT_DATASETS)
    args = parser.parse_args(argv)
    names = [row["dataset"] for row in bench.read_index(args.datasets_dir)]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    print(f"nbautoml {bench._git_head()}, search {args.budget:g} s per data set, parity on the held-out 25 %")
    with tempfile.TemporaryDirectory() as out:
        for name in names:
            print(export_one(args.datasets_dir, name, args.budget, Path(out)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
