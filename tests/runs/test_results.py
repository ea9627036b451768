"""RUN/results.json: what it holds, its round trip, its refusals, and that a failed write keeps the old file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from surestep.data.draws import group_draws
from surestep.data.problems import Problem
from surestep.errors import InputError
from surestep.grading.grader import Grader
from surestep.models.base import Completion
from surestep.runs.manifest import GREEDY, IDENTITY_FIELDS, SAMPLE, config_key
from surestep.runs.pipeline import grade_run, scored_draws
from surestep.runs.results import (
    RESULTS,
    RESULTS_SCHEMA_VERSION,
    collect_results,
    read_results,
    results_path,
    write_results,
)
from surestep.runs.scoring import StabilityScoreConfig, score_problems
from surestep.runs.store import RunStore

PROBLEMS = [Problem("p1", "What is 1 + 1?", "2", "easy"), Problem("p2", "What is 6 x 7?", "42", "hard")]
ANSWERS = {"p1": ["2", "2", "3", "2"], "p2": ["42", "41", "40", "42"]}
GREEDY_ANSWERS = {"p1": "2", "p2": "41"}


def _manifest(n: int) -> dict:
    manifest = {
        "model_spec": "openai:tiny",
        "model": {"backend": "openai", "model": "tiny", "endpoint": "chat"},
        "sampling": {"temperature": 1.0, "top_p": 0.8, "top_k": 50, "max_tokens": 64, "stop": []},
        "greedy_sampling": {"temperature": 0.0, "top_p": 1.0, "top_k": None, "max_tokens": 64, "stop": []},
        "n": n,
        "greedy": True,
        "seed": 0,
        "draws_per_request": 1,
        "prompt": {"name": "default", "text": "{question}", "chinese": None},
        "system": None,
        "dataset": "made-up.jsonl",
        "dataset_hash": "0123456789abcdef",
        "problems": len(PROBLEMS),
        "protocol": {"ks": [2, 4]},
    }
    identity = {name: manifest[name] for name in IDENTITY_FIELDS}
    manifest["configs"] = {
        SAMPLE: config_key({"kind": SAMPLE, **identity}),
        GREEDY: config_key({"kind": GREEDY, **identity}),
    }
    return manifest


def _tokens(problem_id: str, index: int, counted: str) -> tuple[int | None, int | None]:
    """Token counts as a backend reports them: always, never, or not for p2's draw 1."""
    if counted == "never" or (counted == "some" and (problem_id, index) == ("p2", 1)):
        return None, None
    return 10 + index, 5 * (index + 1)


def make_run(directory: Path, *, counted: str = "always") -> dict:
    """A graded run made through the store's own API (what `surestep run` writes), 4 draws + greedy."""
    manifest = _manifest(n=4)
    with RunStore(directory, create=True) as store:
        store.save_manifest(manifest)
        store.save_problems(PROBLEMS, [p.question for p in PROBLEMS])
        for problem in PROBLEMS:
            for index, answer in enumerate(ANSWERS[problem.id]):
                prompt, completion = _tokens(problem.id, index, counted)
                draw = Completion(f"so \\boxed{{{answer}}}", "stop", prompt, completion)
                store.add_draws(problem.id, manifest["configs"][SAMPLE], [index], [index], [draw])
            greedy = Completion(f"\\boxed{{{GREEDY_ANSWERS[problem.id]}}}", "stop", 7, 3)
            store.add_draws(problem.id, manifest["configs"][GREEDY], [0], [0], [greedy])
        with Grader() as grader:
            stats = grade_run(store, grader, manifest)
        store.add_phase_time("grade", stats.seconds, stats.draws)
        store.add_phase_time("generate", 2.0, 6)
        store.add_phase_time("generate", 1.0, 4)  # a resumed generation adds to the first
    return manifest


