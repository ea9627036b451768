"""The OpenAI-compatible backend against a real fault-injecting server process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
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
    return GenerationRequest(
        messages, SamplingParams(temperature=temperature), tuple(range(100, 100 + count))
    )


PICK = "Pick a digit."
"""A prompt the test server answers with one of ten texts, so different seeds show."""


def _pick(seeds: tuple[int | None, ...]) -> GenerationRequest:
    return GenerationRequest((("user", PICK),), SamplingParams(), seeds)


def _closed_port_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_several_draws_come_from_one_request_seeded_the_vllm_way(fault_server):
    server = fault_server()
    backend = OpenAIBackend("fake", base_url=server.base_url, draws_per_request=4)
    completions = _generate(backend, _pick(seeds=(100, 101, 102, 103)))
    # choice i of the n request is the draw that seed 100 + i gives alone
    assert [c.text for c in completions] == [reply_text(PICK, 100 + i, 0, 1.0) for i in range(4)]
    assert len({c.text for c in completions}) > 1
    assert all(c.completion_tokens and c.prompt_tokens and c.latency_seconds > 0 for c in completions)
    assert {c.server for c in completions} == {f"127.0.0.1:{server.port}"}
    assert server.stats()["requests"] == 1


def test_draws_whose_seeds_are_not_consecutive_go_one_per_request(fault_server):
    server = fault_server()
    backend = OpenAIBackend("fake", base_url=server.base_url, draws_per_request=3)
    completions = _generate(backend, _pick(seeds=(7, 19, 4)))
    assert [c.text for c in completions] == [reply_text(PICK, seed, 0, 1.0) for seed in (7, 19, 4)]
    assert server.stats()["requests"] == 3


def test_a_server_that_refuses_n_gets_one_request_per_draw(fault_server):
    server = fault_server("--reject-n")
    backend = OpenAIBackend("fake", base_url=server.base_url, draws_per_request=4)
    completions = _generate(backend, _request(4))
    # each draw now carries its own seed
    assert [c.text for c in completions] == [reply_text("What is 2 + 3?", 100 + i, 0, 1.0) for i in range(4)]
    assert server.stats()["requests"] == 5  # the refused request, then four single ones


def test_a_request_without_seeds_sends_none(fault_server):
    server = fault_server()
    backend = OpenAIBackend("fake", base_url=server.base_url, draws_per_request=2)
    completions = _generate(backend, _pick(seeds=(None, None)))
    assert len(completions) == 2
    stats = server.stats()
    assert stats["requests"] == 1 and stats["seeded"] == 0


def test_a_server_that_rejects_seeds_fails_at_once_and_says_what_to_do(fault_server):
    server = fault_server("--reject-seed")
    backend = OpenAIBackend("fake", base_url=server.base_url, max_retries=5)
    with pytest.raises(GenerationError) as error:
        _generate(backend, _pick(seeds=(1,)))
    assert "HTTP 400" in str(error.value) and "--no-seed" in str(error.value)
    assert server.stats()["requests"] == 1


def test_each_server_reports_the_served_model_and_engine_version(fault_server):
    a = fault_server("--version", "0.9.1")
    b = fault_server("--served-model", "other")
    backend = OpenAIBackend("fake", base_url=[a.base_url, b.base_url])

    async def go():
        try:
            return await backend.engines()
        finally:
            await backend.aclose()

    engines = asyncio.run(go())
    assert engines == [
        {
            "server": f"127.0.0.1:{a.port}",
            "reported": {
                "models": {
                    "id": "fake",
                    "root": "tests/fault-server",
                    "owned_by": "fault-server",
                    "max_model_len": 4096,
                },
                "version": {"version": "0.9.1"},
            },
        },
        {
            "server": f"127.0.0.1:{b.port}",
            "reported": {
                "models": {"served": ["other"], "model_listed": False},
                "version": {"version": "0.0-fault"},
            },
        },
    ]


def test_a_dead_server_is_retried_around_and_taken_out(fault_server):
    live = fault_server()
    dead = _closed_port_url()
    backend = OpenAIBackend("fake", base_url=[dead, live.base_url], concurrency=4, backoff_base=0.01)
    requests = [
        GenerationRequest((("user", f"What is {i} + 1?"),), SamplingParams(), (i,)) for i in range(40)
    ]

    async def go():
        try:
            return await asyncio.gather(*(backend.generate(r) for r in requests))
        finally:
            await backend.aclose()

    results = asyncio.run(go())
    assert [r[0].text for r in results] == [reply_text(f"What is {i} + 1?", i, 0, 1.0) for i in range(40)]
    down, up = backend.servers()
    assert down.state == "out" and down.draws == 0 and down.failures >= 3
    assert up.draws == 40 and live.stats()["ok"] == 40


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
        "generate",
        "--model",
        "openai:fake",
        "--base-url",
        server.base_url,
        "--dataset",
        str(DEMO_PROBLEMS),
        "--out",
        str(out),
        "--n",
        "6",
        "--draws-per-request",
        "4",
        "--timeout",
        "0.3",
        "--max-retries",
        "30",
        "--quiet",
        env={"OPENAI_API_KEY": SECRET},
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(out / "run.sqlite") as db:
        rows = db.execute(
            "SELECT problem_id, config, draw_index, COUNT(*) FROM draws GROUP BY 1, 2, 3"
        ).fetchall()
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
