"""`surestep plan` end to end (the real console entry point in a child process) and its library call."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from surestep.data.problems import Problem
from surestep.grading.records import GradeRecord
from surestep.models.base import Completion
from surestep.runs.planning import PlanOptions, load_pilot, plan_study
from surestep.runs.store import RunStore
from tests.conftest import EXAMPLE_DRAWS, write_jsonl
from tests.metrics.test_planning import population, simulate_run


def draw_rows(run: dict[str, np.ndarray], prefix: str = "p") -> list[dict]:
    """The `surestep score` JSONL rows of a simulated run, greedy draws included."""
    rows: list[dict] = []
    for i, (correct, answers) in enumerate(zip(run["correct"], run["answers"])):
        for j, (ok, answer) in enumerate(zip(correct, answers)):
            rows.append(
                {
                    "problem_id": f"{prefix}{i}",
                    "sample_index": j,
                    "correct": bool(ok),
                    "answer": None if answer < 0 else str(answer),
                }
            )
        rows.append(
            {
                "problem_id": f"{prefix}{i}",
                "sample_index": 0,
                "greedy": True,
                "correct": bool(run["greedy"][i]),
            }
        )
    return rows


def make_run_dir(directory: Path, run: dict[str, np.ndarray], *, graded: bool = True) -> Path:
    """A run directory holding the simulated draws, graded (grades written directly, no grader)."""
    n = run["correct"].shape[1]
    manifest = {"n": n, "greedy": True, "configs": {"sample": "s", "greedy": "g"}, "protocol": {"ks": [4, 8]}}
    problems = [Problem(f"p{i}", f"question {i}", "0") for i in range(run["correct"].shape[0])]
    with RunStore(directory, create=True) as store:
        store.save_problems(problems, [p.question for p in problems])
        store.save_manifest(manifest)
        for i, problem in enumerate(problems):
            texts = [f"answer {a}" for a in run["answers"][i]]
            store.add_draws(problem.id, "s", range(n), range(n), [Completion(t) for t in texts])
            store.add_draws(problem.id, "g", [0], [None], [Completion("greedy")])
        if graded:
            for config in ("s", "g"):
                draws = list(store.draws(config))
                records = []
                for d in draws:
                    i = int(d.problem_id[1:])
                    answer = int(run["answers"][i][d.draw_index]) if config == "s" else 0
                    ok = bool(run["correct"][i][d.draw_index]) if config == "s" else bool(run["greedy"][i])
                    records.append(
                        GradeRecord(
                            extracted_answer=None if answer < 0 else str(answer),
                            extraction_rule="boxed",
                            verdict="correct" if ok else "incorrect",
                            correct=ok,
                            grader="test",
                            grader_version="1",
                            detail=None,
                            grade_seconds=0.0,
                        )
                    )
                store.add_grades(draws, records)
    return directory


@pytest.fixture(scope="module")
def pilot_file(tmp_path_factory) -> Path:
    rng = np.random.default_rng(5)
    run = simulate_run(rng, population(rng, 150), 16)
    return write_jsonl(tmp_path_factory.mktemp("plan") / "pilot.jsonl", draw_rows(run))


def test_json_predicted_halfwidths_are_half_the_score_intervals(cli, pilot_file):
    result = cli("plan", str(pilot_file), "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["num_problems"] == 150 and plan["n"] == 16 and plan["ks"] == [4, 8, 16]
    for key in (
        "predicted_halfwidth",
        "figures",
        "grid",
        "paired",
        "headline",
        "target",
        "confidence",
        "notes",
    ):
        assert key in plan
    score = json.loads(cli("score", str(pilot_file), "--json", "--ci", "--resamples", "4000").stdout)
    predicted = plan["predicted_halfwidth"]
    expected_keys = {"greedy", "avg@16"} | {
        f"{name}@{k}{tail}"
        for k in (4, 8, 16)
        for name, tail in [
            ("pass", ""),
            ("mG-Pass", ""),
            ("maj", ""),
            *(("G-Pass", f"_{t}") for t in ("0.5", "0.75", "1.0")),
        ]
    }
    assert set(predicted) == expected_keys
    for key, halfwidth in predicted.items():
        low, high = score["ci"][key]
        assert halfwidth == pytest.approx((high - low) / 2, rel=0.12), key
        assert plan["figures"][key]["value"] == pytest.approx(score["metrics"][key], abs=1e-12)
    assert plan["headline"] == score["headline"]


def test_json_figures_grid_and_targets_are_consistent(cli, pilot_file):
    plan = json.loads(
        cli(
            "plan", str(pilot_file), "--json", "--target", "0.05", "--problems", "100,400", "--draws", "8,32"
        ).stdout
    )
    assert plan["grid"]["problems"] == [100, 150, 400] and plan["grid"]["draws"] == [8, 16, 32]
    figure = plan["figures"]["G-Pass@8_0.75"]
    variance = figure["variance"]
    assert variance["between"] + variance["within"] == pytest.approx(variance["total"], rel=1e-9)
    assert figure["method"] == "overlap" and 0 < figure["within_share"] < 1
    row = plan["grid"]["halfwidth"]["G-Pass@8_0.75"][1]  # P = 150
    assert row[1] == pytest.approx(plan["predicted_halfwidth"]["G-Pass@8_0.75"])
    assert row[0] > row[1] > row[2]  # more draws, narrower
    assert plan["grid"]["halfwidth"]["G-Pass@16_0.5"][0][0] is None  # k = 16 > n = 8
    greedy = plan["figures"]["greedy"]
    assert greedy["method"] == "fixed" and greedy["draws_for_target"] is None
    assert len(set(plan["grid"]["halfwidth"]["greedy"][0])) == 1  # n does not apply
    problems = figure["problems_for_target"]
    assert problems == math.ceil(1.959963984540054**2 * variance["total"] / 0.05**2)
    assert plan["figures"]["maj@16"]["method"] == "unknown"
    assert plan["paired"]["assumed_correlation"] == 0.0 and plan["paired"]["against"] is None


def test_a_run_directory_plans_like_its_draws_and_pairs_with_a_second_run(cli, tmp_path):
    rng = np.random.default_rng(6)
    p = population(rng, 120)
    run_a = simulate_run(rng, p, 8)
    logit = np.log(np.maximum(p, 1e-9)) - np.log(np.maximum(1 - p, 1e-9))
    run_b = simulate_run(rng, 1 / (1 + np.exp(-(logit + 0.5))), 8)
    dir_a, dir_b = make_run_dir(tmp_path / "a", run_a), make_run_dir(tmp_path / "b", run_b)
    from_dir = json.loads(cli("plan", str(dir_a), "--json").stdout)
    from_file = json.loads(
        cli("plan", str(write_jsonl(tmp_path / "a.jsonl", draw_rows(run_a))), "--json").stdout
    )
    assert from_dir["predicted_halfwidth"] == from_file["predicted_halfwidth"]
    assert from_dir["ks"] == [4, 8]  # the run's protocol
    paired = json.loads(
        cli("plan", str(dir_a), "--against", str(dir_b), "--json", "--detect", "0.05").stdout
    )["paired"]
    assert paired["against"] == str(dir_b) and paired["shared_problems"] == 120
    assert paired["assumed_correlation"] is None
    for key in ("avg@8", "G-Pass@8_0.5", "mG-Pass@4"):
        figure = paired["figures"][key]
        assert 0.5 < figure["correlation"] <= 1.0, key  # clipped to the Cauchy-Schwarz bound
        assert figure["observed_difference"] > 0, key
    assert 0 < paired["figures"]["greedy"]["correlation"] < 1  # one noisy draw each
    assumed = json.loads(cli("plan", str(dir_a), "--json", "--detect", "0.05").stdout)["paired"]
    # positively correlated models on shared problems need fewer problems than the conservative 0
    assert paired["figures"]["avg@8"]["problems_needed"] < assumed["figures"]["avg@8"]["problems_needed"]
    by_draws = paired["figures"]["avg@8"]["problems_needed_by_draws"]
    assert by_draws["4"] >= by_draws["8"] >= by_draws["128"]


def test_table_output(cli):
    result = cli("plan", str(EXAMPLE_DRAWS), "--target", "0.1", "--figure", "mG-Pass@8,avg@16")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "30 problems × 16 draws" in out and "Variance split and the target ±10.00" in out
    assert "Predicted ± for mG-Pass@8" in out and "Predicted ± for avg@n" in out
    assert "Predicted ± for G-Pass@16_0.5" not in out  # only the figures asked for
    assert "Problems to detect a difference of 3.0 points" in out
    assert "note: greedy: one draw per problem" in out
    plan = json.loads(cli("plan", str(EXAMPLE_DRAWS), "--json").stdout)
    assert f"{100 * plan['predicted_halfwidth']['mG-Pass@8']:.2f}" in out
    default = cli("plan", str(EXAMPLE_DRAWS)).stdout
    assert "Predicted ± for G-Pass@16_0.75" in default and "Predicted ± for mG-Pass@16" in default


def test_library_call_returns_a_typed_plan(pilot_file):
    plan = plan_study(load_pilot(pilot_file), PlanOptions(ks=(4, 8), target=0.04, correlation=0.5))
    assert plan.ks == (4, 8) and plan.n == 16
    figure = next(f for f in plan.figures if f.key == "mG-Pass@8")
    assert figure.draws_for_target is None or figure.split.halfwidth(150, figure.draws_for_target) <= 0.04
    assert plan.to_dict()["predicted_halfwidth"] == plan.predicted_halfwidth
    assert plan.paired.assumed_correlation == 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "32"], "k=32 exceeds the number of draws"),
        (["--figure", "G-Pass@99_0.5"], "unknown figure 'G-Pass@99_0.5'"),
        (["--target", "0"], "--target"),
        (["--power", "1"], "--power"),
        (["--correlation", "2"], "--correlation"),
        (["--problems", "0,10"], "--problems"),
    ],
)
def test_bad_options_exit_2_with_a_message_and_no_output(cli, pilot_file, args, message):
    result = cli("plan", str(pilot_file), *args)
    assert result.returncode == 2
    assert message in result.stderr and result.stdout == ""


def test_bad_inputs_exit_2(cli, tmp_path, jsonl_file):
    missing = cli("plan", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "cannot open" in missing.stderr
    single = jsonl_file([{"problem_id": "a", "sample_index": i, "correct": i < 2} for i in range(4)])
    one = cli("plan", str(single))
    assert one.returncode == 2 and "at least 2 problems" in one.stderr
    ungraded_file = jsonl_file(
        [{"problem_id": "a", "sample_index": 0, "response": "1", "gold": "1"}], "u.jsonl"
    )
    result = cli("plan", str(ungraded_file))
    assert result.returncode == 2 and "correct" in result.stderr
    rng = np.random.default_rng(7)
    ungraded = make_run_dir(tmp_path / "ungraded", simulate_run(rng, population(rng, 5), 4), graded=False)
    result = cli("plan", str(ungraded))
    assert result.returncode == 2 and "surestep grade" in result.stderr
    other = jsonl_file(
        [{"problem_id": f"x{i}", "sample_index": j, "correct": True} for i in range(3) for j in range(4)],
        "x.jsonl",
    )
    rows = [{"problem_id": f"y{i}", "sample_index": j, "correct": j < i} for i in range(3) for j in range(4)]
    disjoint = cli("plan", str(jsonl_file(rows, "y.jsonl")), "--against", str(other))
    assert disjoint.returncode == 2 and "share 0 problem(s)" in disjoint.stderr
