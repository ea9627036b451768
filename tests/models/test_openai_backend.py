"""The OpenAI-compatible backend against a real fault-injecting server process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from surestep.models.base import GenerationError, GenerationRequest, SamplingParams
from surestep.models.openai_api import OpenAIBackend, retry_after_seconds
from tests.conftest import DEMO_PROBLEMS
from tests.models.fault_server import reply_text

SECRET = "sk-test-DO-NOT-LEAK-4242"


def test_retry_after_is_read_as_seconds_or_http_date():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("0.25") == 0.25
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def _generate(backend: OpenAIBackend, request: GenerationRequest):
    async def go():
        try:
            return await backend.generate(request)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def _request(count: int, temperature: float = 1.0) -> GenerationRequest:
    messages = (("user", "What is 2 + 3?"),)
    return GenerationRequest(messages, SamplingParams(temperature=temperature), tuple(range(100, 100 + count)))


def test_several_draws_come_from_one_request_with_tokens_and_latency(fault_server):
    server = fault_server()
    backend = OpenAIBackend("fake", base_url=server.base_url, draws_per_request=4)
    completions = _generate(backend, _request(4))
    assert [c.text for c in completions] == [reply_text("What is 2 + 3?", 100, i, 1.0) for i in range(4)]
    assert all(c.completion_tokens and c.prompt_tokens and c.latency_seconds > 0 for c in completions)
    assert server.stats()["requests"] == 1


def test_a_server_that_refuses_n_gets_one_request_per_draw(fault_server):
    server = fault_server("--reject-n")
    backend = OpenAIBackend("fake", base_url=server.base_url, draws_per_request=4)
    completions = _generate(backend, _request(4))
    # each draw now carries its own seed
    assert [c.text for c in completions] == [reply_text("What is 2 + 3?", 100 + i, 0, 1.0) for i in range(4)]
    assert server.stats()["requests"] == 5  # the refused request, then four single ones


def test_every_fault_is_retried_until_the_reply_arrives(fault_server):
    server = fault_server("--fault-rate", "0.6", "--stall-seconds", "1.0", "--fault-seed", "3")
    backend = OpenAIBackend("fake", base_url=server.base_url, timeout=0.3, backoff_base=0.01, max_retries=40)

    async def go():
        try:
            return await asyncio.gather(*(backend.generate(_request(2)) for _ in range(30)))
        finally:
            await backend.aclose()

    results = asyncio.run(go())
    assert all(len(r) == 2 for r in results)
    stats = server.stats()
    assert all(stats[fault] > 0 for fault in ("429", "500", "malformed", "stall", "drop"))
    assert backend.retries >= sum(stats[f] for f in ("429", "500", "malformed", "stall", "drop")) - 1


def test_giving_up_names_the_server_but_never_the_key(fault_server, monkeypatch):
    monkeypatch.setenv("SURESTEP_TEST_KEY", SECRET)
    server = fault_server("--fault-rate", "1.0", "--faults", "500")
    backend = OpenAIBackend(
        "fake", base_url=server.base_url, api_key_env="SURESTEP_TEST_KEY", max_retries=2, backoff_base=0.01
    )
    with pytest.raises(GenerationError) as error:
        _generate(backend, _request(1))
    assert server.base_url in str(error.value)
    assert "HTTP 500" in str(error.value)
    assert SECRET not in str(error.value)
    assert server.stats()["authorization"] == [f"Bearer {SECRET}"]


def test_a_run_through_every_fault_has_each_draw_exactly_once(fault_server, cli, tmp_path):
    server = fault_server("--fault-rate", "0.3", "--stall-seconds", "1.0", "--fault-seed", "7")
    out = tmp_path / "run"
    result = cli(
        "generate", "--model", "openai:fake", "--base-url", server.base_url, "--dataset", str(DEMO_PROBLEMS),
        "--out", str(out), "--n", "6", "--draws-per-request", "4", "--timeout", "0.3", "--max-retries", "30",
        "--quiet", env={"OPENAI_API_KEY": SECRET},
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(out / "run.sqlite") as db:
        rows = db.execute("SELECT problem_id, config, draw_index, COUNT(*) FROM draws GROUP BY 1, 2, 3").fetchall()
        per_problem = db.execute("SELECT COUNT(*) FROM draws GROUP BY problem_id").fetchall()
    assert all(count == 1 for *_, count in rows)
    assert len(per_problem) == 30
    assert {c for (c,) in per_problem} == {7}  # 6 sampled + 1 greedy
    stats = server.stats()
    assert all(stats[fault] > 0 for fault in ("429", "500", "malformed", "stall", "drop"))
    _assert_secret_absent(out, result.stdout + result.stderr)


def _assert_secret_absent(directory: Path, output: str) -> None:
    assert SECRET not in output
    for path in directory.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
