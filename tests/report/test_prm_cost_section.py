"""The PRM section's headline table of `surestep report`: a critic run's tokens (total and per validly
scored instance) and, with --price-input/--price-output, its cost; "–" for a run whose scorer reported
no tokens (a local PRM). Real runs: the scripted critic server and a tiny math-shepherd model."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, prm_record, run_cli, write_jsonl

RECORDS = [
    prm_record("counterfactual", "p1", 3, [2], question="What is 2 + 3?"),
    prm_record("circular", "p2", 2, [2], question="SHORT: what is 4 + 4?"),
    prm_record("redundency", "p3", 4, [3], question="What is 5 + 5?"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("prm-cost-data") / "prm.jsonl", RECORDS)


@pytest.fixture(scope="module")
def critic(data) -> Path:
    """A critic PRM run made through the CLI against the critic test server on 127.0.0.1."""
    out = data.parent / "critic"
    server = ServerProcess("tests.prm.critic_server")
    try:
        result = run_cli("prm", "run", "--scorer", "critic", "--model", "critic-1", "--base-url", server.base_url,
                         "--data", str(data), "--out", str(out), "--protocol", "card")  # fmt: skip
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def shepherd(data) -> Path:
    """A local PRM run (a tiny math-shepherd): its scorer reports no tokens."""
    pytest.importorskip("torch", reason="PRM scorers need torch (extra 'prm')")
    from tests.prm.tiny_models import build

    texts = [
        t for r in RECORDS for t in (r["modified_question"], *r["modified_process"], *r["original_process"])
    ]
    model = build("math-shepherd", data.parent / "shepherd-model", texts)
    out = data.parent / "shepherd"
    result = run_cli("prm", "run", "--scorer", "math-shepherd", "--model", str(model), "--tokenizer",
                     str(model / "tokenizer"), "--data", str(data), "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def _stored(out: Path) -> list[tuple[int | None, int | None, bool]]:
    with sqlite3.connect(out / "predictions.sqlite") as db:
        rows = db.execute("SELECT prompt_tokens, completion_tokens, row FROM predictions").fetchall()
    return [(p, c, json.loads(r).get("valid", True) is not False) for p, c, r in rows]


def _report(tmp_path: Path, *runs: Path, prices: tuple[str, str] | None = None) -> tuple[str, dict]:
    page = tmp_path / "report.html"
    extra = () if prices is None else ("--price-input", prices[0], "--price-output", prices[1])
    result = run_cli("report", *map(str, runs), "-o", str(page), "--resamples", "0", *extra)
    assert result.returncode == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert found
    return html, json.loads(found.group(1).replace("<\\/", "</"))


def _prm_table(html: str) -> str:
    start = html.index('<table class="headline prm-headline">')
    return html[start : html.index("</table>", start)]


def _cost_cells(table: str) -> dict[str, str]:
    """Each row's name and its last cell (the tokens column where there is one)."""
    rows = re.findall(r'<tr class="[^"]*"><th>([^<]*)</th>(.*?)</tr>', table)
    return {name: re.findall(r"<td[^>]*>(?:(?!</td>).)*</td>", cells)[-1] for name, cells in rows}


def test_a_critic_run_shows_its_tokens_and_a_local_prm_a_dash(critic, shepherd, tmp_path):
    rows = _stored(critic)
    tokens = sum(p + c for p, c, _ in rows if p is not None and c is not None)
    valid = sum(v for _, _, v in rows)
    assert tokens > 0 and 0 < valid < len(rows) and all(p is not None for p, _, _ in rows)
    assert all(p is None and c is None for p, c, _ in _stored(shepherd))  # a local PRM reports none

    html, data = _report(tmp_path, critic, shepherd)
    cost = data["prm"][0]["cost"]
    assert data["prm"][0]["name"] == "critic" and data["prm"][1]["name"] == "shepherd"
    assert (cost["tokens"], cost["draws"], cost["correct"], cost["missing"]) == (tokens, len(rows), valid, 0)
    assert cost["tokens_per_correct"] == pytest.approx(tokens / valid)
    assert cost["prices"] is None and cost["total"] is None and cost["per_correct"] is None
    assert data["prm"][1]["cost"] is None

    table = _prm_table(html)
    assert "<th>tokens / valid instance</th>" in table
    cells = _cost_cells(table)
    assert f">{tokens / valid:,.0f}<" in cells["critic"] and f"{tokens:,} tokens" in cells["critic"]
    assert "$" not in cells["critic"]  # no prices given: tokens only
    assert cells["shepherd"] == '<td class="num" data-cost="none">–</td>'
    assert all(cell == "<td></td>" for name, cell in cells.items() if name.startswith("baseline: "))
    assert "Tokens / valid instance" in html


