"""A small run whose grades and judge answers are worked out by hand, for the audit tests."""

from __future__ import annotations

from pathlib import Path

from surestep.data.problems import Problem
from surestep.grading import Grader, GradingConfig
from surestep.models.base import Completion
from surestep.runs.pipeline import grade_run
from surestep.runs.store import RunStore

# Four problems of four draws. The judge server says yes exactly when the text it is shown equals
# the gold ignoring case and spaces; it is shown the extracted answer, or a no_answer draw's closing
# lines. Each draw's rule verdict and judge verdict:
DEEP_GOLD = "x^{" * 50  # refused by the grader's guards: every draw of it is graded unscorable
DRAWS = {
    ("twelve", "What is 7 + 5?", "12"): [
        ("\\boxed{12}", "correct", True),
        ("\\boxed{13}", "incorrect", False),
        ("1 2", "no_answer", True),  # no answer the rules can find; the judge reads "1 2"
        ("I give up.", "no_answer", False),
    ],
    ("half", "Write one half as a fraction.", "1/2"): [
        ("\\boxed{0.5}", "correct", False),  # the judge server compares text: a false positive
        ("\\boxed{2/4}", "correct", False),
        ("\\boxed{1/2}", "correct", True),
        ("\\boxed{MALFORMED}", "incorrect", None),  # the judge server replies without a verdict
    ],
    ("xy", "Multiply x by y.", "xy"): [
        ("\\boxed{x Y}", "incorrect", True),  # symbols are case-sensitive for the rules
        ("\\boxed{xy}", "correct", True),
        ("\\boxed{x+y}", "incorrect", False),
        ("\\boxed{2}", "incorrect", False),
    ],
    ("deep", "Simplify the tower.", DEEP_GOLD): [(f"\\boxed{{{i}}}", "unscorable", None) for i in range(4)],
}
MANIFEST = {"n": 4, "greedy": False, "configs": {"sample": "hand-sample", "greedy": "hand-greedy"}}


def make_run(directory: Path, *, graded: bool = True) -> Path:
    """The run of DRAWS, graded by the real rule grader."""
    with RunStore(directory, create=True) as store:
        problems = [Problem(pid, question, gold) for pid, question, gold in DRAWS]
        store.save_problems(problems, [p.question for p in problems])
        store.save_manifest(MANIFEST)
        for (pid, _, _), draws in DRAWS.items():
            store.add_draws(pid, "hand-sample", range(4), range(4), [Completion(t) for t, _, _ in draws])
        if graded:
            with Grader(GradingConfig(workers=1)) as grader:
                grade_run(store, grader, MANIFEST)
            grades = store.grades("hand-sample")
        else:
            grades = {}
    if graded:  # the figures below are worked out from these verdicts
        expected = {(pid, i): draw[1] for (pid, _, _), draws in DRAWS.items() for i, draw in enumerate(draws)}
        assert {key: g.verdict for key, g in grades.items()} == expected, (
            "the rule grader changed its verdicts"
        )
    return directory
