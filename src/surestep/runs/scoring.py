"""Turn grouped graded draws into the full stability score sheet (figures, subsets, intervals)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from surestep.data.draws import ProblemDraws, problem_label
from surestep.errors import InputError
from surestep.metrics import (
    Interval,
    ProblemOutcomes,
    StabilityProtocol,
    bootstrap_intervals,
    classes_from_answers,
    derived_figures,
    headline_keys,
    per_problem_scores,
    summarize,
    summarize_subsets,
)
from surestep.metrics.dataset import FloatArray


@dataclass(frozen=True)
class StabilityScoreConfig:
    """How to score: protocol, grouping field, and bootstrap settings."""

    protocol: StabilityProtocol = field(default_factory=StabilityProtocol)
    by: str | None = None
    ci: bool = False
    n_resamples: int = 1000
    confidence: float = 0.95


@dataclass(frozen=True)
class ScoreSheet:
    """Every dataset-level figure of one scored set of draws."""

    num_problems: int
    n: int
    protocol: StabilityProtocol
    metrics: dict[str, float]
    headline: list[str]
    subsets: dict[str, dict[str, float]] = field(default_factory=dict)
    subset_sizes: dict[str, int] = field(default_factory=dict)
    by: str | None = None
    ci: dict[str, Interval] = field(default_factory=dict)
    confidence: float = 0.95

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: fractions in [0, 1] (relative drops may fall outside); NaN -> null."""
        return {
            "num_problems": self.num_problems,
            "n": self.n,
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
            "subsets": {
                name: {k: _finite(v) for k, v in figures.items()} for name, figures in self.subsets.items()
            },
            "subset_sizes": self.subset_sizes,
            "by": self.by,
            "ci": {k: [_finite(i.low), _finite(i.high)] for k, i in self.ci.items()},
            "confidence": self.confidence,
            "headline": self.headline,
        }


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def outcomes_of(problems: Sequence[ProblemDraws], *, path: str | Path) -> ProblemOutcomes:
    """Counts, greedy grades and answer classes of grouped draws."""
    n = len(problems[0].samples)
    with_greedy = [p.greedy is not None for p in problems]
    if any(with_greedy) and not all(with_greedy):
        missing = [p.problem_id for p in problems if p.greedy is None]
        shown = ", ".join(repr(m) for m in missing[:10])
        raise InputError(
            f"{len(missing)} problem(s) lack a greedy draw while others have one: {shown}",
            path=path,
        )
    greedy = np.array([bool(p.greedy and p.greedy.correct) for p in problems]) if all(with_greedy) else None
    correct = np.array([[d.correct for d in p.samples] for p in problems], dtype=bool)
    answers = [[_normalize_answer(d.answer) for d in p.samples] for p in problems]
    has_answers = any(a is not None for row in answers for a in row)
    return ProblemOutcomes(
        n=n,
        correct_counts=correct.sum(axis=1).astype(np.int64),
        greedy_correct=greedy,
        answer_classes=classes_from_answers(answers) if has_answers else None,
        draw_correct=correct if has_answers else None,
    )


def _normalize_answer(answer: str | None) -> str | None:
    """Answers vote together when equal after whitespace is removed; empty means no answer."""
    if answer is None:
        return None
    folded = "".join(answer.split())
    return folded or None


def protocol_for(n: int, requested: StabilityProtocol, *, explicit_ks: bool) -> StabilityProtocol:
    """Fit the protocol to n: default k values above n are dropped; explicit ones are an error."""
    too_big = [k for k in requested.ks if k > n]
    if too_big and explicit_ks:
        raise InputError(
            f"k={too_big[0]} exceeds the number of draws per problem (n={n}); "
            "choose k <= n or sample more draws"
        )
    ks = tuple(k for k in requested.ks if k <= n) or (n,)
    headline = requested.headline_k if requested.headline_k in ks else max(ks)
    return replace(requested, ks=ks, headline_k=headline)


def score_problems(
    problems: Sequence[ProblemDraws],
    options: StabilityScoreConfig,
    *,
    path: str | Path,
    explicit_ks: bool = False,
) -> ScoreSheet:
    """All figures for grouped draws (see :class:`StabilityScoreConfig`)."""
    if not problems:
        raise InputError("no problems to score", path=path)
    outcomes = outcomes_of(problems, path=path)
    protocol = protocol_for(outcomes.n, options.protocol, explicit_ks=explicit_ks)
    scores = per_problem_scores(outcomes, protocol)
    sheet = ScoreSheet(
        num_problems=outcomes.num_problems,
        n=outcomes.n,
        protocol=protocol,
        metrics=summarize(scores, protocol),
        headline=headline_keys(protocol, with_greedy=outcomes.greedy_correct is not None),
        by=options.by,
        confidence=options.confidence,
    )
    if options.by is not None:
        labels = [problem_label(p, options.by, path=path) for p in problems]
        sizes = {label: labels.count(label) for label in sorted(set(labels))}
        sheet = replace(sheet, subsets=summarize_subsets(scores, labels, protocol), subset_sizes=sizes)
    if options.ci:
        sheet = replace(sheet, ci=_intervals(scores, protocol, options))
    return sheet


def _intervals(
    scores: dict[str, FloatArray], protocol: StabilityProtocol, options: StabilityScoreConfig
) -> dict[str, Interval]:
    return bootstrap_intervals(
        scores,
        derive=lambda means: derived_figures(means, protocol),
        n_resamples=options.n_resamples,
        confidence=options.confidence,
        seed=protocol.seed,
    )
