"""A run against a real ``vllm serve`` (the CPU build in CI) through the openai backend.

With ``--draws-per-request 4`` each block of draws is one request with ``n = 4`` sent with the
block's seed; vLLM seeds choice i with seed + i, which is what surestep stores. Each stored draw
is asked for again alone, with its stored seed, and must come back the same.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest

from surestep.models import SamplingParams
from surestep.runs.manifest import GREEDY, SAMPLE
from surestep.runs.pipeline import GenerationPlan, draw_seed
from tests.conftest import DEMO_PROBLEMS, run_cli
from tests.engines.conftest import NEEDS_VLLM, SERVED, VLLMServer

pytestmark = NEEDS_VLLM

PROBLEMS, N, BLOCK, SEED, MAX_TOKENS = 3, 4, 4, 11, 24


@pytest.fixture(scope="module")
def server(vllm_server: VLLMServer) -> str:
    """The session's vLLM server (started with the session's first engine test), once it answers."""
    return vllm_server.url()


def test_a_run_against_vllm_serve_stores_the_seeds_vllm_used(server, tmp_path):
    import httpx

    out = tmp_path / "run"
    result = run_cli(
        "run",
        "--model",
        f"openai:{SERVED}",
        "--base-url",
        server,
        "--dataset",
        str(DEMO_PROBLEMS),
        "--limit",
        str(PROBLEMS),
        "--n",
        str(N),
        "--k",
        "2,4",
        "--draws-per-request",
        str(BLOCK),
        "--concurrency",
        "4",
        "--max-tokens",
        str(MAX_TOKENS),
        "--seed",
        str(SEED),
        "--prompt",
        "brief",
        "--out",
        str(out),
        "--quiet",
        "--json",
        "--no-ci",
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
        draws = db.execute(
            "SELECT problem_id, config, draw_index, text, seed FROM draws ORDER BY 1, 2, 3"
        ).fetchall()
    assert len(draws) == PROBLEMS * (N + 1)
    sampled_seeds = {}
    with httpx.Client(base_url=server, timeout=300) as client:
        for problem_id, config, index, text, seed in draws:
            kind = kinds[config]
            assert seed == draw_seed(plan, problem_id, kind, index)
            if kind == SAMPLE:
                sampled_seeds.setdefault(problem_id, []).append(seed)
            body = {
                "model": SERVED,
                "messages": [{"role": "user", "content": prompts[problem_id]}],
                "max_tokens": MAX_TOKENS,
                "seed": seed,
                "temperature": sampling["temperature"] if kind == SAMPLE else 0.0,
                "top_p": sampling["top_p"] if kind == SAMPLE else 1.0,
            }
            if kind == SAMPLE:
                body["top_k"] = sampling["top_k"]
            alone = client.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
            assert alone == text, (problem_id, kind, index, seed)
    for seeds in sampled_seeds.values():  # one n=4 request per problem: its seed, then seed + 1, + 2, + 3
        assert seeds == [seeds[0] + i for i in range(N)]
