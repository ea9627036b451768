"""``surestep resume RUN``: the command recorded in the manifest, run again after a SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from surestep.runs.invocation import Invocation, resume_arguments
from tests.conftest import DEMO_PROBLEMS
from tests.waiting import count_rows, wait_until


def _run_args(base_url: str) -> list[str]:
    # relative --dataset and --out: resume must run them where they were typed
    return [
        "run",
        "--model",
        "openai:fake",
        "--base-url",
        base_url,
        "--dataset",
        "problems.jsonl",
        "--out",
        "runs/r",
        "--n",
        "6",
        "--k",
        "2,4",
        "--concurrency",
        "2",
        "--timeout",
        "5",
        "--quiet",
        "--no-ci",
    ]


def _draws(out: Path) -> list[tuple]:
    with sqlite3.connect(out / "run.sqlite") as db:
        return db.execute(
            "SELECT problem_id, config, draw_index, text, seed FROM draws ORDER BY 1, 2, 3"
        ).fetchall()


def _workspace(tmp_path: Path, name: str) -> Path:
    work = tmp_path / name
    work.mkdir()
    shutil.copy(DEMO_PROBLEMS, work / "problems.jsonl")
    return work


def test_resume_after_sigkill_finishes_the_run_as_the_uninterrupted_one(fault_server, cli, tmp_path):
    server = fault_server("--latency", "0.05")
    reference = _workspace(tmp_path, "reference")
    done = cli(*_run_args(server.base_url), cwd=reference)
    assert done.returncode == 0, done.stderr

    work = _workspace(tmp_path, "work")
    out = work / "runs" / "r"
    process = subprocess.Popen(
        [sys.executable, "-m", "surestep", *_run_args(server.base_url)],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        wait_until(
            lambda: process.poll() is not None or count_rows(out / "run.sqlite", "draws") > 0,
            what="the run to store its first draw",
        )
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = count_rows(out / "run.sqlite", "draws")
    assert killed_at < 30 * 7, "the run finished before the kill: nothing to resume"

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["invocation"]["argv"] == _run_args(server.base_url)
    assert manifest["invocation"]["cwd"] == str(work.resolve())

    resumed = cli("resume", str(out), cwd=tmp_path)  # from elsewhere: relative paths still hold
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming in {work.resolve()}: surestep run" in resumed.stderr
    assert _draws(out) == _draws(reference / "runs" / "r")
    results = json.loads((out / "results.json").read_text())
    assert results["score"]["n"] == 6 and (out / "report.html").is_file()


def test_a_moved_run_resumes_in_its_new_place_and_dry_run_only_prints(fault_server, cli, tmp_path):
    server = fault_server()
    work = _workspace(tmp_path, "work")
    args = [a if a != "6" else "2" for a in _run_args(server.base_url)]
    args[args.index("--k") + 1] = "2"
    first = cli(*args, "--limit", "2", cwd=work)
    assert first.returncode == 0, first.stderr
    moved = tmp_path / "moved"
    (work / "runs" / "r").rename(moved)

    dry = cli("resume", str(moved), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"--out {moved.resolve()}" in dry.stderr and not (work / "runs" / "r").exists()

    again = cli("resume", str(moved))
    assert again.returncode == 0, again.stderr
    recorded = json.loads((moved / "manifest.json").read_text())["invocation"]["argv"]
    assert recorded[recorded.index("--out") + 1] == str(moved.resolve())  # the latest command is kept


def test_resume_refuses_what_it_cannot_resume(cli, tmp_path):
    missing = cli("resume", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "no such run directory" in missing.stderr

    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"n": 4}))
    unrecorded = cli("resume", str(run))
    assert unrecorded.returncode == 2 and "records no command" in unrecorded.stderr

    newer = {"schema_version": 99, "argv": ["run"], "cwd": str(tmp_path)}
    (run / "manifest.json").write_text(json.dumps({"invocation": newer}))
    refused = cli("resume", str(run))
    assert refused.returncode == 2
    assert "invocation.schema_version" in refused.stderr and "newer surestep" in refused.stderr

    foreign = {"schema_version": 1, "argv": ["score", "x"], "cwd": str(tmp_path)}
    (run / "manifest.json").write_text(json.dumps({"invocation": foreign}))
    bad = cli("resume", str(run))
    assert bad.returncode == 2 and "invocation.argv" in bad.stderr and "not a resumable command" in bad.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("run", "--out", "a", "--n", "4"), ["run", "--out", "/r", "--n", "4"]),
        (("prm", "run", "--out=a"), ["prm", "run", "--out=/r"]),
        (("demo", "--n", "4"), ["demo", "--n", "4", "--out", "/r"]),  # the demo's default --out
    ],
)
def test_resume_points_out_at_the_run_wherever_it_lies(argv, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = Path("/r")
    assert resume_arguments(Invocation(argv, "/", "0"), target) == expected
