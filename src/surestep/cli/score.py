"""``surestep score``: stability metrics from a file of graded draws."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from surestep.cli.common import parse_float_list, parse_int_list
from surestep.cli.cost_options import price_options
from surestep.cli.grading_options import grading_options
from surestep.runs.grading_job import summary_line

if TYPE_CHECKING:  # the jobs (numpy, the grader) and the tables (rich) are imported when a command runs
    from surestep.runs.jobs import ScoreResult
    from surestep.runs.results import RunResults


@click.command("score")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--k", "ks", metavar="K,K,...", help="k values (default 4,8,16, those <= n).")
@click.option("--tau", "taus", metavar="T,T,...", help="tau values in [0, 1] (default 0,0.25,0.5,0.75,1).")
@click.option(
    "--n",
    "n",
    type=click.IntRange(min=1),
    help="Use this many draws per problem (lowest sample_index first).",
)
@click.option("--ci", is_flag=True, help="Add percentile-bootstrap confidence intervals over problems.")
@click.option(
    "--resamples", type=click.IntRange(min=10), default=1000, show_default=True, help="Bootstrap resamples."
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Interval confidence level.",
)
@click.option("--by", "by", metavar="FIELD", help="Break figures down by a field of the draws, e.g. subset.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for bootstrap resamples.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@price_options("a run directory; default: the price its results.json recorded, which this records")
@grading_options
def score_command(
    file: Path,
    ks: str | None,
    taus: str | None,
    n: int | None,
    ci: bool,
    resamples: int,
    confidence: float,
    by: str | None,
    seed: int,
    as_json: bool,
    price_input: float | None,
    price_output: float | None,
    **grading: Any,
) -> None:
    """Compute Greedy, Pass@k, G-Pass@k_tau, mG-Pass@k and maj@k from draws in FILE.

    FILE is a JSONL file of draws (lines without `correct` but with `response` and `gold`
    are graded on the fly) or a run directory (ungraded draws are graded first).
    """
    from surestep.api import score

    result = score(
        file,
        ks=parse_int_list(ks, "--k"),
        taus=parse_float_list(taus, "--tau", low=0.0, high=1.0),
        n=n,
        ci=ci,
        resamples=resamples,
        confidence=confidence,
        by=by,
        seed=seed,
        price_input=price_input,
        price_output=price_output,
        **grading,
    )
    if result.grading is not None:
        click.echo(summary_line(result.grading), err=True)
    print_score(result, as_json)


def print_score(result: ScoreResult, as_json: bool) -> None:
    """The score sheet (and the run's latest audit) as tables, or as the ``--json`` object."""
    from rich.console import Console

    from surestep.report.audit_tables import print_audit
    from surestep.report.tables import print_score_sheet

    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        return
    print_score_sheet(result.sheet, Console())
    if result.results is not None:
        for line in cost_lines(result.results):
            click.echo(line)
    if result.audit is not None:
        print_audit(result.audit, Console(), disagreements=False)


def cost_lines(results: RunResults) -> list[str]:
    """A run's tokens (always) and, when it is priced, its cost: in total, per correct answer,
    per problem and per subset."""
    tokens = results.tokens
    if tokens.total is None:
        return [f"tokens: not reported for {tokens.missing:,} of {tokens.draws:,} scored draws"]
    per = tokens.total_per_correct
    lines = [
        f"tokens: {tokens.total:,} ({tokens.prompt:,} prompt, {tokens.completion:,} completion) over "
        f"{tokens.draws:,} draws; "
        + ("no correct answer" if per is None else f"{per:,.0f} per correct answer")
    ]
    cost = results.cost
    if cost is None or cost.prices is None or cost.total.cost is None:
        return lines
    p = cost.prices
    lines.append(
        f"cost: ${cost.total.cost:,.4f} at ${p.input:g} / ${p.output:g} per million prompt / "
        "completion tokens; " + _per_correct(cost.total.cost_per_correct)
    )
    spread = cost.cost_per_problem
    if spread.mean is not None and spread.median is not None:
        lines.append(f"cost per problem: mean ${spread.mean:,.6f}, median ${spread.median:,.6f}")
    for name, figures in cost.subsets.items():
        if figures.cost is not None:
            lines.append(f"  {name}: ${figures.cost:,.4f}; {_per_correct(figures.cost_per_correct)}")
    return lines


def _per_correct(value: float | None) -> str:
    return "no correct answer" if value is None else f"${value:,.6f} per correct answer"
