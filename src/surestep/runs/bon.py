"""``surestep bon``: score a stability run's sampled draws with a PRM, then best-of-N figures.

Each draw is split into steps (:func:`surestep.prm.steps.split_steps`) and scored by a PRM
scorer of ``surestep prm run``; its step scores go into the run store's ``step_scores`` table,
keyed by draw and by the scorer setup's key, one committed transaction per chunk, so a killed
job resumes where it stopped and a finished draw is never scored again. A setup is stored under
a label (``--name``, default the scorer's name); resuming a label with a changed setup is
refused, field by field, as ``surestep prm run`` refuses. Two built-in scorers need no model
and store nothing: ``oracle`` gives every step the draw's own grade (the ceiling) and ``random``
a seeded uniform score per step (the floor). The figures are in
:mod:`surestep.metrics.best_of_n`.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from surestep import __version__
from surestep.errors import SurestepError
from surestep.metrics.best_of_n import (
    AGGREGATES,
    DEFAULT_SAMPLES,
    METHODS,
    BestOfNScores,
    FloatArray,
    aggregate,
    best_of_n_scores,
)
from surestep.metrics.bootstrap import Interval, bootstrap_intervals
from surestep.prm.scorers.base import PRMScorer, SolutionToScore, StepScores
from surestep.prm.scorers.registry import PRMScorerConfig, build_scorer
from surestep.prm.steps import split_steps
from surestep.runs.manifest import SAMPLE, config_key
from surestep.runs.pipeline import scored_draws
from surestep.runs.store import RunStore, StepScoreRow, changed_fields_error, write_json_atomic

ORACLE = "oracle"
RANDOM = "random"
BUILT_IN = (ORACLE, RANDOM)
SPLITTER = "blank-lines-or-step-markers/1"
"""Names the step splitter; part of every setup, so a changed rule never mixes with stored scores."""
IDENTITY_FIELDS = (
    "kind",
    "scorer",
    "model",
    "steps",
    "protocol",
    "tokenizer",
    "max_length",
    "reward_differences",  # transformers families
    "few_shot",
    "max_tokens",  # critic
)


@dataclass(frozen=True)
class BonRequest:
    run: Path
    scorer: str
    model: str | None = None
    options: PRMScorerConfig = field(default_factory=PRMScorerConfig)
    name: str | None = None
    aggregate: str = "min"
    seed: int = 0
    samples: int = DEFAULT_SAMPLES
    resamples: int = 1000
    confidence: float = 0.95
    chunk: int = 32

    @property
    def label(self) -> str:
        return self.name or self.scorer


@dataclass(frozen=True)
class BonProgress:
    done: int
    total: int
    steps: int
    invalid: int
    truncated_steps: int


@dataclass(frozen=True)
class BonResult:
    """The figures of one ``surestep bon``: each method's accuracy at each N, with intervals."""

    run: str
    label: str
    setup: dict[str, Any]
    aggregate: str
    num_problems: int
    n: int
    sizes: tuple[int, ...]
    methods: dict[str, dict[int, float]]
    ci: dict[str, dict[int, Interval]]
    confidence: float
    vote_exact: dict[int, bool]
    vote_mc_error: dict[int, float]
    samples: int
    draws: dict[str, int]
    subsets: dict[str, dict[str, dict[int, float]]] = field(default_factory=dict)
    subset_sizes: dict[str, int] = field(default_factory=dict)
    seed: int = 0  # of the weighted vote's Monte Carlo subsets and the bootstrap

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: fractions, N as strings."""

        def by_n(values: dict[int, float]) -> dict[str, float]:
            return {str(size): value for size, value in values.items()}

        return {
            "run": self.run,
            "name": self.label,
            "scorer": self.setup["scorer"],
            "model": self.setup.get("model"),
            "setup": self.setup,
            "aggregate": self.aggregate,
            "num_problems": self.num_problems,
            "n": self.n,
            "sizes": list(self.sizes),
            "methods": {method: by_n(values) for method, values in self.methods.items()},
            "ci": {
                method: {str(size): [i.low, i.high] for size, i in intervals.items()}
                for method, intervals in self.ci.items()
            },
            "confidence": self.confidence,
            "seed": self.seed,
            "weighted_vote": {
                "exact": {str(size): exact for size, exact in self.vote_exact.items()},
                "mc_error": by_n(self.vote_mc_error),
                "samples": self.samples,
            },
            "draws": self.draws,
            "subsets": {
                name: {method: by_n(values) for method, values in figures.items()}
                for name, figures in self.subsets.items()
            },
            "subset_sizes": self.subset_sizes,
        }


# --- the built-in scorers ------------------------------------------------------------------------


class OracleScorer:
    """Every step of a draw scores the draw's own grade (1 right, 0 wrong): the ceiling."""

    name = ORACLE

    def __init__(self, grades: dict[str, bool]) -> None:
        self._grades = grades

    def score(self, items: Sequence[SolutionToScore]) -> list[StepScores]:
        return [StepScores(i.id, (float(self._grades[i.id]),) * len(i.steps)) for i in items]


