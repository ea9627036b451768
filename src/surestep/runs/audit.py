"""The grader audit: how often an LLM judge agrees with a run's grades, on a stratified sample.

The population is the run's graded sampled draws (the first n per problem, as scored) whose
verdict is correct, incorrect or no_answer; draws graded unscorable, timeout or judge_error
are counted and left out. The sample is split equally across the three verdicts (a stratum
smaller than its share is taken whole and the rest goes to the others), and within a
stratum the draws whose hash of (seed, problem, draw) is lowest are taken, so a sample
never depends on the order of the store and a larger --sample keeps the smaller one.

Every judge answer is committed as it arrives, keyed by (draw, judge model, sample seed),
so re-running the same audit asks the judge only about draws it has no answer for yet.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from surestep.errors import SurestepError
from surestep.metrics.bootstrap import Interval
from surestep.metrics.proportions import Stratum, stratified_proportion, wilson_interval
from surestep.runs.manifest import SAMPLE
from surestep.runs.store import AuditRow, RunStore, StoredGrade

if TYPE_CHECKING:
    from surestep.grading.judge import JudgeConfig, JudgeReply

CORRECT, INCORRECT, NO_ANSWER = "correct", "incorrect", "no_answer"
STRATA = (CORRECT, INCORRECT, NO_ANSWER)
CLOSING_CHARS = 300  # the closing lines shown beside a disagreement
JUDGE_TAIL_CHARS = 600  # the closing lines a no_answer draw is shown to the judge as


@dataclass(frozen=True)
class AuditSettings:
    """Which audit: the judge model, the sample's seed and its requested size."""

    judge_model: str
    seed: int
    sample: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SampledDraw:
    """One draw of the audit sample, with what the judge is shown."""

    problem_id: str
    draw_index: int
    stratum: str
    question: str
    gold: str
    extracted_answer: str | None
    text: str

    @property
    def judged_text(self) -> str:
        """The extracted answer; for a draw with none, the response's closing lines."""
        if self.stratum != NO_ANSWER and self.extracted_answer is not None:
            return self.extracted_answer
        return closing_lines(self.text, JUDGE_TAIL_CHARS)


@dataclass(frozen=True)
class AuditPlan:
    """The population's strata and the sample drawn from them."""

    directory: str
    config: str
    settings: AuditSettings
    sizes: dict[str, int]  # stratum -> draws of the run in it
    excluded: dict[str, int]  # other verdicts -> draws (not audited)
    graders: tuple[str, ...]
    sample: tuple[SampledDraw, ...]


@dataclass(frozen=True)
class StratumAudit:
    """Agreement between the rule verdict and the judge within one verdict stratum."""

    verdict: str
    population: int
    sampled: int
    judged: int
    agreed: int
    judge_errors: int
    pending: int
    interval: Interval | None

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.judged if self.judged else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "population": self.population,
            "sampled": self.sampled,
            "judged": self.judged,
            "agreed": self.agreed,
            "agreement": self.agreement,
            "interval": _interval(self.interval),
            "judge_errors": self.judge_errors,
            "pending": self.pending,
        }


@dataclass(frozen=True)
class Estimate:
    """A rate over the population with its interval; value None when the sample cannot tell."""

    value: float | None
    interval: Interval | None
    judged: int
    effective_n: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "interval": _interval(self.interval),
            "judged": self.judged,
            "effective_n": self.effective_n,
        }


