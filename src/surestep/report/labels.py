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
    """'G-Pass@16_0.75' -> 'G-Pass@16 τ=0.75', 'pass@16' -> 'Pass@16', 'overall' -> 'PRMScore Overall'."""
    if key in LABELS:
        return LABELS[key]
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
