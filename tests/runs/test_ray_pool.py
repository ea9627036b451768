"""The replica pool's hand-out on a local Ray cluster: each replica is sent a few requests more than
its backend runs at once (so its engine never idles for the round trip), and they wait in the
replica: the backend never runs more than its ``max_concurrency``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("ray", reason="--ray needs the extra 'ray'")

from surestep.runs.ray_generation import queued_beyond
from tests.runs.pool_probe import REQUESTS, SLOTS
from tests.runs.ray_cluster import REPO_ROOT, TEST_ENV, running_cluster


def test_queued_beyond_is_a_quarter_more_and_at_least_two():
    assert [queued_beyond(c) for c in (1, 2, 8, 13, 64)] == [2, 2, 2, 3, 16]


def test_a_replica_holds_more_requests_than_its_backend_runs_at_once():
    with running_cluster() as address:
        result = subprocess.run(
            [sys.executable, "-m", "tests.runs.pool_probe", address],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env={**os.environ, **TEST_ENV},
            timeout=600,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-4000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["capacity"] == SLOTS + queued_beyond(SLOTS)  # what the pipeline keeps in flight on the pool
    assert len(probe["most"]) == REQUESTS and max(probe["most"]) == SLOTS  # slots full, never more