@dataclass(frozen=True)
class Disagreement:
    """A sampled draw on which the judge and the rule verdict differ."""

    problem_id: str
    draw_index: int
    gold: str
    extracted_answer: str | None
    rule_verdict: str
    judge_verdict: str  # correct / incorrect
    closing_lines: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditSummary:
    """Everything ``surestep audit`` reports about one audit of a run."""

    run: str
    judge_model: str
    seed: int
    sample: int
    confidence: float
    graders: tuple[str, ...]
    population: int
    excluded: dict[str, int]
    strata: tuple[StratumAudit, ...]
    agreement: Estimate
    false_positive_rate: Estimate
    false_negative_rate: Estimate
    rule_accuracy: float
    judge_accuracy: Estimate
    judged: int
    judge_errors: int
    pending: int
    disagreements: tuple[Disagreement, ...]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object (documented in docs/audit.md)."""
        return {
            "run": self.run,
            "judge_model": self.judge_model,
            "seed": self.seed,
            "sample": self.sample,
            "sampled": sum(s.sampled for s in self.strata),
            "confidence": self.confidence,
            "graders": list(self.graders),
            "population": self.population,
            "excluded": dict(self.excluded),
            "strata": {s.verdict: s.to_dict() for s in self.strata},
            "agreement": self.agreement.to_dict(),
            "false_positive_rate": self.false_positive_rate.to_dict(),
            "false_negative_rate": self.false_negative_rate.to_dict(),
            "rule_accuracy": self.rule_accuracy,
            "judge_accuracy": self.judge_accuracy.to_dict(),
            "judged": self.judged,
            "judge_errors": self.judge_errors,
            "pending": self.pending,
            "disagreements": [d.to_dict() for d in self.disagreements],
        }


def _interval(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [interval.low, interval.high]


# --- the sample -------------------------------------------------------------------------------


def closing_lines(text: str, limit: int = CLOSING_CHARS) -> str:
    """The end of ``text``: at most ``limit`` characters, starting at a line when one starts early enough."""
    text = text.rstrip()
    if len(text) <= limit:
        return text
    tail = text[-limit:]
    newline = tail.find("\n")
    if 0 <= newline < limit // 2:
        return tail[newline + 1 :]
    return "…" + tail[1:]


def equal_allocation(sizes: Sequence[int], total: int) -> list[int]:
    """Split ``total`` draws equally over strata of these sizes, capped by each size.

    Draws are handed out one at a time to the stratum with the fewest so far among those with
    draws left (ties: the earlier stratum), so what a small stratum cannot take goes to the
    others, a larger total only adds draws, and never more than ``sum(sizes)`` are given.
    """
    if total < 0 or any(s < 0 for s in sizes):
        raise ValueError("sizes and total must not be negative")
    allocation = [0] * len(sizes)
    for _ in range(min(total, sum(sizes))):
        open_strata = [i for i, size in enumerate(sizes) if allocation[i] < size]
        allocation[min(open_strata, key=lambda i: (allocation[i], i))] += 1
    return allocation


def sample_rank(seed: int, problem_id: str, draw_index: int) -> bytes:
    """A draw's place in the seeded order; the sample takes the lowest of each stratum."""
    return hashlib.sha256(f"{seed}\x1f{problem_id}\x1f{draw_index}".encode()).digest()


def question_for_judge(question: str, options: Mapping[str, str] | None) -> str:
    """The question, with its answer options listed when it has them (gold may be a letter)."""
    if not options:
        return question
    listed = "\n".join(f"({letter}) {text}" for letter, text in options.items())
    return f"{question}\n\nOptions:\n{listed}"


@dataclass(frozen=True)
class _Population:
    """The run's graded sampled draws by verdict stratum, and what is left out."""

    members: dict[str, list[tuple[str, int]]]
    excluded: dict[str, int]
    graders: tuple[str, ...]
    grades: Mapping[tuple[str, int], StoredGrade]


def _population(store: RunStore, config: str, n: int) -> _Population:
    """Every sampled draw below n, by stratum; refuses a run with ungraded draws or none to audit."""
    directory = store.directory
    keys = sorted(
        (problem_id, index)
        for problem_id, indices in store.draw_indices(config).items()
        for index in indices
        if index < n
    )
    if not keys:
        raise SurestepError(f"{directory}: the run has no draws to audit")
    grades = store.grades(config)
    ungraded = [key for key in keys if key not in grades]
    if ungraded:
        raise SurestepError(
            f"{directory}: {len(ungraded)} of {len(keys)} draws are not graded; "
            f"run: surestep grade {directory}"
        )
    members: dict[str, list[tuple[str, int]]] = {s: [] for s in STRATA}
    excluded: Counter[str] = Counter()
    graders: set[str] = set()
    for key in keys:
        grade = grades[key]
        if grade.verdict in members:
            members[grade.verdict].append(key)
            graders.add(f"{grade.grader} {grade.grader_version}".strip())
        else:
            excluded[grade.verdict] += 1
    if not any(members.values()):
        raise SurestepError(
            f"{directory}: no draw is graded correct, incorrect or no_answer (found: {dict(excluded)})"
        )
    return _Population(members, dict(sorted(excluded.items())), tuple(sorted(graders)), grades)


