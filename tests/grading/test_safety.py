"""Adversarial answers: bounded time, no code execution, guards refuse pathological input."""

from __future__ import annotations

import os

import pytest

from surestep.grading import Grader, GradeRequest, GradingConfig
from surestep.grading.guards import rejection_reason

BUDGET = 1.0

ADVERSARIAL = [
    "\\boxed{2^{2^{2^{2^{2^{2}}}}}}",
    "\\boxed{9^9^9^9}",
    "\\boxed{100000000!}",
    "\\boxed{10^{10000000}}",
    "\\boxed{" + "\\frac{1}{" * 1000 + "2" + "}" * 1000 + "}",
    "The answer is " + "9" * 1_000_000,
    "x" * 1_000_000 + "\\boxed{7}",
    "\\boxed{__import__('os').system('touch pwned')}",
    "The final answer is __import__('os').system('touch pwned')",
    "\\boxed{exec(\"open('pwned','w').write('x')\")}",
    "\\boxed{(lambda: __import__('os').system('touch pwned'))()}",
    "\\boxed{" + "(" * 5000 + ")" * 5000 + "}",
    "\\boxed{\\sum_{k=1}^{10^{9}} k^{k}}",
    "\\boxed{\\prod_{n=1}^{100000}(x+n)}",
]


@pytest.mark.parametrize(
    "text",
    [
        "2^{3^{4}}",
        "2^3^4",
        "10^{100000}",
        "100000000!",
        "1" * 200,
        "{" * 40 + "}" * 40,
        "a" * 3000,
        "2**3**4",
    ],
)
def test_guards_refuse_pathological_answers(text):
    assert rejection_reason(text) is not None


@pytest.mark.parametrize(
    "text", ["2^{10}", "x^2+1", "e^{i\\pi}", "10!", "\\frac{1}{2}", "123456789", "(1,2)"]
)
def test_guards_let_ordinary_answers_through(text):
    assert rejection_reason(text) is None


def test_adversarial_batch_finishes_within_budget_and_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    requests = [GradeRequest(r, "7") for r in ADVERSARIAL]
    with Grader(GradingConfig(workers=2, budget_seconds=BUDGET)) as grader:
        records, stats = grader.grade(requests)
    assert len(records) == len(ADVERSARIAL)
    for index, record in enumerate(records):
        assert record.grade_seconds <= 2 * BUDGET
        if index != 6:
            assert record.verdict in {"incorrect", "timeout", "no_answer"}
    assert records[6].verdict == "correct"  # a megabyte of noise before a real boxed answer
    assert not (tmp_path / "pwned").exists()
    assert os.listdir(tmp_path) == []
    assert stats.draws == len(ADVERSARIAL)


def test_a_budget_overrun_is_graded_timeout_and_counted():
    with Grader(GradingConfig(workers=1, budget_seconds=0.001)) as grader:
        records, stats = grader.grade([GradeRequest("\\boxed{\\sin(x)^{2}}", "1-\\cos(x)^2")] * 3)
    assert {r.verdict for r in records} == {"timeout"}
    assert records[0].detail == "grading budget exceeded"
    assert stats.unique_pairs == 1 and stats.verdicts["timeout"] == 3
