"""``surestep resume RUN``: continue a run with the command recorded in its manifest."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from surestep.errors import SurestepError


@click.command("resume")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the command that would run, and stop.")
def resume_command(run_dir: Path, dry_run: bool) -> None:
    """Continue RUN (a `run`, `generate`, `demo` or `prm run` directory) as its command would.

    The command recorded in RUN's manifest runs again in the directory it was typed in, with
    --out set to RUN: what is done is kept, only what is missing is generated or scored.
    """
    from surestep.runs.invocation import read_invocation, resume_arguments

    invocation = read_invocation(run_dir)
    argv = resume_arguments(invocation, run_dir)
    if not Path(invocation.cwd).is_dir():
        raise SurestepError(
            f"{run_dir}: its command was given in {invocation.cwd}, which no longer exists; "
            f"give it again from where its relative paths hold: surestep {shlex.join(argv)}"
        )
    click.echo(f"resuming in {invocation.cwd}: surestep {shlex.join(argv)}", err=True)
    if dry_run:
        return
    from surestep.cli.main import main

    os.chdir(invocation.cwd)  # the recorded paths are relative to it; this process ends with the run
    main(argv)
