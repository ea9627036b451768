"""The golden edge-case table: every (gold, response) pair must get its expected verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surestep.grading import Grader, GradeRequest, GradingConfig
from surestep.grading.extraction import normalize_options

CASES_PATH = Path(__file__).resolve().parents[1] / "data" / "grading_cases.jsonl"
CASES = [json.loads(line) for line in CASES_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def verdicts() -> dict[str, str]:
    requests = [
        GradeRequest(c["response"], c["gold"], c.get("question"), normalize_options(c.get("options")))
        for c in CASES
    ]
    with Grader(GradingConfig(workers=2, budget_seconds=5)) as grader:
        records, _ = grader.grade(requests)
    return {case["id"]: record.verdict for case, record in zip(CASES, records)}


def test_table_is_large_and_covers_every_category():
    assert len(CASES) >= 150
    assert {c["category"] for c in CASES} >= {
        "integer",
        "rational",
        "reduced_form",
        "expression",
        "percent_units",
        "interval_set",
        "matrix_equation",
        "text",
        "extraction",
        "chinese",
        "choice",
        "unscorable",
        "adversarial",
    }


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, verdicts):
    assert verdicts[case["id"]] == case["expected"], (
        f"gold={case['gold']!r} response={case['response'][:120]!r}"
    )
