"""The jobs behind ``surestep run``, ``grade`` and ``score``, as library functions.

The command line and the Python API (``surestep.run`` and friends) both call these: generate
what is missing, grade what is ungraded, score, and write ``RUN/results.json``. The wall time
of generating and of grading is added to the run store each time either does some work, so
results.json can say how long each phase took over the run's life.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from surestep.errors import InputError, SurestepError
from surestep.runs.results import RunResults

if TYPE_CHECKING:  # numpy (scoring), the grader and the runner are imported by the jobs that use them
    from surestep.data.draws import DrawRecord
    from surestep.grading.grader import GradingConfig, GradingStats
    from surestep.runs.audit import AuditSummary
    from surestep.runs.distributed import Placement
    from surestep.runs.pipeline import GenerationProgress
    from surestep.runs.runner import GenerateRequest, GenerateResult
    from surestep.runs.scoring import ScoreSheet, StabilityScoreConfig
    from surestep.runs.store import RunStore

Log = Callable[[str], None]
"""Where a job's one-line status messages go (the CLI: stderr)."""


@dataclass(frozen=True)
class Preset:
    """A sampling protocol: n draws, the k values to report, and the sampling parameters."""

    n: int
    ks: tuple[int, ...]
    temperature: float
    top_p: float
    top_k: int | None
    max_tokens: int


PROTOCOL_PRESETS = {
    "gpassk": Preset(n=48, ks=(4, 8, 16), temperature=1.0, top_p=0.8, top_k=50, max_tokens=8192),
    "quick": Preset(n=8, ks=(4, 8), temperature=1.0, top_p=0.8, top_k=50, max_tokens=8192),
}
DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
ENDPOINTS = ("chat", "completion")
DTYPES = ("auto", "bfloat16", "float16", "float32")


class IncompleteRunError(SurestepError):
    """Some draws could not be generated; running the same job again retries only those."""

    def __init__(self, directory: Path, missing: int, last_error: str | None) -> None:
        self.directory = directory
        self.missing = missing
        self.last_error = last_error
        super().__init__(f"{missing:,} draws failed ({last_error}); re-run the same command to retry them")


