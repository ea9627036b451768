"""How figures are named and written for people: metric keys to labels, fractions to percent."""

from __future__ import annotations

import math

from surestep.metrics.dataset import GREEDY_KEY
from surestep.prm.data import CATEGORIES, GROUPS

LABELS = {
    GREEDY_KEY: "Greedy",
    "overall": "PRMScore Overall",
    **{group: f"PRMScore {group.capitalize()}" for group in GROUPS},
    **{c.key: f"PRMScore {c.abbreviation}" for c in CATEGORIES},
}


def label(key: str) -> str:
    """'G-Pass@16_0.75' -> 'G-Pass@16 τ=0.75', 'pass@16' -> 'Pass@16', 'overall' -> 'PRMScore Overall',
    'best_of_n@8' -> 'best-of-8', 'weighted_vote@8' -> 'PRM-weighted vote@8'."""
    if key in LABELS:
        return LABELS[key]
    if key.startswith("best_of_n@"):
        return "best-of-" + key[len("best_of_n@") :]
    if key.startswith("weighted_vote@"):
        return "PRM-weighted vote@" + key[len("weighted_vote@") :]
    if key.startswith("pass@"):
        return "Pass@" + key[len("pass@") :]
    if key.startswith("relative_drop@"):
        return "Rel. drop@" + key[len("relative_drop@") :]
    name, sep, tau = key.partition("_")
    return f"{name} τ={tau}" if sep and name.startswith("G-Pass@") else key


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as percent with ``digits`` decimals; '–' for none or NaN."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f}"