def test_prices_give_the_cost_in_total_and_per_valid_instance(critic, shepherd, tmp_path):
    rows = _stored(critic)
    prompt = sum(p for p, _, _ in rows if p is not None)
    completion = sum(c for _, c, _ in rows if c is not None)
    valid = sum(v for _, _, v in rows)
    html, data = _report(tmp_path, critic, shepherd, prices=("2", "10"))
    cost = data["prm"][0]["cost"]
    total = (2 * prompt + 10 * completion) / 1e6
    assert cost["prices"] == {"input_per_million": 2.0, "output_per_million": 10.0}
    assert (cost["prompt_tokens"], cost["completion_tokens"]) == (prompt, completion)
    assert cost["total"] == pytest.approx(total, rel=1e-12)
    assert cost["per_correct"] == pytest.approx(total / valid, rel=1e-12)
    cells = _cost_cells(_prm_table(html))
    assert (
        f"${total:,.4f}" in cells["critic"] and f"${total / valid:,.4f} / valid instance" in cells["critic"]
    )
    assert f"{prompt + completion:,} tokens" in cells["critic"]
    assert cells["shepherd"].endswith(">–</td>") and data["prm"][1]["cost"] is None


def test_a_report_of_local_prms_alone_has_no_tokens_column(shepherd, tmp_path):
    html, data = _report(tmp_path, shepherd, prices=("2", "10"))
    assert "tokens / valid instance" not in _prm_table(html) and data["prm"][0]["cost"] is None


def test_missing_counts_give_no_partial_sum_and_a_run_without_a_store_a_dash(critic, tmp_path):
    partial, bare = tmp_path / "partial", tmp_path / "bare"
    shutil.copytree(critic, partial)
    shutil.copytree(critic, bare)
    (bare / "predictions.sqlite").unlink()  # predictions.jsonl alone carries no tokens
    with sqlite3.connect(partial / "predictions.sqlite") as db:
        db.execute("UPDATE predictions SET prompt_tokens = NULL, completion_tokens = NULL WHERE position = 0")
    html, data = _report(tmp_path, critic, partial, bare, prices=("2", "10"))
    cells = _cost_cells(_prm_table(html))
    assert (
        f"tokens not reported for 1 of {len(_stored(critic))} instances" in cells["partial"]
        and "$" not in cells["partial"]
    )
    assert data["prm"][1]["cost"]["tokens"] is None and data["prm"][1]["cost"]["total"] is None
    assert cells["bare"] == '<td class="num" data-cost="none">–</td>' and data["prm"][2]["cost"] is None
    assert "$" in cells["critic"]


def test_one_price_alone_is_refused(critic, tmp_path):
    result = run_cli("report", str(critic), "-o", str(tmp_path / "r.html"), "--price-input", "2")
    assert result.returncode != 0
    assert "--price-input needs --price-output too" in result.stderr


def test_prices_recorded_in_the_runs_results_json_are_used_unless_others_are_given(critic, tmp_path):
    recorded = tmp_path / "recorded"
    shutil.copytree(critic, recorded)
    prices = {"input_per_million": 1.0, "output_per_million": 4.0}
    (recorded / "results.json").write_text(json.dumps({"cost": {"prices": prices}}), encoding="utf-8")
    rows = _stored(critic)
    prompt = sum(p for p, _, _ in rows if p is not None)
    completion = sum(c for _, c, _ in rows if c is not None)
    _, data = _report(tmp_path, critic, recorded)
    assert data["prm"][0]["cost"]["prices"] is None and data["prm"][0]["cost"]["total"] is None
    assert data["prm"][1]["cost"]["prices"] == prices
    assert data["prm"][1]["cost"]["total"] == pytest.approx((prompt + 4 * completion) / 1e6, rel=1e-12)
    _, given = _report(tmp_path, critic, recorded, prices=("2", "10"))
    assert given["prm"][1]["cost"]["total"] == pytest.approx((2 * prompt + 10 * completion) / 1e6, rel=1e-12)
