"""Shared fixtures: JSONL writing, running the real CLI, and the ../shared data location."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
EXAMPLE_DRAWS = REPO_ROOT / "src" / "surestep" / "data" / "examples" / "simulated_draws.jsonl"


def write_jsonl(path: Path, rows: Iterable[dict[str, Any] | str]) -> Path:
    """Write rows (dicts as JSON, strings verbatim) one per line."""
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


@pytest.fixture
def jsonl_file(tmp_path: Path) -> Callable[..., Path]:
    def make(rows: Iterable[dict[str, Any] | str], name: str = "data.jsonl") -> Path:
        return write_jsonl(tmp_path / name, rows)

    return make


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI in a child process, exactly as a user would."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "surestep", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=900,  # a hang guard only: a loaded or one-core machine is slow, not stuck
        check=False,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: the real benchmark files are not copied into the repo."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (it sits beside the checkout in CI)")
    return SHARED_DATA


class ServerProcess:
    """A test server module (``python -m MODULE ARGS``) running as its own process on 127.0.0.1.

    The module prints its port (alone or as ``PORT <n>``) on the first line of stdout.
    """

    def __init__(self, module: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline().split()[-1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        import httpx

        return dict(httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=10).json())

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def fault_server() -> Iterable[Callable[..., ServerProcess]]:
    """Factory: start a fault server with the given command-line options; all are killed afterwards."""
    servers: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        server = ServerProcess("tests.models.fault_server", *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def critic_server() -> Iterable[ServerProcess]:
    """The scripted LLM-critic server of tests/prm/critic_server.py."""
    server = ServerProcess("tests.prm.critic_server")
    yield server
    server.stop()


DEMO_PROBLEMS = REPO_ROOT / "src" / "surestep" / "data" / "demo.jsonl"


def prm_record(
    classification: str,
    idx: str,
    num_steps: int,
    error_steps: list[int],
    *,
    original_steps: int = 3,
    question: str = "What is 1 + 1?",
) -> dict[str, Any]:
    """A PRMBench record in the benchmark's own schema, with numbered placeholder steps."""
    return {
        "idx": idx,
        "classification": classification,
        "original_question": question,
        "modified_question": question,
        "original_process": [f"original step {i + 1}" for i in range(original_steps)],
        "modified_process": [f"{classification} step {i + 1}" for i in range(num_steps)],
        "modified_steps": error_steps,
        "error_steps": error_steps,
        "reason": "made for a test",
        "question": question,
    }


SMALL_PRMBENCH = [
    prm_record("redundency", "p1", 4, [2]),
    prm_record("counterfactual", "p1", 3, [2, 3]),
    prm_record("multi_solutions", "p2", 2, []),
    prm_record("circular", "p3", 2, [5]),
    prm_record("multi_solutions", "p2", 3, []),
]
"""Five records: a repeated id (the second MS p2) and error steps past the end (circular p3)."""

SMALL_PREDICTIONS = [
    {"id": "correct_p1", "step_scores": [0.9, 0.8, 0.2]},
    {"id": "redundency_p1", "step_scores": [0.9, 0.1, 0.7, 0.6]},
    {"id": "counterfactual_p1", "step_scores": [0.8, 0.7]},
    {"id": "multi_solutions_p2", "step_scores": [0.9, 0.3]},
    {"id": "circular_p3", "step_scores": [0.4, 0.6]},
]
"""Scores for SMALL_PRMBENCH whose confusion matrices are worked out by hand in tests/prm."""


@pytest.fixture
def small_prmbench(tmp_path: Path) -> tuple[Path, Path]:
    """(data file, predictions file) of the hand-checked PRMBench example."""
    return (
        write_jsonl(tmp_path / "prmbench.jsonl", SMALL_PRMBENCH),
        write_jsonl(tmp_path / "predictions.jsonl", SMALL_PREDICTIONS),
    )
