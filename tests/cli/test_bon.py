"""surestep bon end to end: the oracle on a real small run, a tiny local PRM through the CLI (resumed
after SIGKILL, refused when its setup changes), and the store migration."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from surestep.cli import bon as cli_bon
from surestep.metrics import best_of_n
from surestep.runs import bon as runs_bon
from surestep.runs.store import SCHEMA_VERSION, RunStore
from tests.conftest import DEMO_PROBLEMS, REPO_ROOT, run_cli
from tests.waiting import count_rows, wait_until


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """30 demo problems x 8 graded draws from the test server."""
    from tests.conftest import ServerProcess

    server = ServerProcess("tests.models.fault_server")
    try:
        out = tmp_path_factory.mktemp("bon") / "run"
        result = run_cli(
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
        )
        assert result.returncode == 0, result.stderr
    finally:
        server.stop()
    return out


def test_the_oracle_gives_pass_at_n_and_random_gives_the_average_at_one(small_run):
    result = run_cli("bon", str(small_run), "--scorer", "oracle", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 8 and report["num_problems"] == 30 and report["scorer"] == "oracle"
    methods = report["methods"]
    assert list(methods["best_of_n"]) == ["1", "2", "4", "8"]
    for size in ("1", "2", "4", "8"):
        assert methods["best_of_n"][size] == pytest.approx(methods["pass"][size], abs=1e-12)
        low, high = report["ci"]["best_of_n"][size]
        assert low <= methods["best_of_n"][size] <= high
    average = methods["random"]["1"]
    assert methods["best_of_n"]["1"] == pytest.approx(average, abs=1e-12)
    assert methods["majority"]["1"] == pytest.approx(average, abs=1e-12)
    assert methods["pass"]["8"] > methods["pass"]["1"]  # the run has problems right only sometimes
    # pass@N agrees with surestep score on the same run
    sheet = json.loads(run_cli("score", str(small_run), "--json", "--k", "4,8").stdout)
    assert methods["pass"]["4"] == pytest.approx(sheet["metrics"]["pass@4"], abs=1e-12)
    assert methods["majority"]["8"] == pytest.approx(sheet["metrics"]["maj@8"], abs=1e-12)
    assert set(report["subsets"]) == {"arithmetic", "word"}
    assert json.loads((small_run / "bon-oracle.json").read_text())["methods"] == methods

    rand = json.loads(run_cli("bon", str(small_run), "--scorer", "random", "--seed", "3", "--json").stdout)
    assert rand["methods"]["best_of_n"]["1"] == pytest.approx(average, abs=1e-12)
    assert rand["methods"]["best_of_n"]["8"] <= methods["best_of_n"]["8"]
    again = json.loads(run_cli("bon", str(small_run), "--scorer", "random", "--seed", "3", "--json").stdout)
    assert again["methods"] == rand["methods"]  # seeded


@pytest.fixture(scope="module")
def tiny_shepherd(small_run, tmp_path_factory):
    pytest.importorskip("torch", reason="PRM scorers need torch (extra 'prm')")
    from tests.prm.tiny_models import build

    with sqlite3.connect(small_run / "run.sqlite") as db:
        texts = [row[0] for row in db.execute("SELECT text FROM draws")]
        texts += [row[0] for row in db.execute("SELECT question FROM problems")]
    return build("math-shepherd", tmp_path_factory.mktemp("shepherd"), texts)


def _prm_args(run, model, *extra):
    return (
        "bon",
        str(run),
        "--scorer",
        "math-shepherd",
        "--model",
        str(model),
        "--tokenizer",
        str(model / "tokenizer"),
        *extra,
    )


def test_a_tiny_prm_scores_the_run_resumes_after_sigkill_and_refuses_a_changed_setup(
    small_run, tiny_shepherd, tmp_path
):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    database = run / "run.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-m", "surestep", *_prm_args(run, tiny_shepherd, "--chunk", "1")],
        cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: child.poll() is not None or count_rows(database, "step_scores") >= 3,
            what="three stored step scores",
        )
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert 3 <= count_rows(database, "step_scores") < 240, "the job never got going, or it finished"
    with sqlite3.connect(database) as db:
        before = dict(
            db.execute("SELECT problem_id || '#' || draw_index, scores FROM step_scores").fetchall()
        )
    resumed = run_cli(*_prm_args(run, tiny_shepherd, "--chunk", "16", "--json"))
    assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(database) as db:
        after = dict(db.execute("SELECT problem_id || '#' || draw_index, scores FROM step_scores").fetchall())
        steps = db.execute("SELECT SUM(steps), SUM(truncated_steps) FROM step_scores").fetchone()
    assert len(after) == 240 and {k: after[k] for k in before} == before  # nothing scored twice
    assert steps[0] >= 240 and steps[1] == 0
    report = json.loads(resumed.stdout)
    assert report["scorer"] == "math-shepherd" and report["draws"]["scored"] == 240
    assert report["draws"]["unscored"] == 0
    methods = report["methods"]
    assert methods["best_of_n"]["1"] == pytest.approx(methods["random"]["1"], abs=1e-12)
    assert all(0.0 <= v <= 1.0 for figures in methods.values() for v in figures.values())

    # a fresh run directory scored in one go holds the same scores
    fresh = tmp_path / "fresh"
    shutil.copytree(small_run, fresh)
    assert run_cli(*_prm_args(fresh, tiny_shepherd, "--chunk", "64")).returncode == 0
    with sqlite3.connect(fresh / "run.sqlite") as db:
        clean = dict(db.execute("SELECT problem_id || '#' || draw_index, scores FROM step_scores").fetchall())
    assert set(clean) == set(after)
    for key, scores in clean.items():
        assert json.loads(after[key]) == pytest.approx(json.loads(scores), abs=1e-5)

    refused = run_cli(*_prm_args(run, tiny_shepherd, "--max-length", "64"))
    assert refused.returncode == 2
    assert "different scorer setup" in refused.stderr and "max_length: run has null, now 64" in refused.stderr
    beside = run_cli(*_prm_args(run, tiny_shepherd, "--max-length", "64", "--name", "cut", "--json"))
    assert beside.returncode == 0, beside.stderr
    assert json.loads(beside.stdout)["name"] == "cut"


def test_cli_constants_agree_with_the_modules():
    assert cli_bon.BUILT_IN == runs_bon.BUILT_IN
    assert cli_bon.AGGREGATES == best_of_n.AGGREGATES
    assert cli_bon.DEFAULT_SAMPLES == best_of_n.DEFAULT_SAMPLES


def test_a_schema_3_store_gains_the_step_scores_table_in_place(tmp_path):
    (tmp_path / "run").mkdir()
    with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema', '3');"
        )
    with RunStore(tmp_path / "run") as store:
        assert store.step_scorers() == {} and store.step_scores("key", "config") == {}
    with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (str(SCHEMA_VERSION),)
    assert SCHEMA_VERSION == 4


def test_the_oracle_needs_no_model_and_a_prm_does(small_run):
    result = run_cli("bon", str(small_run), "--scorer", "math-shepherd")
    assert result.returncode == 2 and "needs --model" in result.stderr
