"""Bootstrap of PRMScore: resamples of instances within category, single and paired."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from surestep.metrics.bootstrap import Interval, PairedDifference, percentile_interval, resample_weights
from surestep.prm.scoring.figures import figures_of_sums
from surestep.prm.scoring.table import (
    NUM_CATEGORIES,
    FloatArray,
    IntArray,
    StepTable,
    category_sums,
    instance_counts,
)


def resampled_sums(
    counts: Sequence[FloatArray], category: IntArray, *, resamples: int, seed: int
) -> list[FloatArray]:
    """(resamples, categories, 4) sums for each of several aligned count tables.

    Instances are resampled within each category (the benchmark's design fixes how many each
    category has); the same resample applies to every table, which pairs them.
    """
    sums = [np.zeros((resamples, NUM_CATEGORIES, 4)) for _ in counts]
    for code in range(NUM_CATEGORIES):
        members = np.flatnonzero(category == code)
        if members.size == 0:
            for table_sums in sums:
                table_sums[:, code] = np.nan
            continue
        row = 0
        for w in resample_weights(members.size, resamples, seed * 7919 + code):
            for table_sums, table_counts in zip(sums, counts):
                table_sums[row : row + len(w), code] = w @ table_counts[members]
            row += len(w)
    return sums


def paired_prmscore(
    table_a: StepTable, table_b: StepTable, *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict[str, PairedDifference]:
    """B − A of PRMScore (Overall, the groups, each category) over the same instances.

    Both tables must hold the same instances in the same order (each with its own labels). One
    resample of instances, stratified by category, applies to both: the paired bootstrap.
    """
    if [i.id for i in table_a.instances] != [i.id for i in table_b.instances]:
        raise ValueError("a paired comparison needs the same instances, in the same order, in both tables")
    counts = [instance_counts(table_a), instance_counts(table_b)]
    present = np.bincount(table_a.category, minlength=NUM_CATEGORIES + 1)[:NUM_CATEGORIES] > 0
    points = []
    for table_counts in counts:
        sums = category_sums(table_counts, table_a.category)[:NUM_CATEGORIES]
        sums[~present] = np.nan
        points.append(figures_of_sums(sums))
    boot_a, boot_b = (
        figures_of_sums(s) for s in resampled_sums(counts, table_a.category, resamples=resamples, seed=seed)
    )
    keys = list(boot_a)
    low, high = percentile_interval(np.column_stack([boot_b[k] - boot_a[k] for k in keys]), confidence)
    return {
        key: PairedDifference(
            a=float(points[0][key]),
            b=float(points[1][key]),
            delta=float(points[1][key] - points[0][key]),
            interval=Interval(float(lo), float(hi)),
        )
        for key, lo, hi in zip(keys, low, high)
    }


def interval_of(samples: FloatArray, confidence: float) -> Interval:
    low, high = percentile_interval(samples[:, None], confidence)
    return Interval(float(low[0]), float(high[0]))
