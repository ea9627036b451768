"""A PRM run's manifest as a typed, versioned record (``PRM_RUN/manifest.json``).

The manifest says what a PRM run's predictions are: the scorer, model and data, which records
(``limit``/``first`` and a stratified sample's ids), the options that change the scores
(protocol, tokenizer, cut, reward differences; the critic's few-shot digest and reply budget),
every default the protocol implied with its source, where the model ran, the shard, and the
command that made it. ``PRMRunManifest.from_json`` checks the types of the fields it knows,
refuses a newer ``schema_version`` naming the file and the field, reads an unversioned
manifest as schema 0, and keeps fields it does not know (``extra``) so they are written back.

Schema history: 1, ``schema_version`` itself (the fields are those of the unversioned
manifests, which read as schema 0).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surestep.errors import InputError

PRM_MANIFEST_SCHEMA_VERSION = 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


_TEXT = ("a string", lambda v: isinstance(v, str))
_OPTIONAL_COUNT = ("an integer >= 1 or null", _optional(lambda v: _is_int(v) and v >= 1))
_OBJECT = ("an object or null", _optional(lambda v: isinstance(v, Mapping)))
_CHECKS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "kind": ("the string prm", lambda v: v == "prm"),
    "scorer": _TEXT,
    "model": _TEXT,
    "data": _TEXT,
    "limit": _OPTIONAL_COUNT,
    "first": _OPTIONAL_COUNT,
    "records": ("an integer >= 0 or null", _optional(lambda v: _is_int(v) and v >= 0)),
    "selection": _OBJECT,
    "protocol": ("a string or null", _optional(lambda v: isinstance(v, str))),
    "tokenizer": ("a string or null", _optional(lambda v: isinstance(v, str))),
    "max_length": _OPTIONAL_COUNT,
    "reward_differences": ("true, false or null", _optional(lambda v: isinstance(v, bool))),
    "few_shot": ("a digest string or null", _optional(lambda v: isinstance(v, str))),
    "max_tokens": _OPTIONAL_COUNT,
    "defaults": _OBJECT,
    "device": ("a string or null", _optional(lambda v: isinstance(v, str))),
    "device_map": ("a string or null", _optional(lambda v: isinstance(v, str))),
    "shard": _OBJECT,
    "invocation": _OBJECT,
    "surestep_version": ("a string or null", _optional(lambda v: isinstance(v, str))),
}


@dataclass(frozen=True)
class PRMRunManifest:
    """What a PRM run's predictions are; see the module docstring for the versioning rules.

    Fields a scorer family does not use (a critic's ``tokenizer``) are absent from its
    manifest and None here; ``present`` lists the ones the file holds, so ``to_json`` writes
    back exactly what was read.
    """

    kind: str
    scorer: str
    model: str
    data: str
    limit: int | None = None
    first: int | None = None
    records: int | None = None
    selection: Mapping[str, Any] | None = None
    protocol: str | None = None
    tokenizer: str | None = None
    max_length: int | None = None
    reward_differences: bool | None = None
    few_shot: str | None = None
    max_tokens: int | None = None
    defaults: Mapping[str, Any] | None = None
    device: str | None = None
    device_map: str | None = None
    shard: Mapping[str, Any] | None = None
    invocation: Mapping[str, Any] | None = None
    surestep_version: str | None = None
    present: frozenset[str] = frozenset()
    extra: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = PRM_MANIFEST_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """The manifest's JSON object, ``schema_version`` first."""
        data: dict[str, Any] = {"schema_version": self.schema_version}
        for name in _CHECKS:
            if name in self.present or name in ("kind", "scorer", "model", "data"):
                value = getattr(self, name)
                data[name] = dict(value) if isinstance(value, Mapping) else value
        return {**data, **self.extra}

    @classmethod
    def from_json(cls, data: Any, path: str | Path) -> PRMRunManifest:
        """Read a parsed manifest; a bad field or a newer schema is an InputError naming both."""
        if not isinstance(data, Mapping):
            raise InputError("expected a JSON object", path=path)
        schema = data.get("schema_version", 0)
        if not _is_int(schema) or schema < 0:
            raise InputError(f"expected an integer >= 0, got {schema!r}", path=path, field="schema_version")
        if schema > PRM_MANIFEST_SCHEMA_VERSION:
            raise InputError(
                f"written by a newer surestep (manifest schema {schema}; this one reads up to "
                f"{PRM_MANIFEST_SCHEMA_VERSION}). Upgrade surestep to use this run.",
                path=path,
                field="schema_version",
            )
        values: dict[str, Any] = {}
        for name, (expected, check) in _CHECKS.items():
            if name not in data:
                if name in ("kind", "scorer", "model", "data"):
                    raise InputError("missing", path=path, field=name)
                continue
            if not check(data[name]):
                raise InputError(
                    f"expected {expected}, got {json.dumps(data[name])[:80]}", path=path, field=name
                )
            values[name] = data[name]
        extra = {k: v for k, v in data.items() if k not in _CHECKS and k != "schema_version"}
        return cls(**values, present=frozenset(values), extra=extra, schema_version=schema)


__all__ = ["PRM_MANIFEST_SCHEMA_VERSION", "PRMRunManifest"]
