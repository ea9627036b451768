"""``surestep prm run``: score PRMBench with a PRM, chunk by chunk, into a resumable run directory.

The directory holds ``manifest.json`` (scorer, model, data, protocol: what must not change on
resume; and every default the protocol implies, with its source),
``predictions.sqlite`` (one row per finished instance, committed chunk by chunk, WAL) and, at
the end, ``predictions.jsonl`` in the format ``surestep prm score`` reads. A finished instance
is never scored again.

The manifest carries ``schema_version`` (``PRM_MANIFEST_SCHEMA_VERSION``; a newer one is refused,
an unversioned one reads as 0 and is upgraded on resume) and the command that made the run
(``invocation``, for ``surestep resume``). ``predictions.sqlite`` is versioned by SQLite's
``user_version`` (``PREDICTIONS_SCHEMA_VERSION``). ``results.json`` (``runs/prm_results.py``) is
written when a run ends: its PRMBench table and, for a served scorer, its tokens and cost.

Which records are scored is part of the manifest: all of them, the first N (``first``), or a
stratified sample of N (``limit``, with ``selection``: the seed and the chosen instance ids).
Resuming with the same options scores the recorded ids, so a run finishes the instances it
started; the report reads the same ids back (``prm.data.select_data``, ``load_run_data``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from surestep import __version__
from surestep.errors import InputError, SurestepError
from surestep.prm.data import SAMPLE_SEED, PRMBench, PRMInstance, select_data
from surestep.prm.scorers.base import PRMScorer, SolutionToScore, StepScores
from surestep.prm.scorers.registry import PRMScorerConfig, build_scorer
from surestep.runs.grading_job import write_jsonl_atomic
from surestep.runs.prm_manifest import PRM_MANIFEST_SCHEMA_VERSION, PRMRunManifest
from surestep.runs.store import changed_fields_error, connect_wal, write_json_atomic

if TYPE_CHECKING:
    from surestep.metrics.cost import CostSummary, Prices
    from surestep.prm.scoring import PRMBenchScore
    from surestep.runs.distributed import Placement
    from surestep.runs.prm_results import PRMRunResults

MANIFEST = "manifest.json"
DATABASE = "predictions.sqlite"
PREDICTIONS_SCHEMA_VERSION = 2  # 1: the predictions table; 2: its prompt/completion token columns
PREDICTIONS = "predictions.jsonl"
IDENTITY_FIELDS = (
    "kind",
    "scorer",
    "model",
    "data",
    "protocol",
    "tokenizer",
    "max_length",
    "reward_differences",  # transformers families
    "few_shot",
    "max_tokens",  # critic
)
SELECTION_FIELDS = ("limit", "first", "records", "selection")
"""What a resumed run may change (a grown sample, say): the manifest then records the latest."""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    row TEXT NOT NULL,
    seconds REAL NOT NULL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER
);
"""
TOKEN_COLUMNS = ("prompt_tokens", "completion_tokens")  # a served scorer's tokens (critic); NULL otherwise


@dataclass(frozen=True)
class PRMRunRequest:
    scorer: str
    model: str
    data: str
    out: Path
    options: PRMScorerConfig
    limit: int | None = None  # a stratified sample of this many records (``stratified_sample``)
    chunk: int = 64
    first: int | None = None  # the first this many records, in data order (not with ``limit``)
    sample_seed: int = SAMPLE_SEED  # the seed of ``limit``'s sample
    invocation: Mapping[str, Any] | None = None  # the command line `surestep resume` repeats


@dataclass(frozen=True)
class PRMRunProgress:
    done: int
    total: int
    steps: int
    invalid: int
    truncated_steps: int


