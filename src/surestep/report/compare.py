"""``surestep compare``: paired bootstrap of the headline differences between two runs.

Stability runs are compared on the problems both answered, paired by problem id; two best-of-N
results of one run (``surestep bon``) on its problems, per method and N; PRM runs on
the PRMBench instances both scored validly, paired by instance id (resampled within each
category, as the single-run intervals are). One resample applies to both runs, so their
per-item correlation is kept. A verdict is given only where the interval of B − A excludes 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
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
from surestep.metrics.cost import CostComparison
from surestep.metrics.dataset import FloatArray, derived_figures
from surestep.metrics.keys import MetricKey
from surestep.prm.data import CORRECT
from surestep.prm.scoring import PRMBenchScoreConfig, build_table, paired_prmscore
from surestep.report.data import PRMRun, StabilityView, headline_columns
from surestep.report.labels import label


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    unit: str  # what was paired: "problems" or "instances"
    shared: int
    only_a: int
    only_b: int
    confidence: float
    differences: dict[str, PairedDifference]
    k: int | None = None  # stability runs: the k of the headline figures
    invalid: int = 0  # PRM runs: instances in both, left out for an invalid prediction in either
    cost: CostComparison | None = None  # stability runs: tokens and cost per correct answer
    bon: dict[str, Any] | None = None  # two best-of-N results of one run: the run, n, N, each's setup
    notes: tuple[str, ...] = ()  # stability runs: how k was chosen, and runs scored without results.json

    def verdict(self, key: str) -> str:
        """The better run and the direction of the difference ("B higher", or "B lower" for a
        figure where lower is better, such as the relative drop); "" where the interval holds 0."""
        d = self.differences[key]
        if not d.significant:
            return ""
        if higher_is_better(key):
            return f"{self.b} higher" if d.delta > 0 else f"{self.a} higher"
        return f"{self.b} lower" if d.delta < 0 else f"{self.a} lower"

    def to_json(self) -> dict[str, Any]:
        def finite(x: float) -> float | None:
            return x if np.isfinite(x) else None

        extra: dict[str, Any] = {"k": self.k} if self.k is not None else {"invalid_in_either": self.invalid}
        if self.bon is not None:
            extra = {"bon": self.bon}
        if self.cost is not None:
            extra["cost"] = self.cost.to_dict()
        return {
            "a": self.a,
            "b": self.b,
            f"shared_{self.unit}": self.shared,
            "only_in_a": self.only_a,
            "only_in_b": self.only_b,
            **extra,
            **({"notes": list(self.notes)} if self.notes else {}),
            "confidence": self.confidence,
            "metrics": {
                key: {
                    "label": label(key),
                    "a": finite(d.a),
                    "b": finite(d.b),
                    "delta": finite(d.delta),
                    "interval": [finite(d.interval.low), finite(d.interval.high)],
                    "verdict": self.verdict(key) or None,
                }
                for key, d in self.differences.items()
            },
        }


def higher_is_better(key: str) -> bool:
    """The direction of a figure (``metrics.keys.METRICS``); PRMBench figures, which are no
    metric keys (``overall``, a category), are all better higher."""
    try:
        return MetricKey.parse(key).higher_is_better
    except ValueError:
        return True


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
    """B − A for each headline figure over the shared problems, at the headline k of both runs'
    score sheets (their results.json's, see ``shared_k``)."""
    in_b = {p.id for p in b.problems}
    shared = [p.id for p in a.problems if p.id in in_b]
    if not shared:
        raise SurestepError(f"{a.name} and {b.name} have no problem in common")
    k, k_note = shared_k(a, b)
    notes = tuple(note for note in (a.note, b.note, k_note) if note is not None)
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
        unit="problems",
        shared=len(shared),
        only_a=len(a.problems) - len(shared),
        only_b=len(b.problems) - len(shared),
        confidence=confidence,
        differences=ordered,
        k=k,
        notes=notes,
    )


def shared_k(a: StabilityView, b: StabilityView) -> tuple[int, str | None]:
    """The k two runs are compared at, and a note when it is not both runs' headline k.

    Each run's k values are those its score sheet was computed at (its results.json's, or the
    report's defaults for a run scored here). Equal headline k: that k. Otherwise the largest k
    both were scored at, with a note; no shared k is an error.
    """
    if a.headline_k == b.headline_k:
        return a.headline_k, None
    ks_a, ks_b = a.sheet.protocol.ks, b.sheet.protocol.ks
    both = set(ks_a) & set(ks_b)
    if not both:
        raise SurestepError(
            f"{a.name} was scored at k={','.join(map(str, ks_a))} and {b.name} at "
            f"k={','.join(map(str, ks_b))}, with no k in common: score one again with the other's k "
            "(surestep score RUN --k K)"
        )
    k = max(both)
    return k, (
        f"headline k differs ({a.name}: {a.headline_k}, {b.name}: {b.headline_k}); "
        f"compared at k={k}, the largest k both were scored at"
    )


