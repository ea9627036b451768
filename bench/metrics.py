"""Benchmark: every stability metric for 1,000,000 problems vs a per-problem scipy.stats.hypergeom loop.

Run: python bench/metrics.py [--problems 1000000] [--slice 10000]
Prints wall times and the per-problem speed ratio against the loop, measured in the same process.
"""

from __future__ import annotations

import argparse
import math
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the goal is stated
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time

import numpy as np
from scipy.stats import hypergeom

from surestep.metrics import (
    ProblemOutcomes,
    StabilityProtocol,
    g_pass_at_k,
    mg_pass_at_k,
    per_problem_scores,
    summarize,
)

N, K = 48, 16
HEADLINE_TAUS = (0.5, 0.75, 1.0)


def headline_surestep(c: np.ndarray, greedy: np.ndarray) -> dict[str, float]:
    figures = {"greedy": float(greedy.mean())}
    for tau in HEADLINE_TAUS:
        figures[f"G-Pass@{K}_{tau}"] = float(g_pass_at_k(N, c, K, tau).mean())
    figures[f"mG-Pass@{K}"] = float(mg_pass_at_k(N, c, K).mean())
    return figures


def headline_loop(c: np.ndarray, greedy: np.ndarray) -> dict[str, float]:
    """The straightforward way: scipy's hypergeometric survival function, problem by problem."""
    sums = dict.fromkeys([*(f"G-Pass@{K}_{t}" for t in HEADLINE_TAUS), f"mG-Pass@{K}"], 0.0)
    for ci in c.tolist():
        for tau in HEADLINE_TAUS:
            m = max(math.ceil(tau * K), 1)
            sums[f"G-Pass@{K}_{tau}"] += hypergeom.sf(m - 1, N, ci, K)
        mg = sum(hypergeom.sf(m - 1, N, ci, K) for m in range(math.ceil(K / 2) + 1, K + 1))
        sums[f"mG-Pass@{K}"] += 2 * mg / K
    return {"greedy": float(greedy.mean()), **{k: v / len(c) for k, v in sums.items()}}


def timed(func, *args):
    start = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    c = rng.integers(0, N + 1, size=args.problems)
    greedy = rng.random(args.problems) < c / N

    headline_surestep(c[:1000], greedy[:1000])  # warm up imports and caches
    _, t_ours = timed(headline_surestep, c, greedy)
    outcomes = ProblemOutcomes(n=N, correct_counts=c, greedy_correct=greedy)
    protocol = StabilityProtocol()
    everything, t_all = timed(lambda: summarize(per_problem_scores(outcomes, protocol), protocol))

    piece = slice(0, args.slice)
    loop, t_loop = timed(headline_loop, c[piece], greedy[piece])
    check, _ = timed(headline_surestep, c[piece], greedy[piece])
    worst = max(abs(loop[k] - check[k]) for k in loop)

    per_ours = t_ours / args.problems
    per_loop = t_loop / args.slice
    print(f"problems: {args.problems:,} (n={N}, random c); loop slice: {args.slice:,}")
    print(f"surestep headline (greedy, G-Pass@16 @0.5/0.75/1.0, mG-Pass@16): {t_ours:.3f} s")
    print(
        f"surestep every figure ({len(everything)} figures: k=4,8,16 x 5 taus, pass, mG, avg): {t_all:.3f} s"
    )
    print(f"scipy.stats.hypergeom loop, headline, {args.slice:,} problems: {t_loop:.3f} s")
    print(f"per problem: surestep {per_ours * 1e9:.1f} ns, loop {per_loop * 1e6:.1f} us")
    print(f"speed-up per problem (headline): {per_loop / per_ours:,.0f}x")
    print(f"largest difference from the loop on the slice: {worst:.2e}")


if __name__ == "__main__":
    main()
