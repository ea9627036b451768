"""``--price-input`` and ``--price-output``: the prices that turn a run's tokens into a cost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def price_options(recorded: str) -> Callable[[F], F]:
    """The two price options (USD per million tokens); ``recorded`` says what a missing one means."""

    def decorate(func: F) -> F:
        for side, tokens in (("output", "completion"), ("input", "prompt")):
            func = click.option(
                f"--price-{side}",
                f"price_{side}",
                type=click.FloatRange(min=0.0),
                metavar="USD",
                help=f"USD per million {tokens} tokens ({recorded}).",
            )(func)
        return func

    return decorate
