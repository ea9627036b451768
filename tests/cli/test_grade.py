"""`surestep grade` and on-the-fly grading in `surestep score`, through the real CLI."""

from __future__ import annotations

import json

from surestep.grading import Grader, GradeRequest, GradingConfig


def responses(n: int = 4):
    rows = []
    for pid, gold, answers in [
        ("p1", "12", ["12", "12", "13", None]),
        ("p2", "\\frac{1}{2}", ["0.5", "1/2", "2/4", "x"]),
    ]:
        for i, answer in enumerate(answers[:n]):
            text = "I give up." if answer is None else f"Work... so $\\boxed{{{answer}}}$."
            rows.append({"problem_id": pid, "sample_index": i, "response": text, "gold": gold, "subset": "s"})
    return rows


def test_grade_writes_input_plus_grade_fields_and_a_summary(cli, jsonl_file, tmp_path):
    source = jsonl_file(responses())
    out = tmp_path / "graded.jsonl"
    result = cli("grade", str(source), "-o", str(out), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "graded 8 draws" in result.stderr and "correct 5" in result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["verdict"] for r in rows] == [
        "correct",
        "correct",
        "incorrect",
        "no_answer",
        "correct",
        "correct",
        "correct",
        "incorrect",
    ]
    first = rows[0]
    assert first["subset"] == "s" and first["response"].startswith("Work")
    for key in (
        "extracted_answer",
        "extraction_rule",
        "verdict",
        "correct",
        "grader",
        "grader_version",
        "detail",
        "grade_seconds",
        "judge_model",
    ):
        assert key in first
    assert first["answer"] == "12" and first["correct"] is True
    scored = json.loads(cli("score", str(out), "--json").stdout)
    assert scored["metrics"]["avg@4"] == 5 / 8


def test_score_grades_ungraded_input_on_the_fly(cli, jsonl_file):
    result = cli("score", str(jsonl_file(responses())), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["metrics"]["avg@4"] == 5 / 8
    assert "graded 8 draws" in result.stderr


def test_bad_grade_input_is_reported_and_nothing_is_written(cli, jsonl_file, tmp_path):
    rows = responses()
    del rows[3]["gold"]
    out = tmp_path / "graded.jsonl"
    result = cli("grade", str(jsonl_file(rows)), "-o", str(out))
    assert result.returncode == 2
    assert "data.jsonl:4: field 'gold': missing required field" in result.stderr
    assert not out.exists() and list(tmp_path.glob(".graded*")) == []


def test_judge_modes_need_judge_flags(cli, jsonl_file, tmp_path):
    result = cli("grade", str(jsonl_file(responses())), "-o", str(tmp_path / "o.jsonl"), "--mode", "cascade")
    assert result.returncode == 2 and "--judge-url" in result.stderr


def test_verdicts_do_not_depend_on_worker_count():
    requests = [
        GradeRequest(f"\\boxed{{{a}}}", g)
        for g in ("x^2-1", "[0,1)", "\\sqrt{8}")
        for a in ("(x-1)(x+1)", "x^2+1", "[0,1)", "(0,1]", "2\\sqrt{2}", "\\sqrt{2}")
    ]
    outcomes = []
    for workers in (1, 2, 3):
        with Grader(GradingConfig(workers=workers)) as grader:
            records, _ = grader.grade(requests)
        outcomes.append([(r.verdict, r.extracted_answer) for r in records])
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert sum(v == "correct" for v, _ in outcomes[0]) == 3


def test_opt_in_rules_change_verdicts_only_when_asked_and_are_recorded(cli, jsonl_file, tmp_path):
    rows = [
        {"problem_id": "p1", "sample_index": 0, "response": "So there are 7 ways.", "gold": "7"},
        {"problem_id": "p2", "sample_index": 0, "response": "So $\\boxed{3,14}$.", "gold": "3.14"},
    ]
    source = jsonl_file(rows)
    plain, opted = tmp_path / "plain.jsonl", tmp_path / "opted.jsonl"
    assert cli("grade", str(source), "-o", str(plain), "--workers", "1").returncode == 0
    result = cli(
        "grade", str(source), "-o", str(opted), "--workers", "1", "--prose-fallback", "--decimal-comma"
    )
    assert result.returncode == 0, result.stderr
    before = [json.loads(line) for line in plain.read_text().splitlines()]
    after = [json.loads(line) for line in opted.read_text().splitlines()]
    assert [r["verdict"] for r in before] == ["no_answer", "incorrect"]
    assert [r["verdict"] for r in after] == ["correct", "correct"]
    assert after[0]["extraction_rule"] == "prose_fallback"
    assert {r["grader"] for r in after} == {"surestep-rule+prose+decimal-comma"}
    assert {r["grader"] for r in before} == {"surestep-rule"}
