"""Best-of-N and the PRM-weighted vote: brute force over every N-subset, the identities, hand cases."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from fractions import Fraction

import numpy as np
import pytest

from surestep.metrics import maj_at_k, pass_at_k
from surestep.metrics.best_of_n import (
    aggregate,
    best_of_n,
    best_of_n_scores,
    subset_sizes,
    weighted_vote,
)


def brute_best(scores: list[float], correct: list[bool], size: int) -> float:
    """Expected best-of-N by listing every N-subset; a top tie earns its correct share."""
    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(scores)), size))
    for subset in subsets:
        ranked = [-math.inf if math.isnan(scores[i]) else scores[i] for i in subset]
        top = max(ranked)
        tied = [i for i, s in zip(subset, ranked) if s == top]
        total += Fraction(sum(correct[i] for i in tied), len(tied))
    return float(total / len(subsets))


def brute_vote(scores: list[float], classes: list[int], correct: list[bool], size: int) -> float:
    """Expected weighted vote by listing every N-subset (scores as exact rationals)."""
    ok = {c for c, good in zip(classes, correct) if good and c >= 0}
    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(scores)), size))
    for subset in subsets:
        weight: dict[int, Fraction] = defaultdict(Fraction)
        for i in subset:
            if classes[i] >= 0 and not math.isnan(scores[i]):
                weight[classes[i]] += Fraction(scores[i])
        if weight:
            top = max(weight.values())
            tied = [c for c, w in weight.items() if w == top]
            total += Fraction(sum(c in ok for c in tied), len(tied))
    return float(total / len(subsets))


def random_problems(rng: np.random.Generator, problems: int, n: int, levels: int = 4):
    """Scores on a coarse grid (so ties happen), answer classes with no-answers, grades per class."""
    scores = rng.integers(0, levels, size=(problems, n)) / levels
    classes = rng.integers(-1, 3, size=(problems, n))
    right = rng.random((problems, 3)) < 0.4
    correct = (classes >= 0) & right[np.arange(problems)[:, None], np.maximum(classes, 0)]
    return scores, classes, correct


def test_best_of_n_matches_brute_force_with_ties_and_unscored_draws():
    rng = np.random.default_rng(3)
    scores, _, correct = random_problems(rng, 40, 7)
    scores[rng.random(scores.shape) < 0.1] = np.nan
    sizes = (1, 2, 3, 4, 7)
    got = best_of_n(scores, correct, sizes)
    for p in range(len(scores)):
        want = [brute_best(scores[p].tolist(), correct[p].tolist(), size) for size in sizes]
        assert got[p] == pytest.approx(want, abs=1e-12)


def test_weighted_vote_matches_brute_force_where_it_is_exact():
    rng = np.random.default_rng(5)
    scores, classes, correct = random_problems(rng, 30, 6)
    scores[rng.random(scores.shape) < 0.1] = np.nan
    sizes = (1, 2, 3, 6)
    result = weighted_vote(scores, classes, correct, sizes, samples=10_000)
    assert result.exact == (True, True, True, True) and result.mc_error == (0.0,) * 4
    for p in range(len(scores)):
        want = [brute_vote(scores[p].tolist(), classes[p].tolist(), correct[p].tolist(), s) for s in sizes]
        assert result.values[p] == pytest.approx(want, abs=1e-12)


def test_weighted_vote_monte_carlo_is_within_its_stated_error():
    rng = np.random.default_rng(11)
    scores, classes, correct = random_problems(rng, 60, 12, levels=5)
    exact = weighted_vote(scores, classes, correct, (4, 6), samples=1_000)  # C(12, 4) = 495, C(12, 6) = 924
    sampled = weighted_vote(scores, classes, correct, (4, 6), samples=200, seed=1)
    assert exact.exact == (True, True) and sampled.exact == (False, False)
    for j in range(2):
        error = sampled.mc_error[j]
        assert 0 < error < 0.02
        assert abs(sampled.values[:, j].mean() - exact.values[:, j].mean()) < 4 * error


def test_oracle_best_of_n_is_pass_at_n_and_a_constant_score_is_the_average():
    rng = np.random.default_rng(7)
    _, classes, correct = random_problems(rng, 200, 16)
    sizes = subset_sizes(16)
    oracle = best_of_n(correct.astype(float), correct, sizes)
    counts = correct.sum(axis=1)
    for j, size in enumerate(sizes):
        assert oracle[:, j] == pytest.approx(pass_at_k(16, counts, size), abs=1e-12)
    constant = best_of_n(np.full(correct.shape, 0.3), correct, sizes)
    assert constant == pytest.approx(np.repeat((counts / 16)[:, None], len(sizes), axis=1), abs=1e-12)
    # a constant weight makes the weighted vote the plain majority vote
    vote = weighted_vote(np.ones(correct.shape), classes, correct, (1, 2, 3, 15, 16), samples=1_000)
    for j, size in enumerate((1, 2, 3, 15, 16)):
        assert vote.values[:, j] == pytest.approx(maj_at_k(classes, correct, size), abs=1e-12)


def test_best_of_one_is_the_average_for_any_scores():
    rng = np.random.default_rng(9)
    scores = rng.random((100, 10))
    scores[:, 3] = scores[:, 4]  # some ties
    _, classes, correct = random_problems(rng, 100, 10)
    figures = best_of_n_scores(scores, classes, correct)
    assert figures.sizes == (1, 2, 4, 8, 10)
    average = correct.mean(axis=1)
    for method in ("best_of_n", "weighted_vote", "random"):
        assert figures.per_problem[method][:, 0] == pytest.approx(average, abs=1e-12), method
    assert figures.per_problem["majority"][:, 0] == pytest.approx(average, abs=1e-12)
    assert figures.per_problem["pass"][:, -1] == pytest.approx(correct.any(axis=1).astype(float), abs=1e-12)


def test_hand_computed_cases():
    # draws: scores 0.9 (wrong), 0.5 (right), 0.5 (wrong), 0.1 (right)
    scores = [[0.9, 0.5, 0.5, 0.1]]
    correct = [[False, True, False, True]]
    got = best_of_n(scores, correct, (1, 2, 3, 4))[0]
    # N=2: 6 pairs; with 0.9 (3 pairs) -> 0; {0.5r,0.5w} -> 1/2; {0.5r,0.1r} -> 1; {0.5w,0.1r} -> 0
    assert got == pytest.approx([2 / 4, (0.5 + 1) / 6, (0 * 3 + 0.5) / 4, 0.0])
    # weighted vote: classes A (draws 0, 2: wrong), B (draws 1, 3: right)
    vote = weighted_vote(scores, [[0, 1, 0, 1]], correct, (2, 4)).values[0]
    # pairs: {0,1} A .9 > B .5 -> 0; {0,2} A -> 0; {0,3} A -> 0; {1,2} tie .5/.5 -> 1/2; {1,3} B -> 1;
    # {2,3} A .5 > B .1 -> 0. All four: A 1.4 > B 0.6 -> 0
    assert vote == pytest.approx([1.5 / 6, 0.0])
    # class A: 0.4 + 0.4 beats class B: 0.7, though B holds the single best draw
    assert weighted_vote([[0.4, 0.4, 0.7]], [[0, 0, 1]], [[True, True, False]], (3,)).values[0, 0] == 1.0


def test_aggregates_and_sizes():
    assert aggregate([0.9, 0.2, 0.5], "min") == 0.2
    assert aggregate([0.9, 0.2, 0.5], "last") == 0.5
    assert aggregate([0.5, 0.5], "prod") == 0.25
    assert aggregate([0.25, 0.75], "mean") == 0.5
    assert math.isnan(aggregate([], "min"))
    with pytest.raises(ValueError, match="unknown aggregate"):
        aggregate([1.0], "max")
    assert subset_sizes(1) == (1,) and subset_sizes(8) == (1, 2, 4, 8) and subset_sizes(48)[-2:] == (32, 48)
    with pytest.raises(ValueError, match="between 1 and n"):
        best_of_n([[0.1, 0.2]], [[True, False]], (3,))
