"""``surestep run``, ``generate``, ``export`` and ``demo``: sample from a model into a resumable run."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from surestep.cli.common import parse_int_list, typed_invocation
from surestep.cli.cost_options import price_options
from surestep.cli.grading_options import grading_options
from surestep.cli.scale_out import scale_out_options, take_placement
from surestep.data.prompts import PRESETS
from surestep.runs.jobs import (
    DEFAULT_BASE_URL,
    PROTOCOL_PRESETS,
    GenerationOptions,
    IncompleteRunError,
    ScoreResult,
    draws_by_server,
    generate_job,
)
from surestep.runs.pipeline import GenerationProgress
from surestep.runs.runner import export_run

F = TypeVar("F", bound=Callable[..., Any])


def generation_options(func: F) -> F:
    """Model, dataset, prompt, sampling and run-directory options shared by run and generate."""
    decorators = [
        click.option(
            "--model",
            "model_spec",
            required=True,
            metavar="BACKEND:NAME",
            help="openai:NAME (any OpenAI-compatible server), local:PATH_OR_HUB_ID "
            "(local: = bundled SmolLM2-135M) or vllm:PATH_OR_HUB_ID (vLLM in this process).",
        ),
        click.option(
            "--dataset",
            required=True,
            metavar="SPEC",
            help="A .jsonl/.json/.parquet file; a directory of them (one subset per file; "
            "DIR:NAME,NAME takes some); or hf:NAME[:CONFIG][@SPLIT].",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            required=True,
            help="Run directory (created, or resumed when it exists).",
        ),
        click.option(
            "--preset",
            type=click.Choice(sorted(PROTOCOL_PRESETS)),
            default="gpassk",
            show_default=True,
            help="gpassk: n=48, k=4,8,16, T=1.0, top_p=0.8, top_k=50, 8192 tokens, plus greedy; quick: n=8.",
        ),
        click.option(
            "--n",
            type=click.IntRange(min=1),
            help="Sampled draws per problem (raising it on a run adds draws).",
        ),
        click.option("--k", "ks", metavar="K,K,...", help="k values to report."),
        click.option("--temperature", type=click.FloatRange(min=0.0), help="Sampling temperature."),
        click.option(
            "--top-p", type=click.FloatRange(0.0, 1.0, min_open=True), help="Nucleus sampling mass."
        ),
        click.option("--top-k", type=click.IntRange(min=0), help="Top-k sampling (0: do not send top_k)."),
        click.option("--max-tokens", type=click.IntRange(min=1), help="Most tokens per draw."),
        click.option("--seed", type=int, help="Run seed (default 0); each draw's seed derives from it."),
        click.option(
            "--no-seed",
            is_flag=True,
            help="openai: send no seed (for servers that reject or mishandle seeds); draws stored seedless.",
        ),
        click.option("--stop", multiple=True, help="Stop string (repeatable)."),
        click.option(
            "--greedy/--no-greedy",
            default=True,
            show_default=True,
            help="Also take one greedy (T=0) draw per problem.",
        ),
        click.option(
            "--draws-per-request",
            type=click.IntRange(min=1),
            help="Draws asked for in one request (the n parameter, seeded by vLLM's seed + i rule; "
            "local: one batch). Default: 1 for openai, 8 for local.",
        ),
        click.option(
            "--prompt",
            "prompt_spec",
            default="auto",
            show_default=True,
            help=f"Prompt preset ({', '.join(PRESETS)}) or a template file with {{question}}; "
            "auto: livemathbench for LiveMathBench, else default.",
        ),
        click.option("--system", help="System message."),
        click.option(
            "--question-field", help="Field holding the question (default: question/problem/Problem)."
        ),
        click.option("--answer-field", help="Field holding the gold answer (default: answer/Answer)."),
        click.option(
            "--id-field", help="Field holding the problem id (default: id/ID/unique_id, else position)."
        ),
        click.option("--subset-field", help="Field holding the subset (LiveMathBench: the config name)."),
        click.option("--level", help="Keep only problems of this level (MATH-500: 5 or 'Level 5')."),
        click.option("--limit", type=click.IntRange(min=1), help="Use only the first N problems."),
        click.option(
            "--base-url",
            "base_urls",
            multiple=True,
            help=f"openai: server base URL; repeat it to spread one run over several servers "
            f"(default {DEFAULT_BASE_URL}).",
        ),
        click.option(
            "--base-urls-file",
            type=click.Path(dir_okay=False, exists=True, path_type=Path),
            help="openai: more servers, one 'URL [CONCURRENCY]' per line.",
        ),
        click.option(
            "--api-key-env",
            default="OPENAI_API_KEY",
            show_default=True,
            help="openai: environment variable holding the API key (never a flag).",
        ),
        click.option(
            "--endpoint", type=click.Choice(["chat", "completion"]), default="chat", show_default=True
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(min=1),
            default=32,
            show_default=True,
            help="openai: requests in flight per server; vllm: in the engine.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=600.0,
            show_default=True,
            help="openai: seconds per request.",
        ),
        click.option("--max-retries", type=click.IntRange(min=0), default=8, show_default=True),
        click.option("--device", default="auto", show_default=True, help="local: cpu, cuda, cuda:1, ..."),
        click.option(
            "--local-batch",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="local: requests per forward pass (>1 is faster; draws then depend on the batch's makeup).",
        ),
        click.option(
            "--dtype",
            type=click.Choice(["auto", "bfloat16", "float16", "float32"]),
            default="auto",
            show_default=True,
            help="local, vllm: weights and activations (auto: local bfloat16 on GPU, float32 on CPU; "
            "vllm the model's, float32 ones in bfloat16).",
        ),
        click.option(
            "--tensor-parallel-size",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="vllm: GPUs the model is split over.",
        ),
        click.option(
            "--gpu-memory-utilization",
            type=click.FloatRange(0.0, 1.0, min_open=True),
            default=0.9,
            show_default=True,
            help="vllm: share of each GPU's memory the engine takes (on vLLM's CPU build: of the RAM).",
        ),
        click.option(
            "--max-model-len",
            type=click.IntRange(min=1),
            help="vllm: context length in tokens, prompt and draw (default: the model's).",
        ),
        click.option("--quiet", is_flag=True, help="No progress bar."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


RENAMED = {"model_spec": "model", "prompt_spec": "prompt", "base_urls": "base_url"}
"""Options whose name in the Python API differs from the CLI's (``--model`` is ``model_spec`` here)."""


