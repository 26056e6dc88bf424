"""Which rule for building the final ensemble scores best on held-out data?

For each data set and split seed, runs nbautoml (default options) under the benchmark's
protocol, keeps the candidates its ensemble selection saw (out-of-fold predictions of
the best trials), refits every candidate on the training rows and predicts the test
rows. Every rule below then picks weights from the *same* candidates, so the comparison
is paired: the search's timing noise is the same for all rules.

Rules:

- ``single``: the chosen trial alone (no ensemble);
- ``auto``: nbautoml's default (``ensemble="auto"``): greedy selection over the top trials
  and the best kept trial of each model family, kept when it gains more than 0.001 pooled
  and wins most folds;
- ``always``: greedy selection, always kept;
- ``step-folds``: greedy selection where each added member must improve the averaged
  predictions on most folds (not only pooled), kept when the pooled gain passes ``auto``'s
  threshold (every member already won most folds);
- ``bagged``: greedy selection on 20 random halves of the candidates, weights summed
  (Caruana et al., 2004, section 2.3);
- ``top``: ``auto``'s rule on the top trials and the chosen one only, without the best kept
  trial of each model family that the engine adds to the candidates (its rule before cec227c;
  ``results/ensemble-rules-diverse-30.txt`` is the run that compared the two, where the
  engine's pool was still the top trials and the per-family one was the ``diverse`` rule);
- ``ll-metric`` and ``ll-logloss`` (for label metrics such as accuracy; ``auto`` otherwise):
  greedy selection on the log loss of the averaged probabilities, kept by ``auto``'s rule on
  the metric or when the log loss is lower pooled (by 0.1 %) and on most folds (since 9ab541e
  the engine's ``auto`` steps on the log loss for a multiclass task, so there ``ll-metric`` is
  ``auto``);
- ``sign``, ``ll-sign``, ``ll-ll-sign``: ``auto``, ``ll-metric`` and ``ll-logloss`` kept for a
  label metric only when the out-of-fold rows the ensemble gets right and the chosen trial
  wrong outnumber the reverse by more than the square root of both (a sign test, z > 1).

It prints the held-out score per data set and rule and, per rule, the sum of its
differences to ``auto``. Example::

    .venv/bin/python benchmarks/ensemble_rules.py --only house,glass --seeds 0,1 --budget 30
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run_benchmark as bench  # noqa: E402


def capture(entry: dict, datasets_dir: Path, seed: int, budget: float, metric: str | None = None) -> dict | None:
    """Run nbautoml on one split; return its ensemble candidates with their test predictions."""
    import nbautoml
    from nbautoml.engine import ensemble as ensemble_mod
    from nbautoml.engine.automl import AutoML
    from nbautoml.engine.ensemble import candidate_pool

    task, target = entry["task"], entry["target"]
    seen, kept = {}, {}
    real, real_choose = ensemble_mod.select_ensemble, AutoML._choose_ensemble

    def spy(candidates, best_id, y, metric, task_, n_classes, **kwargs):
        seen.update(candidates=dict(candidates), best_id=best_id, y=y, metric=metric,
                    n_classes=n_classes, folds=kwargs.get("folds"))
        return real(candidates, best_id, y, metric, task_, n_classes, **kwargs)

    def choose_spy(self, state, best, metric, y_codes, search, *args, **kwargs):
        # every out-of-fold prediction the search kept (the top trials and each default point)
        kept.update(oof={tid: o[1] for tid, o in state.oof.items()}, ranked=search.ranked_oof(),
                    keep=search.keep_oof, families={t.trial_id: t.family for t in state.trials})
        return real_choose(self, state, best, metric, y_codes, search, *args, **kwargs)

    bench.SEED = seed
    train, test, _ = bench.load_split(str(datasets_dir / entry["file"]), target, task)
    ensemble_mod.select_ensemble, AutoML._choose_ensemble = spy, choose_spy
    try:
        with tempfile.TemporaryDirectory() as tmp:
            automl = nbautoml.AutoML(time_budget=budget, seed=0, metric=metric or bench.METRIC_OF_TASK[task],
                                     search_dir=tmp)
            automl.fit(train, target=target)
    finally:
        ensemble_mod.select_ensemble, AutoML._choose_ensemble = real, real_choose
    if not seen:
        return None
    # the engine's pool without the best trial of each family: the top trials and the chosen one
    top = candidate_pool(kept["ranked"], kept["families"], seen["best_id"], kept["keep"], per_family=False)
    seen["top"] = {tid: kept["oof"][tid] for tid in top}
    X_test = automl._input_frame(test.drop(columns=target))
    configs = {t.trial_id: t.config for t in automl.trials_}
    test_pred = {}
    for tid in set(seen["candidates"]) | set(seen["top"]):
        pipeline = automl._refit(configs[tid])
        test_pred[tid] = pipeline.predict(X_test) if task == "regression" else pipeline.predict_proba(X_test)
    return dict(seen, task=task, test_pred=test_pred, y_test=test[target].to_numpy(),
                classes=None if automl.classes_ is None else list(automl.classes_))


def test_score(c: dict, weights: dict) -> float:
    """The protocol's held-out score of the weighted average of the candidates' test predictions."""
    p = sum(w * c["test_pred"][t] for t, w in weights.items()) / sum(weights.values())
    task, y_test = c["task"], c["y_test"]
    if task == "regression":
        return bench.held_out_score(task, y_test, p)
    names = [str(x) for x in c["classes"]]
    if task == "binary" and c["metric"].name != "accuracy":
        positive = str(np.unique(y_test)[1])
        return bench.held_out_score(task, y_test, p[:, names.index(positive)])
    return bench.held_out_score("multiclass", y_test, np.asarray(c["classes"])[p.argmax(axis=1)])  # accuracy


def _auto_check(c: dict, choice) -> dict:
    """The engine's ``ensemble="auto"`` rule: the choice's weights, or the chosen trial alone."""
    if choice is None or not choice.worth_keeping(c["metric"].greater_is_better):
        return {c["best_id"]: 1}
    return choice.weights


def _select(c: dict, candidates=None):
    from nbautoml.engine.ensemble import select_ensemble

    return select_ensemble(candidates or c["candidates"], c["best_id"], c["y"], c["metric"], c["task"],
                           c["n_classes"], folds=c["folds"])


def _complete_rows(predictions) -> np.ndarray:
    """Rows that every one of ``predictions`` (out-of-fold arrays) has a value for."""
    rows = None
    for o in predictions:
        present = ~np.isnan(o if o.ndim == 1 else o[:, 0])
        rows = present if rows is None else rows & present
    return rows


def _step_folds(c: dict, rounds: int = 25) -> dict:
    """Greedy selection where an addition must improve most folds, then auto's pooled-gain threshold."""
    from nbautoml.engine.ensemble import EnsembleChoice, _averageable, _score

    y, metric, task, k = c["y"], c["metric"], c["task"], c["n_classes"]
    cand = {t: o for t, o in c["candidates"].items() if _averageable(o, task, k)}
    rows = _complete_rows(cand.values())
    folds = [test[rows[test]] for _, test in c["folds"]]
    sign = 1 if metric.greater_is_better else -1
    total, weights = cand[c["best_id"]].copy(), {c["best_id"]: 1}
    single = current = _score(metric, y[rows], total[rows], task, k)
    for step in range(2, rounds + 2):
        best_gain, best_tid = 0.0, None
        for tid, pred in cand.items():
            new = total + pred
            gain = sign * (_score(metric, y[rows], new[rows] / step, task, k) - current)
            if gain <= best_gain + 1e-12:
                continue
            if len(folds) > 1:
                wins = sum(sign * (_score(metric, y[f], new[f] / step, task, k)
                                   - _score(metric, y[f], total[f] / (step - 1), task, k)) > 1e-12 for f in folds)
                if 2 * wins <= len(folds):
                    continue
            best_gain, best_tid = gain, tid
        if best_tid is None:
            break
        total += cand[best_tid]
        weights[best_tid] = weights.get(best_tid, 0) + 1
        current = _score(metric, y[rows], total[rows] / sum(weights.values()), task, k)
    choice = EnsembleChoice(weights=weights, score=current, single_score=single)
    return _auto_check(c, choice)


