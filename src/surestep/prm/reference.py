"""A plain step-by-step walk of PRMBench's scoring rules: the executable specification.

It is deliberately simple (one loop over instances, one over steps) and slow; the vectorised
scorer in :mod:`surestep.prm.scoring` is tested against it and benchmarked against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from surestep.prm.data import CATEGORY_KEYS, CORRECT, F1_ONLY_CATEGORIES, PRMInstance


def walk_instance(error_steps: Sequence[int], labels: Sequence[bool]) -> dict[str, Any]:
    """Confusion counts, step hits and the first-error hit of one instance's labels."""
    errors = {e - 1 for e in error_steps}
    first = min(errors) if errors else None
    counts = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    first_hit = None
    for position, judged_correct in enumerate(labels):
        if position == first:
            first_hit = not judged_correct
        if position in errors:
            counts["fp" if judged_correct else "tn"] += 1
        else:
            counts["tp" if judged_correct else "fn"] += 1
    share = sum(labels) / len(labels) if labels else None
    return {**counts, "first_hit": first_hit, "share": share}


def _f1(hit: int, false_alarm: int, miss: int) -> float:
    """The reference's F1, with its -1 standing for undefined ratios."""
    precision = hit / (hit + false_alarm) if hit + false_alarm else -1.0
    recall = hit / (hit + miss) if hit + miss else -1.0
    return 2 * precision * recall / (precision + recall) if precision + recall != 0 else -1.0


def _prmscore(c: dict[str, int], f1_only: bool) -> float | None:
    if not any(c.values()):
        return None
    positive = _f1(c["tp"], c["fp"], c["fn"])
    negative = _f1(c["tn"], c["fn"], c["fp"])
    return max(0.0, positive if f1_only else 0.5 * positive + 0.5 * negative)


def reference_scores(pairs: Sequence[tuple[PRMInstance, Sequence[bool]]]) -> dict[str, dict[str, Any]]:
    """Per category and ``overall``: counts, PRMScore, first-error accuracy and similarity."""
    walked = [(instance, walk_instance(instance.error_steps, labels)) for instance, labels in pairs]
    correct_share = {i.idx: w["share"] for i, w in walked if i.category == CORRECT}
    rows: dict[str, dict[str, Any]] = {}
    for key in (*CATEGORY_KEYS, "overall"):
        chosen = [
            (i, w) for i, w in walked if i.category == key or (key == "overall" and i.category != CORRECT)
        ]
        if not chosen:
            continue
        counts = {name: sum(w[name] for _, w in chosen) for name in ("tp", "fp", "tn", "fn")}
        first = [w["first_hit"] for _, w in chosen if w["first_hit"] is not None]
        gaps = [
            abs(w["share"] - correct_share[i.idx])
            for i, w in chosen
            if w["share"] is not None and correct_share.get(i.idx)
        ]
        rows[key] = {
            **counts,
            "prmscore": _prmscore(counts, key in F1_ONLY_CATEGORIES),
            "first_error_accuracy": sum(first) / len(first) if first else None,
            "similarity": sum(gaps) / len(gaps) if gaps else None,
        }
    return rows
