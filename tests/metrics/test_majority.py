"""maj@k: exact agreement with brute force over all k-subsets, identities, hand cases."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from surestep.metrics import classes_from_answers, maj_at_k


def subset_credit(votes: Counter[int], ok: set[int]) -> Fraction:
    """Credit of one subset's votes: correct share of the classes tied for the most votes."""
    if not votes:
        return Fraction(0)
    top = max(votes.values())
    tied = [cls for cls, count in votes.items() if count == top]
    return Fraction(sum(cls in ok for cls in tied), len(tied))


def brute_force_maj(classes: list[int], correct: list[bool], k: int) -> float:
    """Expected maj@k by listing every k-subset of the draws."""
    ok = {cls for cls, good in zip(classes, correct) if good and cls >= 0}
    subsets = list(itertools.combinations(range(len(classes)), k))
    total = sum(
        (subset_credit(Counter(classes[i] for i in subset if classes[i] >= 0), ok) for subset in subsets),
        Fraction(0),
    )
    return float(total / len(subsets))


def vote_split_maj(sizes: list[int], ok: list[bool], no_answer: int, k: int) -> float:
    """Expected maj@k by listing every split of k votes over the classes, in exact rationals."""
    n = sum(sizes) + no_answer
    total = Fraction(0)
    for split in itertools.product(*(range(min(m, k) + 1) for m in sizes)):
        rest = k - sum(split)
        if not 0 <= rest <= no_answer:
            continue
        ways = math.comb(no_answer, rest) * math.prod(math.comb(m, x) for m, x in zip(sizes, split))
        votes = Counter({cls: x for cls, x in enumerate(split) if x > 0})
        total += ways * subset_credit(votes, {cls for cls, good in enumerate(ok) if good})
    return float(total / math.comb(n, k))


def class_table(sizes: list[int], no_answer: int, rng: np.random.Generator) -> np.ndarray:
    """One problem's draws, shuffled: ``sizes[j]`` draws of class j and ``no_answer`` of -1."""
    draws = np.repeat(np.arange(len(sizes)), sizes)
    return rng.permutation(np.concatenate([draws, np.full(no_answer, -1)]))