def score_and_collect(directory: Path, *, ci: bool = True):
    with RunStore(directory) as store:
        manifest = store.manifest()
        assert manifest is not None
        problems = group_draws(scored_draws(store, manifest, 4), path=directory, n=4)
        options = StabilityScoreConfig(by="subset", ci=ci, n_resamples=200)
        sheet = score_problems(problems, options, path=directory)
        results = collect_results(
            store, manifest, sheet, n=4, resamples=200 if ci else None, score_seconds=0.25, audit=None
        )
    return sheet, results


def test_results_hold_the_runs_identity_counts_tokens_and_phase_times(tmp_path):
    manifest = make_run(tmp_path / "run")
    sheet, results = score_and_collect(tmp_path / "run")
    assert results.schema_version == RESULTS_SCHEMA_VERSION
    assert results.identity.model == manifest["model"] and results.identity.dataset_hash == "0123456789abcdef"
    assert results.identity.configs == manifest["configs"] and len(results.identity.identity_hash) == 16
    assert [(g.name, g.draws) for g in results.graders] == [("surestep-rule", 10)]
    # p1: 3 of 4 correct, p2: 2 of 4, greedy p1 right and p2 wrong
    assert dataclasses.asdict(results.draws) == {"sampled": 8, "greedy": 2, "scored": 10, "correct": 6}
    prompt = sum(10 + i for i in range(4)) * 2 + 7 * 2
    completion = sum(5 * (i + 1) for i in range(4)) * 2 + 3 * 2
    tokens = results.tokens.to_dict()
    assert tokens == {
        "draws": 10,
        "missing": 0,
        "prompt": prompt,
        "completion": completion,
        "total": prompt + completion,
        "correct": 6,
        "completion_per_correct": completion / 6,
        "total_per_correct": (prompt + completion) / 6,
    }
    timing = results.timing.to_dict()
    assert timing["generate"] == {"seconds": 3.0, "draws": 10, "draws_per_second": 10 / 3.0}
    assert timing["grade"]["draws"] == 10 and timing["score"] == {
        "seconds": 0.25,
        "draws": 10,
        "draws_per_second": 40.0,
    }
    assert results.score.to_dict() == sheet.to_json()  # every figure as `score --json` has it
    assert results.score.subsets.keys() == {"easy", "hard"} and results.score.ci
    assert results.scored_with.resamples == 200 and results.scored_with.ks == sheet.protocol.ks


@pytest.mark.parametrize(("counted", "missing"), [("some", 1), ("never", 8)])
def test_token_figures_are_null_when_the_backend_left_counts_out(tmp_path, counted, missing):
    make_run(tmp_path / "run", counted=counted)
    _, results = score_and_collect(tmp_path / "run", ci=False)
    tokens = results.tokens.to_dict()
    assert tokens["missing"] == missing and tokens["draws"] == 10
    assert tokens["prompt"] is tokens["completion"] is tokens["total"] is None
    assert tokens["completion_per_correct"] is None and tokens["total_per_correct"] is None
    assert results.scored_with.resamples is None and results.score.ci == {}


def test_phase_times_are_null_for_a_run_that_never_recorded_them(tmp_path):
    manifest = _manifest(n=4)
    with RunStore(tmp_path / "run", create=True) as store:
        store.save_manifest(manifest)
        store.save_problems(PROBLEMS, [p.question for p in PROBLEMS])
        for problem in PROBLEMS:
            for index, answer in enumerate(ANSWERS[problem.id]):
                draw = Completion(f"\\boxed{{{answer}}}")
                store.add_draws(problem.id, manifest["configs"][SAMPLE], [index], [index], [draw])
            store.add_draws(problem.id, manifest["configs"][GREEDY], [0], [0], [Completion("\\boxed{2}")])
        with Grader() as grader:
            grade_run(store, grader, manifest)
    _, results = score_and_collect(tmp_path / "run", ci=False)
    assert results.timing.generate is None and results.timing.grade is None
    assert results.to_dict()["timing"]["generate"] is None


