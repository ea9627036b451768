"""The figures ``surestep score`` wrote for a stability run, for the report and ``compare`` to show.

``surestep score RUN`` (and ``surestep run``) write ``RUN/results.json``: every figure, the k and τ
values they were computed at, and their intervals. The report and ``compare`` show those figures
rather than scoring the run again with a choice of their own, so what they show is what ``score``
wrote. They score the run themselves, and say so in a one-line note, where that file cannot
describe the draws in ``run.sqlite``:

- there is no ``results.json``;
- it cannot be read (malformed, or an older file lacking a key this reader needs);
- it is stale: draws were generated, graded or regraded after it was written.

A ``results.json`` written by a newer surestep (a larger ``schema_version``) is refused with an
error naming the file and the field, as every reader of it does.

Staleness is detected by recounting, from ``run.sqlite``, what ``results.json`` records of the
draws it scored, and comparing: the identity hash of the manifest, the draws stored (sampled and
greedy), and, among the scored draws (the first ``n`` sampled per problem plus the greedy ones),
how many are graded, by which grader and version, and how many are correct. Any difference
means the file no longer describes the store. A regrade that changes no count (the same grader
and version, as many verdicts turned right as turned wrong) goes unnoticed; ``surestep score``
rewrites the file.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from surestep.errors import InputError
from surestep.metrics import Interval, StabilityProtocol
from surestep.runs.manifest import GREEDY, SAMPLE
from surestep.runs.results import (
    RESULTS_SCHEMA_VERSION,
    RunIdentity,
    RunResults,
    read_results,
    results_path,
)
from surestep.runs.scoring import ScoreSheet
from surestep.runs.store import RunStore


@dataclass(frozen=True)
class StoredScore:
    """A run's ``results.json`` when it describes the store (``results``), else why not (``note``)."""

    results: RunResults | None
    reason: str | None = None  # why results.json is not used: "no results.json", "results.json is stale: ..."
    directory: Path | None = None

    @property
    def note(self) -> str | None:
        """The one line saying the run was scored here, and why (None: results.json is used)."""
        if self.reason is None:
            return None
        return f"{self.directory}: {self.reason}; figures scored here"


def stored_score(store: RunStore, manifest: Mapping[str, Any]) -> StoredScore:
    """Read the run's ``results.json`` and check it against the store (see the module's docstring).

    Raises ``InputError`` (naming the file and ``schema_version``) for a file of a newer schema.
    """
    path = results_path(store.directory)
    if not path.exists():
        return StoredScore(None, f"no {path.name}", store.directory)
    try:
        results = read_results(path)
    except InputError as exc:
        version = _schema_version(path)
        if version is not None and version > RESULTS_SCHEMA_VERSION:
            raise InputError(
                f"schema {version} is newer than this surestep reads (up to {RESULTS_SCHEMA_VERSION}): "
                "upgrade surestep, or run `surestep score` on the run to rewrite the file",
                path=path,
                field="schema_version",
            ) from None
        field = f"field '{exc.field}': " if exc.field else ""
        return StoredScore(None, f"{path.name} cannot be read ({field}{exc.detail})", store.directory)
    reason = staleness(store, manifest, results)
    if reason is not None:
        return StoredScore(None, f"{path.name} is stale: {reason}", store.directory)
    return StoredScore(results)


def _schema_version(path: Path) -> int | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("schema_version") if isinstance(data, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def staleness(store: RunStore, manifest: Mapping[str, Any], results: RunResults) -> str | None:
    """Why ``results`` no longer describes the draws in ``store`` (None: it does)."""
    if RunIdentity.from_manifest(manifest).identity_hash != results.identity.identity_hash:
        return "the manifest's model, sampling or dataset differ from those it records"
    configs = manifest["configs"]
    stored = {
        kind: sum(len(indices) for indices in store.draw_indices(configs[kind]).values())
        for kind in (SAMPLE, GREEDY)
    }
    recorded = {SAMPLE: results.draws.sampled, GREEDY: results.draws.greedy}
    for kind, name in ((SAMPLE, "sampled"), (GREEDY, "greedy")):
        if stored[kind] != recorded[kind]:
            return f"{stored[kind]} {name} draws stored, {recorded[kind]} when it was written"
    graders: Counter[tuple[str | None, str | None]] = Counter()
    correct = 0
    kinds = [(SAMPLE, results.score.n)] + ([(GREEDY, 1)] if manifest.get("greedy") else [])
    for kind, below in kinds:
        for (_, index), grade in store.grades(configs[kind]).items():
            if index < below:
                graders[(grade.grader, grade.grader_version)] += 1
                correct += grade.correct
    then = Counter({(g.name, g.version): g.draws for g in results.graders})
    if graders != then:
        return "draws were graded or regraded after it was written"
    if correct != results.draws.correct:
        return f"{correct} scored draws graded correct now, {results.draws.correct} when it was written"
    return None


def sheet_from_results(results: RunResults) -> ScoreSheet:
    """The score sheet ``surestep score`` printed when it wrote ``results`` (null figures as NaN)."""
    score, used = results.score, results.scored_with
    protocol = StabilityProtocol(ks=used.ks, taus=used.taus, headline_k=used.headline_k, seed=used.seed)

    def number(value: float | None) -> float:
        return math.nan if value is None else value

    return ScoreSheet(
        num_problems=score.num_problems,
        n=score.n,
        protocol=protocol,
        metrics={key: number(value) for key, value in score.metrics.items()},
        headline=list(score.headline),
        subsets={name: {k: number(v) for k, v in figures.items()} for name, figures in score.subsets.items()},
        subset_sizes=dict(score.subset_sizes),
        by=score.by,
        ci={key: Interval(number(low), number(high)) for key, (low, high) in score.ci.items()},
        confidence=score.confidence,
    )
