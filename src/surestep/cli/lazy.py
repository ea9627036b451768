"""A click group whose commands are imported only when one of them runs.

Each command is a row of a table: where it lives (``"module:attribute"``) and its one-line
help. ``surestep --help`` is written from the table alone, so listing the commands imports
none of them; a test keeps each row's help equal to the command's own.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click

ARGV_KEY = "surestep.argv"
"""``ctx.meta`` key of the arguments after the program name, as typed (read by ``surestep resume``)."""


@dataclass(frozen=True)
class LazyCommand:
    """A command's location ``"module:attribute"`` and the short help ``--help`` lists for it."""

    target: str
    short_help: str

    def load(self) -> click.Command:
        """Import the command's module and return the command."""
        module_name, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class LazyGroup(click.Group):
    """A ``click.Group`` that imports a command from its table the first time it is looked up."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Names of the eager and the lazy commands, sorted."""
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """As click does; the top-level group first keeps the arguments as typed in ``ctx.meta``."""
        if ctx.parent is None:
            ctx.meta.setdefault(ARGV_KEY, tuple(args))
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The named command, imported now if it is lazy."""
        lazy = self.lazy_commands.get(cmd_name)
        return lazy.load() if lazy is not None else super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands" section, as click writes it, with lazy commands' help taken from the table."""
        listed = [(name, self._listed(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in listed if command is not None and not command.hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in shown])

    def _listed(self, ctx: click.Context, name: str) -> click.Command | None:
        """A stand-in carrying the table's help for a lazy command (nothing imported); the command else."""
        lazy = self.lazy_commands.get(name)
        if lazy is None:
            return super().get_command(ctx, name)
        return click.Command(name, help=lazy.short_help)
