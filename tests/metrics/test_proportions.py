"""Wilson score intervals against published values and scipy, and their stratified form by hand."""

from __future__ import annotations

import math

import pytest

from surestep.metrics.proportions import (
    Stratum,
    normal_quantile,
    stratified_proportion,
    wilson_bounds,
    wilson_interval,
)

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3
# (score interval without continuity correction), 95%.
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("successes", "trials", "low", "high"), NEWCOMBE)
def test_wilson_matches_newcombes_published_values(successes, trials, low, high):
    interval = wilson_interval(successes, trials)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


def test_wilson_matches_scipy_over_a_grid_of_counts_and_levels():
    from scipy.stats import binomtest

    for trials in (1, 2, 7, 30, 200):
        for successes in sorted({0, 1, trials // 3, trials // 2, trials - 1, trials}):
            for confidence in (0.8, 0.95, 0.99):
                expected = binomtest(successes, trials).proportion_ci(confidence, method="wilson")
                got = wilson_interval(successes, trials, confidence)
                assert got.low == pytest.approx(expected.low, abs=1e-12)
                assert got.high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_is_mirror_symmetric_contains_the_estimate_and_narrows_with_n():
    for trials in (3, 10, 57):
        for successes in range(trials + 1):
            interval = wilson_interval(successes, trials)
            mirror = wilson_interval(trials - successes, trials)
            assert interval.low == pytest.approx(1 - mirror.high) and interval.high == pytest.approx(
                1 - mirror.low
            )
            assert 0 <= interval.low <= successes / trials <= interval.high <= 1
    widths = [wilson_interval(n // 4, n).high - wilson_interval(n // 4, n).low for n in (8, 40, 400, 4000)]
    assert widths == sorted(widths, reverse=True)
    assert normal_quantile(0.95) == pytest.approx(1.959963984540054)


def test_wilson_refuses_impossible_counts():
    with pytest.raises(ValueError, match="trials"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 4)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 4, 1.0)
    with pytest.raises(ValueError, match="proportion"):
        wilson_bounds(1.5, 4)


def test_one_stratum_is_the_plain_wilson_interval():
    found = stratified_proportion([Stratum(size=1000, successes=7, trials=20)])
    assert found is not None
    assert found.value == pytest.approx(0.35) and found.effective_n == pytest.approx(20)
    plain = wilson_interval(7, 20)
    assert (found.interval.low, found.interval.high) == pytest.approx((plain.low, plain.high))


def test_two_strata_worked_by_hand():
    # p = 1/4 * 5/10 + 3/4 * 2/10 = 0.275;
    # v = (1/4)^2 * 0.5 * 0.5 / 10 + (3/4)^2 * 0.2 * 0.8 / 10 = 0.0015625 + 0.009 = 0.0105625;
    # n_eff = 0.275 * 0.725 / 0.0105625 = 18.8757...
    found = stratified_proportion([Stratum(100, 5, 10), Stratum(300, 2, 10)])
    assert found is not None
    assert found.value == pytest.approx(0.275)
    assert found.effective_n == pytest.approx(0.275 * 0.725 / 0.0105625)
    assert found.trials == 20
    by_hand = wilson_bounds(0.275, 0.275 * 0.725 / 0.0105625)
    assert (found.interval.low, found.interval.high) == pytest.approx((by_hand.low, by_hand.high))
    assert (found.interval.low, found.interval.high) == pytest.approx((0.125533, 0.500562), abs=1e-6)


def test_effective_n_never_exceeds_the_trials_and_is_the_trials_when_every_stratum_is_pure():
    # homogeneous strata would give n_eff > n; it is capped at the number of trials
    capped = stratified_proportion([Stratum(500, 1, 2), Stratum(500, 49, 50)])
    assert capped is not None and capped.effective_n <= 52
    pure = stratified_proportion([Stratum(40, 0, 4), Stratum(60, 6, 6)])
    assert pure is not None
    assert pure.value == pytest.approx(0.6) and pure.effective_n == 10
    none_found = stratified_proportion([Stratum(40, 0, 4), Stratum(60, 0, 6)])
    assert none_found is not None and none_found.value == 0 and none_found.interval.low == 0
    assert none_found.interval.high == pytest.approx(wilson_interval(0, 10).high)


def test_strata_without_population_are_ignored_and_unsampled_ones_make_it_unknown():
    only = stratified_proportion([Stratum(0, 0, 0), Stratum(10, 3, 5)])
    assert only is not None and only.value == pytest.approx(0.6)
    assert stratified_proportion([Stratum(10, 3, 5), Stratum(4, 0, 0)]) is None
    assert stratified_proportion([Stratum(0, 0, 0)]) is None
    with pytest.raises(ValueError, match="inconsistent"):
        stratified_proportion([Stratum(3, 1, 5)])
    assert math.isfinite(stratified_proportion([Stratum(3, 3, 3)]).interval.low)  # type: ignore[union-attr]
