"""The data behind every chart and table of the report, read from run directories.

Everything here is plain data (frozen dataclasses of numbers and text) so that the HTML page,
the static figures and the tests all look at the same values.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from surestep.data.draws import ProblemDraws, group_draws
from surestep.errors import SurestepError
from surestep.metrics import StabilityProtocol, g_pass_at_k, mg_pass_at_k, pass_at_k
from surestep.metrics.cost import CostSummary
from surestep.metrics.dataset import GREEDY_KEY, drop_key, g_pass_key, mg_pass_key, pass_key
from surestep.prm.data import CATEGORIES, PRMBench, load_run_data
from surestep.prm.predictions import PredictionSet, load_predictions
from surestep.prm.protocol import protocol_summary, run_thresholds
from surestep.prm.scoring import PRMBenchScore, PRMBenchScoreConfig, score_predictions
from surestep.report.stored import sheet_from_results, stored_score
from surestep.runs.audit import AuditSummary, audit_summary
from surestep.runs.bon import read_bon_results
from surestep.runs.manifest import SAMPLE
from surestep.runs.pipeline import scored_draws
from surestep.runs.prm_run import MANIFEST as PRM_MANIFEST
from surestep.runs.prm_run import PREDICTIONS
from surestep.runs.prm_run import read_manifest as read_prm_manifest
from surestep.runs.runner import open_run
from surestep.runs.scoring import ScoreSheet, StabilityScoreConfig, score_problems
from surestep.runs.store import DATABASE

HEADLINE_K = 16


def headline_columns(k: int) -> list[str]:
    """Greedy, G-Pass@k at 0.5 / 0.75 / 1.0, mG-Pass@k, Pass@k and the relative drop."""
    return [
        GREEDY_KEY,
        g_pass_key(k, 0.5),
        g_pass_key(k, 0.75),
        g_pass_key(k, 1.0),
        mg_pass_key(k),
        pass_key(k),
        drop_key(k),
    ]


# --- stability runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Curve:
    """G-Pass@k as a function of tau: the value for tau in ((m-1)/k, m/k] is ``values[m-1]``.

    G-Pass@k is a step function of tau (only m = max(ceil(tau k), 1) matters), so k values
    describe it exactly; tau = 0 counts as m = 1, which is Pass@k.
    """

    k: int
    values: tuple[float, ...]

    @property
    def pass_at_k(self) -> float:
        return self.values[0]

    def at(self, tau: float) -> float:
        m = max(int(np.ceil(round(tau * self.k, 9))), 1)
        return self.values[m - 1]


def g_pass_curve(n: int, correct_counts: Sequence[int], k: int) -> Curve:
    """The dataset-mean G-Pass@k curve over tau for problems with these correct counts."""
    c = np.asarray(correct_counts, dtype=np.int64)
    taus = np.arange(1, k + 1) / k
    values = g_pass_at_k(n, c[None, :], k, taus[:, None]).mean(axis=1)
    return Curve(k, tuple(float(v) for v in values))


@dataclass(frozen=True)
class AnswerClass:
    """Draws whose extracted answers agree (after whitespace is removed), with their grades."""

    answer: str | None
    count: int
    correct: int
    draws: tuple[int, ...]

    @property
    def verdict(self) -> str:
        return "correct" if self.correct == self.count else "wrong" if self.correct == 0 else "mixed"


def answer_classes(answers: Sequence[str | None], correct: Sequence[bool]) -> list[AnswerClass]:
    """Group draws by extracted answer, largest class first (ties: first seen); None = no answer."""
    groups: dict[str | None, list[int]] = {}
    shown: dict[str | None, str | None] = {}
    for index, answer in enumerate(answers):
        key = None if answer is None else "".join(answer.split()) or None
        groups.setdefault(key, []).append(index)
        shown.setdefault(key, answer.strip() if answer is not None and key is not None else None)
    classes = [
        AnswerClass(shown[key], len(members), sum(bool(correct[i]) for i in members), tuple(members))
        for key, members in groups.items()
    ]
    return sorted(classes, key=lambda c: -c.count)  # stable: first seen wins ties


@dataclass(frozen=True)
class ProblemView:
    id: str
    question: str
    gold: str
    subset: str | None
    level: str | None
    n: int
    correct: int
    greedy_correct: bool | None
    classes: tuple[AnswerClass, ...]
    texts: tuple[str, ...]  # by sample index


@dataclass(frozen=True)
class StabilityView:
    """One stability run: its score sheet (with intervals), curves, subsets and problems."""

    name: str
    directory: Path
    model: str
    dataset: str
    sheet: ScoreSheet
    curves: tuple[Curve, ...]
    subsets: dict[str, dict[str, dict[str, float]]]  # field -> label -> figures
    subset_sizes: dict[str, dict[str, int]]
    problems: tuple[ProblemView, ...]
    audit: AuditSummary | None = None  # the latest ``surestep audit`` of the run, if any
    cost: CostSummary | None = None  # tokens (and, with prices, cost) of the scored draws
    bon: tuple[BonView, ...] = ()  # every ``surestep bon`` result of the run, by label
    scored_here: str | None = None
    """Why the figures were scored here rather than read from results.json (None: read from it)."""
    note: str | None = None
    """The one line that says so, naming the run (None: the figures are results.json's)."""

    @property
    def greedy(self) -> float | None:
        value = self.sheet.metrics.get(GREEDY_KEY)
        return None if value is None else float(value)

    @property
    def headline_k(self) -> int:
        return self.sheet.protocol.headline_k


BON_METHODS = ("best_of_n", "weighted_vote", "majority", "pass", "random")
"""The methods of a best-of-N result, in the order the report draws them."""


@dataclass(frozen=True)
class BonView:
    """One ``surestep bon`` result (``bon-<label>.json``): each method's accuracy at each N."""

    label: str
    scorer: str
    model: str | None
    aggregate: str
    num_problems: int
    n: int
    sizes: tuple[int, ...]
    methods: dict[str, dict[int, float]]  # method -> N -> accuracy (fraction)
    ci: dict[str, dict[int, tuple[float, float]]]
    confidence: float
    vote_exact: dict[int, bool]
    vote_mc_error: dict[int, float]
    samples: int


def bon_view(result: dict[str, Any]) -> BonView:
    """A best-of-N result as ``runs.bon.read_bon_results`` reads it, with N as integers."""

    def by_n(values: dict[str, Any]) -> dict[int, Any]:
        return {int(size): value for size, value in values.items()}

    vote = result.get("weighted_vote", {})
    return BonView(
        label=str(result["name"]),
        scorer=str(result["scorer"]),
        model=None if result.get("model") is None else str(result["model"]),
        aggregate=str(result["aggregate"]),
        num_problems=int(result["num_problems"]),
        n=int(result["n"]),
        sizes=tuple(int(size) for size in result["sizes"]),
        methods={
            m: {k: float(v) for k, v in by_n(result["methods"][m]).items()}
            for m in BON_METHODS
            if m in result["methods"]
        },
        ci={
            m: {k: (float(v[0]), float(v[1])) for k, v in by_n(values).items()}
            for m, values in result.get("ci", {}).items()
        },
        confidence=float(result.get("confidence", 0.95)),
        vote_exact={k: bool(v) for k, v in by_n(vote.get("exact", {})).items()},
        vote_mc_error={k: float(v) for k, v in by_n(vote.get("mc_error", {})).items()},
        samples=int(vote.get("samples", 0)),
    )


def _model_name(manifest: dict[str, Any]) -> str:
    model = manifest.get("model")
    if isinstance(model, dict):
        return str(model.get("model") or model.get("backend") or "model")
    return str(model or "model")


def load_stability_run(
    directory: Path,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    with_texts: bool = True,
) -> StabilityView:
    """Read a ``surestep run`` directory: every draw must be graded (``surestep grade`` first).

    The figures, their k and τ values and their intervals are those of the run's ``results.json``
    (what ``surestep score`` wrote) when it describes the store (``report.stored``); the curves and
    the breakdowns by subset are drawn at its k values. Intervals it lacks are bootstrapped here
    with ``resamples`` and ``confidence``. Without a usable ``results.json`` the run is scored
    here as it always was (k 4, 8, 16 and the manifest's, the headline at 16; ``resamples``,
    ``confidence`` and ``seed``), and ``StabilityView.note`` says so.

    ``with_texts=False`` leaves the draws' texts out (empty strings), for callers that need figures only.
    """
    store, manifest = open_run(directory)
    with store:
        stored = stored_score(store, manifest)
        n = int(manifest["n"]) if stored.results is None else stored.results.score.n
        problems = group_draws(scored_draws(store, manifest, n), path=directory, n=n)
        texts: dict[str, dict[int, str]] = {}
        if with_texts:
            for draw in store.draws(manifest["configs"][SAMPLE], below=n):
                texts.setdefault(draw.problem_id, {})[draw.draw_index] = draw.text
        problem_rows = {p.id: p for p, _ in store.problems()}
        audit = audit_summary(store, manifest, confidence=confidence)
    if stored.results is not None:
        sheet = sheet_from_results(stored.results)
        if not sheet.ci and resamples > 0:  # scored without --ci: bootstrap at its k and τ here
            options = StabilityScoreConfig(
                protocol=sheet.protocol, ci=True, n_resamples=max(resamples, 10), confidence=confidence
            )
            bootstrapped = score_problems(problems, options, path=directory, explicit_ks=True)
            sheet = replace(sheet, ci=bootstrapped.ci, confidence=confidence)
    else:
        wanted = {*manifest.get("protocol", {}).get("ks", ()), 4, 8, 16}
        ks = tuple(k for k in sorted(wanted) if k <= n) or (n,)
        protocol = StabilityProtocol(
            ks=ks,
            taus=(0.0, 0.25, 0.5, 0.75, 1.0),
            headline_k=HEADLINE_K if n >= HEADLINE_K else max(ks),
            seed=seed,
        )
        options = StabilityScoreConfig(
            protocol=protocol, ci=resamples > 0, n_resamples=max(resamples, 10), confidence=confidence
        )
        sheet = score_problems(problems, options, path=directory, explicit_ks=True)
    protocol = sheet.protocol
    counts = [p.num_correct for p in problems]
    curves = tuple(g_pass_curve(n, counts, k) for k in protocol.ks)
    views = tuple(
        _problem_view(p, problem_rows[p.problem_id], texts.get(p.problem_id, {}), n) for p in problems
    )
    subsets, sizes = _subset_figures(problems, views, protocol)
    headline = [k for k in headline_columns(protocol.headline_k) if k in sheet.metrics]
    return StabilityView(
        name=directory.name,
        directory=directory,
        model=_model_name(manifest),
        dataset=str(manifest.get("dataset", "")),
        sheet=replace(sheet, headline=headline),
        curves=curves,
        subsets=subsets,
        subset_sizes=sizes,
        problems=views,
        audit=audit,
        bon=tuple(bon_view(result) for result in read_bon_results(directory)),
        scored_here=stored.reason,
        note=stored.note,
    )


def _problem_view(problem: ProblemDraws, stored: Any, texts: dict[int, str], n: int) -> ProblemView:
    answers = [d.answer for d in problem.samples]
    correct = [d.correct for d in problem.samples]
    return ProblemView(
        id=problem.problem_id,
        question=stored.question,
        gold=stored.answer,
        subset=stored.subset,
        level=stored.level,
        n=n,
        correct=problem.num_correct,
        greedy_correct=None if problem.greedy is None else problem.greedy.correct,
        classes=tuple(answer_classes(answers, correct)),
        texts=tuple(texts.get(d.sample_index, "") for d in problem.samples),
    )


LIVEMATHBENCH_CONFIG = re.compile(r"v\d+_(?P<split>\w+)_(?P<language>en|zh|cn)")


def grouping_labels(views: Sequence[ProblemView]) -> dict[str, list[str | None]]:
    """Each grouping field's label per problem: subset, split and language, level.

    Split and language are read from LiveMathBench config names (``v202412_CNMO_zh``) when every
    subset is one; a field with fewer than two labels, or that only renames the subsets, is left out.
    """
    subsets = [v.subset for v in views]
    fields: dict[str, list[str | None]] = {"subset": subsets}
    matches = [LIVEMATHBENCH_CONFIG.fullmatch(s or "") for s in subsets]
    if views and all(matches):
        for part in ("split", "language"):
            labels: list[str | None] = [m.group(part) if m else None for m in matches]
            if len(set(labels)) < len(set(subsets)):  # the same partition as subset adds nothing
                fields[part] = labels
    fields["level"] = [v.level for v in views]
    return {f: labels for f, labels in fields.items() if any(labels) and len(set(labels)) >= 2}


def _subset_figures(
    problems: Sequence[ProblemDraws], views: Sequence[ProblemView], protocol: StabilityProtocol
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, int]]]:
    """Headline figures per label of each grouping field (see ``grouping_labels``)."""
    k = protocol.headline_k
    n = views[0].n if views else 1
    c = np.array([p.num_correct for p in problems], dtype=np.int64)
    greedy = [p.greedy.correct if p.greedy is not None else None for p in problems]
    figures: dict[str, dict[str, dict[str, float]]] = {}
    sizes: dict[str, dict[str, int]] = {}
    for field, labels in grouping_labels(views).items():
        figures[field], sizes[field] = {}, {}
        for label in sorted({str(x) for x in labels}):
            mask = np.array([str(x) == label for x in labels])
            row = {
                pass_key(k): float(pass_at_k(n, c[mask], k).mean()),
                g_pass_key(k, 0.5): float(g_pass_at_k(n, c[mask], k, 0.5).mean()),
                g_pass_key(k, 1.0): float(g_pass_at_k(n, c[mask], k, 1.0).mean()),
                mg_pass_key(k): float(mg_pass_at_k(n, c[mask], k).mean()),
            }
            flags = [g for g, m in zip(greedy, mask) if m and g is not None]
            if flags:
                row[GREEDY_KEY] = float(np.mean(flags))
            figures[field][label] = row
            sizes[field][label] = int(mask.sum())
    return figures, sizes


