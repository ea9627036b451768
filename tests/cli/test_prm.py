"""``surestep prm score`` and ``surestep prm validate`` through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from surestep.prm.data import load_prmbench
from tests.conftest import REPO_ROOT, write_jsonl


def test_score_prints_the_paper_table_and_the_extras(cli, small_prmbench):
    data, predictions = small_prmbench
    result = cli("prm", "score", str(predictions), "--data", str(data), "--resamples", "100")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for header in (
        "Overall",
        "NR",
        "NCL",
        "Simplicity",
        "ES",
        "SC",
        "DC",
        "CI",
        "Soundness",
        "PS",
        "DR",
        "MS",
        "Sensitivity",
        "AUROC",
        "95% CI",
        "all-correct",
        "random (seeded)",
        "oracle",
    ):
        assert header in out, header
    assert "predictions" in out and "60.0" in out  # the model row: overall PRMScore 0.6
    assert "first-error-index F1" in out and "1 instances list error steps past their last step" in out


def test_score_json(cli, small_prmbench):
    data, predictions = small_prmbench
    result = cli("prm", "score", str(predictions), "--data", str(data), "--json", "--name", "tiny")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["name"] == "tiny"
    assert report["overall"]["prmscore"] == pytest.approx(0.6)
    assert report["overall"]["f1"] == pytest.approx(0.8)
    assert report["overall"]["auroc"] == pytest.approx(11.5 / 16)
    assert report["overall"]["processbench_f1"] == 0.0
    lo, hi = report["overall"]["prmscore_interval"]
    assert lo <= report["overall"]["prmscore"] <= hi
    assert set(report["categories"]) == {"redundency", "circular", "counterfactual", "multi_solutions"}
    assert report["categories"]["multi_solutions"]["auroc"] is None  # no erroneous steps: undefined
    assert set(report["groups"]) == {"simplicity", "soundness", "sensitivity"}
    assert report["groups"]["soundness"] is None
    assert set(report["baselines"]) == {"all_correct", "random", "oracle"}
    assert report["baselines"]["oracle"]["overall"] == 1.0
    assert report["data_issues"]["duplicate_ids"]["count"] == 1
    assert report["data_issues"]["error_steps_past_end"]["count"] == 1


def test_missing_predictions_fail_unless_allowed(cli, small_prmbench, tmp_path):
    data, _ = small_prmbench
    partial = write_jsonl(tmp_path / "partial.jsonl", [{"id": "redundency_p1", "step_scores": [1, 0, 1, 1]}])
    failed = cli("prm", "score", str(partial), "--data", str(data))
    assert failed.returncode == 2 and failed.stdout == ""
    assert "no prediction for 4 of 5 instances: correct_p1, counterfactual_p1" in failed.stderr
    allowed = cli("prm", "score", str(partial), "--data", str(data), "--allow-missing", "--json")
    assert allowed.returncode == 0, allowed.stderr
    report = json.loads(allowed.stdout)
    assert report["data_issues"]["missing_predictions"]["count"] == 4
    assert report["overall"]["prmscore"] == 1.0


def test_bad_predictions_name_the_line_and_field(cli, small_prmbench, tmp_path):
    data, _ = small_prmbench
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "circular_p3", "step_scores": [0.5, None]}])
    result = cli("prm", "score", str(bad), "--data", str(data))
    assert result.returncode == 2 and result.stdout == ""
    assert f"{bad}:1: field 'step_scores[1]': expected a number, got null" in result.stderr


def test_validate_lists_the_benchmarks_faults(cli, shared_data):
    result = cli("prm", "validate", "--data", str(shared_data / "prmbench" / "full"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["records"] == 6216 and report["instances"] == 6969
    assert report["data_issues"]["error_steps_past_end"]["count"] == 100
    assert report["data_issues"]["duplicate_ids"]["count"] == 5
    text = cli("prm", "validate", "--data", str(shared_data / "prmbench" / "full")).stdout
    assert "100 instances list error steps past their last step" in text
    assert "multi_solutions_prm_test_p2_863" in text


def test_validate_checks_predictions_too(cli, small_prmbench):
    data, predictions = small_prmbench
    result = cli("prm", "validate", "--data", str(data), "--predictions", str(predictions))
    assert result.returncode == 0, result.stderr
    assert "5 lines, 0 marked invalid, 0 instances without a prediction" in result.stdout


def test_all_correct_predictions_on_the_full_benchmark(cli, shared_data, tmp_path):
    """Judging every step correct catches no error: negative F1 is 0 and PRMScore is half the F1."""
    data = shared_data / "prmbench" / "full"
    bench = load_prmbench(str(data))
    predictions = write_jsonl(
        tmp_path / "all_correct.jsonl",
        ({"id": i.id, "step_scores": [1.0] * len(i.steps)} for i in bench.instances),
    )
    result = cli("prm", "score", str(predictions), "--data", str(data), "--json", "--tune-on", "0.25")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["overall"]["negative_f1"] == 0.0
    assert report["overall"]["prmscore"] == report["baselines"]["all_correct"]["overall"]
    assert report["overall"]["auroc"] == 0.5
    assert report["tuning"]["heldout"]["prmscore"] == report["tuning"]["heldout_at_given_labels"]["prmscore"]


def test_scorers_listing_imports_neither_torch_nor_numpy():
    """``prm scorers`` reads the protocol tables, which are data: no model library is loaded."""
    probe = (
        "import json, sys\n"
        "from surestep.cli.main import main\n"
        "try:\n    main(['prm', 'scorers', '--json'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, check=True
    )
    listing, _, modules = result.stdout.rstrip("\n").rpartition("\n")
    assert json.loads(listing)["scorers"]
    loaded = {name.split(".")[0] for name in json.loads(modules)}
    assert not loaded & {"torch", "transformers", "numpy", "httpx", "rich"}
