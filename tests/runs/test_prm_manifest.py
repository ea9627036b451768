"""The PRM run manifest as a typed, versioned record."""

from __future__ import annotations

import pytest

from surestep.errors import InputError
from surestep.runs.prm_manifest import PRM_MANIFEST_SCHEMA_VERSION, PRMRunManifest

WRITTEN = {
    "schema_version": 1,
    "kind": "prm",
    "scorer": "critic",
    "model": "critic-1",
    "data": "prm.jsonl",
    "limit": None,
    "first": 2,
    "records": 2,
    "protocol": "card",
    "few_shot": None,
    "max_tokens": 2048,
    "defaults": {"threshold": {"value": 0.5, "source": "card"}},
    "invocation": {"schema_version": 1, "argv": ["prm", "run"], "cwd": "/", "surestep_version": "0.1.0"},
    "surestep_version": "0.1.0",
    "future_field": [1, 2],
}


def test_a_manifest_reads_back_typed_and_writes_back_what_it_read():
    manifest = PRMRunManifest.from_json(WRITTEN, "runs/p/manifest.json")
    assert (manifest.scorer, manifest.first, manifest.max_tokens) == ("critic", 2, 2048)
    assert manifest.tokenizer is None and "tokenizer" not in manifest.present  # a critic has none
    assert manifest.extra == {"future_field": [1, 2]}
    assert manifest.to_json() == WRITTEN


def test_a_newer_schema_and_bad_fields_are_refused_naming_the_field():
    for change, field in (
        ({"schema_version": PRM_MANIFEST_SCHEMA_VERSION + 1}, "schema_version"),
        ({"kind": "run"}, "kind"),
        ({"first": 0}, "first"),
        ({"reward_differences": "yes"}, "reward_differences"),
        ({"defaults": []}, "defaults"),
    ):
        with pytest.raises(InputError, match=f"field '?{field}'?"):
            PRMRunManifest.from_json({**WRITTEN, **change}, "runs/p/manifest.json")
    with pytest.raises(InputError, match="scorer"):
        PRMRunManifest.from_json({k: v for k, v in WRITTEN.items() if k != "scorer"}, "m")


def test_an_unversioned_manifest_reads_as_schema_0():
    old = {k: v for k, v in WRITTEN.items() if k != "schema_version"}
    assert PRMRunManifest.from_json(old, "m").schema_version == 0
