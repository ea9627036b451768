"""Problem-set loaders (JSONL, JSON, Parquet, hf: through a local dataset directory) and prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surestep.data.hub import parse_hub_spec
from surestep.data.problems import FieldMap, load_problems
from surestep.data.prompts import PRESETS, load_template
from surestep.errors import InputError
from tests.conftest import DEMO_PROBLEMS, write_jsonl


def test_demo_set_loads_with_subsets():
    problems = load_problems(str(DEMO_PROBLEMS), FieldMap(subset="subset")).problems
    assert len(problems) == 30
    assert {p.subset for p in problems} == {"arithmetic", "word"}


def test_field_mapping_and_usual_names(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"ID": 7, "Problem": "What?", "Answer": 27.0, "src": "x"}])
    (problem,) = load_problems(str(path)).problems
    assert (problem.id, problem.question, problem.answer) == ("7", "What?", "27")
    mapped = write_jsonl(tmp_path / "m.jsonl", [{"key": "k1", "q": "Why?", "gold": "\\frac12", "part": "A"}])
    (problem,) = load_problems(
        str(mapped), FieldMap(question="q", answer="gold", id="key", subset="part")
    ).problems
    assert (problem.id, problem.question, problem.answer, problem.subset) == ("k1", "Why?", "\\frac12", "A")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": 1, "answer": "2"}], "p.jsonl:1: missing the question"),
        ([{"id": 1, "question": "Q", "answer": ""}], "p.jsonl:1: field 'answer': is empty"),
        (
            [{"id": 1, "question": "Q", "answer": "1"}, {"id": 1, "question": "Q", "answer": "1"}],
            "p.jsonl:2: duplicate",
        ),
        (["{not json"], "p.jsonl:1: invalid JSON"),
        ([{"id": 1, "question": "Q", "answer": "1", "options": 5}], "p.jsonl:1: field 'options'"),
    ],
)
def test_bad_problem_files_name_file_line_and_field(tmp_path, rows, message):
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    with pytest.raises(InputError) as error:
        load_problems(str(path))
    assert message in str(error.value)


def test_json_and_parquet_files(tmp_path):
    rows = [
        {"problem": "What is 1 + 1?", "answer": "2", "level": "Level 5", "unique_id": "a"},
        {"problem": "What is 2 + 2?", "answer": "4", "level": "Level 3", "unique_id": "b"},
    ]
    json_path = tmp_path / "p.json"
    json_path.write_text(json.dumps({"data": rows}))
    assert [p.id for p in load_problems(str(json_path)).problems] == ["a", "b"]
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet_path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet_path)
    level5 = load_problems(str(parquet_path), level="5").problems
    assert [p.id for p in level5] == ["a"]


def test_math_records_keep_level_and_subject_and_prefer_unique_id(tmp_path):
    rows = [
        {
            "id": 0,
            "unique_id": "test/algebra/1.json",
            "problem": "P",
            "answer": "1",
            "level": 5.0,
            "subject": "Algebra",
        },
        {
            "id": 1,
            "unique_id": "test/geometry/2.json",
            "problem": "Q",
            "answer": "2",
            "level": "Level 3",
            "subject": " ",
        },
    ]
    problems = load_problems(str(write_jsonl(tmp_path / "m.jsonl", rows))).problems
    assert [(p.id, p.level, p.subset) for p in problems] == [
        ("test/algebra/1.json", "5", "Algebra"),
        ("test/geometry/2.json", "Level 3", None),
    ]
    mapped = load_problems(str(tmp_path / "m.jsonl"), FieldMap(id="id")).problems
    assert [p.id for p in mapped] == ["0", "1"]
    with pytest.raises(InputError, match="--level 4: no such level \\(levels here: 3, 5\\)"):
        load_problems(str(tmp_path / "m.jsonl"), level="4")
    bad = write_jsonl(tmp_path / "b.jsonl", [{"problem": "P", "answer": "1", "subject": {"a": 1}}])
    with pytest.raises(InputError, match=r"b\.jsonl:1: field 'subject': expected text or a number, got dict"):
        load_problems(str(bad))


def _livemathbench_dir(root: Path) -> Path:
    """A local dataset directory in LiveMathBench's layout: one config per split and language."""
    configs = {
        "v202412_CNMO_en": [
            {"question": "What is 1 + 1?", "answer": "2", "question_type": "Problem-Solving", "options": []}
        ],
        "v202412_CNMO_cn": [
            {
                "question": "1 + 2 等于多少？",
                "answer": "3",
                "question_type": "Multiple-Choice",
                "options": ["2", "3", "4"],
            }
        ],
    }
    lines = ["---", "configs:"]
    for name, rows in configs.items():
        (root / name).mkdir(parents=True)
        write_jsonl(root / name / "test.jsonl", rows)
        lines += [
            f"- config_name: {name}",
            "  data_files:",
            "  - split: test",
            f"    path: {name}/test.jsonl",
        ]
    (root / "README.md").write_text("\n".join([*lines, "---", ""]))
    return root


def test_hub_specs_load_through_a_local_dataset_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    root = _livemathbench_dir(tmp_path / "LiveMathBench")
    problem_set = load_problems(f"hf:{root}:v202412_CNMO_cn@test")
    (problem,) = problem_set.problems
    assert problem.id == "v202412_CNMO_cn/0"
    assert problem.subset == "v202412_CNMO_cn"
    assert problem.options == {"A": "2", "B": "3", "C": "4"}
    prompt = PRESETS["livemathbench"].render(problem)
    assert "逐步推理" in prompt and "B. 3" in prompt
    english = load_problems(f"hf:{root}:v202412_CNMO_en").problems[0]
    assert "step by step" in PRESETS["livemathbench"].render(english)
    assert load_template("auto", dataset=f"hf:{root}:v202412_CNMO_cn").name == "livemathbench"
    assert load_template("auto", dataset="hf:HuggingFaceH4/MATH-500").name == "default"


def test_hub_spec_parsing():
    spec = parse_hub_spec("hf:opencompass/LiveMathBench:v202412_AMC_en@test")
    assert (spec.name, spec.config, spec.split) == ("opencompass/LiveMathBench", "v202412_AMC_en", "test")
    assert parse_hub_spec("hf:HuggingFaceH4/MATH-500").split == "test"


def test_shared_problem_sets_load(shared_data):
    aime = load_problems(str(shared_data / "problems" / "aime24.jsonl")).problems
    amc = load_problems(str(shared_data / "problems" / "amc23.jsonl")).problems
    assert len(aime) == 30 and len(amc) == 40
    assert all(p.answer.lstrip("-").isdigit() for p in aime + amc)


def test_prompt_templates_from_files(tmp_path):
    good = tmp_path / "t.txt"
    good.write_text("Q: {question}{options}\nWrite \\boxed{{}}.")
    template = load_template(str(good))
    problem = load_problems(str(DEMO_PROBLEMS)).problems[0]
    assert template.render(problem) == f"Q: {problem.question}\nWrite \\boxed{{}}."
    bad = tmp_path / "bad.txt"
    bad.write_text("Q: {questoin}")
    with pytest.raises(InputError, match="no \\{question\\}"):
        load_template(str(bad))
    with pytest.raises(InputError, match="not a prompt preset"):
        load_template(str(tmp_path / "missing.txt"))
