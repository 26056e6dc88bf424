"""The decision threshold of binary models: held-out scores with and without it, and by hand.

"By hand" is what a user would do instead: scikit-learn's own threshold tuning (below).

For every binary data set in ``../shared/datasets``, every threshold-dependent metric and every
split seed (the benchmark protocol's stratified 75/25 split): one nbautoml search with
``decision_threshold="auto"`` and the metric, then the held-out metric of

- ``nbautoml``: the model as the search left it (at the chosen threshold, or 0.5 where the
  threshold was no clear gain);
- ``nbautoml_at_0.5``: the same fitted model cut at 0.5 (the wrapped last step's own predict);
- (in the records, not a system) ``nbautoml_best_cut``: the same model at the best cut of its
  out-of-fold probabilities whether or not the search kept it, to compare keeping rules;
- ``random_forest``: scikit-learn's default forest (median/most-frequent imputation and one-hot
  encoding, as in ``run_benchmark.py``) at 0.5;
- ``random_forest_tuned``: the same forest in scikit-learn's ``TunedThresholdClassifierCV``
  (5-fold, the metric as its scoring), scikit-learn's own threshold tuning.

Usage::

    python benchmarks/decision_threshold.py --budget 10 --split-seeds 0-1 --out results/threshold-10.jsonl
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
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

METRICS = ("f1", "balanced_accuracy", "accuracy")
SYSTEMS = ("nbautoml", "nbautoml_at_0.5", "random_forest", "random_forest_tuned")


def held_out(metric: str, y_true, y_pred, positive) -> float:
    from sklearn import metrics as skm

    y_true, y_pred = np.asarray(y_true) == positive, np.asarray(y_pred) == positive
    if metric == "f1":
        return float(skm.f1_score(y_true, y_pred, zero_division=0))
    if metric == "balanced_accuracy":
        return float(skm.balanced_accuracy_score(y_true, y_pred))
    return float(skm.accuracy_score(y_true, y_pred))


def run_case(name: str, frame: pd.DataFrame, target: str, metric: str, seed: int, budget: float) -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import TunedThresholdClassifierCV, train_test_split
    from sklearn.pipeline import make_pipeline

    import nbautoml

    train, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame[target])
    X_test, y_test = test.drop(columns=[target]), test[target]
    record = {"dataset": name, "metric": metric, "split_seed": seed, "budget": budget, "rows": len(train)}
    with tempfile.TemporaryDirectory(prefix="nbautoml-threshold-") as tmp:
        t0 = time.perf_counter()
        automl = nbautoml.AutoML(time_budget=budget, seed=0, metric=metric, search_dir=tmp)
        automl.fit(train.reset_index(drop=True), target=target)
        record["nbautoml_seconds"] = round(time.perf_counter() - t0, 2)
        positive = automl.classes_[1]
        record["positive_class"] = str(positive)
        record["threshold"] = automl.decision_threshold_
        record["threshold_note"] = automl.threshold_note_
        record["nbautoml"] = held_out(metric, y_test, automl.predict(X_test), positive)
        last = automl.best_pipeline_.steps[-1][1]
        inner = last.estimator_ if type(last).__name__ == "FixedThresholdClassifier" else last
        features = automl._input_frame(X_test)
        for _, step in automl.best_pipeline_.steps[:-1]:
            features = step.transform(features)
        record["nbautoml_at_0.5"] = held_out(metric, y_test, inner.predict(features), positive)
        choice = automl.threshold_choice_  # the best cut, kept or not: to compare keeping rules
        if choice is not None:
            record.update(cut=choice.threshold, oof_at_cut=choice.score, oof_at_0_5=choice.default_score,
                          folds_better=choice.folds_better, n_folds=choice.n_folds)
            at_cut = inner.predict_proba(features)[:, 1] >= choice.threshold
            record["nbautoml_best_cut"] = held_out(metric, y_test, np.where(at_cut, positive, automl.classes_[0]),
                                                   positive)
    X_train, y_train = _as_object_strings(train.drop(columns=[target])), train[target]
    X_test = _as_object_strings(X_test)
    forest = make_pipeline(baseline_preprocessor(X_train), RandomForestClassifier(random_state=0))
    t0 = time.perf_counter()
    record["random_forest"] = held_out(metric, y_test, forest.fit(X_train, y_train).predict(X_test), positive)
    record["random_forest_seconds"] = round(time.perf_counter() - t0, 2)
    scoring = {"f1": "f1", "balanced_accuracy": "balanced_accuracy", "accuracy": "accuracy"}[metric]
    from sklearn.metrics import make_scorer

    if metric == "f1":  # the positive class of nbautoml's search (classes_[1]), by name
        from sklearn.metrics import f1_score

        scoring = make_scorer(f1_score, pos_label=positive, zero_division=0)
    tuned = TunedThresholdClassifierCV(forest, scoring=scoring, cv=5, random_state=0)
    t0 = time.perf_counter()
    tuned.fit(X_train, y_train)
    record["random_forest_tuned"] = held_out(metric, y_test, tuned.predict(X_test), positive)
    record["random_forest_tuned_threshold"] = round(float(tuned.best_threshold_), 4)
    record["random_forest_tuned_seconds"] = round(time.perf_counter() - t0, 2)
    return record


KEEPING_RULES = {
    "pooled": "when it beats 0.5 by > 0.1 % pooled (nbautoml's rule)",
    "pooled_and_folds": "when it beats 0.5 by > 0.1 % pooled and on most folds (the first rule)",
    "always": "always",
}


def rule_keeps(record: dict, rule: str) -> bool:
    """Whether ``rule`` keeps the record's best cut, from its out-of-fold scores."""
    if "cut" not in record:
        return False
    gain = record["oof_at_cut"] - record["oof_at_0_5"]
    if rule == "always":
        return True
    if rule == "pooled":
        return gain > 0.001
    return gain > 0.001 and 2 * record["folds_better"] > record["n_folds"]


