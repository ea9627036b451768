"""``surestep bon``: PRM-guided best-of-N on a stability run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from surestep.cli.scorer_options import scorer_options
from surestep.prm.protocol import CARD, PROTOCOLS
from surestep.prm.scorers.registry import SCORERS

if TYPE_CHECKING:
    from rich.console import Console

    from surestep.runs.bon import BonProgress, BonResult

# surestep.runs.bon.BUILT_IN and surestep.metrics.best_of_n.AGGREGATES / DEFAULT_SAMPLES, kept here so
# that --help imports no numpy (tests/cli/test_bon.py checks they agree)
BUILT_IN = ("oracle", "random")
AGGREGATES = ("min", "last", "prod", "mean")
DEFAULT_SAMPLES = 256
METHOD_LABELS = {
    "best_of_n": "best-of-N",
    "weighted_vote": "PRM-weighted vote",
    "majority": "majority (maj@N)",
    "pass": "pass@N (oracle)",
    "random": "random pick (avg)",
}


@click.command("bon")
@click.argument("run", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--scorer",
    required=True,
    type=click.Choice(sorted([*SCORERS, *BUILT_IN])),
    help="PRM family (see surestep prm scorers), or oracle (the draw's grade) or random (seeded).",
)
@click.option(
    "--model",
    metavar="PATH_OR_HUB_ID",
    help="Model directory or Hub id (critic: the model the server serves); not for oracle/random.",
)
@click.option(
    "--name", metavar="LABEL", help="Store the step scores under this label [default: the scorer's name]."
)
@click.option(
    "--aggregate",
    type=click.Choice(AGGREGATES),
    default="min",
    show_default=True,
    help="A draw's score from its step scores.",
)
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default=CARD,
    show_default=True,
    help="card: each model card's input and reads; prmbench: PRMBench's wrappers.",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@scorer_options(
    batch_help="Padded tokens per forward pass.",
    max_length_help="Cut inputs at this many tokens; cut steps are recorded per draw.",
    reward_help="skywork-prm: score steps by reward differences.",
    few_shot_help="critic: worked examples to show first (card protocol).",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Draws per commit to the run store.",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=DEFAULT_SAMPLES,
    show_default=True,
    help="Weighted vote: exact over all N-subsets when there are at most this many, else this "
    "many random subsets per problem (the Monte Carlo error is printed).",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples over problems (0: no intervals).",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Interval confidence level.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the random scorer, the Monte Carlo subsets and the bootstrap.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bon_command(
    run: Path,
    scorer: str,
    model: str | None,
    name: str | None,
    aggregate: str,
    protocol: str,
    device: str,
    batch_tokens: int,
    max_length: int | None,
    tokenizer: str | None,
    trust_remote_code: bool,
    reward_differences: bool,
    base_url: str | None,
    api_key_env: str,
    concurrency: int,
    max_tokens: int,
    few_shot: Path | None,
    chunk: int,
    samples: int,
    resamples: int,
    confidence: float,
    seed: int,
    as_json: bool,
) -> None:
    """Score every sampled draw of RUN with a PRM (resumable, in the run store), then best-of-N figures."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from surestep.api import bon

    console = Console(stderr=True)
    with Progress(
        TextColumn("scoring draws"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=scorer in BUILT_IN,
    ) as bar:
        task = bar.add_task("bon", total=None, detail="")

        def show(p: BonProgress) -> None:
            bar.update(
                task,
                total=p.total,
                completed=p.done,
                detail=f"{p.steps} steps, {p.invalid} invalid, {p.truncated_steps} truncated steps",
            )

        result = bon(
            run,
            scorer,
            model=model,
            name=name,
            aggregate=aggregate,
            protocol=protocol,
            device=device,
            batch_tokens=batch_tokens,
            max_length=max_length,
            tokenizer=tokenizer,
            trust_remote_code=trust_remote_code,
            reward_differences=reward_differences,
            base_url=base_url,
            api_key_env=api_key_env,
            concurrency=concurrency,
            max_tokens=max_tokens,
            few_shot=few_shot,
            chunk=chunk,
            samples=samples,
            resamples=resamples,
            confidence=confidence,
            seed=seed,
            progress=show,
        )
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        return
    _print(result, Console())


def _print(result: BonResult, console: Console) -> None:
    from rich.table import Table

    model = f" {result.setup['model']}" if result.setup.get("model") else ""
    table = Table(
        title=f"best-of-N on {result.run}: {result.num_problems} problems × {result.n} draws, "
        f"{result.setup['scorer']}{model} ({result.aggregate} of step scores)",
        title_justify="left",
    )
    table.add_column("method")
    for size in result.sizes:
        table.add_column(f"N={size}", justify="right")
    for method, values in result.methods.items():
        cells = []
        for size in result.sizes:
            interval = result.ci.get(method, {}).get(size)
            span = f" [{100 * interval.low:.1f}, {100 * interval.high:.1f}]" if interval else ""
            cells.append(f"{100 * values[size]:.1f}{span}")
        table.add_row(METHOD_LABELS.get(method, method), *cells)
    console.print(table)
    sampled = [size for size, exact in result.vote_exact.items() if not exact]
    if sampled:
        worst = max(result.vote_mc_error[size] for size in sampled)
        console.print(
            f"weighted vote at N={', '.join(map(str, sampled))}: Monte Carlo over {result.samples} "
            f"subsets per problem, standard error ≤ {100 * worst:.2f} points; every other figure is exact.",
            highlight=False,
        )
    d = result.draws
    console.print(
        f"{d['scored']} draws, {d['steps']} steps; {d['unscored']} unscored ({d['invalid']} invalid), "
        f"{d['truncated']} with cut steps ({d['truncated_steps']} steps). Intervals: "
        f"{100 * result.confidence:g}% bootstrap over problems.",
        highlight=False,
    )
