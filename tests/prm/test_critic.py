"""The LLM critic scorer under both protocols, against a real server process on loopback.

``card``: tolerant parsing, strict content. ``prmbench``: PRMBench's layout and reply handling
(``mr_eval/models/openai_models.py``, ``mr_eval/utils/model_utils.py:67-113``): what it would
score is scored as given, what it would drop is invalid.
"""

from __future__ import annotations

import json

import httpx
import pytest

from surestep.errors import SurestepError
from surestep.prm.scorers.base import SolutionToScore
from surestep.prm.scorers.critic import (
    PRMBENCH_INSTRUCTION,
    PRMBENCH_SHOTS,
    CriticScorer,
    first_json_object,
    load_few_shot,
    parse_critic_reply,
    parse_prmbench_reply,
    prmbench_json_object,
    prmbench_prompt,
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
    assert (
        good.valid and good.step_scores == (0.75, 0.75, 0.0) and good.redundancy_scores == (1.0, 0.25, 0.25)
    )
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
    shots = write_jsonl(
        tmp_path / "shots.jsonl",
        [
            {
                "question": "What is 1 + 1?",
                "steps": ["1 + 1 = 3", "So 3"],
                "validity": [-1, -1],
                "redundancy": [-1, -1],
            },
            {"question": "What is 2 + 2?", "steps": ["2 + 2 = 4"], "validity": [1], "redundancy": [-1]},
        ],
    )
    examples = load_few_shot(shots)
    scorer = CriticScorer("critic-1", base_url=critic_server.base_url, few_shot=examples)
    roles = [role for role, _ in scorer.messages(_item("x", "What is 9 + 9?"))]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    (result,) = scorer.score([_item("x", "What is 9 + 9?")])
    assert result.valid
    assert httpx.get(f"http://127.0.0.1:{critic_server.port}/stats").json()["last_messages"] == 6

    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"question": "Q", "steps": ["a"], "validity": [1], "redundancy": [-1]},
            {"question": "Q", "steps": ["a", "b"], "validity": [1], "redundancy": [-1, -1]},
        ],
    )
    with pytest.raises(SurestepError, match=r"bad\.jsonl:2: the example has 1 validity scores for 2 steps"):
        load_few_shot(bad)
    no_steps = write_jsonl(tmp_path / "no_steps.jsonl", [{"question": "Q", "steps": [], "validity": []}])
    with pytest.raises(SurestepError, match=r"no_steps\.jsonl:1: field 'steps' must be a non-empty list"):
        load_few_shot(no_steps)


def test_prm_run_with_the_critic_records_invalid_replies_and_resumes(cli, critic_server, tmp_path):
    data = write_jsonl(
        tmp_path / "prm.jsonl",
        [
            prm_record("counterfactual", "p1", 3, [2], question="What is 2 + 3?"),
            prm_record("circular", "p2", 2, [2], question="SHORT: what is 4 + 4?"),
            prm_record("redundency", "p3", 4, [3], question="MALFORMED: what is 5 + 5?"),
        ],
    )
    out = tmp_path / "run"
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
        "--chunk",
        "2",
        "--protocol",
        "card",
        "--json",
    )
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
    other_protocol = cli(*(a if a != "card" else "prmbench" for a in args))
    assert (
        other_protocol.returncode != 0 and 'protocol: run has "card", now "prmbench"' in other_protocol.stderr
    )
    assert report["protocol"]["protocol"] == "card" and not report["protocol"]["comparable_with_prmbench"]
    assert report["threshold"] == {"validity": 0.5, "redundancy": 0.5}


def test_critic_options_are_checked(cli, tmp_path):
    data = write_jsonl(tmp_path / "prm.jsonl", [prm_record("counterfactual", "p1", 3, [2])])
    base = ("prm", "run", "--data", str(data), "--out", str(tmp_path / "run"))
    result = cli(*base, "--scorer", "critic", "--model", "m")
    assert result.returncode != 0 and "the critic scorer needs --base-url" in result.stderr
    result = cli(
        *base,
        "--scorer",
        "critic",
        "--model",
        "m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--reward-differences",
    )
    assert (
        result.returncode != 0
        and "--reward-differences applies to the skywork-prm scorer only" in result.stderr
    )


