"""``surestep prm``: PRMBench data checks and scoring of step-level predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from surestep.cli.cost_options import price_options
from surestep.cli.scale_out import scale_out_options
from surestep.cli.scorer_options import scorer_options
from surestep.prm.data import CATEGORIES, HUB_DATASET
from surestep.prm.protocol import PRMBENCH, PROTOCOLS
from surestep.prm.scorers.registry import DEVICE_MAPS, SCORERS

if TYPE_CHECKING:  # scoring (numpy), tables (rich) and runs are imported by the commands that use them
    from rich.console import Console

    from surestep.metrics.cost import CostSummary
    from surestep.runs.prm_run import PRMRunProgress

data_option = click.option(
    "--data",
    "data",
    default=HUB_DATASET,
    show_default=True,
    metavar="PATH_OR_HF",
    help="PRMBench: a .jsonl file, a directory of them, or hf:NAME[:CONFIG][@SPLIT].",
)


@click.group("prm")
def prm_group() -> None:
    """Process reward models on PRMBench."""


@prm_group.command("score")
@click.argument("predictions", type=click.Path(path_type=Path))
@data_option
@click.option(
    "--threshold",
    type=float,
    default=0.5,
    show_default=True,
    help="A step is judged correct when its score exceeds this (unless step_labels are given).",
)
@click.option(
    "--threshold-redundancy",
    "threshold_redundancy",
    type=float,
    default=0.5,
    show_default=True,
    help="A step is judged redundant when its redundancy score exceeds this.",
)
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Score the instances that have predictions; report the others as missing.",
)
@click.option(
    "--tune-on",
    "tune_on",
    metavar="FRACTION|FILE",
    help="Tune the threshold on a split (a fraction of problems, or a file of ids/idx) "
    "and report it on the rest.",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples over instances (0: no intervals).",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Interval confidence level.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of bootstrap, split and random baseline."
)
@click.option("--no-baselines", "no_baselines", is_flag=True, help="Skip the all-correct/random/oracle rows.")
@click.option("--name", help="Model name in the table (default: the predictions file's name).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def score_command(
    predictions: Path,
    data: str,
    threshold: float,
    threshold_redundancy: float,
    allow_missing: bool,
    tune_on: str | None,
    resamples: int,
    confidence: float,
    seed: int,
    no_baselines: bool,
    name: str | None,
    as_json: bool,
) -> None:
    """Score PREDICTIONS (JSONL of step scores) on PRMBench, as the paper does and beyond."""
    from rich.console import Console

    from surestep.api import prm_score
    from surestep.report.prm_tables import print_prmbench

    result = prm_score(
        predictions,
        data=data,
        threshold=threshold,
        threshold_redundancy=threshold_redundancy,
        allow_missing=allow_missing,
        tune_on=tune_on,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        baselines=not no_baselines,
        name=name,
    )
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        return
    print_prmbench(result.score, Console())


@prm_group.command("validate")
@data_option
@click.option(
    "--predictions", type=click.Path(path_type=Path), help="Also check a predictions file against the data."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def validate_command(data: str, predictions: Path | None, as_json: bool) -> None:
    """Check PRMBench data (and optionally predictions), listing the benchmark's known faults."""
    from rich.console import Console

    from surestep.prm.validation import validate_prmbench

    report = validate_prmbench(data, predictions)
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    _print_validation(report, Console())


def _print_validation(report: dict[str, object], console: Console) -> None:
    from rich.table import Table

    table = Table(
        title=f"{report['data']}: {report['records']} records, {report['instances']} instances",
        title_justify="left",
    )
    for header in ("category", "group", "instances", "steps", "error steps"):
        table.add_column(header, justify="left" if header in ("category", "group") else "right")
    groups = {c.key: f"{c.abbreviation} · {c.group}" for c in CATEGORIES}
    counts = report["categories"]
    assert isinstance(counts, dict)
    for key, row in counts.items():
        table.add_row(
            key,
            groups.get(key, "synthetic all-correct"),
            str(row["instances"]),
            str(row["steps"]),
            str(row["error_steps"]),
        )
    console.print(table)
    issues = report["data_issues"]
    assert isinstance(issues, dict)
    past = issues["error_steps_past_end"]
    console.print(
        f"{past['count']} instances list error steps past their last step "
        "(those indices are ignored in scoring):",
        highlight=False,
    )
    for fault in past["instances"]:
        console.print(
            f"  {fault['id']}: error_steps {fault['error_steps']} with {fault['steps']} steps "
            f"({fault['source']})",
            highlight=False,
        )
    duplicates = issues["duplicate_ids"]
    console.print(
        f"{duplicates['count']} instance ids repeat (the first occurrence is used):", highlight=False
    )
    for fault in duplicates["instances"]:
        same = "same content" if fault["same_content"] else "different content"
        console.print(f"  {fault['id']}: {', '.join(fault['sources'])} ({same})", highlight=False)
    if "predictions" in report:
        p = report["predictions"]
        assert isinstance(p, dict)
        console.print(
            f"predictions {p['path']}: {p['count']} lines, {p['invalid']} marked invalid, "
            f"{len(p['missing'])} instances without a prediction",
            highlight=False,
        )


