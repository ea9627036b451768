"""The vllm backend on a real engine (vLLM's CPU build in CI) serving the bundled SmolLM2-135M.

One engine for the module, eager (conftest.EAGER). Runs go through the
same runner as ``surestep run``; every stored seed must be the one the draw was made with,
which is checked by making draws again, alone, with their stored seeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from surestep.data.prompts import load_template
from surestep.models import ModelSpec, SamplingParams
from surestep.models.base import GenerationError, GenerationRequest
from surestep.runs.manifest import GREEDY, SAMPLE
from surestep.runs.pipeline import GenerationPlan, draw_seed
from surestep.runs.runner import DatasetRequest, GenerateRequest, generate, generate_async
from tests.conftest import DEMO_PROBLEMS
from tests.engines.conftest import (
    DECOY_GENERATION_CONFIG,
    EAGER,
    ENGINE_DTYPE,
    ENGINE_MEMORY,
    MAX_MODEL_LEN,
    NEEDS_VLLM,
)

pytestmark = NEEDS_VLLM

PROBLEMS = 3
N = 4
PLAN = GenerationPlan(
    n=N,
    sampling=SamplingParams(temperature=1.0, top_p=0.9, top_k=50, max_tokens=24),
    seed=7,
    draws_per_request=4,
)


@pytest.fixture(scope="module")
def backend(engine_model: Path):
    from surestep.models.vllm_engine import VLLMBackend

    engine = VLLMBackend(
        str(engine_model),
        draws_per_request=PLAN.draws_per_request,
        concurrency=4,
        gpu_memory_utilization=float(ENGINE_MEMORY),
        max_model_len=MAX_MODEL_LEN,
        dtype=ENGINE_DTYPE,
        engine_options=EAGER,
    )
    yield engine
    engine.shutdown()


def _request(out: Path, engine_model: Path) -> GenerateRequest:
    return GenerateRequest(
        out=out,
        model=ModelSpec("vllm", str(engine_model)),
        dataset=DatasetRequest(str(DEMO_PROBLEMS), limit=PROBLEMS),
        template=load_template("brief"),
        plan=PLAN,
    )


def _draws(out: Path) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(out / "run.sqlite")) as db:
        return db.execute(
            "SELECT problem_id, config, draw_index, text, seed, completion_tokens FROM draws ORDER BY 1, 2, 3"
        ).fetchall()


def _prompts(out: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(out / "run.sqlite")) as db:
        return dict(db.execute("SELECT problem_id, prompt FROM problems").fetchall())


def _alone(backend, prompt: str, params: SamplingParams, seed: int) -> str:
    """One draw in a request of its own."""

    async def one() -> str:
        try:
            [completion] = await backend.generate(GenerationRequest((("user", prompt),), params, (seed,)))
        finally:
            await backend.aclose()
        return completion.text

    return asyncio.run(one())


@pytest.fixture(scope="module")
def reference(backend, engine_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run: 3 problems x (4 sampled + 1 greedy) draws."""
    out = tmp_path_factory.mktemp("vllm-run") / "run"
    result = generate(_request(out, engine_model), backend=backend)
    assert result.missing == 0 and result.progress.errors == 0
    return out


def test_a_run_stores_the_seed_of_every_draw_and_each_draw_repeats_alone(backend, reference):
    draws = _draws(reference)
    manifest = json.loads((reference / "manifest.json").read_text())
    kinds = {manifest["configs"][SAMPLE]: SAMPLE, manifest["configs"][GREEDY]: GREEDY}
    assert len(draws) == PROBLEMS * (N + 1)
    for problem_id, config, index, _text, seed, _tokens in draws:
        assert seed == draw_seed(PLAN, problem_id, kinds[config], index)
    prompts = _prompts(reference)
    for problem_id, config, _index, text, seed, _tokens in draws:
        params = PLAN.sampling if kinds[config] == SAMPLE else PLAN.greedy_sampling
        assert _alone(backend, prompts[problem_id], params, seed) == text, (problem_id, seed)


def test_the_models_generation_config_supplies_no_sampling_defaults(reference):
    sampled = [
        row
        for row in _draws(reference)
        if row[1] != json.loads((reference / "manifest.json").read_text())["configs"][GREEDY]
    ]
    assert max(tokens for *_, tokens in sampled) > DECOY_GENERATION_CONFIG["max_new_tokens"]
    for problem_id in {row[0] for row in sampled}:
        texts = {text for pid, _, _, text, _, _ in sampled if pid == problem_id}
        assert len(texts) > 1, f"every draw of {problem_id} is the same: top_k=1 leaked in"


