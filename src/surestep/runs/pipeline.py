"""The resumable pipeline: generate what is missing, grade what is ungraded, read back for scoring.

Generation is planned from the store, so re-running the same command generates only
the missing draws. Draws are split into aligned blocks of ``draws_per_request``; each
block is one request. The seed stored with a draw is the seed it was generated with
(``draw_seed``): the block's seed, derived from (run seed, problem, block start), plus
the draw's place in the block — the seed vLLM gives choice i of an ``n`` request. So a
resumed run asks for exactly the requests an uninterrupted run would have asked for and,
with a deterministic server, gets identical draws.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from typing import Any

from surestep.data.draws import DrawRecord
from surestep.data.problems import ProblemSet
from surestep.data.prompts import PromptTemplate
from surestep.errors import SurestepError
from surestep.grading import Grader, GradeRequest, GradingStats
from surestep.models.base import Backend, GenerationError, GenerationRequest, SamplingParams
from surestep.runs.manifest import (
    GREEDY,
    IDENTITY_FIELDS,
    MANIFEST_FILE,
    MANIFEST_SCHEMA_VERSION,
    SAMPLE,
    RunManifest,
    config_key,
)
from surestep.runs.store import RunStore, changed_fields_error


@dataclass(frozen=True)
class GenerationPlan:
    """What to generate: n sampled draws per problem (and one greedy draw when ``greedy``).

    ``seed`` None sends no seed at all (for servers that reject or mishandle seeds).
    """

    n: int
    sampling: SamplingParams
    greedy: bool = True
    seed: int | None = 0
    draws_per_request: int = 1
    system: str | None = None

    @property
    def greedy_sampling(self) -> SamplingParams:
        s = self.sampling
        return SamplingParams(0.0, 1.0, None, s.max_tokens, s.stop)


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from the parts, stable across processes and platforms."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def draw_seed(plan: GenerationPlan, problem_id: str, kind: str, index: int) -> int | None:
    """The seed of one draw: its block's seed plus its place in the block (None without a run seed).

    A block of ``draws_per_request`` draws starting at b has seed derive_seed(run seed, problem,
    kind, b); draw b + j gets that seed + j. One request per draw sends the draw's own seed; one
    ``n`` request for draws b + j .. sends the first of them, and vLLM seeds choice i with
    seed + i, so each stored seed is the one the draw was generated with.
    """
    if plan.seed is None:
        return None
    start = index - index % max(1, plan.draws_per_request)
    return derive_seed(plan.seed, problem_id, kind, start) + index - start


def consecutive_runs(indices: Sequence[int]) -> list[list[int]]:
    """Sorted indices split where they skip: [0, 1, 3] -> [[0, 1], [3]]."""
    runs: list[list[int]] = []
    for index in sorted(indices):
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def build_manifest(
    backend: Backend, plan: GenerationPlan, template: PromptTemplate, problem_set: ProblemSet, **extra: Any
) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "surestep_version": version("surestep"),
        "model": backend.identity(),
        "sampling": plan.sampling.to_json(),
        "greedy_sampling": plan.greedy_sampling.to_json(),
        "n": plan.n,
        "greedy": plan.greedy,
        "seed": plan.seed,
        "draws_per_request": plan.draws_per_request,
        "prompt": template.identity(),
        "system": plan.system,
        "dataset": problem_set.spec,
        "dataset_hash": problem_set.content_hash,
        "problems": len(problem_set.problems),
        **extra,
    }
    identity = {name: manifest[name] for name in IDENTITY_FIELDS}
    manifest["configs"] = {
        SAMPLE: config_key({"kind": SAMPLE, **identity}),
        GREEDY: config_key({"kind": GREEDY, **{k: v for k, v in identity.items() if k != "sampling"}}),
    }
    return manifest


def reconcile_manifest(
    existing: Mapping[str, Any] | None, new: dict[str, Any], directory: str
) -> dict[str, Any]:
    """The manifest to keep: refuses a changed model, sampling, prompt, seed or dataset."""
    if existing is None:
        return new
    RunManifest.from_json(existing, f"{directory}/{MANIFEST_FILE}")  # refuses a newer schema
    error = changed_fields_error(
        existing,
        new,
        IDENTITY_FIELDS,
        f"{directory} was made with a different generation setup; refusing to mix draws.",
    )
    if error is not None:
        raise error
    kept = dict(existing)
    kept["n"] = max(int(existing.get("n", 0)), new["n"])
    kept["greedy"] = bool(existing.get("greedy")) or new["greedy"]
    kept["surestep_version"] = new["surestep_version"]
    kept["schema_version"] = new["schema_version"]  # an unversioned manifest holds schema 1's fields
    if new.get("invocation") is not None:  # the latest command is the one `surestep resume` repeats
        kept["invocation"] = new["invocation"]
    return kept


@dataclass(frozen=True)
class _Job:
    problem_id: str
    config: str
    indices: tuple[int, ...]
    seeds: tuple[int | None, ...]
    request: GenerationRequest


def plan_jobs(
    store: RunStore, prompts: Mapping[str, str], manifest: Mapping[str, Any], plan: GenerationPlan
) -> list[_Job]:
    """Requests for every missing draw, in problem order, sampled blocks first.

    The missing draws of a block go out as one request per run of consecutive indices (a block
    is stored whole, so a gap appears only where a raised n opens a block's tail), which keeps
    every stored seed the one the server was sent or derived by its seed + i rule.
    """
    jobs: list[_Job] = []
    configs = manifest["configs"]
    block = max(1, plan.draws_per_request)
    present = store.draw_indices(configs[SAMPLE])
    for problem_id, prompt in prompts.items():
        messages = _messages(prompt, plan.system)
        have = present.get(problem_id, set())
        for start in range(0, plan.n, block):
            missing = [i for i in range(start, min(start + block, plan.n)) if i not in have]
            for run in consecutive_runs(missing):
                seeds = tuple(draw_seed(plan, problem_id, SAMPLE, i) for i in run)
                request = GenerationRequest(messages, plan.sampling, seeds)
                jobs.append(_Job(problem_id, configs[SAMPLE], tuple(run), seeds, request))
    if plan.greedy:
        have_greedy = store.draw_indices(configs[GREEDY])
        for problem_id, prompt in prompts.items():
            if 0 in have_greedy.get(problem_id, set()):
                continue
            seeds = (draw_seed(plan, problem_id, GREEDY, 0),)
            request = GenerationRequest(_messages(prompt, plan.system), plan.greedy_sampling, seeds)
            jobs.append(_Job(problem_id, configs[GREEDY], (0,), seeds, request))
    return jobs


def _messages(prompt: str, system: str | None) -> tuple[tuple[str, str], ...]:
    return ((("system", system),) if system else ()) + (("user", prompt),)


@dataclass
class GenerationProgress:
    """Counters the progress display reads; updated as each request completes.

    ``per_server``: draws by the server that produced them (empty for a local model).
    """

    total: int
    done: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    last_error: str | None = None
    per_server: dict[str, int] = field(default_factory=dict)

    @property
    def draws_per_second(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0


async def run_jobs(
    store: RunStore,
    backend: Backend,
    jobs: Sequence[_Job],
    progress: GenerationProgress,
    on_update: Callable[[GenerationProgress], None] | None = None,
) -> None:
    """Run the jobs with at most ``backend.max_concurrency`` in flight, committing each as it ends."""
    queue: asyncio.Queue[_Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    writer = store.draw_writer()

    async def worker() -> None:
        while True:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                completions = await backend.generate(job.request)
            except GenerationError as exc:
                progress.errors += len(job.indices)
                progress.last_error = str(exc)
            else:
                writer.put(job.problem_id, job.config, job.indices, job.seeds, completions)
                progress.done += len(completions)
                progress.prompt_tokens += sum(c.prompt_tokens or 0 for c in completions)
                progress.completion_tokens += sum(c.completion_tokens or 0 for c in completions)
                for c in completions:
                    if c.server is not None:
                        progress.per_server[c.server] = progress.per_server.get(c.server, 0) + 1
            if on_update is not None:
                on_update(progress)

    workers = max(1, min(backend.max_concurrency, len(jobs)))
    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        writer.close()
        store.write_seconds += writer.write_seconds


def merge_engines(
    known: Sequence[Mapping[str, Any]] | None, found: Sequence[Mapping[str, Any]], seen: str
) -> list[dict[str, Any]]:
    """The manifest's engines: those known, plus each one found that reports something new.

    Each record is ``{"server", "reported", "first_seen"}``; a server that reports the same as
    before adds nothing, a restarted server with another version adds a record.
    """
    merged = [dict(record) for record in known or ()]
    for record in found:
        same = any(
            old.get("server") == record["server"] and old.get("reported") == record["reported"]
            for old in merged
        )
        if not same:
            merged.append({**record, "first_seen": seen})
    return merged


async def record_engines(store: RunStore, backend: Backend, manifest: dict[str, Any]) -> None:
    """Ask the backend what runs the model and add what is new to the manifest's ``engines``.

    Informational: never compared on resume, so a restarted or upgraded server never blocks one.
    """
    found = await backend.engines()
    seen = datetime.now(timezone.utc).isoformat(timespec="seconds")
    engines = merge_engines(manifest.get("engines"), found, seen)
    if engines != manifest.get("engines"):
        manifest["engines"] = engines
        store.save_manifest(manifest)


def grade_run(
    store: RunStore, grader: Grader, manifest: Mapping[str, Any], *, regrade: bool = False, chunk: int = 2000
) -> GradingStats:
    """Grade every ungraded draw (all draws with ``regrade``), committing chunk by chunk."""
    problems = {p.id: p for p, _ in store.problems()}
    total = GradingStats()
    started = time.perf_counter()
    for kind in (SAMPLE, GREEDY):
        config = manifest["configs"][kind]
        draws = list(store.draws(config)) if regrade else store.ungraded(config)
        for offset in range(0, len(draws), chunk):
            part = draws[offset : offset + chunk]
            requests = []
            for d in part:
                problem = problems[d.problem_id]
                requests.append(GradeRequest(d.text, problem.answer, problem.question, problem.options))
            records, stats = grader.grade(requests)
            store.add_grades(part, records)
            total.add(stats)
    total.seconds = time.perf_counter() - started
    return total


def scored_draws(store: RunStore, manifest: Mapping[str, Any], n: int | None = None) -> list[DrawRecord]:
    """Graded draws in the ``surestep score`` shape: n sampled per problem, plus greedy ones."""
    n = n or int(manifest["n"])
    problems = [p for p, _ in store.problems()]
    subsets = {p.id: p.subset for p in problems}
    order = {p.id: i for i, p in enumerate(problems)}
    out: list[DrawRecord] = []
    kinds = [(SAMPLE, n)] + ([(GREEDY, 1)] if manifest.get("greedy") else [])
    for kind, below in kinds:
        config = manifest["configs"][kind]
        grades = store.grades(config)
        for draw in store.draws(config, below=below):
            grade = grades.get((draw.problem_id, draw.draw_index))
            if grade is None:
                raise SurestepError(
                    f"{store.directory}: draw {draw.draw_index} of problem {draw.problem_id!r} "
                    f"is not graded; run: surestep grade {store.directory}"
                )
            subset = subsets.get(draw.problem_id)
            out.append(
                DrawRecord(
                    problem_id=draw.problem_id,
                    sample_index=draw.draw_index,
                    correct=grade.correct,
                    answer=grade.extracted_answer,
                    subset=subset,
                    greedy=kind == GREEDY,
                    fields={"subset": subset},
                )
            )
    out.sort(key=lambda d: (order.get(d.problem_id, 0), d.greedy, d.sample_index))
    return out
