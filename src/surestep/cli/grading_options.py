"""Grading options shared by `surestep grade`, `score` and `run` (read by ``runs.jobs.grading_config``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from surestep.grading.records import GradingMode

F = TypeVar("F", bound=Callable[..., Any])


def grading_options(func: F) -> F:
    """Add --mode, --judge-*, --workers, --budget and the opt-in rules to a command."""
    decorators = [
        click.option(
            "--mode",
            type=click.Choice([m.value for m in GradingMode]),
            default="rule",
            show_default=True,
            help="rule: math-verify rules; judge: LLM judge only; "
            "cascade: rules, then the judge where rules find no match or cannot parse.",
        ),
        click.option("--judge-url", metavar="URL", help="Base URL of an OpenAI-compatible server (…/v1)."),
        click.option("--judge-model", metavar="NAME", help="Judge model name."),
        click.option(
            "--judge-api-key-env",
            default="OPENAI_API_KEY",
            show_default=True,
            help="Environment variable holding the judge's API key.",
        ),
        click.option(
            "--judge-cache",
            type=click.Path(dir_okay=False, path_type=Path),
            help="SQLite file caching judge replies across runs.",
        ),
        click.option("--workers", type=click.IntRange(min=1), help="Grading processes (default: all cores)."),
        click.option(
            "--budget",
            type=click.FloatRange(min=0.1),
            default=5.0,
            show_default=True,
            help="Wall-clock seconds allowed per answer before it is graded 'timeout'.",
        ),
        click.option(
            "--prose-fallback",
            is_flag=True,
            help="Opt-in: a response with no box or answer phrase is answered by the last number "
            "or formula of its closing sentence (recorded as rule 'prose_fallback').",
        ),
        click.option(
            "--decimal-comma",
            is_flag=True,
            help="Opt-in: read a lone '1000,99' as 1000.99 (locales with decimal commas); "
            "'1,000' stays one thousand.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func
