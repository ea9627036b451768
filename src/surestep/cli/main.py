"""Entry point of the ``surestep`` console script."""

from __future__ import annotations

import sys

import click

from surestep import __version__
from surestep.cli.grade import grade_command
from surestep.cli.prm import prm_group
from surestep.cli.report import compare_command, report_command
from surestep.cli.run import demo_command, export_command, generate_command, run_command
from surestep.cli.score import score_command
from surestep.errors import SurestepError

EXIT_BAD_INPUT = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="surestep")
def cli() -> None:
    """surestep: how reliably do language models reason about math?"""


cli.add_command(score_command)
cli.add_command(grade_command)
cli.add_command(run_command)
cli.add_command(generate_command)
cli.add_command(export_command)
cli.add_command(demo_command)
cli.add_command(prm_group)
cli.add_command(report_command)
cli.add_command(compare_command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one line on stderr and exit with status 2."""
    try:
        cli.main(args=argv, prog_name="surestep", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except SurestepError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
