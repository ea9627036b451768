"""The thin runner behind ``surestep run`` / ``generate`` / ``export``: wires data, model and store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surestep.data.problems import FieldMap, load_problems
from surestep.data.prompts import PromptTemplate
from surestep.errors import SurestepError
from surestep.models import ModelSpec, load_backend
from surestep.models.base import Backend
from surestep.runs.manifest import GREEDY, MANIFEST_FILE, SAMPLE, RunManifest
from surestep.runs.pipeline import (
    GenerationPlan,
    GenerationProgress,
    build_manifest,
    plan_jobs,
    reconcile_manifest,
    record_engines,
    run_jobs,
)
from surestep.runs.store import DATABASE, RunStore


@dataclass(frozen=True)
class DatasetRequest:
    spec: str
    fields: FieldMap = field(default_factory=FieldMap)
    level: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class GenerateRequest:
    out: Path
    model: ModelSpec
    dataset: DatasetRequest
    template: PromptTemplate
    plan: GenerationPlan
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    protocol: Mapping[str, Any] = field(default_factory=dict)
    invocation: Mapping[str, Any] | None = None  # the command line `surestep resume` repeats


@dataclass(frozen=True)
class GenerateResult:
    manifest: dict[str, Any]
    progress: GenerationProgress
    missing: int
    store_write_seconds: float


def generate(
    request: GenerateRequest,
    *,
    on_start: Callable[[GenerationProgress], None] | None = None,
    on_update: Callable[[GenerationProgress], None] | None = None,
    backend: Backend | None = None,
) -> GenerateResult:
    """Generate every missing draw of the run in ``request.out`` (creating the run if new)."""
    return asyncio.run(generate_async(request, on_start=on_start, on_update=on_update, backend=backend))


async def generate_async(
    request: GenerateRequest,
    *,
    on_start: Callable[[GenerationProgress], None] | None = None,
    on_update: Callable[[GenerationProgress], None] | None = None,
    backend: Backend | None = None,
) -> GenerateResult:
    """``generate`` on the running event loop."""
    problem_set = load_problems(
        request.dataset.spec, request.dataset.fields, level=request.dataset.level, limit=request.dataset.limit
    )
    prompts = {p.id: request.template.render(p) for p in problem_set.problems}
    _refuse_foreign_directory(request.out)
    if backend is None:
        backend = load_backend(
            request.model, draws_per_request=request.plan.draws_per_request, **request.backend_options
        )
    with RunStore(request.out, create=True) as store:
        manifest = reconcile_manifest(
            store.manifest(),
            build_manifest(
                backend,
                request.plan,
                request.template,
                problem_set,
                model_spec=f"{request.model.backend}:{request.model.model}",
                protocol=dict(request.protocol),
                **({} if request.invocation is None else {"invocation": dict(request.invocation)}),
            ),
            str(request.out),
        )
        store.save_problems(problem_set.problems, [prompts[p.id] for p in problem_set.problems])
        store.save_manifest(manifest)
        jobs = plan_jobs(store, prompts, manifest, request.plan)
        progress = GenerationProgress(total=sum(len(j.indices) for j in jobs))
        if on_start is not None:
            on_start(progress)

        async def main() -> None:
            try:
                if jobs:  # the engines that make draws; a finished run asks nothing
                    await record_engines(store, backend, manifest)
                await run_jobs(store, backend, jobs, progress, on_update)
            finally:
                await backend.aclose()

        await main()
        missing = progress.total - progress.done
        return GenerateResult(manifest, progress, missing, store.write_seconds)


def _refuse_foreign_directory(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SurestepError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / DATABASE).exists():
        raise SurestepError(f"--out {out}: directory is not empty and is not a surestep run")


def open_run(directory: Path) -> tuple[RunStore, dict[str, Any]]:
    store = RunStore(directory)
    manifest = store.manifest()
    if manifest is None:
        store.close()
        raise SurestepError(f"{directory}: run has no manifest (was it created by surestep generate?)")
    try:
        RunManifest.from_json(manifest, directory / MANIFEST_FILE)  # types, and no newer schema
    except SurestepError:
        store.close()
        raise
    return store, manifest


def export_rows(store: RunStore, manifest: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every draw with its problem and grade, in the shape ``surestep score`` and ``grade`` read."""
    problems = store.problems()
    for kind in (SAMPLE, GREEDY):
        config = manifest["configs"][kind]
        grades = store.grades(config)
        draws: dict[str, list[Any]] = {}
        for draw in store.draws(config):
            draws.setdefault(draw.problem_id, []).append(draw)
        for problem, _prompt in problems:
            for draw in draws.get(problem.id, []):
                row: dict[str, Any] = {
                    "problem_id": problem.id,
                    "sample_index": draw.draw_index,
                    "greedy": kind == GREEDY,
                    "subset": problem.subset,
                    "question": problem.question,
                    "gold": problem.answer,
                    "response": draw.text,
                    "finish_reason": draw.finish_reason,
                    "prompt_tokens": draw.prompt_tokens,
                    "completion_tokens": draw.completion_tokens,
                    "latency": draw.latency,
                    "seed": draw.seed,
                }
                if problem.options:
                    row["options"] = dict(problem.options)
                grade = grades.get((problem.id, draw.draw_index))
                if grade is not None:
                    row.update(
                        correct=grade.correct,
                        verdict=grade.verdict,
                        extracted_answer=grade.extracted_answer,
                        extraction_rule=grade.extraction_rule,
                        grader=grade.grader,
                        grader_version=grade.grader_version,
                        answer=grade.extracted_answer,
                    )
                yield row


def export_run(run_dir: Path, output: Path) -> int:
    """``surestep export``: write a run's draws (with grades) to ``output`` as JSONL, atomically;
    returns how many."""
    from surestep.runs.grading_job import write_jsonl_atomic

    store, manifest = open_run(run_dir)
    with store:
        rows = list(export_rows(store, manifest))
    write_jsonl_atomic(output, rows)
    return len(rows)