class PredictionStore:
    """The SQLite table of finished instances in a PRM run directory."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._db = connect_wal(directory / DATABASE)
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > PREDICTIONS_SCHEMA_VERSION:
            self._db.close()
            raise InputError(
                f"written by a newer surestep (schema {version}; this one reads up to "
                f"{PREDICTIONS_SCHEMA_VERSION}). Upgrade surestep to use this run.",
                path=directory / DATABASE,
                field="user_version",
            )
        self._db.executescript(_SCHEMA)
        if version < PREDICTIONS_SCHEMA_VERSION:  # unversioned stores are schema 1 or 2: add what is missing
            present = {row[1] for row in self._db.execute("PRAGMA table_info(predictions)")}
            with self._db:  # a store made before the critic's tokens were recorded: their rows stay NULL
                for column in TOKEN_COLUMNS:
                    if column not in present:
                        self._db.execute(f"ALTER TABLE predictions ADD COLUMN {column} INTEGER")
                self._db.execute(f"PRAGMA user_version = {PREDICTIONS_SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def finished(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT id FROM predictions")}

    def add(self, results: Sequence[tuple[int, int, StepScores]], seconds: float) -> None:
        """Commit one chunk: (position in the data, number of steps, result) per instance."""
        per_item = seconds / max(len(results), 1)
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO predictions (id, position, steps, row, seconds, prompt_tokens,"
                " completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.id, pos, steps, json.dumps(r.to_json()), per_item, *_tokens(r))
                    for pos, steps, r in results
                ],
            )

    def tokens(self) -> Iterator[tuple[str, int | None, int | None, bool]]:
        """(id, prompt tokens, completion tokens, scored validly) of each finished instance, in data
        order; the counts are None where the scorer reported none."""
        for id_, prompt, completion, row in self._db.execute(
            "SELECT id, prompt_tokens, completion_tokens, row FROM predictions ORDER BY position"
        ):
            yield id_, prompt, completion, json.loads(row).get("valid", True) is not False

    def rows(self) -> Iterator[dict[str, Any]]:
        for (row,) in self._db.execute("SELECT row FROM predictions ORDER BY position"):
            yield json.loads(row)

    def totals(self) -> tuple[int, int, float]:
        count, steps, seconds = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(steps), 0), COALESCE(SUM(seconds), 0) FROM predictions"
        ).fetchone()
        return int(count), int(steps), float(seconds)


def _tokens(result: StepScores) -> tuple[int | None, int | None]:
    return result.prompt_tokens, result.completion_tokens


def prm_run_cost(directory: Path, prices: Prices | None) -> CostSummary:
    """The tokens of a PRM run's finished instances (the critic records them; a local PRM has
    none) and, with ``prices``, their cost; "per correct" is per validly scored instance."""
    from surestep.metrics.cost import DrawTokens, summarize_cost

    if not (directory / DATABASE).exists():
        raise SurestepError(f"{directory}: no {DATABASE} (not a surestep prm run directory)")
    store = PredictionStore(directory)
    try:
        rows = [
            DrawTokens(id_, None, prompt, completion, valid)
            for id_, prompt, completion, valid in store.tokens()
        ]
    finally:
        store.close()
    return summarize_cost(rows, prices)


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """A PRM run directory's manifest, or None where there is none yet; a manifest of a newer
    schema, or one that is not a JSON object, is an error naming the file (and field)."""
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SurestepError(f"{path}: unreadable manifest ({exc})") from None
    PRMRunManifest.from_json(manifest, path)  # types, and no newer schema
    return dict(manifest)


def prm_manifest(request: PRMRunRequest, selection: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest of a PRM run for ``request``; ``selection``: which records
    (``prm.data.select_data``)."""
    manifest = {
        "schema_version": PRM_MANIFEST_SCHEMA_VERSION,
        "kind": "prm",
        "scorer": request.scorer,
        "model": request.model,
        "data": request.data,
        **selection,
        **request.options.identity(request.scorer),
        "defaults": request.options.defaults(request.scorer),
        **request.options.placement(request.scorer),
        "surestep_version": __version__,
    }
    if request.invocation is not None:
        manifest["invocation"] = dict(request.invocation)
    return manifest


def _reconcile(directory: Path, new: dict[str, Any]) -> None:
    existing = read_manifest(directory)
    if existing is None:
        if (directory / DATABASE).exists():
            raise SurestepError(f"{directory}: predictions without a {MANIFEST}; use a new --out directory")
        directory.mkdir(parents=True, exist_ok=True)
        write_json_atomic(directory / MANIFEST, new)
        return
    error = changed_fields_error(
        existing,
        new,
        IDENTITY_FIELDS,
        f"{directory} was made with a different scorer setup; refusing to mix predictions.",
    )
    if error is not None:
        raise error
    updated = [key for key in SELECTION_FIELDS if existing.get(key) != new.get(key)]
    if new.get("invocation") is not None and existing.get("invocation") != new["invocation"]:
        updated.append("invocation")  # the latest command is the one `surestep resume` repeats
    if existing.get("schema_version", 0) != new["schema_version"]:
        updated.append("schema_version")  # an unversioned manifest holds schema 1's fields
    if updated:
        kept = {key: value for key, value in existing.items() if key not in SELECTION_FIELDS}
        changed = {k: new[k] for k in (*SELECTION_FIELDS, "invocation", "schema_version") if k in new}
        write_json_atomic(directory / MANIFEST, {**kept, **changed})


