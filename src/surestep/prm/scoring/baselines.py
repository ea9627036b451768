"""Baseline predictions scored beside a PRM: every step correct, coin flips, the gold labels."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from surestep.prm.data import PRMInstance
from surestep.prm.predictions import StepPrediction

BASELINES = ("all_correct", "random", "oracle")


def baseline_predictions(
    instances: Iterable[PRMInstance], kind: str, *, seed: int
) -> list[tuple[PRMInstance, StepPrediction]]:
    """Predictions of a baseline over every step: all steps correct, coin flips, or the gold labels."""
    rng = np.random.default_rng(seed)
    pairs = []
    for instance in instances:
        n = len(instance.steps)
        if kind == "all_correct":
            scores = [1.0] * n
        elif kind == "oracle":
            errors = instance.error_positions
            scores = [0.0 if i in errors else 1.0 for i in range(n)]
        elif kind == "random":
            scores = rng.random(n).tolist()
        else:
            raise ValueError(f"unknown baseline {kind!r}")
        labels = tuple(s > 0.5 for s in scores)
        prediction = StepPrediction(id=instance.id, step_scores=tuple(scores), step_labels=labels)
        pairs.append((instance, prediction))
    return pairs
