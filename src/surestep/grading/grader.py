"""The grader: extraction, memoised rule-based equivalence in a worker pool, and the optional judge.

Many draws of one problem repeat an answer, so each distinct (gold, normalised answer)
pair is compared once per grading call; pairs the cheap layers cannot settle go to the
worker pool with a wall-clock budget each. Results do not depend on the worker count.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from surestep.grading.equivalence import (
    compact,
    compare,
    expects_several,
    grader_version,
    item_count,
    quick_compare,
)
from surestep.grading.extraction import extract_answer, option_letter
from surestep.grading.judge import JudgeClient, JudgeConfig
from surestep.grading.normalize import decimal_comma
from surestep.grading.pool import WorkerPool
from surestep.grading.records import GradeRecord, GradingMode, MatchStatus, Verdict

_REDUCED_FORM = re.compile(r"simplest form|lowest terms|common fraction|reduced fraction|最简", re.I)


@dataclass(frozen=True)
class GradeRequest:
    """One draw to grade: the model's full response and the problem's gold answer."""

    response: str
    gold: str
    question: str | None = None
    options: Mapping[str, str] | None = None


@dataclass(frozen=True)
class GradingConfig:
    mode: GradingMode = GradingMode.RULE
    workers: int | None = None
    budget_seconds: float = 5.0
    judge: JudgeConfig | None = None
    prose_fallback: bool = False  # opt-in: last number/formula of the closing sentence
    decimal_comma: bool = False  # opt-in: read a lone "1000,99" as 1000.99

    @property
    def rule_options(self) -> str:
        """The opt-in rules in force, as recorded in each draw's grader name ("" when none)."""
        chosen = (("prose", self.prose_fallback), ("decimal-comma", self.decimal_comma))
        return "".join(f"+{name}" for name, on in chosen if on)

    def __post_init__(self) -> None:
        if self.mode is not GradingMode.RULE and self.judge is None:
            raise ValueError(
                f"grading mode '{self.mode.value}' needs a judge (--judge-url and --judge-model)"
            )


@dataclass
class GradingStats:
    """Counts of one grading call, for the summary line."""

    draws: int = 0
    unique_pairs: int = 0
    pool_pairs: int = 0
    judge_calls: int = 0
    workers_replaced: int = 0
    seconds: float = 0.0
    verdicts: Counter[str] = field(default_factory=Counter)

    def add(self, other: GradingStats) -> None:
        """Fold another call's counts into these (seconds are left to the caller)."""
        self.draws += other.draws
        self.unique_pairs += other.unique_pairs
        self.pool_pairs += other.pool_pairs
        self.judge_calls += other.judge_calls
        self.workers_replaced += other.workers_replaced
        self.verdicts.update(other.verdicts)

    @property
    def draws_per_second(self) -> float:
        return self.draws / self.seconds if self.seconds > 0 else float("inf")


_RULE_VERDICT = {
    MatchStatus.MATCH: Verdict.CORRECT,
    MatchStatus.NO_MATCH: Verdict.INCORRECT,
    MatchStatus.UNPARSEABLE_ANSWER: Verdict.INCORRECT,
    MatchStatus.REJECTED_ANSWER: Verdict.INCORRECT,
    MatchStatus.UNPARSEABLE_GOLD: Verdict.UNSCORABLE,
    MatchStatus.REJECTED_GOLD: Verdict.UNSCORABLE,
    MatchStatus.TIMEOUT: Verdict.TIMEOUT,
}
_JUDGE_AFTER_RULES = {MatchStatus.NO_MATCH, MatchStatus.UNPARSEABLE_ANSWER, MatchStatus.UNPARSEABLE_GOLD}


@dataclass(frozen=True)
class _Pair:
    gold: str
    answer: str
    require_reduced: bool
    question: str | None


def _pair_for(request: GradeRequest, answer: str, *, decimal_commas: bool = False) -> _Pair | Verdict:
    """The (gold, answer) texts to compare, resolving option letters; a Verdict if already settled."""
    gold, compared = request.gold, answer
    options = request.options
    if options:
        gold_letter = option_letter(gold, options)
        answer_letter = option_letter(answer, options)
        if gold_letter and answer_letter:
            return Verdict.CORRECT if gold_letter == answer_letter else Verdict.INCORRECT
        if answer_letter:
            compared = options[answer_letter]
        elif gold_letter:
            gold = options[gold_letter]
    reduced = bool(request.question and _REDUCED_FORM.search(request.question))
    if decimal_commas:
        gold, compared = decimal_comma(gold), decimal_comma(compared)
    gold_text = compact(gold)
    answer_text = compact(compared)
    if gold_text.startswith("\\{") and not answer_text.startswith("\\{") and item_count(answer_text) > 1:
        answer_text = "\\{" + answer_text + "\\}"  # several boxes against a set gold form a set
    return _Pair(gold_text, answer_text, reduced, request.question)