# --- the prmbench protocol ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('{"a": [1, 2,]} then {"b": 2}', {"b": 2}),  # the first fails json (trailing comma): the next
        ('{"a": 1, # a comment\n"b": 2}', {"a": 1, "b": 2}),  # '#' to the end of the line is dropped
        ('{"a": "x // y"}', None),  # ... inside strings too, which breaks this one
        ('{"a": "}{"}', None),  # braces are counted without regard to strings
        ('} {"a": 1}', None),  # a '}' with nothing open makes the reader fail
        ('{"a": NaN}', "nan"),
        ('{"a": 1', None),
    ],
)
def test_prmbench_json_object_follows_prmbenchs_reader(text, expected):
    found = prmbench_json_object(text)
    if expected == "nan":
        assert found is not None and found["a"] != found["a"]
    else:
        assert found == expected


def test_prmbench_reply_is_scored_as_given_where_prmbench_scores_it():
    scored = parse_prmbench_reply('{"validity": [2, -0.5, 1, 0.3], "redundancy": [true, 0]}')
    assert scored.error is None
    assert scored.validity == (2.0, -0.5, 1.0, 0.3) and scored.redundancy == (1.0, 0.0)  # any length
    empty = parse_prmbench_reply('{"validity": "", "redundancy": {}}')  # nothing to label, no error
    assert empty.error is None and empty.validity == () and empty.redundancy == ()
    extreme = parse_prmbench_reply('{"validity": [NaN, Infinity, -Infinity], "redundancy": []}')
    assert extreme.validity == (-1.7976931348623157e308, 1.7976931348623157e308, -1.7976931348623157e308)
    for text, error in {
        '{"validity": [1]}': "the reply has no 'redundancy' key",
        '{"validity": ["high"], "redundancy": []}': "validity[0] is not a number PRMBench can compare with 0",
        '{"validity": 0.5, "redundancy": []}': "validity is float, not a list PRMBench can label",
        '{"validity": [], "redundancy": [[1]]}': "redundancy[0] is not a number",
        "prose": "no JSON object PRMBench's reader accepts",
    }.items():
        assert parse_prmbench_reply(text).error.startswith(error), text


