"""``RUN/results.json``: one machine-readable summary of a scored run, written atomically.

It holds the run's identity (model, sampling, dataset and their hash), the graders, the draw
counts, every figure of ``surestep score --json`` with its interval, the tokens spent (and, with
prices, their cost), the wall time of each phase and the latest grader audit. ``write_results``
writes it through a temporary file; ``read_results`` reads it back into the same types and
refuses a newer schema. The schema is documented key by key in docs/run-store.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from surestep.errors import InputError, SurestepError
from surestep.metrics.cost import (
    CostFigures,
    CostSummary,
    DrawTokens,
    Prices,
    Spread,
    resolve_prices,
    summarize_cost,
)
from surestep.runs.manifest import GREEDY, IDENTITY_FIELDS, SAMPLE, config_key
from surestep.runs.store import write_text_atomic

if TYPE_CHECKING:  # numpy comes with the score sheet, imported by whoever scores
    from surestep.runs.scoring import ScoreSheet
    from surestep.runs.store import RunStore

RESULTS = "results.json"
RESULTS_SCHEMA_VERSION = 1
"""1: the first schema (surestep 0.1)."""

_Where = tuple[Path, str]  # the file and the dotted key being read, for error messages


# --- reading helpers -----------------------------------------------------------------------------


def _value(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: _Where) -> Any:
    """``data[key]``, which must be present and of ``kind`` (an int is a float; a bool is neither)."""
    path, prefix = where
    name = f"{prefix}{key}"
    if key not in data:
        raise InputError("missing", path=path, field=name)
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and bool not in kinds:
        raise InputError(f"expected {_names(kinds)}, got {json.dumps(value)}", path=path, field=name)
    if not isinstance(value, kinds):
        raise InputError(f"expected {_names(kinds)}, got {json.dumps(value)[:40]}", path=path, field=name)
    return value


def _names(kinds: tuple[type, ...]) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        type(None): "null",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _object(data: Mapping[str, Any], key: str, where: _Where) -> tuple[dict[str, Any], _Where]:
    """The object under ``key`` and the location of its own keys."""
    return _value(data, key, dict, where), (where[0], f"{where[1]}{key}.")


def _optional_number(value: Any, where: _Where, key: str) -> float | None:
    if value is None:
        return None
    return float(_value({key: value}, key, float, where))


# --- the parts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunIdentity:
    """What the draws are: the manifest's model, sampling, prompt and dataset, and their hash.

    ``identity_hash`` hashes the manifest fields a resume must not change (the same fields the
    run's config keys hash), so two runs with equal hashes sampled the same thing. What a
    manifest does not record (one written by hand, say) is ``{}`` or None.
    """

    model_spec: str | None
    model: dict[str, Any]
    sampling: dict[str, Any]
    greedy_sampling: dict[str, Any]
    n: int
    greedy: bool
    seed: int | None
    draws_per_request: int | None
    prompt: dict[str, Any]
    system: str | None
    dataset: str | None
    dataset_hash: str | None
    problems: int | None
    configs: dict[str, str]
    identity_hash: str

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> RunIdentity:
        """The identity recorded in a run's manifest."""
        return cls(
            model_spec=manifest.get("model_spec"),
            model=dict(manifest.get("model") or {}),
            sampling=dict(manifest.get("sampling") or {}),
            greedy_sampling=dict(manifest.get("greedy_sampling") or {}),
            n=int(manifest["n"]),
            greedy=bool(manifest.get("greedy")),
            seed=manifest.get("seed"),
            draws_per_request=manifest.get("draws_per_request"),
            prompt=dict(manifest.get("prompt") or {}),
            system=manifest.get("system"),
            dataset=manifest.get("dataset"),
            dataset_hash=manifest.get("dataset_hash"),
            problems=manifest.get("problems"),
            configs=dict(manifest["configs"]),
            identity_hash=config_key({name: manifest.get(name) for name in IDENTITY_FIELDS}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: _Where) -> RunIdentity:
        return cls(
            model_spec=_value(data, "model_spec", (str, type(None)), where),
            model=_value(data, "model", dict, where),
            sampling=_value(data, "sampling", dict, where),
            greedy_sampling=_value(data, "greedy_sampling", dict, where),
            n=_value(data, "n", int, where),
            greedy=_value(data, "greedy", bool, where),
            seed=_value(data, "seed", (int, type(None)), where),
            draws_per_request=_value(data, "draws_per_request", (int, type(None)), where),
            prompt=_value(data, "prompt", dict, where),
            system=_value(data, "system", (str, type(None)), where),
            dataset=_value(data, "dataset", (str, type(None)), where),
            dataset_hash=_value(data, "dataset_hash", (str, type(None)), where),
            problems=_value(data, "problems", (int, type(None)), where),
            configs=_value(data, "configs", dict, where),
            identity_hash=_value(data, "identity_hash", str, where),
        )


@dataclass(frozen=True)
class GraderUse:
    """One grader (name and version, as each grade row records them) and how many scored draws it graded."""

    name: str | None
    version: str | None
    draws: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "draws": self.draws}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: _Where) -> GraderUse:
        return cls(
            _value(data, "name", (str, type(None)), where),
            _value(data, "version", (str, type(None)), where),
            _value(data, "draws", int, where),
        )


