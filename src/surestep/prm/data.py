"""PRMBench: records, the instances evaluated from them, and the benchmark's known data faults.

A spec is a JSONL file, a directory of JSONL files (read in name order), or
``hf:NAME[:CONFIG][@SPLIT]`` (the Hub copy, ``hitsmy/PRMBench_Preview``, has one ``train`` split).
Instances follow the reference evaluator: ``{classification}_{idx}`` for each record (the first
occurrence of a repeated id wins), and for every ``redundency`` record an all-correct instance
``correct_{idx}`` built from the original question and solution.

A quick run scores part of the data: the first N records (``load_prmbench(limit=N)``, ``prm run
--first N``) or a stratified sample of N records spread over the nine categories
(``stratified_sample``, ``prm run --limit N``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from surestep.data.hub import hub_records, parse_hub_spec
from surestep.data.jsonl import check_type, iter_jsonl, require, require_text
from surestep.errors import InputError


@dataclass(frozen=True)
class Category:
    """One of PRMBench's nine error categories: the data's key, the paper's abbreviation, its group."""

    key: str
    abbreviation: str
    group: str


CATEGORIES: tuple[Category, ...] = (
    Category("redundency", "NR", "simplicity"),
    Category("circular", "NCL", "simplicity"),
    Category("counterfactual", "ES", "soundness"),
    Category("step_contradiction", "SC", "soundness"),
    Category("domain_inconsistency", "DC", "soundness"),
    Category("confidence", "CI", "soundness"),
    Category("missing_condition", "PS", "sensitivity"),
    Category("deception", "DR", "sensitivity"),
    Category("multi_solutions", "MS", "sensitivity"),
)
CATEGORY_KEYS: tuple[str, ...] = tuple(c.key for c in CATEGORIES)
GROUPS: tuple[str, ...] = ("simplicity", "soundness", "sensitivity")
CORRECT = "correct"
"""Category of the synthetic all-correct instances built from ``redundency`` records."""
REDUNDANCY_CATEGORIES = frozenset({"redundency", "circular"})
F1_ONLY_CATEGORIES = frozenset({"multi_solutions"})
"""Categories without erroneous steps, whose PRMScore is the positive F1 alone."""
HUB_DATASET = "hf:hitsmy/PRMBench_Preview"
SAMPLE_SEED = 0
"""Seed of ``prm run --limit N``'s stratified sample (the command has no ``--seed`` of its own)."""


@dataclass(frozen=True)
class PRMInstance:
    """One evaluated solution: its steps and the 1-based indices of its erroneous steps, as given."""

    id: str
    category: str
    idx: str
    question: str
    steps: tuple[str, ...]
    error_steps: tuple[int, ...]
    source: str

    @property
    def error_positions(self) -> frozenset[int]:
        """0-based positions of the erroneous steps that exist (indices past the end are dropped)."""
        return frozenset(e - 1 for e in self.error_steps if e <= len(self.steps))

    @property
    def first_error(self) -> int | None:
        """0-based position of the first listed error, even when it lies past the last step."""
        return min(self.error_steps) - 1 if self.error_steps else None


@dataclass(frozen=True)
class PastEndFault:
    """A record whose error-step indices go past its last step."""

    id: str
    error_steps: tuple[int, ...]
    num_steps: int
    source: str


@dataclass(frozen=True)
class DuplicateFault:
    """An instance id given by several records; the first is used."""

    id: str
    sources: tuple[str, ...]
    same_content: bool


@dataclass(frozen=True)
class PRMBench:
    """The instances of a PRMBench spec, in data order, with the data faults found while reading."""

    spec: str
    instances: tuple[PRMInstance, ...]
    past_end: tuple[PastEndFault, ...]
    duplicates: tuple[DuplicateFault, ...]
    records: int
    by_id: Mapping[str, PRMInstance] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {instance.id: instance for instance in self.instances})

    def data_issues(self) -> dict[str, Any]:
        """The faults as a JSON-ready dict."""
        return {
            "error_steps_past_end": {
                "count": len(self.past_end),
                "instances": [
                    {"id": f.id, "error_steps": list(f.error_steps), "steps": f.num_steps, "source": f.source}
                    for f in self.past_end
                ],
            },
            "duplicate_ids": {
                "count": len(self.duplicates),
                "instances": [
                    {"id": f.id, "sources": list(f.sources), "same_content": f.same_content}
                    for f in self.duplicates
                ],
            },
        }


