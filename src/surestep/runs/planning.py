"""Plan a study from a pilot run: predicted interval half-widths for any number of problems and draws.

The maths is in :mod:`surestep.metrics.planning`; this module reads a run directory or a
graded JSONL file, picks the headline figures, and assembles a typed :class:`StudyPlan`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from surestep.data.draws import ProblemDraws, group_draws, read_draws
from surestep.errors import InputError
from surestep.metrics import ProblemOutcomes, StabilityProtocol, per_problem_scores
from surestep.metrics import planning as pm
from surestep.metrics.dataset import (
    GREEDY_KEY,
    HEADLINE_TAUS,
    FloatArray,
    avg_key,
    g_pass_key,
    headline_keys,
    maj_key,
    mg_pass_key,
    pass_key,
)
from surestep.runs.scoring import outcomes_of, protocol_for

DEFAULT_PROBLEM_GRID: tuple[int, ...] = (50, 100, 200, 500, 1000, 2000)
DEFAULT_DRAW_GRID: tuple[int, ...] = (4, 8, 16, 32, 48, 64, 128)


@dataclass(frozen=True)
class PlanOptions:
    """What to plan for: k values, the target half-width, the difference to detect, the grids."""

    ks: tuple[int, ...] | None = None
    n: int | None = None
    target: float = 0.02
    detect: float = 0.03
    power: float = 0.8
    confidence: float = 0.95
    correlation: float = 0.0
    problem_grid: tuple[int, ...] | None = None
    draw_grid: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        checks = (
            (self.target > 0, f"target half-width must be > 0, got {self.target}"),
            (self.detect > 0, f"difference to detect must be > 0, got {self.detect}"),
            (0 < self.power < 1, f"power must lie in (0, 1), got {self.power}"),
            (0 < self.confidence < 1, f"confidence must lie in (0, 1), got {self.confidence}"),
            (-1 <= self.correlation <= 1, f"correlation must lie in [-1, 1], got {self.correlation}"),
        )
        for ok, message in checks:
            if not ok:
                raise InputError(message)


@dataclass(frozen=True)
class Pilot:
    """A pilot's graded draws grouped by problem, and the k values its run asked for."""

    source: str
    problems: tuple[ProblemDraws, ...]
    ks: tuple[int, ...] = ()


def load_pilot(path: Path, *, n: int | None = None) -> Pilot:
    """Read a run directory (every draw graded) or a graded JSONL file; the first n draws per problem."""
    if path.is_dir():
        from surestep.runs.pipeline import scored_draws
        from surestep.runs.runner import open_run

        store, manifest = open_run(path)
        with store:
            run_n = n or int(manifest["n"])
            problems = group_draws(scored_draws(store, manifest, run_n), path=path, n=run_n)
        ks = tuple(int(k) for k in manifest.get("protocol", {}).get("ks", ()))
        return Pilot(source=str(path), problems=tuple(problems), ks=ks)
    problems = group_draws(read_draws(path), path=path, n=n)
    return Pilot(source=str(path), problems=tuple(problems))


@dataclass(frozen=True)
class Figure:
    """One headline figure: its kind ('greedy', 'avg', 'pass', 'g_pass', 'mg_pass', 'maj'), k, tau."""

    kind: str
    k: int = 1
    tau: float | None = None

    def key(self, n: int) -> str:
        """The figure's key in ``surestep score`` output for a run of n draws."""
        if self.kind == "greedy":
            return GREEDY_KEY
        if self.kind == "avg":
            return avg_key(n)
        if self.kind == "pass":
            return pass_key(self.k)
        if self.kind == "g_pass":
            assert self.tau is not None
            return g_pass_key(self.k, self.tau)
        if self.kind == "mg_pass":
            return mg_pass_key(self.k)
        return maj_key(self.k)


def headline_figures(protocol: StabilityProtocol, outcomes: ProblemOutcomes) -> list[Figure]:
    """Greedy, avg@n, and for each k: Pass@k, G-Pass@k at 0.5 / 0.75 / 1.0, mG-Pass@k, maj@k."""
    figures = [Figure("greedy")] if outcomes.greedy_correct is not None else []
    figures.append(Figure("avg"))
    for k in protocol.ks:
        figures.append(Figure("pass", k))
        figures += [Figure("g_pass", k, tau) for tau in HEADLINE_TAUS]
        figures.append(Figure("mg_pass", k))
        if outcomes.answer_classes is not None:
            figures.append(Figure("maj", k))
    return figures


