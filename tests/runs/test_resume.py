"""Crash and resume: SIGKILL at random moments, changed settings, raised n, bad datasets."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import DEMO_PROBLEMS, write_jsonl
from tests.waiting import count_rows, wait_until

N = 8


def _args(base_url: str, out: Path, *extra: str) -> list[str]:
    return [
        "generate",
        "--model",
        "openai:fake",
        "--base-url",
        base_url,
        "--dataset",
        str(DEMO_PROBLEMS),
        "--out",
        str(out),
        "--n",
        str(N),
        "--draws-per-request",
        "2",
        "--concurrency",
        "4",
        "--timeout",
        "5",
        "--quiet",
        *extra,
    ]


def _draws(out: Path) -> list[tuple]:
    with sqlite3.connect(out / "run.sqlite") as db:
        return db.execute(
            "SELECT problem_id, config, draw_index, text, seed FROM draws ORDER BY 1, 2, 3"
        ).fetchall()


def _kill_after_progress(args: list[str], out: Path, before: int, delay: float) -> int:
    """Start the CLI, wait until it has stored a draw beyond ``before``, SIGKILL it ``delay`` s later.

    Returns the draws stored once it is dead. A run that finishes on its own is simply reaped.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "surestep", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        wait_until(
            lambda: process.poll() is not None or count_rows(out / "run.sqlite", "draws") > before,
            what="the run to store a new draw",
        )
        time.sleep(delay)  # a random moment after the run got going, not a guess at start-up time
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return len(_draws(out)) if (out / "run.sqlite").exists() else 0


def test_sigkill_at_random_moments_then_resume_matches_an_uninterrupted_run(fault_server, cli, tmp_path):
    server = fault_server("--latency", "0.04", "--fault-rate", "0.1", "--faults", "429,500,drop")
    reference = tmp_path / "reference"
    assert cli(*_args(server.base_url, reference)).returncode == 0
    expected = _draws(reference)
    assert len(expected) == 30 * (N + 1)

    out = tmp_path / "killed"
    rng = random.Random(11)
    counts = [0]
    for _ in range(4):
        counts.append(
            _kill_after_progress(_args(server.base_url, out), out, counts[-1], rng.uniform(0.0, 0.4))
        )
    assert 0 < counts[1] < len(expected), f"the first kill did not land mid-run: {counts}"
    assert counts == sorted(counts)  # nothing committed was ever lost

    result = cli(*_args(server.base_url, out))
    assert result.returncode == 0, result.stderr
    assert _draws(out) == expected  # exactly n per problem, no duplicates, identical draws


def test_raising_n_adds_draws_and_keeps_the_old_ones(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    assert cli(*_args(server.base_url, out)).returncode == 0
    before = _draws(out)
    args = _args(server.base_url, out)
    args[args.index("--n") + 1] = "12"
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    after = _draws(out)
    assert set(before) <= set(after)
    assert len(after) == 30 * (12 + 1)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n"] == 12


def test_changing_a_sampling_parameter_on_a_run_is_refused(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    assert cli(*_args(server.base_url, out)).returncode == 0
    before = _draws(out)
    result = cli(*_args(server.base_url, out, "--temperature", "0.7"))
    assert result.returncode == 2
    assert "refusing to mix draws" in result.stderr
    assert "sampling" in result.stderr and "0.7" in result.stderr
    result = cli(*_args(server.base_url, out, "--prompt", "zh"))
    assert result.returncode == 2 and "prompt" in result.stderr
    assert _draws(out) == before


def test_a_malformed_dataset_names_file_line_and_field_and_writes_nothing(fault_server, cli, tmp_path):
    server = fault_server()
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"id": "a", "question": "What is 1 + 1?", "answer": "2"},
            {"id": "b", "question": "Q", "answer": None},
        ],
    )
    out = tmp_path / "run"
    args = _args(server.base_url, out)
    args[args.index("--dataset") + 1] = str(bad)
    result = cli(*args)
    assert result.returncode == 2
    assert f"{bad}:2: field 'answer'" in result.stderr
    assert not out.exists()
    assert server.stats()["requests"] == 0