def rule_score(record: dict, rule: str) -> float:
    """The held-out score of the search's model had ``rule`` decided on its best cut."""
    return record["nbautoml_best_cut"] if rule_keeps(record, rule) else record["nbautoml_at_0.5"]


def summarize(records: list[dict]) -> str:
    lines = []
    for metric in METRICS:
        rows = [r for r in records if r["metric"] == metric]
        if not rows:
            continue
        lines.append(f"\n{metric} (held-out, {len(rows)} cases)")
        lines.append(f"{'data set':<10} {'seed':>4} " + " ".join(f"{s:>20}" for s in SYSTEMS) + "  threshold")
        for r in rows:
            threshold = "0.5 kept" if r["threshold"] is None else f"{r['threshold']:.3f}"
            lines.append(f"{r['dataset']:<10} {r['split_seed']:>4} "
                         + " ".join(f"{r[s]:>20.4f}" for s in SYSTEMS) + f"  {threshold}")
        means = {s: np.mean([r[s] for r in rows]) for s in SYSTEMS}
        best = [max(SYSTEMS, key=lambda s, r=r: r[s]) for r in rows]
        lines.append(f"{'mean':<15} " + " ".join(f"{means[s]:>20.4f}" for s in SYSTEMS))
        lines.append(f"{'wins':<15} " + " ".join(f"{best.count(s):>20}" for s in SYSTEMS))
        gains = [r["nbautoml"] - r["nbautoml_at_0.5"] for r in rows]
        moved = sum(r["threshold"] is not None for r in rows)
        lines.append(f"threshold kept in {moved} of {len(rows)}; nbautoml minus its own model at 0.5: mean "
                     f"{np.mean(gains):+.4f}, better in {sum(g > 0 for g in gains)}, worse in "
                     f"{sum(g < 0 for g in gains)}, worst {min(gains):+.4f}")
        for rule in KEEPING_RULES:
            gains = [rule_score(r, rule) - r["nbautoml_at_0.5"] for r in rows]
            lines.append(f"  the best cut kept {KEEPING_RULES[rule]}: mean {np.mean(gains):+.4f}, better in "
                         f"{sum(g > 0 for g in gains)}, worse in {sum(g < 0 for g in gains)}, worst "
                         f"{min(gains):+.4f} (kept in {sum(rule_keeps(r, rule) for r in rows)})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = case_parser(__doc__, "every binary data set", seeds=(0,))
    parser.add_argument("--budget", type=float, default=10.0)
    parser.add_argument("--metrics", default=",".join(METRICS))
    parser.add_argument("--out", help="JSONL file for the records (appended to)")
    parser.add_argument("--summarize", metavar="JSONL", help="print the tables of earlier records and stop")
    args = parser.parse_args(argv)
    if args.summarize:
        print(summarize([json.loads(line) for line in open(args.summarize) if line.strip()]))
        return 0
    seeds = args.split_seeds
    metrics = args.metrics.split(",")
    records = []
    warnings.filterwarnings("ignore")
    with open(args.out, "a") if args.out else contextlib.nullcontext() as out:
        for name, frame, target in binary_datasets(args.datasets_dir, args.only):
            for seed in seeds:
                for metric in metrics:
                    records.append(run_case(name, frame, target, metric, seed, args.budget))
                    emit(records[-1], out)
    print(summarize(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