def test_the_manifest_records_the_engine(reference):
    import vllm

    [engine] = json.loads((reference / "manifest.json").read_text())["engines"]
    reported = engine["reported"]
    assert engine["server"] == "vllm" and engine["first_seen"]
    assert reported["vllm"] == vllm.__version__
    assert reported["tensor_parallel_size"] == 1 and reported["max_model_len"] == MAX_MODEL_LEN
    assert reported["dtype"] == ENGINE_DTYPE
    assert reported["device"] in ("cpu", "cuda")
    if reported["device"] == "cpu":
        assert reported["chunked_prefill"] is False and "gpus" not in reported
    else:
        assert len(reported["gpus"]) == 1


def test_an_interrupted_run_resumes_without_duplicates(backend, engine_model, reference, tmp_path):
    """Cancel a run (as Ctrl-C does) once it has committed a request, then run it again."""
    out = tmp_path / "run"
    request = _request(out, engine_model)

    async def interrupted() -> None:
        committed = asyncio.Event()
        task = asyncio.create_task(
            generate_async(request, backend=backend, on_update=lambda p: p.done and committed.set())
        )
        await committed.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    stopped = _draws(out)
    assert 0 < len(stopped) < PROBLEMS * (N + 1)
    assert not backend.llm.llm_engine.has_unfinished_requests()  # what was in flight was aborted
    result = generate(request, backend=backend)
    assert result.missing == 0 and result.progress.done == PROBLEMS * (N + 1) - len(stopped)
    resumed = _draws(out)
    assert set(stopped) <= set(resumed)
    assert [row[:3] for row in resumed] == [row[:3] for row in _draws(reference)]  # each draw once
    assert resumed == _draws(reference)  # and the same draws, seeds and texts as without the interruption


def test_prompts_are_rendered_as_llm_chat_renders_them(backend):
    import vllm

    conversation = (
        ("system", "Reason step by step."),
        ("user", "What is 7 + 5? Put the answer in \\boxed{}."),
    )
    [output] = backend.llm.chat(
        [{"role": role, "content": content} for role, content in conversation],
        vllm.SamplingParams(max_tokens=1),
        use_tqdm=False,
    )
    assert backend.prompt_token_ids(conversation) == list(output.prompt_token_ids)


def test_a_prompt_longer_than_the_context_fails_alone(backend):
    params = SamplingParams(temperature=1.0, max_tokens=8)
    too_long = GenerationRequest((("user", "seven " * (MAX_MODEL_LEN + 100)),), params, (1, 2))
    fine = GenerationRequest((("user", "What is 2 + 2?"),), params, (3,))

    async def both() -> list:
        try:
            return await asyncio.gather(
                backend.generate(too_long), backend.generate(fine), return_exceptions=True
            )
        finally:
            await backend.aclose()

    refused, answered = asyncio.run(both())
    assert isinstance(refused, GenerationError) and "refused" in str(refused)
    assert isinstance(answered, list) and len(answered) == 1 and answered[0].completion_tokens


def test_seeded_prompts_beyond_one_steps_token_budget_are_sampled(backend):
    """More prompt tokens in flight than one engine step takes: on a CPU build, a prompt split over
    steps would crash a seeded request ("CPU Generator does not use offset"); whole prompts wait."""
    budget = backend.llm.llm_engine.vllm_config.scheduler_config.max_num_batched_tokens
    question = "Tom has 3 apples, buys 4 more and gives 2 away. " * 60 + "How many apples does he have?"
    prompt_tokens = len(backend.prompt_token_ids((("user", question),)))
    count = budget // prompt_tokens + 2
    params = SamplingParams(temperature=1.0, top_p=0.9, max_tokens=2)
    requests = [GenerationRequest((("user", f"{i}. {question}"),), params, (100 + i,)) for i in range(count)]

    async def all_of_them() -> list:
        try:
            return await asyncio.gather(*(backend.generate(r) for r in requests))
        finally:
            await backend.aclose()

    assert prompt_tokens * count > budget
    results = asyncio.run(all_of_them())
    assert [len(r) for r in results] == [1] * count
