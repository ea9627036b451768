"""How figures are named and written for people: metric keys to labels, fractions to percent."""

from __future__ import annotations

import math

from surestep.metrics.keys import MetricKey
from surestep.prm.data import CATEGORIES, GROUPS

PRM_LABELS = {
    "overall": "PRMScore Overall",
    **{group: f"PRMScore {group.capitalize()}" for group in GROUPS},
    **{c.key: f"PRMScore {c.abbreviation}" for c in CATEGORIES},
}
"""Labels of the PRMBench figures (Overall, the groups, the categories), keyed as in prm score."""


def label(key: str) -> str:
    """A figure's display label: a metric key's from the table in :mod:`surestep.metrics.keys`
    ('G-Pass@16_0.75' -> 'G-Pass@16 τ=0.75', 'best_of_n@8' -> 'best-of-8'), a PRMBench figure's
    ('overall' -> 'PRMScore Overall'); any other key as it is."""
    if key in PRM_LABELS:
        return PRM_LABELS[key]
    try:
        return MetricKey.parse(key).label
    except ValueError:
        return key


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as percent with ``digits`` decimals; '–' for none or NaN."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f}"