def _string_list(record: Mapping[str, Any], name: str, *, path: str, line: int) -> tuple[str, ...]:
    items = require(record, name, list, path=path, line=line)
    if not items:
        raise InputError("expected a non-empty list of steps", path=path, line=line, field=name)
    return tuple(check_type(item, f"{name}[{i}]", str, path=path, line=line) for i, item in enumerate(items))


def _error_steps(record: Mapping[str, Any], *, path: str, line: int) -> tuple[int, ...]:
    items = require(record, "error_steps", list, path=path, line=line)
    steps = []
    for i, item in enumerate(items):
        value = check_type(item, f"error_steps[{i}]", int, path=path, line=line)
        if value < 1:
            raise InputError(
                f"step indices are 1-based, got {value}", path=path, line=line, field="error_steps"
            )
        steps.append(value)
    return tuple(sorted(set(steps)))


def _records(spec: str) -> Iterable[tuple[str, int, Mapping[str, Any]]]:
    """(source, line or row number, record) for every record of the spec."""
    if spec.startswith("hf:"):
        for row, record in enumerate(hub_records(parse_hub_spec(spec, default_split="train")), start=1):
            yield spec, row, record
        return
    path = Path(spec)
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise InputError("directory holds no .jsonl files", path=path)
    else:
        files = [path]
    for file in files:
        for line, record in iter_jsonl(file):
            yield str(file), line, record


def _instances_of(record: Mapping[str, Any], *, path: str, line: int) -> list[PRMInstance]:
    category = require(record, "classification", str, path=path, line=line)
    if category not in CATEGORY_KEYS:
        raise InputError(
            f"unknown classification {category!r} (expected one of {', '.join(CATEGORY_KEYS)})",
            path=path,
            line=line,
            field="classification",
        )
    idx = require_text(record, "idx", path=path, line=line)
    source = f"{path}:{line}"
    made = []
    if category == "redundency":
        made.append(
            PRMInstance(
                id=f"{CORRECT}_{idx}",
                category=CORRECT,
                idx=idx,
                question=require(record, "original_question", str, path=path, line=line),
                steps=_string_list(record, "original_process", path=path, line=line),
                error_steps=(),
                source=source,
            )
        )
    made.append(
        PRMInstance(
            id=f"{category}_{idx}",
            category=category,
            idx=idx,
            question=require(record, "modified_question", str, path=path, line=line),
            steps=_string_list(record, "modified_process", path=path, line=line),
            error_steps=_error_steps(record, path=path, line=line),
            source=source,
        )
    )
    return made


def load_prmbench(spec: str, *, limit: int | None = None) -> PRMBench:
    """Read and check every record; ``limit`` keeps the first N records (for quick runs)."""
    chosen: dict[str, PRMInstance] = {}
    repeats: dict[str, list[PRMInstance]] = {}
    past_end: list[PastEndFault] = []
    records = 0
    for path, line, record in _records(spec):
        if limit is not None and records >= limit:
            break
        records += 1
        for instance in _instances_of(record, path=path, line=line):
            if instance.id in chosen:
                repeats.setdefault(instance.id, []).append(instance)
                continue
            chosen[instance.id] = instance
            if instance.error_steps and instance.error_steps[-1] > len(instance.steps):
                past_end.append(
                    PastEndFault(instance.id, instance.error_steps, len(instance.steps), instance.source)
                )
    if not chosen:
        raise InputError("no PRMBench records", path=spec)
    duplicates = tuple(
        DuplicateFault(
            id=key,
            sources=(chosen[key].source, *(other.source for other in others)),
            same_content=all(_same_content(chosen[key], other) for other in others),
        )
        for key, others in repeats.items()
    )
    return PRMBench(spec, tuple(chosen.values()), tuple(past_end), duplicates, records)


def _same_content(a: PRMInstance, b: PRMInstance) -> bool:
    return (a.question, a.steps, a.error_steps) == (b.question, b.steps, b.error_steps)


def category_counts(instances: Sequence[PRMInstance]) -> dict[str, dict[str, int]]:
    """Instances, steps and erroneous steps per category (``correct`` included), in table order."""
    counts: dict[str, dict[str, int]] = {}
    for key in (*CATEGORY_KEYS, CORRECT):
        chosen = [i for i in instances if i.category == key]
        if chosen:
            counts[key] = {
                "instances": len(chosen),
                "steps": sum(len(i.steps) for i in chosen),
                "error_steps": sum(len(i.error_positions) for i in chosen),
            }
    return counts


