"""surestep run / score RUN / grade RUN / export end to end against the test server."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import DEMO_PROBLEMS


def _run(cli, server, out, *extra):
    return cli(
        "run",
        "--model",
        "openai:fake",
        "--base-url",
        server.base_url,
        "--dataset",
        str(DEMO_PROBLEMS),
        "--subset-field",
        "subset",
        "--out",
        str(out),
        "--preset",
        "quick",
        "--quiet",
        *extra,
    )


def test_run_grades_scores_and_the_export_scores_the_same(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    result = _run(cli, server, out, "--json")
    assert result.returncode == 0, result.stderr
    sheet = json.loads(result.stdout)
    assert sheet["num_problems"] == 30 and sheet["n"] == 8
    assert "greedy" in sheet["metrics"] and sheet["ci"]
    # the server answers "What is A + B?" right ~65% of the time and other questions by chance
    assert 0.05 < sheet["metrics"]["greedy"] < 0.6
    assert f"run directory: {out}" in result.stderr

    export = tmp_path / "draws.jsonl"
    assert cli("export", str(out), "-o", str(export)).returncode == 0
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert len(lines) == 30 * 9
    assert {"problem_id", "sample_index", "response", "gold", "correct", "verdict"} <= set(lines[0])
    from_file = json.loads(cli("score", str(export), "--json", "--k", "4,8").stdout)
    from_run = json.loads(cli("score", str(out), "--json", "--k", "4,8").stdout)
    assert from_file["metrics"] == from_run["metrics"]

    by_subset = json.loads(cli("score", str(out), "--json", "--by", "subset").stdout)
    assert set(by_subset["subsets"]) == {"arithmetic", "word"}


def test_grade_run_fills_missing_grades_and_regrades_on_request(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    generated = cli(
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
        "4",
        "--quiet",
    )
    assert generated.returncode == 0, generated.stderr
    result = cli("grade", str(out))
    assert result.returncode == 0 and "graded 150 draws" in result.stderr
    assert "graded 0 draws" in cli("grade", str(out)).stderr
    assert "graded 150 draws" in cli("grade", str(out), "--regrade").stderr
    with sqlite3.connect(out / "run.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM grades").fetchone()[0] == 150
    assert cli("grade", str(out), "-o", str(tmp_path / "x.jsonl")).returncode == 2


def test_unknown_model_spec_and_missing_run_are_clear_errors(cli, tmp_path):
    result = cli("run", "--model", "gpt-4", "--dataset", str(DEMO_PROBLEMS), "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "expected one of openai:..., local:..." in result.stderr
    result = cli("score", str(tmp_path))
    assert result.returncode == 2 and "not a surestep run directory" in result.stderr
