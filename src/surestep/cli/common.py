"""Option parsing helpers shared by the command modules."""

from __future__ import annotations

import click


def parse_int_list(value: str | None, name: str) -> tuple[int, ...] | None:
    """'4,8,16' -> (4, 8, 16); a clear usage error otherwise."""
    if value is None:
        return None
    try:
        items = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated integers, got {value!r}", param_hint=name
        ) from None
    if not items or any(item < 1 for item in items):
        raise click.BadParameter(f"expected integers >= 1, got {value!r}", param_hint=name)
    return tuple(sorted(set(items)))


def parse_float_list(value: str | None, name: str, *, low: float, high: float) -> tuple[float, ...] | None:
    """'0,0.5,1' -> (0.0, 0.5, 1.0), each within [low, high]."""
    if value is None:
        return None
    try:
        items = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated numbers, got {value!r}", param_hint=name
        ) from None
    if not items or any(not low <= item <= high for item in items):
        raise click.BadParameter(f"expected numbers in [{low}, {high}], got {value!r}", param_hint=name)
    return tuple(sorted(set(items)))
