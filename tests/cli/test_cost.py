"""--price-input/--price-output end to end: results.json's cost by hand from the store, the prices
kept for later commands, score's output, the report's headline and compare's B − A."""

from __future__ import annotations

import json
import sqlite3

import pytest

from surestep.runs.results import read_results
from tests.conftest import DEMO_PROBLEMS


def _run(cli, server, out, *extra):
    return cli(
        "run",
        "--model",
        "openai:fake",
        "--base-url",
        server.base_url,
        "--dataset",
        str(DEMO_PROBLEMS),
        "--subset-field",
        "subset",
        "--out",
        str(out),
        "--n",
        "2",
        "--limit",
        "8",
        "--no-ci",
        "--quiet",
        *extra,
    )


def _by_hand(out, price_input, price_output):
    """The cost figures computed straight from run.sqlite (every draw here is scored: n = 2 + greedy)."""
    with sqlite3.connect(out / "run.sqlite") as db:
        rows = db.execute(
            "SELECT d.problem_id, p.subset, d.prompt_tokens, d.completion_tokens, g.correct FROM draws d "
            "JOIN grades g USING (problem_id, config, draw_index) JOIN problems p USING (problem_id)"
        ).fetchall()
    assert len(rows) == 8 * 3 and all(r[2] is not None and r[3] is not None for r in rows)

    def cost(group):
        return sum(p * price_input + c * price_output for _, _, p, c, _ in group) / 1e6

    subsets = {s: [r for r in rows if r[1] == s] for s in {r[1] for r in rows}}
    per_problem = sorted(cost([r for r in rows if r[0] == pid]) for pid in {r[0] for r in rows})
    return rows, cost(rows), subsets, cost, per_problem


@pytest.fixture(scope="module")
def priced_run(tmp_path_factory):
    from tests.conftest import ServerProcess, run_cli

    server = ServerProcess("tests.models.fault_server")
    try:
        out = tmp_path_factory.mktemp("cost") / "a"
        result = _run(run_cli, server, out, "--price-input", "1.5", "--price-output", "4")
        assert result.returncode == 0, result.stderr
        plain = out.parent / "b"
        result = _run(run_cli, server, plain, "--prompt", "brief")
        assert result.returncode == 0, result.stderr
    finally:
        server.stop()
    return out, plain


def test_results_json_holds_the_cost_computed_by_hand(priced_run):
    out, _ = priced_run
    rows, total, subsets, cost, per_problem = _by_hand(out, 1.5, 4.0)
    data = json.loads((out / "results.json").read_text())
    figures = data["cost"]
    assert figures["currency"] == "USD"
    assert figures["prices"] == {"input_per_million": 1.5, "output_per_million": 4.0}
    correct = sum(r[4] for r in rows)
    assert figures["correct"] == correct == data["draws"]["correct"]
    assert figures["tokens"] == sum(r[2] + r[3] for r in rows) == data["tokens"]["total"]
    assert figures["total"] == pytest.approx(total, rel=1e-12)
    assert figures["per_correct"] == (pytest.approx(total / correct, rel=1e-12) if correct else None)
    assert figures["per_problem"]["cost"]["problems"] == 8
    assert figures["per_problem"]["cost"]["mean"] == pytest.approx(sum(per_problem) / 8, rel=1e-12)
    assert figures["per_problem"]["cost"]["median"] == pytest.approx(
        (per_problem[3] + per_problem[4]) / 2, rel=1e-12
    )
    assert set(figures["subsets"]) == set(subsets)
    for name, group in subsets.items():
        right = sum(r[4] for r in group)
        assert figures["subsets"][name]["total"] == pytest.approx(cost(group), rel=1e-12)
        assert figures["subsets"][name]["per_correct"] == (
            pytest.approx(cost(group) / right, rel=1e-12) if right else None
        )
    assert read_results(out).to_dict() == data  # read back into the same types


