"""Tokens and cost: what a run's draws cost at given prices, in total, per correct answer, per
problem and per subset.

Prices are US dollars per million tokens, one for prompt (input) tokens and one for completion
(output) tokens. Every figure is exact arithmetic on the backend's token counts:
``cost = (prompt * input + completion * output) / 1e6``. A group in which some draw has no token
counts gets None for its token and cost figures (a partial sum would understate), and a figure
"per correct answer" is None where the group has no correct draw (there is nothing to divide by).
Pure functions: no I/O.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from surestep.errors import SurestepError

CURRENCY = "USD"
PER_TOKENS = 1_000_000


def check_price(name: str, value: float | None) -> None:
    """Refuse a price that is not a finite number >= 0 (None: not given, accepted)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SurestepError(f"{name}: expected a number of USD per million tokens, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise SurestepError(f"{name}: expected a finite price >= 0 (USD per million tokens), got {value}")


@dataclass(frozen=True)
class Prices:
    """US dollars per million prompt (``input``) and completion (``output``) tokens."""

    input: float
    output: float

    def __post_init__(self) -> None:
        check_price("price_input", self.input)
        check_price("price_output", self.output)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The cost in USD of this many prompt and completion tokens."""
        return (prompt_tokens * self.input + completion_tokens * self.output) / PER_TOKENS

    def to_dict(self) -> dict[str, float]:
        return {"input_per_million": self.input, "output_per_million": self.output}


def resolve_prices(
    price_input: float | None, price_output: float | None, stored: Prices | None
) -> Prices | None:
    """The prices to use: each one given overrides the stored one; None where none is known.

    Only one of the two known (given or stored) is an error: a cost needs both.
    """
    chosen_input = price_input if price_input is not None else (None if stored is None else stored.input)
    chosen_output = price_output if price_output is not None else (None if stored is None else stored.output)
    if chosen_input is None and chosen_output is None:
        return None
    if chosen_input is None or chosen_output is None:
        missing = "--price-input" if chosen_input is None else "--price-output"
        given = "--price-output" if chosen_input is None else "--price-input"
        raise SurestepError(f"{given} needs {missing} too (a cost needs both prices; give 0 for a free side)")
    return Prices(float(chosen_input), float(chosen_output))


@dataclass(frozen=True)
class DrawTokens:
    """One scored draw: its problem, subset, token counts (None: not reported) and grade."""

    problem_id: str
    subset: str | None
    prompt: int | None
    completion: int | None
    correct: bool


@dataclass(frozen=True)
class CostFigures:
    """Tokens and (with prices) cost of a group of draws."""

    draws: int
    missing: int  # draws without token counts
    correct: int
    prompt_tokens: int | None  # None: some draw has no counts
    completion_tokens: int | None
    cost: float | None  # USD; None: no prices, or some draw has no counts

    @property
    def tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens

    @property
    def tokens_per_correct(self) -> float | None:
        tokens = self.tokens
        return None if tokens is None or not self.correct else tokens / self.correct

    @property
    def cost_per_correct(self) -> float | None:
        return None if self.cost is None or not self.correct else self.cost / self.correct

    def to_dict(self) -> dict[str, Any]:
        return {
            "draws": self.draws,
            "missing": self.missing,
            "correct": self.correct,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens": self.tokens,
            "tokens_per_correct": self.tokens_per_correct,
            "total": self.cost,
            "per_correct": self.cost_per_correct,
        }


def cost_figures(draws: Iterable[DrawTokens], prices: Prices | None) -> CostFigures:
    """The tokens and cost of ``draws`` (cost None without ``prices``)."""
    count = missing = correct = prompt = completion = 0
    for draw in draws:
        count += 1
        correct += bool(draw.correct)
        if draw.prompt is None or draw.completion is None:
            missing += 1
        else:
            prompt += draw.prompt
            completion += draw.completion
    if missing:
        return CostFigures(count, missing, correct, None, None, None)
    cost = None if prices is None else prices.cost(prompt, completion)
    return CostFigures(count, 0, correct, prompt, completion, cost)


@dataclass(frozen=True)
class Spread:
    """Mean and median of one figure over problems (None: undefined for some problem, or none)."""

    problems: int
    mean: float | None
    median: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"problems": self.problems, "mean": self.mean, "median": self.median}


def spread(values: Sequence[float | None]) -> Spread:
    if not values or any(v is None for v in values):
        return Spread(len(values), None, None)
    numbers = [float(v) for v in values if v is not None]
    return Spread(len(values), statistics.fmean(numbers), float(statistics.median(numbers)))


@dataclass(frozen=True)
class CostSummary:
    """A run's tokens and cost: in total, per problem (mean and median) and per subset."""

    prices: Prices | None
    total: CostFigures
    tokens_per_problem: Spread
    cost_per_problem: Spread
    subsets: dict[str, CostFigures]

    def to_dict(self) -> dict[str, Any]:
        """The ``cost`` object of results.json and of ``score --json``."""
        total = self.total
        return {
            "currency": CURRENCY,
            "prices": None if self.prices is None else self.prices.to_dict(),
            "total": total.cost,
            "per_correct": total.cost_per_correct,
            "tokens": total.tokens,
            "tokens_per_correct": total.tokens_per_correct,
            "prompt_tokens": total.prompt_tokens,
            "completion_tokens": total.completion_tokens,
            "draws": total.draws,
            "missing": total.missing,
            "correct": total.correct,
            "per_problem": {
                "tokens": self.tokens_per_problem.to_dict(),
                "cost": self.cost_per_problem.to_dict(),
            },
            "subsets": {name: figures.to_dict() for name, figures in self.subsets.items()},
        }


def summarize_cost(draws: Sequence[DrawTokens], prices: Prices | None) -> CostSummary:
    """Tokens and cost of a run's scored draws: in total, per problem and per subset (subsets in
    order of first appearance; none when no draw has a subset)."""
    by_problem: dict[str, list[DrawTokens]] = {}
    by_subset: dict[str, list[DrawTokens]] = {}
    for draw in draws:
        by_problem.setdefault(draw.problem_id, []).append(draw)
        if draw.subset is not None:
            by_subset.setdefault(draw.subset, []).append(draw)
    problems = [cost_figures(group, prices) for group in by_problem.values()]
    return CostSummary(
        prices=prices,
        total=cost_figures(draws, prices),
        tokens_per_problem=spread([p.tokens for p in problems]),
        cost_per_problem=spread([p.cost for p in problems]),
        subsets={name: cost_figures(group, prices) for name, group in by_subset.items()},
    )


@dataclass(frozen=True)
class CostComparison:
    """Tokens and cost per correct answer of two runs over the problems they share, and B − A."""

    a: CostFigures
    b: CostFigures
    prices_a: Prices | None
    prices_b: Prices | None

    @property
    def tokens_per_correct_delta(self) -> float | None:
        return _delta(self.a.tokens_per_correct, self.b.tokens_per_correct)

    @property
    def cost_per_correct_delta(self) -> float | None:
        return _delta(self.a.cost_per_correct, self.b.cost_per_correct)

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": CURRENCY,
            "prices_a": None if self.prices_a is None else self.prices_a.to_dict(),
            "prices_b": None if self.prices_b is None else self.prices_b.to_dict(),
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "tokens_per_correct_delta": self.tokens_per_correct_delta,
            "per_correct_delta": self.cost_per_correct_delta,
        }


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def compare_cost(
    a: Sequence[DrawTokens],
    b: Sequence[DrawTokens],
    prices_a: Prices | None,
    prices_b: Prices | None,
    shared: Iterable[str],
) -> CostComparison:
    """Tokens and cost per correct answer of each run over the ``shared`` problem ids (each run at
    its own prices), and B − A."""
    ids = set(shared)
    return CostComparison(
        a=cost_figures((d for d in a if d.problem_id in ids), prices_a),
        b=cost_figures((d for d in b if d.problem_id in ids), prices_b),
        prices_a=prices_a,
        prices_b=prices_b,
    )