def split_figure(figure: Figure, outcomes: ProblemOutcomes) -> pm.VarianceSplit:
    """The between/within split of one figure on a pilot's outcomes."""
    n, counts = outcomes.n, outcomes.correct_counts
    if figure.kind == "greedy":
        assert outcomes.greedy_correct is not None
        return pm.split_fixed(outcomes.greedy_correct, n)
    if figure.kind == "maj":
        assert outcomes.answer_classes is not None
        assert outcomes.draw_correct is not None
        return pm.split_majority(outcomes.answer_classes, outcomes.draw_correct, figure.k)
    return pm.split_counts(figure_kernel(figure), n, counts)


def figure_kernel(figure: Figure) -> FloatArray:
    """The count kernel of a U-statistic figure (avg, Pass@k, G-Pass@k_tau, mG-Pass@k)."""
    if figure.kind == "avg":
        return pm.MEAN_KERNEL
    if figure.kind == "pass":
        return pm.pass_kernel(figure.k)
    if figure.kind == "g_pass":
        assert figure.tau is not None
        return pm.g_pass_kernel(figure.k, figure.tau)
    if figure.kind == "mg_pass":
        return pm.mg_pass_kernel(figure.k)
    raise ValueError(f"{figure.kind} has no count kernel")


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class FigurePlan:
    """One figure's variance split, predicted half-widths and what reaches the target."""

    key: str
    label: str
    figure: Figure
    split: pm.VarianceSplit
    halfwidth: float
    floor: float
    grid: tuple[tuple[float | None, ...], ...]
    draws_for_target: int | None
    problems_for_target: int | None

    def to_dict(self) -> dict[str, Any]:
        split = self.split
        return {
            "label": self.label,
            "kind": self.figure.kind,
            "k": None if self.figure.kind in ("greedy", "avg") else self.figure.k,
            "tau": self.figure.tau,
            "value": split.mean,
            "method": split.method,
            "variance": {
                "total": split.total,
                "between": _finite(split.between),
                "within": _finite(split.within),
            },
            "within_share": _finite(split.within_share),
            "halfwidth": _finite(self.halfwidth),
            "halfwidth_floor": _finite(self.floor),
            "draws_for_target": self.draws_for_target,
            "problems_for_target": self.problems_for_target,
        }


@dataclass(frozen=True)
class PairedFigure:
    """Problems needed to detect a difference in one figure between two models on the same problems."""

    key: str
    correlation: float
    sd: float
    problems: int | None
    by_draws: tuple[int | None, ...]
    difference: float | None = None

    def to_dict(self, draw_grid: Sequence[int]) -> dict[str, Any]:
        return {
            "observed_difference": self.difference,
            "correlation": _finite(self.correlation),
            "sd_difference": _finite(self.sd),
            "problems_needed": self.problems,
            "problems_needed_by_draws": {str(n): p for n, p in zip(draw_grid, self.by_draws)},
        }


@dataclass(frozen=True)
class PairedPlan:
    """The paired-comparison part of a plan: against a second run, or an assumed correlation."""

    detect: float
    power: float
    against: str | None
    shared_problems: int
    assumed_correlation: float | None
    figures: tuple[PairedFigure, ...]


