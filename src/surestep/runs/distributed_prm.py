"""``prm run`` spread out: a shard of the instances (``--shard i/N``), Ray replicas (``--ray``), or both.

The unfinished instances of the shard (all of them without one) are sorted by length and cut
into chunks of ``--chunk``, scored here one chunk after another or on Ray replicas
(``ray_prm``), and each chunk's results are committed by this process into the run's
prediction store as they come back, so a killed run resumes where it stopped. The manifest is
the one ``prm_run.run_prm`` writes, plus the shard.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from surestep.runs.distributed import Placement
from surestep.runs.ray_cluster import RayOptions
from surestep.runs.shards import Shard, check_shard

if TYPE_CHECKING:
    from surestep.prm.data import PRMBench, PRMInstance
    from surestep.prm.scorers.base import StepScores
    from surestep.runs.prm_run import PRMRunProgress, PRMRunRequest

PRMChunk = Sequence[tuple[int, "PRMInstance"]]


def run_placed_prm(
    request: PRMRunRequest, placement: Placement, *, progress: Callable[[PRMRunProgress], None] | None = None
) -> tuple[PRMBench, Path]:
    """``prm run`` as ``placement`` says: the shard's instances (all without one), here or on Ray."""
    from surestep.runs.prm_run import run_prm

    check_shard(request.out, placement.shard)
    if not placement.spread:
        return run_prm(request, progress=progress)
    return _run_prm_spread(request, placement, progress)


def length_ordered_chunks(todo: Sequence[tuple[int, PRMInstance]], size: int) -> list[PRMChunk]:
    """The instances shortest first (question and steps, in characters), cut into chunks of ``size``."""
    ordered = sorted(todo, key=lambda item: (len(item[1].question) + sum(map(len, item[1].steps)), item[0]))
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def _run_prm_spread(
    request: PRMRunRequest, placement: Placement, progress: Callable[[PRMRunProgress], None] | None
) -> tuple[PRMBench, Path]:
    from surestep.prm.data import select_data
    from surestep.runs.grading_job import write_jsonl_atomic
    from surestep.runs.prm_run import (
        PREDICTIONS,
        PredictionStore,
        PRMRunProgress,
        _reconcile,
        prm_manifest,
        read_manifest,
    )

    bench, selection = select_data(
        request.data,
        limit=request.limit,
        first=request.first,
        seed=request.sample_seed,
        recorded=read_manifest(request.out),
    )
    manifest = prm_manifest(request, selection)
    shard = placement.shard
    positions = range(len(bench.instances)) if shard is None else shard.positions(len(bench.instances))
    if shard is not None:
        manifest["shard"] = shard.to_json(len(bench.instances))
    _reconcile(request.out, manifest)
    store = PredictionStore(request.out)
    try:
        finished = store.finished()
        todo = [(p, bench.instances[p]) for p in positions if bench.instances[p].id not in finished]
        done, steps, _ = store.totals()
        invalid = truncated = 0
        if progress:
            progress(PRMRunProgress(done, len(positions), steps, invalid, truncated))
        for chunk, results, seconds in _score_chunks(
            request, placement.ray, length_ordered_chunks(todo, request.chunk)
        ):
            store.add([(pos, len(i.steps), r) for (pos, i), r in zip(chunk, results)], seconds)
            done += len(chunk)
            steps += sum(len(i.steps) for _, i in chunk)
            invalid += sum(not r.valid for r in results)
            truncated += sum(r.truncated_steps for r in results)
            if progress:
                progress(PRMRunProgress(done, len(positions), steps, invalid, truncated))
        path = request.out / PREDICTIONS
        write_jsonl_atomic(path, (row for row in store.rows() if row["id"] in bench.by_id))
    finally:
        store.close()
    return (bench if shard is None else _shard_of(bench, shard)), path


def _shard_of(bench: PRMBench, shard: Shard) -> PRMBench:
    """The data as a shard sees it: its instances (and their faults), so its own table can be made."""
    instances = tuple(shard.select(bench.instances))
    ids = {i.id for i in instances}
    past_end = tuple(f for f in bench.past_end if f.id in ids)
    return replace(bench, instances=instances, past_end=past_end)


ScoredChunks = Iterator[tuple[PRMChunk, "list[StepScores]", float]]


def _score_chunks(request: PRMRunRequest, ray: RayOptions | None, chunks: Sequence[PRMChunk]) -> ScoredChunks:
    """(chunk, results, seconds) for every chunk: on Ray replicas, or one after another here."""
    if ray is not None:
        from surestep.runs.ray_prm import score_on_replicas

        options = request.options
        if ray.gpus_per_replica is None and options.device == "cpu" and options.device_map is None:
            ray = replace(ray, gpus_per_replica=0.0)  # a CPU scorer takes no GPU
        return score_on_replicas(request.scorer, request.model, request.options, ray, chunks)
    return _score_here(request, chunks)


def _score_here(request: PRMRunRequest, chunks: Sequence[PRMChunk]) -> ScoredChunks:
    from surestep.prm.scorers.base import SolutionToScore
    from surestep.prm.scorers.registry import build_scorer

    scorer = None
    for chunk in chunks:
        scorer = scorer or build_scorer(request.scorer, request.model, request.options)
        began = time.perf_counter()
        results: list[StepScores] = scorer.score(
            [SolutionToScore(i.id, i.question, i.steps) for _, i in chunk]
        )
        yield chunk, results, time.perf_counter() - began