class RandomScorer:
    """A uniform score per step, the same for a draw whatever else is scored: the floor."""

    name = RANDOM

    def __init__(self, seed: int) -> None:
        self._seed = seed

    def score(self, items: Sequence[SolutionToScore]) -> list[StepScores]:
        out = []
        for item in items:
            digest = hashlib.sha256(f"{self._seed}\0{item.id}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            out.append(StepScores(item.id, tuple(float(x) for x in rng.random(len(item.steps)))))
        return out


def scorer_setup(request: BonRequest) -> dict[str, Any]:
    """What identifies a scorer's outputs (its key is the stored rows' ``scorer_key``)."""
    if request.scorer in BUILT_IN:
        setup: dict[str, Any] = {"kind": "bon", "scorer": request.scorer, "steps": SPLITTER}
        if request.scorer == RANDOM:
            setup["seed"] = request.seed
        return setup
    if not request.model:
        raise SurestepError(f"the {request.scorer} scorer needs --model")
    return {
        "kind": "bon",
        "scorer": request.scorer,
        "model": request.model,
        "steps": SPLITTER,
        **request.options.identity(request.scorer),
    }


def _reconcile(store: RunStore, label: str, setup: dict[str, Any]) -> None:
    existing = store.step_scorers().get(label)
    if existing is None:
        store.save_step_scorer(label, {**setup, "surestep_version": __version__})
        return
    fields = [*IDENTITY_FIELDS, *(["seed"] if setup["scorer"] == RANDOM else [])]
    error = changed_fields_error(
        existing,
        setup,
        fields,
        f"{store.directory}: the step scores named {label!r} were made with a different scorer setup; "
        "refusing to mix them (--name LABEL stores another setup beside them).",
    )
    if error is not None:
        raise error


# --- scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draw:
    problem_id: str
    draw_index: int
    question: str
    steps: tuple[str, ...]
    correct: bool

    @property
    def id(self) -> str:
        return f"{self.problem_id}#{self.draw_index}"


def _draws(store: RunStore, manifest: dict[str, Any], n: int) -> tuple[list[_Draw], list[Any]]:
    """Every sampled draw below n with its steps and grade, and the graded draws by problem."""
    from surestep.data.draws import group_draws

    graded = [d for d in scored_draws(store, manifest, n) if not d.greedy]
    problems = group_draws(graded, path=store.directory, n=n)
    questions = {p.id: p.question for p, _ in store.problems()}
    grades = {(d.problem_id, d.sample_index): d.correct for d in graded}
    draws = [
        _Draw(
            d.problem_id,
            d.draw_index,
            questions.get(d.problem_id, ""),
            split_steps(d.text),
            grades[d.problem_id, d.draw_index],
        )
        for d in store.draws(manifest["configs"][SAMPLE], below=n)
        if (d.problem_id, d.draw_index) in grades
    ]
    return draws, problems


def score_draws(
    store: RunStore,
    request: BonRequest,
    draws: Sequence[_Draw],
    *,
    progress: Callable[[BonProgress], None] | None = None,
    scorer: PRMScorer | None = None,
) -> dict[tuple[str, int], StepScoreRow]:
    """Step scores of every draw: built-ins computed, PRMs read from the store or scored into it."""
    manifest = store.manifest() or {}
    config = manifest["configs"][SAMPLE]
    setup = scorer_setup(request)
    key = config_key(setup)
    if request.scorer in BUILT_IN:
        return _built_in_rows(request.scorer, request.seed, key, config, draws)
    _reconcile(store, request.label, setup)
    stored = store.step_scores(key, config)
    todo = [d for d in draws if (d.problem_id, d.draw_index) not in stored]
    total = len(draws)
    done = total - len(todo)
    steps = sum(r.steps for r in stored.values())
    invalid = sum(not r.valid for r in stored.values())
    truncated = sum(r.truncated_steps for r in stored.values())
    if progress:
        progress(BonProgress(done, total, steps, invalid, truncated))
    if todo and scorer is None:
        assert request.model is not None  # scorer_setup refused a PRM without a model
        scorer = build_scorer(request.scorer, request.model, request.options)
    for start in range(0, len(todo), request.chunk):
        chunk = todo[start : start + request.chunk]
        assert scorer is not None
        began = time.perf_counter()
        results = scorer.score([SolutionToScore(d.id, d.question, d.steps) for d in chunk])
        rows = [_row(key, config, d, r) for d, r in zip(chunk, results)]
        store.add_step_scores(rows, time.perf_counter() - began)
        stored.update({(r.problem_id, r.draw_index): r for r in rows})
        done += len(chunk)
        steps += sum(r.steps for r in rows)
        invalid += sum(not r.valid for r in rows)
        truncated += sum(r.truncated_steps for r in rows)
        if progress:
            progress(BonProgress(done, total, steps, invalid, truncated))
    return stored


def _built_in_rows(
    name: str, seed: int, key: str, config: str, draws: Sequence[_Draw]
) -> dict[tuple[str, int], StepScoreRow]:
    built: PRMScorer = RandomScorer(seed)
    if name == ORACLE:
        built = OracleScorer({d.id: d.correct for d in draws})
    results = built.score([SolutionToScore(d.id, d.question, d.steps) for d in draws])
    return {(d.problem_id, d.draw_index): _row(key, config, d, r) for d, r in zip(draws, results)}


def _row(key: str, config: str, draw: _Draw, result: StepScores) -> StepScoreRow:
    if result.id != draw.id:
        raise SurestepError(f"scorer returned {result.id!r} for {draw.id!r}")
    return StepScoreRow(
        key,
        draw.problem_id,
        config,
        draw.draw_index,
        len(draw.steps),
        result.truncated_steps if result.valid else 0,
        result.valid,
        tuple(result.step_scores) if result.valid else (),
        result.error,
    )


# --- figures -------------------------------------------------------------------------------------


def run_bon(
    request: BonRequest,
    *,
    progress: Callable[[BonProgress], None] | None = None,
    scorer: PRMScorer | None = None,
) -> BonResult:
    """Score the run's draws (resuming), then every method's accuracy for N = 1, 2, 4, ..., n.

    Also writes the result to ``bon-<label>.json`` in the run directory (the report reads it).
    """
    from surestep.runs.runner import open_run

    if request.aggregate not in AGGREGATES:
        raise SurestepError(f"unknown aggregate {request.aggregate!r} (known: {', '.join(AGGREGATES)})")
    store, manifest = open_run(request.run)
    with store:
        n = int(manifest["n"])
        draws, problems = _draws(store, manifest, n)
        if not problems:
            raise SurestepError(f"{request.run}: no graded draws to score")
        rows = score_draws(store, request, draws, progress=progress, scorer=scorer)
        subsets = {p.id: p.subset for p, _ in store.problems()}
    scores, figures = _figures(request.run, problems, rows, request.aggregate, request.samples, request.seed)
    columns = {
        f"{method}@{size}": figures.per_problem[method][:, j]
        for method in METHODS
        for j, size in enumerate(figures.sizes)
    }
    intervals = {}
    if request.resamples:
        intervals = bootstrap_intervals(
            columns, n_resamples=request.resamples, confidence=request.confidence, seed=request.seed
        )
    labels = [subsets.get(p.problem_id) for p in problems]
    by_subset: dict[str, dict[str, dict[int, float]]] = {}
    subset_sizes: dict[str, int] = {}
    if any(label is not None for label in labels):
        label_arr = np.array([str(label) for label in labels], dtype=object)
        for label in sorted(set(label_arr)):
            mask = label_arr == label
            subset_sizes[label] = int(mask.sum())
            by_subset[label] = {
                method: {
                    size: float(figures.per_problem[method][mask, j].mean())
                    for j, size in enumerate(figures.sizes)
                }
                for method in METHODS
            }
    used = [rows.get((d.problem_id, d.draw_index)) for d in draws]
    result = BonResult(
        run=str(request.run),
        label=request.label,
        setup=scorer_setup(request),
        aggregate=request.aggregate,
        num_problems=len(problems),
        n=n,
        sizes=figures.sizes,
        methods=figures.means(),
        ci={
            method: {size: intervals[f"{method}@{size}"] for size in figures.sizes}
            for method in METHODS
            if f"{method}@1" in intervals
        },
        confidence=request.confidence,
        vote_exact=dict(zip(figures.sizes, figures.vote.exact)),
        vote_mc_error=dict(zip(figures.sizes, figures.vote.mc_error)),
        samples=request.samples,
        draws={
            "scored": len(draws),
            "steps": sum(len(d.steps) for d in draws),
            "unscored": int(np.isnan(scores).sum()),
            "invalid": sum(1 for r in used if r is not None and not r.valid),
            "truncated": sum(1 for r in used if r is not None and r.truncated_steps),
            "truncated_steps": sum(r.truncated_steps for r in used if r is not None),
        },
        subsets=by_subset,
        subset_sizes=subset_sizes,
        seed=request.seed,
    )
    write_json_atomic(request.run / f"bon-{_slug(request.label)}.json", result.to_json())
    return result


def _figures(
    run: Path,
    problems: Sequence[Any],
    rows: dict[tuple[str, int], StepScoreRow],
    how: str,
    samples: int,
    seed: int,
) -> tuple[FloatArray, BestOfNScores]:
    """Each sampled draw's aggregated score (problems, n) and every method's per-problem figures."""
    from surestep.runs.scoring import outcomes_of

    outcomes = outcomes_of(problems, path=run)
    scores = np.array(
        [[_score(rows.get((p.problem_id, d.sample_index)), how) for d in p.samples] for p in problems]
    )
    correct = np.array([[d.correct for d in p.samples] for p in problems], dtype=bool)
    classes = outcomes.answer_classes
    if classes is None:  # no draw has an extracted answer: no class gets a vote
        classes = np.full(correct.shape, -1, dtype=np.int64)
    return scores, best_of_n_scores(scores, classes, correct, samples=samples, seed=seed)


def _score(row: StepScoreRow | None, how: str) -> float:
    if row is None or not row.valid:
        return math.nan
    return aggregate(row.scores, how)


def _slug(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def read_bon_results(run: Path) -> list[dict[str, Any]]:
    """Every ``bon-*.json`` a run directory holds (for the report), sorted by label."""
    import json

    found = []
    for path in sorted(run.glob("bon-*.json")):
        try:
            found.append(dict(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            raise SurestepError(f"{path}: unreadable best-of-N result ({exc})") from None
    return found


# --- reading a stored result back (surestep compare RUN --bon A --bon B) --------------------------


@dataclass(frozen=True)
class StoredBon:
    """One ``bon`` result of a run recomputed per problem from what the run holds."""

    label: str
    setup: dict[str, Any]
    aggregate: str
    problem_ids: tuple[str, ...]
    figures: BestOfNScores


def _field(path: Path, data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            raise SurestepError(f"{path}: missing field {name!r}")
        value = value[part]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise SurestepError(f"{path}: field {name!r} has the wrong type ({type(value).__name__})")
    return value


def stored_bon(run: Path, label: str) -> StoredBon:
    """The per-problem figures of the ``bon`` result named ``label`` (``RUN/bon-<label>.json``).

    Reads nothing but the run: the built-in scorers are recomputed from the grades (and the
    stored seed), a PRM's step scores are read from the store, and the figures are made with
    the result's aggregate, Monte Carlo subsets and seed, so they equal what ``bon`` printed.
    A PRM label whose step scores do not cover every graded draw is refused.
    """
    import json

    from surestep.runs.runner import open_run

    path = run / f"bon-{_slug(label)}.json"
    if not path.is_file():
        known = ", ".join(repr(r.get("name")) for r in read_bon_results(run)) or "none"
        raise SurestepError(
            f"{path}: no best-of-N result named {label!r} in {run} (results there: {known}); "
            f"make it with surestep bon {run} --scorer ... --name {label}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SurestepError(f"{path}: unreadable best-of-N result ({exc})") from None
    if not isinstance(data, dict):
        raise SurestepError(f"{path}: expected a JSON object")
    setup = dict(_field(path, data, "setup", dict))
    name = _field(path, data, "setup.scorer", str)
    how = _field(path, data, "aggregate", str)
    if how not in AGGREGATES:
        raise SurestepError(f"{path}: field 'aggregate' is {how!r} (known: {', '.join(AGGREGATES)})")
    samples = _field(path, data, "weighted_vote.samples", int)
    seed = _field(path, data, "seed", int) if "seed" in data else 0  # results before the seed was kept
    store, manifest = open_run(run)
    with store:
        n = int(manifest["n"])
        draws, problems = _draws(store, manifest, n)
        if not problems:
            raise SurestepError(f"{run}: no graded draws")
        config = manifest["configs"][SAMPLE]
        key = config_key(setup)
        if name in BUILT_IN:
            rows = _built_in_rows(name, int(setup.get("seed", 0)), key, config, draws)
        else:
            rows = store.step_scores(key, config)
            missing = sum((d.problem_id, d.draw_index) not in rows for d in draws)
            if missing:
                raise SurestepError(
                    f"{run}: the step scores named {label!r} lack {missing} of {len(draws)} graded draws "
                    f"(finish them with surestep bon {run} --name {label} and the same scorer options)"
                )
    _, figures = _figures(run, problems, rows, how, samples, seed)
    return StoredBon(label, setup, how, tuple(p.problem_id for p in problems), figures)
