"""The Python API: each function called from Python gives what its command prints with --json.

Runs go to the real fault-injecting test server on loopback; the CLI runs in a child process.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

import surestep
from surestep.cli.main import COMMANDS
from surestep.errors import SurestepError
from surestep.runs.jobs import IncompleteRunError
from surestep.runs.results import read_results
from tests.conftest import DEMO_PROBLEMS, REPO_ROOT, ServerProcess, run_cli

EXAMPLES = REPO_ROOT / "examples"
RESPONSES = EXAMPLES / "responses.jsonl"
RUN_OPTIONS = {"preset": "quick", "limit": 20, "subset_field": "subset"}
"""20 demo problems (16 arithmetic, 4 word) x (8 draws + greedy): about a second against the loopback server."""


@pytest.fixture(scope="module")
def server():
    process = ServerProcess("tests.models.fault_server")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api_run(server, tmp_path_factory) -> surestep.CompletedRun:
    out = tmp_path_factory.mktemp("api") / "run"
    return surestep.run("openai:fake", str(DEMO_PROBLEMS), out, base_url=server.base_url, **RUN_OPTIONS)


def _cli_run(server, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "run", "--model", "openai:fake", "--base-url", server.base_url, "--dataset", str(DEMO_PROBLEMS),
        "--out", str(out), "--preset", "quick", "--limit", "20", "--subset-field", "subset", "--quiet", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cli_run(server, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cli") / "run"
    result = _cli_run(server, out, "--json")
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


def _json(*args: str) -> dict:
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


# --- run ---------------------------------------------------------------------------------------


def test_run_gives_what_the_cli_prints_and_writes_results_and_report(api_run, cli_run):
    out, printed = cli_run
    assert api_run.to_dict() == printed
    assert api_run.score.sheet.num_problems == 20 and api_run.score.sheet.n == 8
    assert set(api_run.score.sheet.subsets) == {"arithmetic", "word"}
    assert api_run.generation.progress.done == 20 * 9 and api_run.generation.missing == 0
    assert read_results(api_run.directory) == api_run.results
    assert api_run.results.score.to_dict() == {
        k: v for k, v in printed.items() if k not in ("audit", "tokens")
    }
    assert printed["tokens"] == api_run.results.tokens.to_dict() and "cost" not in printed  # no prices given
    assert read_results(out).score == api_run.results.score  # same server, same seeds: same figures
    assert api_run.report == api_run.directory / "report.html" and api_run.report.stat().st_size > 0


def test_a_second_run_resumes_and_generates_nothing(api_run, server):
    again = surestep.run(
        "openai:fake", str(DEMO_PROBLEMS), api_run.directory, base_url=[server.base_url], report=False,
        **RUN_OPTIONS,
    )  # fmt: skip
    assert again.generation.progress.total == 0 and again.report is None
    assert again.to_dict() == api_run.to_dict()
    assert again.results.timing.generate == api_run.results.timing.generate  # nothing generated: time kept


def test_run_called_inside_a_running_event_loop(server, tmp_path, api_run):
    """A notebook cell: a loop is already running, so asyncio.run would raise; run still works."""

    async def cell() -> surestep.CompletedRun:
        asyncio.get_running_loop()
        return surestep.run(
            "openai:fake", str(DEMO_PROBLEMS), tmp_path / "run", base_url=server.base_url, report=False,
            **RUN_OPTIONS,
        )  # fmt: skip

    done = asyncio.run(cell())
    assert done.to_dict() == api_run.to_dict()


def test_run_async_keeps_the_loop_free(server, tmp_path, api_run):
    async def main() -> tuple[surestep.CompletedRun, int]:
        ticks = 0
        finished = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not finished.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        done = await surestep.run_async(
            "openai:fake", str(DEMO_PROBLEMS), tmp_path / "run", base_url=server.base_url, report=False,
            **RUN_OPTIONS,
        )  # fmt: skip
        finished.set()
        await task
        return done, ticks

    done, ticks = asyncio.run(main())
    assert done.to_dict() == api_run.to_dict()
    assert ticks > 0


def test_progress_and_log_callbacks_see_the_run(server, tmp_path):
    seen: list[tuple[int, int]] = []
    lines: list[str] = []
    surestep.run(
        "openai:fake", str(DEMO_PROBLEMS), tmp_path / "run", base_url=server.base_url, n=2, ks=[2],
        limit=3, report=False, progress=lambda p: seen.append((p.done, p.total)), log=lines.append,
    )  # fmt: skip
    assert seen[0] == (0, 9) and seen[-1] == (9, 9)
    assert lines[0].startswith("generated 9 draws") and lines[1].startswith("graded 9 draws")


def test_failed_draws_raise_and_nothing_is_scored(fault_server, tmp_path):
    failing = fault_server("--fault-rate", "1", "--faults", "500")
    with pytest.raises(IncompleteRunError, match="6 draws failed") as error:
        surestep.run(
            "openai:fake", str(DEMO_PROBLEMS), tmp_path / "run", base_url=failing.base_url, n=2, ks=[2],
            limit=2, max_retries=0,
        )  # fmt: skip
    assert error.value.missing == 6
    assert not (tmp_path / "run" / "results.json").exists()


def test_bad_options_are_refused_before_anything_is_made(tmp_path):
    for options in ({"n": 0}, {"top_p": 0.0}, {"preset": "slow"}, {"mode": "judge"}, {"ks": [0]}):
        with pytest.raises(SurestepError):
            surestep.run("openai:fake", str(DEMO_PROBLEMS), tmp_path / "run", **options)  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()


def test_run_and_run_async_take_the_same_options():
    assert inspect.signature(surestep.run).parameters == inspect.signature(surestep.run_async).parameters


# --- grade and score ---------------------------------------------------------------------------


def _without_timing(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("seconds", "output")}


def test_grade_gives_what_the_cli_prints(tmp_path):
    graded = surestep.grade(RESPONSES, output=tmp_path / "api.jsonl")
    printed = _json("grade", str(RESPONSES), "-o", str(tmp_path / "cli.jsonl"))
    assert _without_timing(graded.to_dict()) == _without_timing(printed)
    assert graded.to_dict()["output"] == str(tmp_path / "api.jsonl")
    assert printed["output"] == str(tmp_path / "cli.jsonl")
    assert graded.stats.draws == 54 and sum(graded.stats.verdicts.values()) == 54

    def rows(path: Path) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k != "grade_seconds"} for line in path.open()]

    assert rows(tmp_path / "api.jsonl") == rows(tmp_path / "cli.jsonl")


def test_grade_a_run_directory_and_refuse_mixed_arguments(api_run):
    regraded = surestep.grade(api_run.directory, regrade=True)
    assert regraded.to_dict()["draws"] == 20 * 9 and regraded.output is None
    with pytest.raises(SurestepError, match="-o is for files"):
        surestep.grade(api_run.directory, output="x.jsonl")
    with pytest.raises(SurestepError, match="needs -o"):
        surestep.grade(RESPONSES)


def test_score_a_file_gives_what_the_cli_prints(tmp_path):
    result = surestep.score(RESPONSES, ks=[4, 8], ci=True, by="subset", resamples=200)
    printed = _json("score", str(RESPONSES), "--k", "4,8", "--ci", "--by", "subset", "--resamples", "200")
    assert result.to_dict() == printed
    assert result.grading is not None and result.grading.draws == 54  # graded on the way
    assert result.results is None  # a file has no results.json


def test_score_a_run_gives_what_the_cli_prints_and_rewrites_results(api_run):
    result = surestep.score(api_run.directory, ks=[4], ci=True, resamples=100)
    assert result.grading is None  # every draw was graded by the run
    assert result.results is not None and result.results.scored_with.ks == (4,)
    assert read_results(api_run.directory) == result.results
    printed = _json("score", str(api_run.directory), "--k", "4", "--ci", "--resamples", "100")
    assert result.to_dict() == printed
    assert read_results(api_run.directory).score == result.results.score


def test_score_options_are_checked():
    for options in ({"ks": [0]}, {"taus": [1.5]}, {"confidence": 0.2}, {"resamples": 1}, {"n": 0}):
        with pytest.raises(SurestepError):
            surestep.score(RESPONSES, **options)  # type: ignore[arg-type]


# --- prm score, compare, report ------------------------------------------------------------------


def test_prm_score_gives_what_the_cli_prints(small_prmbench):
    data, predictions = small_prmbench
    result = surestep.prm_score(predictions, data=str(data), resamples=50, tune_on=0.5)
    printed = _json(
        "prm", "score", str(predictions), "--data", str(data), "--resamples", "50", "--tune-on", "0.5"
    )
    assert result.to_dict() == printed
    assert result.prmscore == printed["overall"]["prmscore"]


def test_compare_gives_what_the_cli_prints(api_run, cli_run):
    out, _ = cli_run
    result = surestep.compare(api_run.directory, out, resamples=200)
    printed = _json("compare", str(api_run.directory), str(out), "--resamples", "200")
    assert result.to_dict() == printed and result.kind == "stability"
    assert all(d["delta"] == 0 for d in printed["metrics"].values())  # the same draws


def test_bon_and_plan_give_what_the_cli_prints(cli_run):
    out, _ = cli_run
    best = surestep.bon(out, "oracle", resamples=100)
    printed = _json("bon", str(out), "--scorer", "oracle", "--resamples", "100", "--json")
    assert best.to_json() == printed
    assert printed["methods"]["best_of_n"] == printed["methods"]["pass"]  # the oracle's identity
    study = surestep.plan(out, target=0.05, ks=[2, 4])
    assert study.to_dict() == _json("plan", str(out), "--target", "0.05", "--k", "2,4", "--json")


def test_compare_refuses_runs_of_two_kinds(api_run, tmp_path):
    (tmp_path / "prm").mkdir()
    (tmp_path / "prm" / "manifest.json").write_text('{"kind": "prm"}', encoding="utf-8")
    with pytest.raises(SurestepError, match="cannot compare a stability run"):
        surestep.compare(api_run.directory, tmp_path / "prm")


def test_report_writes_the_page_and_stays_the_function_once_the_subpackage_is_imported(api_run, tmp_path):
    import surestep.report.data  # sets the package's `report` attribute to the subpackage)

    assert callable(surestep.report)
    written = surestep.report(api_run.directory, tmp_path / "page.html", resamples=0, title="api")
    assert written.path == tmp_path / "page.html" and written.runs == (api_run.directory,)
    assert written.path.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert written.to_dict()["report"] == str(tmp_path / "page.html")
    with pytest.raises(SurestepError, match="not a directory"):
        surestep.report([tmp_path / "missing"])


# --- the CLI and the API agree on their options ----------------------------------------------------

RENAMED = {
    "model_spec": "model",
    "prompt_spec": "prompt",
    "base_urls": "base_url",
    "no_baselines": "baselines",
}
CLI_ONLY = {"as_json", "quiet", "shown"}  # shown: the figures plan prints grids for (display only)
API_FUNCTIONS = {
    ("run",): surestep.run,
    ("demo",): surestep.demo,
    ("grade",): surestep.grade,
    ("score",): surestep.score,
    ("prm", "score"): surestep.prm_score,
    ("prm", "run"): surestep.prm_run,
    ("report",): surestep.report,
    ("compare",): surestep.compare,
    ("bon",): surestep.bon,
    ("plan",): surestep.plan,
}


@pytest.mark.parametrize("path", list(API_FUNCTIONS), ids=" ".join)
def test_every_cli_option_is_a_keyword_of_the_api_with_the_same_default(path):
    command = COMMANDS[path[0]].load()
    for name in path[1:]:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    parameters = inspect.signature(API_FUNCTIONS[path]).parameters
    for option in command.params:
        if option.name in CLI_ONLY:
            continue
        assert option.name is not None
        name = RENAMED.get(option.name, option.name)
        if isinstance(option, click.Argument):
            continue  # positional in both (the file, the run directories)
        assert name in parameters, f"{' '.join(path)} --{option.name} has no keyword {name}"
        default = parameters[name].default
        cli_default = option.default
        if isinstance(option, click.Option) and option.is_flag and not isinstance(cli_default, bool):
            cli_default = False  # a flag given no default is off
        if name == "baselines":
            assert default is True and cli_default is False
        elif isinstance(cli_default, (bool, int, float, str, Path)):
            assert default == (str(cli_default) if isinstance(default, str) else cli_default), name


# --- the example ---------------------------------------------------------------------------------


def test_the_quickstart_example_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "graded 54 responses" in result.stdout
    assert "mG-Pass@8" in result.stdout and "by subset" in result.stdout
