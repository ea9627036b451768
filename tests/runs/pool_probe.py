"""Run as ``python -m tests.runs.pool_probe ADDRESS`` (with ``TEST_ENV``, which Ray reads when it is
imported): a ``ReplicaPool`` of one replica whose backend runs ``SLOTS`` requests at once, sent
``REQUESTS`` at once; prints the pool's capacity and the most requests its backend ever ran at once."""

from __future__ import annotations

import asyncio
import json
import sys

from surestep.models.base import Completion, GenerationRequest, SamplingParams
from surestep.runs.ray_cluster import RayOptions, ray_session
from surestep.runs.ray_generation import ReplicaPool

SLOTS, REQUESTS, LATENCY = 2, 12, 0.2


class Counting:
    """A backend that counts the requests it runs at once (each answer says the most so far)."""

    name = "counting"
    model = "counting"
    max_concurrency = SLOTS
    max_draws_per_request = 1

    def __init__(self) -> None:
        self.running = self.most = 0

    def identity(self) -> dict[str, str]:
        return {"backend": self.name, "model": self.model}

    async def engines(self) -> list[dict[str, object]]:
        return []

    async def aclose(self) -> None:
        return None

    async def generate(self, request: GenerationRequest) -> list[Completion]:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(LATENCY)
        self.running -= 1
        return [Completion(str(self.most)) for _ in request.seeds]


async def probe(options: RayOptions) -> dict[str, object]:
    async with ReplicaPool(Counting, options) as pool:
        await pool.all_started()
        requests = [GenerationRequest((("user", f"q{i}"),), SamplingParams(), (i,)) for i in range(REQUESTS)]
        answers = await asyncio.gather(*(pool.generate(r) for r in requests))
        return {"capacity": pool.max_concurrency, "most": [int(c.text) for a in answers for c in a]}


def main() -> None:
    options = RayOptions(address=sys.argv[1], replicas=1, gpus_per_replica=0, cpus_per_replica=0)
    with ray_session(options):
        print(json.dumps(asyncio.run(probe(options))), flush=True)


if __name__ == "__main__":
    main()
