"""The options of PRMBench scoring: thresholds, missing predictions, bootstrap and tuning settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PRMBenchScoreConfig:
    """How labels are made from scores and which extras are computed."""

    threshold: float = 0.5
    redundancy_threshold: float = 0.5
    allow_missing: bool = False
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    tune_on: frozenset[str] | None = None
    """Instance ids or problem ``idx`` values of the split a threshold is tuned on."""
    baselines: bool = True
