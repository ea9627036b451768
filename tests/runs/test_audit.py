"""`surestep audit` against the real judge test server: the stratified sample, the figures worked by
hand, resume, retries of failed requests, the JSON keys, bad input, and the summary in `score`."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from itertools import product
from pathlib import Path

import pytest

from surestep.metrics.proportions import wilson_bounds, wilson_interval
from surestep.runs.audit import closing_lines, equal_allocation
from surestep.runs.store import SCHEMA_VERSION, RunStore
from tests.conftest import DEMO_PROBLEMS, ServerProcess
from tests.runs.audit_run import DRAWS, make_run


@pytest.fixture
def judge() -> Iterator[ServerProcess]:
    server = ServerProcess("tests.grading.judge_server")
    yield server
    server.stop()


def audit(cli, run: Path, judge: ServerProcess | str, *args: str):
    url = judge if isinstance(judge, str) else judge.base_url
    return cli("audit", str(run), "--judge-url", url, "--judge-model", "judge-1", *args)


def judge_requests(server: ServerProcess) -> int:
    return int(server.stats()["requests"])


def test_equal_allocation_by_hand():
    assert equal_allocation([5, 5, 2], 3) == [1, 1, 1]
    assert equal_allocation([5, 5, 2], 7) == [3, 2, 2]
    assert equal_allocation([5, 5, 2], 11) == [5, 4, 2]  # the small stratum's share goes to the others
    assert equal_allocation([5, 5, 2], 200) == [5, 5, 2]
    assert equal_allocation([100, 0, 3], 30) == [27, 0, 3]
    assert equal_allocation([0, 0, 0], 10) == [0, 0, 0]


def test_equal_allocation_is_capped_balanced_and_grows_with_the_sample():
    for sizes in product(range(5), repeat=3):
        previous = [0, 0, 0]
        for total in range(sum(sizes) + 3):
            allocation = equal_allocation(list(sizes), total)
            assert sum(allocation) == min(total, sum(sizes))
            assert all(0 <= a <= s for a, s in zip(allocation, sizes))
            open_strata = [a for a, s in zip(allocation, sizes) if a < s]
            assert not open_strata or max(open_strata) - min(open_strata) <= 1
            full = [a for a, s in zip(allocation, sizes) if a == s]
            assert not open_strata or all(a <= max(open_strata) + 1 for a in full)  # only the small are full
            assert all(a >= p for a, p in zip(allocation, previous)), (sizes, total)  # a larger sample keeps
            previous = allocation


def test_closing_lines_start_at_a_line_and_keep_short_texts_whole():
    assert closing_lines("  short answer \n") == "  short answer"
    text = "x" * 500 + "\nso the answer is \\boxed{7}."
    assert (
        closing_lines(text, 100) == "…" + "x" * 71 + "\nso the answer is \\boxed{7}."
    )  # no line starts early
    assert closing_lines("a" * 30 + "\n" + "b" * 60, 80) == "b" * 60
    lines = "\n".join(f"line {i}" for i in range(200))
    tail = closing_lines(lines, 60)
    assert tail.startswith("line ") and lines.endswith(tail) and len(tail) <= 60
    assert closing_lines("y" * 400, 50) == "…" + "y" * 49


def test_the_audit_figures_match_the_hand_computation(cli, judge, tmp_path):
    run = make_run(tmp_path / "run")
    result = audit(cli, run, judge, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {
        "run",
        "judge_model",
        "seed",
        "sample",
        "sampled",
        "confidence",
        "graders",
        "population",
        "excluded",
        "strata",
        "agreement",
        "false_positive_rate",
        "false_negative_rate",
        "rule_accuracy",
        "judge_accuracy",
        "judged",
        "judge_errors",
        "pending",
        "disagreements",
    }
    assert (report["judge_model"], report["seed"], report["sample"], report["sampled"]) == (
        "judge-1",
        0,
        200,
        12,
    )
    assert report["population"] == 12 and report["excluded"] == {"unscorable": 4}
    strata = report["strata"]
    # correct: 5 draws, the judge agrees on 3 (12, 1/2, xy); incorrect: 5, one judge error, 3 of 4 agree;
    # no_answer: 2, 1 agrees
    counts = {
        v: (s["population"], s["sampled"], s["judged"], s["agreed"], s["judge_errors"])
        for v, s in strata.items()
    }
    assert counts == {"correct": (5, 5, 5, 3, 0), "incorrect": (5, 5, 4, 3, 1), "no_answer": (2, 2, 2, 1, 0)}
    for verdict, (agreed, judged) in {"correct": (3, 5), "incorrect": (3, 4), "no_answer": (1, 2)}.items():
        assert strata[verdict]["agreement"] == pytest.approx(agreed / judged)
        wilson = wilson_interval(agreed, judged)
        assert strata[verdict]["interval"] == pytest.approx([wilson.low, wilson.high])
    assert report["judge_errors"] == 1 and report["judged"] == 11 and report["pending"] == 0

    false_positive = report["false_positive_rate"]  # 2 of the 5 rule-correct draws
    assert false_positive["value"] == pytest.approx(0.4) and false_positive["effective_n"] == pytest.approx(5)
    assert false_positive["interval"] == pytest.approx(
        [wilson_interval(2, 5).low, wilson_interval(2, 5).high]
    )
    # 5/7 * 1/4 + 2/7 * 1/2; variance (5/7)^2 (3/16)/4 + (2/7)^2 (1/4)/2 gives n_eff 6.39, capped at 6 trials
    false_negative = report["false_negative_rate"]
    assert false_negative["value"] == pytest.approx(2.25 / 7)
    assert false_negative["effective_n"] == pytest.approx(6)
    fn_bounds = wilson_bounds(2.25 / 7, 6)
    assert false_negative["interval"] == pytest.approx([fn_bounds.low, fn_bounds.high])
    assert report["agreement"]["value"] == pytest.approx((5 * 3 / 5 + 5 * 3 / 4 + 2 * 1 / 2) / 12)
    assert report["judge_accuracy"]["value"] == pytest.approx((5 * 3 / 5 + 5 * 1 / 4 + 2 * 1 / 2) / 12)
    assert report["rule_accuracy"] == pytest.approx(5 / 12)

    shown = {(d["problem_id"], d["draw_index"]): d for d in report["disagreements"]}
    assert set(shown) == {("half", 0), ("half", 1), ("xy", 0), ("twelve", 2)}
    assert set(shown) == {  # the same, read off the table of draws
        (pid, index)
        for (pid, _, _), draws in DRAWS.items()
        for index, (_, rule, judged) in enumerate(draws)
        if judged is not None and judged != (rule == "correct")
    }
    assert shown["half", 0] == {
        "problem_id": "half",
        "draw_index": 0,
        "gold": "1/2",
        "extracted_answer": "0.5",
        "rule_verdict": "correct",
        "judge_verdict": "incorrect",
        "closing_lines": "\\boxed{0.5}",
    }
    assert shown["twelve", 2]["extracted_answer"] is None and shown["twelve", 2]["judge_verdict"] == "correct"
    assert shown["xy", 0]["rule_verdict"] == "incorrect" and shown["xy", 0]["judge_verdict"] == "correct"
    assert judge_requests(judge) == 12

    text = audit(cli, run, judge)
    assert text.returncode == 0, text.stderr
    for phrase in (
        "Grader audit",
        "no_answer",
        "false positives",
        "Disagreements (4)",
        "\\boxed{0.5}",
        "4 unscorable",
        "judge errors (left out of every figure): 1",
    ):
        assert phrase in text.stdout, phrase


def test_the_sample_is_stratified_and_a_rerun_asks_only_what_is_missing(cli, judge, tmp_path):
    run = make_run(tmp_path / "run")
    first = audit(cli, run, judge, "--sample", "3", "--json")
    assert first.returncode == 0, first.stderr
    sampled = {v: s["sampled"] for v, s in json.loads(first.stdout)["strata"].items()}
    assert sampled == {"correct": 1, "incorrect": 1, "no_answer": 1}
    assert judge_requests(judge) == 3

    again = audit(cli, run, judge, "--sample", "3", "--json")
    assert (
        again.returncode == 0 and "0 draw(s) to ask about in 0 request(s), 3 answered before" in again.stderr
    )
    assert judge_requests(judge) == 3  # nothing asked twice
    assert json.loads(again.stdout) == json.loads(first.stdout)

    larger = audit(cli, run, judge, "--sample", "7", "--json")
    sampled = {v: s["sampled"] for v, s in json.loads(larger.stdout)["strata"].items()}
    assert sampled == {"correct": 3, "incorrect": 2, "no_answer": 2}  # 7 = 3 + 2 + 2, extra to the first
    assert judge_requests(judge) == 7  # the 3 already judged are part of the larger sample

    assert audit(cli, run, judge, "--sample", "200").returncode == 0
    assert judge_requests(judge) == 12
    rerun = audit(cli, run, judge, "--sample", "200")
    assert "0 draw(s) to ask about in 0 request(s), 12 answered before" in rerun.stderr
    assert judge_requests(judge) == 12  # the malformed reply is an answer too: it is not asked again

    other_seed = audit(cli, run, judge, "--sample", "3", "--seed", "5")
    assert other_seed.returncode == 0 and judge_requests(judge) == 15  # rows are kept per seed
    with sqlite3.connect(run / "run.sqlite") as db:
        rows = db.execute("SELECT sample_seed, COUNT(*) FROM audit GROUP BY 1 ORDER BY 1").fetchall()
        assert rows == [(0, 12), (5, 3)]
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (str(SCHEMA_VERSION),)


def test_a_draw_graded_again_differently_is_asked_again(cli, judge, tmp_path):
    run = make_run(tmp_path / "run")
    assert audit(cli, run, judge).returncode == 0
    assert judge_requests(judge) == 12
    with sqlite3.connect(run / "run.sqlite") as db:  # as a changed grader would re-grade one draw
        db.execute(
            "UPDATE grades SET verdict = 'incorrect', extracted_answer = 'give up' "
            "WHERE problem_id = 'twelve' AND draw_index = 3"
        )
    result = audit(cli, run, judge, "--json")
    assert (
        result.returncode == 0
        and "1 draw(s) to ask about in 1 request(s), 11 answered before" in result.stderr
    )
    strata = json.loads(result.stdout)["strata"]
    assert (strata["incorrect"]["population"], strata["no_answer"]["population"]) == (6, 1)
    assert judge_requests(judge) == 13


def _dead_url() -> str:
    """A loopback URL nothing listens on (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_failed_requests_are_recorded_then_retried(cli, judge, tmp_path):
    run = make_run(tmp_path / "run")
    failed = audit(cli, run, _dead_url(), "--sample", "1", "--json")
    assert failed.returncode == 1
    assert "1 sampled draw(s) have no judge answer" in failed.stderr
    assert json.loads(failed.stdout)["pending"] == 1
    with sqlite3.connect(run / "run.sqlite") as db:
        ((verdict, reply, error),) = db.execute(
            "SELECT judge_verdict, judge_reply, error FROM audit"
        ).fetchall()
    assert verdict is None and reply is None and "judge request failed" in error
    retried = audit(cli, run, judge, "--sample", "1", "--json")
    assert retried.returncode == 0, retried.stderr
    assert json.loads(retried.stdout)["judged"] == 1 and judge_requests(judge) == 1


def test_score_shows_the_audit_only_once_there_is_one(cli, judge, tmp_path):
    run = make_run(tmp_path / "run")
    before = cli("score", str(run), "--json")
    assert before.returncode == 0, before.stderr
    assert "audit" not in json.loads(before.stdout)
    audited = json.loads(audit(cli, run, judge, "--json").stdout)
    after = json.loads(cli("score", str(run), "--json").stdout)
    assert after["audit"] == audited
    assert {k: v for k, v in after.items() if k != "audit"} == json.loads(before.stdout)
    text = cli("score", str(run))
    assert "Grader audit: judge judge-1" in text.stdout and "4 disagreement(s)" in text.stdout


def test_bad_input_is_a_clear_error_with_status_2(cli, judge, tmp_path):
    (tmp_path / "empty").mkdir()
    result = audit(cli, tmp_path / "empty", judge)
    assert result.returncode == 2 and "not a surestep run directory" in result.stderr
    assert not (tmp_path / "empty" / "run.sqlite").exists()

    run = make_run(tmp_path / "run")
    result = audit(cli, run, judge, "--sample", "0")
    assert result.returncode == 2 and "--sample" in result.stderr
    result = cli("audit", str(run), "--judge-model", "j")
    assert result.returncode == 2 and "--judge-url" in result.stderr
    result = cli("audit", str(run), "--judge-url", "localhost:8000", "--judge-model", "j")
    assert result.returncode == 2 and "expected an http(s):// URL" in result.stderr

    ungraded = make_run(tmp_path / "ungraded", graded=False)
    result = audit(cli, ungraded, judge)
    assert result.returncode == 2
    assert f"16 of 16 draws are not graded; run: surestep grade {ungraded}" in result.stderr
    assert judge_requests(judge) == 0
    with sqlite3.connect(ungraded / "run.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM audit").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM meta WHERE key = 'audit'").fetchone() == (0,)


SCHEMA_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema', '2');
CREATE TABLE problems (
    problem_id TEXT PRIMARY KEY, position INTEGER NOT NULL, question TEXT NOT NULL,
    answer TEXT NOT NULL, subset TEXT, options TEXT, prompt TEXT NOT NULL, level TEXT
);
"""


def test_a_schema_2_store_gains_the_audit_table_in_place(tmp_path):
    (tmp_path / "run").mkdir()
    with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:
        db.executescript(SCHEMA_2)
    with RunStore(tmp_path / "run") as store:
        assert store.audit_rows("any", "judge", 0) == {} and store.audit_settings() is None
    with sqlite3.connect(tmp_path / "run" / "run.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (str(SCHEMA_VERSION),)
        columns = [r[1] for r in db.execute("PRAGMA table_info(audit)")]
    assert columns[:5] == ["problem_id", "config", "draw_index", "judge_model", "sample_seed"]


def test_a_real_run_is_sampled_equally_and_the_judge_agrees_with_the_rules(
    cli, fault_server, judge, tmp_path
):
    server = fault_server()
    run = tmp_path / "run"
    made = cli(
        "run",
        "--model",
        "openai:fake",
        "--base-url",
        server.base_url,
        "--dataset",
        str(DEMO_PROBLEMS),
        "--out",
        str(run),
        "--n",
        "8",
        "--no-greedy",
        "--quiet",
    )
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(run / "run.sqlite") as db:
        sizes = dict(db.execute("SELECT verdict, COUNT(*) FROM grades GROUP BY verdict").fetchall())
    assert sum(sizes.values()) == 240
    small = sizes.get("no_answer", 0)
    assert small < 10 <= 15 <= min(sizes["correct"], sizes["incorrect"])  # what the fault server makes
    result = audit(cli, run, judge, "--sample", "30", "--seed", "3", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # 10 each, but no_answer has fewer: what it cannot take is split between the other two
    rest = 30 - small
    expected = {"correct": rest - rest // 2, "incorrect": rest // 2, "no_answer": small}
    assert {v: s["sampled"] for v, s in report["strata"].items()} == expected
    assert {v: s["population"] for v, s in report["strata"].items()} == {v: sizes.get(v, 0) for v in expected}
    # the fault server's answers are plain numbers: the judge server agrees with the rules on every one
    assert report["judged"] == 30 and report["disagreements"] == []
    assert report["false_positive_rate"]["value"] == 0 and report["false_negative_rate"]["value"] == 0
    upper = wilson_interval(0, expected["correct"]).high
    assert report["false_positive_rate"]["interval"] == pytest.approx([0.0, upper])
    with sqlite3.connect(run / "run.sqlite") as db:  # draws the judge is shown alike share a request
        (prompts,) = db.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT problem_id, judged_text FROM audit)"
        ).fetchone()
    assert 3 <= prompts < 30 and judge_requests(judge) == prompts
