"""A stability run's manifest as a typed, versioned record.

The manifest says what a run's draws are (model, sampling, seed, prompt, dataset) and is
written before the first request (``manifest.json`` and the store's ``meta`` table hold the
same JSON). ``RunManifest`` is its reader and writer: ``from_json`` checks every field's type
and refuses a manifest written by a newer surestep (a higher ``schema_version``), naming the
file and the field; a manifest without ``schema_version`` was written before versioning
(schema 0) and reads as it is. Fields this version does not know are kept in ``extra`` and
written back unchanged, so an older surestep resuming a run never drops what a newer one
recorded in a compatible schema.

Schema history: 1, ``schema_version`` itself (the fields are those of the unversioned
manifests, which read as schema 0).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from surestep.errors import InputError
from surestep.models.base import SamplingParams
from surestep.runs.store import MANIFEST as MANIFEST_FILE

MANIFEST_SCHEMA_VERSION = 1
SAMPLE = "sample"
GREEDY = "greedy"
IDENTITY_FIELDS = (
    "model",
    "sampling",
    "greedy_sampling",
    "seed",
    "draws_per_request",
    "prompt",
    "system",
    "dataset_hash",
)
"""Manifest fields that decide what the draws are; changing any of them on a run is refused."""


def config_key(body: Mapping[str, Any]) -> str:
    """A generation config's key (sampled or greedy draws): a hash of its identity fields."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sampling(value: Any) -> SamplingParams:
    if not isinstance(value, Mapping):
        raise TypeError("expected an object")
    data = dict(value)
    data["stop"] = tuple(data.get("stop") or ())
    return SamplingParams(**data)


_CHECKS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "surestep_version": ("a version string", lambda v: isinstance(v, str)),
    "model": ("an object", lambda v: isinstance(v, Mapping)),
    "n": ("an integer >= 1", lambda v: _is_int(v) and v >= 1),
    "greedy": ("true or false", lambda v: isinstance(v, bool)),
    "seed": ("an integer or null", lambda v: v is None or _is_int(v)),
    "draws_per_request": ("an integer >= 1", lambda v: _is_int(v) and v >= 1),
    "prompt": ("an object", lambda v: isinstance(v, Mapping)),
    "system": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "dataset": ("a string", lambda v: isinstance(v, str)),
    "dataset_hash": ("a string", lambda v: isinstance(v, str)),
    "problems": ("an integer >= 0", lambda v: _is_int(v) and v >= 0),
    "configs": (
        "an object of config keys for sample and greedy",
        lambda v: isinstance(v, Mapping) and all(isinstance(v.get(k), str) for k in ("sample", "greedy")),
    ),
    "model_spec": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "protocol": ("an object", lambda v: isinstance(v, Mapping)),
    "engines": (
        "a list of objects",
        lambda v: isinstance(v, list) and all(isinstance(e, Mapping) for e in v),
    ),
    "shard": ("an object or null", lambda v: v is None or isinstance(v, Mapping)),
    "invocation": ("an object or null", lambda v: v is None or isinstance(v, Mapping)),
}


@dataclass(frozen=True)
class RunManifest:
    """What a stability run's draws are; see the module docstring for the versioning rules.

    ``n``, ``greedy`` and ``configs`` are what scoring needs and are required; surestep writes
    every field, and a manifest written by hand (a test, an import) may hold only those three.
    """

    n: int
    greedy: bool
    configs: Mapping[str, str]
    surestep_version: str | None = None
    model: Mapping[str, Any] | None = None
    sampling: SamplingParams | None = None
    greedy_sampling: SamplingParams | None = None
    seed: int | None = None
    draws_per_request: int | None = None
    prompt: Mapping[str, Any] | None = None
    system: str | None = None
    dataset: str | None = None
    dataset_hash: str | None = None
    problems: int | None = None
    model_spec: str | None = None
    protocol: Mapping[str, Any] = field(default_factory=dict)
    engines: tuple[Mapping[str, Any], ...] = ()
    shard: Mapping[str, Any] | None = None
    invocation: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = MANIFEST_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """The manifest's JSON object (as written to manifest.json and the store)."""
        data: dict[str, Any] = dict(self.extra)
        for item in fields(self):
            if item.name == "extra":
                continue
            value = getattr(self, item.name)
            if isinstance(value, SamplingParams):
                value = value.to_json()
            elif item.name == "engines":
                value = [dict(engine) for engine in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            if value is None and item.name not in ("seed", "system"):
                continue  # absent (seed and system are written even when null, as surestep always has)
            data[item.name] = value
        return data

    @classmethod
    def from_json(cls, data: Any, path: str | Path) -> RunManifest:
        """Read a parsed manifest; a bad field or a newer schema is an InputError naming both."""
        if not isinstance(data, Mapping):
            raise InputError("expected a JSON object", path=path)
        schema = data.get("schema_version", 0)
        if not _is_int(schema) or schema < 0:
            raise InputError(f"expected an integer >= 0, got {schema!r}", path=path, field="schema_version")
        if schema > MANIFEST_SCHEMA_VERSION:
            raise InputError(
                f"written by a newer surestep (manifest schema {schema}; this one reads up to "
                f"{MANIFEST_SCHEMA_VERSION}). Upgrade surestep to use this run.",
                path=path,
                field="schema_version",
            )
        known = {item.name for item in fields(cls)} - {"extra", "schema_version"}
        required = {
            item.name for item in fields(cls) if item.default is MISSING and item.default_factory is MISSING
        }
        values: dict[str, Any] = {}
        for name in sorted(known):
            if name not in data:
                if name in required:
                    raise InputError("missing", path=path, field=name)
                continue
            value = data[name]
            if name in ("sampling", "greedy_sampling"):
                try:
                    value = _sampling(value)
                except (TypeError, ValueError) as exc:
                    raise InputError(f"not sampling parameters ({exc})", path=path, field=name) from None
            else:
                expected, check = _CHECKS[name]
                if not check(value):
                    raise InputError(
                        f"expected {expected}, got {json.dumps(value)[:80]}", path=path, field=name
                    )
                if name == "engines":
                    value = tuple(value)
            values[name] = value
        extra = {k: v for k, v in data.items() if k not in known and k != "schema_version"}
        return cls(**values, extra=extra, schema_version=schema)


def read_run_manifest(directory: Path) -> RunManifest:
    """The typed manifest of a run directory (its manifest.json)."""
    path = directory / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no manifest: is this a surestep run directory?", path=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not readable JSON ({exc})", path=path) from None
    return RunManifest.from_json(data, path)


__all__ = [
    "GREEDY",
    "IDENTITY_FIELDS",
    "MANIFEST_FILE",
    "MANIFEST_SCHEMA_VERSION",
    "SAMPLE",
    "RunManifest",
    "config_key",
    "read_run_manifest",
]
