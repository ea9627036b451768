"""surestep compare RUN --bon A --bon B: a paired bootstrap of two best-of-N results of one run, per
method and N, on a real small run with the built-in oracle and random scorers."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import surestep
from surestep.errors import SurestepError
from surestep.metrics.bootstrap import percentile_interval, resample_weights
from surestep.runs.bon import stored_bon
from tests.conftest import DEMO_PROBLEMS, run_cli

SIZES = ("1", "2", "4", "8")


@pytest.fixture(scope="module")
def bon_run(tmp_path_factory):
    """30 demo problems x 8 graded draws from the test server, with oracle, random and a copy of random."""
    from tests.conftest import ServerProcess

    server = ServerProcess("tests.models.fault_server")
    try:
        out = tmp_path_factory.mktemp("bon-compare") / "run"
        result = run_cli("run", "--model", "openai:fake", "--base-url", server.base_url, "--dataset",
                         str(DEMO_PROBLEMS), "--subset-field", "subset", "--out", str(out), "--preset", "quick",
                         "--quiet")  # fmt: skip
        assert result.returncode == 0, result.stderr
    finally:
        server.stop()
    for args in (
        ("--scorer", "oracle"),
        ("--scorer", "random", "--seed", "3"),
        ("--scorer", "random", "--seed", "3", "--name", "random-again"),
        ("--scorer", "random", "--seed", "5", "--aggregate", "last", "--samples", "4", "--name", "r5"),
    ):
        made = run_cli("bon", str(out), *args, "--resamples", "0", "--json")
        assert made.returncode == 0, made.stderr
    return out


def _compare(run, *args: str) -> dict:
    result = run_cli("compare", str(run), *args, "--resamples", "400", "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _bon(run, label: str) -> dict:
    return dict(json.loads((run / f"bon-{label}.json").read_text()))


def test_oracle_against_random_per_method_and_n(bon_run):
    out = _compare(bon_run, "--bon", "random", "--bon", "oracle")
    rand, oracle = _bon(bon_run, "random"), _bon(bon_run, "oracle")
    assert out["a"] == "random" and out["b"] == "oracle" and out["shared_problems"] == 30
    assert out["bon"]["n"] == 8 and out["bon"]["sizes"] == [1, 2, 4, 8]
    assert out["bon"]["a"]["scorer"] == "random" and out["bon"]["b"]["scorer"] == "oracle"
    assert list(out["metrics"]) == [f"{m}@{s}" for m in ("best_of_n", "weighted_vote") for s in SIZES]
    for method in ("best_of_n", "weighted_vote"):
        for size in SIZES:
            d = out["metrics"][f"{method}@{size}"]
            # A and B are what bon printed for each (recomputed from the run, not copied)
            assert d["a"] == pytest.approx(rand["methods"][method][size], abs=1e-12)
            assert d["b"] == pytest.approx(oracle["methods"][method][size], abs=1e-12)
            assert d["delta"] == pytest.approx(d["b"] - d["a"], abs=1e-12)
            low, high = d["interval"]
            assert low <= d["delta"] + 1e-12 and d["delta"] <= high + 1e-12
    one = out["metrics"]["best_of_n@1"]  # best-of-1 is the average for every scorer: no difference
    assert one["delta"] == pytest.approx(0, abs=1e-12) and one["verdict"] is None
    assert one["interval"] == pytest.approx([0, 0], abs=1e-12)
    eight = out["metrics"]["best_of_n@8"]  # the oracle reaches pass@8
    assert eight["b"] == pytest.approx(oracle["methods"]["pass"]["8"], abs=1e-12)
    assert eight["delta"] > 0 and eight["interval"][0] > 0 and eight["verdict"] == "oracle higher"
    assert out["metrics"]["best_of_n@8"]["label"] == "best-of-8"
    assert out["metrics"]["weighted_vote@4"]["label"] == "PRM-weighted vote@4"


def test_the_interval_is_a_paired_bootstrap_over_problems(bon_run):
    out = _compare(bon_run, "--bon", "random", "--bon", "oracle", "--seed", "7")
    a, b = stored_bon(bon_run, "random"), stored_bon(bon_run, "oracle")
    diff = b.figures.per_problem["best_of_n"] - a.figures.per_problem["best_of_n"]  # (problems, sizes)
    boot = np.concatenate([w @ diff / diff.shape[0] for w in resample_weights(diff.shape[0], 400, 7)])
    low, high = percentile_interval(boot, 0.95)
    for j, size in enumerate(SIZES):
        assert out["metrics"][f"best_of_n@{size}"]["interval"] == pytest.approx([low[j], high[j]], abs=1e-12)
    # the same setup under two labels: every difference and interval is 0 (one resample for both)
    same = _compare(bon_run, "--bon", "random", "--bon", "random-again")
    for d in same["metrics"].values():
        assert d["delta"] == pytest.approx(0, abs=1e-12) and d["verdict"] is None
        assert d["interval"] == pytest.approx([0, 0], abs=1e-12)


def test_each_result_keeps_its_own_aggregate_samples_and_seed(bon_run):
    out = _compare(bon_run, "--bon", "random", "--bon", "r5")
    r5 = _bon(bon_run, "r5")
    assert out["bon"]["b"]["aggregate"] == "last"
    assert set(out["bon"]["b"]["weighted_vote_mc_error"]) == {
        "1",
        "2",
        "4",
    }  # C(8, N) > 4 samples; N = 8 exact
    for size in SIZES:
        for method in ("best_of_n", "weighted_vote"):
            assert out["metrics"][f"{method}@{size}"]["b"] == pytest.approx(
                r5["methods"][method][size], abs=1e-12
            )


def test_the_api_gives_what_the_cli_prints_and_the_table(bon_run):
    result = surestep.compare(bon_run, bon=("random", "oracle"), resamples=400)
    assert result.kind == "bon"
    assert result.to_dict() == _compare(bon_run, "--bon", "random", "--bon", "oracle")
    text = run_cli("compare", str(bon_run), "--bon", "random", "--bon", "oracle", "--resamples", "400")
    assert text.returncode == 0, text.stderr
    assert (
        "best-of-8" in text.stdout and "PRM-weighted vote@2" in text.stdout and "oracle higher" in text.stdout
    )
    assert "A = random: random, min of step scores" in text.stdout


def test_bad_input_is_refused_naming_what_is_wrong(bon_run, tmp_path):
    def refused(*args: str) -> str:
        result = run_cli("compare", *args)
        assert result.returncode == 2, (result.stdout, result.stderr)
        return result.stderr

    run = str(bon_run)
    assert "no best-of-N result named 'nope'" in refused(run, "--bon", "oracle", "--bon", "nope")
    assert "bon-nope.json" in refused(run, "--bon", "oracle", "--bon", "nope")
    assert "given twice" in refused(run, "--bon", "oracle", "--bon", "oracle")
    assert "two labels" in refused(run, "--bon", "oracle")
    assert "two labels" in refused(run, run, "--bon", "oracle", "--bon", "random")
    assert "do not apply" in refused(run, "--bon", "oracle", "--bon", "random", "--price-input", "1",
                                     "--price-output", "1")  # fmt: skip
    assert "give two runs" in refused(run)

    copy = tmp_path / "run"
    shutil.copytree(bon_run, copy)
    broken = _bon(copy, "oracle")
    del broken["aggregate"]
    (copy / "bon-broken.json").write_text(json.dumps(broken))
    message = refused(str(copy), "--bon", "oracle", "--bon", "broken")
    assert "bon-broken.json" in message and "'aggregate'" in message
    (copy / "bon-garbled.json").write_text("{not json")
    assert "bon-garbled.json: unreadable" in refused(str(copy), "--bon", "oracle", "--bon", "garbled")
    # a PRM label whose step scores the store does not hold
    prm = {
        **_bon(copy, "oracle"),
        "name": "shepherd",
        "setup": {"kind": "bon", "scorer": "math-shepherd", "model": "somewhere", "steps": "x"},
    }
    (copy / "bon-shepherd.json").write_text(json.dumps(prm))
    assert "lack 240 of 240 graded draws" in refused(str(copy), "--bon", "oracle", "--bon", "shepherd")

    with pytest.raises(SurestepError, match="two labels"):
        surestep.compare(copy, bon=("oracle",))
