"""Step-level predictions of a PRM: one JSONL line per instance, checked against the benchmark.

A line is ``{"id": ..., "step_scores": [...], "step_labels": [...]?, "redundancy_scores": [...]?,
"redundancy_labels": [...]?, "valid": true?, "error": "..."?}``. Labels are True for a step judged
correct (validity) or redundant (redundancy). ``"valid": false`` marks an instance the scorer could
not judge (say, an unparseable critic reply); it is reported and left out, as in the reference
evaluator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surestep.data.jsonl import check_type, iter_jsonl, optional, require
from surestep.errors import InputError
from surestep.prm.data import PRMBench


@dataclass(frozen=True)
class StepPrediction:
    """What a scorer said about one instance; lists are aligned with its first steps."""

    id: str
    step_scores: tuple[float, ...]
    step_labels: tuple[bool, ...] | None = None
    redundancy_scores: tuple[float, ...] | None = None
    redundancy_labels: tuple[bool, ...] | None = None
    valid: bool = True
    error: str | None = None
    line: int = 0


@dataclass(frozen=True)
class PredictionSet:
    """The predictions of one file, keyed by instance id."""

    path: str
    items: tuple[StepPrediction, ...]
    by_id: Mapping[str, StepPrediction] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {p.id: p for p in self.items})


def _numbers(value: object, name: str, *, path: str, line: int) -> tuple[float, ...]:
    items = check_type(value, name, list, path=path, line=line)
    out = []
    for i, item in enumerate(items):
        number = check_type(item, f"{name}[{i}]", float, path=path, line=line)
        if not math.isfinite(number):
            raise InputError(
                f"expected a finite number, got {number}", path=path, line=line, field=f"{name}[{i}]"
            )
        out.append(number)
    return tuple(out)


def _flags(value: object, name: str, *, path: str, line: int) -> tuple[bool, ...]:
    items = check_type(value, name, list, path=path, line=line)
    return tuple(check_type(item, f"{name}[{i}]", bool, path=path, line=line) for i, item in enumerate(items))


def parse_prediction(record: Mapping[str, Any], *, path: str, line: int) -> StepPrediction:
    """One line of a predictions file, with every list checked for type and matching length."""
    pid = require(record, "id", str, path=path, line=line)
    valid = optional(record, "valid", bool, True, path=path, line=line)
    error = optional(record, "error", str, None, path=path, line=line)
    if not valid:
        return StepPrediction(id=pid, step_scores=(), valid=False, error=error, line=line)
    scores = _numbers(require(record, "step_scores", list, path=path, line=line), "step_scores",
                      path=path, line=line)
    lists: dict[str, Any] = {}
    for name, parse in (
        ("step_labels", _flags),
        ("redundancy_scores", _numbers),
        ("redundancy_labels", _flags),
    ):
        if record.get(name) is None:
            continue
        value = parse(record[name], name, path=path, line=line)
        if len(value) != len(scores):
            raise InputError(
                f"has {len(value)} values but step_scores has {len(scores)}", path=path, line=line, field=name
            )
        lists[name] = value
    return StepPrediction(id=pid, step_scores=scores, error=error, line=line, **lists)


def load_predictions(path: str | Path, bench: PRMBench) -> PredictionSet:
    """Read a predictions file; unknown ids, repeated ids and too many steps are errors."""
    source = str(path)
    items: list[StepPrediction] = []
    seen: dict[str, int] = {}
    for line, record in iter_jsonl(path):
        prediction = parse_prediction(record, path=source, line=line)
        if prediction.id in seen:
            raise InputError(
                f"repeated id {prediction.id!r} (first on line {seen[prediction.id]})",
                path=source, line=line, field="id",
            )
        seen[prediction.id] = line
        instance = bench.by_id.get(prediction.id)
        if instance is None:
            raise InputError(
                f"no instance {prediction.id!r} in {bench.spec} "
                "(ids are '<classification>_<idx>' or 'correct_<idx>')",
                path=source, line=line, field="id",
            )
        if len(prediction.step_scores) > len(instance.steps):
            raise InputError(
                f"has {len(prediction.step_scores)} scores but the instance has {len(instance.steps)} steps",
                path=source, line=line, field="step_scores",
            )
        items.append(prediction)
    return PredictionSet(source, tuple(items))