def stratified_sample(bench: PRMBench, n: int, *, seed: int = SAMPLE_SEED) -> tuple[str, ...]:
    """The ids of ``n`` records' instances spread over the nine categories as evenly as they allow.

    Each category's records (``{classification}_{idx}``: one per record, the first occurrence of
    a repeated id) are shuffled with ``seed``, and so is the order of the categories; the sample
    is the first ``n`` picks of a round robin over the categories in that order, each giving its
    next record until it has none left. So the counts of two categories differ by at most one
    unless one runs out (its share then goes to the others), the first categories in the shuffled
    order take the remainder, and a larger ``n`` keeps every record of a smaller one (a run grown
    from ``--limit 90`` to ``--limit 400`` scores none again). Ids come back in data order.
    """
    if n < 1:
        raise ValueError(f"a sample needs at least one record, got {n}")
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {key: [] for key in CATEGORY_KEYS}
    for instance in bench.instances:
        if instance.category != CORRECT:
            pools[instance.category].append(instance.id)
    for key in CATEGORY_KEYS:
        rng.shuffle(pools[key])
    order = [key for key in CATEGORY_KEYS if pools[key]]
    rng.shuffle(order)
    chosen: set[str] = set()
    depth = 0
    while len(chosen) < n and order:
        order = [key for key in order if depth < len(pools[key])]
        for key in order:
            if len(chosen) == n:
                break
            chosen.add(pools[key][depth])
        depth += 1
    return tuple(i.id for i in bench.instances if i.id in chosen)


def select_records(bench: PRMBench, ids: Sequence[str]) -> PRMBench:
    """The part of ``bench`` made from the records whose instances are ``ids`` (``correct_{idx}``
    comes with ``redundency_{idx}``), in data order, with their faults; ``records`` counts them."""
    unknown = [i for i in ids if i not in bench.by_id or bench.by_id[i].category == CORRECT]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f", … ({len(unknown) - 5} more)" if len(unknown) > 5 else "")
        raise InputError(
            f"{len(unknown)} selected instance(s) are not records of the data: {shown}", path=bench.spec
        )
    keep = set(ids)
    keep |= {f"{CORRECT}_{bench.by_id[i].idx}" for i in ids if bench.by_id[i].category == "redundency"}
    return replace(
        bench,
        instances=tuple(i for i in bench.instances if i.id in keep),
        past_end=tuple(f for f in bench.past_end if f.id in keep),
        duplicates=tuple(f for f in bench.duplicates if f.id in keep),
        records=len(set(ids)),
    )


def select_data(
    data: str,
    *,
    limit: int | None = None,
    first: int | None = None,
    seed: int = SAMPLE_SEED,
    recorded: Mapping[str, Any] | None = None,
) -> tuple[PRMBench, dict[str, Any]]:
    """The instances a PRM run scores, and the manifest fields that say which: ``limit`` and
    ``first`` as given, ``records``, and for a stratified sample ``selection`` (its size, seed and
    ids). ``recorded`` is the run directory's manifest, if any: where it holds a sample of the same
    data, size and seed, its ids are used again rather than drawn anew."""
    if first is not None and limit is not None:
        raise InputError("give either a stratified sample (--limit) or the first records (--first), not both")
    fields: dict[str, Any] = {"limit": limit, "first": first}
    if limit is None:
        bench = load_prmbench(data, limit=first)
        return bench, {**fields, "records": bench.records}
    everything = load_prmbench(data)
    previous = recorded.get("selection") if recorded and recorded.get("data") == data else None
    if (
        isinstance(previous, Mapping)
        and previous.get("method") == "stratified"
        and previous.get("size") == limit
        and previous.get("seed") == seed
    ):
        ids = tuple(str(i) for i in previous.get("ids", ()))
    else:
        ids = stratified_sample(everything, limit, seed=seed)
    bench = select_records(everything, ids)
    selection = {"method": "stratified", "size": limit, "seed": seed, "ids": list(ids)}
    return bench, {**fields, "records": bench.records, "selection": selection}


def load_run_data(manifest: Mapping[str, Any]) -> PRMBench:
    """The instances a PRM run's manifest says it scores. (A run made before stratified samples
    recorded only ``limit``, which then meant the first records.)"""
    selection = manifest.get("selection")
    if isinstance(selection, Mapping):
        return select_records(load_prmbench(manifest["data"]), [str(i) for i in selection["ids"]])
    first = manifest.get("first", manifest.get("limit"))
    return load_prmbench(manifest["data"], limit=None if first is None else int(first))
