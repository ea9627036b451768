"""``surestep prm run`` with tiny local PRMs: predictions, protocols and their defaults, resume after
SIGKILL, refused changes, the scorer listing."""

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
        texts += [
            record["modified_question"],
            record["original_question"],
            *record["modified_process"],
            *record["original_process"],
        ]
    return build("math-shepherd", tmp_path_factory.mktemp("shepherd"), texts)


def _args(model, subset, out, *extra):
    return (
        "prm",
        "run",
        "--scorer",
        "math-shepherd",
        "--model",
        str(model),
        "--tokenizer",
        str(model / "tokenizer"),
        "--data",
        str(subset),
        "--out",
        str(out),
        *extra,
    )


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
    assert manifest["protocol"] == "prmbench"  # the default on PRMBench data
    assert manifest["defaults"]["threshold"] == 0.5 and manifest["defaults"]["truncation"] == 2048
    assert manifest["defaults"]["dtype"] == "float32"
    assert manifest["defaults"]["sources"]["threshold"].startswith("mr_eval/models/math_shepherd.py:24")
    assert report["protocol"]["protocol"] == "prmbench"
    # 30 of the 394 subset records: a smaller table than the paper's, so not comparable
    assert not report["protocol"]["comparable_with_prmbench"]
    assert "30 records scored; the paper's table covers all 6,216" in report["protocol"]["statement"]

    again = cli(*_args(tiny_shepherd, subset, out, "--limit", "30", "--chunk", "8", "--json"))
    assert again.returncode == 0, again.stderr
    assert _predictions(out) == rows  # nothing rescored, nothing lost

    refused = cli(
        "prm",
        "run",
        "--scorer",
        "qwen-prm",
        "--model",
        str(tiny_shepherd),
        "--data",
        str(subset),
        "--out",
        str(out),
        "--limit",
        "30",
    )
    assert refused.returncode == 2
    assert "different scorer setup" in refused.stderr and "scorer: run has" in refused.stderr
    other_protocol = cli(*_args(tiny_shepherd, subset, out, "--limit", "30", "--protocol", "card"))
    assert other_protocol.returncode == 2
    assert 'protocol: run has "prmbench", now "card"' in other_protocol.stderr

    text = cli(*_args(tiny_shepherd, subset, out, "--limit", "30", "--threshold", "0.3"))
    assert text.returncode == 0, text.stderr
    assert (
        "protocol prmbench, threshold 0.3, inputs cut at 2,048 tokens, float32: NOT comparable" in text.stdout
    )
    assert "threshold 0.3 instead of PRMBench's 0.5" in text.stdout


