"""Benchmark: does one run's throughput grow with the number of servers behind it?

1, 2 and 4 test servers (tests/models/fault_server.py, each its own process on
127.0.0.1), each serving at most C requests at once with a fixed latency L (the rest
queue, like an engine's sequence slots), so one server's ceiling is C / L draws/s. The
whole pipeline runs against them (loading, planning, routing, the SQLite run store), one
draw per request, C requests in flight per server, the same number of draws per server
in each setting. Prints draws/s for each, its ratio to linear scaling from one server
(goal >= 0.9) and how the draws were shared out.

Run: python bench/scaleout.py [--concurrency 8] [--latency 0.2] [--draws-per-server 400]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from surestep.data.problems import FieldMap  # noqa: E402
from surestep.data.prompts import PRESETS  # noqa: E402
from surestep.models import ModelSpec, SamplingParams  # noqa: E402
from surestep.models.routing import ServerSpec  # noqa: E402
from surestep.runs.pipeline import GenerationPlan  # noqa: E402
from surestep.runs.runner import DatasetRequest, GenerateRequest, generate  # noqa: E402

DRAWS_PER_PROBLEM = 8


def start_servers(count: int, concurrency: int, latency: float) -> list[tuple[subprocess.Popen[str], str]]:
    servers = []
    for _ in range(count):
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.models.fault_server", "--latency", str(latency),
             "--max-concurrent", str(concurrency)],
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
            out.write(json.dumps({"id": f"p{i}", "question": f"What is {i} + {i + 7}?", "answer": str(2 * i + 7)}) + "\n")
    return path


def measure(servers: int, concurrency: int, latency: float, draws_per_server: int) -> tuple[float, int, dict[str, int]]:
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
                plan=GenerationPlan(n=DRAWS_PER_PROBLEM, sampling=SamplingParams(max_tokens=64), greedy=False),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8, help="requests each server serves at once (C)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request (L)")
    parser.add_argument("--draws-per-server", type=int, default=400)
    args = parser.parse_args()
    import surestep.models.openai_api  # noqa: F401 (imported before the clock starts, not inside the first run)

    ceiling = args.concurrency / args.latency
    print(f"each server: at most {args.concurrency} requests at once, {args.latency * 1000:.0f} ms each "
          f"(ceiling {ceiling:,.0f} draws/s); {args.draws_per_server} draws per server, one per request")
    base = 0.0
    for servers in (1, 2, 4):
        rate, done, shares = measure(servers, args.concurrency, args.latency, args.draws_per_server)
        base = base or rate
        ratio = rate / (servers * base)
        share = ", ".join(str(count) for count in shares.values())
        print(f"  {servers} server{'s' if servers > 1 else ' '}: {done:5,} draws at {rate:6,.1f} draws/s "
              f"({rate / (servers * ceiling):4.0%} of the ceiling); vs linear from 1 server: {ratio:.2f}"
              f"{' (goal >= 0.9)' if servers > 1 else ''}; draws per server: {share}")


if __name__ == "__main__":
    main()