def test_prmbench_layout_instruction_examples_and_user_turn(critic_server, tmp_path):
    scorer = CriticScorer("critic-1", base_url=critic_server.base_url, protocol="prmbench")
    item = SolutionToScore("x", "What is 9 + 9?", ("1. Add nine and nine.", "Step 2: So 18.", "7.8 is close"))
    messages = scorer.messages(item)
    # openai_models.py:99-124: the instruction first, two worked examples, then the solution
    assert [role for role, _ in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[0][1] == PRMBENCH_INSTRUCTION and len(PRMBENCH_SHOTS) == 2
    assert messages[1][1].startswith("\nQuestion:\n\n") and "\n\nSolution:\n\nStep 1. " in messages[1][1]
    assert messages[1][1].endswith("\n\n# Answer\n\n72\n")
    assert json.loads(messages[2][1]) == {
        "validity": [1.0] * 8,
        "redundancy": [-1.0, -1.0, -0.5, -0.5, 0.5, -1.0, 1.0, 0.5],
    }
    # openai_models.py:75-80: PRMBench's step cleaning, "Step k: {step} \n\n"
    assert (
        messages[-1][1]
        == prmbench_prompt(item.question, item.steps)
        == (
            "Question: What is 9 + 9?\n\n Solutions: Step 1: Add nine and nine. \n\n"
            "Step 2: Step 2: So 18. \n\nStep 3: 8 is close \n\n"
        )
    )
    for shot_question, shot_reply in PRMBENCH_SHOTS:  # each example's reply has one score per step
        steps = shot_question.count("\n\nStep ")
        assert len(json.loads(shot_reply)["validity"]) == len(json.loads(shot_reply)["redundancy"]) == steps
    scorer.score([item])
    stats = critic_server.stats()
    assert stats["last_roles"] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert stats["last_temperature"] == 0.0
    o1 = CriticScorer("o1-mini", base_url=critic_server.base_url, protocol="prmbench")
    assert o1.messages(item)[0][0] == "user" and o1.params.temperature == 1.0  # openai_models.py:39-44
    with pytest.raises(SurestepError, match="sends its own two examples"):
        CriticScorer(
            "critic-1",
            base_url=critic_server.base_url,
            protocol="prmbench",
            few_shot=load_few_shot(
                write_jsonl(
                    tmp_path / "shots.jsonl",
                    [{"question": "Q", "steps": ["a"], "validity": [1], "redundancy": [-1]}],
                )
            ),
        )


def test_prmbench_and_card_disagree_exactly_where_prmbenchs_rules_do(critic_server):
    """One reply of each kind, read under both protocols."""
    questions = [
        "SHORT",
        "LONG",
        "RANGE",
        "FENCED",
        "COMMENTED",
        "WORDS",
        "NANS",
        "BRACE",
        "MALFORMED",
        "GOOD",
    ]
    items = [_item(q.lower(), f"{q}: what is 2 + 2?") for q in questions]
    card = {r.id: r for r in CriticScorer("c", base_url=critic_server.base_url).score(items)}
    prmbench = {
        r.id: r for r in CriticScorer("c", base_url=critic_server.base_url, protocol="prmbench").score(items)
    }
    assert {k for k, r in card.items() if r.valid} == {"fenced", "brace", "good"}
    assert {k for k, r in prmbench.items() if r.valid} == {
        "short",
        "long",
        "range",
        "commented",
        "nans",
        "good",
    }
    assert prmbench["short"].step_scores == (0.5, 0.5) and prmbench["short"].redundancy_scores == (
        1.0,
        -0.5,
        -0.5,
    )
    assert prmbench["long"].step_scores == (0.5, 0.5, -1.0) and prmbench["long"].extra_scores == (0.25,)
    assert prmbench["range"].step_scores == (2.0, 0.5, -1.0)
    assert prmbench["nans"].step_scores[0] == -1.7976931348623157e308
    assert prmbench["good"].step_scores == (0.5, 0.5, -1.0)  # raw, judged at 0
    assert card["good"].step_scores == (0.75, 0.75, 0.0)  # (s + 1) / 2, judged at 0.5
    assert prmbench["words"].error.startswith("validity[0] is not a number PRMBench can compare with 0")
    assert prmbench["brace"].error.startswith("no JSON object PRMBench's reader accepts")


def test_prm_run_with_the_critic_under_prmbench_scores_what_prmbench_scores(cli, critic_server, tmp_path):
    data = write_jsonl(
        tmp_path / "prm.jsonl",
        [
            prm_record("counterfactual", "p1", 3, [2], question="LONG: what is 2 + 3?"),
            prm_record("circular", "p2", 2, [2], question="SHORT: what is 4 + 4?"),
            prm_record("redundency", "p3", 4, [3], question="MALFORMED: what is 5 + 5?"),
        ],
    )
    out = tmp_path / "run"
    result = cli(
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
        "--json",
    )
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    assert rows["counterfactual_p1"]["step_scores"] == [0.5, 0.5, -1.0]
    assert rows["counterfactual_p1"]["extra_scores"] == [0.25]
    assert rows["circular_p2"]["step_scores"] == [0.5] and rows["circular_p2"]["redundancy_scores"] == [
        1,
        -0.5,
    ]
    assert rows["redundency_p3"]["valid"] is False
    report = json.loads(result.stdout)
    assert report["threshold"] == {"validity": 0.0, "redundancy": 0.0}  # openai_models.py:29-30
    # counterfactual: steps 0.5 > 0, 0.5 > 0 (step 2 is the error), -1; the extra 0.25 counts as a
    # correct fourth step; circular: redundancy 1 (redundant) and -0.5 (needed), error step 2
    assert (
        report["categories"]["counterfactual"]["tp"] == 2
        and report["categories"]["counterfactual"]["fn"] == 1
    )
    assert (
        report["categories"]["counterfactual"]["fp"] == 1
        and report["categories"]["counterfactual"]["steps"] == 4
    )
    assert (report["categories"]["circular"]["fn"], report["categories"]["circular"]["fp"]) == (1, 1)
    assert report["data_issues"]["reads_past_end"]["count"] == 1
    assert report["protocol"]["protocol"] == "prmbench"
    assert not report["protocol"]["comparable_with_prmbench"]
    assert "instruction and few-shot examples are surestep's own" in report["protocol"]["statement"]