def graded_by_class(classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grades that agree within each class (each class right with chance 1/3); no answer is wrong."""
    right = rng.random(classes.shape[1]) < 1 / 3
    return (classes >= 0) & right[np.maximum(classes, 0)]


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_brute_force_on_random_small_problems(seed):
    rng = np.random.default_rng(seed)
    for _ in range(6):
        n = int(rng.integers(1, 11))
        distinct = int(rng.integers(1, n + 1))
        classes = rng.integers(-1, distinct, size=(4, n))
        correct = rng.random((4, n)) < 0.4  # a class with one right draw is a right class
        for k in range(1, n + 1):
            got = maj_at_k(classes, correct, k)
            want = [brute_force_maj(list(c), list(g), k) for c, g in zip(classes.tolist(), correct.tolist())]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("sizes", "ok", "no_answer", "k"),
    [
        ([20, 14, 10], [True, False, False], 4, 16),
        ([16, 16, 16], [False, True, False], 0, 16),
        ([9, 9, 8], [True, True, False], 22, 16),
        ([30, 18, 12], [False, True, False], 4, 32),
        ([22, 21, 21], [True, False, True], 0, 32),
        ([40, 5, 3], [True, False, False], 0, 47),
    ],
)
def test_agrees_with_exact_rationals_at_full_size(sizes, ok, no_answer, k):
    rng = np.random.default_rng(k)
    row = class_table(sizes, no_answer, rng)
    correct = (row >= 0) & np.asarray(ok)[np.maximum(row, 0)]
    got = maj_at_k(row[None, :], correct[None, :], k)[0]
    assert got == pytest.approx(vote_split_maj(sizes, ok, no_answer, k), abs=1e-12)


def test_large_n_two_classes_stays_exact():
    sizes, ok, no_answer, k = [150, 140], [False, True], 110, 200
    row = class_table(sizes, no_answer, np.random.default_rng(1))
    correct = row == 1
    got = maj_at_k(row[None, :], correct[None, :], k)[0]
    assert got == pytest.approx(vote_split_maj(sizes, ok, no_answer, k), abs=1e-12)


def test_maj_at_1_is_avg_at_n_on_a_200_problem_run():
    rng = np.random.default_rng(2024)
    classes = rng.integers(-1, 4, size=(200, 8))
    correct = graded_by_class(classes, rng)
    maj = maj_at_k(classes, correct, 1)
    avg = correct.mean(axis=1)
    np.testing.assert_allclose(maj, avg, rtol=0, atol=1e-12)
    assert abs(maj.mean() - avg.mean()) < 1e-12


@pytest.mark.parametrize("n", [3, 16, 48, 64])
def test_maj_at_1_is_avg_at_n_for_any_n(n):
    rng = np.random.default_rng(n)
    classes = rng.integers(-1, max(2, n // 4), size=(50, n))
    correct = graded_by_class(classes, rng)
    np.testing.assert_allclose(maj_at_k(classes, correct, 1), correct.mean(axis=1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [5, 12, 48])
def test_maj_at_n_is_the_majority_of_all_draws(n):
    rng = np.random.default_rng(n + 1)
    classes = rng.integers(-1, 3, size=(80, n))
    correct = graded_by_class(classes, rng)
    want = []
    for row, grades in zip(classes.tolist(), correct.tolist()):
        ok = {cls for cls, good in zip(row, grades) if good}
        want.append(float(subset_credit(Counter(c for c in row if c >= 0), ok)))
    np.testing.assert_allclose(maj_at_k(classes, correct, n), want, rtol=0, atol=1e-12)


def test_hand_computed_ties_are_split():
    # Draws 0 0 1 2, class 0 right. k=2: {00} 1, four {0x} pairs 1/2 each, {12} 0 -> 3/6.
    # k=3: {001}, {002} score 1; {012} twice, a three-way tie worth 1/3 -> (2 + 2/3)/4.
    classes = np.array([[0, 0, 1, 2]])
    correct = np.array([[True, True, False, False]])
    assert maj_at_k(classes, correct, 2)[0] == pytest.approx(1 / 2, abs=1e-15)
    assert maj_at_k(classes, correct, 3)[0] == pytest.approx(2 / 3, abs=1e-15)
    # Classes 1 and 2 right: {001}, {002} lose to class 0; each {012} tie is worth 2/3 -> (4/3)/4.
    correct = np.array([[False, False, True, True]])
    assert maj_at_k(classes, correct, 3)[0] == pytest.approx(1 / 3, abs=1e-15)


def test_hand_computed_no_answer_draws_only_take_seats():
    # Draws 0 1 -, class 0 right, k=2: {01} tie 1/2, {0-} 1, {1-} 0 -> 1/2.
    classes = np.array([[0, 1, -1]])
    correct = np.array([[True, False, False]])
    assert maj_at_k(classes, correct, 2)[0] == pytest.approx(1 / 2, abs=1e-15)
    # k=1: only the draw of class 0 scores -> 1/3.
    assert maj_at_k(classes, correct, 1)[0] == pytest.approx(1 / 3, abs=1e-15)


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


def test_k_equal_n_is_the_plain_majority():
    classes = np.array([[0, 0, 1, 2]])
    assert maj_at_k(classes, np.array([[True, True, False, False]]), 4).tolist() == [1.0]
    assert maj_at_k(classes, np.array([[False, False, True, False]]), 4).tolist() == [0.0]


def test_scores_do_not_depend_on_draw_order_labels_or_other_problems():
    rng = np.random.default_rng(7)
    classes = rng.integers(-1, 5, size=(40, 24))
    correct = rng.random((40, 24)) < 0.3
    together = maj_at_k(classes, correct, 8)
    alone = np.array([maj_at_k(classes[i : i + 1], correct[i : i + 1], 8)[0] for i in range(40)])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-15)
    order = rng.permutation(24)
    relabel = np.append(rng.permutation(24), -1)  # class c -> relabel[c]; -1 stays -1
    shuffled = maj_at_k(relabel[classes[:, order]], correct[:, order], 8)
    np.testing.assert_allclose(shuffled, together, rtol=0, atol=1e-15)
    assert np.all((together >= 0) & (together <= 1))


def test_chunked_problems_give_the_same_scores(monkeypatch):
    rng = np.random.default_rng(11)
    classes = rng.integers(-1, 4, size=(30, 9))
    correct = rng.random((30, 9)) < 0.4
    whole = maj_at_k(classes, correct, 5)
    monkeypatch.setattr("surestep.metrics.majority._CHUNK_CELLS", 1)  # one problem per chunk
    np.testing.assert_allclose(maj_at_k(classes, correct, 5), whole, rtol=0, atol=1e-15)
    want = [brute_force_maj(list(c), list(g), 5) for c, g in zip(classes.tolist(), correct.tolist())]
    np.testing.assert_allclose(whole, want, rtol=0, atol=1e-12)


def test_classes_from_answers_numbers_by_first_appearance():
    table = classes_from_answers([["7", "8", "7", None], ["x", None, "y", "x"]])
    assert table.tolist() == [[0, 1, 0, -1], [0, -1, 1, 0]]


@pytest.mark.parametrize("k", [0, 5])
def test_k_out_of_range_is_an_error(k):
    with pytest.raises(ValueError, match="between 1 and n"):
        maj_at_k(np.zeros((1, 4), dtype=int), np.ones((1, 4), dtype=bool), k)


def test_shape_and_numbering_errors():
    with pytest.raises(ValueError, match="same shape"):
        maj_at_k(np.zeros((2, 4), dtype=int), np.ones((2, 3), dtype=bool), 2)
    with pytest.raises(ValueError, match="numbered"):
        maj_at_k(np.array([[0, 4, 1, 1]]), np.ones((1, 4), dtype=bool), 2)
