"""`surestep score` end to end, through the real console entry point in a child process."""

from __future__ import annotations

import json
import math

import pytest

from surestep.metrics import g_pass_at_k, mg_pass_at_k
from tests.conftest import EXAMPLE_DRAWS


def draws_for(counts: dict[str, int], n: int, *, greedy: dict[str, bool] | None = None, subset=None):
    rows = []
    for pid, c in counts.items():
        for i in range(n):
            rows.append(
                {
                    "problem_id": pid,
                    "sample_index": i,
                    "correct": i < c,
                    "answer": "42" if i < c else f"wrong{i % 2}",
                    "subset": (subset or {}).get(pid),
                }
            )
        if greedy is not None:
            rows.append({"problem_id": pid, "sample_index": 0, "greedy": True, "correct": greedy[pid]})
    return rows


def test_json_output_has_documented_shape_and_exact_values(cli, jsonl_file):
    counts = {"a": 48, "b": 30, "c": 5, "d": 0}
    path = jsonl_file(
        draws_for(
            counts,
            48,
            greedy={"a": True, "b": True, "c": False, "d": False},
            subset={"a": "en", "b": "en", "c": "zh", "d": "zh"},
        )
    )
    result = cli("score", str(path), "--json", "--ci", "--by", "subset")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["num_problems"] == 4 and report["n"] == 48
    metrics = report["metrics"]
    c = list(counts.values())
    assert metrics["G-Pass@16_0.5"] == pytest.approx(float(g_pass_at_k(48, c, 16, 0.5).mean()), rel=1e-12)
    assert metrics["mG-Pass@16"] == pytest.approx(float(mg_pass_at_k(48, c, 16).mean()), rel=1e-12)
    assert metrics["greedy"] == 0.5
    assert metrics["pass@16"] == pytest.approx((3 - math.comb(43, 16) / math.comb(48, 16)) / 4)
    # "42" wins every vote in a and (almost always) b; c and d never have a correct majority.
    assert metrics["maj@16"] == pytest.approx(0.5, abs=0.01)
    for key in (
        "pass@4",
        "pass@8",
        "G-Pass@16_0.75",
        "G-Pass@16_1.0",
        "G-Pass@4_0.0",
        "avg@48",
        "relative_drop@16",
    ):
        assert key in metrics
    assert set(report["subsets"]) == {"en", "zh"}
    assert set(report["subsets"]["en"]) == set(metrics)
    low, high = report["ci"]["mG-Pass@16"]
    assert low <= metrics["mG-Pass@16"] <= high
    assert all(0 <= v <= 1 for k, v in metrics.items() if not k.startswith("relative_drop"))


def test_table_output_is_readable_percentages(cli):
    result = cli("score", str(EXAMPLE_DRAWS), "--ci", "--by", "subset")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "30 problems × 16 draws" in out
    assert "95% CI" in out and "By subset" in out and "word-problems" in out
    report = json.loads(cli("score", str(EXAMPLE_DRAWS), "--json").stdout)
    assert f"{100 * report['metrics']['mG-Pass@16']:.1f}" in out


def test_k_and_tau_options(cli, jsonl_file):
    path = jsonl_file(draws_for({"a": 3, "b": 6}, 8))
    report = json.loads(cli("score", str(path), "--json", "--k", "2,8", "--tau", "0.5,1").stdout)
    assert set(report["metrics"]) == {
        "avg@8",
        "pass@2",
        "G-Pass@2_0.5",
        "G-Pass@2_1.0",
        "mG-Pass@2",
        "maj@2",
        "pass@8",
        "G-Pass@8_0.5",
        "G-Pass@8_1.0",
        "mG-Pass@8",
        "maj@8",
    }
    assert report["headline"] == ["G-Pass@8_0.5", "G-Pass@8_1.0", "mG-Pass@8"]


def test_default_ks_above_n_are_dropped_but_explicit_ones_are_errors(cli, jsonl_file):
    path = jsonl_file(draws_for({"a": 3, "b": 6}, 8))
    report = json.loads(cli("score", str(path), "--json").stdout)
    assert "pass@8" in report["metrics"] and "pass@16" not in report["metrics"]
    result = cli("score", str(path), "--k", "16")
    assert result.returncode == 2
    assert "k=16 exceeds the number of draws per problem (n=8)" in result.stderr
    assert result.stdout == ""


def test_n_option_trims_deterministically(cli, jsonl_file):
    rows = draws_for({"a": 4}, 8) + draws_for({"b": 2}, 6)
    path = jsonl_file(rows)
    assert cli("score", str(path)).returncode == 2
    report = json.loads(cli("score", str(path), "--json", "--n", "6").stdout)
    assert report["n"] == 6 and report["metrics"]["avg@6"] == pytest.approx((4 + 2) / 12)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (['{"problem_id": "a", "sample_index": 0, "correct": true}', "{oops"], "data.jsonl:2: invalid JSON"),
        (['{"problem_id": "a", "sample_index": 0}'], "data.jsonl:1: field 'correct': missing required field"),
        (
            ['{"problem_id": "a", "sample_index": 0, "correct": "no"}'],
            "field 'correct': expected true or false",
        ),
    ],
)
def test_bad_input_exits_2_with_location_and_no_output(cli, jsonl_file, rows, message):
    result = cli("score", str(jsonl_file(rows)), "--json")
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


def test_missing_file_and_bad_option_values(cli, tmp_path):
    result = cli("score", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2 and "cannot open" in result.stderr
    result = cli("score", str(EXAMPLE_DRAWS), "--tau", "2")
    assert result.returncode == 2 and "--tau" in result.stderr


def test_version_and_help(cli):
    assert cli("--version").stdout.startswith("surestep, version")
    assert "G-Pass@k" in cli("score", "--help").stdout
