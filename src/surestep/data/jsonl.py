"""Line-numbered JSONL reading with errors that name the file, line and field."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from surestep.errors import InputError

T = TypeVar("T")

_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; every line must be a JSON object."""
    source = Path(path)
    try:
        handle = source.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", path=source) from None
    with handle:
        line_no = 0
        try:
            for line_no, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"invalid JSON: {exc.msg} (column {exc.colno})", path=source, line=line_no
                    ) from None
                if not isinstance(value, dict):
                    raise InputError(
                        f"expected a JSON object, got {type(value).__name__}", path=source, line=line_no
                    )
                yield line_no, value
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text: {exc.reason}", path=source, line=line_no + 1) from None


def _describe(value: object) -> str:
    return "null" if value is None else f"{type(value).__name__} {json.dumps(value)[:40]}"


def require(record: Mapping[str, Any], name: str, kind: type[T], *, path: str | Path, line: int) -> T:
    """The field ``name`` of ``record``, which must be present and of type ``kind``."""
    if name not in record:
        raise InputError("missing required field", path=path, line=line, field=name)
    return check_type(record[name], name, kind, path=path, line=line)


def optional(
    record: Mapping[str, Any],
    name: str,
    kind: type[T],
    default: T | None,
    *,
    path: str | Path,
    line: int,
) -> T | None:
    """The field ``name`` if present and not null (then of type ``kind``), else ``default``."""
    value = record.get(name)
    if value is None:
        return default
    return check_type(value, name, kind, path=path, line=line)


def check_type(value: object, name: str, kind: type[T], *, path: str | Path, line: int) -> T:
    """``value`` if it is a ``kind`` (bools are not integers here), else an InputError."""
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # type: ignore[return-value]
    if not ok:
        raise InputError(
            f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {_describe(value)}",
            path=path,
            line=line,
            field=name,
        )
    return value  # type: ignore[return-value]


def require_text(
    record: Mapping[str, Any], name: str, *, path: str | Path, line: int, numbers: tuple[type, ...] = (int,)
) -> str:
    """A required string field; numbers of the given types are accepted and read as text.

    Datasets often store ids and gold answers as numbers (AIME answers, integer ids).
    """
    value = record.get(name)
    if isinstance(value, numbers) and not isinstance(value, bool):
        return str(value)
    return require(record, name, str, path=path, line=line)
