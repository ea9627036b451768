"""Errors that surestep reports to users instead of tracebacks."""

from __future__ import annotations

from pathlib import Path


class SurestepError(Exception):
    """Base class for errors shown to the user as a one-line message."""


class InputError(SurestepError):
    """Bad user input: names the file, the line and the field when they are known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"field '{self.field}': " if self.field is not None else ""
        return f"{where}{field}{self.detail}"
