"""``surestep grade``: extract and judge the final answer of every response in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from surestep.cli.grading_options import grading_config, grading_options
from surestep.runs.grading_job import (
    check_draw_keys,
    grade_records,
    read_records,
    summary_line,
    write_jsonl_atomic,
)


@click.command("grade")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the graded draws (JSONL, the input plus grade fields).",
)
@grading_options
def grade_command(file: Path, output: Path, **options: Any) -> None:
    """Grade FILE: lines with problem_id, sample_index, response, gold (question, options optional).

    The output feeds `surestep score` directly; a summary goes to stderr.
    """
    config = grading_config(**options)
    records = read_records(file)
    for record in records:
        check_draw_keys(record, file)
    graded, stats = grade_records(records, config, path=file)
    write_jsonl_atomic(output, graded)
    click.echo(summary_line(stats), err=True)