@dataclass(frozen=True)
class DrawCounts:
    """Draws in the store (sampled, greedy), those the figures use, and how many of those are correct."""

    sampled: int
    greedy: int
    scored: int
    correct: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "sampled": self.sampled,
            "greedy": self.greedy,
            "scored": self.scored,
            "correct": self.correct,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: _Where) -> DrawCounts:
        return cls(*(_value(data, key, int, where) for key in ("sampled", "greedy", "scored", "correct")))


@dataclass(frozen=True)
class ScoreFigures:
    """Every figure of ``surestep score --json`` (fractions in [0, 1]; None where undefined)."""

    num_problems: int
    n: int
    metrics: dict[str, float | None]
    subsets: dict[str, dict[str, float | None]]
    subset_sizes: dict[str, int]
    by: str | None
    ci: dict[str, tuple[float | None, float | None]]
    confidence: float
    headline: tuple[str, ...]

    @classmethod
    def from_sheet(cls, sheet: ScoreSheet) -> ScoreFigures:
        """The figures exactly as ``score --json`` prints them (through the same ``to_json``)."""
        return cls.from_dict(sheet.to_json(), (Path("<score sheet>"), ""))

    def to_dict(self) -> dict[str, Any]:
        """The ``score --json`` object, less the ``audit`` (results.json keeps that at the top)."""
        return {
            "num_problems": self.num_problems,
            "n": self.n,
            "metrics": dict(self.metrics),
            "subsets": {name: dict(figures) for name, figures in self.subsets.items()},
            "subset_sizes": dict(self.subset_sizes),
            "by": self.by,
            "ci": {key: [low, high] for key, (low, high) in self.ci.items()},
            "confidence": self.confidence,
            "headline": list(self.headline),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: _Where) -> ScoreFigures:
        metrics, at = _object(data, "metrics", where)
        subsets, subsets_at = _object(data, "subsets", where)
        sizes, sizes_at = _object(data, "subset_sizes", where)
        ci, ci_at = _object(data, "ci", where)
        intervals = {}
        for key in ci:
            bounds = _value(ci, key, list, ci_at)
            if len(bounds) != 2:
                raise InputError("expected [low, high]", path=where[0], field=f"{ci_at[1]}{key}")
            intervals[key] = (
                _optional_number(bounds[0], ci_at, key),
                _optional_number(bounds[1], ci_at, key),
            )
        return cls(
            num_problems=_value(data, "num_problems", int, where),
            n=_value(data, "n", int, where),
            metrics=_figures(metrics, at),
            subsets={name: _figures(*_object(subsets, name, subsets_at)) for name in subsets},
            subset_sizes={name: _value(sizes, name, int, sizes_at) for name in sizes},
            by=_value(data, "by", (str, type(None)), where),
            ci=intervals,
            confidence=_value(data, "confidence", float, where),
            headline=tuple(_value(data, "headline", list, where)),
        )


def _figures(data: Mapping[str, Any], where: _Where) -> dict[str, float | None]:
    return {key: _optional_number(data[key], where, key) for key in data}


