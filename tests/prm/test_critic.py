"""The LLM critic scorer: tolerant parsing, strict content, and a real server process on loopback."""

from __future__ import annotations

import json

import httpx
import pytest

from surestep.errors import SurestepError
from surestep.prm.scorers.base import SolutionToScore
from surestep.prm.scorers.critic import (
    CriticScorer,
    first_json_object,
    load_few_shot,
    parse_critic_reply,
)
from tests.conftest import prm_record, write_jsonl


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('Sure! {"a": [1, 2,],} done', {"a": [1, 2]}),
        ('```json\n{"a": "}{"}\n```', {"a": "}{"}),
        ('{"a": "say \\"}\\" here"}', {"a": 'say "}" here'}),
        ('first {not json} then {"b": {"c": 2}}', {"b": {"c": 2}}),
        ('```\n{"fenced": 1}\n``` and {"outside": 2}', {"fenced": 1}),
        ("[1, 2, 3]", None),
        ('{"a": 1', None),
        ("no braces at all", None),
    ],
)
def test_first_json_object(text, expected):
    assert first_json_object(text) == expected


def test_parse_reply_accepts_exact_lists_and_rejects_anything_else():
    good = parse_critic_reply('{"validity": [1, -0.5], "redundancy": [0, -1]}', 2)
    assert good.error is None and good.validity == (1.0, -0.5) and good.redundancy == (0.0, -1.0)
    cases = {
        '{"validity": [1], "redundancy": [0, 0]}': "the reply has 1 validity scores for 2 steps",
        '{"validity": [1, 1], "redundancy": [0, 0, 0]}': "the reply has 3 redundancy scores for 2 steps",
        '{"validity": [1, 1]}': "the reply has no 'redundancy' list",
        '{"validity": [1, "high"], "redundancy": [0, 0]}': "validity[1] is not a number: 'high'",
        '{"validity": [true, 1], "redundancy": [0, 0]}': "validity[0] is not a number: True",
        '{"validity": [1, 1.5], "redundancy": [0, 0]}': "validity[1] = 1.5 is outside [-1, 1]",
        "nothing": "no JSON object in the reply",
    }
    for text, error in cases.items():
        assert parse_critic_reply(text, 2).error == error


def _item(id_, question, steps=3):
    return SolutionToScore(id_, question, tuple(f"Step {i + 1}: do thing {i + 1}" for i in range(steps)))


def test_critic_against_a_server_with_good_malformed_and_wrong_length_replies(critic_server):
    scorer = CriticScorer("critic-1", base_url=critic_server.base_url, backoff_base=0.01)
    items = [
        _item("good", "What is 2 + 2?"),
        _item("fenced", "FENCED: what is 3 + 3?", 2),
        _item("malformed", "MALFORMED: what is 4 + 4?"),
        _item("short", "SHORT: what is 5 + 5?"),
        _item("range", "RANGE: what is 6 + 6?"),
        _item("flaky", "FLAKY: what is 7 + 7?", 1),
    ]
    results = {r.id: r for r in scorer.score(items)}
    assert [r.id for r in scorer.score(items[:2])] == ["good", "fenced"]  # order kept
    good = results["good"]
    assert good.valid and good.step_scores == (0.75, 0.75, 0.0) and good.redundancy_scores == (1.0, 0.25, 0.25)
    assert results["fenced"].valid and results["fenced"].step_scores == (0.75, 0.0)
    assert results["flaky"].valid and results["flaky"].step_scores == (0.0,)
    assert not results["malformed"].valid
    assert results["malformed"].error.startswith("no JSON object in the reply (reply: 'Every step looks fine")
    assert not results["short"].valid and results["short"].step_scores == ()
    assert results["short"].error.startswith("the reply has 2 validity scores for 3 steps")
    assert results["range"].error.startswith("validity[0] = 2.0 is outside [-1, 1]")
    assert results["short"].to_json() == {"id": "short", "valid": False, "error": results["short"].error}


def test_a_server_that_stays_down_stops_the_critic(critic_server):
    scorer = CriticScorer("critic-1", base_url=critic_server.base_url, max_retries=1, backoff_base=0.01)
    with pytest.raises(SurestepError, match=r"critic critic-1: .*gave up after 2 attempts: HTTP 500"):
        scorer.score([_item("a", "What is 1 + 1?"), _item("b", "DOWN: what is 2 + 2?")])


