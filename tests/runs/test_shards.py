"""--shard i/N and surestep merge: shards merged equal one run; merge refuses what is not one run's shards."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from surestep.errors import SurestepError
from surestep.runs.shards import Shard, parse_shard
from tests.conftest import DEMO_PROBLEMS

N = 4


def _args(command: str, base_url: str, out: Path, *extra: str) -> list[str]:
    return [
        command,
        "--model",
        "openai:fake",
        "--base-url",
        base_url,
        "--dataset",
        str(DEMO_PROBLEMS),
        "--out",
        str(out),
        "--n",
        str(N),
        "--draws-per-request",
        "2",
        "--concurrency",
        "4",
        "--quiet",
        *extra,
    ]


def _table(out: Path, query: str) -> list[tuple]:
    with sqlite3.connect(out / "run.sqlite") as db:
        return db.execute(query).fetchall()


def _contents(out: Path) -> dict[str, list[tuple]]:
    """Problems in order, draws and grades (without commit times) of a run store."""
    return {
        "problems": _table(out, "SELECT * FROM problems ORDER BY position"),
        "draws": _table(
            out,
            "SELECT problem_id, config, draw_index, text, finish_reason, prompt_tokens, completion_tokens, seed "
            "FROM draws ORDER BY 1, 2, 3",
        ),
        "grades": _table(
            out,
            "SELECT problem_id, config, draw_index, verdict, correct, extracted_answer, extraction_rule, grader, "
            "grader_version FROM grades ORDER BY 1, 2, 3",
        ),
    }


def _manifest(out: Path, *drop: str) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    return {k: v for k, v in manifest.items() if k not in drop}


def _shards(cli, command: str, base_url: str, root: Path, count: int, *extra: str) -> list[Path]:
    directories = []
    for index in range(count):
        out = root / f"shard-{index}"
        result = cli(*_args(command, base_url, out, "--shard", f"{index}/{count}", *extra))
        assert result.returncode == 0, result.stderr
        directories.append(out)
    return directories


def test_parse_shard():
    assert parse_shard("2/5") == Shard(2, 5)
    assert Shard(1, 4).select(list(range(10))) == [1, 5, 9]
    for bad in ("5/5", "-1/4", "1", "a/b", "1/0"):
        with pytest.raises(SurestepError, match="expected i/N"):
            parse_shard(bad)


def test_four_shards_merged_are_the_run_one_job_makes(fault_server, cli, tmp_path):
    server = fault_server()
    single = tmp_path / "single"
    assert cli(*_args("run", server.base_url, single, "--no-ci")).returncode == 0
    shards = _shards(cli, "run", server.base_url, tmp_path, 4, "--no-ci")
    sizes = [len(_table(s, "SELECT 1 FROM problems")) for s in shards]
    assert sizes == [8, 8, 7, 7]  # 30 problems, positions p with p mod 4 = i
    assert _manifest(shards[1])["shard"] == {
        "index": 1,
        "count": 4,
        "rule": "position mod count == index",
        "of": 30,
    }
    assert _manifest(shards[1])["problems"] == 8

    merged = tmp_path / "merged"
    result = cli("merge", *map(str, reversed(shards)), "--out", str(merged), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary == {
        "kind": "run",
        "out": str(merged),
        "shards": 4,
        "items": 30,
        "rows": 30 * (N + 1),
        "grades": 30 * (N + 1),
        "missing": 0,
    }
    assert _contents(merged) == _contents(single)  # same problems in order, draws, seeds and grades
    assert _manifest(merged, "engines", "invocation") == _manifest(single, "engines", "invocation")
    assert "invocation" not in _manifest(merged)  # a merged run is whole: nothing to resume
    scores = [cli("score", str(d), "--json") for d in (merged, single)]
    assert scores[0].returncode == 0 and scores[0].stdout == scores[1].stdout


def test_a_merged_run_resumes_as_a_whole_run(fault_server, cli, tmp_path):
    server = fault_server()
    shards = _shards(cli, "generate", server.base_url, tmp_path, 3)
    merged = tmp_path / "merged"
    assert cli("merge", *map(str, shards), "--out", str(merged)).returncode == 0
    raised = _args("generate", server.base_url, merged)
    raised[raised.index("--n") + 1] = "6"
    assert cli(*raised).returncode == 0  # n raised on the merged run: only the new draws are made
    single = _args("generate", server.base_url, tmp_path / "single")
    single[single.index("--n") + 1] = "6"
    assert cli(*single).returncode == 0
    assert _contents(merged)["draws"] == _contents(tmp_path / "single")["draws"]


def test_a_shard_directory_is_resumed_only_as_that_shard(fault_server, cli, tmp_path):
    server = fault_server()
    shard = tmp_path / "shard"
    assert cli(*_args("generate", server.base_url, shard, "--shard", "0/2")).returncode == 0
    before = _contents(shard)
    whole = cli(*_args("generate", server.base_url, shard))
    assert whole.returncode == 2 and "is shard 0/2 of a run: resume it with --shard 0/2" in whole.stderr
    other = cli(*_args("generate", server.base_url, shard, "--shard", "1/2"))
    assert other.returncode == 2 and "is shard 0/2, not 1/2" in other.stderr
    again = cli(*_args("generate", server.base_url, shard, "--shard", "0/2"))
    assert again.returncode == 0, again.stderr
    assert _contents(shard) == before  # a finished shard makes nothing new
    run = tmp_path / "run"
    assert cli(*_args("generate", server.base_url, run)).returncode == 0
    refused = cli(*_args("generate", server.base_url, run, "--shard", "0/2"))
    assert refused.returncode == 2 and "holds a whole run" in refused.stderr


def test_merge_refuses_what_is_not_every_shard_of_one_run(fault_server, cli, tmp_path):
    server = fault_server()
    shards = _shards(cli, "generate", server.base_url, tmp_path / "a", 3)
    out = tmp_path / "merged"

    def refused(*directories: Path) -> str:
        result = cli("merge", *map(str, directories), "--out", str(out))
        assert result.returncode == 2, result.stdout + result.stderr
        assert not out.exists()
        return result.stderr

    assert "missing shard 2/3" in refused(shards[0], shards[1])
    assert f"shard 1/3 is given twice: {shards[1]} and {shards[1]}" in refused(*shards, shards[1])
    halves = _shards(cli, "generate", server.base_url, tmp_path / "b", 2)
    assert "shards of different splits" in refused(shards[0], shards[1], halves[1])
    seeded = tmp_path / "seeded"
    assert cli(*_args("generate", server.base_url, seeded, "--shard", "2/3", "--seed", "7")).returncode == 0
    message = refused(shards[0], shards[1], seeded)
    assert "is not a shard of the same run" in message and "seed: 0/3 has 0, 2/3 has 7" in message
    whole = tmp_path / "whole"
    assert cli(*_args("generate", server.base_url, whole)).returncode == 0
    assert "not a shard (its manifest records none" in refused(whole, *shards)
    out.mkdir()
    (out / "note.txt").write_text("taken")
    result = cli("merge", *map(str, shards), "--out", str(out))
    assert result.returncode == 2 and "exists and is not an empty directory" in result.stderr


@pytest.fixture(scope="module")
def subset(shared_data):
    return shared_data / "prmbench" / "subset400.jsonl"


@pytest.fixture(scope="module")
def tiny_shepherd(subset, tmp_path_factory):
    pytest.importorskip("torch", reason="prm run needs torch (extra 'prm')")
    from tests.prm.tiny_models import build

    texts = []
    for line in subset.read_text().splitlines():
        record = json.loads(line)
        texts += [
            record["modified_question"],
            record["original_question"],
            *record["modified_process"],
            *record["original_process"],
        ]
    return build("math-shepherd", tmp_path_factory.mktemp("shepherd"), texts)


def _prm_args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "prm",
        "run",
        "--scorer",
        "math-shepherd",
        "--model",
        str(model),
        "--tokenizer",
        str(model / "tokenizer"),
        "--data",
        str(data),
        "--out",
        str(out),
        "--limit",
        "12",
        "--chunk",
        "4",
        "--json",
        *extra,
    ]


def _predictions(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def test_prm_shards_merged_are_the_prm_run_one_job_makes(cli, tiny_shepherd, subset, tmp_path):
    single = tmp_path / "single"
    one = cli(*_prm_args(tiny_shepherd, subset, single))
    assert one.returncode == 0, one.stderr
    shards = []
    for index in range(2):
        out = tmp_path / f"shard-{index}"
        result = cli(*_prm_args(tiny_shepherd, subset, out, "--shard", f"{index}/2"))
        assert result.returncode == 0, result.stderr
        shards.append(out)
    positions = [
        [p for (p,) in sqlite3.connect(s / "predictions.sqlite").execute("SELECT position FROM predictions")]
        for s in shards
    ]
    assert all(p % 2 == i for i, found in enumerate(positions) for p in found)
    merged = tmp_path / "merged"
    result = cli("merge", *map(str, shards), "--out", str(merged), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["kind"] == "prm" and summary["rows"] == summary["items"] and summary["missing"] == 0
    expected, found = _predictions(single), _predictions(merged)
    assert [r["id"] for r in found] == [r["id"] for r in expected]
    for a, b in zip(found, expected):
        assert a["step_scores"] == pytest.approx(b["step_scores"], abs=1e-5)
    # the spread path writes the manifest prm run writes (the command aside: a merged run has none)
    assert _manifest(merged) == _manifest(single, "invocation") and "invocation" in _manifest(single)
    shard_again = cli(*_prm_args(tiny_shepherd, subset, shards[0]))
    assert shard_again.returncode == 2 and "resume it with --shard 0/2" in shard_again.stderr
