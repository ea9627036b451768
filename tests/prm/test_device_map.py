"""``--device-map``: a PRM placed by accelerate (over several GPUs for a 72B; here, the CPU alone)
scores exactly as the same PRM loaded on one device, and the run's manifest says where it ran."""

from __future__ import annotations

import json
import sys

import pytest

pytest.importorskip("torch", reason="the PRM scorers need torch (extra 'prm')")
pytest.importorskip("accelerate", reason="--device-map needs accelerate (extras 'local', 'prm')")

from surestep.errors import SurestepError
from surestep.prm.scorers.registry import PRMScorerConfig, build_scorer
from surestep.prm.scorers.transformers_prm import TRANSFORMERS_SCORERS
from tests.prm.test_scorers import ITEMS, TEXTS
from tests.prm.tiny_models import build


@pytest.mark.parametrize("family", sorted(TRANSFORMERS_SCORERS))
def test_a_device_mapped_scorer_gives_the_scores_of_one_on_a_device(family, tmp_path):
    directory = build(family, tmp_path / family, TEXTS)
    options = PRMScorerConfig(batch_tokens=4096, tokenizer=str(directory / "tokenizer"))
    plain = build_scorer(family, str(directory), options)
    mapped = build_scorer(
        family, str(directory), PRMScorerConfig(**{**options.__dict__, "device_map": "auto"})
    )
    assert mapped.device_map == "auto"
    # on one device transformers loads straight onto it (accelerate dispatches only over several)
    assert str(mapped.device) == "cpu" and mapped.dtype == plain.dtype
    assert mapped.score(ITEMS) == plain.score(ITEMS)


def test_without_accelerate_a_device_map_is_refused_saying_what_to_install(tmp_path, monkeypatch):
    directory = build("math-shepherd", tmp_path / "m", TEXTS)
    monkeypatch.setitem(sys.modules, "accelerate", None)  # as if it were not installed
    options = PRMScorerConfig(tokenizer=str(directory / "tokenizer"), device_map="auto")
    with pytest.raises(SurestepError, match=r"--device-map needs the accelerate package.*pip install"):
        build_scorer("math-shepherd", str(directory), options)


def test_the_critic_has_no_device_map():
    options = PRMScorerConfig(base_url="http://127.0.0.1:9/v1", device_map="auto")
    with pytest.raises(SurestepError, match="--device-map applies to the transformers scorers"):
        build_scorer("critic", "m", options)


def test_prm_run_with_device_map_auto_end_to_end(cli, shared_data, tmp_path):
    subset = shared_data / "prmbench" / "subset400.jsonl"
    texts = []
    for line in subset.read_text().splitlines():
        record = json.loads(line)
        texts += [
            record["modified_question"],
            record["original_question"],
            *record["modified_process"],
            *record["original_process"],
        ]
    model = build("math-shepherd", tmp_path / "shepherd", texts)

    def run(out, *extra):
        result = cli(
            "prm",
            "run",
            "--scorer",
            "math-shepherd",
            "--model",
            str(model),
            "--tokenizer",
            str(model / "tokenizer"),
            "--data",
            str(subset),
            "--out",
            str(out),
            "--limit",
            "24",
            "--chunk",
            "8",
            "--json",
            *extra,
        )
        assert result.returncode == 0, result.stderr
        rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
        return json.loads(result.stdout), rows, json.loads((out / "manifest.json").read_text())

    table, rows, manifest = run(tmp_path / "plain")
    mapped_table, mapped_rows, mapped_manifest = run(tmp_path / "mapped", "--device-map", "auto")
    assert len(rows) >= 24 and mapped_rows == rows
    assert {**mapped_table, "predictions": None} == {**table, "predictions": None}  # the paths differ
    assert (manifest["device"], manifest["device_map"]) == ("cpu", None)
    assert (mapped_manifest["device"], mapped_manifest["device_map"]) == (None, "auto")

    refused = cli(
        "prm",
        "run",
        "--scorer",
        "math-shepherd",
        "--model",
        str(model),
        "--data",
        str(subset),
        "--out",
        str(tmp_path / "x"),
        "--device-map",
        "everywhere",
    )
    assert refused.returncode == 2 and "--device-map" in refused.stderr
