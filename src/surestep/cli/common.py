"""Option parsing helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from surestep.cli.lazy import ARGV_KEY

N = TypeVar("N", int, float)


def _parse_list(
    value: str | None, name: str, convert: Callable[[str], N], accept: Callable[[N], bool], expected: str
) -> tuple[N, ...] | None:
    """'a,b,c' -> sorted distinct values; a usage error naming the option otherwise."""
    if value is None:
        return None
    try:
        items = [convert(part) for part in value.split(",") if part.strip()]
    except ValueError:
        items = []
    if not items or not all(accept(item) for item in items):
        raise click.BadParameter(f"expected comma-separated {expected}, got {value!r}", param_hint=name)
    return tuple(sorted(set(items)))


def parse_int_list(value: str | None, name: str) -> tuple[int, ...] | None:
    """'4,8,16' -> (4, 8, 16)."""
    return _parse_list(value, name, int, lambda item: item >= 1, "integers >= 1")


def parse_float_list(value: str | None, name: str, *, low: float, high: float) -> tuple[float, ...] | None:
    """'0,0.5,1' -> (0.0, 0.5, 1.0), each within [low, high]."""
    return _parse_list(value, name, float, lambda item: low <= item <= high, f"numbers in [{low}, {high}]")


def typed_invocation() -> dict[str, Any] | None:
    """The command line being run, as a manifest records it for ``surestep resume``; None when
    the command was not started from the ``surestep`` group (called from Python)."""
    from surestep.runs.invocation import invocation_of

    context = click.get_current_context(silent=True)
    argv = None if context is None else context.meta.get(ARGV_KEY)
    return None if not argv else invocation_of(argv, Path.cwd())
