"""The seed stored with each draw is the seed it was generated with, whatever the requests look like."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from surestep.models import SamplingParams
from surestep.runs.pipeline import GenerationPlan, consecutive_runs, derive_seed, draw_seed, merge_engines
from tests.conftest import DEMO_PROBLEMS
from tests.models.fault_server import reply_text


def _generate(cli, base_url: str, out: Path, *extra: str):
    return cli(
        "generate",
        "--model",
        "openai:fake",
        "--base-url",
        base_url,
        "--dataset",
        str(DEMO_PROBLEMS),
        "--out",
        str(out),
        "--preset",
        "quick",
        "--quiet",
        *extra,
    )


def _draws(out: Path) -> list[tuple]:
    """(problem, config, index, text, seed, prompt) of every stored draw."""
    with sqlite3.connect(out / "run.sqlite") as db:
        return db.execute(
            "SELECT d.problem_id, d.config, d.draw_index, d.text, d.seed, p.prompt FROM draws d "
            "JOIN problems p USING (problem_id) ORDER BY 1, 2, 3"
        ).fetchall()


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_the_seed_rule_blocks_runs_and_engine_records():
    plan = GenerationPlan(n=8, sampling=SamplingParams(), seed=5, draws_per_request=4)
    block = derive_seed(5, "p", "sample", 4)
    assert [draw_seed(plan, "p", "sample", i) for i in (4, 5, 7)] == [block, block + 1, block + 3]
    one = GenerationPlan(n=8, sampling=SamplingParams(), seed=5)
    assert draw_seed(one, "p", "sample", 6) == derive_seed(5, "p", "sample", 6)
    assert draw_seed(GenerationPlan(n=8, sampling=SamplingParams(), seed=None), "p", "sample", 6) is None
    assert consecutive_runs([7, 2, 3, 5, 6]) == [[2, 3], [5, 6, 7]]
    assert consecutive_runs([]) == []

    a = {"server": "a:1", "reported": {"version": {"version": "1"}}}
    known = merge_engines(None, [a], "t1")
    assert known == [{**a, "first_seen": "t1"}]
    assert merge_engines(known, [a], "t2") == known  # the same engine again adds nothing
    upgraded = {"server": "a:1", "reported": {"version": {"version": "2"}}}
    assert merge_engines(known, [upgraded], "t3") == [*known, {**upgraded, "first_seen": "t3"}]


def test_with_several_draws_per_request_every_stored_seed_reproduces_its_draw(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    result = _generate(cli, server.base_url, out, "--n", "6", "--draws-per-request", "4")
    assert result.returncode == 0, result.stderr
    draws = _draws(out)
    assert len(draws) == 30 * 7
    sample = _manifest(out)["configs"]["sample"]
    for _, config, _, text, seed, prompt in draws:
        temperature = 1.0 if config == sample else 0.0
        assert text == reply_text(prompt, seed, 0, temperature)  # the seed alone gives this draw back
    by_problem: dict[str, dict[int, int]] = {}
    for problem, config, index, _, seed, _ in draws:
        if config == sample:
            by_problem.setdefault(problem, {})[index] = seed
    for seeds in by_problem.values():
        assert [seeds[i] - seeds[0] for i in range(4)] == [0, 1, 2, 3]  # one n=4 request, vLLM's rule
        assert seeds[5] - seeds[4] == 1 and seeds[4] != seeds[0] + 4  # the next block has its own seed
    assert server.stats()["requests"] == 30 * 3  # blocks [0, 4) and [4, 6), and the greedy draw


def test_raising_n_fills_a_block_tail_with_the_seeds_an_uninterrupted_run_has(fault_server, cli, tmp_path):
    server = fault_server()
    whole, grown = tmp_path / "whole", tmp_path / "grown"
    assert _generate(cli, server.base_url, whole, "--n", "8", "--draws-per-request", "4").returncode == 0
    assert _generate(cli, server.base_url, grown, "--n", "6", "--draws-per-request", "4").returncode == 0
    before = server.stats()["requests"]
    result = _generate(cli, server.base_url, grown, "--n", "8", "--draws-per-request", "4")
    assert result.returncode == 0, result.stderr
    assert server.stats()["requests"] - before == 30  # one request per problem: draws 6 and 7
    assert _draws(grown) == _draws(whole)


def test_by_default_each_draw_is_its_own_request_with_its_own_seed(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    result = _generate(cli, server.base_url, out, "--n", "4", "--seed", "3")
    assert result.returncode == 0, result.stderr
    manifest = _manifest(out)
    assert manifest["draws_per_request"] == 1 and manifest["seed"] == 3
    for problem, config, index, _, seed, _ in _draws(out):
        kind = "sample" if config == manifest["configs"]["sample"] else "greedy"
        assert seed == derive_seed(3, problem, kind, index)
    stats = server.stats()
    assert stats["requests"] == stats["seeded"] == 30 * 5


def test_export_carries_each_draws_seed(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    assert _generate(cli, server.base_url, out, "--n", "3").returncode == 0
    export = tmp_path / "draws.jsonl"
    assert cli("export", str(out), "-o", str(export)).returncode == 0
    rows = [json.loads(line) for line in export.read_text().splitlines()]
    stored = {
        (p, i, greedy): seed
        for p, config, i, _, seed, _ in _draws(out)
        for greedy in [config == _manifest(out)["configs"]["greedy"]]
    }
    assert len(rows) == len(stored) == 30 * 4
    assert all(row["seed"] == stored[(row["problem_id"], row["sample_index"], row["greedy"])] for row in rows)
    assert all(isinstance(row["seed"], int) for row in rows)


def test_no_seed_runs_against_a_server_that_rejects_seeds_and_stores_none(fault_server, cli, tmp_path):
    server = fault_server("--reject-seed")
    refused = _generate(cli, server.base_url, tmp_path / "refused", "--n", "2")
    assert refused.returncode == 1
    assert "HTTP 400" in refused.stderr and "--no-seed" in refused.stderr

    out = tmp_path / "run"
    result = _generate(cli, server.base_url, out, "--n", "2", "--no-seed")
    assert result.returncode == 0, result.stderr
    assert {seed for *_, seed, _ in _draws(out)} == {None}
    assert len(_draws(out)) == 30 * 3
    assert _manifest(out)["seed"] is None
    export = tmp_path / "draws.jsonl"
    assert cli("export", str(out), "-o", str(export)).returncode == 0
    assert {json.loads(line)["seed"] for line in export.read_text().splitlines()} == {None}

    resumed = _generate(cli, server.base_url, out, "--n", "2")  # a seeded resume would mix draws
    assert resumed.returncode == 2 and "seed" in resumed.stderr and "refusing to mix draws" in resumed.stderr


def test_no_seed_is_refused_beside_a_seed_or_for_a_local_model(cli, tmp_path):
    both = _generate(cli, "http://127.0.0.1:9/v1", tmp_path / "a", "--no-seed", "--seed", "4")
    assert both.returncode == 2 and "--no-seed" in both.stderr
    local = cli(
        "generate",
        "--model",
        "local:",
        "--dataset",
        str(DEMO_PROBLEMS),
        "--out",
        str(tmp_path / "b"),
        "--no-seed",
        "--quiet",
    )
    assert local.returncode == 2 and "--no-seed" in local.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
