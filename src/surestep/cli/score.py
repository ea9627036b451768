"""``surestep score``: stability metrics from a file of graded draws."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from surestep.cli.common import parse_float_list, parse_int_list
from surestep.cli.grading_options import grading_options
from surestep.runs.grading_job import summary_line

if TYPE_CHECKING:  # the jobs (numpy, the grader) and the tables (rich) are imported when a command runs
    from surestep.runs.jobs import ScoreResult


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
    if result.audit is not None:
        print_audit(result.audit, Console(), disagreements=False)
