"""Answer grading: extraction, equivalence, the worker pool and the optional LLM judge.

The names below are imported from their modules on first use, so that importing one light
module of the package (``records``, say) does not load the grader, its pool and its rules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from surestep.grading.extraction import extract_answer
    from surestep.grading.grader import Grader, GradeRequest, GradingConfig, GradingStats
    from surestep.grading.judge import JudgeConfig
    from surestep.grading.records import Extraction, GradeRecord, GradingMode, Rule, Verdict

_HOMES = {
    "Extraction": "records",
    "GradeRecord": "records",
    "GradeRequest": "grader",
    "Grader": "grader",
    "GradingConfig": "grader",
    "GradingMode": "records",
    "GradingStats": "grader",
    "JudgeConfig": "judge",
    "Rule": "records",
    "Verdict": "records",
    "extract_answer": "extraction",
}

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


def __getattr__(name: str) -> Any:
    """Import an exported name from its module the first time it is asked for."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'surestep.grading' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"surestep.grading.{home}"), name)
    globals()[name] = value
    return value