# --- PRM runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceView:
    id: str
    category: str
    question: str
    steps: tuple[str, ...]
    scores: tuple[float, ...]
    error_steps: tuple[int, ...]  # 1-based
    valid: bool
    error: str | None


@dataclass(frozen=True)
class PRMView:
    """One PRM run: the PRMBench score (with baselines) and every instance's step scores."""

    name: str
    directory: Path
    scorer: str
    model: str
    score: PRMBenchScore
    instances: tuple[InstanceView, ...]
    cost: CostSummary | None = None
    """The scorer's tokens (the critic reports them; None: the run has no prediction store) and,
    with prices, their cost; "per correct" is per validly scored instance (``prm_run_cost``)."""

    def radar(self) -> dict[str, float]:
        """PRMScore per category, in the paper's order (NaN where the category is absent)."""
        rows = self.score.summary.rows
        return {c.key: float(rows[c.key]["prmscore"]) if c.key in rows else float("nan") for c in CATEGORIES}

    def positive_bias(self) -> dict[str, tuple[float, float]]:
        """(accuracy on correct steps, accuracy on erroneous steps) per category."""
        rows = self.score.summary.rows
        return {
            c.key: (float(rows[c.key]["correct_step_accuracy"]), float(rows[c.key]["error_step_accuracy"]))
            for c in CATEGORIES
            if c.key in rows
        }

    def error_positions(self) -> list[tuple[str, int, float]]:
        rows = self.score.summary.error_positions
        return [(str(r["position"]), int(r["steps"]), float(r["accuracy"])) for r in rows]


