"""Benchmark: every stability metric for 1,000,000 problems vs a per-problem scipy.stats.hypergeom loop,
and exact maj@k vs the 100-random-subset estimate it replaced.

Run: python bench/metrics.py [--problems 1000000] [--slice 10000] [--maj-problems 500] [--maj-only]
Prints wall times and speed ratios against the baselines, measured in the same process.
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
    maj_at_k,
    mg_pass_at_k,
    per_problem_scores,
    summarize,
)
from surestep.metrics.majority import _class_is_correct, _class_sizes, _signatures

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


def sampled_maj_at_k(classes: np.ndarray, correct: np.ndarray, k: int, n_subsets: int = 100, seed: int = 0):
    """The maj@k estimate surestep used before it became exact (kept here as the baseline).

    Averages the majority credit over ``n_subsets`` random k-subsets per problem, vectorised
    over problems in chunks of at most 2**22 cells.
    """
    problems, n = classes.shape
    class_ok = _class_is_correct(classes, correct)
    rng = np.random.default_rng(seed)
    result = np.empty(problems)
    chunk = max(1, (1 << 22) // (n_subsets * n))
    slots = n + 1  # last slot collects "no answer" votes
    for start in range(0, problems, chunk):
        part = slice(start, min(start + chunk, problems))
        size = part.stop - part.start
        picks = np.argsort(rng.random((size, n_subsets, n)), axis=2)[:, :, :k]
        voted = np.take_along_axis(
            np.broadcast_to(classes[part, None, :], (size, n_subsets, n)), picks, axis=2
        )
        voted = np.where(voted < 0, n, voted)
        rows = np.arange(size * n_subsets).reshape(size, n_subsets, 1)
        votes = np.bincount((rows * slots + voted).ravel(), minlength=size * n_subsets * slots)
        votes = votes.reshape(size, n_subsets, slots)[:, :, :n]
        top = votes.max(axis=2, keepdims=True)
        tied = (votes == top) & (top > 0)
        tied_correct = (tied & class_ok[part, None, :]).sum(axis=2)
        tied_count = tied.sum(axis=2)
        credit = np.divide(tied_correct, tied_count, out=np.zeros(tied_count.shape), where=tied_count > 0)
        result[part] = credit.mean(axis=1)
    return result


def voting_run(rng: np.random.Generator, problems: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic answer classes: per-problem accuracy ~ U(0, 1), wrong answers Zipf-spread, 5% unanswered."""
    accuracy = rng.random((problems, 1))
    wrong = np.minimum(rng.zipf(1.6, size=(problems, n)), n - 1)
    classes = np.where(rng.random((problems, n)) < accuracy, 0, wrong)
    classes = np.where(rng.random((problems, n)) < 0.05, -1, classes)
    return classes, classes == 0


def best_of(repeats: int, func, *args):
    """Result and the fastest of ``repeats`` wall times (the machine may be shared)."""
    times = []
    for _ in range(repeats):
        result, seconds = timed(func, *args)
        times.append(seconds)
    return result, min(times)


def maj_bench(problems: int) -> None:
    """Exact maj@k vs the old 100-subset sampler on the same synthetic runs."""
    rng = np.random.default_rng(1)
    for n, ks in ((48, (1, 2, 4, 8, 16)), (64, (1, 2, 4, 8, 16, 32, 64))):
        classes, correct = voting_run(rng, problems, n)
        patterns = _signatures(_class_sizes(classes), _class_is_correct(classes, correct))[0]
        print(f"maj@k, {problems} problems x n={n} ({len(patterns)} distinct class patterns), best of 3:")
        total_exact = total_sampled = 0.0
        for k in ks:
            exact, t_exact = best_of(3, maj_at_k, classes, correct, k)
            sampled, t_sampled = best_of(3, sampled_maj_at_k, classes, correct, k)
            total_exact += t_exact
            total_sampled += t_sampled
            print(
                f"  k={k:<2}  exact {t_exact * 1e3:7.1f} ms   sampled(100) {t_sampled * 1e3:7.1f} ms"
                f"   ratio {t_sampled / t_exact:5.2f}x   mean exact {exact.mean():.5f}"
                f"  sampled {sampled.mean():.5f}"
            )
        print(
            f"  all k: exact {total_exact * 1e3:.1f} ms, sampled {total_sampled * 1e3:.1f} ms,"
            f" exact is {total_sampled / total_exact:.2f}x the sampler's speed"
        )
        avg = correct.mean()
        print(f"  maj@1 - avg@{n} = {maj_at_k(classes, correct, 1).mean() - avg:.1e}")


def timed(func, *args):
    start = time.perf_counter()
    result = func(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=10_000)
    parser.add_argument("--maj-problems", type=int, default=500)
    parser.add_argument("--maj-only", action="store_true", help="Run only the maj@k comparison.")
    args = parser.parse_args()
    if args.maj_only:
        maj_bench(args.maj_problems)
        return
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
    maj_bench(args.maj_problems)


if __name__ == "__main__":
    main()
