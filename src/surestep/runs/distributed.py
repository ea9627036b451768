"""Runs spread out: a shard of the problems (``--shard i/N``), Ray replicas (``--ray``), or both.

``generate_placed`` makes a run's missing draws the way ``runner.generate`` does (same plan,
seeds, config keys and store), only over a shard's problems and/or on Ray replicas, and with a
grading config it grades the draws in a thread of this process while they are generated, so
the run is graded soon after its last draw lands. ``distributed_prm`` does the same for ``prm
run``. In every case this process is the only writer of the run directory; see docs/scale-out.md.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from surestep.errors import SurestepError
from surestep.runs.ray_cluster import RayOptions
from surestep.runs.shards import Shard, check_shard, parse_shard

if TYPE_CHECKING:
    from surestep.grading.grader import GradingConfig, GradingStats
    from surestep.models.base import Backend
    from surestep.runs.pipeline import GenerationProgress
    from surestep.runs.runner import GenerateRequest, GenerateResult

Callback = Callable[["GenerationProgress"], None]


@dataclass(frozen=True)
class Placement:
    """Where a run's work goes: ``shard`` (None: all of it) on ``ray`` replicas (None: in this process)."""

    shard: Shard | None = None
    ray: RayOptions | None = None

    @property
    def spread(self) -> bool:
        """True when this is not the plain single-process run of the whole data."""
        return self.shard is not None or self.ray is not None


def placement_from_options(
    ray: str | None, replicas: int | None, gpus_per_replica: float | None, shard: str | None
) -> Placement:
    """The placement of ``--ray [ADDRESS|local] --replicas N --gpus-per-replica G --shard i/N``."""
    if ray is None and (replicas is not None or gpus_per_replica is not None):
        raise SurestepError("--replicas and --gpus-per-replica go with --ray")
    options = None
    if ray is not None:
        options = RayOptions(address=ray, replicas=replicas or 1, gpus_per_replica=gpus_per_replica)
    return Placement(None if shard is None else parse_shard(shard), options)


# --- generation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedGeneration:
    """A placed generation and, when grading was asked for, the grades made alongside it.

    ``graded_early``: draws graded before the last draw landed (the rest were graded after).
    """

    generation: GenerateResult
    grading: GradingStats | None
    graded_early: int


def generate_placed(
    request: GenerateRequest,
    placement: Placement,
    *,
    grading: GradingConfig | None = None,
    on_start: Callback | None = None,
    on_update: Callback | None = None,
) -> PlacedGeneration:
    """Generate the run's missing draws as ``placement`` says (grading alongside with ``grading``)."""
    return asyncio.run(
        generate_placed_async(request, placement, grading=grading, on_start=on_start, on_update=on_update)
    )


async def generate_placed_async(
    request: GenerateRequest,
    placement: Placement,
    *,
    grading: GradingConfig | None = None,
    on_start: Callback | None = None,
    on_update: Callback | None = None,
) -> PlacedGeneration:
    """``generate_placed`` on the running event loop."""
    check_shard(request.out, placement.shard)
    alongside = None if grading is None else _GradingAlongside(request.out, grading)

    def started(progress: GenerationProgress) -> None:
        if alongside is not None:
            alongside.start()
        if on_start is not None:
            on_start(progress)

    def updated(progress: GenerationProgress) -> None:
        if alongside is not None:
            alongside.landed(progress.done)
        if on_update is not None:
            on_update(progress)

    began = time.perf_counter()
    try:
        if placement.ray is None:
            result = await _generate(request, placement.shard, None, started, updated)
        else:
            result = await _generate_on_ray(request, placement.shard, placement.ray, started, updated)
    finally:
        stats = alongside.finish() if alongside is not None else None
    _record_phases(request.out, result, time.perf_counter() - began, stats)
    return PlacedGeneration(result, stats, alongside.early if alongside is not None else 0)


async def _generate_on_ray(
    request: GenerateRequest,
    shard: Shard | None,
    options: RayOptions,
    on_start: Callback,
    on_update: Callback,
) -> GenerateResult:
    from surestep.runs.pipeline import record_engines
    from surestep.runs.ray_cluster import ray_session
    from surestep.runs.ray_generation import ReplicaPool, registered_backend_factory
    from surestep.runs.store import RunStore

    factory = registered_backend_factory(
        request.model, draws_per_request=request.plan.draws_per_request, **request.backend_options
    )
    with ray_session(options):
        async with ReplicaPool(factory, options) as pool:
            result = await _generate(request, shard, pool, on_start, on_update)
            if result.progress.total:  # replicas that loaded after the start say what they ran too
                with RunStore(request.out) as store:
                    manifest = store.manifest()
                    assert manifest is not None
                    await record_engines(store, pool, manifest)
    return result