def plan_audit(store: RunStore, manifest: Mapping[str, Any], settings: AuditSettings) -> AuditPlan:
    """The strata of the run's graded draws and the seeded stratified sample of them."""
    config = manifest["configs"][SAMPLE]
    population = _population(store, config, int(manifest["n"]))
    members = population.members
    allocation = equal_allocation([len(members[s]) for s in STRATA], settings.sample)
    chosen: dict[tuple[str, int], str] = {}
    for stratum, count in zip(STRATA, allocation):
        ranked = sorted(members[stratum], key=lambda k: (sample_rank(settings.seed, *k), k))
        chosen.update((key, stratum) for key in ranked[:count])
    problems = {p.id: p for p, _ in store.problems()}
    grades = population.grades
    texts = store.draw_texts(config, chosen)
    sample = []
    for (problem_id, index), stratum in sorted(chosen.items(), key=lambda i: (STRATA.index(i[1]), i[0])):
        problem = problems.get(problem_id)
        if problem is None:
            raise SurestepError(f"{store.directory}: draw {index} of unknown problem {problem_id!r}")
        sample.append(
            SampledDraw(
                problem_id,
                index,
                stratum,
                question_for_judge(problem.question, problem.options),
                problem.answer,
                grades[problem_id, index].extracted_answer,
                texts[problem_id, index],
            )
        )
    sizes = {s: len(members[s]) for s in STRATA}
    return AuditPlan(
        str(store.directory), config, settings, sizes, population.excluded, population.graders, tuple(sample)
    )


# --- asking the judge -------------------------------------------------------------------------


def _applies(row: AuditRow | None, draw: SampledDraw) -> bool:
    """Whether a stored answer settles this draw (same grade and text shown; not a failed request)."""
    if row is None or row.rule_verdict != draw.stratum or row.judged_text != draw.judged_text:
        return False
    return row.judge_verdict is not None or row.judge_reply is not None


@dataclass(frozen=True)
class AuditProgress:
    """How far the judge has got, in draws (answered before, to ask about, answered now, failed)
    and in requests (draws shown the judge the same way share one)."""

    stored: int
    to_ask: int
    requests: int
    asked: int = 0
    failed: int = 0


def run_audit(
    store: RunStore,
    manifest: Mapping[str, Any],
    judge: JudgeConfig,
    *,
    seed: int = 0,
    sample: int = 200,
    confidence: float = 0.95,
    on_progress: Callable[[AuditProgress], None] | None = None,
) -> AuditSummary:
    """Ask the judge about every sampled draw it has no answer for yet, committing each answer."""
    from surestep.grading.judge import JudgeClient

    if sample < 1:
        raise SurestepError(f"the sample size must be at least 1, got {sample}")
    settings = AuditSettings(judge.model, seed, sample)
    plan = plan_audit(store, manifest, settings)
    stored = store.audit_rows(plan.config, judge.model, seed)
    to_ask = [d for d in plan.sample if not _applies(stored.get((d.problem_id, d.draw_index)), d)]
    store.save_audit_settings(settings.to_dict())
    prompts: dict[tuple[str, str, str], list[SampledDraw]] = {}
    for draw in to_ask:  # draws the judge would be shown identically are asked about once
        prompts.setdefault((draw.question, draw.gold, draw.judged_text), []).append(draw)
    progress = AuditProgress(len(plan.sample) - len(to_ask), len(to_ask), len(prompts))
    if on_progress is not None:
        on_progress(progress)
    if prompts:
        with JudgeClient(judge) as client:
            pool = ThreadPoolExecutor(max_workers=max(1, judge.concurrency))
            try:
                futures = {pool.submit(client.ask, *prompt): draws for prompt, draws in prompts.items()}
                for future in as_completed(futures):
                    reply, draws = future.result(), futures[future]
                    store.add_audits([_row(plan, draw, reply) for draw in draws])
                    failed = progress.failed + len(draws) * (reply.verdict is None and reply.raw is None)
                    progress = replace(progress, asked=progress.asked + len(draws), failed=failed)
                    if on_progress is not None:
                        on_progress(progress)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    return summarize_audit(plan, store.audit_rows(plan.config, judge.model, seed), confidence)


def _row(plan: AuditPlan, draw: SampledDraw, reply: JudgeReply) -> AuditRow:
    return AuditRow(
        draw.problem_id,
        plan.config,
        draw.draw_index,
        plan.settings.judge_model,
        plan.settings.seed,
        draw.stratum,
        draw.judged_text,
        reply.verdict,
        reply.raw,
        reply.error,
    )


def _wilson_or_none(successes: int, trials: int, confidence: float) -> Interval | None:
    return wilson_interval(successes, trials, confidence) if trials else None