@prm_group.command("run")
@click.option(
    "--scorer",
    required=True,
    type=click.Choice(sorted(SCORERS)),
    help="PRM family (see surestep prm scorers).",
)
@click.option(
    "--model",
    required=True,
    metavar="PATH_OR_HUB_ID",
    help="Model directory or Hub id (critic: the model name the server serves).",
)
@data_option
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run directory (resumable).")
@click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default=PRMBENCH,
    show_default=True,
    help="prmbench: PRMBench's own inputs, reads, thresholds, 2,048-token cut and dtypes (a table "
    "to set beside the paper's); card: each model card's intent (see surestep prm scorers).",
)
@click.option(
    "--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N (the protocol sets the dtype)."
)
@click.option(
    "--device-map",
    "device_map",
    type=click.Choice(DEVICE_MAPS),
    help="Spread a PRM larger than one GPU over every visible GPU (accelerate's device_map, "
    "passed to from_pretrained; replaces --device: inputs go to the first layer's device). "
    "With --ray, over each replica's --gpus-per-replica.",
)
@scorer_options(
    batch_help="Padded tokens per forward pass; instances are bucketed by length.",
    max_length_help="Cut inputs at this many tokens [default: 2,048 under prmbench, the model's context "
    "under card]; cut steps are reported.",
    reward_help="skywork-prm under card: score steps by reward differences (prmbench always does).",
    few_shot_help="critic: worked examples (question, steps, validity, redundancy) to show first.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Score a stratified sample of N records: spread over the nine error categories as evenly "
    "as they allow, drawn with a fixed seed (0) and recorded in the manifest, so resuming "
    "scores the same instances; a larger N keeps a smaller N's records.",
)
@click.option(
    "--first",
    type=click.IntRange(min=1),
    help="Score only the first N records, in data order (not with --limit).",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Instances per commit to the run store.",
)
@click.option(
    "--threshold",
    type=float,
    help="Validity threshold for the table [default: the scorer's, under the protocol].",
)
@click.option(
    "--threshold-redundancy",
    "threshold_redundancy",
    type=float,
    help="Redundancy threshold for the table [default: the scorer's, under the protocol].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the PRMBench scores as one JSON object.")
@price_options("critic: prices its tokens; recorded in results.json for later commands")
@scale_out_options
def run_command(
    scorer: str,
    model: str,
    data: str,
    out: Path,
    protocol: str,
    device: str,
    device_map: str | None,
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
    limit: int | None,
    first: int | None,
    chunk: int,
    threshold: float | None,
    threshold_redundancy: float | None,
    as_json: bool,
    price_input: float | None,
    price_output: float | None,
    **spread: str | float | None,
) -> None:
    """Score PRMBench with a PRM into a resumable run directory, then print the PRMBench table."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from surestep.api import prm_run
    from surestep.cli.common import typed_invocation
    from surestep.report.prm_tables import print_prmbench

    console = Console(stderr=True)
    with Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("prm", total=None, detail="")

        def show(p: PRMRunProgress) -> None:
            bar.update(
                task,
                total=p.total,
                completed=p.done,
                detail=f"{p.steps} steps, {p.invalid} invalid, {p.truncated_steps} truncated steps",
            )

        done = prm_run(
            scorer,
            model,
            out,
            data=data,
            protocol=protocol,
            device=device,
            device_map=device_map,
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
            limit=limit,
            first=first,
            chunk=chunk,
            threshold=threshold,
            threshold_redundancy=threshold_redundancy,
            price_input=price_input,
            price_output=price_output,
            progress=show,
            invocation=typed_invocation(),
            **spread,  # type: ignore[arg-type]
        )
    if as_json:
        sys.stdout.write(json.dumps(done.to_dict(), ensure_ascii=False) + "\n")
    else:
        print_prmbench(done.score, Console())
    console.print(f"predictions: {done.predictions}", highlight=False)
    line = critic_cost_line(done.cost)
    if line is not None:
        console.print(line, highlight=False)


def critic_cost_line(cost: CostSummary) -> str | None:
    """A served scorer's tokens and, when priced, their cost, in total and per valid instance
    (None: no instance has token counts, as with a local PRM)."""
    total = cost.total
    if total.tokens is None:
        if total.missing == total.draws:
            return None
        return f"tokens: not reported for {total.missing:,} instances"
    per = total.tokens_per_correct
    line = (
        f"tokens: {total.tokens:,} ({total.prompt_tokens:,} prompt, {total.completion_tokens:,} completion) "
        f"over {total.draws:,} instances; "
        + ("no valid instance" if per is None else f"{per:,.0f} per valid one")
    )
    if total.cost is not None:
        per_cost = total.cost_per_correct
        line += f"; cost ${total.cost:,.4f}"
        line += "" if per_cost is None else f", ${per_cost:,.6f} per valid instance"
    return line


@prm_group.command("scorers")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print every scorer's models and, per protocol, its defaults with their sources.",
)
def scorers_command(as_json: bool) -> None:
    """List the PRM scorers: model ids, and per protocol the input, reads and defaults."""
    if as_json:
        listing = {"scorers": [info.to_json() for info in SCORERS.values()]}
        sys.stdout.write(json.dumps(listing, ensure_ascii=False) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="PRM scorers", title_justify="left", show_lines=True)
    for header in ("scorer", "models", "protocol", "format", "threshold", "redundancy", "cut", "dtype"):
        table.add_column(header)
    for info in SCORERS.values():
        for row, (protocol, defaults) in enumerate(info.to_json()["protocols"].items()):
            table.add_row(
                info.name if row == 0 else "",
                "\n".join(info.models) if row == 0 else "",
                protocol,
                defaults["format"],
                f"{defaults['threshold']:g}",
                "–" if defaults["redundancy_threshold"] is None else f"{defaults['redundancy_threshold']:g}",
                "context" if defaults["truncation"] is None else str(defaults["truncation"]),
                defaults["dtype"] or "–",
            )
    Console().print(table)
    Console().print(
        "Sources of every default: surestep prm scorers --json, or docs/prm-scorers.md.", highlight=False
    )