def _api_options(options: dict[str, Any]) -> dict[str, Any]:
    """The generation options of a command as keyword arguments of ``surestep.run``."""
    named = {RENAMED.get(key, key): value for key, value in options.items()}
    named["ks"] = parse_int_list(options["ks"], "--k")
    return named


def _generation_options(options: dict[str, Any]) -> GenerationOptions:
    """The generation options of a command (``surestep generate``), with its command line."""
    named = _api_options(options)
    named["base_urls"] = tuple(named.pop("base_url"))
    wanted = {field.name for field in fields(GenerationOptions)}  # not --quiet
    return GenerationOptions(**{k: v for k, v in named.items() if k in wanted}, invocation=typed_invocation())


class _ProgressDisplay:
    """A rich progress bar on stderr: draws done / total, draws/s, tokens, errors, ETA."""

    def __init__(self, quiet: bool) -> None:
        self._progress = Progress(
            TextColumn("[bold]generating"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} draws"),
            TextColumn("{task.fields[rate]:,.1f} draws/s"),
            TextColumn("{task.fields[tokens]:,} tokens"),
            TextColumn("{task.fields[errors]} errors"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[servers]}"),
            console=Console(stderr=True),
            disable=quiet,
        )
        self._task: TaskID | None = None

    def show(self, progress: GenerationProgress) -> None:
        """Start the bar on the first call (the plan is known), update it on the next ones."""
        if self._task is None:
            self.start(progress)
        else:
            self.update(progress)

    def start(self, progress: GenerationProgress) -> None:
        self._progress.start()
        self._task = self._progress.add_task(
            "generate", total=progress.total, rate=0.0, tokens=0, errors=0, servers=""
        )

    def update(self, progress: GenerationProgress) -> None:
        if self._task is None:
            return
        self._progress.update(
            self._task,
            completed=progress.done + progress.errors,
            rate=progress.draws_per_second,
            tokens=progress.prompt_tokens + progress.completion_tokens,
            errors=progress.errors,
            servers=draws_by_server(progress),
        )

    def stop(self) -> None:
        self._progress.stop()


