"""Benchmark: best-of-N figures for 500 problems x 64 draws (N = 1, 2, 4, ..., 64).

Run: python bench/bon.py [--problems 500] [--draws 64] [--samples 256] [--resamples 1000]
Times surestep.metrics.best_of_n on synthetic scored draws (a noisy verifier, answer classes with
no-answers): exact best-of-N, the PRM-weighted vote (exact enumeration where C(n, N) <= samples,
else Monte Carlo), exact maj@N, pass@N and avg, then the bootstrap intervals of every figure
(goal: everything under 2 s). In the same process it times a plain per-problem Python walk
(exact best-of-N by listing each subset's top level with math.comb, and the weighted vote over the
same number of random subsets), on a few problems scaled to all, checks that both give the same
best-of-N, and prints the ratio.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import defaultdict

import numpy as np

from surestep.metrics.best_of_n import METHODS, best_of_n_scores, subset_sizes
from surestep.metrics.bootstrap import bootstrap_intervals


def synthetic(problems: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    skill = rng.beta(1.0, 1.0, size=problems)
    correct = rng.random((problems, n)) < skill[:, None]
    wrong = rng.integers(1, 6, size=(problems, n))
    classes = np.where(correct, 0, wrong)
    classes[(~correct) & (rng.random((problems, n)) < 0.1)] = -1  # no answer
    scores = 1 / (1 + np.exp(-(1.5 * correct + rng.normal(0, 1.0, (problems, n)))))
    scores = np.round(scores, 3)  # ties happen, as with real PRM outputs read at low precision
    return scores, classes, correct


def naive_best(scores: list[float], correct: list[bool], size: int) -> float:
    """Exact best-of-N of one problem: for each score level, C(b + t, N) - C(b, N) subsets top out there."""
    n = len(scores)
    total = 0.0
    for level in sorted(set(scores)):
        below = sum(s < level for s in scores)
        tied = [c for s, c in zip(scores, correct) if s == level]
        share = (math.comb(below + len(tied), size) - math.comb(below, size)) / math.comb(n, size)
        total += share * sum(tied) / len(tied)
    return total


def naive_vote(scores, classes, correct, size: int, samples: int, rng: random.Random) -> float:
    ok = {c for c, good in zip(classes, correct) if good and c >= 0}
    credit = 0.0
    for _ in range(samples):
        weight: dict[int, float] = defaultdict(float)
        for i in rng.sample(range(len(scores)), size):
            if classes[i] >= 0:
                weight[classes[i]] += scores[i]
        if weight:
            top = max(weight.values())
            tied = [c for c, w in weight.items() if w == top]
            credit += sum(c in ok for c in tied) / len(tied)
    return credit / samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--draws", type=int, default=64)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive-problems", type=int, default=10)
    args = parser.parse_args()
    scores, classes, correct = synthetic(args.problems, args.draws, seed=0)
    sizes = subset_sizes(args.draws)

    started = time.perf_counter()
    figures = best_of_n_scores(scores, classes, correct, samples=args.samples)
    metrics_seconds = time.perf_counter() - started
    columns = {f"{m}@{s}": figures.per_problem[m][:, j] for m in METHODS for j, s in enumerate(sizes)}
    intervals = bootstrap_intervals(columns, n_resamples=args.resamples)
    total = time.perf_counter() - started

    few = args.naive_problems
    rng = random.Random(0)
    started = time.perf_counter()
    naive = [[naive_best(scores[p].tolist(), correct[p].tolist(), s) for s in sizes] for p in range(few)]
    for p in range(few):
        for s in sizes:
            naive_vote(scores[p].tolist(), classes[p].tolist(), correct[p].tolist(), s, args.samples, rng)
    naive_seconds = (time.perf_counter() - started) * args.problems / few
    gap = float(np.abs(np.array(naive) - figures.per_problem["best_of_n"][:few]).max())

    means = figures.means()
    print(f"{args.problems} problems x {args.draws} draws, N = {', '.join(map(str, sizes))}")
    for method in METHODS:
        print(f"  {method:14s}" + "".join(f"{100 * means[method][s]:7.1f}" for s in sizes))
    errors = ", ".join(
        f"N={s}: {'exact' if e else f'±{100 * m:.2f}'}"
        for s, e, m in zip(sizes, figures.vote.exact, figures.vote.mc_error)
    )
    print(
        f"  weighted vote: {errors} (points, Monte Carlo standard error over {args.samples} subsets/problem)"
    )
    print(f"  {len(intervals)} bootstrap intervals x {args.resamples} resamples")
    print(f"figures {metrics_seconds:.2f} s, with intervals {total:.2f} s (goal < 2 s)")
    print(
        f"naive Python walk: {naive_seconds:.1f} s (from {few} problems, scaled), ratio {naive_seconds / total:.0f}x; "
        f"largest best-of-N difference {gap:.1e}"
    )


if __name__ == "__main__":
    main()