def run_prm(
    request: PRMRunRequest,
    *,
    progress: Callable[[PRMRunProgress], None] | None = None,
    scorer: PRMScorer | None = None,
) -> tuple[PRMBench, Path]:
    """Score every unfinished instance, committing each chunk; returns the data and predictions path."""
    bench, selection = select_data(
        request.data,
        limit=request.limit,
        first=request.first,
        seed=request.sample_seed,
        recorded=read_manifest(request.out),
    )
    _reconcile(request.out, prm_manifest(request, selection))
    store = PredictionStore(request.out)
    try:
        finished = store.finished()
        todo = [(pos, i) for pos, i in enumerate(bench.instances) if i.id not in finished]
        if todo and scorer is None:
            scorer = build_scorer(request.scorer, request.model, request.options)
        done, steps, _ = store.totals()
        invalid = truncated = 0
        total = len(bench.instances)
        if progress:
            progress(PRMRunProgress(done, total, steps, invalid, truncated))
        for start in range(0, len(todo), request.chunk):
            chunk: list[tuple[int, PRMInstance]] = todo[start : start + request.chunk]
            assert scorer is not None
            began = time.perf_counter()
            results = scorer.score([SolutionToScore(i.id, i.question, i.steps) for _, i in chunk])
            store.add(
                [(pos, len(i.steps), r) for (pos, i), r in zip(chunk, results)], time.perf_counter() - began
            )
            done += len(chunk)
            steps += sum(len(i.steps) for _, i in chunk)
            invalid += sum(not r.valid for r in results)
            truncated += sum(r.truncated_steps for r in results)
            if progress:
                progress(PRMRunProgress(done, total, steps, invalid, truncated))
        path = request.out / PREDICTIONS
        write_jsonl_atomic(path, (row for row in store.rows() if row["id"] in bench.by_id))
    finally:
        store.close()
    return bench, path


def score_run(
    directory: Path,
    bench: PRMBench,
    *,
    threshold: float | None = None,
    redundancy_threshold: float | None = None,
    name: str | None = None,
) -> PRMBenchScore:
    """The PRMBench table of a finished run, at its protocol's thresholds unless others are given.

    The result carries the protocol, every default it implied and whether the table may be set
    beside PRMBench's published one (a changed threshold, cut or data makes it not comparable).
    """
    from surestep.prm.predictions import load_predictions
    from surestep.prm.protocol import protocol_summary, run_thresholds
    from surestep.prm.scoring import PRMBenchScoreConfig, score_predictions

    manifest = read_manifest(directory)
    if manifest is None:
        raise SurestepError(f"{directory}: no {MANIFEST} (not a surestep prm run directory)")
    default_validity, default_redundancy = run_thresholds(manifest)
    options = PRMBenchScoreConfig(
        threshold=default_validity if threshold is None else threshold,
        redundancy_threshold=default_redundancy if redundancy_threshold is None else redundancy_threshold,
    )
    summary = protocol_summary(
        manifest, threshold=options.threshold, redundancy_threshold=options.redundancy_threshold
    )
    predictions = load_predictions(directory / PREDICTIONS, bench)
    return score_predictions(
        bench, predictions, options, name=name or str(manifest.get("scorer")), protocol=summary
    )


@dataclass(frozen=True)
class PRMRunOutcome:
    """A finished ``prm run``: its data, predictions file, PRMBench table, tokens and cost, and
    the results.json written from them."""

    bench: PRMBench
    predictions: Path
    score: PRMBenchScore
    cost: CostSummary
    results: PRMRunResults

    @property
    def reported_tokens(self) -> bool:
        """True when the scorer reported tokens for some instance (a served model: the critic)."""
        return self.cost.total.missing < self.cost.total.draws

    def to_dict(self) -> dict[str, Any]:
        """What ``surestep prm run --json`` prints: the table, with ``cost`` when tokens were reported."""
        body = self.score.to_json()
        if self.reported_tokens:
            body["cost"] = self.cost.to_dict()
        return body


def prm_run_job(
    request: PRMRunRequest,
    placement: Placement | None = None,
    *,
    threshold: float | None = None,
    redundancy_threshold: float | None = None,
    prices: Prices | None = None,
    progress: Callable[[PRMRunProgress], None] | None = None,
) -> PRMRunOutcome:
    """``surestep prm run``: score the run's unfinished instances (here, a shard, or on Ray replicas
    as ``placement`` says), then make its PRMBench table (at the protocol's thresholds unless
    given) and its tokens and cost, and write results.json."""
    from surestep.runs.distributed import Placement
    from surestep.runs.distributed_prm import run_placed_prm
    from surestep.runs.prm_results import PRMRunResults, write_prm_results

    bench, predictions = run_placed_prm(request, placement or Placement(), progress=progress)
    score = score_run(request.out, bench, threshold=threshold, redundancy_threshold=redundancy_threshold)
    cost = prm_run_cost(request.out, prices)
    scored = len(_finished(request.out) & set(bench.by_id))
    table = score.to_json()
    results = PRMRunResults(
        scorer=request.scorer,
        model=request.model,
        data=request.data,
        protocol=request.options.protocol,
        instances=len(bench.instances),
        scored=scored,
        valid=cost.total.correct,
        table=table,
        cost=cost.to_dict() if cost.total.missing < cost.total.draws else None,
    )
    write_prm_results(request.out, results)
    return PRMRunOutcome(bench, predictions, score, cost, results)


def _finished(directory: Path) -> set[str]:
    store = PredictionStore(directory)
    try:
        return store.finished()
    finally:
        store.close()
