"""Dataset-level aggregation: keys, means, relative drop and subsets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surestep.metrics import (
    ProblemOutcomes,
    StabilityProtocol,
    g_pass_at_k,
    headline_keys,
    per_problem_scores,
    summarize,
    summarize_subsets,
)


@pytest.fixture
def outcomes() -> ProblemOutcomes:
    c = np.array([16, 8, 0, 12])
    return ProblemOutcomes(n=16, correct_counts=c, greedy_correct=np.array([True, True, False, False]))


def test_keys_follow_the_documented_spelling(outcomes):
    scores = per_problem_scores(outcomes, StabilityProtocol())
    assert list(scores)[:3] == ["greedy", "avg@16", "pass@4"]
    for key in ("G-Pass@16_0.0", "G-Pass@16_0.25", "G-Pass@16_0.5", "G-Pass@16_1.0", "mG-Pass@8", "pass@16"):
        assert key in scores
    assert all(v.shape == (4,) for v in scores.values())


def test_means_and_relative_drop(outcomes):
    protocol = StabilityProtocol()
    figures = summarize(per_problem_scores(outcomes, protocol), protocol)
    assert figures["greedy"] == 0.5
    assert figures["avg@16"] == pytest.approx((16 + 8 + 0 + 12) / 64)
    strict = float(np.mean(g_pass_at_k(16, outcomes.correct_counts, 16, 1.0)))
    assert figures["G-Pass@16_1.0"] == strict == 0.25
    assert figures["relative_drop@16"] == pytest.approx((0.5 - 0.25) / 0.5)


def test_relative_drop_is_nan_without_greedy_successes():
    protocol = StabilityProtocol(ks=(4,))
    outcomes = ProblemOutcomes(n=4, correct_counts=np.array([1]), greedy_correct=np.array([False]))
    assert math.isnan(summarize(per_problem_scores(outcomes, protocol), protocol)["relative_drop@4"])


def test_subsets_partition_the_problems(outcomes):
    protocol = StabilityProtocol()
    scores = per_problem_scores(outcomes, protocol)
    parts = summarize_subsets(scores, ["en", "zh", "en", "zh"], protocol)
    assert list(parts) == ["en", "zh"]
    assert parts["en"]["avg@16"] == pytest.approx((16 + 0) / 32)
    whole = summarize(scores, protocol)["pass@8"]
    assert (parts["en"]["pass@8"] + parts["zh"]["pass@8"]) / 2 == pytest.approx(whole)


def test_headline_row(outcomes):
    assert headline_keys(StabilityProtocol(), with_greedy=True) == [
        "greedy",
        "G-Pass@16_0.5",
        "G-Pass@16_0.75",
        "G-Pass@16_1.0",
        "mG-Pass@16",
    ]


def test_protocol_validation():
    with pytest.raises(ValueError, match="tau"):
        StabilityProtocol(taus=(1.5,))
    with pytest.raises(ValueError, match="k values"):
        StabilityProtocol(ks=(0,))