@dataclass(frozen=True)
class ScoredWith:
    """The protocol the figures were computed with: k and tau values, bootstrap resamples and seed."""

    ks: tuple[int, ...]
    taus: tuple[float, ...]
    headline_k: int
    resamples: int | None  # None: no intervals
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ks": list(self.ks),
            "taus": list(self.taus),
            "headline_k": self.headline_k,
            "resamples": self.resamples,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: _Where) -> ScoredWith:
        return cls(
            ks=tuple(int(k) for k in _value(data, "ks", list, where)),
            taus=tuple(float(t) for t in _value(data, "taus", list, where)),
            headline_k=_value(data, "headline_k", int, where),
            resamples=_value(data, "resamples", (int, type(None)), where),
            seed=_value(data, "seed", int, where),
        )


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of the scored draws, as the backend reported them.

    A backend that reports no counts for some draws leaves them out of the sums: ``missing`` says
    how many, and every figure is None (a partial sum would understate) when any is missing.
    ``*_per_correct`` divide by the scored draws graded correct (the cost of one correct answer).
    """

    draws: int
    missing: int
    prompt: int | None
    completion: int | None
    correct: int

    @property
    def total(self) -> int | None:
        return None if self.prompt is None or self.completion is None else self.prompt + self.completion

    @property
    def completion_per_correct(self) -> float | None:
        return None if self.completion is None or not self.correct else self.completion / self.correct

    @property
    def total_per_correct(self) -> float | None:
        total = self.total
        return None if total is None or not self.correct else total / self.correct

    def to_dict(self) -> dict[str, Any]:
        return {
            "draws": self.draws,
            "missing": self.missing,
            "prompt": self.prompt,
            "completion": self.completion,
            "total": self.total,
            "correct": self.correct,
            "completion_per_correct": self.completion_per_correct,
            "total_per_correct": self.total_per_correct,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: _Where) -> TokenUsage:
        return cls(
            draws=_value(data, "draws", int, where),
            missing=_value(data, "missing", int, where),
            prompt=_value(data, "prompt", (int, type(None)), where),
            completion=_value(data, "completion", (int, type(None)), where),
            correct=_value(data, "correct", int, where),
        )


@dataclass(frozen=True)
class PhaseTime:
    """Wall seconds of a phase and the draws it handled."""

    seconds: float
    draws: int

    @property
    def draws_per_second(self) -> float | None:
        return self.draws / self.seconds if self.seconds > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "draws": self.draws, "draws_per_second": self.draws_per_second}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: _Where) -> PhaseTime:
        return cls(_value(data, "seconds", float, where), _value(data, "draws", int, where))


@dataclass(frozen=True)
class Timing:
    """Generation and grading summed over every invocation that did some (None: never recorded, as
    in runs made before surestep recorded it); scoring: the scoring that wrote the file."""

    generate: PhaseTime | None
    grade: PhaseTime | None
    score: PhaseTime

    def to_dict(self) -> dict[str, Any]:
        return {
            name: None if phase is None else phase.to_dict()
            for name, phase in (("generate", self.generate), ("grade", self.grade), ("score", self.score))
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: _Where) -> Timing:
        def phase(name: str, optional: bool) -> PhaseTime | None:
            if optional and _value(data, name, (dict, type(None)), where) is None:
                return None
            part, at = _object(data, name, where)
            return PhaseTime.from_dict(part, at)

        score = phase("score", False)
        assert score is not None
        return cls(phase("generate", True), phase("grade", True), score)


def _prices(data: Mapping[str, Any], where: _Where) -> Prices:
    try:
        return Prices(
            _value(data, "input_per_million", float, where), _value(data, "output_per_million", float, where)
        )
    except InputError:
        raise
    except SurestepError as exc:  # a negative or non-finite price
        raise InputError(str(exc), path=where[0], field=where[1].rstrip(".")) from None


def _cost_figures(data: Mapping[str, Any], where: _Where) -> CostFigures:
    return CostFigures(
        draws=_value(data, "draws", int, where),
        missing=_value(data, "missing", int, where),
        correct=_value(data, "correct", int, where),
        prompt_tokens=_value(data, "prompt_tokens", (int, type(None)), where),
        completion_tokens=_value(data, "completion_tokens", (int, type(None)), where),
        cost=_optional_number(_value(data, "total", (float, type(None)), where), where, "total"),
    )


def _spread(data: Mapping[str, Any], where: _Where) -> Spread:
    return Spread(
        problems=_value(data, "problems", int, where),
        mean=_optional_number(_value(data, "mean", (float, type(None)), where), where, "mean"),
        median=_optional_number(_value(data, "median", (float, type(None)), where), where, "median"),
    )


def cost_from_dict(data: Mapping[str, Any], where: _Where) -> CostSummary:
    """The ``cost`` object of results.json (``CostSummary.to_dict``) read back."""
    prices = None
    if _value(data, "prices", (dict, type(None)), where) is not None:
        prices = _prices(*_object(data, "prices", where))
    per_problem, at = _object(data, "per_problem", where)
    subsets, subsets_at = _object(data, "subsets", where)
    return CostSummary(
        prices=prices,
        total=_cost_figures(data, where),  # the totals sit at the top of the object
        tokens_per_problem=_spread(*_object(per_problem, "tokens", at)),
        cost_per_problem=_spread(*_object(per_problem, "cost", at)),
        subsets={name: _cost_figures(*_object(subsets, name, subsets_at)) for name in subsets},
    )


# --- the whole -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResults:
    """Everything ``RUN/results.json`` holds (see docs/run-store.md for each key and its type)."""

    run: str
    surestep_version: str
    written: str  # ISO 8601, UTC
    identity: RunIdentity
    graders: tuple[GraderUse, ...]
    draws: DrawCounts
    score: ScoreFigures
    scored_with: ScoredWith
    tokens: TokenUsage
    timing: Timing
    audit: dict[str, Any] | None  # the audit's ``--json`` object (docs/audit.md), None: never audited
    schema_version: int = RESULTS_SCHEMA_VERSION
    cost: CostSummary | None = None  # None: no prices were given (files written before have no key)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of results.json, ``schema_version`` first."""
        return {
            "schema_version": self.schema_version,
            "surestep_version": self.surestep_version,
            "written": self.written,
            "run": self.run,
            "identity": self.identity.to_dict(),
            "graders": [g.to_dict() for g in self.graders],
            "draws": self.draws.to_dict(),
            "score": self.score.to_dict(),
            "scored_with": self.scored_with.to_dict(),
            "tokens": self.tokens.to_dict(),
            "cost": None if self.cost is None else self.cost.to_dict(),
            "timing": self.timing.to_dict(),
            "audit": self.audit,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path) -> RunResults:
        """Read the object of ``path``; a newer schema is refused, a malformed one names the key."""
        where: _Where = (path, "")
        version = _value(data, "schema_version", int, where)
        if version > RESULTS_SCHEMA_VERSION:
            raise InputError(
                f"written by a newer surestep (results schema {version}; this one reads up to "
                f"{RESULTS_SCHEMA_VERSION}). Upgrade surestep to read it.",
                path=path,
            )
        if version < 1:
            raise InputError(f"unknown results schema {version}", path=path, field="schema_version")
        graders = _value(data, "graders", list, where)
        return cls(
            run=_value(data, "run", str, where),
            surestep_version=_value(data, "surestep_version", str, where),
            written=_value(data, "written", str, where),
            identity=RunIdentity.from_dict(*_object(data, "identity", where)),
            graders=tuple(
                GraderUse.from_dict(_value({"graders": g}, "graders", dict, where), (path, f"graders[{i}]."))
                for i, g in enumerate(graders)
            ),
            draws=DrawCounts.from_dict(*_object(data, "draws", where)),
            score=ScoreFigures.from_dict(*_object(data, "score", where)),
            scored_with=ScoredWith.from_dict(*_object(data, "scored_with", where)),
            tokens=TokenUsage.from_dict(*_object(data, "tokens", where)),
            timing=Timing.from_dict(*_object(data, "timing", where)),
            audit=_value(data, "audit", (dict, type(None)), where),
            schema_version=version,
            cost=None
            if _value({"cost": data.get("cost")}, "cost", (dict, type(None)), where) is None
            else cost_from_dict(*_object(data, "cost", where)),
        )


