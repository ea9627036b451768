"""``surestep plan``: how many problems and draws a study needs, predicted from a pilot run."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from surestep.cli.common import parse_int_list
from surestep.errors import InputError

if TYPE_CHECKING:  # numpy, rich and the run machinery are imported when the command runs
    from rich.console import Console

    from surestep.runs.planning import FigurePlan, StudyPlan


@click.command("plan")
@click.argument("run", type=click.Path(path_type=Path))
@click.option(
    "--target",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.02,
    show_default=True,
    help="Target interval half-width, as a fraction (0.02 = ±2 points).",
)
@click.option(
    "--detect",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.03,
    show_default=True,
    help="Difference between two models to detect in a paired comparison (a fraction).",
)
@click.option(
    "--power",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    help="Power of the paired comparison.",
)
@click.option(
    "--against",
    type=click.Path(path_type=Path),
    help="A second run on the same problems: the paired comparison uses the pair's correlation.",
)
@click.option(
    "--correlation",
    type=click.FloatRange(-1.0, 1.0),
    default=0.0,
    show_default=True,
    help="Without --against: assumed correlation of two models' per-problem values (0 is conservative).",
)
@click.option("--k", "ks", metavar="K,K,...", help="k values (default: the run's, else 4,8,16, those <= n).")
@click.option("--n", "n", type=click.IntRange(min=1), help="Use the first N draws per problem as the pilot.")
@click.option("--problems", "problem_grid", metavar="P,P,...", help="Problem counts of the grid.")
@click.option("--draws", "draw_grid", metavar="N,N,...", help="Draw counts of the grid.")
@click.option(
    "--figure",
    "shown",
    metavar="KEY,KEY,...",
    help="Figures to show grids for, or 'all' (default: the headline row of surestep score).",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Interval confidence level (and 1 - level of the paired test).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def plan_command(
    run: Path,
    target: float,
    detect: float,
    power: float,
    against: Path | None,
    correlation: float,
    ks: str | None,
    n: int | None,
    problem_grid: str | None,
    draw_grid: str | None,
    shown: str | None,
    confidence: float,
    as_json: bool,
) -> None:
    """Predict interval half-widths for any number of problems and draws from a pilot RUN.

    RUN is a run directory (every draw graded) or a graded JSONL file, as for `surestep
    score`. Each figure's variance over problems is split into its between-problem part and
    its within-problem (draw sampling) part; see docs/metrics.md.
    """
    from surestep.api import plan as plan_study

    plan = plan_study(
        run,
        target=target,
        detect=detect,
        power=power,
        against=against,
        correlation=correlation,
        ks=parse_int_list(ks, "--k"),
        n=n,
        problem_grid=parse_int_list(problem_grid, "--problems"),
        draw_grid=parse_int_list(draw_grid, "--draws"),
        confidence=confidence,
    )
    if as_json:
        sys.stdout.write(json.dumps(plan.to_dict(), indent=2) + "\n")
        return
    from rich.console import Console

    print_plan(plan, Console(), _grid_figures(plan, shown))


def _grid_figures(plan: StudyPlan, shown: str | None) -> list[FigurePlan]:
    """The figures whose grids to print: the headline row, 'all', or the keys asked for."""
    by_key = {f.key: f for f in plan.figures}
    if shown is None:
        return [by_key[key] for key in plan.headline if key in by_key]
    if shown.strip() == "all":
        return list(plan.figures)
    keys = [part.strip() for part in shown.split(",") if part.strip()]
    unknown = [key for key in keys if key not in by_key]
    if unknown or not keys:
        raise InputError(
            f"--figure: unknown figure {unknown[0] if unknown else shown!r}; known: {', '.join(by_key)}"
        )
    return [by_key[key] for key in keys]


def points(value: float | None, digits: int = 2) -> str:
    """A fraction in percentage points: 0.0184 -> '1.84'; missing -> '–'."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f}"


def _draws_cell(figure: FigurePlan) -> str:
    from surestep.metrics import planning as pm

    if figure.split.method == pm.FIXED:
        return "n/a"
    if figure.split.method == pm.UNKNOWN:
        return "?"
    if figure.draws_for_target is None:
        return f"never (±{points(figure.floor)})"
    return str(figure.draws_for_target)


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def print_plan(plan: StudyPlan, console: Console, grid_figures: list[FigurePlan]) -> None:
    """The split table, one grid per chosen figure, the paired table and the notes."""
    from rich.table import Table

    level = f"{100 * plan.confidence:g}%"
    console.print(
        f"Pilot {plan.source}: {plan.num_problems:,} problems × {plan.n} draws. "
        f"Half-widths (±) of {level} intervals, in percentage points."
    )
    split = Table(title=f"Variance split and the target ±{points(plan.target)}", title_justify="left")
    for name in ("figure", "value", "± now", "between SD", "within SD", "within share"):
        split.add_column(name, justify="left" if name == "figure" else "right")
    split.add_column(f"draws for target\n(P = {plan.num_problems:,})", justify="right")
    split.add_column(f"problems for target\n(n = {plan.n})", justify="right")
    for figure in plan.figures:
        s = figure.split
        share = s.within_share
        split.add_row(
            figure.key,
            points(s.mean, 1),
            points(figure.halfwidth),
            points(math.sqrt(s.between) if math.isfinite(s.between) else None),
            points(math.sqrt(s.within) if math.isfinite(s.within) else None),
            "–" if not math.isfinite(share) else f"{100 * share:.0f}%",
            _draws_cell(figure),
            _count(figure.problems_for_target),
        )
    console.print(split)
    for figure in grid_figures:
        grid = Table(
            title=f"Predicted ± for {figure.label} (rows: problems, columns: draws)", title_justify="left"
        )
        grid.add_column("P", justify="right")
        for draws in plan.draw_grid:
            grid.add_column(f"n={draws}", justify="right")
        for problems, row in zip(plan.problem_grid, figure.grid):
            style = "bold" if problems == plan.num_problems else None
            grid.add_row(f"{problems:,}", *(points(v) for v in row), style=style)
        console.print(grid)
    _print_paired(plan, console)
    for note in plan.notes:
        console.print(f"note: {note}", style="dim")


def _print_paired(plan: StudyPlan, console: Console) -> None:
    from rich.table import Table

    paired = plan.paired
    against = (
        f"against {paired.against} ({paired.shared_problems:,} shared problems)"
        if paired.against
        else f"assuming a second model like this one, correlation {paired.assumed_correlation:g}"
    )
    table = Table(
        title=(
            f"Problems to detect a difference of {points(paired.detect, 1)} points with power "
            f"{paired.power:g} (paired, two-sided, n = {plan.n}; {against})"
        ),
        title_justify="left",
    )
    table.add_column("figure")
    if paired.against:
        table.add_column("B − A", justify="right")
    for name in ("correlation", "SD of B − A", "problems"):
        table.add_column(name, justify="right")
    for figure in paired.figures:
        cells = [figure.key]
        if paired.against:
            cells.append(points(figure.difference, 1))
        correlation = "–" if not math.isfinite(figure.correlation) else f"{figure.correlation:.2f}"
        cells += [correlation, points(figure.sd, 1), _count(figure.problems)]
        table.add_row(*cells)
    console.print(table)
