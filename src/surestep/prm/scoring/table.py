"""The step table: every counted step of the evaluated instances as parallel arrays.

Labels are made from a prediction's scores as the reference evaluator makes them; per-instance
confusion counts come from one ``bincount``, and every figure is a sum over those counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from surestep.metrics.prm import FN, FP, TN, TP
from surestep.prm.data import CATEGORY_KEYS, CORRECT, F1_ONLY_CATEGORIES, REDUNDANCY_CATEGORIES, PRMInstance
from surestep.prm.predictions import StepPrediction
from surestep.prm.scoring.options import PRMBenchScoreConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NUM_CATEGORIES = len(CATEGORY_KEYS)
CORRECT_CODE = NUM_CATEGORIES
"""Category code of the synthetic ``correct_*`` instances, after the nine real categories."""


_CATEGORY_CODE = {key: code for code, key in enumerate((*CATEGORY_KEYS, CORRECT))}
F1_ONLY = np.array([key in F1_ONLY_CATEGORIES for key in (*CATEGORY_KEYS, CORRECT)])


@dataclass(frozen=True)
class StepTable:
    """The counted steps of the evaluated instances as parallel arrays, instances contiguous."""

    instances: tuple[PRMInstance, ...]
    category: IntArray
    starts: IntArray
    lengths: IntArray
    step_instance: IntArray
    position: IntArray
    gold_ok: BoolArray
    label: BoolArray
    score: FloatArray
    by_redundancy: BoolArray
    redundancy_score: FloatArray

    @property
    def step_category(self) -> IntArray:
        return self.category[self.step_instance]


@dataclass(frozen=True)
class _Judged:
    """One instance's counted positions: labels (True = judged correct), the scores behind them."""

    labels: list[bool]
    scores: list[float]
    """Validity score per counted position (NaN where the validity list is shorter)."""
    redundancy: list[float]
    """Redundancy score per counted position (NaN where there is none)."""
    by_redundancy: bool


def _padded(values: Sequence[float], length: int) -> list[float]:
    return list(values[:length]) + [math.nan] * (length - min(len(values), length))


def _judge(prediction: StepPrediction, category: str, options: PRMBenchScoreConfig) -> _Judged:
    """The labels the confusion matrix uses, as the reference evaluator makes them.

    On NR/NCL, redundancy judgements (when present) replace validity entirely and set how many
    positions count; elsewhere the validity list does. Reads past the last step count as
    further steps, judged by threshold.
    """
    validity = (*prediction.step_scores, *prediction.extra_scores)
    redundancy = None
    if prediction.redundancy_scores is not None:
        redundancy = (*prediction.redundancy_scores, *prediction.extra_redundancy_scores)
    if category in REDUNDANCY_CATEGORIES and prediction.redundancy_length is not None:
        if prediction.redundancy_labels is not None:
            redundant = [
                *prediction.redundancy_labels,
                *(r > options.redundancy_threshold for r in prediction.extra_redundancy_scores),
            ]
        else:
            redundant = [r > options.redundancy_threshold for r in redundancy or ()]
        labels, by_redundancy = [not r for r in redundant], True
    elif prediction.step_labels is not None:
        labels = [*prediction.step_labels, *(s > options.threshold for s in prediction.extra_scores)]
        by_redundancy = False
    else:
        labels, by_redundancy = [s > options.threshold for s in validity], False
    n = len(labels)
    return _Judged(labels, _padded(validity, n), _padded(redundancy or (), n), by_redundancy)


def build_table(
    pairs: Sequence[tuple[PRMInstance, StepPrediction]], options: PRMBenchScoreConfig
) -> StepTable:
    """Lay out the counted positions: a prediction's scored steps, and its reads past the last step.

    Positions beyond what a prediction judged are not counted; a position is erroneous when
    ``error_steps`` lists it, past the last step too (as the reference evaluator walks labels).
    """
    judged = [_judge(prediction, instance.category, options) for instance, prediction in pairs]
    lengths = np.array([len(j.labels) for j in judged], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    total = int(lengths.sum())
    by_redundancy = np.zeros(total, dtype=bool)
    gold_ok = np.ones(total, dtype=bool)
    for (instance, _), j, start, length in zip(pairs, judged, starts, lengths):
        if j.by_redundancy:
            by_redundancy[start : start + length] = True
        for step in instance.error_steps:
            if step - 1 < length:
                gold_ok[start + step - 1] = False
    step_instance = np.repeat(np.arange(len(pairs), dtype=np.int64), lengths)
    return StepTable(
        instances=tuple(instance for instance, _ in pairs),
        category=np.array([_CATEGORY_CODE[i.category] for i, _ in pairs], dtype=np.int64),
        starts=starts,
        lengths=lengths,
        step_instance=step_instance,
        position=np.arange(total, dtype=np.int64) - starts[step_instance],
        gold_ok=gold_ok,
        label=np.array([b for j in judged for b in j.labels], dtype=bool),
        score=np.array([x for j in judged for x in j.scores], dtype=np.float64),
        by_redundancy=by_redundancy,
        redundancy_score=np.array([x for j in judged for x in j.redundancy], dtype=np.float64),
    )


def cells(gold_ok: BoolArray, label: BoolArray) -> IntArray:
    """Each step's confusion cell (TP, FP, TN or FN)."""
    return np.where(gold_ok, np.where(label, TP, FN), np.where(label, FP, TN))


def instance_counts(table: StepTable, label: BoolArray | None = None) -> FloatArray:
    """(instances, 4) confusion counts, from the table's labels or the given ones."""
    code = cells(table.gold_ok, table.label if label is None else label)
    n = len(table.instances)
    flat = np.bincount(table.step_instance * 4 + code, minlength=n * 4)
    return flat.reshape(n, 4).astype(np.float64)


def category_sums(counts: FloatArray, category: IntArray, mask: BoolArray | None = None) -> FloatArray:
    """(categories + correct, 4) sums of per-instance counts, over the instances in ``mask``."""
    weights = counts if mask is None else counts * mask[:, None]
    return np.stack(
        [np.bincount(category, weights=weights[:, j], minlength=NUM_CATEGORIES + 1) for j in range(4)], axis=1
    )
