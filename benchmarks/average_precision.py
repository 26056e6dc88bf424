"""Held-out average precision of a search for it, of a search for ROC AUC and of a default forest.

Average precision is the area under the precision-recall curve.

For every binary data set in ``../shared/datasets`` and every split seed (the benchmark
protocol's stratified 75/25 split), the held-out average precision of the positive class
(``classes_[1]``; the table gives its share) of

- ``nbautoml_ap``: ``AutoML(metric="average_precision")``;
- ``nbautoml_auc``: ``AutoML()`` (ROC AUC, the binary default), the same budget;
- ``random_forest``: scikit-learn's default forest (median/most-frequent imputation and one-hot
  encoding, as in ``run_benchmark.py``).

Usage::

    python benchmarks/average_precision.py --budget 10 --split-seeds 0-1 --out results/average-precision-10.jsonl
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.run_benchmark import (  # noqa: E402
    _as_object_strings,
    baseline_preprocessor,
    binary_datasets,
    case_parser,
    emit,
)

SYSTEMS = ("nbautoml_ap", "nbautoml_auc", "random_forest")


def run_case(name: str, frame: pd.DataFrame, target: str, seed: int, budget: float) -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    import nbautoml

    train, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame[target])
    X_test, y_test = test.drop(columns=[target]), test[target]
    record = {"dataset": name, "split_seed": seed, "budget": budget, "rows": len(train)}
    for system, metric in (("nbautoml_ap", "average_precision"), ("nbautoml_auc", "roc_auc")):
        with tempfile.TemporaryDirectory(prefix="nbautoml-ap-") as tmp:
            automl = nbautoml.AutoML(time_budget=budget, seed=0, metric=metric, search_dir=tmp)
            automl.fit(train.reset_index(drop=True), target=target)
        positive = automl.classes_[1]
        record[system] = float(average_precision_score(y_test == positive, automl.predict_proba(X_test)[:, 1]))
        record[f"{system}_model"] = automl.summary()["model"]
    record["positive_class"], record["positive_share"] = str(positive), float(np.mean(y_test == positive))
    X_train = _as_object_strings(train.drop(columns=[target]))
    forest = make_pipeline(baseline_preprocessor(X_train), RandomForestClassifier(random_state=0))
    forest.fit(X_train, train[target])
    column = list(forest.classes_).index(positive)
    record["random_forest"] = float(average_precision_score(
        y_test == positive, forest.predict_proba(_as_object_strings(X_test))[:, column]))
    return record


def summarize(records: list[dict]) -> str:
    lines = [f"held-out average precision ({len(records)} cases)",
             f"{'data set':<10} {'seed':>4} {'positives':>9} " + " ".join(f"{s:>13}" for s in SYSTEMS)]
    for r in records:
        lines.append(f"{r['dataset']:<10} {r['split_seed']:>4} {r['positive_share']:>9.3f} "
                     + " ".join(f"{r[s]:>13.4f}" for s in SYSTEMS))
    lines.append(f"{'mean':<25}" + " ".join(f"{np.mean([r[s] for r in records]):>13.4f}" for s in SYSTEMS))
    best = [max(SYSTEMS, key=lambda s, r=r: r[s]) for r in records]
    lines.append(f"{'wins':<25}" + " ".join(f"{best.count(s):>13}" for s in SYSTEMS))
    gains = [r["nbautoml_ap"] - r["nbautoml_auc"] for r in records]
    lines.append(f"searching for average precision minus searching for ROC AUC: mean {np.mean(gains):+.4f}, "
                 f"better in {sum(g > 0 for g in gains)}, worse in {sum(g < 0 for g in gains)}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = case_parser(__doc__, "every binary data set", seeds=(0,))
    parser.add_argument("--budget", type=float, default=10.0)
    parser.add_argument("--out", help="JSONL file for the records (appended to)")
    parser.add_argument("--summarize", metavar="JSONL", help="print the table of earlier records and stop")
    args = parser.parse_args(argv)
    if args.summarize:
        print(summarize([json.loads(line) for line in open(args.summarize) if line.strip()]))
        return 0
    records = []
    warnings.filterwarnings("ignore")
    with open(args.out, "a") if args.out else contextlib.nullcontext() as out:
        for name, frame, target in binary_datasets(args.datasets_dir, args.only):
            for seed in args.split_seeds:
                records.append(run_case(name, frame, target, seed, args.budget))
                emit(records[-1], out)
    print(summarize(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
