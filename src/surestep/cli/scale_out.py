"""Options that spread one run out (``run``, ``generate``, ``prm run``): a shard of it, Ray replicas.

See docs/scale-out.md. Nothing here imports Ray; the commands import it only with ``--ray``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from surestep.runs.distributed import Placement

F = TypeVar("F", bound=Callable[..., Any])
KEYS = ("ray", "replicas", "gpus_per_replica", "shard")


def scale_out_options(func: F) -> F:
    """``--ray [ADDRESS|local]``, ``--replicas``, ``--gpus-per-replica`` and ``--shard i/N``."""
    decorators = [
        click.option(
            "--ray",
            "ray",
            is_flag=False,
            flag_value="local",
            default=None,
            metavar="[ADDRESS|local]",
            help="Run the engine as Ray replicas: on a cluster (its address, or auto), or alone (local, "
            "the default) on this machine's GPUs. This process commits every result.",
        ),
        click.option(
            "--replicas",
            type=click.IntRange(min=1),
            help="With --ray: engine replicas, each an actor placed by Ray [default: 1].",
        ),
        click.option(
            "--gpus-per-replica",
            "gpus_per_replica",
            type=click.FloatRange(min=0),
            help="With --ray: GPUs each replica takes [default: 1 on a cluster with GPUs, else 0].",
        ),
        click.option(
            "--shard",
            metavar="i/N",
            help="Do only shard i of N (problems at positions p with p mod N = i) into --out; "
            "surestep merge combines the N shard directories (for Slurm array jobs).",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def take_placement(options: dict[str, Any], out: Path) -> Placement:
    """Pop the scale-out options from a command's options; refuses a shard directory resumed otherwise."""
    from surestep.runs.distributed import placement_from_options
    from surestep.runs.shards import check_shard

    ray, replicas, gpus, shard = (options.pop(key) for key in KEYS)
    placement = placement_from_options(ray, replicas, gpus, shard)
    check_shard(out, placement.shard)
    return placement
