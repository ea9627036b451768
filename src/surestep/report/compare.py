"""``surestep compare``: paired bootstrap of the headline differences between two stability runs.

Only the problems both runs answered are compared, paired by problem id (one resample of
problems applies to both runs, so their per-problem correlation is kept). A verdict is given
only where the interval of B − A excludes 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from surestep.errors import SurestepError
from surestep.metrics import (
    PairedDifference,
    ProblemOutcomes,
    StabilityProtocol,
    paired_bootstrap,
    per_problem_scores,
)
from surestep.metrics.dataset import FloatArray, derived_figures
from surestep.report.data import StabilityView, headline_columns


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    shared: int
    only_a: int
    only_b: int
    k: int
    confidence: float
    differences: dict[str, PairedDifference]

    def verdict(self, key: str) -> str:
        d = self.differences[key]
        if not d.significant:
            return ""
        return f"{self.b} higher" if d.delta > 0 else f"{self.a} higher"

    def to_json(self) -> dict[str, Any]:
        def finite(x: float) -> float | None:
            return x if np.isfinite(x) else None

        return {
            "a": self.a,
            "b": self.b,
            "shared_problems": self.shared,
            "only_in_a": self.only_a,
            "only_in_b": self.only_b,
            "k": self.k,
            "confidence": self.confidence,
            "metrics": {
                key: {
                    "a": finite(d.a),
                    "b": finite(d.b),
                    "delta": finite(d.delta),
                    "interval": [finite(d.interval.low), finite(d.interval.high)],
                    "verdict": self.verdict(key) or None,
                }
                for key, d in self.differences.items()
            },
        }


def _scores(run: StabilityView, ids: list[str], protocol: StabilityProtocol) -> dict[str, FloatArray]:
    by_id = {p.id: p for p in run.problems}
    chosen = [by_id[i] for i in ids]
    greedy = [p.greedy_correct for p in chosen]
    outcomes = ProblemOutcomes(
        n=chosen[0].n,
        correct_counts=np.array([p.correct for p in chosen], dtype=np.int64),
        greedy_correct=None if any(g is None for g in greedy) else np.array(greedy, dtype=bool),
    )
    return per_problem_scores(outcomes, protocol)


def compare_runs(
    a: StabilityView, b: StabilityView, *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Comparison:
    """B − A for each headline figure over the shared problems."""
    in_b = {p.id for p in b.problems}
    shared = [p.id for p in a.problems if p.id in in_b]
    if not shared:
        raise SurestepError(f"{a.name} and {b.name} have no problem in common")
    k = min(a.headline_k, b.headline_k)
    protocol = StabilityProtocol(ks=(k,), taus=(0.5, 0.75, 1.0), headline_k=k, seed=seed)

    def derive(means: Mapping[str, FloatArray]) -> Mapping[str, FloatArray]:
        return derived_figures(means, protocol)

    differences = paired_bootstrap(
        _scores(a, shared, protocol),
        _scores(b, shared, protocol),
        derive=derive,
        n_resamples=resamples,
        confidence=confidence,
        seed=seed,
    )
    ordered = {key: differences[key] for key in headline_columns(k) if key in differences}
    return Comparison(
        a=a.name,
        b=b.name,
        shared=len(shared),
        only_a=len(a.problems) - len(shared),
        only_b=len(b.problems) - len(shared),
        k=k,
        confidence=confidence,
        differences=ordered,
    )
