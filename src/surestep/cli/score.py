"""``surestep score``: stability metrics from a file of graded draws."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from surestep.cli.common import parse_float_list, parse_int_list
from surestep.cli.grading_options import grading_config, grading_options
from surestep.data.draws import DrawRecord, group_draws, parse_draw
from surestep.errors import InputError
from surestep.runs.grading_job import (
    NumberedRecord,
    grade_records,
    needs_grading,
    read_records,
    summary_line,
)

if TYPE_CHECKING:  # metrics (numpy), tables (rich) and runs are imported when a command runs
    from surestep.runs.store import RunStore


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
    from rich.console import Console

    from surestep.metrics import StabilityProtocol
    from surestep.report.tables import print_score_sheet
    from surestep.runs.scoring import ScoreOptions, score_problems

    k_values = parse_int_list(ks, "--k")
    tau_values = parse_float_list(taus, "--tau", low=0.0, high=1.0)
    if file.is_dir():
        _score_run(
            file,
            grading,
            k_values,
            tau_values,
            n=n,
            ci=ci,
            resamples=resamples,
            confidence=confidence,
            by=by,
            seed=seed,
            as_json=as_json,
        )
        return
    protocol = StabilityProtocol(seed=seed)
    if k_values is not None:
        protocol = replace(protocol, ks=k_values)
    if tau_values is not None:
        protocol = replace(protocol, taus=tau_values)
    options = ScoreOptions(protocol=protocol, by=by, ci=ci, n_resamples=resamples, confidence=confidence)
    problems = group_draws(_graded_draws(file, grading), path=file, n=n)
    sheet = score_problems(problems, options, path=file, explicit_ks=k_values is not None)
    if as_json:
        sys.stdout.write(json.dumps(sheet.to_json(), indent=2) + "\n")
    else:
        print_score_sheet(sheet, Console())


def _score_run(
    directory: Path,
    grading: dict[str, Any],
    k_values: tuple[int, ...] | None,
    tau_values: tuple[float, ...] | None,
    **options: Any,
) -> None:
    from surestep.grading.grader import Grader
    from surestep.runs.pipeline import grade_run
    from surestep.runs.runner import open_run

    store, manifest = open_run(directory)
    with store:
        ungraded = any(store.count_ungraded(config) for config in manifest["configs"].values())
        if ungraded:
            with Grader(grading_config(**grading)) as grader:
                click.echo(summary_line(grade_run(store, grader, manifest)), err=True)
        score_store(store, manifest, ks=k_values, taus=tau_values, **options)


def _graded_draws(file: Path, grading: dict[str, Any]) -> list[DrawRecord]:
    """Draws of FILE, grading the lines that carry a response but no grade."""
    records = read_records(file)
    ungraded = [r for r in records if needs_grading(r)]
    if ungraded:
        graded, stats = grade_records(ungraded, grading_config(**grading), path=file)
        click.echo(summary_line(stats), err=True)
        by_line = {r.line: fields for r, fields in zip(ungraded, graded)}
        records = [NumberedRecord(r.line, by_line.get(r.line, r.fields)) for r in records]
    if not records:
        raise InputError("no draws found", path=file)
    return [parse_draw(r.fields, path=file, line=r.line) for r in records]


def score_store(
    store: RunStore,
    manifest: dict[str, Any],
    *,
    ks: tuple[int, ...] | None,
    taus: tuple[float, ...] | None = None,
    n: int | None = None,
    ci: bool = True,
    resamples: int = 1000,
    confidence: float = 0.95,
    by: str | None = None,
    seed: int = 0,
    as_json: bool = False,
) -> None:
    """Score a run's graded draws (the first n per problem) and print the sheet."""
    from rich.console import Console

    from surestep.metrics import StabilityProtocol
    from surestep.report.audit_tables import print_audit
    from surestep.report.tables import print_score_sheet
    from surestep.runs.audit import audit_summary
    from surestep.runs.pipeline import scored_draws
    from surestep.runs.scoring import ScoreOptions, score_problems

    run_n = n or int(manifest["n"])
    problems = group_draws(scored_draws(store, manifest, run_n), path=store.directory, n=run_n)
    protocol = StabilityProtocol(seed=seed)
    run_ks = ks or tuple(manifest.get("protocol", {}).get("ks", ()))
    if run_ks:
        protocol = replace(protocol, ks=run_ks)
    if taus:
        protocol = replace(protocol, taus=taus)
    options = ScoreOptions(protocol=protocol, by=by, ci=ci, n_resamples=resamples, confidence=confidence)
    sheet = score_problems(problems, options, path=store.directory, explicit_ks=ks is not None)
    audit = audit_summary(store, manifest, confidence=confidence)  # the latest surestep audit, if any
    if as_json:
        data = sheet.to_json()
        if audit is not None:
            data["audit"] = audit.to_dict()
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        print_score_sheet(sheet, Console())
        if audit is not None:
            print_audit(audit, Console(), disagreements=False)