async def _generate(
    request: GenerateRequest,
    shard: Shard | None,
    backend: Backend | None,
    on_start: Callback,
    on_update: Callback,
) -> GenerateResult:
    """``runner.generate_async`` over all problems, or the same over one shard's."""
    from surestep.runs.runner import generate_async

    if shard is None:
        return await generate_async(request, on_start=on_start, on_update=on_update, backend=backend)
    return await _generate_shard(request, shard, backend, on_start, on_update)


async def _generate_shard(
    request: GenerateRequest, shard: Shard, backend: Backend | None, on_start: Callback, on_update: Callback
) -> GenerateResult:
    """``runner.generate_async`` over the shard's problems; the manifest is the whole run's plus the shard.

    The dataset hash, and so the config keys and seeds, are the whole data set's; ``problems``
    counts the shard's, and ``shard`` records which they are.
    """
    from surestep.data.problems import load_problems
    from surestep.models import load_backend
    from surestep.runs.pipeline import (
        GenerationProgress,
        build_manifest,
        plan_jobs,
        reconcile_manifest,
        record_engines,
        run_jobs,
    )
    from surestep.runs.runner import GenerateResult, _refuse_foreign_directory
    from surestep.runs.store import RunStore

    dataset = request.dataset
    problem_set = load_problems(dataset.spec, dataset.fields, level=dataset.level, limit=dataset.limit)
    chosen = shard.select(problem_set.problems)
    prompts = {p.id: request.template.render(p) for p in chosen}
    _refuse_foreign_directory(request.out)
    if backend is None:
        backend = load_backend(
            request.model, draws_per_request=request.plan.draws_per_request, **request.backend_options
        )
    new = build_manifest(
        backend,
        request.plan,
        request.template,
        problem_set,
        model_spec=f"{request.model.backend}:{request.model.model}",
        protocol=dict(request.protocol),
        shard=shard.to_json(len(problem_set.problems)),
    )
    new["problems"] = len(chosen)
    with RunStore(request.out, create=True) as store:
        manifest = reconcile_manifest(store.manifest(), new, str(request.out))
        store.save_problems(chosen, [prompts[p.id] for p in chosen])
        store.save_manifest(manifest)
        jobs = plan_jobs(store, prompts, manifest, request.plan)
        progress = GenerationProgress(total=sum(len(j.indices) for j in jobs))
        on_start(progress)
        try:
            if jobs:
                await record_engines(store, backend, manifest)
            await run_jobs(store, backend, jobs, progress, on_update)
        finally:
            await backend.aclose()
        return GenerateResult(manifest, progress, progress.total - progress.done, store.write_seconds)


def _record_phases(out: Path, result: GenerateResult, seconds: float, grading: GradingStats | None) -> None:
    """Add this session's generation (and alongside grading) to the run's phase times."""
    from surestep.runs.store import RunStore

    if not result.progress.total and not (grading and grading.draws):
        return
    with RunStore(out) as store:
        if result.progress.total:
            store.add_phase_time("generate", seconds, result.progress.done)
        if grading is not None and grading.draws:
            store.add_phase_time("grade", grading.seconds, grading.draws)


class _GradingAlongside:
    """Grades a run's new draws in a thread of its own while generation goes on, then the rest.

    Woken as draws land, it grades once enough are new (a tenth of those landed so far, between
    1 and 1,000, so a long run is not rescanned for every draw); ``finish`` grades whatever is
    left once the last draw is committed. It writes grades through its own connection, in this
    process: the store still has one writer process.
    """

    def __init__(self, out: Path, config: GradingConfig) -> None:
        from surestep.grading.grader import GradingStats

        self._out = out
        self._config = config
        self._changed = threading.Condition()
        self._landed = 0
        self._finished = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="surestep-grading-alongside", daemon=True)
        self.stats = GradingStats()
        self.early = 0

    def start(self) -> None:
        if not self._thread.is_alive() and not self._finished:
            self._thread.start()

    def landed(self, done: int) -> None:
        with self._changed:
            self._landed = done
            self._changed.notify()

    def finish(self) -> GradingStats:
        """Grade what is left (the caller's draws are all committed by now) and return the counts."""
        with self._changed:
            self._finished = True
            self._changed.notify()
        if self._thread.ident is None:  # generation never got going: nothing new to grade
            return self.stats
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.stats

    def _due(self, seen: int) -> bool:
        return self._finished or self._landed - seen >= max(1, min(1000, self._landed // 10))

    def _run(self) -> None:
        from surestep.grading.grader import Grader
        from surestep.runs.pipeline import grade_run
        from surestep.runs.store import RunStore

        try:
            with RunStore(self._out) as store, Grader(self._config) as grader:
                manifest = store.manifest()
                if manifest is None:
                    return
                seen = 0
                while True:
                    with self._changed:
                        self._changed.wait_for(functools.partial(self._due, seen))
                        finished, seen = self._finished, self._landed
                    stats = grade_run(store, grader, manifest)
                    self.stats.add(stats)
                    self.stats.seconds += stats.seconds
                    if not finished:
                        self.early += stats.draws
                    if finished:
                        return
        except BaseException as exc:  # surfaced by finish()
            self._error = exc
