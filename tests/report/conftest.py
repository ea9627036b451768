"""Real runs for the report tests: two stability runs against the fault server and one PRM run
against the critic server, made once per session through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ServerProcess, prm_record, run_cli, write_jsonl

PROBLEMS = [
    {
        "id": f"p{i}",
        "question": f"What is {a} + {b}?",
        "answer": str(a + b),
        "subset": "easy" if i % 2 else "hard",
        "level": f"Level {1 + i % 3}",
    }
    for i, (a, b) in enumerate([(2, 3), (10, 7), (31, 4), (8, 8), (120, 5), (9, 1), (44, 44), (3, 70)])
]


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report-runs")
    dataset = write_jsonl(root / "problems.jsonl", PROBLEMS)
    server = ServerProcess("tests.models.fault_server")
    runs = {}
    try:
        for name, seed in (("model-a", "1"), ("model-b", "2")):
            out = root / name
            result = run_cli(
                "run",
                "--model",
                f"openai:{name}",
                "--base-url",
                server.base_url,
                "--dataset",
                str(dataset),
                "--out",
                str(out),
                "--n",
                "16",
                "--seed",
                seed,
                "--quiet",
                "--subset-field",
                "subset",
            )
            assert result.returncode == 0, result.stderr
            runs[name] = out
    finally:
        server.stop()
    critic = ServerProcess("tests.prm.critic_server")
    try:
        data = write_jsonl(
            root / "prm.jsonl",
            [
                prm_record("counterfactual", "p1", 3, [2], question="What is 2 + 3?"),
                prm_record("circular", "p2", 4, [3], question="What is 4 + 4?"),
                prm_record("redundency", "p3", 4, [3], question="What is 5 + 5?"),
                prm_record("domain_inconsistency", "p4", 2, [2], question="SHORT: what is 1 + 1?"),
            ],
        )
        out = root / "critic"
        result = run_cli(
            "prm",
            "run",
            "--scorer",
            "critic",
            "--model",
            "critic-1",
            "--base-url",
            critic.base_url,
            "--data",
            str(data),
            "--out",
            str(out),
            "--protocol",
            "card",
        )
        assert result.returncode == 0, result.stderr
        runs["critic"] = out
    finally:
        critic.stop()
    return runs