class _Echo:
    """A job's log on stderr: each line stops the progress bar first, so lines never interleave."""

    def __init__(self, display: _ProgressDisplay) -> None:
        self._display = display

    def __call__(self, line: str) -> None:
        self._display.stop()
        click.echo(line, err=True)


@contextmanager
def _job_display(quiet: bool) -> Iterator[_ProgressDisplay]:
    """A progress bar for a generating job; the bar stops however the job ends, and a job that
    left draws ungenerated ends the command with its error and status 1."""
    display = _ProgressDisplay(quiet)
    try:
        yield display
    except IncompleteRunError as error:
        display.stop()
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    finally:
        display.stop()


@click.command("generate")
@generation_options
@scale_out_options
def generate_command(quiet: bool, **options: Any) -> None:
    """Sample draws from a model into a run directory (resumes; generates only what is missing)."""
    placement = take_placement(options, options["out"])
    with _job_display(quiet) as display:
        generate_job(
            _generation_options(options),
            placement=placement,
            on_start=display.show,
            on_update=display.show,
            log=_Echo(display),
        )


def _finish_run(out: Path, scored: ScoreResult, report: Path | None, as_json: bool) -> None:
    """Print a run's score sheet, and say where the run and its report are."""
    from surestep.cli.score import print_score

    print_score(scored, as_json)
    click.echo(f"run directory: {out}", err=True)
    if report is not None:
        click.echo(f"report: {report}", err=True)


@click.command("run")
@generation_options
@grading_options
@click.option("--ci/--no-ci", default=True, show_default=True, help="Bootstrap confidence intervals.")
@click.option("--json", "as_json", is_flag=True, help="Print the score sheet as JSON.")
@price_options("recorded in results.json for later commands")
@scale_out_options
def run_command(
    quiet: bool,
    ci: bool,
    as_json: bool,
    price_input: float | None,
    price_output: float | None,
    **options: Any,
) -> None:
    """Generate, grade and score: the whole job, resumable at every step."""
    from surestep.api import run

    with _job_display(quiet) as display:
        done = run(
            **_api_options(options),
            price_input=price_input,
            price_output=price_output,
            ci=ci,
            progress=display.show,
            log=_Echo(display),
            invocation=typed_invocation(),
        )
    _finish_run(done.directory, done.score, done.report, as_json)


@click.command("export")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_command(run_dir: Path, output: Path) -> None:
    """Write a run's draws (with grades when present) as JSONL in the `surestep score` format."""
    count = export_run(run_dir, output)
    click.echo(f"wrote {count:,} draws to {output}", err=True)


@click.command("demo")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/demo"), show_default=True
)
@click.option("--n", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=48, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N demo problems.")
@click.option("--device", default="auto", show_default=True)
@click.option("--quiet", is_flag=True)
def demo_command(out: Path, n: int, max_tokens: int, limit: int | None, device: str, quiet: bool) -> None:
    """The bundled demo set x the bundled SmolLM2-135M on this machine, end to end."""
    from surestep.api import demo

    with _job_display(quiet) as display:
        done = demo(
            out,
            n=n,
            max_tokens=max_tokens,
            limit=limit,
            device=device,
            progress=display.show,
            log=_Echo(display),
            invocation=typed_invocation(),
        )
    _finish_run(done.run.directory, done.run.score, done.run.report, False)
    for line in done.reading.lines():
        click.echo(line)
