"""A pool of worker processes with a wall-clock budget per item.

A worker that overruns its item's budget is killed (SIGKILL) and replaced; the item is
reported as timed out. Nothing a parser does inside a worker can hang the caller. A
worker says when it is ready, and only then gets an item, so a slow start on a loaded
machine never eats into an item's budget.
Workers are forked from a forkserver that has already imported the grading code, so a
replacement starts in milliseconds and the parent may hold threads safely.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar, cast

R = TypeVar("R")

WORKER_MEMORY_BYTES = 4 * 1024**3
WORKER_START_SECONDS = 120.0  # a worker not ready by then is a broken environment, not a slow item
_READY = "ready"


@dataclass(frozen=True)
class PoolResult(Generic[R]):
    """The value of one item, or ``timed_out`` / ``crashed`` with no value."""

    value: R | None
    seconds: float
    timed_out: bool = False
    crashed: bool = False


def _worker_main(connection: Connection, func: Callable[..., Any]) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):  # pragma: no cover - platform dependent
        pass
    connection.send(_READY)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, args = message
        start = time.perf_counter()
        try:
            value: Any = func(*args)
            failed = False
        except Exception:  # a failed item must not take the worker down
            value, failed = None, True
        connection.send((index, value, failed, time.perf_counter() - start))


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    spawned: float
    index: int | None = None
    started: float = 0.0
    ready: bool = False


class WorkerPool:
    """Map a picklable function over argument tuples in worker processes, with a budget per item."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        workers: int | None = None,
        budget_seconds: float = 5.0,
        preload: Sequence[str] = (),
    ) -> None:
        if budget_seconds <= 0:
            raise ValueError("budget_seconds must be > 0")
        self._func = func
        self._budget = budget_seconds
        self._size = max(1, workers if workers is not None else (os.cpu_count() or 1))
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        self._context = mp.get_context(method)
        if method == "forkserver" and preload:
            self._context.set_forkserver_preload(list(preload))
        self._workers: list[_Worker] = []
        self.replaced = 0
        self._start_failures = 0

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child, self._func), daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent, spawned=time.perf_counter())

    def _kill(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.connection.close()

    def map(self, items: Sequence[tuple[Any, ...]]) -> list[PoolResult[Any]]:
        """Results in the order of ``items``."""
        results: list[PoolResult[Any] | None] = [None] * len(items)
        pending = deque(range(len(items)))
        while len(self._workers) < min(self._size, len(items)):
            self._workers.append(self._spawn())
        busy: dict[Connection, _Worker] = {}
        while pending or busy:
            for worker in self._workers:
                if worker.ready and worker.index is None and pending:
                    worker.index = pending.popleft()
                    worker.started = time.perf_counter()
                    worker.connection.send((worker.index, items[worker.index]))
                    busy[worker.connection] = worker
            starting = {w.connection: w for w in self._workers if not w.ready}
            deadline = min(
                [w.started + self._budget for w in busy.values()]
                + [w.spawned + WORKER_START_SECONDS for w in starting.values()]
            )
            watched = [*busy, *starting]
            for ready_object in wait(watched, timeout=max(0.0, deadline - time.perf_counter())):
                connection = cast(Connection, ready_object)
                if connection in starting:
                    self._hear_start(starting[connection])
                    continue
                worker = busy.pop(connection)
                item = worker.index
                assert item is not None
                try:
                    _, value, failed, seconds = connection.recv()
                    results[item] = PoolResult(None if failed else value, seconds, crashed=failed)
                    worker.index = None
                except (EOFError, OSError):
                    results[item] = PoolResult(None, time.perf_counter() - worker.started, crashed=True)
                    self._replace(worker)
            now = time.perf_counter()
            for connection, worker in list(busy.items()):
                if now - worker.started >= self._budget:
                    assert worker.index is not None
                    results[worker.index] = PoolResult(None, now - worker.started, timed_out=True)
                    del busy[connection]
                    self._replace(worker)
            for worker in starting.values():
                if not worker.ready and now - worker.spawned >= WORKER_START_SECONDS:
                    raise RuntimeError(f"a grading worker did not start within {WORKER_START_SECONDS:.0f} s")
        return [r for r in results if r is not None]

    def _hear_start(self, worker: _Worker) -> None:
        """A starting worker spoke: it is ready, or it died before it could be (then replace it)."""
        try:
            worker.ready = worker.connection.recv() == _READY
        except (EOFError, OSError):
            worker.ready = False
        if worker.ready:
            self._start_failures = 0
            return
        self._start_failures += 1
        if self._start_failures >= 3:
            raise RuntimeError("grading workers die before they are ready (3 in a row)")
        self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        self._kill(worker)
        self._workers[self._workers.index(worker)] = self._spawn()
        self.replaced += 1

    def close(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):
                worker.connection.send(None)
        for worker in self._workers:
            worker.process.join(timeout=1)
            self._kill(worker)
        self._workers.clear()
