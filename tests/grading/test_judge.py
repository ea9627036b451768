"""The LLM judge against a real OpenAI-compatible server process: modes, strict parsing, cache, retries."""

from __future__ import annotations

import pytest

from surestep.grading import Grader, GradeRequest, GradingConfig, GradingMode, JudgeConfig
from surestep.grading.judge import JudgeClient, parse_verdict
from tests.grading.conftest import server_stats


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("\\boxed{yes}", True),
        ("\\boxed{ No }", False),
        ("Reasoning... \\boxed{YES}", True),
        ("yes", None),
        ("\\boxed{maybe}", None),
        ("\\boxed{yes} or \\boxed{no}", None),
        ("", None),
    ],
)
def test_strict_verdict_parsing(reply, verdict):
    assert parse_verdict(reply) is verdict


def test_judge_mode_grades_free_text_and_records_the_model(judge_server):
    config = GradingConfig(mode=GradingMode.JUDGE, judge=JudgeConfig(base_url=judge_server, model="judge-1"))
    requests = [
        GradeRequest("The answer is: all primes", "all primes", question="Which numbers?"),
        GradeRequest("The answer is: no primes", "all primes"),
        GradeRequest("The answer is: MALFORMED", "all primes"),
        GradeRequest("nothing to see", "all primes"),
    ]
    with Grader(config) as grader:
        records, stats = grader.grade(requests)
    assert [r.verdict for r in records] == ["correct", "incorrect", "judge_error", "no_answer"]
    assert records[0].judge_model == "judge-1" and records[0].grader == "surestep-judge"
    assert records[3].judge_model is None
    assert stats.judge_calls == 3


def test_cascade_only_asks_the_judge_where_rules_fail(judge_server):
    config = GradingConfig(mode=GradingMode.CASCADE, judge=JudgeConfig(base_url=judge_server, model="j"))
    requests = [
        GradeRequest("\\boxed{12}", "12"),  # rules: match, no judge
        GradeRequest("\\boxed{13}", "12"),  # rules: no match, judge says no
        GradeRequest("The answer is: every even number", "Every Even Number"),  # rules settle words
        GradeRequest("\\boxed{x+}", "x+1"),  # unparseable for rules, judge says no
    ]
    with Grader(config) as grader:
        records, _ = grader.grade(requests)
    assert [r.verdict for r in records] == ["correct", "incorrect", "correct", "incorrect"]
    assert records[0].judge_model is None and records[1].judge_model == "j"
    assert server_stats(judge_server)["requests"] == 2


def test_retries_cache_and_api_key_from_environment(judge_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SURESTEP_TEST_KEY", "sk-secret-value")
    config = JudgeConfig(
        base_url=judge_server,
        model="j",
        api_key_env="SURESTEP_TEST_KEY",
        cache_path=tmp_path / "judge.sqlite",
    )
    with JudgeClient(config) as client:
        first = client.ask("q", "42", "42 FLAKY")
        assert first.verdict is True and not first.cached
        again = client.ask("q", "42", "42 FLAKY")
        assert again.cached
        failing = client.ask("q", "42", "ERROR500")
        assert failing.verdict is None and "HTTP 500" in (failing.error or "")
    stats = server_stats(judge_server)
    assert set(stats["auth"]) == {"Bearer sk-secret-value"}
    with JudgeClient(config) as reopened:
        assert reopened.ask("q", "42", "42 FLAKY").cached  # persisted across clients
    assert server_stats(judge_server)["requests"] == stats["requests"]


def test_unreachable_judge_is_a_judge_error(tmp_path):
    config = JudgeConfig(base_url="http://127.0.0.1:9/v1", model="j", max_attempts=2, timeout_seconds=2)
    with JudgeClient(config) as client:
        reply = client.ask(None, "1", "2")
    assert reply.verdict is None and "judge request failed" in (reply.error or "")


def test_modes_other_than_rule_need_a_judge():
    with pytest.raises(ValueError, match="needs a judge"):
        GradingConfig(mode=GradingMode.CASCADE)
