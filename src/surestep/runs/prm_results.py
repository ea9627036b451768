"""``PRM_RUN/results.json``: one machine-readable summary of a finished ``prm run``.

Written atomically when the run's instances are all scored: what was run (scorer, model,
data, protocol), how many instances were scored and how many validly, the PRMBench table
exactly as ``prm run --json`` prints it (``table``), and, for a scorer that reported tokens
(the critic), their count and, at the prices given, their cost (``cost``, the object of
``surestep.metrics.cost.CostSummary.to_dict``; "per correct" is per validly scored instance).
``read_prm_results`` reads it back and refuses a newer ``schema_version`` naming the file and
the field. Schema 1 is the first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from surestep import __version__
from surestep.errors import InputError
from surestep.runs.store import write_json_atomic

PRM_RESULTS = "results.json"
PRM_RESULTS_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class PRMRunResults:
    """A finished PRM run's summary; ``to_json`` is the file's object."""

    scorer: str
    model: str
    data: str
    protocol: str | None
    instances: int
    scored: int
    valid: int
    table: Mapping[str, Any]
    cost: Mapping[str, Any] | None
    surestep_version: str = __version__
    written_at: str = ""
    schema_version: int = PRM_RESULTS_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        data = {item.name: getattr(self, item.name) for item in fields(self)}
        data["table"] = dict(self.table)
        data["cost"] = None if self.cost is None else dict(self.cost)
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_json(cls, data: Any, path: Path) -> PRMRunResults:
        """Read a parsed results.json; a bad field or a newer schema is an InputError naming both."""
        if not isinstance(data, Mapping):
            raise InputError("expected a JSON object", path=path)
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InputError(f"expected an integer >= 1, got {version!r}", path=path, field="schema_version")
        if version > PRM_RESULTS_SCHEMA_VERSION:
            raise InputError(
                f"written by a newer surestep (schema {version}; this one reads up to "
                f"{PRM_RESULTS_SCHEMA_VERSION}). Upgrade surestep to read it.",
                path=path,
                field="schema_version",
            )
        expected: dict[str, tuple[type | tuple[type, ...], bool]] = {
            "scorer": (str, False),
            "model": (str, False),
            "data": (str, False),
            "protocol": (str, True),
            "instances": (int, False),
            "scored": (int, False),
            "valid": (int, False),
            "table": (Mapping, False),
            "cost": (Mapping, True),
            "surestep_version": (str, False),
            "written_at": (str, False),
        }
        values: dict[str, Any] = {}
        for name, (kind, nullable) in expected.items():
            if name not in data:
                raise InputError("missing", path=path, field=name)
            value = data[name]
            if (value is None and not nullable) or (value is not None and not isinstance(value, kind)):
                raise InputError(f"unexpected value {json.dumps(value)[:60]}", path=path, field=name)
            values[name] = value
        return cls(**values, schema_version=version)


def write_prm_results(directory: Path, results: PRMRunResults) -> Path:
    """Write ``directory/results.json`` (through a temporary file), stamped with the time."""
    stamped = PRMRunResults(
        **{
            **{item.name: getattr(results, item.name) for item in fields(results)},
            "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )
    path = directory / PRM_RESULTS
    write_json_atomic(path, stamped.to_json())
    return path


def read_prm_results(directory: Path) -> PRMRunResults:
    """The results.json of a PRM run directory."""
    path = directory / PRM_RESULTS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            "no results: the run has not finished (surestep resume finishes it)", path=path
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not readable JSON ({exc})", path=path) from None
    return PRMRunResults.from_json(data, path)


__all__ = ["PRM_RESULTS_SCHEMA_VERSION", "PRMRunResults", "read_prm_results", "write_prm_results"]