# --- the summary ------------------------------------------------------------------------------


def audit_summary(
    store: RunStore,
    manifest: Mapping[str, Any] | None = None,
    settings: AuditSettings | None = None,
    *,
    confidence: float = 0.95,
) -> AuditSummary | None:
    """The summary of an audit of this run (by default its latest); None when it was never audited."""
    manifest = store.manifest() if manifest is None else manifest
    if manifest is None:
        return None
    if settings is None:
        saved = store.audit_settings()
        if saved is None:
            return None
        settings = AuditSettings(str(saved["judge_model"]), int(saved["seed"]), int(saved["sample"]))
    plan = plan_audit(store, manifest, settings)
    rows = store.audit_rows(plan.config, settings.judge_model, settings.seed)
    return summarize_audit(plan, rows, confidence)


def summarize_audit(
    plan: AuditPlan, rows: Mapping[tuple[str, int], AuditRow], confidence: float = 0.95
) -> AuditSummary:
    """Agreement per stratum, the weighted rates and the disagreements, from the judge's answers."""
    counts = {s: Counter[str]() for s in STRATA}
    disagreements = []
    for draw in plan.sample:
        row = rows.get((draw.problem_id, draw.draw_index))
        tally = counts[draw.stratum]
        tally["sampled"] += 1
        if row is None or not _applies(row, draw):
            tally["pending"] += 1
        elif row.judge_verdict is None:
            tally["errors"] += 1
        else:
            tally["judged"] += 1
            judge_says_correct = row.judge_verdict
            if judge_says_correct == (draw.stratum == CORRECT):
                tally["agreed"] += 1
            else:
                disagreements.append(
                    Disagreement(
                        draw.problem_id,
                        draw.draw_index,
                        draw.gold,
                        draw.extracted_answer,
                        draw.stratum,
                        CORRECT if judge_says_correct else INCORRECT,
                        closing_lines(draw.text),
                    )
                )
    strata = tuple(
        StratumAudit(
            s,
            plan.sizes[s],
            counts[s]["sampled"],
            counts[s]["judged"],
            counts[s]["agreed"],
            counts[s]["errors"],
            counts[s]["pending"],
            _wilson_or_none(counts[s]["agreed"], counts[s]["judged"], confidence),
        )
        for s in STRATA
    )
    by_verdict = {s.verdict: s for s in strata}

    def estimate(verdicts: Sequence[str], successes: Callable[[StratumAudit], int]) -> Estimate:
        chosen = [by_verdict[v] for v in verdicts]
        parts = [Stratum(s.population, successes(s), s.judged) for s in chosen]
        found = stratified_proportion(parts, confidence)
        judged = sum(s.judged for s in chosen)
        if found is None:
            return Estimate(None, None, judged, None)
        return Estimate(found.value, found.interval, judged, found.effective_n)

    def judge_yes(s: StratumAudit) -> int:
        return s.agreed if s.verdict == CORRECT else s.judged - s.agreed

    population = sum(plan.sizes.values())
    return AuditSummary(
        run=plan.directory,
        judge_model=plan.settings.judge_model,
        seed=plan.settings.seed,
        sample=plan.settings.sample,
        confidence=confidence,
        graders=plan.graders,
        population=population,
        excluded=plan.excluded,
        strata=strata,
        agreement=estimate(STRATA, lambda s: s.agreed),
        false_positive_rate=estimate([CORRECT], lambda s: s.judged - s.agreed),
        false_negative_rate=estimate([INCORRECT, NO_ANSWER], lambda s: s.judged - s.agreed),
        rule_accuracy=plan.sizes[CORRECT] / population,
        judge_accuracy=estimate(STRATA, judge_yes),
        judged=sum(s.judged for s in strata),
        judge_errors=sum(s.judge_errors for s in strata),
        pending=sum(s.pending for s in strata),
        disagreements=tuple(disagreements),
    )


def audit_run_directory(
    run_dir: Path,
    judge: JudgeConfig,
    *,
    seed: int = 0,
    sample: int = 200,
    confidence: float = 0.95,
    on_progress: Callable[[AuditProgress], None] | None = None,
) -> AuditSummary:
    """``surestep audit``: ``run_audit`` on the run stored in ``run_dir``."""
    from surestep.runs.runner import open_run

    store, manifest = open_run(run_dir)
    with store:
        return run_audit(
            store, manifest, judge, seed=seed, sample=sample, confidence=confidence, on_progress=on_progress
        )
