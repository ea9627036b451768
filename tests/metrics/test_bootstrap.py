"""Percentile bootstrap over problems and the paired bootstrap of differences."""

from __future__ import annotations

import numpy as np
import pytest

from surestep.metrics import bootstrap_intervals, paired_bootstrap


def test_interval_brackets_the_mean_and_is_seeded():
    rng = np.random.default_rng(0)
    scores = {"a": rng.random(200), "b": (rng.random(200) < 0.3).astype(float)}
    first = bootstrap_intervals(scores, seed=4)
    assert first == bootstrap_intervals(scores, seed=4)
    for key, values in scores.items():
        assert first[key].low < values.mean() < first[key].high


def test_interval_width_matches_normal_theory():
    rng = np.random.default_rng(1)
    values = (rng.random(2000) < 0.4).astype(float)
    interval = bootstrap_intervals({"x": values}, n_resamples=2000, seed=2)["x"]
    se = values.std() / np.sqrt(values.size)
    assert interval.high - interval.low == pytest.approx(2 * 1.96 * se, rel=0.12)


def test_constant_scores_give_a_point_interval():
    interval = bootstrap_intervals({"x": np.full(30, 0.25)})["x"]
    assert (interval.low, interval.high) == pytest.approx((0.25, 0.25))


def test_derived_figures_get_intervals_from_the_same_resamples():
    scores = {"num": np.array([1.0, 0.0, 1.0, 1.0]), "den": np.array([1.0, 1.0, 1.0, 1.0])}
    intervals = bootstrap_intervals(scores, derive=lambda m: {"ratio": m["num"] / m["den"]}, seed=0)
    assert intervals["ratio"] == intervals["num"]


def test_chunking_many_resamples_over_many_problems(monkeypatch):
    from surestep.metrics import bootstrap

    monkeypatch.setattr(bootstrap, "_CHUNK_CELLS", 1000)
    values = np.linspace(0, 1, 500)
    interval = bootstrap_intervals({"x": values}, n_resamples=300)["x"]
    assert interval.low < 0.5 < interval.high


def test_paired_difference_of_identical_runs_is_exactly_zero():
    scores = {"x": np.random.default_rng(0).random(100)}
    diff = paired_bootstrap(scores, scores)["x"]
    assert diff.delta == 0.0
    assert (diff.interval.low, diff.interval.high) == (0.0, 0.0)
    assert not diff.significant


def test_paired_bootstrap_detects_a_consistent_improvement_that_unpaired_noise_hides():
    rng = np.random.default_rng(5)
    base = rng.random(300)
    better = np.clip(base + 0.02, 0, 1)
    diff = paired_bootstrap({"x": base}, {"x": better}, seed=1)["x"]
    assert diff.delta == pytest.approx(better.mean() - base.mean())
    assert diff.significant and diff.interval.low > 0
    separate_a = bootstrap_intervals({"x": base})["x"]
    assert separate_a.high > better.mean()  # the unpaired intervals overlap


def test_errors():
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_intervals({"x": np.ones(3)}, confidence=1.5)
    with pytest.raises(ValueError, match="zero problems"):
        bootstrap_intervals({"x": np.ones(0)})
    with pytest.raises(ValueError, match="same problems"):
        paired_bootstrap({"x": np.ones(3)}, {"x": np.ones(4)})
