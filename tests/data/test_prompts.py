"""The ``brief`` preset: its worked examples, and the question placed after them."""

from __future__ import annotations

import re

from surestep.data.problems import FieldMap, Problem, load_problems
from surestep.data.prompts import PRESETS
from surestep.grading import extract_answer
from tests.conftest import DEMO_PROBLEMS

EXAMPLE = re.compile(r"^Q: (?P<q>.+)\nA: (?P<a>.+)$", re.MULTILINE)


def _examples(prompt: str) -> list[tuple[str, str]]:
    return [(m["q"], m["a"]) for m in EXAMPLE.finditer(prompt)]


def test_brief_renders_its_worked_examples_then_the_question():
    problem = Problem(id="p", question="What is 7 + 5?", answer="12")
    prompt = PRESETS["brief"].render(problem)
    assert prompt.startswith('Answer in one short line that ends with "The answer is <number>."')
    assert _examples(prompt) == [
        ("How much is 6 + 3?", "6 + 3 = 9. The answer is 9."),
        ("Jo had 20 cards and lost 9. How many cards are left?", "20 - 9 = 11. The answer is 11."),
        ("How much is 5 times 3?", "5 times 3 is 15. The answer is 15."),
    ]
    assert prompt.endswith("\nQ: What is 7 + 5?")
    assert prompt.count("What is") == 1  # only the problem's own question reads "What is ..."


def test_each_example_answer_is_read_by_the_grader_and_is_no_demo_answer():
    prompt = PRESETS["brief"].render(Problem(id="p", question="Q?", answer="1"))
    answers = {extract_answer(reply).answer for _, reply in _examples(prompt)}
    assert answers == {"9", "11", "15"}
    golds = {p.answer for p in load_problems(str(DEMO_PROBLEMS), FieldMap(subset="subset")).problems}
    assert not answers & golds  # a model that copies an example is never right by accident


def test_brief_keeps_choices_after_the_question():
    problem = Problem(id="p", question="Which is even?", answer="B", options={"A": "3", "B": "4"})
    prompt = PRESETS["brief"].render(problem)
    assert prompt.endswith(
        "Q: Which is even?\n\nChoices:\nA. 3\nB. 4\n\nAnswer with the letter of the correct choice."
    )