# --- building, writing, reading ------------------------------------------------------------------


def collect_results(
    store: RunStore,
    manifest: Mapping[str, Any],
    sheet: ScoreSheet,
    *,
    n: int,
    resamples: int | None,
    score_seconds: float,
    audit: Mapping[str, Any] | None,
    prices: Prices | None = None,
) -> RunResults:
    """The results of a run whose first ``n`` sampled draws per problem (plus greedy ones) were
    scored into ``sheet`` in ``score_seconds``, with ``resamples`` bootstrap resamples (None: none);
    with ``prices``, the cost of those draws too."""
    from surestep import __version__

    configs = manifest["configs"]
    kinds = [(SAMPLE, n)] + ([(GREEDY, 1)] if manifest.get("greedy") else [])
    graders: dict[tuple[str | None, str | None], int] = {}
    scored = correct = counted = prompt = completion = 0
    for kind, below in kinds:
        for (_, index), grade in store.grades(configs[kind]).items():
            if index < below:
                key = (grade.grader, grade.grader_version)
                graders[key] = graders.get(key, 0) + 1
                correct += grade.correct
        draws, with_counts, prompt_tokens, completion_tokens = store.token_counts(configs[kind], below)
        scored += draws
        counted += with_counts
        prompt += prompt_tokens
        completion += completion_tokens
    complete = counted == scored
    phases = store.phase_times()
    recorded = {name: PhaseTime(round(seconds, 3), draws) for name, (seconds, draws) in phases.items()}
    stored = {
        kind: sum(len(i) for i in store.draw_indices(configs[kind]).values()) for kind in (SAMPLE, GREEDY)
    }
    protocol = sheet.protocol
    return RunResults(
        run=str(store.directory),
        surestep_version=__version__,
        written=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        identity=RunIdentity.from_manifest(manifest),
        graders=tuple(
            GraderUse(name, version, count)
            for (name, version), count in sorted(graders.items(), key=lambda item: (-item[1], str(item[0])))
        ),
        draws=DrawCounts(sampled=stored[SAMPLE], greedy=stored[GREEDY], scored=scored, correct=correct),
        score=ScoreFigures.from_sheet(sheet),
        scored_with=ScoredWith(protocol.ks, protocol.taus, protocol.headline_k, resamples, protocol.seed),
        tokens=TokenUsage(
            draws=scored,
            missing=scored - counted,
            prompt=prompt if complete else None,
            completion=completion if complete else None,
            correct=correct,
        ),
        timing=Timing(
            recorded.get("generate"), recorded.get("grade"), PhaseTime(round(score_seconds, 3), scored)
        ),
        audit=None if audit is None else dict(audit),
        cost=None if prices is None else summarize_cost(run_draw_tokens(store, manifest, n), prices),
    )


