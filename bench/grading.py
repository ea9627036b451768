"""Benchmark: surestep's grader vs a plain math-verify loop on a realistic draw workload.

Workload: 200 problems x 48 draws. Each problem has a gold answer (integers, fractions,
radicals, pi, intervals, tuples, sets, expressions); its draws repeat a few answers, as
sampled models do: equivalent forms of the gold, wrong answers (~30% of draws), and some
unparseable ones. The baseline calls math_verify.parse on the response and verify against
the parsed gold for every draw. Both run in this process; verdicts are compared.

Run: python bench/grading.py [--problems 200] [--draws 48] [--workers 2] [--mix common|pool]
"""

from __future__ import annotations

import argparse
import logging
import random
import time

from surestep.grading import Grader, GradeRequest, GradingConfig

FAMILIES = [
    # (gold, equivalent forms, wrong answers)
    ("{a}", ["{a}", "{a}.0", "x = {a}"], ["{b}", "{a}1", "-{a}"]),
    (
        "\\frac{{{a}}}{{{c}}}",
        ["\\frac{{{a}}}{{{c}}}", "{a}/{c}", "\\dfrac{{{a}}}{{{c}}}"],
        ["\\frac{{{c}}}{{{a}}}", "{a}{c}"],
    ),
    (
        "{a}\\sqrt{{2}}",
        ["{a}\\sqrt{{2}}", "\\sqrt{{2}}\\cdot {a}", "{a}\\sqrt2"],
        ["{a}\\sqrt{{3}}", "{b}\\sqrt{{2}}"],
    ),
    ("{a}\\pi", ["{a}\\pi", "\\pi {a}", "{a} \\pi"], ["{b}\\pi", "{a}"]),
    ("[{a}, {b})", ["[{a},{b})", "[{a}, {b})"], ["[{a},{b}]", "({a},{b})"]),
    ("({a}, {b})", ["({a},{b})", "\\left({a}, {b}\\right)"], ["({b},{a})"]),
    ("\\{{{a}, {b}\\}}", ["\\{{{a},{b}\\}}", "\\{{{b}, {a}\\}}"], ["\\{{{a}\\}}"]),
    ("x^2+{a}x", ["x^2+{a}x", "x({a}+x)", "{a}x+x^2"], ["x^2-{a}x", "x^2+{b}x"]),
]
POOL_FAMILIES = [
    # forms beyond the exact layers, settled by math-verify in the worker pool (--mix pool)
    (
        "(-\\infty,{a})\\cup({b},\\infty)",
        ["(-\\infty,{a})\\cup({b},\\infty)", "({b},\\infty)\\cup(-\\infty,{a})"],
        ["(-\\infty,{a}]\\cup[{b},\\infty)", "({a},{b})"],
    ),
    ("\\log_2 {a}", ["\\log_2 {a}", "\\log_{{2}}({a})"], ["\\log_3 {a}", "\\ln {a}"]),
]
UNPARSEABLE = ["I could not finish.", "\\boxed{\\frac{}", "The answer is unclear"]


def workload(problems: int, draws: int, seed: int = 0, families: list = FAMILIES) -> list[GradeRequest]:
    rng = random.Random(seed)
    requests = []
    for p in range(problems):
        gold_t, right_t, wrong_t = families[p % len(families)]
        a, b, c = rng.randint(2, 40), rng.randint(41, 90), rng.randint(91, 97)
        fill = {"a": a, "b": b, "c": c}
        gold = gold_t.format(**fill)
        right = [t.format(**fill) for t in right_t]
        wrong = [t.format(**fill) for t in wrong_t]
        for _ in range(draws):
            roll = rng.random()
            if roll < 0.05:
                response = rng.choice(UNPARSEABLE)
            elif roll < 0.35:
                response = f"After some work, the answer is $\\boxed{{{rng.choice(wrong)}}}$."
            else:
                response = f"After some work, the answer is $\\boxed{{{rng.choice(right)}}}$."
            requests.append(GradeRequest(response, gold))
    return requests


def plain_loop(requests: list[GradeRequest]) -> list[bool]:
    from math_verify import parse, verify

    out = []
    for request in requests:
        gold = parse(f"${request.gold}$")
        answer = parse(request.response)
        out.append(bool(gold and answer and verify(gold, answer)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", type=int, default=200)
    parser.add_argument("--draws", type=int, default=48)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=float, default=5.0)
    parser.add_argument(
        "--mix",
        choices=["common", "pool"],
        default="common",
        help="common: the answer forms above; pool: add two families (1 problem in 5) that need math-verify",
    )
    args = parser.parse_args()
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    families = FAMILIES + (POOL_FAMILIES if args.mix == "pool" else [])
    requests = workload(args.problems, args.draws, families=families)

    start = time.perf_counter()
    with Grader(GradingConfig(workers=args.workers, budget_seconds=args.budget)) as grader:
        records, stats = grader.grade(requests)
    ours = time.perf_counter() - start  # includes starting the worker pool

    start = time.perf_counter()
    baseline = plain_loop(requests)
    loop = time.perf_counter() - start

    mismatches = [i for i, (r, b) in enumerate(zip(records, baseline)) if r.correct != b]
    slowest = max(r.grade_seconds for r in records)
    print(
        f"draws: {len(requests):,} ({args.problems} problems x {args.draws}); distinct pairs: {stats.unique_pairs:,}"
    )
    print(
        f"surestep grader ({args.workers} workers, pool start-up included): {ours:.2f} s, {len(requests) / ours:,.0f} draws/s"
    )
    print(f"plain math_verify.parse + verify loop: {loop:.2f} s, {len(requests) / loop:,.0f} draws/s")
    print(f"speed-up: {loop / ours:.1f}x")
    print(
        f"pairs settled by the exact layers: {stats.unique_pairs - stats.pool_pairs:,}; by math-verify in the pool: {stats.pool_pairs:,}"
    )
    print(f"verdicts: {dict(stats.verdicts)}; timeouts: {stats.verdicts.get('timeout', 0)}")
    print(f"slowest single item: {slowest:.3f} s (budget {args.budget} s)")
    print(f"verdicts differing from the plain loop: {len(mismatches)}")
    for i in mismatches[:10]:
        print(
            f"  gold={requests[i].gold!r} response={requests[i].response!r} ours={records[i].verdict} loop={baseline[i]}"
        )


if __name__ == "__main__":
    main()
