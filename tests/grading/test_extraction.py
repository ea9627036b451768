"""Answer extraction rules, recorded rule names, and linear-time behaviour on huge input."""

from __future__ import annotations

import json

import pytest

from surestep.grading import Rule, extract_answer
from surestep.grading.extraction import last_boxed, normalize_options


@pytest.mark.parametrize(
    ("response", "answer", "rule"),
    [
        ("x \\boxed{\\frac{a}{b}} y", "\\frac{a}{b}", Rule.BOXED),
        ("\\boxed{1} then \\boxed{2}", "2", Rule.BOXED),
        ("\\boxed{\\{1,2\\}}", "\\{1,2\\}", Rule.BOXED),
        ("\\boxed{a{b{c}}d}", "a{b{c}}d", Rule.BOXED),
        ("\\fbox{7}", "7", Rule.FBOX),
        ("\\boxed 7.", "7.", Rule.BOXED),
        ("good \\boxed{3} broken \\boxed{4", "3", Rule.BOXED),
        ("The final answer is 7. Good.", "7", Rule.FINAL_ANSWER_PHRASE),
        ("the answer is: $x+1$", "x+1", Rule.FINAL_ANSWER_PHRASE),
        ("Answer: 3.5", "3.5", Rule.ANSWER_LABEL),
        ("## Final Answer: \\(5\\)", "5", Rule.ANSWER_LABEL),
        ("答案是 12。", "12", Rule.CHINESE_ANSWER),
        ("最终答案为：$\\frac{1}{2}$", "\\frac{1}{2}", Rule.CHINESE_ANSWER),
        ("Answer: 3\nOn reflection, the final answer is 4", "4", Rule.FINAL_ANSWER_PHRASE),
    ],
)
def test_rules(response, answer, rule):
    extraction = extract_answer(response)
    assert (extraction.answer, extraction.rule) == (answer, rule)


@pytest.mark.parametrize(
    "response", ["", "no answer here", "\\boxed{", "\\boxed{}", "The number 12 is even."]
)
def test_no_answer_is_distinct_never_the_whole_text(response):
    extraction = extract_answer(response)
    assert extraction.answer is None and extraction.rule is Rule.NONE


def test_choice_letters_only_with_options():
    options = {"A": "1", "B": "2"}
    assert extract_answer("I pick (B)", options).answer == "B"
    assert extract_answer("I pick (B)").answer is None
    assert extract_answer("(C) is not an option, (A) is", options).answer == "A"
    assert extract_answer("b", options).rule is Rule.CHOICE_LETTER


def test_options_from_lists_and_mappings():
    assert normalize_options(["A. 3", "B) 5", "7"]) == {"A": "3", "B": "5", "C": "7"}
    assert normalize_options({"a": 1}) == {"A": "1"}
    with pytest.raises(ValueError, match="list or an object"):
        normalize_options("A")


def test_megabyte_responses_are_scanned_quickly():
    huge = "{" * 500_000 + "x" * 500_000 + " \\boxed{" * 1000
    assert extract_answer(huge).answer is None
    assert last_boxed("\\boxed{" + "a" * 1_000_000 + "}") is not None


def test_real_problem_sets_extract_gold_answers_from_boxed_solutions(shared_data):
    for name in ("aime24.jsonl", "amc23.jsonl"):
        rows = [
            json.loads(line) for line in (shared_data / "problems" / name).read_text().splitlines() if line
        ]
        assert rows
        for row in rows:
            gold = str(row["answer"])
            assert extract_answer(f"Reasoning...\nThe final answer is $\\boxed{{{gold}}}$").answer == gold
            assert extract_answer(f"所以答案是 {gold}").answer == gold
