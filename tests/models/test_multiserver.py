"""One run over several real servers on loopback: routing, a server killed and brought back, engines."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEMO_PROBLEMS
from tests.waiting import count_rows, wait_until

TOTAL = 30 * (8 + 1)  # the demo set, n = 8 plus the greedy draw


def _args(out: Path, *servers: str, extra: tuple[str, ...] = ()) -> list[str]:
    urls = [arg for url in servers for arg in ("--base-url", url)]
    return [
        "generate",
        "--model",
        "openai:fake",
        "--dataset",
        str(DEMO_PROBLEMS),
        "--out",
        str(out),
        "--n",
        "8",
        "--timeout",
        "10",
        *urls,
        *extra,
    ]


def _draws(out: Path) -> list[tuple]:
    with sqlite3.connect(out / "run.sqlite") as db:
        return db.execute(
            "SELECT problem_id, config, draw_index, text, seed FROM draws ORDER BY 1, 2, 3"
        ).fetchall()


def _set_latency(server, seconds: float) -> None:
    httpx.post(
        f"http://127.0.0.1:{server.port}/control", json={"latency": seconds}, timeout=10
    ).raise_for_status()


@pytest.mark.slow
def test_a_server_killed_mid_run_and_brought_back_changes_no_draw(fault_server, cli, tmp_path):
    reference = tmp_path / "reference"
    single = fault_server()
    assert cli(*_args(reference, single.base_url), "--quiet").returncode == 0
    expected = _draws(reference)
    assert len(expected) == TOTAL

    a, b, c = (fault_server("--latency", "0.05") for _ in range(3))
    out = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "surestep",
            *_args(out, a.base_url, b.base_url, c.base_url),
            "--concurrency",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"},
    )
    try:
        wait_until(lambda: b.stats()["ok"] >= 3, what="the second server to serve draws")
        for server in (a, c):  # the rest of the run now takes a minute at least, unless b comes back
            _set_latency(server, 1.0)
        b.stop()
        stored = count_rows(out / "run.sqlite", "draws")
        wait_until(lambda: count_rows(out / "run.sqlite", "draws") >= stored + 4, what="draws without it")
        assert process.poll() is None
        revived = fault_server("--port", str(b.port))
        wait_until(lambda: revived.stats()["ok"] >= 3, what="the revived server to be back in rotation")
        for server in (a, c):
            _set_latency(server, 0.0)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert _draws(out) == expected  # every draw once, each the text one server gives for its seed
    assert "draws per server: " in stderr
    served = {server.port: server.stats()["ok"] for server in (a, c, revived)}
    assert all(count > 0 for count in served.values()), served


def test_a_servers_file_spreads_a_run_and_the_manifest_records_each_engine(fault_server, cli, tmp_path):
    reference = tmp_path / "reference"
    assert cli(*_args(reference, fault_server().base_url), "--quiet").returncode == 0
    a, b = fault_server("--version", "1.0"), fault_server("--version", "1.0")
    servers = tmp_path / "servers.txt"
    servers.write_text(f"# two nodes\n{a.base_url} 3\n{b.base_url}  5\n")
    out = tmp_path / "run"
    result = cli(*_args(out, extra=("--base-urls-file", str(servers))), "--quiet")
    assert result.returncode == 0, result.stderr
    assert _draws(out) == _draws(reference)
    assert a.stats()["ok"] > 0 and b.stats()["ok"] > 0
    assert f"127.0.0.1:{a.port} " in result.stderr and f"127.0.0.1:{b.port} " in result.stderr
    engines = json.loads((out / "manifest.json").read_text())["engines"]
    assert [e["server"] for e in engines] == [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]
    assert all(e["reported"]["version"] == {"version": "1.0"} for e in engines)
    assert all(e["reported"]["models"]["id"] == "fake" and e["first_seen"] for e in engines)

    b.stop()  # the same server restarted on a newer engine: the resume goes on and says so
    upgraded = fault_server("--port", str(b.port), "--version", "1.1")
    result = cli(*_args(out, extra=("--base-urls-file", str(servers), "--n", "10")), "--quiet")
    assert result.returncode == 0, result.stderr
    assert len(_draws(out)) == 30 * (10 + 1)
    assert upgraded.stats()["ok"] > 0
    after = json.loads((out / "manifest.json").read_text())["engines"]
    assert after[:2] == engines
    assert [(e["server"], e["reported"]["version"]["version"]) for e in after[2:]] == [
        (f"127.0.0.1:{b.port}", "1.1")
    ]
