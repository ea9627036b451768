"""Terminal tables of PRMBench results (rich): the paper's layout, then what it lacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from surestep.metrics.bootstrap import Interval
from surestep.prm.data import CATEGORIES, GROUPS
from surestep.prm.protocol import describe_protocol
from surestep.prm.scoring import PRMBenchScore, TableSummary
from surestep.report.tables import percent

BASELINE_LABELS = {"all_correct": "all-correct", "random": "random (seeded)", "oracle": "oracle"}
_DETAIL_COLUMNS = (
    ("f1", "F1"),
    ("negative_f1", "F1 neg"),
    ("correct_step_accuracy", "acc ✓ steps"),
    ("error_step_accuracy", "acc ✗ steps"),
    ("first_error_accuracy", "1st err acc"),
    ("similarity", "similarity"),
    ("auroc", "AUROC"),
    ("first_error_index_accuracy", "1st-err idx"),
)


def _span(interval: Interval | None) -> str:
    return "–" if interval is None else f"{percent(interval.low)}–{percent(interval.high)}"


def paper_columns() -> list[tuple[str, str]]:
    """(key, header) in the paper's order: Overall, then each group's categories and the group mean."""
    columns = [("overall", "Overall")]
    for group in GROUPS:
        columns += [(c.key, c.abbreviation) for c in CATEGORIES if c.group == group]
        columns.append((group, group.capitalize()))
    return columns


def _paper_row(summary: TableSummary) -> list[str]:
    cells = []
    for key, _ in paper_columns():
        if key in summary.groups:
            cells.append(percent(summary.groups[key]))
        else:
            row = summary.rows.get(key)
            cells.append(percent(None if row is None else row["prmscore"]))
    return cells


def paper_table(score: PRMBenchScore) -> Table:
    """PRMScore per category, group means and Overall, with the baselines beneath."""
    title = "PRMBench PRMScore (percent)"
    if score.protocol is not None and not score.protocol.get("comparable_with_prmbench"):
        title += f" — protocol {score.protocol.get('protocol')}: not comparable with the paper's table"
    table = Table(title=title, title_justify="left")
    table.add_column("model", no_wrap=True)
    for _, header in paper_columns():
        table.add_column(header, justify="right")
    table.add_row(score.name, *_paper_row(score.summary), style="bold")
    for name, summary in score.baselines.items():
        table.add_row(BASELINE_LABELS.get(name, name), *_paper_row(summary), style="dim")
    return table


def detail_table(score: PRMBenchScore) -> Table:
    """Per category and Overall: PRMScore with its interval, F1s, accuracies and AUROC."""
    confidence = f"{100 * score.options.confidence:.0f}% CI"
    table = Table(title=f"{score.name}: per category (percent)", title_justify="left")
    for header in ("category", "steps", "PRMScore", confidence, *(h for _, h in _DETAIL_COLUMNS)):
        table.add_column(header, justify="left" if header == "category" else "right", no_wrap=True)
    abbreviations = {c.key: c.abbreviation for c in CATEGORIES}
    for key, row in score.summary.rows.items():
        label = "Overall" if key == "overall" else f"{abbreviations[key]} {key}"
        table.add_row(
            label,
            str(row["steps"]),
            percent(row["prmscore"]),
            _span(row["interval"]),
            *(percent(row[name]) for name, _ in _DETAIL_COLUMNS),
            style="bold" if key == "overall" else None,
        )
    return table


def error_position_table(rows: list[Mapping[str, Any]]) -> Table:
    """Accuracy on erroneous steps by their position in the solution."""
    table = Table(title="accuracy on erroneous steps by position (percent)", title_justify="left")
    table.add_column("position")
    for row in rows:
        table.add_column(str(row["position"]), justify="right")
    table.add_row("accuracy", *(percent(r["accuracy"]) for r in rows))
    table.add_row("steps", *(str(r["steps"]) for r in rows), style="dim")
    return table


def _notes(score: PRMBenchScore) -> list[str]:
    notes = []
    index = score.summary.first_error_index
    notes.append(
        f"first-error-index F1 (ProcessBench style): {percent(index['f1'])} "
        f"(exact first error on {index['flawed']} flawed: {percent(index['flawed_accuracy'])}; "
        f"'no error' on {index['error_free']} error-free: {percent(index['error_free_accuracy'])})"
    )
    if score.tuning is not None:
        t = score.tuning
        notes.append(
            f"tuned threshold {t['threshold']:.4g} on {t['tune_instances']} instances "
            f"(PRMScore {percent(t['tune_prmscore'])}); held-out {t['heldout_instances']}: "
            f"{percent(t['heldout']['prmscore'])} tuned vs "
            f"{percent(t['heldout_at_given_labels']['prmscore'])} at the given labels"
        )
    issues = score.data_issues
    notes.append(
        f"data: {issues['error_steps_past_end']['count']} instances list error steps past their last step "
        f"(ignored), {issues['duplicate_ids']['count']} ids repeat (first used); "
        "`surestep prm validate` lists them"
    )
    for key, text in (
        ("missing_predictions", "instances have no prediction (excluded)"),
        ("invalid_predictions", "predictions are marked invalid (excluded)"),
    ):
        if issues[key]["count"]:
            notes.append(f"{issues[key]['count']} {text}")
    past_end = issues.get("reads_past_end") or {"count": 0}
    if past_end["count"]:
        notes.append(
            f"{past_end['count']} predictions carry reads past their last step, counted as further steps "
            f"as PRMBench's evaluator counts them ({past_end['counted_positions']} positions)"
        )
    short = issues["short_predictions"]
    if short["count"]:
        notes.append(
            f"{short['count']} predictions cover fewer steps than their solution "
            f"({short['unscored_steps']} steps not counted)"
        )
    return notes


def print_wide(console: Console, table: Table) -> None:
    """Print a table at its natural width, even past the console's: squeezed numbers are unreadable."""
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if needed <= console.width:
        console.print(table)
        return
    Console(
        file=console.file, width=needed, no_color=console.no_color, force_terminal=console.is_terminal
    ).print(table)


def print_prmbench(score: PRMBenchScore, console: Console) -> None:
    """The paper's table, the per-category detail, error positions and notes."""
    print_wide(console, paper_table(score))
    if score.protocol is not None:
        console.print(describe_protocol(score.protocol), highlight=False)
    print_wide(console, detail_table(score))
    print_wide(console, error_position_table(list(score.summary.error_positions)))
    for note in _notes(score):
        console.print(f"• {note}", highlight=False)
