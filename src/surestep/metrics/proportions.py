"""Confidence intervals for proportions: the Wilson score interval, plain and for stratified samples.

Wilson's interval (Wilson 1927) inverts the score test, so unlike the textbook normal
interval it stays inside [0, 1] and does not collapse to a point at 0 or n successes.
For a stratified sample the overall proportion is the population-weighted mean of the
strata's proportions; its interval is Wilson's at an *effective* sample size, the n for
which a simple random sample would have the stratified estimate's variance (Korn and
Graubard 1998), never more than the number of trials.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

from surestep.metrics.bootstrap import Interval


def normal_quantile(confidence: float) -> float:
    """The two-sided standard normal quantile: 1.959964 for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_bounds(proportion: float, trials: float, confidence: float = 0.95) -> Interval:
    """Wilson score interval of an observed ``proportion`` over ``trials`` (which may be fractional)."""
    if not 0.0 <= proportion <= 1.0:
        raise ValueError(f"proportion must lie in [0, 1], got {proportion}")
    if not trials > 0:
        raise ValueError(f"trials must be positive, got {trials}")
    z2 = normal_quantile(confidence) ** 2
    denominator = 1.0 + z2 / trials
    centre = (proportion + z2 / (2.0 * trials)) / denominator
    spread = z2 * proportion * (1.0 - proportion) / trials + z2 * z2 / (4.0 * trials**2)
    half = math.sqrt(spread) / denominator
    low = 0.0 if proportion == 0.0 else max(0.0, centre - half)
    high = 1.0 if proportion == 1.0 else min(1.0, centre + half)
    return Interval(low, high)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for ``successes`` out of ``trials`` (at least one)."""
    if trials < 1:
        raise ValueError(f"trials must be at least 1, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must lie in [0, {trials}], got {successes}")
    return wilson_bounds(successes / trials, trials, confidence)


@dataclass(frozen=True)
class Stratum:
    """One stratum of a stratified sample: its population size and what its sample showed."""

    size: int
    successes: int
    trials: int


@dataclass(frozen=True)
class StratifiedEstimate:
    """A population proportion estimated from a stratified sample, with its Wilson interval."""

    value: float
    interval: Interval
    effective_n: float
    trials: int


def stratified_proportion(strata: Sequence[Stratum], confidence: float = 0.95) -> StratifiedEstimate | None:
    """The proportion over the strata's whole population, each stratum weighted by its size.

    Strata of size 0 are ignored. None when no stratum is populated, or when a populated stratum
    has no trials (its share of the population cannot be estimated). The variance is
    ``sum(W_h**2 * p_h * (1 - p_h) / n_h)`` (no finite-population correction, so the interval is
    conservative when a stratum is sampled whole); when it is 0 (every stratum all or nothing) the
    effective n is the number of trials.
    """
    for s in strata:
        if s.size < 0 or not 0 <= s.successes <= s.trials or s.trials > s.size:
            raise ValueError(f"inconsistent stratum {s}: need 0 <= successes <= trials <= size")
    populated = [s for s in strata if s.size > 0]
    if not populated or any(s.trials == 0 for s in populated):
        return None
    total = sum(s.size for s in populated)
    trials = sum(s.trials for s in populated)
    value = sum(s.size / total * s.successes / s.trials for s in populated)
    variance = sum(
        (s.size / total) ** 2 * (s.successes / s.trials) * (1 - s.successes / s.trials) / s.trials
        for s in populated
    )
    value = min(max(value, 0.0), 1.0)
    effective = trials if variance <= 0.0 else min(float(trials), value * (1.0 - value) / variance)
    if effective <= 0.0:  # a value of exactly 0 or 1 with some variance cannot happen; guard anyway
        effective = float(trials)
    return StratifiedEstimate(value, wilson_bounds(value, effective, confidence), effective, trials)
