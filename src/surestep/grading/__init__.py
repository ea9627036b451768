"""Answer grading: extraction, equivalence, the worker pool and the optional LLM judge."""

from surestep.grading.extraction import extract_answer
from surestep.grading.grader import Grader, GradeRequest, GradingConfig, GradingMode, GradingStats
from surestep.grading.judge import JudgeConfig
from surestep.grading.records import Extraction, GradeRecord, Rule, Verdict

__all__ = [
    "Extraction",
    "GradeRecord",
    "GradeRequest",
    "Grader",
    "GradingConfig",
    "GradingMode",
    "GradingStats",
    "JudgeConfig",
    "Rule",
    "Verdict",
    "extract_answer",
]
