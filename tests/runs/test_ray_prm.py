"""surestep prm run --ray: tiny-PRM replicas on a local Ray cluster; a replica and the driver killed.

Every instance must be scored and stored exactly once, with the scores a single process gives
(batches differ, so equal within float tolerance, as a resumed run's are).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="--ray needs the extra 'ray'")
pytest.importorskip("torch", reason="prm run needs torch (extra 'prm')")

from surestep.runs.ray_cluster import CRASH_ENV
from tests.conftest import REPO_ROOT
from tests.prm.tiny_models import build
from tests.runs.ray_cluster import TEST_ENV, running_cluster
from tests.waiting import count_rows, wait_until

LIMIT = "16"


@pytest.fixture(scope="module")
def cluster():
    with running_cluster() as address:
        yield address


@pytest.fixture(scope="module")
def subset(shared_data):
    return shared_data / "prmbench" / "subset400.jsonl"


@pytest.fixture(scope="module")
def tiny_shepherd(subset, tmp_path_factory):
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


def _args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
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
        LIMIT,
        "--chunk",
        "2",
        *extra,
    ]


def _predictions(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def _stored(out: Path) -> dict[str, str]:
    with sqlite3.connect(out / "predictions.sqlite") as db:
        return dict(db.execute("SELECT id, row FROM predictions").fetchall())


def test_replicas_score_every_instance_once_when_a_replica_and_the_driver_die(
    cluster, tiny_shepherd, subset, cli, tmp_path
):
    single = tmp_path / "single"
    plain = cli(*_args(tiny_shepherd, subset, single))
    assert plain.returncode == 0, plain.stderr

    out, marker = tmp_path / "ray", tmp_path / "replica-crashed"
    args = _args(tiny_shepherd, subset, out, "--ray", cluster, "--replicas", "2")
    driver = subprocess.Popen(
        [sys.executable, "-m", "surestep", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **TEST_ENV, CRASH_ENV: str(marker)},
    )
    database = out / "predictions.sqlite"
    try:
        wait_until(
            lambda: driver.poll() is not None or count_rows(database, "predictions") > 0,
            what="a stored prediction",
            timeout=600,
        )
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    before = _stored(out)
    assert marker.exists()  # a replica died on its first chunk, and its chunk went to the other
    assert 0 < len(before) < len(_predictions(single)), (
        f"the kill did not land mid-run ({len(before)} stored)"
    )

    resumed = cli(*args, "--json", env=TEST_ENV)
    assert resumed.returncode == 0, resumed.stderr
    after = _stored(out)
    assert {k: after[k] for k in before} == before  # nothing scored twice
    expected, found = _predictions(single), _predictions(out)
    assert [r["id"] for r in found] == [r["id"] for r in expected]  # every instance, once, in data order
    for a, b in zip(found, expected):
        assert a["step_scores"] == pytest.approx(b["step_scores"], abs=1e-5)
    spread, whole = (json.loads((d / "manifest.json").read_text()) for d in (out, single))
    assert spread.pop("invocation")["argv"] != whole.pop("invocation")["argv"]  # each records its own command
    assert spread == whole
