"""Step-level predictions of a PRM: one JSONL line per instance, checked against the benchmark.

A line is ``{"id": ..., "step_scores": [...], "step_labels": [...]?, "redundancy_scores": [...]?,
"redundancy_labels": [...]?, "extra_scores": [...]?, "extra_redundancy_scores": [...]?,
"valid": true?, "error": "..."?}``. Labels are True for a step judged correct (validity) or
redundant (redundancy). Each list covers the first steps of the solution; the validity and
redundancy lists may differ in length (an LLM critic under PRMBench's protocol may give more of
one than of the other). ``extra_*`` lists hold reads past the last step, which PRMBench's
evaluator counts as further steps (erroneous only where ``error_steps`` lists them); they follow
a list that covers every step. ``"valid": false`` marks an instance the scorer could not judge
(say, an unparseable critic reply); it is reported and left out, as in the reference evaluator.
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
    extra_scores: tuple[float, ...] = ()
    extra_redundancy_scores: tuple[float, ...] = ()

    @property
    def redundancy_length(self) -> int | None:
        """How many steps the redundancy judgements cover (None: there are none)."""
        if self.redundancy_scores is not None:
            return len(self.redundancy_scores)
        return None if self.redundancy_labels is None else len(self.redundancy_labels)


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


def _same_length(
    lists: dict[str, Any], name: str, other: str, length: int | None, *, path: str, line: int
) -> None:
    if length is not None and name in lists and len(lists[name]) != length:
        raise InputError(
            f"has {len(lists[name])} values but {other} has {length}", path=path, line=line, field=name
        )


def parse_prediction(record: Mapping[str, Any], *, path: str, line: int) -> StepPrediction:
    """One line of a predictions file, with every list checked for type and matching length."""
    pid = require(record, "id", str, path=path, line=line)
    valid = optional(record, "valid", bool, True, path=path, line=line)
    error = optional(record, "error", str, None, path=path, line=line)
    if not valid:
        return StepPrediction(id=pid, step_scores=(), valid=False, error=error, line=line)
    scores = _numbers(
        require(record, "step_scores", list, path=path, line=line), "step_scores", path=path, line=line
    )
    lists: dict[str, Any] = {}
    for name, parse in (
        ("step_labels", _flags),
        ("redundancy_scores", _numbers),
        ("redundancy_labels", _flags),
        ("extra_scores", _numbers),
        ("extra_redundancy_scores", _numbers),
    ):
        if record.get(name) is not None:
            lists[name] = parse(record[name], name, path=path, line=line)
    _same_length(lists, "step_labels", "step_scores", len(scores), path=path, line=line)
    redundancy = lists.get("redundancy_scores")
    redundancy_length = None if redundancy is None else len(redundancy)
    _same_length(lists, "redundancy_labels", "redundancy_scores", redundancy_length, path=path, line=line)
    for extra, labels in (("extra_scores", "step_labels"), ("extra_redundancy_scores", "redundancy_labels")):
        if lists.get(extra) and labels in lists:
            raise InputError(
                f"cannot go with {labels} (reads past the last step are judged by threshold)",
                path=path,
                line=line,
                field=extra,
            )
    return StepPrediction(id=pid, step_scores=scores, error=error, line=line, **lists)


def _check_against(prediction: StepPrediction, steps: int, *, path: str) -> None:
    """Lists cover at most the solution's steps; reads past the end follow a list that covers all."""
    line = prediction.line
    redundancy = prediction.redundancy_length
    for name, length in (("step_scores", len(prediction.step_scores)), ("redundancy_scores", redundancy)):
        if length is not None and length > steps:
            raise InputError(
                f"has {length} scores but the instance has {steps} steps", path=path, line=line, field=name
            )
    for name, extra, length in (
        ("extra_scores", prediction.extra_scores, len(prediction.step_scores)),
        ("extra_redundancy_scores", prediction.extra_redundancy_scores, redundancy),
    ):
        if extra and length != steps:
            raise InputError(
                f"reads past the last step need a score for each of the {steps} steps first, "
                f"got {length or 0}",
                path=path,
                line=line,
                field=name,
            )


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
                path=source,
                line=line,
                field="id",
            )
        seen[prediction.id] = line
        instance = bench.by_id.get(prediction.id)
        if instance is None:
            raise InputError(
                f"no instance {prediction.id!r} in {bench.spec} "
                "(ids are '<classification>_<idx>' or 'correct_<idx>')",
                path=source,
                line=line,
                field="id",
            )
        _check_against(prediction, len(instance.steps), path=source)
        items.append(prediction)
    return PredictionSet(source, tuple(items))
