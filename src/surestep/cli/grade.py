"""``surestep grade``: extract and judge the final answer of every response in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from surestep.cli.grading_options import grading_config, grading_options
from surestep.grading import Grader
from surestep.runs.grading_job import (
    check_draw_keys,
    grade_records,
    read_records,
    summary_line,
    write_jsonl_atomic,
)
from surestep.runs.pipeline import grade_run
from surestep.runs.runner import open_run


@click.command("grade")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the graded draws (JSONL, the input plus grade fields). Not for run directories.",
)
@click.option(
    "--regrade", is_flag=True, help="Run directory: grade every draw again, not only ungraded ones."
)
@grading_options
def grade_command(file: Path, output: Path | None, regrade: bool, **options: Any) -> None:
    """Grade FILE (lines with problem_id, sample_index, response, gold) or a run directory.

    A file's graded copy (-o) feeds `surestep score` directly; a run directory's grades
    are stored in the run. A summary goes to stderr.
    """
    config = grading_config(**options)
    if file.is_dir():
        if output is not None:
            raise click.UsageError("-o is for files; a run directory keeps its grades")
        store, manifest = open_run(file)
        with store, Grader(config) as grader:
            stats = grade_run(store, grader, manifest, regrade=regrade)
        click.echo(summary_line(stats), err=True)
        return
    if output is None:
        raise click.UsageError("grading a file needs -o OUT.jsonl")
    records = read_records(file)
    for record in records:
        check_draw_keys(record, file)
    graded, stats = grade_records(records, config, path=file)
    write_jsonl_atomic(output, graded)
    click.echo(summary_line(stats), err=True)
