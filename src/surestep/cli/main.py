"""Entry point of the ``surestep`` console script.

Commands are imported only when they run (see ``surestep.cli.lazy``): ``surestep --help``
imports no command module, and ``surestep score`` never loads what ``surestep prm`` needs.
"""

from __future__ import annotations

import sys

import click

from surestep.cli.lazy import LazyCommand, LazyGroup
from surestep.errors import SurestepError

EXIT_BAD_INPUT = 2

COMMANDS = {
    "audit": LazyCommand(
        "surestep.cli.audit:audit_command",
        "Audit the grades of RUN_DIR against an LLM judge on a stratified sample of its draws.",
    ),
    "bon": LazyCommand(
        "surestep.cli.bon:bon_command",
        "Score every sampled draw of RUN with a PRM (resumable, in the run store), then best-of-N figures.",
    ),
    "compare": LazyCommand(
        "surestep.cli.report:compare_command",
        "Paired bootstrap of B − A for each headline figure over what both runs share.",
    ),
    "demo": LazyCommand(
        "surestep.cli.run:demo_command",
        "The bundled demo set x the bundled SmolLM2-135M on this machine, end to end.",
    ),
    "export": LazyCommand(
        "surestep.cli.run:export_command",
        "Write a run's draws (with grades when present) as JSONL in the `surestep score` format.",
    ),
    "generate": LazyCommand(
        "surestep.cli.run:generate_command",
        "Sample draws from a model into a run directory (resumes; generates only what is missing).",
    ),
    "grade": LazyCommand(
        "surestep.cli.grade:grade_command",
        "Grade FILE (lines with problem_id, sample_index, response, gold) or a run directory.",
    ),
    "merge": LazyCommand(
        "surestep.cli.merge:merge_command",
        "Combine the shard directories of one run (made with --shard i/N) into one run directory.",
    ),
    "plan": LazyCommand(
        "surestep.cli.plan:plan_command",
        "Predict interval half-widths for any number of problems and draws from a pilot RUN.",
    ),
    "prm": LazyCommand("surestep.cli.prm:prm_group", "Process reward models on PRMBench."),
    "report": LazyCommand(
        "surestep.cli.report:report_command",
        "Write one self-contained HTML report for stability runs, PRM runs, or both.",
    ),
    "resume": LazyCommand(
        "surestep.cli.resume:resume_command",
        "Continue RUN (a `run`, `generate`, `demo` or `prm run` directory) as its command would.",
    ),
    "run": LazyCommand(
        "surestep.cli.run:run_command",
        "Generate, grade and score: the whole job, resumable at every step.",
    ),
    "score": LazyCommand(
        "surestep.cli.score:score_command",
        "Compute Greedy, Pass@k, G-Pass@k_tau, mG-Pass@k and maj@k from draws in FILE.",
    ),
}
"""Every command: where it lives and its short help (kept equal to the command's own by a test)."""


def _show_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    """``--version``: read the installed version only when asked."""
    if not value or ctx.resilient_parsing:
        return
    from surestep import __version__

    click.echo(f"surestep, version {__version__}")
    ctx.exit()


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """surestep: how reliably do language models reason about math?"""


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
