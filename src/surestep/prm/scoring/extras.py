"""Figures the reference evaluator lacks: AUROC, the first-error index, accuracy by error position."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from surestep.metrics.prm import auroc, harmonic_mean
from surestep.prm.data import CATEGORY_KEYS, REDUNDANCY_CATEGORIES
from surestep.prm.scoring.figures import per_category_mean
from surestep.prm.scoring.table import CORRECT_CODE, NUM_CATEGORIES, FloatArray, StepTable

MAX_ERROR_POSITION = 16


def aurocs(table: StepTable) -> dict[str, FloatArray]:
    """Threshold-free AUROC of validity scores (and of −redundancy scores on NR/NCL) per category."""
    step_category = table.step_category
    validity = np.full(NUM_CATEGORIES + 1, np.nan)
    redundancy = np.full(NUM_CATEGORIES + 1, np.nan)
    scored = ~np.isnan(table.score)
    for code in range(NUM_CATEGORIES):
        mask = (step_category == code) & scored
        validity[code] = auroc(table.score[mask], table.gold_ok[mask])
        if CATEGORY_KEYS[code] in REDUNDANCY_CATEGORIES:
            present = (step_category == code) & ~np.isnan(table.redundancy_score)
            redundancy[code] = auroc(-table.redundancy_score[present], table.gold_ok[present])
    real = (step_category < CORRECT_CODE) & scored
    validity[CORRECT_CODE] = auroc(table.score[real], table.gold_ok[real])
    return {"auroc": validity, "redundancy_auroc": redundancy}


def first_error_index(table: StepTable) -> dict[str, Any]:
    """ProcessBench-style: is the first step judged wrong exactly the first erroneous step?

    Flawed solutions need the exact index; error-free ones (MS and ``correct_*``) need "no error".
    Solutions whose listed errors all lie past their last step are neither and are left out.
    """
    n = len(table.instances)
    predicted = np.full(n, np.iinfo(np.int64).max)
    wrong = ~table.label
    np.minimum.at(predicted, table.step_instance[wrong], table.position[wrong])
    predicted = np.where(predicted == np.iinfo(np.int64).max, -1, predicted)
    gold = np.array([min(i.error_positions, default=-1) for i in table.instances], dtype=np.int64)
    flawed = gold >= 0
    error_free = np.array([not i.error_steps for i in table.instances])
    hit = np.where(flawed, predicted == gold, predicted == -1).astype(np.float64)
    per_category, _ = per_category_mean(hit, table.category, flawed | error_free)
    flawed_accuracy = float(hit[flawed].mean()) if flawed.any() else math.nan
    free_accuracy = float(hit[error_free].mean()) if error_free.any() else math.nan
    return {
        "per_category": per_category,
        "flawed_accuracy": flawed_accuracy,
        "error_free_accuracy": free_accuracy,
        "f1": harmonic_mean(flawed_accuracy, free_accuracy),
        "flawed": int(flawed.sum()),
        "error_free": int(error_free.sum()),
    }


def error_positions(table: StepTable) -> list[dict[str, Any]]:
    """Accuracy on erroneous steps by 1-based position; positions past 16 share one bucket."""
    mask = ~table.gold_ok & (table.step_category < CORRECT_CODE)
    bucket = np.minimum(table.position[mask] + 1, MAX_ERROR_POSITION + 1)
    steps = np.bincount(bucket, minlength=MAX_ERROR_POSITION + 2)
    caught = np.bincount(bucket, weights=~table.label[mask], minlength=MAX_ERROR_POSITION + 2)
    rows = []
    for position in range(1, MAX_ERROR_POSITION + 2):
        if position > MAX_ERROR_POSITION and steps[position] == 0:
            continue
        rows.append(
            {
                "position": position if position <= MAX_ERROR_POSITION else f"{MAX_ERROR_POSITION + 1}+",
                "steps": int(steps[position]),
                "accuracy": float(caught[position] / steps[position]) if steps[position] else math.nan,
            }
        )
    return rows
