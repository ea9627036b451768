"""Benchmark: does one run's throughput grow with the servers behind it, and what does Ray cost?

(a) 1, 2 and 4 test servers (tests/models/fault_server.py, each its own process on
127.0.0.1), each serving at most C requests at once with a fixed latency L (the rest
queue, like an engine's sequence slots), so one server's ceiling is C / L draws/s. The
whole pipeline runs against them (loading, planning, routing, the SQLite run store), one
draw per request, C requests in flight per server, the same number of draws per server
in each setting. Prints draws/s for each, its ratio to linear scaling from one server
(goal >= 0.9) and how the draws were shared out.

(b) A fake engine with a fixed latency per request and a fixed number of requests at once
(``FixedLatencyEngine`` below: no model, no network), driven by the pipeline in this process,
then the same capacity split over Ray replicas of it (``--ray``'s actors on a local Ray
instance; start-up not timed). Both have the same ceiling (--ray-rate, rounded up to whole
requests per replica: 1,040 draws/s by default); prints draws/s of each and the ratio, Ray
over in-process (goal >= 0.9: Ray's overhead at most 10%).

Run: python bench/scaleout.py [--concurrency 8] [--latency 0.2] [--draws-per-server 400]
     [--ray-rate 1000] [--ray-replicas 2] [--ray-latency 0.2] [--ray-draws 8000] [--only a|b]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from surestep.data.problems import FieldMap  # noqa: E402
from surestep.data.prompts import PRESETS  # noqa: E402
from surestep.models import Completion, GenerationRequest, ModelSpec, SamplingParams  # noqa: E402
from surestep.models.routing import ServerSpec  # noqa: E402
from surestep.runs.pipeline import GenerationPlan  # noqa: E402
from surestep.runs.runner import DatasetRequest, GenerateRequest, generate, generate_async  # noqa: E402

DRAWS_PER_PROBLEM = 8


def start_servers(count: int, concurrency: int, latency: float) -> list[tuple[subprocess.Popen[str], str]]:
    servers = []
    for _ in range(count):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.models.fault_server",
                "--latency",
                str(latency),
                "--max-concurrent",
                str(concurrency),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert process.stdout is not None
        port = int(process.stdout.readline().split()[1])
        servers.append((process, f"http://127.0.0.1:{port}/v1"))
    return servers


def write_problems(path: Path, count: int) -> Path:
    with path.open("w") as out:
        for i in range(count):
            out.write(
                json.dumps({"id": f"p{i}", "question": f"What is {i} + {i + 7}?", "answer": str(2 * i + 7)})
                + "\n"
            )
    return path


def measure(
    servers: int, concurrency: int, latency: float, draws_per_server: int
) -> tuple[float, int, dict[str, int]]:
    """(draws/s, draws, draws per server) for one run over ``servers`` fresh servers."""
    processes = start_servers(servers, concurrency, latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            problems = servers * draws_per_server // DRAWS_PER_PROBLEM
            dataset = write_problems(Path(tmp) / "problems.jsonl", problems)
            request = GenerateRequest(
                out=Path(tmp) / "run",
                model=ModelSpec("openai", "bench"),
                dataset=DatasetRequest(str(dataset), FieldMap()),
                template=PRESETS["default"],
                plan=GenerationPlan(
                    n=DRAWS_PER_PROBLEM, sampling=SamplingParams(max_tokens=64), greedy=False
                ),
                backend_options={
                    "base_url": [ServerSpec(url, concurrency) for _, url in processes],
                    "timeout": 60.0,
                },
            )
            started = time.perf_counter()
            result = generate(request)
            seconds = time.perf_counter() - started
            done = result.progress.done
            assert done == problems * DRAWS_PER_PROBLEM, f"{done} of {problems * DRAWS_PER_PROBLEM} draws"
            return done / seconds, done, dict(sorted(result.progress.per_server.items()))
    finally:
        for process, _ in processes:
            process.kill()
            process.wait()


class FixedLatencyEngine:
    """A fake engine for (b): ``slots`` requests at once, each ``latency`` seconds, any number of draws."""

    name = "fixed-latency"

    def __init__(self, slots: int, latency: float, draws_per_request: int) -> None:
        self.model = "fixed-latency"
        self.max_concurrency = slots
        self.max_draws_per_request = draws_per_request
        self._latency = latency
        self._slots: asyncio.Semaphore | None = None  # made in the loop that runs it (an actor's own)

    def identity(self) -> dict[str, str]:
        return {"backend": self.name, "model": self.model}

    async def engines(self) -> list[dict[str, object]]:
        return []

    async def aclose(self) -> None:
        return None

    async def generate(self, request: GenerationRequest) -> list[Completion]:
        # at most `slots` at once, the rest queue (as an engine's sequence slots): a replica pool
        # sends a replica a few requests more than it runs, and they must not run early
        self._slots = self._slots or asyncio.Semaphore(self.max_concurrency)
        async with self._slots:
            await asyncio.sleep(self._latency)
        return [
            Completion(f"It is \\boxed{{{seed}}}.", "stop", 20, 8, self._latency) for seed in request.seeds
        ]


def engine_request(out: Path, dataset: Path, draws_per_request: int) -> GenerateRequest:
    return GenerateRequest(
        out=out,
        model=ModelSpec("local", "fixed-latency"),
        dataset=DatasetRequest(str(dataset), FieldMap()),
        template=PRESETS["default"],
        plan=GenerationPlan(
            n=draws_per_request,
            sampling=SamplingParams(max_tokens=8),
            greedy=False,
            draws_per_request=draws_per_request,
        ),
    )


async def timed(request: GenerateRequest, backend: object) -> float:
    """Draws/s of one generation of every draw of ``request`` on ``backend``."""
    started = time.perf_counter()
    result = await generate_async(request, backend=backend)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    assert result.missing == 0, result.progress.last_error
    return result.progress.done / seconds


async def ray_overhead(
    rate: float, replicas: int, latency: float, draws_per_request: int, draws: int
) -> None:
    """(b): the fake engine in this process, then split over Ray replicas; prints both and the ratio."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a local instance on 127.0.0.1 only
    from surestep.runs.ray_cluster import RayOptions, ray_session
    from surestep.runs.ray_generation import ReplicaPool

    share = max(1, math.ceil(rate * latency / draws_per_request / replicas))  # requests at once per replica
    slots = share * replicas  # the same capacity in this process: the ceilings are equal
    ceiling = slots * draws_per_request / latency
    print(
        f"(b) fake engine: {latency * 1000:.0f} ms per request of {draws_per_request} draws, {slots} requests "
        f"at once (ceiling {ceiling:,.0f} draws/s); {draws:,} draws"
    )
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_problems(Path(tmp) / "problems.jsonl", draws // draws_per_request)
        here = await timed(
            engine_request(Path(tmp) / "here", dataset, draws_per_request),
            FixedLatencyEngine(slots, latency, draws_per_request),
        )
        print(f"  in this process:      {here:8,.1f} draws/s ({here / ceiling:4.0%} of the ceiling)")
        options = RayOptions(
            address="local",
            replicas=replicas,
            gpus_per_replica=0,
            cpus_per_replica=0,
            local_cpus=os.cpu_count(),
        )
        factory = functools.partial(FixedLatencyEngine, share, latency, draws_per_request)
        with ray_session(options):
            async with ReplicaPool(factory, options) as pool:
                await pool.all_started()
                on_ray = await timed(engine_request(Path(tmp) / "ray", dataset, draws_per_request), pool)
    print(
        f"  {replicas} Ray replicas x {share}: {on_ray:8,.1f} draws/s ({on_ray / ceiling:4.0%} of the ceiling)"
    )
    print(f"  Ray / in-process: {on_ray / here:.3f} (goal >= 0.9: Ray's overhead at most 10%)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=8, help="requests each server serves at once (C)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request (L)")
    parser.add_argument("--draws-per-server", type=int, default=400)
    parser.add_argument(
        "--ray-rate", type=float, default=1000.0, help="(b): the fake engine's ceiling, draws/s"
    )
    parser.add_argument("--ray-replicas", type=int, default=2)
    parser.add_argument("--ray-latency", type=float, default=0.2, help="(b): seconds per request")
    parser.add_argument("--ray-draws-per-request", type=int, default=8)
    parser.add_argument("--ray-draws", type=int, default=8000)
    parser.add_argument("--only", choices=("a", "b"), help="run one part only")
    args = parser.parse_args()
    if args.only != "b":
        server_scaling(args)
    if args.only != "a":
        try:
            import ray  # noqa: F401
        except ImportError:
            print("(b) skipped: Ray is not installed (pip install 'surestep[ray]')")
            return
        asyncio.run(
            ray_overhead(
                args.ray_rate, args.ray_replicas, args.ray_latency, args.ray_draws_per_request, args.ray_draws
            )
        )


def server_scaling(args: argparse.Namespace) -> None:
    """(a): 1, 2 and 4 servers."""
    import surestep.models.openai_api  # noqa: F401 (imported before the clock starts, not inside the first run)

    ceiling = args.concurrency / args.latency
    print(
        f"(a) each server: at most {args.concurrency} requests at once, {args.latency * 1000:.0f} ms each "
        f"(ceiling {ceiling:,.0f} draws/s); {args.draws_per_server} draws per server, one per request"
    )
    base = 0.0
    for servers in (1, 2, 4):
        rate, done, shares = measure(servers, args.concurrency, args.latency, args.draws_per_server)
        base = base or rate
        ratio = rate / (servers * base)
        share = ", ".join(str(count) for count in shares.values())
        print(
            f"  {servers} server{'s' if servers > 1 else ' '}: {done:5,} draws at {rate:6,.1f} draws/s "
            f"({rate / (servers * ceiling):4.0%} of the ceiling); vs linear from 1 server: {ratio:.2f}"
            f"{' (goal >= 0.9)' if servers > 1 else ''}; draws per server: {share}"
        )


if __name__ == "__main__":
    main()
