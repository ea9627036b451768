"""``surestep run --model vllm:DIR`` end to end: the engine in the CLI's own process.

Its stdout must hold the score sheet alone: vLLM logs to stdout unless told. The engine is eager,
given ``{"enforce_eager": true}`` through $SURESTEP_VLLM_ENGINE_ARGS (which the manifest then
shows): compiled, vLLM's CPU build takes 2.5 to 6 minutes to start on two cores, every time.
SURESTEP_ENGINE_TEST_COMPILED=1 runs it compiled, as users run it by default.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from surestep.models import SamplingParams
from surestep.models.vllm_engine import ENGINE_ARGS_ENV
from surestep.runs.manifest import GREEDY, SAMPLE
from surestep.runs.pipeline import GenerationPlan, draw_seed
from tests.conftest import DEMO_PROBLEMS
from tests.engines.conftest import EAGER, ENGINE_DTYPE, ENGINE_MEMORY, MAX_MODEL_LEN, NEEDS_VLLM

pytestmark = NEEDS_VLLM

RUN_SECONDS = 1800
"""Compiled, the engine takes minutes to start on a loaded two-core machine."""
COMPILED = os.environ.get("SURESTEP_ENGINE_TEST_COMPILED") == "1"
PROBLEMS, N, BLOCK, SEED = 3, 4, 4, 7


def test_surestep_run_with_vllm_in_process(engine_model: Path, tmp_path: Path):
    out = tmp_path / "run"
    args = [
        "run",
        "--model",
        f"vllm:{engine_model}",
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
        "24",
        "--seed",
        str(SEED),
        "--prompt",
        "brief",
        "--dtype",
        ENGINE_DTYPE,
        "--gpu-memory-utilization",
        ENGINE_MEMORY,
        "--max-model-len",
        str(MAX_MODEL_LEN),
        "--out",
        str(out),
        "--quiet",
        "--json",
        "--no-ci",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "surestep", *args],
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        env={**os.environ, "HF_HUB_OFFLINE": "1", ENGINE_ARGS_ENV: "" if COMPILED else json.dumps(EAGER)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    sheet = json.loads(result.stdout)
    assert sheet["num_problems"] == PROBLEMS and sheet["n"] == N
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"] == {"backend": "vllm", "model": str(engine_model)}
    [engine] = manifest["engines"]
    assert engine["server"] == "vllm"
    assert (
        engine["reported"]["dtype"] == ENGINE_DTYPE and engine["reported"]["max_model_len"] == MAX_MODEL_LEN
    )
    assert engine["reported"]["enforce_eager"] is not COMPILED  # the environment's arguments reached vllm.LLM
    kinds = {manifest["configs"][SAMPLE]: SAMPLE, manifest["configs"][GREEDY]: GREEDY}
    plan = GenerationPlan(n=N, sampling=SamplingParams(), seed=SEED, draws_per_request=BLOCK)
    with contextlib.closing(sqlite3.connect(out / "run.sqlite")) as db:
        draws = db.execute(
            "SELECT problem_id, config, draw_index, seed, completion_tokens FROM draws"
        ).fetchall()
    assert len(draws) == PROBLEMS * (N + 1)
    for problem_id, config, index, seed, tokens in draws:
        assert seed == draw_seed(plan, problem_id, kinds[config], index)
        assert 0 < tokens <= 24
    assert (out / "results.json").is_file() and (out / "report.html").is_file()
