"""Benchmark: PRMBench scoring of all 6,216 records (83,456 steps) with random step scores.

Run: python bench/prm_metrics.py [--data ../shared/data/prmbench/full] [--resamples 1000]
Prints wall times of each stage (goal: everything, with AUROC and 1,000 bootstrap resamples,
under 2 s) and ratios against the plain reference walk (surestep.prm.reference) in the same
process: once for the point figures, once for the bootstrap (the walk repeated per resample,
timed on a few resamples and scaled).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from surestep.prm.data import CORRECT, load_prmbench
from surestep.prm.predictions import load_predictions
from surestep.prm.reference import reference_scores
from surestep.prm.scoring import PRMBenchScoreConfig, build_table, score_predictions

REPO = Path(__file__).resolve().parents[1]


def write_random_predictions(bench, path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with path.open("w") as handle:
        for instance in bench.instances:
            scores = rng.random(len(instance.steps)).round(6).tolist()
            handle.write(json.dumps({"id": instance.id, "step_scores": scores}) + "\n")


def naive_bootstrap_seconds(pairs, resamples: int, seed: int) -> float:
    """The walk over a resample of instances (within each category), repeated; seconds per resample."""
    rng = np.random.default_rng(seed)
    by_category: dict[str, list] = {}
    for pair in pairs:
        if pair[0].category != CORRECT:
            by_category.setdefault(pair[0].category, []).append(pair)
    start = time.perf_counter()
    for _ in range(resamples):
        sample = []
        for members in by_category.values():
            sample += [members[i] for i in rng.integers(0, len(members), len(members))]
        reference_scores(sample)
    return (time.perf_counter() - start) / resamples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "prmbench" / "full"))
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive-resamples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        bench = load_prmbench(args.data)
        t_data = time.perf_counter() - t0
        predictions_path = Path(tmp) / "random.jsonl"
        write_random_predictions(bench, predictions_path, args.seed)
        t0 = time.perf_counter()
        predictions = load_predictions(predictions_path, bench)
        t_predictions = time.perf_counter() - t0

    full_options = PRMBenchScoreConfig(resamples=args.resamples, seed=args.seed)
    t0 = time.perf_counter()
    score = score_predictions(bench, predictions, full_options)
    t_full = time.perf_counter() - t0
    point_options = PRMBenchScoreConfig(resamples=0, baselines=False)
    t0 = time.perf_counter()
    point = score_predictions(bench, predictions, point_options)
    t_point = time.perf_counter() - t0

    pairs_for_walk = []
    table = build_table([(i, predictions.by_id[i.id]) for i in bench.instances], point_options)
    for instance, labels in zip(bench.instances, np.split(table.label, table.starts[1:])):
        pairs_for_walk.append((instance, labels.tolist()))
    t0 = time.perf_counter()
    reference = reference_scores(pairs_for_walk)
    t_reference = time.perf_counter() - t0
    assert abs(reference["overall"]["prmscore"] - point.summary.rows["overall"]["prmscore"]) < 1e-12
    naive_per_resample = naive_bootstrap_seconds(pairs_for_walk, args.naive_resamples, args.seed)

    overall = score.summary.rows["overall"]
    steps = int(table.lengths[table.category < 9].sum())
    print(f"records {bench.records}, instances {len(bench.instances)}, scored steps (9 categories) {steps}")
    print(f"overall PRMScore {overall['prmscore']:.4f} {overall['interval']}, AUROC {overall['auroc']:.4f}")
    print(f"load data                 {t_data:7.3f} s")
    print(f"load predictions          {t_predictions:7.3f} s")
    print(
        f"score: point figures      {t_point:7.3f} s   (reference walk {t_reference:.3f} s, "
        f"ratio {t_reference / t_point:.1f}x)"
    )
    print(f"score: + AUROC, {args.resamples} bootstrap resamples, baselines {t_full:7.3f} s")
    naive_total = naive_per_resample * args.resamples
    print(
        f"  naive bootstrap (walk per resample, {args.naive_resamples} timed): {naive_total:.1f} s for "
        f"{args.resamples} -> ratio {naive_total / t_full:.0f}x"
    )
    total = t_data + t_predictions + t_full
    print(
        f"total (data + predictions + full scoring) {total:.3f} s  goal < 2 s: {'met' if total < 2 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
