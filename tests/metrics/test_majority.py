"""maj@k: hand cases, tie credit, and agreement with the exact expectation over all subsets."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from surestep.metrics import classes_from_answers, maj_at_k


def exact_maj(classes: list[int], correct: list[bool], k: int) -> float:
    """Expected maj@k over all k-subsets, ties credited as a uniformly random pick."""
    ok = {cls for cls, good in zip(classes, correct) if good and cls >= 0}
    total = 0.0
    subsets = list(itertools.combinations(range(len(classes)), k))
    for subset in subsets:
        votes = Counter(classes[i] for i in subset if classes[i] >= 0)
        if not votes:
            continue
        top = max(votes.values())
        tied = [cls for cls, count in votes.items() if count == top]
        total += sum(cls in ok for cls in tied) / len(tied)
    return total / len(subsets)


def test_unanimous_and_empty_cases():
    classes = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [-1, -1, -1, -1]])
    correct = np.array([[True] * 4, [False] * 4, [False] * 4])
    assert maj_at_k(classes, correct, 3).tolist() == [1.0, 0.0, 0.0]


def test_tie_earns_expected_credit_of_random_tie_break():
    classes = np.array([[0, 1]])
    correct = np.array([[True, False]])
    assert maj_at_k(classes, correct, 2).tolist() == [0.5]


def test_no_answer_never_wins_a_vote():
    classes = np.array([[0, -1, -1, -1, -1]])
    correct = np.array([[True, False, False, False, False]])
    assert maj_at_k(classes, correct, 5).tolist() == [1.0]


def test_monte_carlo_average_is_close_to_exact_expectation():
    rng = np.random.default_rng(3)
    classes = rng.integers(-1, 4, size=(6, 10))
    correct = classes == 0
    estimates = maj_at_k(classes, correct, 5, n_subsets=4000, seed=11)
    exact = [exact_maj(list(c), list(ok), 5) for c, ok in zip(classes, correct)]
    assert estimates == pytest.approx(exact, abs=0.03)


def test_seeded_and_chunked_results_are_reproducible():
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 3, size=(50, 16))
    correct = classes == 1
    first = maj_at_k(classes, correct, 8, seed=5)
    assert np.array_equal(first, maj_at_k(classes, correct, 8, seed=5))
    assert np.all((first >= 0) & (first <= 1))


def test_k_equal_n_is_the_plain_majority():
    classes = np.array([[0, 0, 1, 2]])
    assert maj_at_k(classes, np.array([[True, True, False, False]]), 4, n_subsets=3).tolist() == [1.0]
    assert maj_at_k(classes, np.array([[False, False, True, False]]), 4, n_subsets=3).tolist() == [0.0]


def test_classes_from_answers_numbers_by_first_appearance():
    table = classes_from_answers([["7", "8", "7", None], ["x", None, "y", "x"]])
    assert table.tolist() == [[0, 1, 0, -1], [0, -1, 1, 0]]


@pytest.mark.parametrize("k", [0, 5])
def test_k_out_of_range_is_an_error(k):
    with pytest.raises(ValueError, match="between 1 and n"):
        maj_at_k(np.zeros((1, 4), dtype=int), np.ones((1, 4), dtype=bool), k)
