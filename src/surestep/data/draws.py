"""Graded draws: the JSONL format that ``surestep score`` reads, and grouping by problem."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surestep.data.jsonl import check_type, iter_jsonl, optional, require, require_text
from surestep.errors import InputError

_LIST_LIMIT = 10


@dataclass(frozen=True)
class DrawRecord:
    """One sampled (or greedy) answer to one problem, with its grade."""

    problem_id: str
    sample_index: int
    correct: bool
    answer: str | None = None
    subset: str | None = None
    greedy: bool = False
    line: int = 0
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProblemDraws:
    """All draws of one problem: the sampled ones by sample index, and the greedy one."""

    problem_id: str
    samples: tuple[DrawRecord, ...]
    greedy: DrawRecord | None

    @property
    def num_correct(self) -> int:
        return sum(d.correct for d in self.samples)


def parse_draw(record: Mapping[str, Any], *, path: Path, line: int) -> DrawRecord:
    """Validate one JSON object as a graded draw."""
    sample_index = require(record, "sample_index", int, path=path, line=line)
    if sample_index < 0:
        raise InputError("must be >= 0", path=path, line=line, field="sample_index")
    return DrawRecord(
        problem_id=require_text(record, "problem_id", path=path, line=line),
        sample_index=sample_index,
        correct=require(record, "correct", bool, path=path, line=line),
        answer=optional(record, "answer", str, None, path=path, line=line),
        subset=optional(record, "subset", str, None, path=path, line=line),
        greedy=bool(optional(record, "greedy", bool, False, path=path, line=line)),
        line=line,
        fields=record,
    )


def read_draws(path: str | Path) -> list[DrawRecord]:
    """Read and validate every line of a graded-draws JSONL file."""
    source = Path(path)
    draws = [parse_draw(obj, path=source, line=no) for no, obj in iter_jsonl(source)]
    if not draws:
        raise InputError("no draws found (the file is empty)", path=source)
    return draws


def _names(ids: Iterable[str]) -> str:
    ids = list(ids)
    shown = ", ".join(repr(i) for i in ids[:_LIST_LIMIT])
    more = f" and {len(ids) - _LIST_LIMIT} more" if len(ids) > _LIST_LIMIT else ""
    return shown + more


def group_draws(draws: Iterable[DrawRecord], *, path: str | Path, n: int | None = None) -> list[ProblemDraws]:
    """Group draws by problem (in order of first appearance) and enforce equal n.

    Without ``n`` every problem must have the same number of sampled draws. With ``n``,
    each problem keeps its n lowest sample indices; a problem with fewer is an error.
    """
    by_problem: dict[str, dict[int, DrawRecord]] = {}
    greedy: dict[str, DrawRecord] = {}
    for draw in draws:
        if draw.greedy:
            earlier = greedy.get(draw.problem_id)
            if earlier is not None:
                raise InputError(
                    f"second greedy draw for problem {draw.problem_id!r} "
                    f"(the first is on line {earlier.line})",
                    path=path,
                    line=draw.line,
                    field="greedy",
                )
            greedy[draw.problem_id] = draw
            by_problem.setdefault(draw.problem_id, {})
            continue
        slots = by_problem.setdefault(draw.problem_id, {})
        earlier = slots.get(draw.sample_index)
        if earlier is not None:
            raise InputError(
                f"duplicate draw {draw.sample_index} of problem {draw.problem_id!r} "
                f"(also on line {earlier.line})",
                path=path,
                line=draw.line,
                field="sample_index",
            )
        slots[draw.sample_index] = draw
    sizes = {pid: len(slots) for pid, slots in by_problem.items()}
    if n is None:
        common = max(set(sizes.values()), key=list(sizes.values()).count)
        odd = [pid for pid, size in sizes.items() if size != common]
        if odd:
            detail = _names(f"{pid} ({sizes[pid]})" for pid in odd)
            raise InputError(
                f"problems have different numbers of sampled draws: most have {common}, "
                f"but these differ (draws in brackets): {detail}; "
                "pass --n to use the same number of draws for every problem",
                path=path,
            )
        n = common
    if n < 1:
        raise InputError(f"--n must be >= 1, got {n}", path=path)
    short = [pid for pid, size in sizes.items() if size < n]
    if short:
        raise InputError(
            f"{len(short)} problem(s) have fewer than n={n} sampled draws: "
            + _names(f"{pid} ({sizes[pid]})" for pid in short),
            path=path,
        )
    return [
        ProblemDraws(
            problem_id=pid,
            samples=tuple(slots[i] for i in sorted(slots)[:n]),
            greedy=greedy.get(pid),
        )
        for pid, slots in by_problem.items()
    ]


def problem_label(problem: ProblemDraws, name: str, *, path: str | Path) -> str:
    """The value of field ``name`` for a problem (all its draws must agree); '(none)' if absent."""
    values: dict[str, DrawRecord] = {}
    for draw in (*problem.samples, *([problem.greedy] if problem.greedy else [])):
        raw = draw.fields.get(name)
        if raw is None:
            continue
        if isinstance(raw, (dict, list)):
            raise InputError("cannot group by a list or object", path=path, line=draw.line, field=name)
        label = check_type(raw, name, str, path=path, line=draw.line) if name == "subset" else str(raw)
        values.setdefault(label, draw)
        if len(values) > 1:
            first = next(iter(values.values()))
            raise InputError(
                f"problem {problem.problem_id!r} has conflicting values {list(values)} "
                f"(first on line {first.line})",
                path=path,
                line=draw.line,
                field=name,
            )
    return next(iter(values), "(none)")
