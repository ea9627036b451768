"""``surestep prm run`` with a tiny local PRM: predictions, resume after SIGKILL, refused changes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="prm run needs torch (extra 'prm')")

from tests.conftest import REPO_ROOT, run_cli
from tests.prm.tiny_models import build
from tests.waiting import count_rows, wait_until


@pytest.fixture(scope="module")
def subset(shared_data):
    return shared_data / "prmbench" / "subset400.jsonl"


@pytest.fixture(scope="module")
def tiny_shepherd(subset, tmp_path_factory):
    texts = []
    for line in subset.read_text().splitlines():
        record = json.loads(line)
        texts += [record["modified_question"], record["original_question"], *record["modified_process"],
                  *record["original_process"]]
    return build("math-shepherd", tmp_path_factory.mktemp("shepherd"), texts)


def _args(model, subset, out, *extra):
    return ("prm", "run", "--scorer", "math-shepherd", "--model", str(model), "--tokenizer",
            str(model / "tokenizer"), "--data", str(subset), "--out", str(out), *extra)


def _predictions(out):
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def test_run_writes_predictions_and_prints_the_table(cli, tiny_shepherd, subset, tmp_path):
    out = tmp_path / "run"
    result = cli(*_args(tiny_shepherd, subset, out, "--limit", "30", "--chunk", "8", "--json"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert 0.0 <= report["overall"]["prmscore"] <= 1.0
    assert report["data_issues"]["missing_predictions"]["count"] == 0
    rows = _predictions(out)
    assert len(rows) == len({r["id"] for r in rows}) >= 30
    first = rows[0]
    assert set(first) >= {"id", "step_scores", "truncated_steps"}
    assert all(0.0 <= s <= 1.0 for r in rows for s in r["step_scores"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scorer"] == "math-shepherd" and manifest["kind"] == "prm"

    again = cli(*_args(tiny_shepherd, subset, out, "--limit", "30", "--chunk", "8", "--json"))
    assert again.returncode == 0, again.stderr
    assert _predictions(out) == rows  # nothing rescored, nothing lost

    refused = cli("prm", "run", "--scorer", "qwen-prm", "--model", str(tiny_shepherd), "--data", str(subset),
                  "--out", str(out), "--limit", "30")
    assert refused.returncode == 2
    assert "different scorer setup" in refused.stderr and "scorer: run has" in refused.stderr


def test_a_killed_run_resumes_without_rescoring(tiny_shepherd, subset, tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "surestep", *_args(tiny_shepherd, subset, out, "--limit", "80", "--chunk", "1")],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    database = out / "predictions.sqlite"
    try:
        wait_until(lambda: child.poll() is not None or count_rows(database, "predictions") >= 5,
                   what="five stored predictions")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert count_rows(database, "predictions") >= 5, "the run never got going"
    with sqlite3.connect(database) as db:
        before = dict(db.execute("SELECT id, row FROM predictions").fetchall())
    resumed = run_cli(*_args(tiny_shepherd, subset, out, "--limit", "80", "--chunk", "1"))
    assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(database) as db:
        after = dict(db.execute("SELECT id, row FROM predictions").fetchall())
    assert {k: after[k] for k in before} == before  # finished instances were not scored again
    fresh = tmp_path / "fresh"
    assert run_cli(*_args(tiny_shepherd, subset, fresh, "--limit", "80", "--chunk", "1")).returncode == 0
    resumed_rows, fresh_rows = _predictions(out), _predictions(fresh)
    assert [r["id"] for r in resumed_rows] == [r["id"] for r in fresh_rows]
    for a, b in zip(resumed_rows, fresh_rows):
        assert a["step_scores"] == pytest.approx(b["step_scores"], abs=1e-5)


def test_scorers_are_listed_with_their_models(cli):
    result = cli("prm", "scorers")
    assert result.returncode == 0, result.stderr
    for text in ("math-shepherd", "peiyi9979/math-shepherd-mistral-7b-prm", "qwen-prm",
                 "Qwen/Qwen2.5-Math-PRM-7B", "rlhflow-prm", "reasoneval", "GAIR/ReasonEval-7B", "skywork-prm",
                 "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B", "llemma-prm", "mathminos", "pure-prm",
                 "jinachris/PURE-PRM-7B", "critic"):
        assert text in result.stdout, text


def test_skywork_reward_differences_from_the_cli(cli, small_prmbench, tmp_path):
    data, _ = small_prmbench
    texts = [s for r in map(json.loads, data.read_text().splitlines())
             for s in (r["question"], *r["original_process"], *r["modified_process"])]
    model = build("skywork-prm", tmp_path / "skywork", texts)
    base = ("prm", "run", "--scorer", "skywork-prm", "--model", str(model), "--tokenizer", str(model / "tokenizer"),
            "--data", str(data))
    plain = cli(*base, "--out", str(tmp_path / "plain"), "--json")
    differences = cli(*base, "--out", str(tmp_path / "diff"), "--reward-differences", "--json")
    assert plain.returncode == 0 and differences.returncode == 0, plain.stderr + differences.stderr
    rewards, scores = _predictions(tmp_path / "plain"), _predictions(tmp_path / "diff")
    for a, b in zip(rewards, scores):
        expected = [a["step_scores"][0], *(y - x for x, y in zip(a["step_scores"], a["step_scores"][1:]))]
        assert b["step_scores"] == pytest.approx(expected, abs=1e-6)
    assert json.loads(differences.stdout)["threshold"]["validity"] == -0.05
    refused = cli(*base, "--out", str(tmp_path / "diff"))
    assert refused.returncode == 2 and "reward_differences: run has true, now false" in refused.stderr
