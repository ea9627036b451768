"""The options that build a PRM scorer, shared by ``prm run`` and ``bon``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def scorer_options(
    *, batch_help: str, max_length_help: str, reward_help: str, few_shot_help: str
) -> Callable[[F], F]:
    """``--batch-tokens`` to ``--few-shot``: a transformers PRM's batching, cut and tokenizer, and
    the critic's server, key, concurrency, reply budget and examples; each command words the
    help of the four whose meaning it narrows."""
    decorators = [
        click.option(
            "--batch-tokens",
            "batch_tokens",
            type=click.IntRange(min=1),
            default=16384,
            show_default=True,
            help=batch_help,
        ),
        click.option("--max-length", "max_length", type=click.IntRange(min=8), help=max_length_help),
        click.option("--tokenizer", help="Tokenizer directory or id, when it is not beside the model."),
        click.option(
            "--trust-remote-code", is_flag=True, help="Allow model code shipped with the checkpoint."
        ),
        click.option("--reward-differences", "reward_differences", is_flag=True, help=reward_help),
        click.option(
            "--base-url",
            "base_url",
            metavar="URL",
            help="critic: OpenAI-compatible server, e.g. http://host:8000/v1.",
        ),
        click.option(
            "--api-key-env",
            "api_key_env",
            default="OPENAI_API_KEY",
            show_default=True,
            help="critic: environment variable holding the API key.",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(min=1),
            default=16,
            show_default=True,
            help="critic: requests in flight.",
        ),
        click.option(
            "--max-tokens",
            "max_tokens",
            type=click.IntRange(min=1),
            default=2048,
            show_default=True,
            help="critic: longest reply.",
        ),
        click.option(
            "--few-shot", "few_shot", type=click.Path(path_type=Path), metavar="JSONL", help=few_shot_help
        ),
    ]

    def decorate(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return decorate
