"""What every PRM scorer takes and returns, and the bucketing that keeps padding low."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SolutionToScore:
    """One instance to score: the question and its steps, as PRMBench gives them."""

    id: str
    question: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class StepScores:
    """A scorer's verdict on one instance, in the predictions format of ``surestep prm score``.

    ``step_scores`` may be shorter than the solution when the input was cut at the model's
    context; ``truncated_steps`` says how many steps went unscored. ``extra_scores`` (and
    ``extra_redundancy_scores``) are reads past the last step, which some PRMBench wrappers
    make and PRMBench's evaluator counts as further steps. ``valid=False`` with an ``error``
    marks an instance the scorer could not judge. ``prompt_tokens`` and ``completion_tokens``
    are what a scorer calling a served model (the critic) was billed for the instance, as the
    server reported them (None: not reported, or no served model); not part of the predictions.
    """

    id: str
    step_scores: tuple[float, ...]
    redundancy_scores: tuple[float, ...] | None = None
    truncated_steps: int = 0
    valid: bool = True
    error: str | None = None
    extra_scores: tuple[float, ...] = ()
    extra_redundancy_scores: tuple[float, ...] = ()
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id}
        if not self.valid:
            return {**row, "valid": False, "error": self.error}
        row["step_scores"] = list(self.step_scores)
        if self.redundancy_scores is not None:
            row["redundancy_scores"] = list(self.redundancy_scores)
        if self.extra_scores:
            row["extra_scores"] = list(self.extra_scores)
        if self.extra_redundancy_scores:
            row["extra_redundancy_scores"] = list(self.extra_redundancy_scores)
        row["truncated_steps"] = self.truncated_steps
        return row


class PRMScorer(Protocol):
    """Scores solutions step by step; ``score`` receives a batch and returns one result per item."""

    @property
    def name(self) -> str: ...

    def score(self, items: Sequence[SolutionToScore]) -> list[StepScores]: ...


def length_buckets(lengths: Sequence[int], batch_tokens: int) -> list[list[int]]:
    """Group item indices, shortest first, so that each batch's padded size stays within the budget.

    A batch costs (its longest item) × (its size) tokens; an item longer than the budget gets a
    batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[index]  # sorted, so the newest item is the longest
        if current and longest * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
