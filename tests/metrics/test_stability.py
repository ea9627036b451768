"""Pass@k, G-Pass@k and mG-Pass@k: published vectors, properties, brute force, and errors."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import hypergeom

from surestep.metrics import g_pass_at_k, mg_pass_at_k, pass_at_k, required_correct, stability


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (lambda: g_pass_at_k(16, 8, 4, 0.5), 0.7153846153846154),
        (lambda: g_pass_at_k(16, 8, 8, 1.0), 7.77000777000777e-05),
        (lambda: mg_pass_at_k(16, 8, 4), 0.16153846153846152),
        (lambda: mg_pass_at_k(16, 8, 8), 0.09518259518259518),
        (lambda: mg_pass_at_k(8, 4, 5), 0.02857142857142857),
    ],
)
def test_published_vectors_are_reproduced_bit_for_bit(value, expected):
    assert float(value()) == expected


@st.composite
def counts(draw, max_n=24):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(0, n))
    k = draw(st.integers(1, n))
    return n, c, k


def brute_force_tail(n: int, c: int, k: int, m: int) -> Fraction:
    """P(at least m correct) by enumerating every k-subset of n draws (c correct)."""
    draws = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(sum(draws[i] for i in subset) >= m for subset in subsets)
    return Fraction(hits, len(subsets))


@settings(max_examples=60, deadline=None)
@given(counts(max_n=10), st.sampled_from([0.0, 0.25, 0.5, 0.6, 0.75, 1.0]))
def test_g_pass_matches_enumeration_of_all_k_subsets(nck, tau):
    n, c, k = nck
    m = max(math.ceil(round(tau * k, 9)), 1)
    assert float(g_pass_at_k(n, c, k, tau)) == pytest.approx(float(brute_force_tail(n, c, k, m)), abs=1e-15)


@settings(max_examples=200, deadline=None)
@given(counts())
def test_strict_g_pass_is_ratio_of_binomials(nck):
    n, c, k = nck
    assert float(g_pass_at_k(n, c, k, 1.0)) == pytest.approx(math.comb(c, k) / math.comb(n, k), rel=1e-15)


@settings(max_examples=200, deadline=None)
@given(counts())
def test_pass_at_k_is_unbiased_estimator_and_tau_zero(nck):
    n, c, k = nck
    expected = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert float(pass_at_k(n, c, k)) == pytest.approx(expected, abs=1e-15)
    assert float(g_pass_at_k(n, c, k, 0.0)) == float(pass_at_k(n, c, k))


@settings(max_examples=150, deadline=None)
@given(counts(max_n=48))
def test_monotone_in_tau_and_c(nck):
    n, c, k = nck
    taus = np.linspace(0, 1, 21)
    by_tau = g_pass_at_k(n, c, k, taus)
    assert np.all(np.diff(by_tau) <= 1e-15)
    all_c = np.arange(n + 1)
    by_c = g_pass_at_k(n, all_c, k, 0.5)
    assert np.all(np.diff(by_c) >= -1e-15)
    assert np.all(np.diff(mg_pass_at_k(n, all_c, k)) >= -1e-15)
    assert np.all((by_tau >= 0) & (by_tau <= 1))


@settings(max_examples=150, deadline=None)
@given(counts(max_n=48))
def test_mg_pass_follows_published_definition(nck):
    n, c, k = nck
    reference = sum(hypergeom.sf(m - 1, n, c, k) for m in range(math.ceil(k / 2) + 1, k + 1)) * 2 / k
    assert float(mg_pass_at_k(n, c, k)) == pytest.approx(reference, rel=1e-10, abs=1e-15)


@settings(max_examples=100, deadline=None)
@given(counts(max_n=64), st.floats(0, 1))
def test_g_pass_agrees_with_scipy_hypergeom(nck, tau):
    n, c, k = nck
    m = max(math.ceil(round(tau * k, 9)), 1)
    assert float(g_pass_at_k(n, c, k, tau)) == pytest.approx(
        hypergeom.sf(m - 1, n, c, k), rel=1e-10, abs=1e-15
    )


def test_mg_pass_equals_twice_the_area_for_even_k():
    # For even k, (2/k) * sum_{m=k/2+1}^{k} P(X>=m) is 2 * the integral of the step function over [0.5, 1].
    n, c, k = 48, 30, 16
    taus = np.linspace(0.5, 1, 200001)[1:]
    area = np.mean(g_pass_at_k(n, c, k, taus)) * 0.5
    assert float(mg_pass_at_k(n, c, k)) == pytest.approx(2 * area, abs=1e-4)


def test_mg_pass_for_odd_k_caps_a_perfect_model_below_one():
    # Documented behaviour of the published definition: for odd k the sum starts at ceil(k/2)+1.
    for k in (1, 3, 5, 7):
        assert float(mg_pass_at_k(16, 16, k)) == pytest.approx((k - 1) / k)
    assert float(mg_pass_at_k(16, 16, 8)) == 1.0


def test_threshold_is_robust_to_float_noise():
    assert 0.07 * 100 == 7.000000000000001  # the float product lands just above 7
    assert int(required_correct(100, 0.07)) == 7
    assert int(required_correct(16, 0.0)) == 1
    assert int(required_correct(16, 0.51)) == 9
    # All 100 of 100 draws taken, 7 correct: at least 7 of them are correct with certainty.
    assert float(g_pass_at_k(100, 7, 100, 0.07)) == 1.0


def test_broadcasting_over_problems_and_parameters():
    c = np.arange(49)
    grid = g_pass_at_k(48, c[None, :], 16, np.array([0.5, 0.75, 1.0])[:, None])
    assert grid.shape == (3, 49)
    for row, tau in zip(grid, (0.5, 0.75, 1.0)):
        assert np.array_equal(row, np.array([float(g_pass_at_k(48, ci, 16, tau)) for ci in c]))
    ks = np.array([[4], [8], [16]])
    assert pass_at_k(48, c, ks).shape == (3, 49)
    assert mg_pass_at_k(np.array([10, 20]), np.array([5, 10]), 4).shape == (2,)


def test_sparse_parameter_space_uses_unique_path_with_same_values(monkeypatch):
    rng = np.random.default_rng(1)
    n = rng.integers(1, 4000, size=500)
    c = rng.integers(0, n + 1)
    k = rng.integers(1, n + 1)
    dense = g_pass_at_k(n, c, k, 0.5)
    monkeypatch.setattr(stability, "_DENSE_TABLE_LIMIT", 0)
    sparse = g_pass_at_k(n, c, k, 0.5)
    assert np.array_equal(dense, sparse)
    assert np.allclose(
        sparse, hypergeom.sf(np.maximum(np.ceil(k * 0.5), 1) - 1, n, c, k), rtol=1e-9, atol=1e-15
    )


def test_empty_input_gives_empty_output():
    assert g_pass_at_k(48, np.array([], dtype=int), 16, 0.5).shape == (0,)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: g_pass_at_k(8, 4, 16, 0.5), "k exceeds n"),
        (lambda: pass_at_k(8, 9, 4), "cannot exceed n"),
        (lambda: mg_pass_at_k(8, -1, 4), "must be >= 0"),
        (lambda: pass_at_k(0, 0, 1), "n (number of draws) must be >= 1"),
        (lambda: pass_at_k(8, 4, 0), "k must be >= 1"),
        (lambda: g_pass_at_k(8, 4, 4, 1.5), "tau must lie in"),
        (lambda: g_pass_at_k(8, 4, 4, float("nan")), "tau must lie in"),
        (lambda: pass_at_k(8, 2.5, 4), "whole numbers"),
    ],
)
def test_invalid_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_k_above_n_error_names_the_offending_problem():
    with pytest.raises(ValueError, match=r"n=8, c=3, k=16"):
        pass_at_k(np.array([48, 8]), np.array([10, 3]), 16)


def test_string_counts_are_rejected():
    with pytest.raises(TypeError):
        pass_at_k(np.array(["4"]), 1, 1)
