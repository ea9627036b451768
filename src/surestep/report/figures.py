"""Static figures for papers (PNG and SVG, matplotlib): the same data as the HTML report's charts.

matplotlib is imported when figures are asked for (extra ``report``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from surestep.errors import SurestepError
from surestep.metrics.dataset import mg_pass_key
from surestep.prm.data import CATEGORIES
from surestep.report.data import PRMView, StabilityView
from surestep.report.svg import PALETTE


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SurestepError("--figures needs matplotlib: pip install 'surestep[report]'") from None
    return plt


def _save(fig: Any, directory: Path, stem: str) -> list[Path]:
    paths = [directory / f"{stem}.png", directory / f"{stem}.svg"]
    fig.tight_layout()
    fig.savefig(paths[0], dpi=200)
    fig.savefig(paths[1], metadata={"Date": None})
    return paths


def write_figures(stability: Sequence[StabilityView], prm: Sequence[PRMView], directory: Path) -> list[Path]:
    """Write every figure of the report as PNG and SVG into ``directory``; returns the paths."""
    plt = _pyplot()
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for k in sorted({c.k for run in stability for c in run.curves}):
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for i, run in enumerate(stability):
            curve = next((c for c in run.curves if c.k == k), None)
            if curve is None:
                continue
            taus = [0.0] + [m / k for m in range(1, k + 1)]
            ax.step(taus, [curve.values[0], *curve.values], where="pre", color=PALETTE[i % 8], label=run.name)
            ax.plot([0], [curve.pass_at_k], "o", color=PALETTE[i % 8])
            if run.greedy is not None:
                ax.axhline(run.greedy, color=PALETTE[i % 8], linestyle="--", linewidth=1)
        ax.set(xlabel="τ", ylabel=f"G-Pass@{k}", ylim=(0, 1.02), xlim=(0, 1))
        ax.legend(fontsize=8)
        written += _save(fig, directory, f"g_pass_curve_k{k}")
        plt.close(fig)
    if stability:
        ks = {run.headline_k for run in stability}  # each run at its own headline k
        for field in sorted({f for run in stability for f in run.subsets}):
            labels = sorted({lab for run in stability for lab in run.subsets.get(field, {})})
            fig, ax = plt.subplots(figsize=(max(4, 0.9 * len(labels) + 2), 3.2))
            width = 0.8 / len(stability)
            for i, run in enumerate(stability):
                values = [
                    run.subsets.get(field, {}).get(lab, {}).get(mg_pass_key(run.headline_k), math.nan)
                    for lab in labels
                ]
                ax.bar(
                    [x + i * width for x in range(len(labels))],
                    values,
                    width,
                    color=PALETTE[i % 8],
                    label=run.name,
                )
            ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels, rotation=30, ha="right")
            ylabel = mg_pass_key(next(iter(ks))) if len(ks) == 1 else "mG-Pass@k (each run's k)"
            ax.set(ylabel=ylabel, ylim=(0, 1))
            ax.legend(fontsize=8)
            written += _save(fig, directory, f"subsets_{field}")
            plt.close(fig)
    if prm:
        written += _prm_figures(plt, prm, directory)
    return written


def _prm_figures(plt: Any, prm: Sequence[PRMView], directory: Path) -> list[Path]:
    written: list[Path] = []
    names = [c.abbreviation for c in CATEGORIES]
    angles = [2 * math.pi * i / len(names) for i in range(len(names))]
    fig = plt.figure(figsize=(4.6, 4.6))
    ax = fig.add_subplot(polar=True)
    for i, run in enumerate(prm):
        values = [v if math.isfinite(v) else 0.0 for v in run.radar().values()]
        ax.plot([*angles, angles[0]], [*values, values[0]], color=PALETTE[i % 8], label=run.name)
        ax.fill([*angles, angles[0]], [*values, values[0]], color=PALETTE[i % 8], alpha=0.1)
    ax.set_xticks(angles, names)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.15, -0.1))
    written += _save(fig, directory, "prm_radar")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for i, run in enumerate(prm):
        rows = run.error_positions()
        ax.plot(
            [p for p, _, _ in rows], [a for _, _, a in rows], marker="o", color=PALETTE[i % 8], label=run.name
        )
    ax.set(xlabel="position of the erroneous step", ylabel="accuracy", ylim=(0, 1))
    ax.legend(fontsize=8)
    written += _save(fig, directory, "prm_error_positions")
    plt.close(fig)
    for run in prm:
        bias = run.positive_bias()
        keys = list(bias)
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        xs = range(len(keys))
        ax.bar(
            [x - 0.2 for x in xs], [bias[k][0] for k in keys], 0.4, color=PALETTE[0], label="correct steps"
        )
        ax.bar(
            [x + 0.2 for x in xs], [bias[k][1] for k in keys], 0.4, color=PALETTE[1], label="erroneous steps"
        )
        ax.set_xticks(list(xs), [next(c.abbreviation for c in CATEGORIES if c.key == k) for k in keys])
        ax.set(ylabel="step accuracy", ylim=(0, 1), title=run.name)
        ax.legend(fontsize=8)
        written += _save(fig, directory, f"prm_positive_bias_{_slug(run.name)}")
        plt.close(fig)
    return written


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
