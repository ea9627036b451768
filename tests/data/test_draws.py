"""Reading graded-draw files: validation errors name file, line and field; grouping enforces n."""

from __future__ import annotations

import pytest

from surestep.data.draws import group_draws, problem_label, read_draws
from surestep.errors import InputError


def draw(pid: str, i: int, correct: bool = True, **extra):
    return {"problem_id": pid, "sample_index": i, "correct": correct, **extra}


def test_reads_and_groups_with_greedy_and_unknown_fields(jsonl_file):
    path = jsonl_file(
        [
            draw("p1", 1, False, answer="3", note="kept"),
            draw("p1", 0, True, answer="4"),
            draw("p1", 0, True, greedy=True),
            "",
            draw("p2", 0, True),
            draw("p2", 1, True),
        ]
    )
    draws = read_draws(path)
    assert draws[0].fields["note"] == "kept"
    problems = group_draws(draws, path=path)
    assert [p.problem_id for p in problems] == ["p1", "p2"]
    assert [d.sample_index for d in problems[0].samples] == [0, 1]
    assert problems[0].greedy is not None and problems[1].greedy is None
    assert problems[0].num_correct == 1


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ('{"problem_id": "p", "sample_index": 0, "correct": true', r"data\.jsonl:2: invalid JSON"),
        ("[1, 2]", r"data\.jsonl:2: expected a JSON object"),
        ('{"problem_id": "p", "correct": true}', r"data\.jsonl:2: field 'sample_index': missing"),
        (
            '{"problem_id": "p", "sample_index": 0, "correct": "yes"}',
            r":2: field 'correct': expected true or false",
        ),
        (
            '{"problem_id": "p", "sample_index": 0, "correct": 1}',
            r":2: field 'correct': expected true or false",
        ),
        (
            '{"problem_id": "p", "sample_index": "0", "correct": true}',
            r":2: field 'sample_index': expected an integer",
        ),
        (
            '{"problem_id": "p", "sample_index": true, "correct": true}',
            r":2: field 'sample_index': expected an integer",
        ),
        (
            '{"problem_id": ["p"], "sample_index": 0, "correct": true}',
            r":2: field 'problem_id': expected a string",
        ),
        (
            '{"problem_id": "p", "sample_index": -1, "correct": true}',
            r":2: field 'sample_index': must be >= 0",
        ),
        (
            '{"problem_id": "p", "sample_index": 0, "correct": true, "answer": 5}',
            r":2: field 'answer': expected a string",
        ),
    ],
)
def test_bad_lines_name_file_line_and_field(jsonl_file, line, pattern):
    path = jsonl_file([draw("ok", 0), line])
    with pytest.raises(InputError, match=pattern):
        read_draws(path)


def test_integer_problem_ids_are_accepted_as_text(jsonl_file):
    draws = read_draws(jsonl_file([{"problem_id": 60, "sample_index": 0, "correct": True}]))
    assert draws[0].problem_id == "60"


def test_missing_and_empty_files(tmp_path, jsonl_file):
    with pytest.raises(InputError, match="cannot open"):
        read_draws(tmp_path / "absent.jsonl")
    with pytest.raises(InputError, match="empty"):
        read_draws(jsonl_file([]))


def test_unequal_draw_counts_name_the_odd_problems(jsonl_file):
    rows = [draw(p, i) for p in ("a", "b", "c") for i in range(4)] + [draw("d", 0)]
    path = jsonl_file(rows)
    with pytest.raises(InputError, match=r"most have 4.*'d \(1\)'.*--n"):
        group_draws(read_draws(path), path=path)


def test_explicit_n_keeps_lowest_indices_and_rejects_short_problems(jsonl_file):
    rows = [draw("a", i, correct=i < 2) for i in (5, 0, 1, 3)] + [draw("b", i) for i in range(2)]
    path = jsonl_file(rows)
    problems = group_draws(read_draws(path), path=path, n=2)
    assert [d.sample_index for d in problems[0].samples] == [0, 1]
    with pytest.raises(InputError, match=r"fewer than n=3.*'b \(2\)'"):
        group_draws(read_draws(path), path=path, n=3)


def test_duplicate_draw_and_second_greedy_are_errors(jsonl_file):
    path = jsonl_file([draw("a", 0), draw("a", 0)])
    with pytest.raises(
        InputError, match=r":2: field 'sample_index': duplicate draw 0 of problem 'a' \(also on line 1\)"
    ):
        group_draws(read_draws(path), path=path)
    path = jsonl_file([draw("a", 0, greedy=True), draw("a", 1, greedy=True)])
    with pytest.raises(InputError, match=r":2: field 'greedy': second greedy"):
        group_draws(read_draws(path), path=path)


def test_problem_label_must_agree_across_draws(jsonl_file):
    path = jsonl_file([draw("a", 0, lang="en"), draw("a", 1, lang="zh")])
    (problem,) = group_draws(read_draws(path), path=path)
    with pytest.raises(InputError, match=r":2: field 'lang': problem 'a' has conflicting values"):
        problem_label(problem, "lang", path=path)
    assert problem_label(problem, "missing", path=path) == "(none)"
