"""The run manifest as a typed, versioned record: written, read back, refused when newer."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from surestep.errors import InputError
from surestep.models.base import SamplingParams
from surestep.runs.manifest import MANIFEST_SCHEMA_VERSION, RunManifest, read_run_manifest
from tests.conftest import DEMO_PROBLEMS


def _generate(cli, base_url: str, out: Path):
    return cli(
        "generate",
        "--model",
        "openai:fake",
        "--base-url",
        base_url,
        "--dataset",
        str(DEMO_PROBLEMS),
        "--limit",
        "3",
        "--n",
        "2",
        "--out",
        str(out),
        "--quiet",
    )


def _set_stored_manifest(out: Path, change) -> None:
    """Edit the manifest where surestep reads it (the store's meta table) and in manifest.json."""
    with sqlite3.connect(out / "run.sqlite") as db:
        manifest = json.loads(db.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()[0])
        change(manifest)
        db.execute("UPDATE meta SET value = ? WHERE key = 'manifest'", (json.dumps(manifest),))
    (out / "manifest.json").write_text(json.dumps(manifest))


def test_a_run_writes_a_versioned_manifest_that_reads_back_typed(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    assert _generate(cli, server.base_url, out).returncode == 0
    written = json.loads((out / "manifest.json").read_text())
    assert written["schema_version"] == MANIFEST_SCHEMA_VERSION == 1
    manifest = read_run_manifest(out)
    assert manifest.n == 2 and manifest.greedy and manifest.problems == 3
    assert isinstance(manifest.sampling, SamplingParams) and manifest.model["backend"] == "openai"
    assert manifest.invocation is not None and manifest.invocation["argv"][0] == "generate"
    assert manifest.to_json() == written  # nothing lost or added on the way


def test_a_newer_manifest_is_refused_by_every_command_naming_file_and_field(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    assert _generate(cli, server.base_url, out).returncode == 0
    _set_stored_manifest(out, lambda m: m.update(schema_version=MANIFEST_SCHEMA_VERSION + 1))
    for result in (cli("score", str(out)), _generate(cli, server.base_url, out)):
        assert result.returncode == 2
        assert "manifest.json" in result.stderr and "schema_version" in result.stderr
        assert "newer surestep" in result.stderr


def test_an_unversioned_manifest_reads_and_is_upgraded_on_resume(fault_server, cli, tmp_path):
    server = fault_server()
    out = tmp_path / "run"
    assert _generate(cli, server.base_url, out).returncode == 0
    _set_stored_manifest(out, lambda m: m.pop("schema_version"))
    assert RunManifest.from_json(json.loads((out / "manifest.json").read_text()), "m").schema_version == 0
    assert cli("score", str(out), "--json").returncode == 0
    assert _generate(cli, server.base_url, out).returncode == 0
    assert json.loads((out / "manifest.json").read_text())["schema_version"] == MANIFEST_SCHEMA_VERSION


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"n": "four"}, "n"),
        ({"greedy": 1}, "greedy"),
        ({"configs": {"sample": "s"}}, "configs"),
        ({"sampling": {"temperature": -1}}, "sampling"),
        ({"schema_version": "1"}, "schema_version"),
    ],
)
def test_a_bad_field_is_named(change, field):
    base = {"n": 4, "greedy": True, "configs": {"sample": "s", "greedy": "g"}}
    with pytest.raises(InputError, match=f"field '?{field}'?"):
        RunManifest.from_json({**base, **change}, "runs/x/manifest.json")


def test_a_hand_written_manifest_needs_only_what_scoring_reads():
    manifest = RunManifest.from_json(
        {"n": 4, "greedy": False, "configs": {"sample": "s", "greedy": "g"}}, "m"
    )
    assert manifest.schema_version == 0 and manifest.model is None
    with pytest.raises(InputError, match="configs"):
        RunManifest.from_json({"n": 4, "greedy": False}, "m")
    unknown = {"n": 4, "greedy": False, "configs": {"sample": "s", "greedy": "g"}, "future": [1]}
    assert RunManifest.from_json(unknown, "m").to_json()["future"] == [1]  # kept, written back
