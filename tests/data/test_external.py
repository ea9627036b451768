"""The real benchmark files in ../shared/data (LiveMathBench v202412, MATH-500, AIME), and directories.

The real files are not copied into the repository; their tests skip when ../shared is absent.
The directory → subsets tests build their own tiny files and always run.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from surestep.data.problems import FieldMap, is_livemathbench, load_problems
from surestep.data.prompts import load_template
from surestep.errors import InputError
from surestep.runs.store import RunStore
from tests.conftest import write_jsonl

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EXTERNAL = SHARED / "external"
LIVEMATHBENCH = EXTERNAL / "livemathbench_v202412_en"
MATH500 = EXTERNAL / "math500" / "math500.jsonl"
AIME2025 = EXTERNAL / "aime2025"

LIVEMATHBENCH_SPLITS = {"AMC_en": 46, "CCEE_en": 44, "CNMO_en": 18, "WLPMC_en": 11, "hard_en": 21}
MATH500_LEVELS = {"1": 43, "2": 90, "3": 105, "4": 128, "5": 134}
MATH500_SUBJECTS = {
    "Algebra": 124,
    "Intermediate Algebra": 97,
    "Prealgebra": 82,
    "Number Theory": 62,
    "Precalculus": 56,
    "Geometry": 41,
    "Counting & Probability": 38,
}


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not found: the real benchmark files sit beside the checkout in ../shared")
    return path


def _assert_gold_answers(problems) -> None:
    assert all(isinstance(p.answer, str) and p.answer.strip() == p.answer and p.answer for p in problems)
    assert all(p.question for p in problems)
    assert len({p.id for p in problems}) == len(problems)


def test_livemathbench_directory_is_one_set_with_one_subset_per_split():
    problems = load_problems(str(_need(LIVEMATHBENCH))).problems
    assert Counter(p.subset for p in problems) == LIVEMATHBENCH_SPLITS
    assert [p.subset for p in problems] == sorted(p.subset for p in problems)  # split by split, in name order
    assert problems[0].id == "AMC_en/0" and problems[-1].id == "hard_en/20"
    assert all(p.level is None and p.options is None for p in problems)
    _assert_gold_answers(problems)
    assert problems[0].answer == "$2$"  # gold kept as written; the grader strips the dollars


@pytest.mark.parametrize(("split", "count"), sorted(LIVEMATHBENCH_SPLITS.items()))
def test_each_livemathbench_split_file_loads(split, count):
    path = _need(LIVEMATHBENCH / f"{split}.jsonl")
    alone = load_problems(str(path)).problems
    assert len(alone) == count
    _assert_gold_answers(alone)
    picked = load_problems(f"{LIVEMATHBENCH}:{split}").problems  # DIR:NAME keeps the subset and ids
    assert [(p.id, p.subset) for p in picked] == [(f"{split}/{i}", split) for i in range(count)]
    assert [p.question for p in picked] == [p.question for p in alone]


def test_the_papers_four_livemathbench_splits_and_their_prompt():
    spec = f"{_need(LIVEMATHBENCH)}:CNMO_en,CCEE_en,AMC_en,WLPMC_en"
    problems = load_problems(spec).problems
    assert len(problems) == 119
    assert {p.subset for p in problems} == {"AMC_en", "CCEE_en", "CNMO_en", "WLPMC_en"}
    whole = {p.id: p for p in load_problems(str(LIVEMATHBENCH)).problems}
    assert all(whole[p.id] == p for p in problems)  # the same problems under the same ids
    assert is_livemathbench(spec) and is_livemathbench(str(LIVEMATHBENCH / "AMC_en.jsonl"))
    template = load_template("auto", dataset=spec)
    assert template.name == "livemathbench"
    prompt = template.render(problems[0])
    assert problems[0].question in prompt and "step by step" in prompt and "\\boxed{}" in prompt


def test_math500_levels_subjects_and_level_5():
    path = str(_need(MATH500))
    problems = load_problems(path).problems
    assert len(problems) == 500
    assert Counter(p.level for p in problems) == MATH500_LEVELS
    assert Counter(p.subset for p in problems) == MATH500_SUBJECTS
    assert problems[0].id == "test/precalculus/807.json"  # unique_id, as on the Hub's MATH-500
    assert problems[0].answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    _assert_gold_answers(problems)
    level5 = load_problems(path, level="5").problems
    assert len(level5) == 134 and {p.level for p in level5} == {"5"}
    assert load_problems(path, level="Level 5").problems == level5
    assert not is_livemathbench(path) and load_template("auto", dataset=path).name == "default"
    with pytest.raises(InputError, match="no such level \\(levels here: 1, 2, 3, 4, 5\\)"):
        load_problems(path, level="6")


def test_aime2025_as_a_directory_and_as_files():
    both = load_problems(str(_need(AIME2025))).problems
    assert Counter(p.subset for p in both) == {"aime2025_I": 15, "aime2025_II": 15}
    assert both[0].id == "aime2025_I/I-1" and both[15].id == "aime2025_II/II-1"
    _assert_gold_answers(both)
    assert all(p.answer.isdigit() and 0 <= int(p.answer) <= 999 for p in both)
    for part, prefix in (("aime2025_I", "I"), ("aime2025_II", "II")):
        alone = load_problems(str(AIME2025 / f"{part}.jsonl")).problems
        assert [p.id for p in alone] == [f"{prefix}-{i}" for i in range(1, 16)]
        assert all(p.subset is None for p in alone)
    with pytest.raises(InputError, match="no problem here has a 'level' field"):
        load_problems(str(AIME2025), level="5")


@pytest.mark.parametrize(("name", "count"), [("aime24.jsonl", 30), ("amc23.jsonl", 40)])
def test_shared_aime24_and_amc23(name, count):
    problems = load_problems(str(_need(SHARED / "problems" / name))).problems
    assert len(problems) == count
    _assert_gold_answers(problems)
    assert all(p.answer.lstrip("-").isdigit() for p in problems)  # amc23's 27.0 reads as 27


def _tiny_directory(root: Path) -> Path:
    """Two LiveMathBench-style split files (JSONL and JSON) and things a directory load must skip."""
    root.mkdir()
    write_jsonl(
        root / "B_en.jsonl",
        [
            {
                "question": "What is 1 + 1?",
                "answer": "$2$",
                "question_type": "problem-solving",
                "options": [],
            },
            {"question": "What is 2 + 2?", "answer": 4, "question_type": "problem-solving", "options": []},
        ],
    )
    (root / "A_en.json").write_text(
        json.dumps(
            [
                {
                    "question": "Pick the even one.",
                    "answer": "B",
                    "question_type": "multiple-choice",
                    "options": ["1", "2", "3"],
                },
            ]
        )
    )
    (root / "README.md").write_text("not data\n")
    write_jsonl(root / ".hidden.jsonl", ["{broken"])
    (root / "nested").mkdir()
    write_jsonl(root / "nested" / "C_en.jsonl", [{"question": "Q", "answer": "1"}])
    return root


def test_a_directory_of_files_loads_as_one_set_with_one_subset_per_file(tmp_path):
    root = _tiny_directory(tmp_path / "bench")
    problem_set = load_problems(str(root))
    assert [(p.id, p.subset, p.answer) for p in problem_set.problems] == [
        ("A_en/0", "A_en", "B"),
        ("B_en/0", "B_en", "$2$"),
        ("B_en/1", "B_en", "4"),
    ]
    assert problem_set.problems[0].options == {"A": "1", "B": "2", "C": "3"}
    picked = load_problems(f"{root}:B_en").problems
    assert picked == problem_set.problems[1:]
    assert load_problems(f"{root}:B_en,A_en").problems == problem_set.problems  # the directory's order
    assert is_livemathbench(str(root)) and load_template("auto", dataset=str(root)).name == "livemathbench"
    mapped = load_problems(str(root), FieldMap(subset="question_type")).problems
    assert [(p.id, p.subset) for p in mapped][:2] == [
        ("A_en/0", "multiple-choice"),
        ("B_en/0", "problem-solving"),
    ]


def test_ids_from_the_data_are_prefixed_by_their_file(tmp_path):
    root = tmp_path / "aime"
    root.mkdir()
    write_jsonl(root / "one.jsonl", [{"id": 1, "problem": "P", "answer": "5", "subject": "Algebra"}])
    write_jsonl(root / "two.jsonl", [{"id": 1, "problem": "Q", "answer": "6", "subject": "Algebra"}])
    problems = load_problems(str(root)).problems
    assert [(p.id, p.subset) for p in problems] == [
        ("one/1", "one"),
        ("two/1", "two"),
    ]  # the file beats subject
    assert load_problems(str(root / "one.jsonl")).problems[0].subset == "Algebra"
    assert not is_livemathbench(str(root)) and load_template("auto", dataset=str(root)).name == "default"


@pytest.mark.parametrize(
    ("files", "spec_tail", "message"),
    [
        (
            {"a.jsonl": ['{"question": "Q", "answer": "1"}', '{"question": "Q"}']},
            "",
            "a.jsonl:2: missing the answer",
        ),
        (
            {"a.jsonl": ['{"question": "Q", "answer": "1", "level": [5]}']},
            "",
            "a.jsonl:1: field 'level': expected text or a number, got list",
        ),
        (
            {"a.jsonl": ['{"question": "Q", "answer": "1"}'], "a.json": ["[]"]},
            "",
            "two files give subset 'a': a.json and a.jsonl",
        ),
        (
            {"a.jsonl": ['{"question": "Q", "answer": "1"}']},
            ":a,b",
            "no problem file for 'b' (this directory has a)",
        ),
        ({"notes.txt": ["hello"]}, "", "no problem files (.jsonl, .json, .parquet) in this directory"),
    ],
)
def test_bad_directories_name_the_file_line_and_field(tmp_path, files, spec_tail, message):
    root = tmp_path / "d"
    root.mkdir()
    for name, lines in files.items():
        (root / name).write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as error:
        load_problems(f"{root}{spec_tail}")
    assert message in str(error.value)


def test_generate_on_a_directory_uses_the_livemathbench_prompt_and_keeps_subsets(fault_server, cli, tmp_path):
    root = _tiny_directory(tmp_path / "bench")
    server = fault_server()
    out = tmp_path / "run"
    result = cli(
        "generate",
        "--model",
        "openai:fake",
        "--base-url",
        server.base_url,
        "--dataset",
        str(root),
        "--out",
        str(out),
        "--n",
        "2",
        "--timeout",
        "5",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["prompt"]["name"] == "livemathbench"
    with RunStore(out) as store:
        stored = [problem for problem, _prompt in store.problems()]
    assert [(p.id, p.subset) for p in stored] == [("A_en/0", "A_en"), ("B_en/0", "B_en"), ("B_en/1", "B_en")]


def test_generate_on_math500_level_5_stores_levels(fault_server, cli, tmp_path):
    path = _need(MATH500)
    server = fault_server()
    out = tmp_path / "run"
    result = cli(
        "generate",
        "--model",
        "openai:fake",
        "--base-url",
        server.base_url,
        "--dataset",
        str(path),
        "--level",
        "5",
        "--limit",
        "3",
        "--out",
        str(out),
        "--n",
        "1",
        "--no-greedy",
        "--timeout",
        "5",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "manifest.json").read_text())["prompt"]["name"] == "default"
    with RunStore(out) as store:
        stored = [problem for problem, _prompt in store.problems()]
    assert len(stored) == 3 and {p.level for p in stored} == {"5"}
    assert all(p.subset in MATH500_SUBJECTS for p in stored)
