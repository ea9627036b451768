"""The golden edge-case table: every (gold, response) pair must get its expected verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surestep.grading import Grader, GradeRequest, GradingConfig
from surestep.grading.extraction import normalize_options

CASES_PATH = Path(__file__).resolve().parents[1] / "data" / "grading_cases.jsonl"
CASES = [json.loads(line) for line in CASES_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


def _options_key(case: dict) -> tuple[tuple[str, bool], ...]:
    return tuple(sorted(case.get("grading", {}).items()))


@pytest.fixture(scope="module")
def verdicts() -> dict[str, str]:
    """Each case graded under its own opt-in rules (most cases: the defaults)."""
    out: dict[str, str] = {}
    for key in sorted({_options_key(c) for c in CASES}):
        cases = [c for c in CASES if _options_key(c) == key]
        requests = [
            GradeRequest(c["response"], c["gold"], c.get("question"), normalize_options(c.get("options")))
            for c in cases
        ]
        with Grader(GradingConfig(workers=2, budget_seconds=5, **dict(key))) as grader:
            records, _ = grader.grade(requests)
        out.update({case["id"]: record.verdict for case, record in zip(cases, records)})
    return out


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
        "mixed_number",
        "percent_words",
        "latex_spacing",
        "connectives",
        "units",
        "several_boxes",
        "answer_precedence",
        "prose_fallback",
        "decimal_comma",
    }


FAMILIES = (
    "mixed_number",
    "percent_words",
    "latex_spacing",
    "connectives",
    "units",
    "several_boxes",
    "answer_precedence",
    "prose_fallback",
    "decimal_comma",
)


@pytest.mark.parametrize("family", FAMILIES)
def test_each_rule_family_has_ten_cases_half_of_them_must_not_match(family):
    cases = [c for c in CASES if c["category"] == family]
    negatives = [c for c in cases if c["expected"] != "correct"]
    assert len(cases) >= 10
    assert 2 * len(negatives) >= len(cases)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, verdicts):
    assert verdicts[case["id"]] == case["expected"], (
        f"gold={case['gold']!r} response={case['response'][:120]!r}"
    )
