"""Grade a JSONL file of responses: validation, grading, and the enriched records."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from surestep.data.jsonl import iter_jsonl, optional, require, require_text
from surestep.errors import InputError

if TYPE_CHECKING:  # the grader is imported only when something is graded
    from surestep.grading.grader import GradeRequest, GradingConfig, GradingStats


@dataclass(frozen=True)
class NumberedRecord:
    """A JSON object of an input file and its line number."""

    line: int
    fields: dict[str, Any]


def read_records(path: str | Path) -> list[NumberedRecord]:
    source = Path(path)
    records = [NumberedRecord(no, obj) for no, obj in iter_jsonl(source)]
    if not records:
        raise InputError("no records found (the file is empty)", path=source)
    return records


def grade_request(record: NumberedRecord, path: Path) -> GradeRequest:
    """Validate the fields grading needs (response, gold, optional question and options)."""
    from surestep.grading.extraction import normalize_options
    from surestep.grading.grader import GradeRequest

    fields = record.fields
    try:
        options = normalize_options(fields.get("options"))
    except ValueError as exc:
        raise InputError(str(exc), path=path, line=record.line, field="options") from None
    return GradeRequest(
        response=require(fields, "response", str, path=path, line=record.line),
        gold=require_text(fields, "gold", path=path, line=record.line, numbers=(int, float)),
        question=optional(fields, "question", str, None, path=path, line=record.line),
        options=options,
    )


def check_draw_keys(record: NumberedRecord, path: Path) -> None:
    require_text(record.fields, "problem_id", path=path, line=record.line)
    require(record.fields, "sample_index", int, path=path, line=record.line)


def grade_records(
    records: Sequence[NumberedRecord], config: GradingConfig, *, path: str | Path
) -> tuple[list[dict[str, Any]], GradingStats]:
    """Every record with the grade fields added (``answer`` is set to the extracted answer)."""
    from surestep.grading.grader import Grader

    source = Path(path)
    requests = [grade_request(record, source) for record in records]
    with Grader(config) as grader:
        grades, stats = grader.grade(requests)
    enriched = []
    for record, grade in zip(records, grades):
        fields = {**record.fields, **grade.to_json()}
        fields["answer"] = grade.extracted_answer
        enriched.append(fields)
    return enriched, stats


def needs_grading(record: NumberedRecord) -> bool:
    return "correct" not in record.fields and "response" in record.fields


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write all rows to a temporary file beside ``path``, then rename: never a partial file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def summary_line(stats: GradingStats) -> str:
    counts = ", ".join(f"{name} {count}" for name, count in sorted(stats.verdicts.items()))
    rate = f"{stats.draws_per_second:,.0f} draws/s" if stats.seconds > 0 else ""
    extra = []
    if stats.workers_replaced:
        extra.append(f"{stats.workers_replaced} worker(s) killed and replaced")
    if stats.judge_calls:
        extra.append(f"{stats.judge_calls} judge call(s)")
    tail = f"; {'; '.join(extra)}" if extra else ""
    return (
        f"graded {stats.draws} draws ({stats.unique_pairs} distinct answer/gold pairs, "
        f"{stats.pool_pairs} parsed symbolically) in {stats.seconds:.2f} s, {rate}: {counts}{tail}"
    )


__all__ = [
    "NumberedRecord",
    "check_draw_keys",
    "grade_records",
    "needs_grading",
    "read_records",
    "summary_line",
    "write_jsonl_atomic",
]