# --- what to generate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationOptions:
    """Every option of ``surestep generate`` / ``run`` about the model, data, prompt and sampling.

    None means the preset's value (or the backend's default, for ``draws_per_request``).
    """

    model: str
    dataset: str
    out: Path
    preset: str = "gpassk"
    n: int | None = None
    ks: tuple[int, ...] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    no_seed: bool = False
    stop: tuple[str, ...] = ()
    greedy: bool = True
    draws_per_request: int | None = None
    prompt: str = "auto"
    system: str | None = None
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None
    subset_field: str | None = None
    level: str | None = None
    limit: int | None = None
    base_urls: tuple[str, ...] = ()
    base_urls_file: Path | None = None
    api_key_env: str = "OPENAI_API_KEY"
    endpoint: str = "chat"
    concurrency: int = 32
    timeout: float = 600.0
    max_retries: int = 8
    device: str = "auto"
    local_batch: int = 1
    dtype: str = "auto"
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    # local backend: no end of text before an answer (the demo's stop rule, models/local.py)
    until_answer: bool = False
    # the command line that asked for this run, recorded for `surestep resume` (runs/invocation.py)
    invocation: Mapping[str, Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.preset not in PROTOCOL_PRESETS:
            raise SurestepError(
                f"preset {self.preset!r}: expected one of {', '.join(sorted(PROTOCOL_PRESETS))}"
            )
        if self.endpoint not in ENDPOINTS:
            raise SurestepError(f"endpoint {self.endpoint!r}: expected one of {', '.join(ENDPOINTS)}")
        for name in (
            "n",
            "max_tokens",
            "draws_per_request",
            "limit",
            "concurrency",
            "local_batch",
            "tensor_parallel_size",
            "max_model_len",
        ):
            _at_least(name, getattr(self, name), 1)
        if self.dtype not in DTYPES:
            raise SurestepError(f"dtype {self.dtype!r}: expected one of {', '.join(DTYPES)}")
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise SurestepError(
                f"gpu_memory_utilization: expected a number in (0, 1], got {self.gpu_memory_utilization}"
            )
        for name in ("top_k", "max_retries"):
            _at_least(name, getattr(self, name), 0)
        _at_least("temperature", self.temperature, 0.0)
        _at_least("timeout", self.timeout, 0.1)
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise SurestepError(f"top_p: expected a number in (0, 1], got {self.top_p}")
        if self.ks is not None and (not self.ks or any(k < 1 for k in self.ks)):
            raise SurestepError(f"ks: expected integers >= 1, got {list(self.ks)}")

    def request(self) -> tuple[GenerateRequest, tuple[int, ...]]:
        """The generation request these options describe, and the k values to report."""
        from surestep.data.problems import FieldMap
        from surestep.data.prompts import load_template
        from surestep.models import SamplingParams, parse_model_spec
        from surestep.runs.pipeline import GenerationPlan
        from surestep.runs.runner import DatasetRequest, GenerateRequest

        preset = PROTOCOL_PRESETS[self.preset]
        model = parse_model_spec(self.model)
        if self.no_seed and (self.seed is not None or model.backend != "openai"):
            raise SurestepError("--no-seed goes with openai: models and without --seed")
        if self.until_answer and model.backend != "local":
            raise SurestepError("until_answer (the demo's stop rule) goes with local: models only")
        top_k = self.top_k if self.top_k is not None else preset.top_k
        sampling = SamplingParams(
            temperature=self.temperature if self.temperature is not None else preset.temperature,
            top_p=self.top_p if self.top_p is not None else preset.top_p,
            top_k=top_k or None,
            max_tokens=self.max_tokens or preset.max_tokens,
            stop=tuple(self.stop),
        )
        n = self.n or preset.n
        ks = tuple(sorted(set(self.ks))) if self.ks else tuple(k for k in preset.ks if k <= n) or (n,)
        plan = GenerationPlan(
            n=n,
            sampling=sampling,
            greedy=self.greedy,
            seed=None if self.no_seed else self.seed or 0,
            draws_per_request=self.draws_per_request or (1 if model.backend == "openai" else 8),
            system=self.system,
        )
        fields = FieldMap(
            question=self.question_field, answer=self.answer_field, id=self.id_field, subset=self.subset_field
        )
        request = GenerateRequest(
            out=Path(self.out),
            model=model,
            dataset=DatasetRequest(self.dataset, fields, self.level, self.limit),
            template=load_template(self.prompt, dataset=self.dataset),
            plan=plan,
            backend_options=self._backend_options(model.backend),
            protocol={"ks": list(ks)},
            invocation=self.invocation,
        )
        return request, ks

    def _backend_options(self, backend: str) -> dict[str, Any]:
        if backend == "vllm":
            return {
                "concurrency": self.concurrency,
                "dtype": self.dtype,
                "tensor_parallel_size": self.tensor_parallel_size,
                "gpu_memory_utilization": self.gpu_memory_utilization,
                "max_model_len": self.max_model_len,
            }
        if backend != "openai":
            rule = {"until_answer": True} if self.until_answer else {}
            return {"device": self.device, "batch_requests": self.local_batch, "dtype": self.dtype, **rule}
        from surestep.models.routing import servers_from_options

        servers = servers_from_options(
            self.base_urls, self.base_urls_file, self.concurrency, DEFAULT_BASE_URL
        )
        return {
            "base_url": servers,
            "api_key_env": self.api_key_env,
            "endpoint": self.endpoint,
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
        }


def _at_least(name: str, value: float | None, low: float) -> None:
    if value is not None and value < low:
        raise SurestepError(f"{name}: expected a value >= {low}, got {value}")


def grading_config(
    *,
    mode: str = "rule",
    judge_url: str | None = None,
    judge_model: str | None = None,
    judge_api_key_env: str = "OPENAI_API_KEY",
    judge_cache: str | Path | None = None,
    workers: int | None = None,
    budget: float = 5.0,
    prose_fallback: bool = False,
    decimal_comma: bool = False,
) -> GradingConfig:
    """How to grade, from the options of ``surestep grade`` (a judge needs its URL and model)."""
    from surestep.grading.grader import GradingConfig
    from surestep.grading.judge import JudgeConfig
    from surestep.grading.records import GradingMode

    try:
        chosen = GradingMode(mode)
    except ValueError:
        raise SurestepError(
            f"mode {mode!r}: expected one of {', '.join(m.value for m in GradingMode)}"
        ) from None
    _at_least("workers", workers, 1)
    _at_least("budget", budget, 0.1)
    judge = None
    if judge_url or judge_model or chosen is not GradingMode.RULE:
        if not (judge_url and judge_model):
            raise SurestepError(f"--mode {mode} needs both --judge-url and --judge-model")
        cache = None if judge_cache is None else Path(judge_cache)
        judge = JudgeConfig(
            base_url=judge_url, model=judge_model, api_key_env=judge_api_key_env, cache_path=cache
        )
    return GradingConfig(
        mode=chosen,
        workers=workers,
        budget_seconds=budget,
        judge=judge,
        prose_fallback=prose_fallback,
        decimal_comma=decimal_comma,
    )


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradeResult:
    """What ``surestep grade`` did: where from, where to (None: a run keeps its grades), the counts."""

    source: Path
    output: Path | None
    stats: GradingStats

    def to_dict(self) -> dict[str, Any]:
        """The ``surestep grade --json`` object."""
        s = self.stats
        return {
            "source": str(self.source),
            "output": None if self.output is None else str(self.output),
            "draws": s.draws,
            "verdicts": dict(sorted(s.verdicts.items())),
            "unique_pairs": s.unique_pairs,
            "pool_pairs": s.pool_pairs,
            "judge_calls": s.judge_calls,
            "workers_replaced": s.workers_replaced,
            "seconds": s.seconds,
        }


@dataclass(frozen=True)
class ScoreResult:
    """A scored file or run: the score sheet, the run's latest audit, the grading done on the way
    (None: everything was graded already) and, for a run, what was written to results.json."""

    source: Path
    sheet: ScoreSheet
    audit: AuditSummary | None = None
    grading: GradingStats | None = None
    results: RunResults | None = None

    @property
    def metrics(self) -> dict[str, float]:
        return self.sheet.metrics

    def to_dict(self) -> dict[str, Any]:
        """The ``surestep score --json`` object (a run's: with its tokens, and its cost when priced)."""
        data = self.sheet.to_json()
        if self.audit is not None:
            data["audit"] = self.audit.to_dict()
        if self.results is not None:
            data["tokens"] = self.results.tokens.to_dict()
            if self.results.cost is not None:
                data["cost"] = self.results.cost.to_dict()
        return data


@dataclass(frozen=True)
class ScoreChoices:
    """Which figures to compute: k and tau values (None: the run's or the defaults), the first n
    draws per problem (None: all), intervals, grouping field and seed."""

    ks: tuple[int, ...] | None = None
    taus: tuple[float, ...] | None = None
    n: int | None = None
    ci: bool = False
    resamples: int = 1000
    confidence: float = 0.95
    by: str | None = None
    seed: int = 0
    price_input: float | None = None  # USD per million tokens; None: the run's stored price, if any
    price_output: float | None = None

    def __post_init__(self) -> None:
        from surestep.metrics.cost import check_price

        check_price("price_input", self.price_input)
        check_price("price_output", self.price_output)
        _at_least("n", self.n, 1)
        _at_least("resamples", self.resamples, 10)
        if not 0.5 <= self.confidence <= 0.999:
            raise SurestepError(f"confidence: expected a number in [0.5, 0.999], got {self.confidence}")
        if self.ks is not None and (not self.ks or any(k < 1 for k in self.ks)):
            raise SurestepError(f"ks: expected integers >= 1, got {list(self.ks)}")
        if self.taus is not None and (not self.taus or any(not 0.0 <= t <= 1.0 for t in self.taus)):
            raise SurestepError(f"taus: expected numbers in [0, 1], got {list(self.taus)}")


def _score_options(choices: ScoreChoices, run_ks: Sequence[int] = ()) -> StabilityScoreConfig:
    """The ``StabilityScoreConfig`` of these choices (a run's own k values when none are chosen)."""
    from surestep.metrics import StabilityProtocol
    from surestep.runs.scoring import StabilityScoreConfig

    protocol = StabilityProtocol(seed=choices.seed)
    ks = choices.ks or tuple(run_ks)
    if ks:
        protocol = replace(protocol, ks=tuple(sorted(set(ks))))
    if choices.taus:
        protocol = replace(protocol, taus=tuple(sorted(set(choices.taus))))
    return StabilityScoreConfig(
        protocol=protocol,
        by=choices.by,
        ci=choices.ci,
        n_resamples=choices.resamples,
        confidence=choices.confidence,
    )


# --- grade ---------------------------------------------------------------------------------------


def grade_file(path: Path, output: Path, config: GradingConfig) -> GradeResult:
    """Grade every line of a JSONL file of draws into ``output`` (written atomically)."""
    from surestep.runs.grading_job import check_draw_keys, grade_records, read_records, write_jsonl_atomic

    records = read_records(path)
    for record in records:
        check_draw_keys(record, path)
    graded, stats = grade_records(records, config, path=path)
    write_jsonl_atomic(output, graded)
    return GradeResult(path, output, stats)


def grade_directory(directory: Path, config: GradingConfig, *, regrade: bool = False) -> GradeResult:
    """Grade a run's ungraded draws (every draw with ``regrade``), adding the time to the store."""
    from surestep.runs.runner import open_run

    store, manifest = open_run(directory)
    with store:
        stats = _grade_store(store, manifest, config, regrade=regrade)
    return GradeResult(directory, None, stats)


def _grade_store(
    store: RunStore, manifest: dict[str, Any], config: GradingConfig, *, regrade: bool = False
) -> GradingStats:
    from surestep.grading.grader import Grader
    from surestep.runs.pipeline import grade_run

    with Grader(config) as grader:
        stats = grade_run(store, grader, manifest, regrade=regrade)
    if stats.draws:
        store.add_phase_time("grade", stats.seconds, stats.draws)
    return stats


def _ungraded(store: RunStore, manifest: dict[str, Any]) -> bool:
    return any(store.count_ungraded(config) for config in manifest["configs"].values())


# --- score ---------------------------------------------------------------------------------------


def score_file(path: Path, choices: ScoreChoices, config: GradingConfig) -> ScoreResult:
    """Score a JSONL file of draws, grading first the lines that carry a response but no grade."""
    from surestep.data.draws import group_draws
    from surestep.runs.scoring import score_problems

    draws, stats = _graded_draws(path, config)
    problems = group_draws(draws, path=path, n=choices.n)
    sheet = score_problems(problems, _score_options(choices), path=path, explicit_ks=choices.ks is not None)
    return ScoreResult(path, sheet, grading=stats)


def _graded_draws(path: Path, config: GradingConfig) -> tuple[list[DrawRecord], GradingStats | None]:
    from surestep.data.draws import parse_draw
    from surestep.runs.grading_job import NumberedRecord, grade_records, needs_grading, read_records

    records = read_records(path)
    ungraded = [r for r in records if needs_grading(r)]
    stats = None
    if ungraded:
        graded, stats = grade_records(ungraded, config, path=path)
        by_line = {r.line: fields for r, fields in zip(ungraded, graded)}
        records = [NumberedRecord(r.line, by_line.get(r.line, r.fields)) for r in records]
    if not records:
        raise InputError("no draws found", path=path)
    return [parse_draw(r.fields, path=path, line=r.line) for r in records], stats


def score_directory(directory: Path, choices: ScoreChoices, config: GradingConfig) -> ScoreResult:
    """Score a run (grading first whatever is ungraded) and write its results.json.

    A run whose problems have subsets is broken down by subset unless ``choices.by`` says otherwise.
    """
    from surestep.runs.runner import open_run

    store, manifest = open_run(directory)
    with store:
        stats = _grade_store(store, manifest, config) if _ungraded(store, manifest) else None
        return _score_store(store, manifest, choices, stats)


def _score_store(
    store: RunStore, manifest: dict[str, Any], choices: ScoreChoices, grading: GradingStats | None
) -> ScoreResult:
    from surestep.data.draws import group_draws
    from surestep.metrics.cost import resolve_prices
    from surestep.runs.audit import audit_summary
    from surestep.runs.pipeline import scored_draws
    from surestep.runs.results import collect_results, stored_prices, write_results
    from surestep.runs.scoring import score_problems

    started = time.perf_counter()
    # prices given now override those results.json recorded (and are recorded in their place)
    prices = resolve_prices(choices.price_input, choices.price_output, stored_prices(store.directory))
    n = choices.n or int(manifest["n"])
    draws = scored_draws(store, manifest, n)
    problems = group_draws(draws, path=store.directory, n=n)
    if choices.by is None and any(d.subset is not None for d in draws):
        choices = replace(choices, by="subset")  # a run's figures come by subset when it has subsets
    options = _score_options(choices, manifest.get("protocol", {}).get("ks", ()))
    sheet = score_problems(problems, options, path=store.directory, explicit_ks=choices.ks is not None)
    audit = audit_summary(store, manifest, confidence=choices.confidence)  # the latest audit, if any
    results = collect_results(
        store,
        manifest,
        sheet,
        n=n,
        resamples=choices.resamples if choices.ci else None,
        score_seconds=time.perf_counter() - started,
        audit=None if audit is None else audit.to_dict(),
        prices=prices,
    )
    write_results(store.directory, results)
    return ScoreResult(store.directory, sheet, audit, grading, results)


def score(source: Path, choices: ScoreChoices, config: GradingConfig) -> ScoreResult:
    """Score a file of draws or a run directory (which also writes its results.json)."""
    if source.is_dir():
        return score_directory(source, choices, config)
    return score_file(source, choices, config)


# --- generate and run ----------------------------------------------------------------------------


async def generate_async(
    request: GenerateRequest,
    *,
    on_start: Callable[[GenerationProgress], None] | None = None,
    on_update: Callable[[GenerationProgress], None] | None = None,
) -> GenerateResult:
    """Generate the run's missing draws on the running loop, adding the wall time to the store."""
    from surestep.runs.runner import generate_async as generate_draws
    from surestep.runs.store import RunStore

    started = time.perf_counter()
    result = await generate_draws(request, on_start=on_start, on_update=on_update)
    if result.progress.total:
        with RunStore(request.out) as store:
            store.add_phase_time("generate", time.perf_counter() - started, result.progress.done)
    return result


def generate(
    request: GenerateRequest,
    *,
    on_start: Callable[[GenerationProgress], None] | None = None,
    on_update: Callable[[GenerationProgress], None] | None = None,
) -> GenerateResult:
    """``generate_async`` on a loop of its own (call ``generate_async`` from a running loop)."""
    import asyncio

    return asyncio.run(generate_async(request, on_start=on_start, on_update=on_update))


def draws_by_server(progress: GenerationProgress) -> str:
    """Draws by server, when there are several ("a:8001 1,024 · b:8001 998"); "" otherwise."""
    if len(progress.per_server) < 2:
        return ""
    return " · ".join(f"{name} {count:,}" for name, count in sorted(progress.per_server.items()))


def generation_summary(result: GenerateResult, out: Path) -> list[str]:
    """The lines that say what a generation did: draws, tokens, rate, and draws by server."""
    p = result.progress
    lines = [
        f"generated {p.done:,} draws ({p.prompt_tokens + p.completion_tokens:,} tokens, "
        f"{p.draws_per_second:,.1f} draws/s) into {out}"
    ]
    if draws_by_server(p):
        lines.append(f"draws per server: {draws_by_server(p)}")
    return lines


@dataclass(frozen=True)
class GenerateOutcome:
    """One generation job: what it generated and, for a spread run given grading, the grades
    made while draws were landing (``graded_early`` of them before the last draw)."""

    generation: GenerateResult
    grading: GradingStats | None = None
    graded_early: int = 0


async def generate_job_async(
    options: GenerationOptions,
    *,
    placement: Placement | None = None,
    grading: GradingConfig | None = None,
    on_start: Callable[[GenerationProgress], None] | None = None,
    on_update: Callable[[GenerationProgress], None] | None = None,
    log: Log | None = None,
) -> GenerateOutcome:
    """``surestep generate``: generate the run's missing draws, in this process or as ``placement``
    says (a shard, Ray replicas; grading alongside when given ``grading``), and log the summary.

    Raises ``IncompleteRunError`` when some draws could not be generated.
    """
    from surestep.runs.grading_job import summary_line
    from surestep.runs.shards import check_shard

    request, _ = options.request()
    if placement is None or not placement.spread:
        check_shard(request.out, None)  # a shard directory resumes only as that shard
        outcome = GenerateOutcome(await generate_async(request, on_start=on_start, on_update=on_update))
    else:
        from surestep.runs.distributed import generate_placed_async

        placed = await generate_placed_async(
            request, placement, grading=grading, on_start=on_start, on_update=on_update
        )
        outcome = GenerateOutcome(placed.generation, placed.grading, placed.graded_early)
    result = outcome.generation
    for line in generation_summary(result, request.out):
        _say(log, line)
    if outcome.grading is not None:
        _say(log, f"{summary_line(outcome.grading)} ({outcome.graded_early:,} while generating)")
    if result.missing:
        raise IncompleteRunError(request.out, result.missing, result.progress.last_error)
    return outcome


def generate_job(
    options: GenerationOptions,
    *,
    placement: Placement | None = None,
    grading: GradingConfig | None = None,
    on_start: Callable[[GenerationProgress], None] | None = None,
    on_update: Callable[[GenerationProgress], None] | None = None,
    log: Log | None = None,
) -> GenerateOutcome:
    """``generate_job_async`` on a loop of its own."""
    import asyncio

    return asyncio.run(
        generate_job_async(
            options, placement=placement, grading=grading, on_start=on_start, on_update=on_update, log=log
        )
    )


@dataclass(frozen=True)
class RunOutcome:
    """One ``run``: this call's generation, and the score of the whole run (with results.json)."""

    generation: GenerateResult
    score: ScoreResult

    @property
    def results(self) -> RunResults:
        assert self.score.results is not None  # a run directory's score always writes results
        return self.score.results


async def run_async(
    options: GenerationOptions,
    grading: GradingConfig,
    *,
    placement: Placement | None = None,
    ci: bool = True,
    price_input: float | None = None,
    price_output: float | None = None,
    on_start: Callable[[GenerationProgress], None] | None = None,
    on_update: Callable[[GenerationProgress], None] | None = None,
    log: Log | None = None,
) -> RunOutcome:
    """Generate what is missing, grade what is ungraded, score with intervals (``ci``) and write
    results.json (with the cost at ``price_input``/``price_output``, USD per million tokens, which
    it records). Grading and scoring run on a worker thread, so the loop stays free.

    ``placement`` spreads the generation (a shard, Ray replicas), grading draws as they land.
    Raises ``IncompleteRunError`` when some draws could not be generated (nothing is scored then).
    """
    import asyncio

    from surestep.metrics.cost import resolve_prices
    from surestep.runs.results import stored_prices

    request, ks = options.request()
    choices = ScoreChoices(ks=ks, ci=ci, price_input=price_input, price_output=price_output)
    resolve_prices(price_input, price_output, stored_prices(request.out))  # a missing price fails now
    outcome = await generate_job_async(
        options, placement=placement, grading=grading, on_start=on_start, on_update=on_update, log=log
    )
    scored = await asyncio.to_thread(_grade_and_score, request.out, choices, grading, log)
    return RunOutcome(outcome.generation, scored)


def _grade_and_score(
    directory: Path, choices: ScoreChoices, config: GradingConfig, log: Log | None
) -> ScoreResult:
    from surestep.runs.grading_job import summary_line
    from surestep.runs.runner import open_run

    store, manifest = open_run(directory)
    with store:
        stats = _grade_store(store, manifest, config) if _ungraded(store, manifest) else None
        if stats is not None:  # a spread run has graded its draws while generating
            _say(log, summary_line(stats))
        return _score_store(store, manifest, choices, stats)


def _say(log: Log | None, line: str) -> None:
    if log is not None:
        log(line)
