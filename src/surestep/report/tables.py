"""Terminal tables of stability figures (rich), in percent with one decimal."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from surestep.metrics import Interval
from surestep.metrics.dataset import (
    GREEDY_KEY,
    avg_key,
    drop_key,
    g_pass_key,
    maj_key,
    mg_pass_key,
    pass_key,
)
from surestep.metrics.keys import MetricKey, tau_label
from surestep.runs.scoring import ScoreSheet


def percent(value: float | None) -> str:
    """0.4567 -> '45.7'; missing or NaN -> '–'."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.1f}"


def column_label(key: str) -> str:
    """'G-Pass@16_0.75' -> 'G-Pass@16\\nτ=0.75' so headers fit narrow terminals."""
    try:
        parsed = MetricKey.parse(key)
    except ValueError:
        return key
    if parsed.tau is None:
        return key
    return f"{parsed.metric}@{parsed.k}\nτ={tau_label(parsed.tau)}"


def _cell(sheet: ScoreSheet, key: str, figures: dict[str, float] | None = None) -> str:
    return percent((sheet.metrics if figures is None else figures).get(key))


def _interval(sheet: ScoreSheet, key: str) -> str:
    interval: Interval | None = sheet.ci.get(key)
    if interval is None:
        return "–"
    return f"{percent(interval.low)}–{percent(interval.high)}"


def headline_table(sheet: ScoreSheet) -> Table:
    """One row of the headline figures, and a row of their intervals when computed."""
    table = Table(title=f"{sheet.num_problems} problems × {sheet.n} draws (percent)", title_justify="left")
    table.add_column("")
    for key in sheet.headline:
        table.add_column(column_label(key), justify="right")
    table.add_row("value", *(_cell(sheet, key) for key in sheet.headline))
    if sheet.ci:
        label = f"{100 * sheet.confidence:.0f}% CI"
        table.add_row(label, *(_interval(sheet, key) for key in sheet.headline), style="dim")
    return table


def detail_table(sheet: ScoreSheet) -> Table:
    taus = sheet.protocol.taus
    table = Table(title="G-Pass@k at each τ, by k (percent)", title_justify="left")
    table.add_column("k", justify="right")
    table.add_column("Pass@k", justify="right")
    for tau in taus:
        table.add_column(f"τ={tau:g}", justify="right")
    table.add_column("mG-Pass", justify="right")
    has_maj = any(maj_key(k) in sheet.metrics for k in sheet.protocol.ks)
    has_drop = any(drop_key(k) in sheet.metrics for k in sheet.protocol.ks)
    if has_maj:
        table.add_column("maj", justify="right")
    if has_drop:
        table.add_column("drop", justify="right")
    for k in sheet.protocol.ks:
        row = [str(k), _cell(sheet, pass_key(k))]
        row += [_cell(sheet, g_pass_key(k, tau)) for tau in taus]
        row.append(_cell(sheet, mg_pass_key(k)))
        if has_maj:
            row.append(_cell(sheet, maj_key(k)))
        if has_drop:
            row.append(_cell(sheet, drop_key(k)))
        table.add_row(*row)
    extras = [avg_key(sheet.n)] + ([GREEDY_KEY] if GREEDY_KEY in sheet.metrics else [])
    table.caption = "   ".join(
        f"{key}: {_cell(sheet, key)}" + (f" ({_interval(sheet, key)})" if sheet.ci else "") for key in extras
    )
    return table


def subset_table(sheet: ScoreSheet) -> Table:
    table = Table(title=f"By {sheet.by} (percent)", title_justify="left")
    table.add_column(sheet.by or "subset", no_wrap=True)
    table.add_column("problems", justify="right")
    for key in sheet.headline:
        table.add_column(column_label(key), justify="right")
    for name, figures in sheet.subsets.items():
        table.add_row(
            name,
            str(sheet.subset_sizes.get(name, "")),
            *(_cell(sheet, key, figures) for key in sheet.headline),
        )
    return table


def print_score_sheet(sheet: ScoreSheet, console: Console) -> None:
    """Headline row, the per-k detail, and the per-subset breakdown when grouped."""
    console.print(headline_table(sheet))
    console.print(detail_table(sheet))
    if sheet.subsets:
        console.print(subset_table(sheet))