def _bagged(c: dict, bags: int = 20, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    total: dict = {}
    for _ in range(bags):
        subset = {t: o for t, o in c["candidates"].items() if t == c["best_id"] or rng.random() < 0.5}
        choice = _select(c, subset)
        weights = {c["best_id"]: 1} if choice is None else choice.weights
        for tid, w in weights.items():
            total[tid] = total.get(tid, 0.0) + w / sum(weights.values())
    return total


def _by_log_loss(c: dict, keep_by: str) -> dict:
    """Greedy selection on the log loss of the averaged probabilities (a label metric such as
    accuracy moves by whole rows, so on small data its greedy steps follow a few rows); kept by
    ``auto``'s rule on the metric (``keep_by="metric"``) or when the log loss is lower pooled
    and on most folds (``"log_loss"``). Regression and probability metrics: ``auto``."""
    from nbautoml.engine.ensemble import class_log_loss, select_ensemble

    y, metric, task, k = c["y"], c["metric"], c["task"], c["n_classes"]
    if task == "regression" or metric.needs != "label":
        return RULES["auto"](c)
    choice = select_ensemble(c["candidates"], c["best_id"], y, metric, task, k, folds=c["folds"],
                             loss=lambda y_, p: class_log_loss(y_.astype(int), p))
    if choice is None or choice.size < 2:
        return {c["best_id"]: 1}
    if keep_by == "metric":
        return _auto_check(c, choice)
    cand = {t: c["candidates"][t] for t in choice.weights}
    rows = _complete_rows(c["candidates"].values())
    average = sum(w * cand[t] for t, w in choice.weights.items()) / sum(choice.weights.values())
    single = c["candidates"][c["best_id"]]

    def loss(f):
        return class_log_loss(y[f].astype(int), average[f]), class_log_loss(y[f].astype(int), single[f])

    folds = [f for f in (test[rows[test]] for _, test in c["folds"]) if len(f)]
    wins = sum(ens < one - 1e-12 for ens, one in map(loss, folds))
    pooled, pooled_single = loss(np.flatnonzero(rows))
    return choice.weights if pooled < pooled_single * 0.999 and 2 * wins > len(folds) else {c["best_id"]: 1}


def _rows_won(c: dict, weights: dict) -> tuple[int, int]:
    """Out-of-fold rows the weighted average gets right and the chosen trial wrong, and the reverse."""
    cand = c["candidates"]
    rows = _complete_rows(cand[t] for t in weights)
    average = sum(w * cand[t][rows] for t, w in weights.items()) / sum(weights.values())
    y = c["y"][rows]
    ens_right, single_right = average.argmax(axis=1) == y, cand[c["best_id"]][rows].argmax(axis=1) == y
    return int(np.sum(ens_right & ~single_right)), int(np.sum(single_right & ~ens_right))


def _significant(c: dict, weights: dict) -> dict:
    """For a label metric, ``weights`` only when the rows it wins outnumber those it loses by
    more than one standard deviation of their difference (a sign test, z > 1); else the chosen
    trial alone."""
    if c["task"] == "regression" or c["metric"].needs != "label" or len(weights) < 2:
        return weights
    won, lost = _rows_won(c, weights)
    return weights if won - lost > np.sqrt(won + lost) else {c["best_id"]: 1}


def _top(c: dict) -> dict:
    """auto's rule on the top trials and the chosen one only (no best trial per family)."""
    return _auto_check(c, _select(c, c["top"]))


RULES = {
    "single": lambda c: {c["best_id"]: 1},
    "auto": lambda c: _auto_check(c, _select(c)),
    "always": lambda c: (lambda ch: {c["best_id"]: 1} if ch is None else ch.weights)(_select(c)),
    "step-folds": _step_folds,
    "bagged": _bagged,
    "top": _top,
    "ll-metric": lambda c: _by_log_loss(c, "metric"),
    "ll-logloss": lambda c: _by_log_loss(c, "log_loss"),
    "sign": lambda c: _significant(c, RULES["auto"](c)),
    "ll-sign": lambda c: _significant(c, _by_log_loss(c, "metric")),
    "ll-ll-sign": lambda c: _significant(c, _by_log_loss(c, "log_loss")),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets-dir", type=Path, default=bench.DEFAULT_DATASETS)
    parser.add_argument("--only", default="", help="comma-separated data set names (default: all)")
    parser.add_argument("--seeds", default="0", help="split seeds, comma-separated")
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--metric", help="the search's metric (default: the protocol's for the task); "
                                         "with accuracy the held-out score is accuracy too")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    entries = bench.read_index(args.datasets_dir)
    if args.only:
        wanted = {n.strip() for n in args.only.split(",")}
        entries = [e for e in entries if e["dataset"] in wanted]
    totals = dict.fromkeys(RULES, 0.0)
    print(f"{'data set':12s}{'seed':>5s}" + "".join(f"{r:>12s}" for r in RULES), flush=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for entry in entries:
            c = capture(entry, args.datasets_dir, seed, args.budget, args.metric)
            if c is None:
                print(f"{entry['dataset']:12s}{seed:5d}  (no ensemble selection: fewer than two candidates)")
                continue
            scores = {name: test_score(c, rule(c)) for name, rule in RULES.items()}
            for name in RULES:
                totals[name] += scores[name] - scores["auto"]
            print(f"{entry['dataset']:12s}{seed:5d}" + "".join(f"{scores[r]:12.4f}" for r in RULES), flush=True)
    print(f"{'sum - auto':17s}" + "".join(f"{totals[r]:12.4f}" for r in RULES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