def test_a_killed_run_resumes_without_rescoring(tiny_shepherd, subset, tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "surestep",
            *_args(tiny_shepherd, subset, out, "--limit", "80", "--chunk", "1"),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = out / "predictions.sqlite"
    try:
        wait_until(
            lambda: child.poll() is not None or count_rows(database, "predictions") >= 5,
            what="five stored predictions",
        )
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
    for text in (
        "math-shepherd",
        "peiyi9979/math-shepherd-mistral-7b-prm",
        "qwen-prm",
        "Qwen/Qwen2.5-Math-PRM-7B",
        "rlhflow-prm",
        "reasoneval",
        "GAIR/ReasonEval-7B",
        "skywork-prm",
        "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-1.5B",
        "llemma-prm",
        "mathminos",
        "pure-prm",
        "jinachris/PURE-PRM-7B",
        "critic",
        "prmbench",
        "card",
    ):
        assert text in result.stdout, text


def test_scorers_json_lists_every_default_with_its_source(cli):
    result = cli("prm", "scorers", "--json")
    assert result.returncode == 0, result.stderr
    scorers = {s["name"]: s for s in json.loads(result.stdout)["scorers"]}
    assert set(scorers) == {
        "math-shepherd",
        "qwen-prm",
        "rlhflow-prm",
        "reasoneval",
        "skywork-prm",
        "llemma-prm",
        "mathminos",
        "pure-prm",
        "critic",
    }
    for name, scorer in scorers.items():
        assert scorer["models"], name
        assert set(scorer["protocols"]) == {"prmbench", "card"}, name
        for protocol, defaults in scorer["protocols"].items():
            assert {"format", "threshold", "redundancy_threshold", "truncation", "dtype", "sources"} <= set(
                defaults
            )
            assert all(
                defaults["sources"][key]
                for key in ("threshold", "redundancy_threshold", "truncation", "dtype")
            ), (name, protocol)
    prmbench = {name: s["protocols"]["prmbench"] for name, s in scorers.items()}
    assert prmbench["reasoneval"]["redundancy_threshold"] == 0.15
    assert prmbench["skywork-prm"]["threshold"] == -0.05
    assert prmbench["mathminos"]["threshold"] == 0.0 and prmbench["pure-prm"]["threshold"] == 0.0
    assert prmbench["critic"]["threshold"] == 0.0 and prmbench["critic"]["redundancy_threshold"] == 0.0
    assert {n: d["dtype"] for n, d in prmbench.items() if n != "critic"} == {
        "math-shepherd": "float32",
        "qwen-prm": "bfloat16",
        "rlhflow-prm": "float32",
        "reasoneval": "bfloat16",
        "skywork-prm": "float32",
        "llemma-prm": "float32",
        "mathminos": "float32",
        "pure-prm": "bfloat16",
    }
    assert all(d["truncation"] == 2048 for n, d in prmbench.items() if n != "critic")
    assert scorers["reasoneval"]["protocols"]["card"]["redundancy_threshold"] == 0.15
    assert all(s["protocols"]["card"]["truncation"] is None for s in scorers.values())


def _texts(data):
    return [
        s
        for r in map(json.loads, data.read_text().splitlines())
        for s in (r["question"], *r["original_process"], *r["modified_process"], "Step 1: Step 2: Step 3:")
    ]


def test_skywork_under_prmbench_reads_n_plus_one_rewards_and_judges_differences(
    cli, small_prmbench, tmp_path
):
    data, _ = small_prmbench
    model = build("skywork-prm", tmp_path / "skywork", _texts(data))
    base = (
        "prm",
        "run",
        "--scorer",
        "skywork-prm",
        "--model",
        str(model),
        "--tokenizer",
        str(model / "tokenizer"),
        "--data",
        str(data),
    )
    result = cli(*base, "--out", str(tmp_path / "prmbench"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["threshold"]["validity"] == -0.05  # skywork_prm.py:39
    rows = _predictions(tmp_path / "prmbench")
    assert all(len(r["extra_scores"]) == 1 for r in rows)  # N steps, N+1 rewards
    assert report["data_issues"]["reads_past_end"]["count"] == len(rows)
    # circular_p3 lists error step 5 of 2: not a read PRMBench makes (3 reads), so it stays uncounted
    assert report["categories"]["circular"]["steps"] == 3
    manifest = json.loads((tmp_path / "prmbench" / "manifest.json").read_text())
    assert manifest["reward_differences"] is True and manifest["protocol"] == "prmbench"


def test_skywork_card_rewards_or_differences(cli, small_prmbench, tmp_path):
    data, _ = small_prmbench
    model = build("skywork-prm", tmp_path / "skywork", _texts(data))
    base = (
        "prm",
        "run",
        "--scorer",
        "skywork-prm",
        "--model",
        str(model),
        "--tokenizer",
        str(model / "tokenizer"),
        "--data",
        str(data),
        "--protocol",
        "card",
    )
    plain = cli(*base, "--out", str(tmp_path / "plain"), "--json")
    differences = cli(*base, "--out", str(tmp_path / "diff"), "--reward-differences", "--json")
    assert plain.returncode == 0 and differences.returncode == 0, plain.stderr + differences.stderr
    rewards, scores = _predictions(tmp_path / "plain"), _predictions(tmp_path / "diff")
    for a, b in zip(rewards, scores):
        expected = [a["step_scores"][0], *(y - x for x, y in zip(a["step_scores"], a["step_scores"][1:]))]
        assert b["step_scores"] == pytest.approx(expected, abs=1e-6)
        assert "extra_scores" not in a and "extra_scores" not in b
    assert json.loads(plain.stdout)["threshold"]["validity"] == 0.5
    assert json.loads(differences.stdout)["threshold"]["validity"] == -0.05
    refused = cli(*base, "--out", str(tmp_path / "diff"))
    assert refused.returncode == 2 and "reward_differences: run has true, now false" in refused.stderr


def test_reasoneval_under_prmbench_judges_redundancy_at_0_15(cli, small_prmbench, tmp_path):
    """reasoneval.py:26,118: NR and NCL steps are redundant when p(neutral) > 0.15."""
    data, _ = small_prmbench
    model = build("reasoneval", tmp_path / "reasoneval", _texts(data), pad_token="<s>")
    out = tmp_path / "run"
    result = cli(
        "prm",
        "run",
        "--scorer",
        "reasoneval",
        "--model",
        str(model),
        "--tokenizer",
        str(model / "tokenizer"),
        "--data",
        str(data),
        "--out",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["threshold"] == {"validity": 0.5, "redundancy": 0.15}
    rows = {r["id"]: r for r in _predictions(out)}
    nr = rows["redundency_p1"]["redundancy_scores"]  # 4 steps, error step 2
    judged = [not r > 0.15 for r in nr]  # True: judged needed (the positive class)
    tp = sum(j for k, j in enumerate(judged) if k != 1)
    fn = sum(not j for k, j in enumerate(judged) if k != 1)
    expected = (tp, int(judged[1]), int(not judged[1]), fn)
    row = report["categories"]["redundency"]
    assert (row["tp"], row["fp"], row["tn"], row["fn"]) == expected
    assert any(0.15 < r <= 0.5 for r in nr)  # scores that 0.15 and 0.5 judge differently
