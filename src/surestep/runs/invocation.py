"""The command line that made a run, kept in its manifest so ``surestep resume RUN`` can
continue the run without the user repeating its options.

``surestep run``, ``generate``, ``demo`` and ``prm run`` record, in the manifest they write
before any draw or score (so a run killed at any moment has it), the field ``invocation``:
the arguments after ``surestep`` as they were typed, the working directory they were typed
in (relative paths in them, such as ``--dataset data/x.jsonl``, mean what they meant then),
and the surestep version. The latest command given for a directory wins, so a run whose n
was raised resumes at the raised n. Runs made from Python record none.

Resuming gives those arguments again in that directory, with ``--out`` pointing at RUN
wherever it lies now. Everything that decides which draws a run holds is in the manifest and
checked again on resume, as for any repeated command: a changed dataset file is refused, not
silently mixed in. Secrets are never recorded: API keys come from environment variables,
whose names alone appear among the arguments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from surestep.errors import InputError, SurestepError
from surestep.runs.store import MANIFEST as MANIFEST_FILE  # both run stores' manifest name

FIELD = "invocation"
INVOCATION_SCHEMA_VERSION = 1
# the commands that make a resumable run directory named by --out
RESUMABLE_COMMANDS = (("run",), ("generate",), ("demo",), ("prm", "run"))


@dataclass(frozen=True)
class Invocation:
    """One recorded command: ``surestep <argv...>`` typed in ``cwd``."""

    argv: tuple[str, ...]
    cwd: str
    surestep_version: str
    schema_version: int = INVOCATION_SCHEMA_VERSION

    @property
    def command(self) -> tuple[str, ...]:
        """The command's name: ``("run",)`` or ``("prm", "run")``."""
        for names in RESUMABLE_COMMANDS:
            if tuple(self.argv[: len(names)]) == names:
                return names
        raise SurestepError(f"not a resumable command: surestep {' '.join(self.argv[:2])}")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "argv": list(self.argv),
            "cwd": self.cwd,
            "surestep_version": self.surestep_version,
        }

    @classmethod
    def from_json(cls, data: Any, path: Path) -> Invocation:
        """Read a parsed invocation.json; a newer schema or a bad field is an error naming both."""
        if not isinstance(data, Mapping):
            raise InputError("expected a JSON object", path=path, field=FIELD)
        schema = data.get("schema_version")
        if not isinstance(schema, int) or schema < 1:
            raise InputError(
                f"expected an integer >= 1, got {schema!r}", path=path, field=f"{FIELD}.schema_version"
            )
        if schema > INVOCATION_SCHEMA_VERSION:
            raise InputError(
                f"written by a newer surestep (schema {schema}; this one reads up to "
                f"{INVOCATION_SCHEMA_VERSION}). Upgrade surestep to resume this run.",
                path=path,
                field=f"{FIELD}.schema_version",
            )
        argv, cwd = data.get("argv"), data.get("cwd")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise InputError("expected a list of strings", path=path, field=f"{FIELD}.argv")
        if not isinstance(cwd, str) or not cwd:
            raise InputError("expected a directory path", path=path, field=f"{FIELD}.cwd")
        invocation = cls(tuple(argv), cwd, str(data.get("surestep_version", "")), schema)
        try:
            invocation.command  # noqa: B018 -- validates the recorded command
        except SurestepError as exc:
            raise InputError(str(exc), path=path, field=f"{FIELD}.argv") from None
        return invocation


def invocation_of(argv: Sequence[str], cwd: str | Path) -> dict[str, Any]:
    """The manifest's ``invocation`` field for ``surestep <argv...>`` typed in ``cwd``."""
    invocation = Invocation(tuple(argv), str(Path(cwd).resolve()), version("surestep"))
    invocation.command  # noqa: B018 -- refuses to record what resume could not run
    return invocation.to_json()


def read_invocation(directory: Path) -> Invocation:
    """The command recorded in ``directory``'s manifest; a clear error when there is none."""
    path = directory / MANIFEST_FILE
    if not directory.is_dir():
        raise SurestepError(f"{directory}: no such run directory")
    if not path.is_file():
        raise SurestepError(f"{directory}: no {MANIFEST_FILE}; is it a surestep run directory?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not readable JSON ({exc})", path=path) from None
    if not isinstance(manifest, Mapping) or manifest.get(FIELD) is None:
        raise SurestepError(
            f"{path} records no command (the run was made from Python, or by a surestep that did "
            "not record commands yet): give the command that made it again"
        )
    return Invocation.from_json(manifest[FIELD], path)


def resume_arguments(invocation: Invocation, directory: Path) -> list[str]:
    """The recorded arguments with ``--out`` set to ``directory`` (absolute), added if absent."""
    target = str(directory.resolve())
    argv = list(invocation.argv)
    out: list[str] = []
    replaced = False
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--out" and index + 1 < len(argv):
            out += ["--out", target]
            index += 2
            replaced = True
            continue
        if token.startswith("--out="):
            out.append(f"--out={target}")
            replaced = True
        else:
            out.append(token)
        index += 1
    if not replaced:
        out += ["--out", target]
    return out


__all__ = ["Invocation", "invocation_of", "read_invocation", "resume_arguments"]
