"""PRM scoring on Ray: scorer replicas as actors, chunks handed out by the driver.

The driver sorts the unfinished instances by length and cuts them into chunks, so each
chunk's instances are alike in length and the scorer's length buckets inside it pad little;
it keeps two chunks in flight on each replica (one running, one waiting, so a replica never
idles while the driver commits) and yields each chunk's results as it comes back, for the
driver to commit into the run's prediction store. A chunk whose replica dies goes back to the
front of the queue for another replica.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from surestep.errors import SurestepError
from surestep.prm.data import PRMInstance
from surestep.prm.scorers.base import SolutionToScore, StepScores
from surestep.prm.scorers.registry import PRMScorerConfig, build_scorer
from surestep.runs.ray_cluster import (
    RayOptions,
    crash_marker,
    crash_once,
    plan_resources,
    quiet_progress_bars,
    ray_session,
)

Chunk = Sequence[tuple[int, PRMInstance]]
"""Instances to score together, each with its position in the data."""
IN_FLIGHT_PER_REPLICA = 2


class PRMReplica:
    """The body of one scorer actor: builds the scorer once, then scores the chunks it is sent."""

    def __init__(self, scorer: str, model: str, options: PRMScorerConfig, crash: str | None) -> None:
        quiet_progress_bars()
        self._scorer = build_scorer(scorer, model, options)
        self._crash = crash

    def score(self, items: list[SolutionToScore]) -> tuple[list[StepScores], float]:
        """The results of one chunk and the seconds the scorer took."""
        crash_once(self._crash)
        began = time.perf_counter()
        results = self._scorer.score(items)
        return results, time.perf_counter() - began


@dataclass
class _Replica:
    handle: Any
    in_flight: int = 0
    alive: bool = True
    error: str | None = None


def score_on_replicas(
    scorer: str, model: str, options: PRMScorerConfig, ray_options: RayOptions, chunks: Sequence[Chunk]
) -> Iterator[tuple[Chunk, list[StepScores], float]]:
    """(chunk, its results, scorer seconds) for every chunk, in the order they finish."""
    if not chunks:
        return
    with ray_session(ray_options) as ray:
        resources = plan_resources(ray, ray_options)
        actor = ray.remote(PRMReplica).options(**resources.actor_options())
        crash = crash_marker()
        replicas = [
            _Replica(actor.remote(scorer, model, options, crash)) for _ in range(ray_options.replicas)
        ]
        try:
            yield from _hand_out(ray, replicas, chunks)
        finally:
            for replica in replicas:
                ray.kill(replica.handle, no_restart=True)


def _hand_out(
    ray: Any, replicas: list[_Replica], chunks: Sequence[Chunk]
) -> Iterator[tuple[Chunk, list[StepScores], float]]:
    queue = deque(range(len(chunks)))
    in_flight: dict[Any, tuple[_Replica, int]] = {}
    while queue or in_flight:
        for replica in replicas:
            while replica.alive and queue and replica.in_flight < IN_FLIGHT_PER_REPLICA:
                index = queue.popleft()
                items = [SolutionToScore(i.id, i.question, i.steps) for _, i in chunks[index]]
                in_flight[replica.handle.score.remote(items)] = (replica, index)
                replica.in_flight += 1
        if not in_flight:
            errors = "; ".join(f"replica-{n}: {r.error}" for n, r in enumerate(replicas))
            raise SurestepError(f"every Ray replica has died ({errors}); run the same command to resume")
        [ref], _ = ray.wait(list(in_flight), num_returns=1)
        replica, index = in_flight.pop(ref)
        replica.in_flight -= 1
        try:
            results, seconds = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            replica.alive, replica.error = False, _first_line(exc)
            queue.appendleft(index)
            continue
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            raise SurestepError(f"scoring failed on a Ray replica: {cause or _first_line(exc)}") from None
        yield chunks[index], results, seconds


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