def test_a_manifest_with_only_what_scoring_needs_gives_empty_identity_fields(tmp_path):
    manifest = {"n": 4, "greedy": False, "configs": {SAMPLE: "hand-sample", GREEDY: "hand-greedy"}}
    with RunStore(tmp_path / "run", create=True) as store:
        store.save_manifest(manifest)
        store.save_problems(PROBLEMS, [p.question for p in PROBLEMS])
        for problem in PROBLEMS:
            draws = [Completion(f"\\boxed{{{answer}}}") for answer in ANSWERS[problem.id]]
            store.add_draws(problem.id, "hand-sample", range(4), range(4), draws)
        with Grader() as grader:
            grade_run(store, grader, manifest)
    _, results = score_and_collect(tmp_path / "run", ci=False)
    identity = results.identity
    assert identity.model == identity.sampling == identity.prompt == {}
    assert (
        identity.dataset is identity.dataset_hash is identity.problems is identity.draws_per_request is None
    )
    assert results.draws.scored == 8 and results.draws.greedy == 0
    write_results(tmp_path / "run", results)
    assert read_results(tmp_path / "run") == results


def test_read_returns_what_was_written(tmp_path):
    make_run(tmp_path / "run")
    _, results = score_and_collect(tmp_path / "run")
    path = write_results(tmp_path / "run", results)
    assert path == tmp_path / "run" / RESULTS == results_path(tmp_path / "run")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert next(iter(data)) == "schema_version"
    assert read_results(tmp_path / "run") == results
    assert read_results(path).to_dict() == data


def _write_data(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    make_run(tmp_path / "run")
    _, results = score_and_collect(tmp_path / "run", ci=False)
    data = results.to_dict()
    data["schema_version"] = RESULTS_SCHEMA_VERSION + 1
    data["something_new"] = {"x": 1}
    _write_data(tmp_path / "run" / RESULTS, data)
    with pytest.raises(
        InputError, match=r"written by a newer surestep \(results schema 2; this one reads up to 1\)"
    ):
        read_results(tmp_path / "run")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["tokens"].pop("prompt"), "field 'tokens.prompt': missing"),
        (
            lambda d: d["score"]["metrics"].update(greedy="high"),
            "field 'score.metrics.greedy': expected a number",
        ),
        (lambda d: d["score"]["ci"].update(greedy=[0.1]), r"field 'score.ci.greedy': expected \[low, high\]"),
        (lambda d: d.update(schema_version="1"), "field 'schema_version': expected an integer"),
        (lambda d: d["graders"][0].update(draws=True), r"field 'graders\[0\].draws': expected an integer"),
    ],
)
def test_a_malformed_file_names_the_key(tmp_path, change, message):
    make_run(tmp_path / "run")
    _, results = score_and_collect(tmp_path / "run")
    data = results.to_dict()
    change(data)
    _write_data(tmp_path / "run" / RESULTS, data)
    with pytest.raises(InputError, match=message) as error:
        read_results(tmp_path / "run")
    assert str(tmp_path / "run" / RESULTS) in str(error.value)


def test_unreadable_files_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_results(tmp_path)
    (tmp_path / RESULTS).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="expected a JSON object"):
        read_results(tmp_path)
    (tmp_path / RESULTS).write_text('{"schema_version": 1,', encoding="utf-8")
    with pytest.raises(InputError, match="invalid JSON"):
        read_results(tmp_path)


@pytest.mark.parametrize(
    "broken",
    [
        {"audit": {"rate": float("nan")}},  # JSON refuses NaN: fails while serialising
        {"run": "run-\udc80"},  # a lone surrogate cannot be encoded: fails while writing the file
    ],
)
def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, broken):
    make_run(tmp_path / "run")
    _, results = score_and_collect(tmp_path / "run", ci=False)
    path = write_results(tmp_path / "run", results)
    before = path.read_bytes()
    with pytest.raises((ValueError, UnicodeEncodeError)):
        write_results(tmp_path / "run", dataclasses.replace(results, **broken))
    assert path.read_bytes() == before
    assert read_results(path) == results
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")) == []
