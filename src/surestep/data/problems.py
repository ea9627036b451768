"""Problem sets: JSONL / JSON / Parquet files with a field mapping, and Hugging Face datasets.

A spec is a file path, or ``hf:NAME[:CONFIG][@SPLIT]`` for a dataset on the Hub (or a
local dataset directory in the same layout). Fields are found by the mapping, or by the
names the common math sets use: ``question``/``problem``/``Problem``, ``answer``/``Answer``,
``id``/``ID``/``unique_id``. LiveMathBench's configs (``v{version}_{split}_{lang}``) set
each problem's subset to the config name; MATH-500's ``level`` can be filtered.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surestep.data.hub import hub_records, parse_hub_spec
from surestep.data.jsonl import iter_jsonl, require_text
from surestep.errors import InputError, SurestepError

QUESTION_FIELDS = ("question", "problem", "Problem", "prompt")
ANSWER_FIELDS = ("answer", "Answer", "gold", "final_answer")
ID_FIELDS = ("id", "ID", "unique_id", "problem_id", "idx")


@dataclass(frozen=True)
class Problem:
    """One question with its gold answer; ``options`` maps letters to texts for multiple choice."""

    id: str
    question: str
    answer: str
    subset: str | None = None
    options: Mapping[str, str] | None = None
    level: str | None = None


@dataclass(frozen=True)
class FieldMap:
    """Which record fields hold what; None means: look for the usual names."""

    question: str | None = None
    answer: str | None = None
    id: str | None = None
    subset: str | None = None
    options: str = "options"


@dataclass(frozen=True)
class ProblemSet:
    spec: str
    problems: tuple[Problem, ...]
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        for p in self.problems:
            row = [p.id, p.question, p.answer, p.subset, dict(p.options) if p.options else None]
            digest.update(json.dumps(row, ensure_ascii=False, sort_keys=True).encode())
        object.__setattr__(self, "content_hash", digest.hexdigest()[:16])


def _text(record: Mapping[str, Any], name: str, *, source: str, line: int) -> str:
    """A required text field (numbers read as text; 27.0 in a dataset means the integer 27)."""
    value = record.get(name)
    if isinstance(value, float) and value.is_integer():
        record = {name: int(value)}
    text = require_text(record, name, path=source, line=line, numbers=(int, float)).strip()
    if not text:
        raise InputError("is empty", path=source, line=line, field=name)
    return text


def _pick(record: Mapping[str, Any], explicit: str | None, usual: Sequence[str]) -> str | None:
    if explicit is not None:
        return explicit
    return next((name for name in usual if name in record), None)


def _options(value: Any, *, source: str, line: int, name: str) -> dict[str, str] | None:
    if value is None or value == [] or value == {}:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(
                "options must be a list or an object", path=source, line=line, field=name
            ) from None
    if isinstance(value, list):
        value = {string.ascii_uppercase[i]: v for i, v in enumerate(value[:26])}
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float)) for v in value.values()):
        raise InputError("options must map letters to texts", path=source, line=line, field=name)
    return {str(k).strip(): str(v) for k, v in value.items()}


def problem_from_record(
    record: Mapping[str, Any],
    fields: FieldMap,
    *,
    source: str,
    line: int,
    position: int,
    default_subset: str | None = None,
) -> Problem:
    question_field = _pick(record, fields.question, QUESTION_FIELDS)
    answer_field = _pick(record, fields.answer, ANSWER_FIELDS)
    for wanted, found, usual in (
        ("question", question_field, QUESTION_FIELDS),
        ("answer", answer_field, ANSWER_FIELDS),
    ):
        if found is None or found not in record:
            hint = f"--{wanted}-field" if found is None else found
            names = "/".join(usual) if found is None else found
            raise InputError(
                f"missing the {wanted} (looked for {names}; set {hint})", path=source, line=line, field=found
            )
    assert question_field is not None
    assert answer_field is not None
    id_field = _pick(record, fields.id, ID_FIELDS)
    if fields.id is not None and fields.id not in record:
        raise InputError("missing required field", path=source, line=line, field=fields.id)
    if id_field is not None:
        problem_id = _text(record, id_field, source=source, line=line)
    else:  # no id in the data: the position, prefixed by the config so ids differ across configs
        problem_id = f"{default_subset}/{position}" if default_subset else str(position)
    subset: str | None = default_subset
    if fields.subset is not None:
        if fields.subset not in record:
            raise InputError("missing required field", path=source, line=line, field=fields.subset)
        subset = _text(record, fields.subset, source=source, line=line)
    level = record.get("level")
    return Problem(
        id=problem_id,
        question=_text(record, question_field, source=source, line=line),
        answer=_text(record, answer_field, source=source, line=line),
        subset=subset,
        options=_options(record.get(fields.options), source=source, line=line, name=fields.options),
        level=None if level is None else str(level),
    )


def _file_records(path: Path) -> Iterable[tuple[int | None, Mapping[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from iter_jsonl(path)
        return
    if not path.is_file():
        raise InputError("no such file", path=path)
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"invalid JSON: {exc}", path=path) from None
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), None)
        if not isinstance(data, list):
            raise InputError("expected a list of problem objects (or an object holding one)", path=path)
        for index, record in enumerate(data):
            if not isinstance(record, dict):
                raise InputError(f"item {index} is not an object", path=path)
            yield None, record
        return
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise SurestepError("reading Parquet needs pyarrow: pip install 'surestep[hf]'") from None
        for record in pq.read_table(path).to_pylist():
            yield None, record
        return
    raise InputError("unknown problem file type (expected .jsonl, .json or .parquet)", path=path)


def load_problems(
    spec: str,
    fields: FieldMap | None = None,
    *,
    level: str | None = None,
    limit: int | None = None,
) -> ProblemSet:
    """Load, validate and filter a problem set; ids must be unique."""
    fields = fields or FieldMap()
    problems: list[Problem] = []
    if spec.startswith("hf:"):
        hub = parse_hub_spec(spec)
        default_subset = hub.config if hub.config and fields.subset is None else None
        records: Iterable[tuple[int | None, Mapping[str, Any]]] = (
            (None, record) for record in hub_records(hub)
        )
        source = spec
    else:
        default_subset = None
        records = _file_records(Path(spec))
        source = spec
    seen: dict[str, int | None] = {}
    for position, (line, record) in enumerate(records):
        where = line if line is not None else position + 1
        problem = problem_from_record(
            record, fields, source=source, line=where, position=position, default_subset=default_subset
        )
        if problem.id in seen:
            raise InputError(
                f"duplicate problem id {problem.id!r} (first at {seen[problem.id]})", path=source, line=where
            )
        seen[problem.id] = where
        problems.append(problem)
    if level is not None:
        wanted = level.removeprefix("Level ").strip()
        problems = [
            p for p in problems if p.level is not None and p.level.removeprefix("Level ").strip() == wanted
        ]
    if limit is not None:
        problems = problems[:limit]
    if not problems:
        raise InputError("no problems (after filters)", path=source)
    return ProblemSet(spec, tuple(problems))
