"""PRMBench loading: instances as the reference builds them, data faults, bad records, hf: specs."""

from __future__ import annotations

import pytest

from surestep.errors import InputError
from surestep.prm.data import CATEGORY_KEYS, category_counts, load_prmbench
from tests.conftest import SMALL_PRMBENCH, prm_record, write_jsonl


def test_instances_follow_the_reference_construction(small_prmbench):
    data, _ = small_prmbench
    bench = load_prmbench(str(data))
    assert [i.id for i in bench.instances] == [
        "correct_p1",
        "redundency_p1",
        "counterfactual_p1",
        "multi_solutions_p2",
        "circular_p3",
    ]
    correct = bench.by_id["correct_p1"]
    assert correct.steps == ("original step 1", "original step 2", "original step 3")
    assert correct.error_steps == () and correct.category == "correct"
    assert bench.by_id["multi_solutions_p2"].steps == ("multi_solutions step 1", "multi_solutions step 2")
    assert bench.by_id["redundency_p1"].error_positions == {1}
    circular = bench.by_id["circular_p3"]
    assert circular.error_positions == frozenset() and circular.first_error == 4


def test_data_faults_are_counted_and_listed(small_prmbench):
    data, _ = small_prmbench
    issues = load_prmbench(str(data)).data_issues()
    past = issues["error_steps_past_end"]
    assert past["count"] == 1
    assert past["instances"][0] == {
        "id": "circular_p3",
        "error_steps": [5],
        "steps": 2,
        "source": f"{data}:4",
    }
    duplicates = issues["duplicate_ids"]
    assert duplicates["count"] == 1
    assert duplicates["instances"][0] == {
        "id": "multi_solutions_p2",
        "sources": [f"{data}:3", f"{data}:5"],
        "same_content": False,
    }


def test_the_full_benchmark(shared_data):
    bench = load_prmbench(str(shared_data / "prmbench" / "full"))
    assert bench.records == 6216
    assert len(bench.past_end) == 100
    assert len(bench.duplicates) == 5
    assert all(d.id.startswith("multi_solutions_") and not d.same_content for d in bench.duplicates)
    counts = category_counts(bench.instances)
    assert set(counts) == {*CATEGORY_KEYS, "correct"}
    assert counts["correct"]["instances"] == counts["redundency"]["instances"] == 758
    assert sum(len(i.steps) for i in bench.instances if i.category != "correct") == 83456 - (
        sum(len(s) for s in _repeated_steps(shared_data))
    )


def _repeated_steps(shared_data):
    """Steps of the later copies of repeated ids, which the first-occurrence rule leaves out."""
    import json

    seen, later = set(), []
    for path in sorted((shared_data / "prmbench" / "full").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            key = f"{record['classification']}_{record['idx']}"
            if key in seen:
                later.append(record["modified_process"])
            seen.add(key)
    return later


def test_subset400(shared_data):
    bench = load_prmbench(str(shared_data / "prmbench" / "subset400.jsonl"))
    assert bench.records == 394
    assert len(bench.instances) == 394 + 48


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"classification": "typo"}, "classification", "unknown classification"),
        ({"error_steps": [0]}, "error_steps", "1-based"),
        ({"error_steps": ["2"]}, "error_steps[0]", "expected an integer"),
        ({"modified_process": []}, "modified_process", "non-empty"),
        ({"modified_process": ["a", 3]}, "modified_process[1]", "expected a string"),
        ({"modified_question": None}, "modified_question", "expected a string"),
    ],
)
def test_bad_records_name_file_line_and_field(tmp_path, change, field, message):
    records = [prm_record("confidence", "a", 3, [2]), {**prm_record("deception", "b", 3, [1]), **change}]
    path = write_jsonl(tmp_path / "bad.jsonl", records)
    with pytest.raises(InputError) as caught:
        load_prmbench(str(path))
    assert (caught.value.path, caught.value.line, caught.value.field) == (str(path), 2, field)
    assert message in str(caught.value)


def test_missing_field_and_empty_directory(tmp_path):
    record = prm_record("redundency", "a", 3, [2])
    del record["original_process"]
    path = write_jsonl(tmp_path / "bad.jsonl", [record])
    with pytest.raises(InputError, match=r"bad.jsonl:1: field 'original_process': missing required field"):
        load_prmbench(str(path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.jsonl files"):
        load_prmbench(str(tmp_path / "empty"))


def test_directories_are_read_in_name_order(tmp_path):
    root = tmp_path / "full"
    root.mkdir()
    write_jsonl(root / "b.jsonl", [prm_record("confidence", "x", 3, [1])])
    write_jsonl(root / "a.jsonl", [prm_record("confidence", "x", 4, [2])])
    bench = load_prmbench(str(root))
    assert len(bench.by_id["confidence_x"].steps) == 4
    assert bench.duplicates[0].sources == (f"{root / 'a.jsonl'}:1", f"{root / 'b.jsonl'}:1")


def test_hub_spec_reads_a_local_dataset_directory(tmp_path, monkeypatch):
    """The Hub copy is one JSONL file with a single train split; read offline from a local directory."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "PRMBench_Preview"
    root.mkdir()
    write_jsonl(root / "prmbench_preview.jsonl", SMALL_PRMBENCH[:4])
    bench = load_prmbench(f"hf:{root}")
    assert [i.id for i in bench.instances] == [
        "correct_p1",
        "redundency_p1",
        "counterfactual_p1",
        "multi_solutions_p2",
        "circular_p3",
    ]
    assert bench.past_end[0].source == f"hf:{root}:4"