def test_few_shot_examples_are_checked_and_sent_before_the_solution(critic_server, tmp_path):
    shots = write_jsonl(tmp_path / "shots.jsonl", [
        {"question": "What is 1 + 1?", "steps": ["1 + 1 = 3", "So 3"], "validity": [-1, -1], "redundancy": [-1, -1]},
        {"question": "What is 2 + 2?", "steps": ["2 + 2 = 4"], "validity": [1], "redundancy": [-1]},
    ])
    examples = load_few_shot(shots)
    scorer = CriticScorer("critic-1", base_url=critic_server.base_url, few_shot=examples)
    roles = [role for role, _ in scorer.messages(_item("x", "What is 9 + 9?"))]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    (result,) = scorer.score([_item("x", "What is 9 + 9?")])
    assert result.valid
    assert httpx.get(f"http://127.0.0.1:{critic_server.port}/stats").json()["last_messages"] == 6

    bad = write_jsonl(tmp_path / "bad.jsonl", [
        {"question": "Q", "steps": ["a"], "validity": [1], "redundancy": [-1]},
        {"question": "Q", "steps": ["a", "b"], "validity": [1], "redundancy": [-1, -1]},
    ])
    with pytest.raises(SurestepError, match=r"bad\.jsonl:2: the example has 1 validity scores for 2 steps"):
        load_few_shot(bad)
    no_steps = write_jsonl(tmp_path / "no_steps.jsonl", [{"question": "Q", "steps": [], "validity": []}])
    with pytest.raises(SurestepError, match=r"no_steps\.jsonl:1: field 'steps' must be a non-empty list"):
        load_few_shot(no_steps)


def test_prm_run_with_the_critic_records_invalid_replies_and_resumes(cli, critic_server, tmp_path):
    data = write_jsonl(tmp_path / "prm.jsonl", [
        prm_record("counterfactual", "p1", 3, [2], question="What is 2 + 3?"),
        prm_record("circular", "p2", 2, [2], question="SHORT: what is 4 + 4?"),
        prm_record("redundency", "p3", 4, [3], question="MALFORMED: what is 5 + 5?"),
    ])
    out = tmp_path / "run"
    args = ("prm", "run", "--scorer", "critic", "--model", "critic-1", "--base-url", critic_server.base_url,
            "--data", str(data), "--out", str(out), "--chunk", "2", "--json")
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    assert set(rows) == {"counterfactual_p1", "circular_p2", "redundency_p3", "correct_p3"}
    assert rows["counterfactual_p1"]["step_scores"] == [0.75, 0.75, 0.0]
    assert rows["counterfactual_p1"]["redundancy_scores"] == [1.0, 0.25, 0.25]
    assert rows["circular_p2"]["valid"] is False
    assert rows["circular_p2"]["error"].startswith("the reply has 1 validity scores for 2 steps")
    assert rows["redundency_p3"]["error"].startswith("no JSON object in the reply")
    report = json.loads(result.stdout)
    assert report["data_issues"]["invalid_predictions"]["count"] == 3  # SHORT, and both MALFORMED solutions
    requests = critic_server.stats()["requests"]
    assert requests == 4
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert critic_server.stats()["requests"] == requests  # nothing asked twice
    changed = cli(*args[:-1], "--max-tokens", "99")
    assert changed.returncode != 0 and "max_tokens: run has 2048, now 99" in changed.stderr


def test_critic_options_are_checked(cli, tmp_path):
    data = write_jsonl(tmp_path / "prm.jsonl", [prm_record("counterfactual", "p1", 3, [2])])
    base = ("prm", "run", "--data", str(data), "--out", str(tmp_path / "run"))
    result = cli(*base, "--scorer", "critic", "--model", "m")
    assert result.returncode != 0 and "the critic scorer needs --base-url" in result.stderr
    result = cli(*base, "--scorer", "critic", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                 "--reward-differences")
    assert result.returncode != 0 and "--reward-differences applies to the skywork-prm scorer only" in result.stderr
