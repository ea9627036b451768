"""Generation on Ray: engine replicas as actors behind one ``Backend`` the pipeline drives as usual.

Each replica is an async Ray actor that builds one backend of any registered kind (the
transformers ``local:`` backend, an in-process engine, even an OpenAI-compatible client) from a
picklable factory, on the GPUs Ray gives it. ``ReplicaPool`` is itself a ``Backend``: the
pipeline plans the missing draws from the store, hands each request to the pool, and commits
each request's completions as they come back, in this process alone. The pool sends a request
to the replica its prompt hashes to while that one has room (so one problem's draws meet one
engine's prefix cache), else to the least loaded. Each replica is sent a few requests more
than its backend runs at once (``queued_beyond``): they wait in the replica actor, which lets
its backend run no more than its ``max_concurrency``, so the engine starts the next request as
one ends instead of idling for the round trip to this process and back. A replica that dies
(its process ends, its node is lost) is retired and each request it held goes to another one.
Replicas join as they finish loading, so generation starts with the first.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from surestep.errors import SurestepError
from surestep.models.base import Backend, Completion, GenerationError, GenerationRequest
from surestep.runs.ray_cluster import (
    RayOptions,
    crash_marker,
    crash_once,
    import_ray,
    node_address,
    plan_resources,
    quiet_progress_bars,
)


def queued_beyond(concurrency: int) -> int:
    """Requests a replica is sent beyond what its engine runs at once: a quarter more, at least two."""
    return max(2, concurrency // 4)


BackendFactory = Callable[[], Backend]
"""Builds a replica's backend inside its actor (pickled there: a module-level function or partial)."""


def registered_backend_factory(spec: Any, **options: Any) -> BackendFactory:
    """A factory for a backend registered in ``surestep.models`` (``load_backend(spec, **options)``)."""
    from surestep.models import load_backend

    return functools.partial(load_backend, spec, **options)


@dataclass(frozen=True)
class ReplicaInfo:
    """What a replica says once its engine is loaded."""

    identity: dict[str, Any]
    max_concurrency: int
    max_draws_per_request: int
    node: str
    engines: list[dict[str, Any]]


class GenerationReplica:
    """The body of one replica actor: a backend, serving the requests it is sent concurrently."""

    def __init__(self, factory: BackendFactory, label: str, crash: str | None) -> None:
        quiet_progress_bars()
        self._backend = factory()
        self._label = label
        self._crash = crash
        self._slots: asyncio.Semaphore | None = None  # made in the actor's event loop, on first use

    async def describe(self) -> ReplicaInfo:
        node = node_address()
        engines = [
            {"server": f"{self._label} on {node}: {record.get('server')}", "reported": record.get("reported")}
            for record in await self._backend.engines()
        ]
        backend = self._backend
        return ReplicaInfo(
            backend.identity(), backend.max_concurrency, backend.max_draws_per_request, node, engines
        )

    async def generate(self, request: GenerationRequest) -> list[Completion]:
        crash_once(self._crash)
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(1, self._backend.max_concurrency))
        async with self._slots:  # the requests sent beyond the backend's concurrency wait here
            completions = await self._backend.generate(request)
        return [
            replace(c, server=self._label if c.server is None else f"{self._label}/{c.server}")
            for c in completions
        ]


@dataclass(eq=False)
class _Replica:
    """The pool's view of one replica."""

    label: str
    handle: Any
    info: ReplicaInfo | None = None
    alive: bool = True
    in_flight: int = 0
    served: int = 0
    error: str | None = None
    limit: int = field(default=1)

    @property
    def usable(self) -> bool:
        return self.alive and self.info is not None

    def has_room(self) -> bool:
        return self.in_flight < self.limit


