"""``surestep prm validate``: what a PRMBench data file holds, its known faults, and how a
predictions file covers it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from surestep.prm.data import category_counts, load_prmbench
from surestep.prm.predictions import load_predictions


def validate_prmbench(data: str, predictions: Path | None = None) -> dict[str, Any]:
    """The JSON object ``prm validate --json`` prints: records, instances, counts per category,
    the data's known faults and, with ``predictions``, their count, invalid ones and the
    instances they miss (a malformed file is an InputError naming file, line and field)."""
    bench = load_prmbench(data)
    report: dict[str, Any] = {
        "data": bench.spec,
        "records": bench.records,
        "instances": len(bench.instances),
        "categories": category_counts(bench.instances),
        "data_issues": bench.data_issues(),
    }
    if predictions is not None:
        prediction_set = load_predictions(predictions, bench)
        report["predictions"] = {
            "path": str(predictions),
            "count": len(prediction_set.items),
            "invalid": sum(not p.valid for p in prediction_set.items),
            "missing": [i.id for i in bench.instances if i.id not in prediction_set.by_id],
        }
    return report


__all__ = ["validate_prmbench"]
