"""surestep run/generate --ray: SmolLM2 replicas on a local Ray cluster, one killed, the driver killed.

The cluster is held by its own process (tests/runs/ray_cluster.py), so a driver can be
SIGKILLed without leaving Ray behind. Runs are tiny (2 problems, 4 draws, 6 tokens): the point
is that every draw is made and stored exactly once, and that the draws are the ones a single
process makes (the local backend seeds each request, so they are deterministic on one machine).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="--ray needs the extra 'ray'")
pytest.importorskip("torch", reason="the local backend needs the extra 'local'")

from surestep.runs.ray_cluster import CRASH_ENV
from tests.conftest import DEMO_PROBLEMS, REPO_ROOT
from tests.runs.ray_cluster import TEST_ENV, running_cluster
from tests.waiting import count_rows, wait_until

ARGS = (
    "--model",
    "local:",
    "--dataset",
    str(DEMO_PROBLEMS),
    "--limit",
    "2",
    "--n",
    "4",
    "--draws-per-request",
    "2",
    "--max-tokens",
    "6",
    "--no-greedy",
    "--device",
    "cpu",
    "--quiet",
)
DRAWS = 2 * 4


@pytest.fixture(scope="module")
def cluster():
    with running_cluster() as address:
        yield address


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The draws of the same run in one process, without Ray."""
    from tests.conftest import run_cli

    out = tmp_path_factory.mktemp("reference") / "run"
    result = run_cli("generate", *ARGS, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return _draws(out)


def _draws(out: Path) -> list[tuple]:
    with sqlite3.connect(out / "run.sqlite") as db:
        return db.execute(
            "SELECT problem_id, config, draw_index, text, seed FROM draws ORDER BY 1, 2, 3"
        ).fetchall()


def _on_ray(cluster: str) -> tuple[str, ...]:
    return ("--ray", cluster, "--replicas", "2", "--gpus-per-replica", "0")


def test_replicas_make_the_draws_of_one_process_when_one_dies(cluster, reference, cli, tmp_path):
    out, marker = tmp_path / "run", tmp_path / "replica-crashed"
    result = cli(
        "run",
        *ARGS,
        "--out",
        str(out),
        *_on_ray(cluster),
        "--no-ci",
        "--json",
        env={**TEST_ENV, CRASH_ENV: str(marker)},
    )
    assert result.returncode == 0, result.stderr
    assert marker.exists()  # a replica ended its process on its first request; the other made every draw
    assert _draws(out) == reference
    with sqlite3.connect(out / "run.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM grades").fetchone()[0] == DRAWS
    early = re.search(r"\(([\d,]+) while generating\)", result.stderr)
    assert early is not None and int(early.group(1).replace(",", "")) > 0  # graded as the draws landed


def test_a_killed_driver_resumes_from_the_store(cluster, reference, cli, tmp_path):
    out = tmp_path / "run"
    args = ["generate", *ARGS, "--out", str(out), *_on_ray(cluster)]
    driver = subprocess.Popen(
        [sys.executable, "-m", "surestep", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **TEST_ENV},
    )
    database = out / "run.sqlite"
    try:
        wait_until(
            lambda: driver.poll() is not None or count_rows(database, "draws") > 0,
            what="a stored draw",
            timeout=600,
        )
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    before = _draws(out)
    assert 0 < len(before) < DRAWS, f"the kill did not land mid-run ({len(before)} draws stored)"
    resumed = cli(*args, env=TEST_ENV)
    assert resumed.returncode == 0, resumed.stderr
    after = _draws(out)
    assert set(before) <= set(after) and after == reference


def test_a_cluster_too_small_is_refused_before_anything_loads(cluster, cli, tmp_path):
    result = cli(
        "generate",
        *ARGS,
        "--out",
        str(tmp_path / "run"),
        "--ray",
        cluster,
        "--replicas",
        "3",
        "--gpus-per-replica",
        "0",
        env=TEST_ENV,
    )
    assert result.returncode == 2
    assert "--replicas 3: the Ray cluster (1 node(s), 0 GPUs, 2 CPUs) holds 2 replica(s)" in result.stderr
    alone = cli("generate", *ARGS, "--out", str(tmp_path / "other"), "--replicas", "2")
    assert alone.returncode == 2 and "--replicas and --gpus-per-replica go with --ray" in alone.stderr


def test_a_model_no_replica_can_load_is_one_clear_error(cluster, cli, tmp_path):
    args = list(ARGS)
    args[args.index("local:")] = f"local:{tmp_path / 'no-such-model'}"
    result = cli("generate", *args, "--out", str(tmp_path / "run"), *_on_ray(cluster), env=TEST_ENV)
    assert result.returncode == 2, result.stderr
    assert "no Ray replica could start: replica-0:" in result.stderr and "replica-1:" in result.stderr
