"""``surestep audit``: how often an LLM judge agrees with a run's grades, on a stratified sample."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from surestep.report.audit_tables import print_audit
from surestep.runs.audit import AuditProgress, audit_run_directory

EXIT_JUDGE_FAILED = 1


@click.command("audit")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--judge-url", required=True, metavar="URL", help="Base URL of an OpenAI-compatible server (…/v1)."
)
@click.option("--judge-model", required=True, metavar="NAME", help="Judge model name.")
@click.option(
    "--judge-api-key-env",
    default="OPENAI_API_KEY",
    show_default=True,
    help="Environment variable holding the judge's API key.",
)
@click.option(
    "--judge-cache",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file caching judge replies across runs (shared with surestep grade).",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Draws to audit, split equally over correct / incorrect / no_answer.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=8, show_default=True, help="Judge requests at once."
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Interval confidence level.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def audit_command(
    run_dir: Path,
    judge_url: str,
    judge_model: str,
    judge_api_key_env: str,
    judge_cache: Path | None,
    sample: int,
    seed: int,
    concurrency: int,
    confidence: float,
    as_json: bool,
) -> None:
    """Audit the grades of RUN_DIR against an LLM judge on a stratified sample of its draws.

    Agreement is reported per rule verdict with Wilson intervals, and false-positive and
    false-negative rates are estimated over the whole run. Answers are stored in the run, so
    running the same command again asks the judge only about draws it has not answered.
    """
    from surestep.grading.judge import JudgeConfig  # imports httpx: only when the command runs

    if not judge_url.startswith(("http://", "https://")):
        raise click.BadParameter(f"expected an http(s):// URL, got {judge_url!r}", param_hint="--judge-url")

    judge = JudgeConfig(
        base_url=judge_url,
        model=judge_model,
        api_key_env=judge_api_key_env,
        concurrency=concurrency,
        cache_path=judge_cache,
    )
    summary = audit_run_directory(
        run_dir, judge, seed=seed, sample=sample, confidence=confidence, on_progress=_report
    )
    if as_json:
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        print_audit(summary, Console())
    if summary.pending:  # after asking, a sampled draw without an answer is a failed request
        click.echo(
            f"{summary.pending} sampled draw(s) have no judge answer (the requests failed); "
            "run the same command again to retry them",
            err=True,
        )
        sys.exit(EXIT_JUDGE_FAILED)


def _report(progress: AuditProgress) -> None:
    if progress.asked == 0:
        click.echo(
            f"judge: {progress.to_ask} draw(s) to ask about in {progress.requests} request(s), "
            f"{progress.stored} answered before",
            err=True,
        )
    elif progress.asked == progress.to_ask:
        failed = f", failed for {progress.failed}" if progress.failed else ""
        click.echo(f"judge: answered about {progress.asked} draw(s){failed}", err=True)