@dataclass(frozen=True)
class StudyPlan:
    """Everything ``surestep plan`` prints: splits, grids, targets and the paired comparison."""

    source: str
    num_problems: int
    n: int
    ks: tuple[int, ...]
    confidence: float
    target: float
    headline: tuple[str, ...]
    problem_grid: tuple[int, ...]
    draw_grid: tuple[int, ...]
    figures: tuple[FigurePlan, ...]
    paired: PairedPlan
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def predicted_halfwidth(self) -> dict[str, float | None]:
        """Each figure's predicted half-width at the pilot's own P and n (cf. half of ``score --ci``)."""
        return {f.key: _finite(f.halfwidth) for f in self.figures}

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object; NaN becomes null."""
        paired = self.paired
        return {
            "source": self.source,
            "num_problems": self.num_problems,
            "n": self.n,
            "ks": list(self.ks),
            "confidence": self.confidence,
            "target": self.target,
            "headline": list(self.headline),
            "predicted_halfwidth": self.predicted_halfwidth,
            "figures": {f.key: f.to_dict() for f in self.figures},
            "grid": {
                "problems": list(self.problem_grid),
                "draws": list(self.draw_grid),
                "halfwidth": {f.key: [list(row) for row in f.grid] for f in self.figures},
            },
            "paired": {
                "detect": paired.detect,
                "power": paired.power,
                "against": paired.against,
                "shared_problems": paired.shared_problems,
                "assumed_correlation": paired.assumed_correlation,
                "figures": {f.key: f.to_dict(self.draw_grid) for f in paired.figures},
            },
            "notes": list(self.notes),
        }


def _grid(values: tuple[int, ...] | None, default: tuple[int, ...], own: int) -> tuple[int, ...]:
    return tuple(sorted({*(values or default), own}))


def _figure_plan(
    figure: Figure,
    split: pm.VarianceSplit,
    options: PlanOptions,
    grids: tuple[tuple[int, ...], tuple[int, ...]],
) -> FigurePlan:
    problems, n, confidence = split.num_problems, split.n, options.confidence
    grid = tuple(
        tuple(_finite(split.halfwidth(p, d, confidence)) if split.applies(d) else None for d in grids[1])
        for p in grids[0]
    )
    return FigurePlan(
        key=figure.key(n),
        label="avg@n" if figure.kind == "avg" else figure.key(n),
        figure=figure,
        split=split,
        halfwidth=split.halfwidth(problems, n, confidence),
        floor=pm.floor_halfwidth(split, problems, confidence),
        grid=grid,
        draws_for_target=pm.draws_for_halfwidth(split, problems, options.target, confidence),
        problems_for_target=pm.problems_for_halfwidth(split.variance_at(n), options.target, confidence),
    )


def _paired_figure(
    key: str, pair: pm.PairedSplit, options: PlanOptions, draw_grid: tuple[int, ...], difference: float | None
) -> PairedFigure:
    n = pair.a.n

    def needed(draws: int) -> int | None:
        if not (pair.a.applies(draws) and pair.b.applies(draws)):
            return None
        return pm.problems_to_detect(
            pair.variance_at(draws), options.detect, options.power, options.confidence
        )

    return PairedFigure(
        key=key,
        correlation=pair.correlation,
        sd=math.sqrt(pair.variance_at(n)),
        problems=needed(n),
        by_draws=tuple(needed(d) for d in draw_grid),
        difference=difference,
    )


def _protocol(pilot: Pilot, n: int, options: PlanOptions) -> StabilityProtocol:
    requested = StabilityProtocol(taus=HEADLINE_TAUS)
    if options.ks or pilot.ks:
        requested = replace(requested, ks=options.ks or pilot.ks)
    return protocol_for(n, requested, explicit_ks=options.ks is not None)


def _shared(a: Pilot, b: Pilot) -> tuple[list[ProblemDraws], list[ProblemDraws]]:
    by_id = {p.problem_id: p for p in b.problems}
    pairs = [(p, by_id[p.problem_id]) for p in a.problems if p.problem_id in by_id]
    if len(pairs) < 2:
        raise InputError(
            f"the runs share {len(pairs)} problem(s); a paired comparison needs at least 2", path=b.source
        )
    return [p for p, _ in pairs], [q for _, q in pairs]


def _against_pairs(
    figures: list[Figure], a: Pilot, b: Pilot, protocol: StabilityProtocol, options: PlanOptions
) -> tuple[int, dict[str, tuple[pm.PairedSplit, float]]]:
    """Paired splits of the figures both runs have, over the problems they share."""
    shared_a, shared_b = _shared(a, b)
    out_a = outcomes_of(shared_a, path=a.source)
    out_b = outcomes_of(shared_b, path=b.source)
    protocol_b = replace(protocol, ks=tuple(k for k in protocol.ks if k <= out_b.n) or (out_b.n,))
    available_b = set(headline_figures(protocol_b, out_b))
    scores_a, scores_b = per_problem_scores(out_a, protocol), per_problem_scores(out_b, protocol_b)
    pairs: dict[str, tuple[pm.PairedSplit, float]] = {}
    for figure in figures:
        if figure not in available_b:
            continue
        values_a: FloatArray = scores_a[figure.key(out_a.n)]
        values_b: FloatArray = scores_b[figure.key(out_b.n)]
        pair = pm.paired_split(split_figure(figure, out_a), split_figure(figure, out_b), values_a, values_b)
        pairs[figure.key(out_a.n)] = (pair, float(values_b.mean() - values_a.mean()))
    return len(shared_a), pairs


def plan_study(
    pilot: Pilot, options: PlanOptions | None = None, *, against: Pilot | None = None
) -> StudyPlan:
    """Predicted half-widths, targets and the paired comparison for a pilot (see module docs)."""
    options = options or PlanOptions()
    if len(pilot.problems) < 2:
        raise InputError("planning needs a pilot of at least 2 problems", path=pilot.source)
    outcomes = outcomes_of(pilot.problems, path=pilot.source)
    protocol = _protocol(pilot, outcomes.n, options)
    figures = headline_figures(protocol, outcomes)
    grids = (
        _grid(options.problem_grid, DEFAULT_PROBLEM_GRID, outcomes.num_problems),
        _grid(options.draw_grid, DEFAULT_DRAW_GRID, outcomes.n),
    )
    splits = [split_figure(f, outcomes) for f in figures]
    plans = tuple(_figure_plan(f, s, options, grids) for f, s in zip(figures, splits))
    pairs: dict[str, tuple[pm.PairedSplit, float | None]]
    if against is None:
        pairs = {p.key: (pm.assumed_pair(p.split, options.correlation), None) for p in plans}
        shared, assumed = outcomes.num_problems, options.correlation
    else:
        shared, found = _against_pairs(figures, pilot, against, protocol, options)
        pairs = {key: (pair, diff) for key, (pair, diff) in found.items()}
        assumed = None
    paired = PairedPlan(
        detect=options.detect,
        power=options.power,
        against=None if against is None else against.source,
        shared_problems=shared,
        assumed_correlation=assumed,
        figures=tuple(
            _paired_figure(key, pair, options, grids[1], diff) for key, (pair, diff) in pairs.items()
        ),
    )
    return StudyPlan(
        source=pilot.source,
        num_problems=outcomes.num_problems,
        n=outcomes.n,
        ks=protocol.ks,
        confidence=options.confidence,
        target=options.target,
        headline=tuple(headline_keys(protocol, with_greedy=outcomes.greedy_correct is not None)),
        problem_grid=grids[0],
        draw_grid=grids[1],
        figures=plans,
        paired=paired,
        notes=_notes(plans),
    )


def _notes(plans: Sequence[FigurePlan]) -> tuple[str, ...]:
    """Caveats worth printing under the tables."""
    methods = {p.split.method for p in plans}
    notes = []
    if pm.OVERLAP_COMPLETED in methods:
        completed = ", ".join(p.key for p in plans if p.split.method == pm.OVERLAP_COMPLETED)
        notes.append(
            f"n < 2k for {completed}: the within part beyond the pilot's n uses a beta-binomial "
            "fitted to all problems (sample at least 2k draws for a model-free split)"
        )
    if pm.JACKKNIFE in methods:
        notes.append("maj@k: within part from the jackknife over draws, scaled as 1/n (approximate)")
    if pm.UNKNOWN in methods:
        unknown = ", ".join(p.key for p in plans if p.split.method == pm.UNKNOWN)
        notes.append(f"{unknown}: k = n leaves no draws to split; predicted at the pilot's n only")
    if pm.FIXED in methods:
        notes.append("greedy: one draw per problem, so n does not apply; its half-width depends on P only")
    return tuple(notes)


def plan_path(path: Path, options: PlanOptions | None = None, *, against: Path | None = None) -> StudyPlan:
    """:func:`plan_study` on a run directory or graded JSONL file (and a second one to compare)."""
    options = options or PlanOptions()
    pilot = load_pilot(path, n=options.n)
    other = None if against is None else load_pilot(against)
    return plan_study(pilot, options, against=other)


__all__ = [
    "DEFAULT_DRAW_GRID",
    "DEFAULT_PROBLEM_GRID",
    "Figure",
    "FigurePlan",
    "PairedFigure",
    "PairedPlan",
    "Pilot",
    "PlanOptions",
    "StudyPlan",
    "headline_figures",
    "load_pilot",
    "plan_path",
    "plan_study",
    "split_figure",
]
