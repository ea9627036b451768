"""Write the HTML report (and optionally the static figures) of any mix of run directories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from surestep.metrics.cost import CostSummary, resolve_prices
from surestep.report.data import load_runs
from surestep.report.figures import write_figures
from surestep.report.html import render_report
from surestep.runs.prm_run import DATABASE as PRM_DATABASE
from surestep.runs.prm_run import prm_run_cost
from surestep.runs.results import run_cost, stored_prices
from surestep.runs.store import write_text_atomic


def write_report(
    directories: list[Path],
    output: Path,
    *,
    figures: Path | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    title: str | None = None,
    max_draw_chars: int | None = None,
    price_input: float | None = None,
    price_output: float | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Load the runs, write the HTML report atomically (and the static figures); returns its path.

    Each stability run's tokens are priced at the prices given (USD per million tokens), or else
    at those its results.json recorded; so are a PRM run's tokens (those its scorer reported: the
    critic's), where its directory has a results.json with prices. Each stability run's
    figures are those of its results.json where it describes the run (``report.stored``); ``log``
    receives a one-line note for each run scored here instead (the page says so too)."""
    stability, prm = load_runs(directories, resamples=resamples, confidence=confidence, seed=seed, log=log)
    stability = [
        replace(view, cost=run_cost(view.directory, price_input=price_input, price_output=price_output))
        for view in stability
    ]
    prm = [replace(view, cost=prm_cost(view.directory, price_input, price_output)) for view in prm]
    page = render_report(
        stability,
        prm,
        title=title or "surestep report: " + ", ".join(d.name for d in directories),
        max_draw_chars=max_draw_chars,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output, page)
    if figures is not None:
        write_figures(stability, prm, figures)
    return output


def prm_cost(directory: Path, price_input: float | None, price_output: float | None) -> CostSummary | None:
    """A PRM run's tokens and cost (``runs.prm_run.prm_run_cost``) at the prices given, or else at
    those of its results.json where it records some; None for a directory without a prediction
    store (its predictions.jsonl alone carries no tokens)."""
    prices = resolve_prices(price_input, price_output, stored_prices(directory))
    if not (directory / PRM_DATABASE).exists():
        return None
    return prm_run_cost(directory, prices)
