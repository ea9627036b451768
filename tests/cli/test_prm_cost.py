"""A critic PRM run's tokens and cost: in prm run --json (total and per instance) and in compare of two
PRM runs (per validly scored instance, B − A), against the scripted critic server."""

from __future__ import annotations

import json
import sqlite3
import statistics

import pytest

from tests.conftest import prm_record, write_jsonl


def _critic_run(cli, server, data, out, *extra: str) -> dict:
    result = cli("prm", "run", "--scorer", "critic", "--model", "critic-1", "--base-url", server.base_url,
                 "--data", str(data), "--out", str(out), "--protocol", "card", "--json", *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _stored(out) -> list[tuple[int, int, bool]]:
    with sqlite3.connect(out / "predictions.sqlite") as db:
        rows = db.execute("SELECT prompt_tokens, completion_tokens, row FROM predictions").fetchall()
    return [(p, c, json.loads(r).get("valid", True) is not False) for p, c, r in rows]


@pytest.fixture
def data(tmp_path):
    return write_jsonl(tmp_path / "prm.jsonl", [
        prm_record("counterfactual", "p1", 3, [2], question="What is 2 + 3?"),
        prm_record("circular", "p2", 2, [2], question="SHORT: what is 4 + 4?"),
        prm_record("redundency", "p3", 4, [3], question="What is 5 + 5?"),
    ])  # fmt: skip


def test_prm_run_json_holds_the_critics_tokens_and_cost(cli, critic_server, data, tmp_path):
    report = _critic_run(
        cli, critic_server, data, tmp_path / "a", "--price-input", "2", "--price-output", "10"
    )
    rows = _stored(tmp_path / "a")
    prompt, completion = sum(r[0] for r in rows), sum(r[1] for r in rows)
    valid = sum(r[2] for r in rows)
    cost = report["cost"]
    assert cost["prices"] == {"input_per_million": 2.0, "output_per_million": 10.0}
    assert (cost["draws"], cost["correct"], cost["missing"]) == (len(rows), valid, 0)
    assert (cost["prompt_tokens"], cost["completion_tokens"]) == (prompt, completion)
    assert cost["total"] == pytest.approx((2 * prompt + 10 * completion) / 1e6, rel=1e-12)
    assert cost["per_correct"] == pytest.approx(cost["total"] / valid, rel=1e-12)  # per validly scored one
    per_instance = [(p + c) for p, c, _ in rows]
    assert cost["per_problem"]["tokens"]["mean"] == pytest.approx(statistics.fmean(per_instance))
    assert cost["per_problem"]["tokens"]["median"] == pytest.approx(statistics.median(per_instance))
    assert cost["per_problem"]["cost"]["mean"] == pytest.approx(cost["total"] / len(rows), rel=1e-12)

    # resumed without prices: nothing asked again, priced as results.json recorded
    again = _critic_run(cli, critic_server, data, tmp_path / "a")
    assert again["cost"]["prices"] == cost["prices"] and again["cost"]["total"] == cost["total"]
    assert again["cost"]["tokens"] == prompt + completion
    unpriced = _critic_run(cli, critic_server, data, tmp_path / "b")
    assert unpriced["cost"]["prices"] is None and unpriced["cost"]["total"] is None


def test_compare_of_two_critic_runs_gives_tokens_and_cost_per_valid_instance(
    cli, critic_server, data, tmp_path
):
    _critic_run(cli, critic_server, data, tmp_path / "a")
    _critic_run(cli, critic_server, data, tmp_path / "b", "--max-tokens", "512")
    a, b = _stored(tmp_path / "a"), _stored(tmp_path / "b")
    result = cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--resamples", "100", "--json")
    assert result.returncode == 0, result.stderr
    cost = json.loads(result.stdout)["cost"]
    for side, rows in (("a", a), ("b", b)):
        tokens, valid = sum(p + c for p, c, _ in rows), sum(r[2] for r in rows)
        assert cost[side]["tokens"] == tokens and cost[side]["correct"] == valid
        assert cost[side]["tokens_per_correct"] == pytest.approx(tokens / valid)
    assert cost["prices_a"] is None and cost["per_correct_delta"] is None
    assert cost["tokens_per_correct_delta"] == pytest.approx(
        cost["b"]["tokens_per_correct"] - cost["a"]["tokens_per_correct"]
    )

    priced = cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--resamples", "100", "--json",
                 "--price-input", "2", "--price-output", "10")  # fmt: skip
    assert priced.returncode == 0, priced.stderr
    money = json.loads(priced.stdout)["cost"]
    assert money["prices_a"] == money["prices_b"] == {"input_per_million": 2.0, "output_per_million": 10.0}
    expected = sum(2 * p + 10 * c for p, c, _ in a) / 1e6 / sum(r[2] for r in a)
    assert money["a"]["per_correct"] == pytest.approx(expected, rel=1e-12)
    assert money["per_correct_delta"] == pytest.approx(money["b"]["per_correct"] - money["a"]["per_correct"])

    text = cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--resamples", "100")
    assert text.returncode == 0, text.stderr
    assert "tokens per validly scored instance: A" in " ".join(text.stdout.split())
