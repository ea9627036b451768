"""The report and ``compare`` show the figures ``surestep score`` wrote in results.json, fall back to
scoring a run themselves (and say so) where that file is missing, unreadable or stale, refuse a
newer schema; and a comparison's verdict follows each figure's direction."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path

import pytest

import surestep
from surestep.errors import InputError, SurestepError
from surestep.metrics import Interval, PairedDifference
from surestep.report.compare import Comparison, compare_runs
from surestep.report.data import load_stability_run
from surestep.runs.results import read_results
from tests.report.conftest import PROBLEMS


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


@pytest.fixture(scope="module")
def k24(report_runs, tmp_path_factory) -> dict[str, Path]:
    """Copies of both stability runs, scored again with --k 2,4 (results.json says k 2 and 4)."""
    root = tmp_path_factory.mktemp("k24")
    runs = {}
    for name in ("model-a", "model-b"):
        out = _copy(report_runs[name], root / name)
        surestep.score(out, ks=[2, 4], ci=True, resamples=200, seed=3)
        runs[name] = out
    return runs


def test_the_report_shows_the_k_and_intervals_results_json_holds(k24, tmp_path):
    results = read_results(k24["model-a"])
    assert results.scored_with.ks == (2, 4) and results.scored_with.headline_k == 4
    view = load_stability_run(k24["model-a"], resamples=50, confidence=0.8, seed=9)
    assert view.scored_here is None and view.note is None
    assert view.headline_k == 4 and [c.k for c in view.curves] == [2, 4]
    assert view.sheet.protocol.ks == (2, 4)
    # the figures and intervals are results.json's, not the report's --resamples/--confidence/--seed
    for key, value in results.score.metrics.items():
        assert view.sheet.metrics[key] == value or (value is None and math.isnan(view.sheet.metrics[key]))
    assert {key: (i.low, i.high) for key, i in view.sheet.ci.items()} == results.score.ci
    assert view.sheet.confidence == results.score.confidence == 0.95
    assert view.sheet.headline[0] == "greedy" and "G-Pass@4_0.5" in view.sheet.headline
    assert set(view.subsets["subset"]["easy"]) >= {"pass@4", "mG-Pass@4"}

    written = surestep.report([k24["model-a"], k24["model-b"]], tmp_path / "report.html", resamples=0)
    assert written.notes == ()
    page = written.path.read_text(encoding="utf-8")
    assert "G-Pass@4 τ=0.5" in page and "G-Pass@2 by τ" in page and "G-Pass@4 by τ" in page
    assert "G-Pass@16" not in page and "scored here" not in page
    low, high = results.score.ci["G-Pass@4_0.5"]
    assert low is not None and high is not None
    assert f"{100 * low:.1f}–{100 * high:.1f}" in page


def test_compare_takes_k_from_results_json(k24, report_runs):
    result = surestep.compare(k24["model-a"], k24["model-b"], resamples=200)
    data = result.to_dict()
    assert data["k"] == 4 and "notes" not in data
    assert list(data["metrics"]) == [
        "greedy",
        "G-Pass@4_0.5",
        "G-Pass@4_0.75",
        "G-Pass@4_1.0",
        "mG-Pass@4",
        "pass@4",
        "relative_drop@4",
    ]
    # every problem is shared, so A and B are the figures score wrote
    for side in ("a", "b"):
        written = read_results(k24[f"model-{side}"]).score.metrics
        for key, figures in data["metrics"].items():
            assert figures[side] == pytest.approx(written[key])

    # headline k 16 against headline k 4: compared at the largest k both were scored at, said in a note
    mixed = surestep.compare(report_runs["model-a"], k24["model-b"], resamples=200)
    assert mixed.comparison.k == 4
    assert any("headline k differs" in note and "k=4" in note for note in mixed.comparison.notes)


def test_compare_refuses_runs_without_a_shared_k(report_runs, tmp_path):
    only2 = _copy(report_runs["model-b"], tmp_path / "only2")
    surestep.score(only2, ks=[2], ci=False)
    a = load_stability_run(report_runs["model-a"], resamples=0, with_texts=False)
    b = load_stability_run(only2, resamples=50, confidence=0.8, with_texts=False)
    assert b.headline_k == 2 and b.scored_here is None
    assert set(b.sheet.ci) >= {"pass@2", "greedy"} and b.sheet.confidence == 0.8  # bootstrapped here
    with pytest.raises(SurestepError, match="no k in common"):
        compare_runs(a, b, resamples=100)


def test_a_stale_or_missing_results_json_falls_back_with_a_note(k24, tmp_path, cli):
    stale = _copy(k24["model-a"], tmp_path / "stale")
    with sqlite3.connect(stale / "run.sqlite") as db:  # a regrade after score wrote results.json
        db.execute("UPDATE grades SET correct = 1 - correct WHERE draw_index = 0")
    view = load_stability_run(stale, resamples=0, with_texts=False)
    assert view.scored_here is not None and "stale" in view.scored_here
    assert view.note is not None and str(stale) in view.note and "scored here" in view.note
    assert view.headline_k == 16 and [c.k for c in view.curves] == [4, 8, 16]  # the report's own k

    missing = _copy(k24["model-b"], tmp_path / "missing")
    (missing / "results.json").unlink()
    assert load_stability_run(missing, resamples=0, with_texts=False).scored_here == "no results.json"

    report = cli("report", str(stale), str(missing), "-o", str(tmp_path / "r.html"), "--resamples", "0")
    assert report.returncode == 0, report.stderr
    notes = [line for line in report.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 2 and "is stale" in notes[0] and "no results.json" in notes[1]
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count("scored here: ") == 2

    compared = cli("compare", str(stale), str(k24["model-b"]), "--json", "--resamples", "100")
    assert compared.returncode == 0, compared.stderr
    assert "note: " in compared.stderr and "is stale" in compared.stderr
    data = json.loads(compared.stdout)
    assert data["k"] == 4 and any("is stale" in note for note in data["notes"])


def test_more_draws_than_results_json_counted_is_stale(k24, tmp_path):
    grown = _copy(k24["model-a"], tmp_path / "grown")
    with sqlite3.connect(grown / "run.sqlite") as db:  # one more draw (and its grade) after score
        db.execute(
            "INSERT INTO draws SELECT problem_id, config, 99, text, finish_reason, prompt_tokens, "
            "completion_tokens, latency, seed, created FROM draws WHERE draw_index = 0 LIMIT 1"
        )
    view = load_stability_run(grown, resamples=0, with_texts=False)
    assert view.scored_here is not None and "sampled draws stored" in view.scored_here


def test_an_unreadable_results_json_falls_back_and_a_newer_one_is_refused(k24, tmp_path, cli):
    old = _copy(k24["model-a"], tmp_path / "old")
    data = json.loads((old / "results.json").read_text())
    del data["scored_with"]
    (old / "results.json").write_text(json.dumps(data))
    view = load_stability_run(old, resamples=0, with_texts=False)
    assert view.scored_here is not None and "'scored_with'" in view.scored_here

    newer = _copy(k24["model-a"], tmp_path / "newer")
    data = json.loads((newer / "results.json").read_text())
    data["schema_version"] = 99
    (newer / "results.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="schema 99 is newer") as refused:
        load_stability_run(newer, resamples=0, with_texts=False)
    assert refused.value.field == "schema_version" and refused.value.path == str(newer / "results.json")
    for command in (
        ("report", str(newer), "-o", str(tmp_path / "x.html")),
        ("compare", str(newer), str(old)),
    ):
        result = cli(*command)
        assert result.returncode != 0
        assert str(newer / "results.json") in result.stderr and "schema_version" in result.stderr


def _comparison(differences: dict[str, float]) -> Comparison:
    def difference(delta: float) -> PairedDifference:
        return PairedDifference(0.5, 0.5 + delta, delta, Interval(delta - 0.01, delta + 0.01))

    return Comparison(
        a="A",
        b="B",
        unit="problems",
        shared=len(PROBLEMS),
        only_a=0,
        only_b=0,
        confidence=0.95,
        differences={key: difference(d) for key, d in differences.items()},
    )


def test_verdicts_name_the_better_run_in_each_figures_direction():
    comparison = _comparison({"pass@16": 0.2, "greedy": -0.2, "relative_drop@16": -0.2, "overall": 0.2})
    assert comparison.verdict("pass@16") == "B higher"
    assert comparison.verdict("greedy") == "A higher"
    assert comparison.verdict("relative_drop@16") == "B lower"  # B loses less: B is better
    assert comparison.verdict("overall") == "B higher"  # PRMScore: higher is better
    worse = _comparison({"relative_drop@16": 0.2})
    assert worse.verdict("relative_drop@16") == "A lower"
    assert worse.to_json()["metrics"]["relative_drop@16"]["verdict"] == "A lower"
    unclear = _comparison({"relative_drop@16": 0.0})
    assert unclear.verdict("relative_drop@16") == ""