class Grader:
    """Grades batches of draws; owns its worker pool and judge client (use as a context manager)."""

    name = "surestep"

    def __init__(self, config: GradingConfig | None = None) -> None:
        self.config = config or GradingConfig()
        self._pool: WorkerPool | None = None
        self._judge = JudgeClient(self.config.judge) if self.config.judge else None
        self.version = grader_version()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._judge is not None:
            self._judge.close()

    def _pool_for_run(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(
                compare_pair,
                workers=self.config.workers,
                budget_seconds=self.config.budget_seconds,
                preload=["surestep.grading.worker_preload"],
            )
        return self._pool

    def _rule_statuses(
        self, pairs: Sequence[_Pair], stats: GradingStats
    ) -> dict[_Pair, tuple[MatchStatus, float, str | None]]:
        settled: dict[_Pair, tuple[MatchStatus, float, str | None]] = {}
        hard: list[_Pair] = []
        for pair in pairs:
            start = time.perf_counter()
            status = quick_compare(pair.gold, pair.answer, require_reduced=pair.require_reduced)
            if status is None:
                hard.append(pair)
            else:
                settled[pair] = (status, time.perf_counter() - start, None)
        if hard:
            pool = self._pool_for_run()
            replaced_before = pool.replaced
            outcomes = pool.map([(p.gold, p.answer, p.require_reduced) for p in hard])
            stats.pool_pairs += len(hard)
            stats.workers_replaced += pool.replaced - replaced_before
            for pair, outcome in zip(hard, outcomes):
                if outcome.timed_out:
                    settled[pair] = (MatchStatus.TIMEOUT, outcome.seconds, "grading budget exceeded")
                elif outcome.crashed or outcome.value is None:
                    settled[pair] = (MatchStatus.TIMEOUT, outcome.seconds, "grading worker failed")
                else:
                    settled[pair] = (MatchStatus(outcome.value), outcome.seconds, None)
        return settled

    def grade(self, requests: Sequence[GradeRequest]) -> tuple[list[GradeRecord], GradingStats]:
        """Grade every request; records in input order, with counts for the summary."""
        started = time.perf_counter()
        stats = GradingStats(draws=len(requests))
        config = self.config
        extractions = [
            extract_answer(
                r.response,
                r.options,
                several=expects_several(r.gold),
                prose_fallback=config.prose_fallback,
            )
            for r in requests
        ]
        targets: list[_Pair | Verdict | None] = [
            None if e.answer is None else _pair_for(r, e.answer, decimal_commas=config.decimal_comma)
            for r, e in zip(requests, extractions)
        ]
        unique = list(dict.fromkeys(t for t in targets if isinstance(t, _Pair)))
        stats.unique_pairs = len(unique)
        mode = self.config.mode
        rules = self._rule_statuses(unique, stats) if mode is not GradingMode.JUDGE else {}
        to_judge = [p for p in unique if mode is GradingMode.JUDGE or rules[p][0] in _JUDGE_AFTER_RULES]
        judged = self._ask_judge(to_judge, stats) if mode is not GradingMode.RULE else {}
        records = []
        for extraction, target in zip(extractions, targets):
            verdict, seconds, detail, judge_model = self._decide(target, rules, judged)
            stats.verdicts[verdict.value] += 1
            records.append(
                GradeRecord(
                    extracted_answer=extraction.answer,
                    extraction_rule=extraction.rule.value,
                    verdict=verdict.value,
                    correct=verdict is Verdict.CORRECT,
                    grader=f"{self.name}-{mode.value}{config.rule_options}",
                    grader_version=self.version,
                    detail=detail,
                    grade_seconds=round(seconds, 6),
                    judge_model=judge_model,
                )
            )
        stats.seconds = time.perf_counter() - started
        return records, stats

    def _ask_judge(
        self, pairs: Sequence[_Pair], stats: GradingStats
    ) -> dict[_Pair, tuple[bool | None, str | None, float]]:
        if not pairs or self._judge is None:
            return {}
        start = time.perf_counter()
        replies = self._judge.ask_many([(p.question, p.gold, p.answer) for p in pairs])
        stats.judge_calls += sum(not r.cached for r in replies)
        each = (time.perf_counter() - start) / len(pairs)
        return {p: (r.verdict, r.error, each) for p, r in zip(pairs, replies)}

    def _decide(
        self,
        target: _Pair | Verdict | None,
        rules: Mapping[_Pair, tuple[MatchStatus, float, str | None]],
        judged: Mapping[_Pair, tuple[bool | None, str | None, float]],
    ) -> tuple[Verdict, float, str | None, str | None]:
        if target is None:
            return Verdict.NO_ANSWER, 0.0, None, None
        if isinstance(target, Verdict):
            return target, 0.0, "option letter", None
        status, seconds, detail = rules.get(target, (None, 0.0, None))
        if target in judged:
            verdict, error, judge_seconds = judged[target]
            model = self.config.judge.model if self.config.judge else None
            rule_note = f"rules: {status.value}; " if status is not None else ""
            if verdict is None:
                return (
                    Verdict.JUDGE_ERROR,
                    seconds + judge_seconds,
                    rule_note + (error or "judge error"),
                    model,
                )
            final = Verdict.CORRECT if verdict else Verdict.INCORRECT
            return final, seconds + judge_seconds, rule_note + "judge", model
        assert status is not None
        return _RULE_VERDICT[status], seconds, detail or status.value, None


def compare_pair(gold: str, answer: str, require_reduced: bool) -> str:
    """Pool entry point: the MatchStatus value of one pair (module level, so it pickles)."""
    return compare(gold, answer, require_reduced=require_reduced).value
