"""Percentile bootstrap over problems, vectorised, for dataset-level figures and paired differences.

A resample is represented by a (resamples, problems) matrix of multiplicities, so the
mean of every per-problem score over every resample is one matrix product.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Derive = Callable[[Mapping[str, FloatArray]], Mapping[str, FloatArray]]

# Cap on resamples x problems cells per chunk of the multiplicity matrix.
_CHUNK_CELLS = 1 << 23


@dataclass(frozen=True)
class Interval:
    """A confidence interval [low, high] at the given confidence level."""

    low: float
    high: float


@dataclass(frozen=True)
class PairedDifference:
    """Difference B - A of one figure over shared problems, with its bootstrap interval."""

    a: float
    b: float
    delta: float
    interval: Interval

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0 (NaN intervals are never significant)."""
        return bool(self.interval.low > 0 or self.interval.high < 0)


def resample_weights(num_problems: int, n_resamples: int, seed: int) -> Iterator[npt.NDArray[np.float64]]:
    """Yield chunks of the (resamples, problems) multiplicity matrix, each row summing to P."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // max(num_problems, 1))
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        picks = rng.integers(0, num_problems, size=(rows, num_problems))
        offsets = np.arange(rows)[:, None] * num_problems
        counts = np.bincount((offsets + picks).ravel(), minlength=rows * num_problems)
        yield counts.reshape(rows, num_problems).astype(np.float64)


def _bootstrap_means(matrix: FloatArray, n_resamples: int, seed: int) -> FloatArray:
    """(resamples, figures) means of the columns of a (problems, figures) score matrix."""
    num_problems = matrix.shape[0]
    parts = [weights @ matrix / num_problems for weights in resample_weights(num_problems, n_resamples, seed)]
    return np.concatenate(parts, axis=0)


def percentile_interval(samples: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Per-column percentile interval of (resamples, figures) samples; NaN where a column has none."""
    alpha = 1.0 - confidence
    low = np.full(samples.shape[1], np.nan)
    high = np.full(samples.shape[1], np.nan)
    usable = np.isfinite(samples).any(axis=0)
    if usable.any():
        with np.errstate(all="ignore"):
            qs = np.nanquantile(samples[:, usable], [alpha / 2, 1 - alpha / 2], axis=0)
        low[usable], high[usable] = qs[0], qs[1]
    return low, high


def _check(confidence: float, n_resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")


def _with_derived(keys: list[str], means: FloatArray, derive: Derive | None) -> tuple[list[str], FloatArray]:
    if derive is None:
        return keys, means
    extra = derive({key: means[:, i] for i, key in enumerate(keys)})
    if not extra:
        return keys, means
    columns = [np.asarray(v, dtype=np.float64) for v in extra.values()]
    return keys + list(extra), np.column_stack([means, *columns])


def bootstrap_intervals(
    scores: Mapping[str, FloatArray],
    *,
    derive: Derive | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Percentile-bootstrap interval of the mean of each per-problem score (problems resampled).

    ``derive`` maps a dict of (resamples,) mean arrays to further figures (e.g. ratios),
    which then get intervals from the same resamples.
    """
    _check(confidence, n_resamples)
    keys = list(scores)
    if not keys:
        return {}
    matrix = np.column_stack([np.asarray(scores[k], dtype=np.float64) for k in keys])
    if matrix.shape[0] == 0:
        raise ValueError("cannot bootstrap over zero problems")
    all_keys, means = _with_derived(keys, _bootstrap_means(matrix, n_resamples, seed), derive)
    low, high = percentile_interval(means, confidence)
    return {key: Interval(float(lo), float(hi)) for key, lo, hi in zip(all_keys, low, high)}


def paired_bootstrap(
    scores_a: Mapping[str, FloatArray],
    scores_b: Mapping[str, FloatArray],
    *,
    derive: Derive | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, PairedDifference]:
    """Paired bootstrap of B - A for each figure both runs have, on aligned problems.

    Row i of every array must be the same problem in both runs; one resample of
    problems is applied to both, so per-problem correlation is kept.
    """
    _check(confidence, n_resamples)
    keys = [k for k in scores_a if k in scores_b]
    if not keys:
        return {}
    matrix_a = np.column_stack([np.asarray(scores_a[k], dtype=np.float64) for k in keys])
    matrix_b = np.column_stack([np.asarray(scores_b[k], dtype=np.float64) for k in keys])
    if matrix_a.shape != matrix_b.shape:
        raise ValueError("paired bootstrap needs the same problems, in the same order, in both runs")
    both = np.concatenate([matrix_a, matrix_b], axis=1)
    boot = _bootstrap_means(both, n_resamples, seed)
    width = len(keys)
    keys_a, boot_a = _with_derived(keys, boot[:, :width], derive)
    _, boot_b = _with_derived(keys, boot[:, width:], derive)
    point_a = _with_derived(keys, matrix_a.mean(axis=0)[None, :], derive)[1][0]
    point_b = _with_derived(keys, matrix_b.mean(axis=0)[None, :], derive)[1][0]
    low, high = percentile_interval(boot_b - boot_a, confidence)
    return {
        key: PairedDifference(
            a=float(pa), b=float(pb), delta=float(pb - pa), interval=Interval(float(lo), float(hi))
        )
        for key, pa, pb, lo, hi in zip(keys_a, point_a, point_b, low, high)
    }