class ReplicaPool:
    """N replica actors as one ``Backend``; use ``async with`` (the actors end with the block)."""

    name = "ray"

    def __init__(self, factory: BackendFactory, options: RayOptions) -> None:
        self._factory = factory
        self._options = options
        self._replicas: list[_Replica] = []
        self._changed: asyncio.Condition | None = None
        self._starting: list[asyncio.Task[None]] = []
        self._first: ReplicaInfo | None = None
        self.model = ""
        self.max_concurrency = 1
        self.max_draws_per_request = 1

    # --- life ----------------------------------------------------------------------------------
    async def __aenter__(self) -> ReplicaPool:
        try:
            await self.start()
        except BaseException:  # no replica could start, or we were interrupted: end what was created
            await self.shutdown()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def start(self) -> None:
        """Create the actors and wait for the first to load its engine (the rest join when ready)."""
        ray = import_ray()
        self._changed = asyncio.Condition()
        resources = plan_resources(ray, self._options)
        actor = ray.remote(GenerationReplica).options(**resources.actor_options())
        crash = crash_marker()
        for index in range(self._options.replicas):
            label = f"replica-{index}"
            handle = actor.remote(self._factory, label, crash)
            self._replicas.append(_Replica(label, handle))
        self._starting = [asyncio.create_task(self._join(replica)) for replica in self._replicas]
        async with self._changed:
            await self._changed.wait_for(lambda: self._first is not None or not self._pending_or_usable())
        if self._first is None:
            errors = "; ".join(f"{r.label}: {r.error}" for r in self._replicas)
            raise SurestepError(f"no Ray replica could start: {errors}")

    async def all_started(self) -> None:
        """Wait until every replica has loaded its engine or been retired (a benchmark starts then)."""
        await asyncio.gather(*self._starting, return_exceptions=True)

    async def shutdown(self) -> None:
        """End the actors (their GPUs go back to the cluster)."""
        ray = import_ray()
        for task in self._starting:
            task.cancel()
        for replica in self._replicas:
            ray.kill(replica.handle, no_restart=True)
            replica.alive = False

    async def _join(self, replica: _Replica) -> None:
        """Wait for a replica's engine; then it takes requests (or it is retired, with the reason)."""
        ray = import_ray()
        try:
            info: ReplicaInfo = await replica.handle.describe.remote()
        except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
            await self._retire(replica, _reason(exc))
            return
        first = self._first
        if first is not None and info.identity != first.identity:
            ray.kill(replica.handle, no_restart=True)
            await self._retire(
                replica, f"serves {json.dumps(info.identity)}, not {json.dumps(first.identity)}"
            )
            return
        if first is None:
            self._first = info
            self.model = str(info.identity.get("model", ""))
            limit = max(1, info.max_concurrency)
            self.max_concurrency = (limit + queued_beyond(limit)) * len(self._replicas)
            self.max_draws_per_request = info.max_draws_per_request
        limit = max(1, info.max_concurrency)
        replica.info, replica.limit = info, limit + queued_beyond(limit)
        await self._notify()

    # --- the Backend protocol ------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """The replicas' backend identity: a run on Ray has the config keys of the same run without."""
        assert self._first is not None, "start() the pool first"
        return dict(self._first.identity)

    async def engines(self) -> list[dict[str, Any]]:
        """What runs the model on each replica that has loaded so far."""
        return [record for r in self._replicas if r.info is not None for record in r.info.engines]

    async def aclose(self) -> None:
        """Nothing: the actors live until the pool's block ends (``shutdown``)."""

    async def generate(self, request: GenerationRequest) -> list[Completion]:
        """Run the request on a replica; when the replica dies first, on another one."""
        ray = import_ray()
        key = hashlib.blake2b(json.dumps(request.messages).encode(), digest_size=8).hexdigest()
        while True:
            replica = await self._acquire(key)
            try:
                completions: list[Completion] = await replica.handle.generate.remote(request)
            except ray.exceptions.RayActorError as exc:
                await self._retire(replica, _reason(exc))
                continue
            except ray.exceptions.RayTaskError as exc:  # the request failed inside the replica
                cause = getattr(exc, "cause", None)
                if isinstance(cause, GenerationError):
                    raise GenerationError(str(cause)) from None
                raise GenerationError(f"{replica.label}: {cause!r}" if cause else _reason(exc)) from None
            finally:
                await self._release(replica)
            replica.served += len(completions)
            return completions

    # --- slots ---------------------------------------------------------------------------------
    def stats(self) -> list[tuple[str, bool, int, str | None]]:
        """(label, alive, draws served, why it was retired) for each replica."""
        return [(r.label, r.alive, r.served, r.error) for r in self._replicas]

    def _pending_or_usable(self) -> bool:
        return any(r.alive for r in self._replicas)

    async def _acquire(self, key: str) -> _Replica:
        assert self._changed is not None
        async with self._changed:
            while True:
                usable = [r for r in self._replicas if r.usable]
                if not usable and not self._pending_or_usable():
                    errors = "; ".join(f"{r.label}: {r.error}" for r in self._replicas)
                    raise GenerationError(f"every Ray replica has died ({errors})")
                chosen = _choose(usable, key)
                if chosen is not None:
                    chosen.in_flight += 1
                    return chosen
                await self._changed.wait()

    async def _release(self, replica: _Replica) -> None:
        replica.in_flight -= 1
        await self._notify()

    async def _retire(self, replica: _Replica, reason: str) -> None:
        replica.alive, replica.error = False, reason
        await self._notify()

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()


def _choose(usable: list[_Replica], key: str) -> _Replica | None:
    """The replica the key hashes to when it has room, else the least loaded with room (None: all full)."""
    if not usable:
        return None

    def rank(replica: _Replica) -> bytes:
        return hashlib.blake2b(f"{key}\x1f{replica.label}".encode(), digest_size=8).digest()

    preferred = max(usable, key=rank)
    if preferred.has_room():
        return preferred
    roomy = [r for r in usable if r.has_room()]
    return min(roomy, key=lambda r: r.in_flight / r.limit) if roomy else None


def _reason(exc: BaseException) -> str:
    """The first line of a Ray error, which names what happened to the actor or task."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