@dataclass(frozen=True)
class PRMRun:
    """What a ``surestep prm run`` directory holds: its manifest, data and predictions."""

    directory: Path
    manifest: dict[str, Any]
    bench: PRMBench
    predictions: PredictionSet

    @property
    def default_threshold(self) -> float:
        """The validity threshold the run's protocol implies (``prm.protocol.run_thresholds``)."""
        return run_thresholds(self.manifest)[0]

    @property
    def default_redundancy_threshold(self) -> float:
        """The redundancy threshold the run's protocol implies (``prm.protocol.run_thresholds``)."""
        return run_thresholds(self.manifest)[1]


def read_prm_run(directory: Path) -> PRMRun:
    manifest = read_prm_manifest(directory)
    if manifest is None:
        raise SurestepError(f"{directory}: no {PRM_MANIFEST} (not a surestep prm run directory)")
    predictions_path = directory / PREDICTIONS
    if not predictions_path.exists():
        raise SurestepError(f"{directory}: no {PREDICTIONS} yet (finish the run: surestep prm run ...)")
    bench = load_run_data(manifest)  # the records it scored: all, the first N or a stratified sample
    return PRMRun(directory, manifest, bench, load_predictions(predictions_path, bench))


def load_prm_run(directory: Path, *, threshold: float | None = None, resamples: int = 1000) -> PRMView:
    """Read a ``surestep prm run`` directory (its manifest names the data and the scorer)."""
    run = read_prm_run(directory)
    manifest, bench, predictions = run.manifest, run.bench, run.predictions
    threshold = run.default_threshold if threshold is None else threshold
    options = PRMBenchScoreConfig(
        threshold=threshold,
        redundancy_threshold=run.default_redundancy_threshold,
        resamples=resamples,
        allow_missing=True,
    )
    summary = protocol_summary(
        manifest, threshold=threshold, redundancy_threshold=options.redundancy_threshold
    )
    score = score_predictions(bench, predictions, options, name=directory.name, protocol=summary)
    instances = []
    for instance in bench.instances:
        prediction = predictions.by_id.get(instance.id)
        if prediction is None:
            continue
        instances.append(
            InstanceView(
                id=instance.id,
                category=instance.category,
                question=instance.question,
                steps=instance.steps,
                scores=prediction.step_scores,
                error_steps=tuple(instance.error_steps),
                valid=prediction.valid,
                error=prediction.error,
            )
        )
    return PRMView(
        directory.name,
        directory,
        str(manifest.get("scorer")),
        str(manifest.get("model")),
        score,
        tuple(instances),
    )


# --- either ---------------------------------------------------------------------------------


def run_kind(directory: Path) -> str:
    """'stability' or 'prm', from what the directory holds."""
    if (directory / DATABASE).exists():
        return "stability"
    manifest = directory / PRM_MANIFEST
    if manifest.exists():
        return "prm"
    raise SurestepError(f"{directory}: not a surestep run directory (no {DATABASE} or {PRM_MANIFEST})")


def load_runs(
    directories: Sequence[Path],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> tuple[list[StabilityView], list[PRMView]]:
    """Every run's view; ``log`` receives the note of each stability run scored here (one
    without a usable results.json)."""
    stability, prm = [], []
    names = Counter(d.name for d in directories)
    for directory in directories:
        if run_kind(directory) == "stability":
            view = load_stability_run(directory, resamples=resamples, confidence=confidence, seed=seed)
            if view.note is not None and log is not None:
                log(view.note)
            stability.append(view if names[directory.name] == 1 else replace(view, name=str(directory)))
        else:
            prm_view = load_prm_run(directory, resamples=resamples)
            prm.append(prm_view if names[directory.name] == 1 else replace(prm_view, name=str(directory)))
    return stability, prm
