"""Fixtures for grading tests: a real judge server process on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerProcess


@pytest.fixture
def judge_server() -> Iterator[str]:
    """Base URL (…/v1) of a fresh judge server process."""
    server = ServerProcess("tests.grading.judge_server")
    yield server.base_url
    server.stop()


def server_stats(base_url: str) -> dict:
    return httpx.get(base_url.replace("/v1", "/stats")).json()
