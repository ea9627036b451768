"""Threshold tuning: the validity threshold chosen on one split of problems, applied to the rest."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from surestep.errors import InputError
from surestep.metrics.prm import best_threshold, prmscore
from surestep.prm.data import CATEGORY_KEYS, PRMBench
from surestep.prm.scoring.table import (
    CORRECT_CODE,
    F1_ONLY,
    NUM_CATEGORIES,
    BoolArray,
    StepTable,
    category_sums,
    cells,
    instance_counts,
)


def tune_threshold(table: StepTable, tune: BoolArray) -> dict[str, Any]:
    """Pick the validity threshold with the best pooled PRMScore on ``tune`` and apply it to the rest.

    Labels are re-made from ``step_scores`` (explicit validity labels are set aside); steps judged
    on redundancy keep their labels.
    """
    real = table.category < CORRECT_CODE
    rest = real & ~tune
    tune = tune & real
    if not tune.any() or not rest.any():
        raise InputError(
            f"the tuning split must hold some but not all instances (it holds {int(tune.sum())} "
            f"of {int(real.sum())})"
        )
    in_tune = tune[table.step_instance]
    sweep = in_tune & ~table.by_redundancy
    fixed_steps = in_tune & table.by_redundancy
    fixed = np.bincount(cells(table.gold_ok[fixed_steps], table.label[fixed_steps]), minlength=4).astype(
        np.float64
    )
    threshold, tune_score = best_threshold(table.score[sweep], table.gold_ok[sweep], fixed)
    relabelled = np.where(table.by_redundancy, table.label, table.score > threshold)

    def held_out(label: BoolArray | None) -> dict[str, Any]:
        sums = category_sums(instance_counts(table, label), table.category, rest)[:NUM_CATEGORIES]
        per_category = prmscore(sums, f1_only=F1_ONLY[:NUM_CATEGORIES])
        return {
            "prmscore": float(prmscore(sums.sum(axis=0))),
            "categories": {k: float(v) for k, v in zip(CATEGORY_KEYS, per_category) if not math.isnan(v)},
        }

    return {
        "threshold": threshold,
        "tune_instances": int(tune.sum()),
        "heldout_instances": int(rest.sum()),
        "tune_prmscore": tune_score,
        "heldout": held_out(relabelled),
        "heldout_at_given_labels": held_out(None),
    }


def tune_split(spec: str, bench: PRMBench, *, seed: int) -> frozenset[str]:
    """A tuning split: a fraction in (0, 1) of problems (by ``idx``, seeded), or a file of ids/idx."""
    try:
        fraction = float(spec)
    except ValueError:
        fraction = None
    if fraction is not None:
        if not 0 < fraction < 1:
            raise InputError(f"--tune-on: a fraction must lie in (0, 1), got {spec}")
        problems = sorted({i.idx for i in bench.instances})
        rng = np.random.default_rng(seed)
        chosen = rng.permutation(len(problems))[: max(1, round(fraction * len(problems)))]
        return frozenset(problems[i] for i in chosen)
    path = Path(spec)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read the tuning split: {exc.strerror or exc}", path=path) from None
    names = frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if not names:
        raise InputError("the tuning split lists no ids", path=path)
    return names
