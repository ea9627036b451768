"""The reference evaluator's figures from a step table: PRMScore, first-error accuracy, similarity."""

from __future__ import annotations

import math

import numpy as np

from surestep.metrics.prm import FP, TP, prmscore
from surestep.prm.data import CATEGORIES, CATEGORY_KEYS, CORRECT, GROUPS
from surestep.prm.scoring.table import (
    CORRECT_CODE,
    F1_ONLY,
    NUM_CATEGORIES,
    BoolArray,
    FloatArray,
    IntArray,
    StepTable,
)


def per_category_mean(values: FloatArray, category: IntArray, mask: BoolArray) -> tuple[FloatArray, float]:
    """Mean of ``values`` over masked instances, per category and over the nine categories."""
    count = np.bincount(category[mask], minlength=NUM_CATEGORIES + 1).astype(np.float64)
    total = np.bincount(category[mask], weights=values[mask], minlength=NUM_CATEGORIES + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_category = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    real = mask & (category < CORRECT_CODE)
    overall = float(values[real].mean()) if real.any() else math.nan
    return per_category, overall


def first_error_accuracy(table: StepTable) -> tuple[FloatArray, float]:
    """Share of instances whose first listed error step is judged wrong (when that step was scored)."""
    first = np.array(
        [-1 if i.first_error is None else i.first_error for i in table.instances], dtype=np.int64
    )
    counted = (first >= 0) & (first < table.lengths)
    hit = np.zeros(len(table.instances))
    hit[counted] = ~table.label[table.starts[counted] + first[counted]]
    return per_category_mean(hit, table.category, counted)


def similarity(table: StepTable, counts: FloatArray) -> tuple[FloatArray, float]:
    """Mean |share judged correct on a modified solution − the same on its original correct one|.

    As in the reference evaluator, pairs whose correct solution has a share of 0 are skipped.
    """
    lengths = table.lengths.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (counts[:, TP] + counts[:, FP]) / lengths
    correct_at = {i.idx: n for n, i in enumerate(table.instances) if i.category == CORRECT}
    partner = np.array([correct_at.get(i.idx, -1) for i in table.instances], dtype=np.int64)
    usable = (table.category < CORRECT_CODE) & (partner >= 0) & (table.lengths > 0)
    partner_share = np.where(partner >= 0, share[np.maximum(partner, 0)], np.nan)
    usable &= (table.lengths[np.maximum(partner, 0)] > 0) & (partner_share != 0)
    gap = np.abs(share - partner_share)
    return per_category_mean(np.where(usable, gap, 0.0), table.category, usable)


def group_scores(category_scores: FloatArray) -> dict[str, FloatArray]:
    """Plain means of the member categories' PRMScores (NaN when a member has none)."""
    out: dict[str, FloatArray] = {}
    for group in GROUPS:
        members = [code for code, c in enumerate(CATEGORIES) if c.group == group]
        out[group] = np.mean(category_scores[..., members], axis=-1)
    return out


def figures_of_sums(sums: FloatArray) -> dict[str, FloatArray]:
    """PRMScore per category, pooled Overall and per group, from (..., categories, 4) sums."""
    per_category = prmscore(sums, f1_only=F1_ONLY[:NUM_CATEGORIES])
    return {
        "overall": prmscore(np.nansum(sums, axis=-2)),
        **group_scores(per_category),
        **{key: per_category[..., code] for code, key in enumerate(CATEGORY_KEYS)},
    }
