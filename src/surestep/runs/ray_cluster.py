"""Ray for surestep (extra ``ray``): connecting to a cluster, checking it can hold the replicas.

Ray core actors, not Ray Data LLM (docs/scale-out.md says why): each replica is an actor that
holds one engine, and the driver (this process) hands out the work, takes the results back as
they finish and is the only writer of the run's store. ``ray`` is imported only here and in
the replica modules, inside the functions that use it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surestep.errors import SurestepError

LOCAL = "local"
CRASH_ENV = "SURESTEP_TEST_CRASH_REPLICA_ONCE"
"""Tests only: a file path; the first replica call that creates this file ends its process at once
(``os._exit``), as a replica lost to a crashed GPU or a preempted node would. Never set it otherwise."""


@dataclass(frozen=True)
class RayOptions:
    """Where replicas run: ``address`` "local" starts Ray on this machine, anything else is a
    cluster's address ("auto", "HOST:6379", "ray://HOST:10001").

    ``gpus_per_replica`` None takes 1 GPU per replica when the cluster has GPUs and none when it
    has none. ``local_cpus`` and ``temp_dir`` apply to a local start only.
    """

    address: str = LOCAL
    replicas: int = 1
    gpus_per_replica: float | None = None
    cpus_per_replica: float = 1.0
    local_cpus: int | None = None
    temp_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise SurestepError(f"--replicas: expected at least 1, got {self.replicas}")
        if self.gpus_per_replica is not None and self.gpus_per_replica < 0:
            raise SurestepError(f"--gpus-per-replica: expected >= 0, got {self.gpus_per_replica}")
        if self.cpus_per_replica < 0:
            raise SurestepError(f"cpus per replica: expected >= 0, got {self.cpus_per_replica}")


def import_ray() -> Any:
    """The ``ray`` module, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise SurestepError("--ray needs Ray: pip install 'surestep[ray]'") from None
    return ray


@contextmanager
def ray_session(options: RayOptions) -> Iterator[Any]:
    """Ray, connected (or started locally) for the block; a connection made before is used as it is."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    settings: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    if options.address == LOCAL:
        settings.update(address=LOCAL, num_cpus=options.local_cpus)
        if options.temp_dir is not None:
            settings["_temp_dir"] = str(options.temp_dir)
    else:
        settings["address"] = options.address
    try:
        ray.init(**settings)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise SurestepError(f"--ray {options.address}: cannot start or reach Ray ({exc})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass(frozen=True)
class ReplicaResources:
    """What each replica asks Ray for."""

    gpus: float
    cpus: float

    def actor_options(self) -> dict[str, Any]:
        return {"num_gpus": self.gpus, "num_cpus": self.cpus, "max_restarts": 0}


def plan_resources(ray: Any, options: RayOptions) -> ReplicaResources:
    """Each replica's resources, once the cluster's alive nodes are seen to hold all the replicas.

    Refuses at once what Ray would otherwise leave pending for ever (more GPUs than the cluster
    has, or more per replica than any one node has).
    """
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    has_gpus = any(resources.get("GPU", 0) > 0 for resources in nodes)
    gpus = options.gpus_per_replica if options.gpus_per_replica is not None else (1.0 if has_gpus else 0.0)
    each = ReplicaResources(gpus, options.cpus_per_replica)
    fit = sum(_fits(resources, each) for resources in nodes)
    if fit < options.replicas:
        total_gpus = sum(resources.get("GPU", 0) for resources in nodes)
        total_cpus = sum(resources.get("CPU", 0) for resources in nodes)
        raise SurestepError(
            f"--replicas {options.replicas}: the Ray cluster ({len(nodes)} node(s), {total_gpus:g} GPUs, "
            f"{total_cpus:g} CPUs) holds {fit} replica(s) of {gpus:g} GPU(s) and {each.cpus:g} CPU(s) each"
        )
    return each


def _fits(resources: dict[str, float], each: ReplicaResources) -> int:
    """How many replicas one node holds."""
    counts = [
        math.floor(resources.get(name, 0) / need + 1e-9)
        for name, need in (("GPU", each.gpus), ("CPU", each.cpus))
        if need > 0
    ]
    return min(counts) if counts else 1 << 20


def crash_marker() -> str | None:
    """The test-only crash marker (``SURESTEP_TEST_CRASH_REPLICA_ONCE``), or None."""
    return os.environ.get(CRASH_ENV) or None


def crash_once(marker: str | None) -> None:
    """Tests only: end this process at once if it is the first to claim ``marker`` (see CRASH_ENV)."""
    if marker is None:
        return
    try:
        handle = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(handle)
    os._exit(17)


def quiet_progress_bars() -> None:
    """In a replica: no progress bars (loading bars would reach the driver's terminal line by line)."""
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"


def node_address() -> str:
    """The address of the node this code runs on (inside a replica: its node)."""
    ray = import_ray()
    return str(ray.util.get_node_ip_address())
