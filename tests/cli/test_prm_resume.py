"""A PRM run's versioned files and ``surestep resume``: results.json at the end, the command in
the manifest, predictions.sqlite's user_version, newer schemas refused (critic test server)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from surestep.runs.prm_results import PRM_RESULTS_SCHEMA_VERSION, read_prm_results
from surestep.runs.prm_run import PREDICTIONS_SCHEMA_VERSION, PRM_MANIFEST_SCHEMA_VERSION
from tests.conftest import prm_record, write_jsonl


@pytest.fixture
def data(tmp_path):
    return write_jsonl(tmp_path / "prm.jsonl", [
        prm_record("counterfactual", "p1", 3, [2], question="What is 2 + 3?"),
        prm_record("circular", "p2", 2, [2], question="What is 4 + 4?"),
        prm_record("redundency", "p3", 4, [3], question="What is 5 + 5?"),
    ])  # fmt: skip


def _args(server, data, out, *extra: str) -> list[str]:
    return ["prm", "run", "--scorer", "critic", "--model", "critic-1", "--base-url", server.base_url,
            "--data", str(data), "--out", str(out), "--protocol", "card", "--json", *extra]  # fmt: skip


def test_a_prm_run_writes_results_json_and_resumes_from_its_manifest(cli, critic_server, data, tmp_path):
    out = tmp_path / "run"
    first = cli(*_args(critic_server, data, out, "--first", "2"))
    assert first.returncode == 0, first.stderr
    printed = json.loads(first.stdout)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_version"] == PRM_MANIFEST_SCHEMA_VERSION
    assert manifest["invocation"]["argv"][:2] == ["prm", "run"]
    results = read_prm_results(out)
    assert results.schema_version == PRM_RESULTS_SCHEMA_VERSION
    assert (results.scorer, results.instances, results.scored) == ("critic", 2, 2)
    assert results.table == {k: v for k, v in printed.items() if k != "cost"}
    assert results.cost is not None and results.cost["tokens"] == printed["cost"]["tokens"]
    with sqlite3.connect(out / "predictions.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == PREDICTIONS_SCHEMA_VERSION

    # the command, changed to all records, is recorded by its last run; resume repeats it
    grown = cli(*_args(critic_server, data, out))
    assert grown.returncode == 0, grown.stderr
    (out / "results.json").unlink()
    resumed = cli("resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert "surestep prm run --scorer critic" in resumed.stderr
    whole = read_prm_results(out)
    assert whole.scored == whole.instances > 2


def test_newer_prm_files_are_refused_naming_file_and_field(cli, critic_server, data, tmp_path):
    out = tmp_path / "run"
    assert cli(*_args(critic_server, data, out)).returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(
        json.dumps({**manifest, "schema_version": PRM_MANIFEST_SCHEMA_VERSION + 1})
    )
    refused = cli(*_args(critic_server, data, out))
    assert refused.returncode == 2
    assert "manifest.json" in refused.stderr and "schema_version" in refused.stderr
    (out / "manifest.json").write_text(json.dumps(manifest))

    with sqlite3.connect(out / "predictions.sqlite") as db:
        db.execute(f"PRAGMA user_version = {PREDICTIONS_SCHEMA_VERSION + 1}")
    refused = cli(*_args(critic_server, data, out))
    assert refused.returncode == 2
    assert "predictions.sqlite" in refused.stderr and "newer surestep" in refused.stderr

    results = json.loads((out / "results.json").read_text())
    (out / "results.json").write_text(json.dumps({**results, "schema_version": 9}))
    with pytest.raises(Exception, match="schema_version"):
        read_prm_results(out)


def test_an_unversioned_predictions_store_is_upgraded(cli, critic_server, data, tmp_path):
    out = tmp_path / "run"
    assert cli(*_args(critic_server, data, out, "--first", "1")).returncode == 0
    with sqlite3.connect(out / "predictions.sqlite") as db:
        db.execute("PRAGMA user_version = 0")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("schema_version")
    (out / "manifest.json").write_text(json.dumps(manifest))
    again = cli(*_args(critic_server, data, out))
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(out / "predictions.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == PREDICTIONS_SCHEMA_VERSION
    assert json.loads((out / "manifest.json").read_text())["schema_version"] == PRM_MANIFEST_SCHEMA_VERSION
