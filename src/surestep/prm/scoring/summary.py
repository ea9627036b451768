"""Every figure of one step table in one record: category rows, groups, intervals and extras."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from surestep.metrics.bootstrap import Interval
from surestep.metrics.prm import FN, FP, TN, TP, classification_figures, prmscore
from surestep.prm.data import CATEGORY_KEYS, GROUPS
from surestep.prm.scoring.bootstrap import interval_of, resampled_sums
from surestep.prm.scoring.extras import aurocs, error_positions, first_error_index
from surestep.prm.scoring.figures import figures_of_sums, first_error_accuracy, group_scores, similarity
from surestep.prm.scoring.options import PRMBenchScoreConfig
from surestep.prm.scoring.table import (
    CORRECT_CODE,
    F1_ONLY,
    NUM_CATEGORIES,
    StepTable,
    category_sums,
    instance_counts,
)


@dataclass(frozen=True)
class TableSummary:
    """Every figure of one step table: category rows (with Overall last), groups and extras."""

    rows: Mapping[str, Mapping[str, Any]]
    groups: Mapping[str, float]
    group_intervals: Mapping[str, Interval]
    correct_solutions: Mapping[str, Any] | None
    first_error_index: Mapping[str, Any]
    error_positions: Sequence[Mapping[str, Any]]


def summarize_table(
    table: StepTable, options: PRMBenchScoreConfig, *, resamples: int | None = None
) -> TableSummary:
    """The reference figures and the extras of one table; ``resamples=0`` skips the intervals."""
    counts = instance_counts(table)
    sums = category_sums(counts, table.category)
    rows_sums = np.vstack([sums[:NUM_CATEGORIES], sums[:NUM_CATEGORIES].sum(axis=0)])
    f1_only = np.append(F1_ONLY[:NUM_CATEGORIES], False)
    scores = prmscore(rows_sums, f1_only=f1_only)
    figures = classification_figures(rows_sums)
    first_error, first_error_all = first_error_accuracy(table)
    similarity_by_category, similarity_all = similarity(table, counts)
    auroc_by_category = aurocs(table)
    first_index = first_error_index(table)
    present = np.bincount(table.category, minlength=NUM_CATEGORIES + 1)
    steps = np.bincount(table.category, weights=table.lengths, minlength=NUM_CATEGORIES + 1)

    n_resamples = options.resamples if resamples is None else resamples
    intervals: dict[str, Interval] = {}
    group_intervals: dict[str, Interval] = {}
    if n_resamples > 0 and len(table.instances) > 0:
        (resampled,) = resampled_sums([counts], table.category, resamples=n_resamples, seed=options.seed)
        boot = figures_of_sums(resampled)
        for code, key in enumerate(CATEGORY_KEYS):
            if present[code]:
                intervals[key] = interval_of(boot[key], options.confidence)
        intervals["overall"] = interval_of(boot["overall"], options.confidence)
        group_intervals = {g: interval_of(boot[g], options.confidence) for g in GROUPS}

    rows: dict[str, dict[str, Any]] = {}
    for row, key in enumerate((*CATEGORY_KEYS, "overall")):
        code = row if row < NUM_CATEGORIES else CORRECT_CODE
        if row < NUM_CATEGORIES and not present[row]:
            continue
        real = row == NUM_CATEGORIES
        rows[key] = {
            "prmscore": float(scores[row]),
            **{name: float(values[row]) for name, values in figures.items()},
            "first_error_accuracy": first_error_all if real else float(first_error[code]),
            "similarity": similarity_all if real else float(similarity_by_category[code]),
            "auroc": float(auroc_by_category["auroc"][code]),
            "redundancy_auroc": float(auroc_by_category["redundancy_auroc"][code]),
            "first_error_index_accuracy": (
                first_index["flawed_accuracy"] if real else float(first_index["per_category"][code])
            ),
            "tp": int(rows_sums[row, TP]),
            "fp": int(rows_sums[row, FP]),
            "tn": int(rows_sums[row, TN]),
            "fn": int(rows_sums[row, FN]),
            "instances": int(present[:NUM_CATEGORIES].sum() if real else present[code]),
            "steps": int(steps[:NUM_CATEGORIES].sum() if real else steps[code]),
            "interval": intervals.get(key),
        }
    category_scores = np.array([rows[k]["prmscore"] if k in rows else np.nan for k in CATEGORY_KEYS])
    groups = {g: float(v) for g, v in group_scores(category_scores).items()}
    correct_solutions = None
    if present[CORRECT_CODE]:
        correct_figures = classification_figures(sums[CORRECT_CODE])
        correct_solutions = {
            "instances": int(present[CORRECT_CODE]),
            "steps": int(steps[CORRECT_CODE]),
            "correct_step_accuracy": float(correct_figures["correct_step_accuracy"]),
            "no_error_accuracy": float(first_index["per_category"][CORRECT_CODE]),
        }
    return TableSummary(
        rows=rows,
        groups=groups,
        group_intervals=group_intervals,
        correct_solutions=correct_solutions,
        first_error_index={k: v for k, v in first_index.items() if k != "per_category"},
        error_positions=error_positions(table),
    )
