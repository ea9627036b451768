"""Terminal tables of a grader audit (rich): agreement by verdict, the weighted rates, disagreements."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from surestep.metrics.bootstrap import Interval
from surestep.report.tables import percent
from surestep.runs.audit import AuditSummary, Estimate


def _span(interval: Interval | None) -> str:
    return "–" if interval is None else f"{percent(interval.low)}–{percent(interval.high)}"


def strata_table(summary: AuditSummary) -> Table:
    """One row per rule verdict: draws in the run, sampled, judged, agreement with its interval."""
    level = f"{100 * summary.confidence:.0f}% CI"
    table = Table(
        title=f"Grader audit: judge {summary.judge_model}, seed {summary.seed}, sample {summary.sample}",
        title_justify="left",
    )
    for name, justify in (
        ("rule verdict", "left"),
        ("draws", "right"),
        ("sampled", "right"),
        ("judged", "right"),
        ("agree", "right"),
        ("agreement %", "right"),
        (level, "right"),
        ("judge errors", "right"),
        ("pending", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in summary.strata:
        table.add_row(
            s.verdict,
            str(s.population),
            str(s.sampled),
            str(s.judged),
            str(s.agreed),
            percent(s.agreement),
            _span(s.interval),
            str(s.judge_errors),
            str(s.pending),
        )
    return table


def estimates_table(summary: AuditSummary) -> Table:
    """The population-weighted rates (percent) with their intervals."""
    level = f"{100 * summary.confidence:.0f}% CI"
    table = Table(title="Estimated over the run (strata weighted by size, percent)", title_justify="left")
    table.add_column("")
    table.add_column("estimate", justify="right")
    table.add_column(level, justify="right")
    table.add_column("judged draws", justify="right")
    rows: list[tuple[str, Estimate]] = [
        ("agreement with the judge", summary.agreement),
        ("false positives (rule: correct, judge: incorrect)", summary.false_positive_rate),
        ("false negatives (rule: incorrect/no answer, judge: correct)", summary.false_negative_rate),
        ("accuracy by the judge", summary.judge_accuracy),
    ]
    for name, estimate in rows:
        table.add_row(name, percent(estimate.value), _span(estimate.interval), str(estimate.judged))
    exact = percent(summary.rule_accuracy)
    table.add_row("accuracy by the rules (exact)", exact, "", str(summary.population))
    return table


def disagreements_table(summary: AuditSummary) -> Table:
    """Every sampled draw on which the judge and the rules differ."""
    title = f"Disagreements ({len(summary.disagreements)})"
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("problem", overflow="fold")
    table.add_column("draw", justify="right")
    table.add_column("gold", overflow="fold")
    table.add_column("extracted", overflow="fold")
    table.add_column("rules")
    table.add_column("judge")
    table.add_column("closing lines", overflow="fold", ratio=1)
    for d in summary.disagreements:
        table.add_row(
            d.problem_id,
            str(d.draw_index),
            d.gold,
            "–" if d.extracted_answer is None else d.extracted_answer,
            d.rule_verdict,
            d.judge_verdict,
            d.closing_lines,
        )
    return table


def notes(summary: AuditSummary) -> list[str]:
    """Lines on what the figures leave out: other verdicts, judge errors, draws not yet judged."""
    lines = [f"graded by: {', '.join(summary.graders) or '–'}"]
    if summary.excluded:
        shown = ", ".join(f"{count} {verdict}" for verdict, count in summary.excluded.items())
        lines.append(f"not audited (other verdicts): {shown}")
    if summary.judge_errors:
        lines.append(f"judge errors (left out of every figure): {summary.judge_errors}")
    if summary.pending:
        lines.append(f"sampled draws not judged yet: {summary.pending} (run surestep audit again)")
    return lines


def print_audit(summary: AuditSummary, console: Console, *, disagreements: bool = True) -> None:
    """The strata, the estimates, the notes and (unless told not to) the disagreements."""
    console.print(strata_table(summary))
    console.print(estimates_table(summary))
    for line in notes(summary):
        console.print(line, style="dim", highlight=False)
    if disagreements and summary.disagreements:
        console.print(disagreements_table(summary))
    elif summary.disagreements:
        console.print(
            f"{len(summary.disagreements)} disagreement(s): surestep audit {summary.run} lists them",
            style="dim",
            highlight=False,
        )
