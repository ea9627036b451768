"""``surestep report`` (one self-contained HTML file for any mix of runs) and ``surestep compare``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from surestep.cli.cost_options import price_options
from surestep.metrics.cost import CostComparison
from surestep.report.compare import Comparison
from surestep.report.labels import label, pct
from surestep.report.write import write_report

__all__ = ["compare_command", "print_comparison", "report_command", "write_report"]


@click.command("report")
@click.argument(
    "run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@click.option(
    "--figures",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write every chart as PNG and SVG into this directory (needs matplotlib).",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for intervals a run's results.json lacks, and for runs without a "
    "current results.json, which are scored here (0: none).",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Confidence of the intervals computed here (results.json's keep their own).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed for runs scored here.")
@click.option("--title", help="Page title.")
@click.option(
    "--max-draw-chars",
    type=click.IntRange(min=20),
    help="Keep only the first and last half of this many characters of each draw's text "
    "(default: every draw in full). Bounds the size of runs with very long outputs.",
)
@price_options("stability and critic PRM runs; default: each run's price recorded in its results.json")
def report_command(
    run_dirs: tuple[Path, ...],
    output: Path,
    figures: Path | None,
    resamples: int,
    confidence: float,
    seed: int,
    title: str | None,
    max_draw_chars: int | None,
    price_input: float | None,
    price_output: float | None,
) -> None:
    """Write one self-contained HTML report for stability runs, PRM runs, or both."""
    from surestep.api import report

    written = report(
        run_dirs,
        output,
        figures=figures,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        title=title,
        max_draw_chars=max_draw_chars,
        price_input=price_input,
        price_output=price_output,
    )
    for note in written.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"report: {written.path}", err=True)
    if written.figures is not None:
        click.echo(f"figures: {written.figures}", err=True)


@click.command("compare")
@click.argument("run_a", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("run_b", type=click.Path(file_okay=False, exists=True, path_type=Path), required=False)
@click.option(
    "--bon",
    "bon",
    multiple=True,
    metavar="LABEL",
    help="Twice, with one run: compare two of its surestep bon results (A, then B) per N.",
)
@click.option("--resamples", type=click.IntRange(min=100), default=2000, show_default=True)
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@price_options("both runs; default: each run's price recorded in its results.json")
def compare_command(
    run_a: Path,
    run_b: Path | None,
    bon: tuple[str, ...],
    resamples: int,
    confidence: float,
    seed: int,
    as_json: bool,
    price_input: float | None,
    price_output: float | None,
) -> None:
    """Paired bootstrap of B − A for each headline figure over what both runs share.

    Two stability runs: Greedy, G-Pass@k, mG-Pass@k, Pass@k and the relative drop over shared
    problems, at the k each run's results.json was scored at (the largest shared one if their
    headline k differ; a run without a current results.json is scored at k 16). Two PRM
    runs: PRMScore Overall, per group and per category over shared PRMBench instances.
    RUN --bon A --bon B: best-of-N and PRM-weighted vote at each N of two surestep bon results
    of one run, over its problems.
    """
    from surestep.api import compare

    if bon and (len(bon) != 2 or run_b is not None):
        raise click.UsageError("--bon takes one run and two labels: surestep compare RUN --bon A --bon B")
    if bon and (price_input is not None or price_output is not None):
        raise click.UsageError("--price-input/--price-output do not apply to --bon")
    if not bon and run_b is None:
        raise click.UsageError(
            "give two runs (compare RUN_A RUN_B) or one run and two labels (RUN --bon A --bon B)"
        )
    result = compare(
        run_a,
        run_b,
        bon=bon,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        price_input=price_input,
        price_output=price_output,
    )
    for note in result.comparison.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        print_comparison(result.comparison, Console())


def print_comparison(comparison: Comparison, console: Console) -> None:
    title = (
        f"B − A  (A = {comparison.a}, B = {comparison.b}; {comparison.shared} shared {comparison.unit}; "
        f"{100 * comparison.confidence:.0f}% paired bootstrap interval; percent points)"
    )
    table = Table(title=title, title_justify="left")
    for header in ("metric", "A", "B", "B − A", "interval", "verdict"):
        table.add_column(header, justify="left" if header in ("metric", "verdict") else "right")
    for key, d in comparison.differences.items():
        table.add_row(
            label(key),
            pct(d.a),
            pct(d.b),
            pct(d.delta),
            f"{pct(d.interval.low)} … {pct(d.interval.high)}",
            comparison.verdict(key) or "no clear difference",
        )
    console.print(table)
    if comparison.only_a or comparison.only_b:
        console.print(
            f"left out: {comparison.only_a} {comparison.unit} only in A, {comparison.only_b} only in B",
            style="dim",
        )
    if comparison.invalid:
        console.print(
            f"left out: {comparison.invalid} instances with an invalid prediction in A or B", style="dim"
        )
    if comparison.cost is not None:
        per = "validly scored instance" if comparison.unit == "instances" else "correct answer"
        console.print(cost_line(comparison.cost, per=per))
    if comparison.bon is not None:
        for side in ("a", "b"):
            described = comparison.bon[side]
            model = f" {described['model']}" if described.get("model") else ""
            errors = described["weighted_vote_mc_error"]
            mc = (
                f"; weighted vote Monte Carlo at N={', '.join(errors)}, standard error ≤ "
                f"{100 * max(errors.values()):.2f} points"
                if errors
                else ""
            )
            console.print(
                f"{side.upper()} = {described['name']}: {described['scorer']}{model}, "
                f"{described['aggregate']} of step scores{mc}",
                style="dim",
                highlight=False,
            )


def cost_line(cost: CostComparison, per: str = "correct answer") -> str:
    """Tokens and cost per correct answer (PRM runs: per validly scored instance) of A and B over
    what they share, and B − A."""

    def number(value: float | None, money: bool) -> str:
        if value is None:
            return "–"
        return f"${value:,.6f}" if money else f"{value:,.0f}"

    def signed(value: float | None, money: bool) -> str:
        return "–" if value is None else ("+" if value >= 0 else "−") + number(abs(value), money)

    line = (
        f"tokens per {per}: A {number(cost.a.tokens_per_correct, False)}, "
        f"B {number(cost.b.tokens_per_correct, False)}, B − A {signed(cost.tokens_per_correct_delta, False)}"
    )
    if cost.prices_a is None or cost.prices_b is None:
        return line + " (no cost: give --price-input and --price-output)"
    return line + (
        f"\ncost per {per} (USD): A {number(cost.a.cost_per_correct, True)}, "
        f"B {number(cost.b.cost_per_correct, True)}, B − A {signed(cost.cost_per_correct_delta, True)}"
    )
