"""Records of the grading domain: modes, verdicts, extractions and grade records."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Verdict(str, Enum):
    """The outcome of grading one draw."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    NO_ANSWER = "no_answer"
    UNSCORABLE = "unscorable"  # the gold answer itself cannot be parsed or is pathological
    TIMEOUT = "timeout"  # grading overran its wall-clock budget (the worker was killed)
    JUDGE_ERROR = "judge_error"  # the LLM judge did not give a well-formed yes/no


class GradingMode(str, Enum):
    """How draws are graded: by rules, by the LLM judge, or by rules with the judge where they fail."""

    RULE = "rule"
    JUDGE = "judge"
    CASCADE = "cascade"


class Rule(str, Enum):
    """Which extraction rule found the final answer."""

    BOXED = "boxed"
    BOXED_SEVERAL = "boxed_several"  # the closing boxes together, when the gold has several items
    FBOX = "fbox"
    FINAL_ANSWER_PHRASE = "final_answer_phrase"
    ANSWER_LABEL = "answer_label"
    CHINESE_ANSWER = "chinese_answer"
    CHOICE_LETTER = "choice_letter"
    PROSE_FALLBACK = "prose_fallback"  # opt-in: the last number or formula of the closing sentence
    NONE = "none"


class MatchStatus(str, Enum):
    """What the rule-based comparison concluded, before it becomes a verdict."""

    MATCH = "match"
    NO_MATCH = "no_match"
    UNPARSEABLE_ANSWER = "unparseable_answer"
    UNPARSEABLE_GOLD = "unparseable_gold"
    REJECTED_ANSWER = "rejected_answer"  # a guard refused a pathological answer
    REJECTED_GOLD = "rejected_gold"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Extraction:
    """The final answer found in a response, and the rule that found it (None: no answer)."""

    answer: str | None
    rule: Rule


@dataclass(frozen=True)
class GradeRecord:
    """Everything recorded about the grade of one draw."""

    extracted_answer: str | None
    extraction_rule: str
    verdict: str
    correct: bool
    grader: str
    grader_version: str
    detail: str | None
    grade_seconds: float
    judge_model: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