def compare_prm_runs(
    a: PRMRun,
    b: PRMRun,
    *,
    names: tuple[str, str] | None = None,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Comparison:
    """B − A of PRMScore (Overall, groups, categories) over the instances both runs scored validly.

    Each run is labelled at the thresholds its own protocol implies (``prm.protocol.run_thresholds``).
    An instance whose text differs between the two runs' data is an error, not a pairing.
    """
    name_a, name_b = names or (a.directory.name, b.directory.name)
    in_b = {i.id: i for i in b.bench.instances if i.id in b.predictions.by_id}
    both = [i for i in a.bench.instances if i.id in a.predictions.by_id and i.id in in_b]
    differing = [i.id for i in both if in_b[i.id] != i]
    if differing:
        raise SurestepError(
            f"{name_a} and {name_b} were scored on different versions of {len(differing)} instances "
            f"(e.g. {', '.join(differing[:3])}); compare runs on the same PRMBench data"
        )
    valid = [i for i in both if a.predictions.by_id[i.id].valid and b.predictions.by_id[i.id].valid]
    if not any(i.category != CORRECT for i in valid):
        raise SurestepError(f"{name_a} and {name_b} share no validly scored instance of the nine categories")
    tables = [
        build_table(
            [(i, run.predictions.by_id[i.id]) for i in valid],
            PRMBenchScoreConfig(
                threshold=run.default_threshold, redundancy_threshold=run.default_redundancy_threshold
            ),
        )
        for run in (a, b)
    ]
    differences = {
        key: d
        for key, d in paired_prmscore(
            tables[0], tables[1], resamples=resamples, confidence=confidence, seed=seed
        ).items()
        if np.isfinite(d.a) or np.isfinite(d.b)  # categories (and groups) the shared instances lack
    }
    return Comparison(
        a=name_a,
        b=name_b,
        unit="instances",
        shared=len(valid),
        only_a=sum(i.id in a.predictions.by_id for i in a.bench.instances) - len(both),
        only_b=len(in_b) - len(both),
        confidence=confidence,
        differences=differences,
        invalid=len(both) - len(valid),
    )


BON_METHODS = ("best_of_n", "weighted_vote")
"""The methods a verifier changes; maj@N, pass@N and the random pick are the same for every scorer."""


def compare_bon(
    run: Path, label_a: str, label_b: str, *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Comparison:
    """B − A of best-of-N accuracy and of the PRM-weighted vote at each N, for two ``surestep bon``
    results of one run, by a paired bootstrap over its problems (one resample for both).

    Each result's per-problem figures are recomputed from the run (``runs.bon.stored_bon``), so
    A and B are what ``bon`` printed for them.
    """
    from surestep.runs.bon import stored_bon

    if label_a == label_b:
        raise SurestepError(f"--bon {label_a} given twice: compare two different best-of-N results")
    a, b = stored_bon(run, label_a), stored_bon(run, label_b)
    assert a.problem_ids == b.problem_ids  # one run, read alike
    assert a.figures.sizes == b.figures.sizes

    def columns(result: Any) -> dict[str, FloatArray]:
        return {
            f"{method}@{size}": result.figures.per_problem[method][:, j]
            for method in BON_METHODS
            for j, size in enumerate(result.figures.sizes)
        }

    differences = paired_bootstrap(
        columns(a), columns(b), n_resamples=resamples, confidence=confidence, seed=seed
    )

    def described(result: Any) -> dict[str, Any]:
        vote = result.figures.vote
        return {
            "name": result.label,
            "scorer": result.setup.get("scorer"),
            "model": result.setup.get("model"),
            "aggregate": result.aggregate,
            "weighted_vote_mc_error": {
                str(size): error for size, error in zip(result.figures.sizes, vote.mc_error) if error
            },
        }

    return Comparison(
        a=label_a,
        b=label_b,
        unit="problems",
        shared=len(a.problem_ids),
        only_a=0,
        only_b=0,
        confidence=confidence,
        differences=differences,
        bon={
            "run": str(run),
            "n": a.figures.n,
            "sizes": list(a.figures.sizes),
            "a": described(a),
            "b": described(b),
        },
    )
