"""PRM step metrics: F1s, PRMScore with the reference's undefined cases, AUROC and threshold sweeps."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surestep.metrics.prm import (
    FN,
    FP,
    TN,
    TP,
    auroc,
    best_threshold,
    classification_figures,
    midranks,
    prmscore,
    threshold_sweep,
)
from surestep.prm.reference import _prmscore as reference_prmscore


def test_figures_of_a_hand_computed_matrix():
    counts = np.zeros(4)
    counts[[TP, FP, TN, FN]] = [6, 1, 1, 2]
    figures = classification_figures(counts)
    assert figures["precision"] == pytest.approx(6 / 7)
    assert figures["recall"] == pytest.approx(6 / 8)
    assert figures["f1"] == pytest.approx(0.8)
    assert figures["negative_precision"] == pytest.approx(1 / 3)
    assert figures["negative_recall"] == pytest.approx(1 / 2)
    assert figures["negative_f1"] == pytest.approx(0.4)
    assert figures["step_accuracy"] == pytest.approx(0.7)
    assert prmscore(counts) == pytest.approx(0.6)
    assert prmscore(counts, f1_only=True) == pytest.approx(0.8)


@pytest.mark.parametrize("cells", list(itertools.product(range(3), repeat=4)))
def test_prmscore_matches_the_reference_arithmetic_on_every_small_matrix(cells):
    """Every matrix with cells in 0..2, including each undefined ratio the reference writes as -1."""
    tp, fp, tn, fn = cells
    counts = np.zeros(4)
    counts[[TP, FP, TN, FN]] = cells
    expected = reference_prmscore({"tp": tp, "fp": fp, "tn": tn, "fn": fn}, False)
    expected_f1_only = reference_prmscore({"tp": tp, "fp": fp, "tn": tn, "fn": fn}, True)
    if expected is None:
        assert math.isnan(prmscore(counts))
    else:
        assert prmscore(counts) == pytest.approx(expected)
        assert prmscore(counts, f1_only=True) == pytest.approx(expected_f1_only)


def test_undefined_cases():
    all_correct = np.zeros(4)
    all_correct[[TP, FP]] = [10, 3]  # every step judged correct
    figures = classification_figures(all_correct)
    assert figures["negative_f1"] == 0.0
    assert math.isnan(figures["negative_precision"])
    assert prmscore(all_correct) == pytest.approx(0.5 * 20 / 23)
    only_correct_steps = np.zeros(4)
    only_correct_steps[[TP]] = [5]  # no erroneous step, none judged wrong: negative side undefined
    assert math.isnan(classification_figures(only_correct_steps)["negative_f1"])
    assert prmscore(only_correct_steps) == 0.0  # 0.5·1 + 0.5·(-1), as the reference
    assert prmscore(only_correct_steps, f1_only=True) == 1.0
    assert math.isnan(prmscore(np.zeros(4)))


@given(st.lists(st.integers(0, 50), min_size=4, max_size=4))
def test_flipping_every_label_swaps_f1_and_negative_f1(cells):
    """Flip gold and predicted labels alike (correct <-> wrong): TP <-> TN and FP <-> FN."""
    counts = np.array(cells, dtype=float)
    flipped = counts[[TN, FN, TP, FP]]
    a, b = classification_figures(counts), classification_figures(flipped)
    np.testing.assert_equal(b["f1"], a["negative_f1"])
    np.testing.assert_equal(b["negative_f1"], a["f1"])
    np.testing.assert_equal(b["step_accuracy"], a["step_accuracy"])


def test_prmscore_is_vectorised_over_resamples():
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 20, size=(50, 3, 4))
    flat = [prmscore(stack[i, j]) for i in range(50) for j in range(3)]
    np.testing.assert_allclose(prmscore(stack).ravel(), flat)


def test_auroc():
    assert auroc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert math.isnan(auroc([0.3, 0.4], [True, True]))
    rng = np.random.default_rng(0)
    scores, positive = rng.random(300), rng.random(300) < 0.4
    pairs = [(p > n) + 0.5 * (p == n) for p in scores[positive] for n in scores[~positive]]
    assert auroc(scores, positive) == pytest.approx(np.mean(pairs))
    tied = rng.integers(0, 5, size=300) / 4  # many ties: they count one half
    pairs = [(p > n) + 0.5 * (p == n) for p in tied[positive] for n in tied[~positive]]
    assert auroc(tied, positive) == pytest.approx(np.mean(pairs))


def test_midranks_share_the_mean_rank_among_ties():
    np.testing.assert_array_equal(midranks([3.0, 1.0, 3.0, 2.0, 3.0]), [4.0, 1.0, 4.0, 2.0, 4.0])
    assert midranks([]).size == 0


def test_threshold_sweep_counts_match_direct_labelling():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 10, size=200) / 10
    positive = rng.random(200) < 0.7
    thresholds, counts = threshold_sweep(scores, positive, fixed=[1, 2, 3, 4])
    for t, row in zip(thresholds, counts):
        label = scores > t
        direct = [
            np.sum(label & positive) + 1,
            np.sum(label & ~positive) + 2,
            np.sum(~label & ~positive) + 3,
            np.sum(~label & positive) + 4,
        ]
        np.testing.assert_array_equal(row, direct)
    assert counts[0, TP] == positive.sum() + 1  # lowest candidate: every step judged correct
    assert counts[-1, TP] == 1  # highest: none


def test_best_threshold_separates_separable_scores():
    scores = np.array([0.1, 0.15, 0.3, 0.35, 0.4])
    positive = np.array([False, False, True, True, True])
    threshold, value = best_threshold(scores, positive)
    assert threshold == pytest.approx(0.225)
    assert value == 1.0
