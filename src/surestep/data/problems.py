"""Problem sets: JSONL / JSON / Parquet files or directories of them, and Hugging Face datasets.

A spec is a file path; a directory path (every data file in it, each file one subset named
by the file's stem), optionally ``DIR:NAME[,NAME...]`` to take only some of its files; or
``hf:NAME[:CONFIG][@SPLIT]`` for a dataset on the Hub (or a local dataset directory in the
same layout). Fields are found by the mapping, or by the names the common math sets use:
``question``/``problem``/``Problem``, ``answer``/``Answer``, ``unique_id``/``id``/``ID``.
LiveMathBench's configs (``v{version}_{split}_{lang}``) and split files (``AMC_en.jsonl``)
set each problem's subset; MATH's ``subject`` is the subset otherwise, and ``level`` is kept
and can be filtered.
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
ID_FIELDS = ("unique_id", "id", "ID", "problem_id", "idx")
SUBSET_FIELDS = ("subject",)  # MATH's subject: the subset when no config, file or mapping sets one
LEVEL_FIELD = "level"
DATA_SUFFIXES = (".jsonl", ".json", ".parquet")
LIVEMATHBENCH_FIELDS = frozenset({"question", "answer", "question_type", "options"})


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


def _label(record: Mapping[str, Any], name: str, *, source: str, line: int) -> str | None:
    """An optional short label (level, subject): text or an integer; absent, null or blank is None."""
    value = record.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        kind = type(value).__name__
        raise InputError(f"expected text or a number, got {kind}", path=source, line=line, field=name)
    return str(value).strip() or None


def problem_from_record(
    record: Mapping[str, Any],
    fields: FieldMap,
    *,
    source: str,
    line: int,
    position: int,
    default_subset: str | None = None,
    id_prefix: str | None = None,
) -> Problem:
    """One record as a Problem; ``id_prefix`` (a directory's file) prefixes every id, ``default_subset``
    (an hf: config) the position ids of records without one."""
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
    prefix = id_prefix or default_subset
    if id_field is not None:
        problem_id = _text(record, id_field, source=source, line=line)
        problem_id = f"{id_prefix}/{problem_id}" if id_prefix else problem_id
    else:  # no id in the data: the position, prefixed by the config or file so ids differ across them
        problem_id = f"{prefix}/{position}" if prefix else str(position)
    subset: str | None = default_subset
    if fields.subset is not None:
        if fields.subset not in record:
            raise InputError("missing required field", path=source, line=line, field=fields.subset)
        subset = _text(record, fields.subset, source=source, line=line)
    elif subset is None and (subject := _pick(record, None, SUBSET_FIELDS)) is not None:
        subset = _label(record, subject, source=source, line=line)
    return Problem(
        id=problem_id,
        question=_text(record, question_field, source=source, line=line),
        answer=_text(record, answer_field, source=source, line=line),
        subset=subset,
        options=_options(record.get(fields.options), source=source, line=line, name=fields.options),
        level=_label(record, LEVEL_FIELD, source=source, line=line),
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


def data_files(directory: Path) -> dict[str, Path]:
    """A directory's problem files by subset name (the file name without its suffix), in name order."""
    files: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in DATA_SUFFIXES:
            continue
        if path.stem in files:
            first = files[path.stem].name
            raise InputError(f"two files give subset {path.stem!r}: {first} and {path.name}", path=directory)
        files[path.stem] = path
    if not files:
        raise InputError(
            "no problem files (.jsonl, .json, .parquet) in this directory "
            "(a dataset in the Hugging Face layout is read with hf:DIR)",
            path=directory,
        )
    return files


def local_files(spec: str) -> list[tuple[Path, str | None]]:
    """The files a local spec names, each with its subset (None for a lone file).

    ``DIR`` is every problem file in DIR; ``DIR:A,B`` only the files whose names (without suffix)
    are A and B, in the directory's order.
    """
    path, names = Path(spec), None
    if not path.exists():
        head, sep, tail = spec.rpartition(":")
        if sep and head and Path(head).is_dir():
            path, names = Path(head), [name.strip() for name in tail.split(",")]
    if not path.is_dir():
        return [(path, None)]
    files = data_files(path)
    if names is None:
        return [(file, stem) for stem, file in files.items()]
    unknown = [name for name in names if name not in files]
    if unknown:
        missing = ", ".join(repr(name) for name in unknown)
        raise InputError(f"no problem file for {missing} (this directory has {', '.join(files)})", path=path)
    return [(file, stem) for stem, file in files.items() if stem in names]


@dataclass(frozen=True)
class _Part:
    """One source of records (a file, or a Hub split) and what it sets on its problems."""

    source: str
    records: Iterable[tuple[int | None, Mapping[str, Any]]]
    subset: str | None = None
    id_prefix: str | None = None


def _parts(spec: str, fields: FieldMap) -> list[_Part]:
    if spec.startswith("hf:"):
        hub = parse_hub_spec(spec)
        config = hub.config if hub.config and fields.subset is None else None
        return [_Part(spec, ((None, record) for record in hub_records(hub)), subset=config)]
    return [
        _Part(str(path), _file_records(path), subset=subset, id_prefix=subset)
        for path, subset in local_files(spec)
    ]


def _filter_level(problems: list[Problem], level: str, spec: str) -> list[Problem]:
    """The problems of one level; ``5`` and ``Level 5`` are the same level."""

    def bare(text: str) -> str:
        return text.removeprefix("Level ").strip()

    present = {bare(p.level) for p in problems if p.level is not None}
    if not present:
        raise InputError(f"--level {level}: no problem here has a '{LEVEL_FIELD}' field", path=spec)
    kept = [p for p in problems if p.level is not None and bare(p.level) == bare(level)]
    if not kept:
        levels = ", ".join(sorted(present))
        raise InputError(f"--level {level}: no such level (levels here: {levels})", path=spec)
    return kept


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
    seen: dict[str, tuple[str, int]] = {}
    for part in _parts(spec, fields):
        for position, (line, record) in enumerate(part.records):
            where = line if line is not None else position + 1
            problem = problem_from_record(
                record,
                fields,
                source=part.source,
                line=where,
                position=position,
                default_subset=part.subset,
                id_prefix=part.id_prefix,
            )
            if problem.id in seen:
                source, first = seen[problem.id]
                at = f"line {first}" if source == part.source else f"{source}:{first}"
                message = f"duplicate problem id {problem.id!r} (first at {at})"
                raise InputError(message, path=part.source, line=where)
            seen[problem.id] = (part.source, where)
            problems.append(problem)
    if level is not None:
        problems = _filter_level(problems, level, spec)
    if limit is not None:
        problems = problems[:limit]
    if not problems:
        raise InputError("no problems", path=spec)
    return ProblemSet(spec, tuple(problems))


def is_livemathbench(spec: str) -> bool:
    """Whether a spec names LiveMathBench: the Hub dataset, or local files whose records have its fields."""
    if spec.startswith("hf:"):
        return Path(parse_hub_spec(spec).name.rstrip("/")).name.lower() == "livemathbench"
    try:
        path, _ = local_files(spec)[0]
        first = next(iter(_file_records(path)), None)
    except SurestepError:  # loading reports what is wrong with the files
        return False
    return first is not None and first[1].keys() >= LIVEMATHBENCH_FIELDS