def run_draw_tokens(store: RunStore, manifest: Mapping[str, Any], n: int | None = None) -> list[DrawTokens]:
    """The token counts and grades of a run's scored draws: the first ``n`` sampled ones per
    problem (None: the manifest's n) plus the greedy ones (an ungraded draw counts as not correct)."""
    n = n or int(manifest["n"])
    subsets = {problem.id: problem.subset for problem, _ in store.problems()}
    configs = manifest["configs"]
    out = []
    for kind, below in [(SAMPLE, n)] + ([(GREEDY, 1)] if manifest.get("greedy") else []):
        grades = store.grades(configs[kind])
        for draw in store.draws(configs[kind], below=below):
            grade = grades.get((draw.problem_id, draw.draw_index))
            out.append(
                DrawTokens(
                    problem_id=draw.problem_id,
                    subset=subsets.get(draw.problem_id),
                    prompt=draw.prompt_tokens,
                    completion=draw.completion_tokens,
                    correct=grade is not None and grade.correct,
                )
            )
    return out


def run_cost(
    directory: Path, *, price_input: float | None = None, price_output: float | None = None
) -> CostSummary:
    """The tokens and cost of a run's scored draws, at the prices given or else those its
    results.json recorded (no cost figures when neither has prices)."""
    from surestep.runs.runner import open_run

    prices = resolve_prices(price_input, price_output, stored_prices(directory))
    store, manifest = open_run(directory)
    with store:
        return summarize_cost(run_draw_tokens(store, manifest), prices)


def stored_prices(run: str | Path) -> Prices | None:
    """The prices recorded in ``RUN/results.json`` (None: no file, no prices, or a file that cannot
    be read, which the next scoring rewrites). A malformed ``cost.prices`` object is an error."""
    path = results_path(run)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cost = data.get("cost") if isinstance(data, dict) else None
    if not isinstance(cost, dict) or cost.get("prices") is None:
        return None
    return _prices(*_object(cost, "prices", (path, "cost.")))


def results_path(run: str | Path) -> Path:
    """``RUN/results.json`` for a run directory; a path to a .json file is taken as it is."""
    path = Path(run)
    return path if path.suffix == ".json" else path / RESULTS


def write_results(run: str | Path, results: RunResults) -> Path:
    """Write ``results`` to ``RUN/results.json`` through a temporary file: the old file stays whole
    until the new one is complete. Returns the path."""
    path = results_path(run)
    text = json.dumps(results.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(path, text)
    return path


def read_results(run: str | Path) -> RunResults:
    """Read ``RUN/results.json`` (or a results file) back into a ``RunResults``."""
    path = results_path(run)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} (line {exc.lineno})", path=path) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path=path)
    return RunResults.from_dict(data, path)