def test_score_reuses_the_recorded_prices_and_a_given_price_overrides_them(priced_run, cli):
    out, _ = priced_run
    _, total, _, _, _ = _by_hand(out, 1.5, 4.0)
    again = cli("score", str(out), "--json")
    assert again.returncode == 0, again.stderr
    sheet = json.loads(again.stdout)
    assert sheet["cost"]["total"] == pytest.approx(total, rel=1e-12) and "tokens" in sheet
    text = cli("score", str(out), "--price-output", "10")
    assert text.returncode == 0, text.stderr
    _, cheaper, _, _, _ = _by_hand(out, 1.5, 10.0)
    assert f"cost: ${cheaper:,.4f} at $1.5 / $10 per million" in text.stdout
    assert "per correct answer" in text.stdout and "tokens: " in text.stdout
    recorded = json.loads((out / "results.json").read_text())["cost"]  # the override is recorded
    assert recorded["prices"] == {"input_per_million": 1.5, "output_per_million": 10.0}
    assert cli("score", str(out), "--price-output", "4").returncode == 0  # back as the run had it


def test_an_unpriced_run_prints_tokens_but_no_cost(priced_run, cli):
    _, plain = priced_run
    result = cli("score", str(plain), "--json")
    assert result.returncode == 0, result.stderr
    sheet = json.loads(result.stdout)
    assert "cost" not in sheet and sheet["tokens"]["total"] > 0
    assert json.loads((plain / "results.json").read_text())["cost"] is None
    text = cli("score", str(plain)).stdout
    assert "tokens: " in text and "cost: $" not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--price-input", "2"), "--price-input needs --price-output"),
        (("--price-output", "-1"), "--price-output"),
        (("--price-input", "abc", "--price-output", "1"), "--price-input"),
    ],
)
def test_bad_or_half_given_prices_exit_2_with_a_clear_message(priced_run, cli, args, message):
    _, plain = priced_run
    result = cli("score", str(plain), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_file_of_draws_takes_no_prices(cli, tmp_path):
    draws = tmp_path / "draws.jsonl"
    draws.write_text(json.dumps({"problem_id": "p", "sample_index": 0, "correct": True}) + "\n")
    result = cli("score", str(draws), "--price-input", "1", "--price-output", "1")
    assert result.returncode == 2 and "need a run directory" in result.stderr


def test_compare_gives_b_minus_a_cost_per_correct_answer(priced_run, cli):
    a, b = priced_run
    result = cli("compare", str(a), str(b), "--json", "--resamples", "100")
    assert result.returncode == 0, result.stderr
    cost = json.loads(result.stdout)["cost"]
    assert cost["prices_a"] == {"input_per_million": 1.5, "output_per_million": 4.0}
    assert cost["prices_b"] is None and cost["per_correct_delta"] is None  # B is not priced
    assert cost["a"]["per_correct"] == json.loads((a / "results.json").read_text())["cost"]["per_correct"]

    priced = cli(
        "compare", str(a), str(b), "--json", "--resamples", "100", "--price-input", "3", "--price-output", "3"
    )
    cost = json.loads(priced.stdout)["cost"]
    tokens_a, tokens_b = (json.loads((r / "results.json").read_text())["tokens"] for r in (a, b))
    assert tokens_a["correct"] and tokens_b["correct"]  # the server answers sums right ~65% of the time
    expected = 3 * (tokens_b["total"] / tokens_b["correct"] - tokens_a["total"] / tokens_a["correct"]) / 1e6
    assert cost["per_correct_delta"] == pytest.approx(expected, rel=1e-9)
    text = cli("compare", str(a), str(b), "--resamples", "100", "--price-input", "3", "--price-output", "3")
    assert text.returncode == 0 and "cost per correct answer (USD): A $" in text.stdout


def test_the_report_headline_has_the_tokens_and_cost(priced_run, cli, tmp_path):
    a, b = priced_run
    page = tmp_path / "r.html"
    result = cli("report", str(a), str(b), "-o", str(page), "--resamples", "0")
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    headline = html[html.index('<table class="headline">') : html.index("</table>")]
    assert "tokens / correct" in headline
    total = json.loads((a / "results.json").read_text())["cost"]["total"]
    row_a, row_b = headline.split("<tr><th>")[2:]
    assert row_a.startswith(a.name) and row_b.startswith(b.name)
    assert f"${total:,.4f}" in row_a and "/ correct" in row_a  # A is priced as its results.json records
    assert "$" not in row_b and " tokens" in row_b  # B is not priced: its tokens only
    repriced = cli(
        "report",
        str(a),
        str(b),
        "-o",
        str(page),
        "--resamples",
        "0",
        "--price-input",
        "0",
        "--price-output",
        "0",
    )
    assert repriced.returncode == 0, repriced.stderr
    assert "$0.0000 · no correct answer" not in page.read_text() and "$0.0000" in page.read_text()


def test_the_critic_records_its_tokens_per_request_and_prm_run_prices_them(cli, critic_server, tmp_path):
    from tests.conftest import prm_record, write_jsonl

    data = write_jsonl(
        tmp_path / "prm.jsonl",
        [
            prm_record("counterfactual", "p1", 3, [2], question="What is 2 + 3?"),
            prm_record("circular", "p2", 2, [2], question="SHORT: what is 4 + 4?"),
        ],
    )
    out = tmp_path / "critic"
    args = (
        "prm",
        "run",
        "--scorer",
        "critic",
        "--model",
        "critic-1",
        "--base-url",
        critic_server.base_url,
        "--data",
        str(data),
        "--out",
        str(out),
        "--protocol",
        "card",
    )
    result = cli(*args, "--price-input", "2", "--price-output", "10")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(out / "predictions.sqlite") as db:
        rows = db.execute("SELECT prompt_tokens, completion_tokens, row FROM predictions").fetchall()
    assert len(rows) == 2 and all(p and c for p, c, _ in rows)  # one request per instance, all counted
    prompt, completion = sum(r[0] for r in rows), sum(r[1] for r in rows)
    valid = sum(json.loads(r[2]).get("valid", True) for r in rows)
    assert valid == 1  # SHORT gets a reply of the wrong length
    cost = (prompt * 2 + completion * 10) / 1e6
    assert (
        f"tokens: {prompt + completion:,} ({prompt:,} prompt, {completion:,} completion) over 2 instances; "
        f"{(prompt + completion) / valid:,.0f} per valid one; cost ${cost:,.4f}, ${cost / valid:,.6f} per valid "
        "instance"
    ) in " ".join(result.stderr.split())
    # resumed with one price: the other is the one results.json recorded
    again = cli(*args, "--price-input", "4")
    assert again.returncode == 0, again.stderr
    assert f"cost ${(prompt * 4 + completion * 10) / 1e6:,.4f}" in " ".join(again.stderr.split())
    elsewhere = [a if a != str(out) else str(tmp_path / "unpriced") for a in args]
    half = cli(*elsewhere, "--price-input", "2")  # a new run has no recorded price to complete it
    assert half.returncode == 2 and "--price-input needs --price-output" in half.stderr


def test_a_prediction_store_made_before_tokens_were_recorded_gains_the_columns(tmp_path):
    from surestep.metrics.cost import Prices
    from surestep.runs.prm_run import DATABASE, prm_run_cost

    with sqlite3.connect(tmp_path / DATABASE) as db:  # the table as surestep made it before
        db.execute(
            "CREATE TABLE predictions (id TEXT PRIMARY KEY, position INTEGER NOT NULL, "
            "steps INTEGER NOT NULL, row TEXT NOT NULL, seconds REAL NOT NULL)"
        )
        db.execute(
            'INSERT INTO predictions VALUES (\'a\', 0, 2, \'{"id": "a", "step_scores": [1, 0]}\', 0.1)'
        )
    cost = prm_run_cost(tmp_path, Prices(1.0, 1.0))
    assert (cost.total.draws, cost.total.missing, cost.total.cost) == (1, 1, None)  # kept, uncounted
    with sqlite3.connect(tmp_path / DATABASE) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(predictions)")]
    assert columns[-2:] == ["prompt_tokens", "completion_tokens"]
