"""A backend from another package, found through the ``surestep.backends`` entry point group.

The steps are those of docs/extending.md: a class with the Backend protocol in a module of
its own, declared in the package's entry points; here the "package" is a dist-info folder on
PYTHONPATH, which is what installing it would leave.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from surestep.errors import SurestepError
from surestep.models.registry import BACKENDS, available_backends, load_backend, parse_model_spec
from tests.conftest import DEMO_PROBLEMS

TOY_BACKEND = '''
"""Answers every question with the sum of the numbers in it: right on the demo's sums only."""

import re

from surestep.models.base import Completion


class SumBackend:
    name = "toy"
    max_draws_per_request = 4
    max_concurrency = 2

    def __init__(self, model, *, draws_per_request=1, **options):
        self.model = model

    async def generate(self, request):
        question = request.messages[-1][1].splitlines()[-1]
        total = sum(int(n) for n in re.findall(r"\\d+", question))
        return [Completion(f"The answer is {total}.", "stop", 10, 5) for _ in request.seeds]

    async def aclose(self):
        pass

    def identity(self):
        return {"backend": self.name, "model": self.model}

    async def engines(self):
        return [{"server": "toy", "reported": {"rule": "sum"}}]
'''


@pytest.fixture
def toy_package(tmp_path: Path) -> Path:
    """A folder holding the toy module and the dist-info an install of it would write."""
    root = tmp_path / "site"
    info = root / "surestep_toy-0.1.dist-info"
    info.mkdir(parents=True)
    (root / "surestep_toy.py").write_text(TOY_BACKEND)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: surestep-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[surestep.backends]\ntoy = surestep_toy:SumBackend\nlocal = surestep_toy:SumBackend\n"
    )
    return root


def test_an_installed_backend_is_listed_but_cannot_take_a_built_in_name(toy_package, monkeypatch):
    assert "toy" not in available_backends()
    monkeypatch.syspath_prepend(str(toy_package))
    assert available_backends()["toy"] == "surestep_toy:SumBackend"
    assert available_backends()["local"] == BACKENDS["local"]
    backend = load_backend(parse_model_spec("toy:sum"))
    assert type(backend).__name__ == "SumBackend" and backend.identity() == {"backend": "toy", "model": "sum"}


def test_an_unknown_backend_names_the_known_ones():
    with pytest.raises(SurestepError, match=r"expected one of openai:\.\.\., local:\.\.\., vllm:\.\.\."):
        parse_model_spec("toy:sum")


def test_a_run_with_an_installed_backend_goes_end_to_end(toy_package, cli, tmp_path):
    out = tmp_path / "run"
    result = cli(
        "run",
        "--model",
        "toy:sum",
        "--dataset",
        str(DEMO_PROBLEMS),
        "--subset-field",
        "subset",
        "--prompt",
        "default",
        "--n",
        "4",
        "--k",
        "2,4",
        "--out",
        str(out),
        "--quiet",
        "--json",
        "--no-ci",
        env={"PYTHONPATH": str(toy_package)},
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"] == {"backend": "toy", "model": "sum"}
    assert manifest["engines"][0]["reported"] == {"rule": "sum"}
    with sqlite3.connect(out / "run.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM draws").fetchone()[0] == 30 * 5
    sheet = json.loads(result.stdout)
    # the sum rule is right, on every draw, exactly where the numbers of a question add up to its answer
    problems = [json.loads(line) for line in DEMO_PROBLEMS.read_text().splitlines()]
    sums = sum(sum(map(int, re.findall(r"\d+", p["question"]))) == int(p["answer"]) for p in problems)
    assert 0 < sums < 30
    assert sheet["metrics"]["greedy"] == pytest.approx(sums / 30)
    assert sheet["metrics"]["G-Pass@4_1.0"] == pytest.approx(sums / 30)
