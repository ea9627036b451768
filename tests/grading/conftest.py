"""Fixtures for grading tests: a real judge server process on loopback."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


@pytest.fixture
def judge_server() -> Iterator[str]:
    """Base URL (…/v1) of a fresh judge server process."""
    script = Path(__file__).with_name("judge_server.py")
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.kill()
        process.wait(timeout=10)


def server_stats(base_url: str) -> dict:
    return httpx.get(base_url.replace("/v1", "/stats")).json()
