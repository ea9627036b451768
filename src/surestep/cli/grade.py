"""``surestep grade``: extract and judge the final answer of every response in a file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from surestep.cli.grading_options import grading_options
from surestep.runs.grading_job import summary_line


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
@click.option("--json", "as_json", is_flag=True, help="Print the grading summary as one JSON object.")
@grading_options
def grade_command(file: Path, output: Path | None, regrade: bool, as_json: bool, **options: Any) -> None:
    """Grade FILE (lines with problem_id, sample_index, response, gold) or a run directory.

    A file's graded copy (-o) feeds `surestep score` directly; a run directory's grades
    are stored in the run. A summary goes to stderr.
    """
    from surestep.api import grade

    result = grade(file, output=output, regrade=regrade, **options)
    click.echo(summary_line(result.stats), err=True)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
