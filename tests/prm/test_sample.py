"""``prm run --limit N``: a seeded sample of N records spread over the nine categories, recorded in the
manifest and read back; ``--first N`` keeps the first N records."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from surestep.errors import InputError
from surestep.prm.data import (
    CATEGORY_KEYS,
    CORRECT,
    load_prmbench,
    load_run_data,
    select_data,
    select_records,
    stratified_sample,
)
from surestep.report.data import read_prm_run
from tests.conftest import prm_record, write_jsonl

SIZES = dict(zip(CATEGORY_KEYS, (6, 5, 7, 4, 6, 5, 8, 6, 2)))  # multi_solutions: only two records


@pytest.fixture
def generated(tmp_path):
    """Records grouped by category (as subset400 is: its first 90 records are two categories), plus a
    repeated id whose second record must not be chosen."""
    rows = [
        prm_record(key, f"{key[:4]}{i}", 3, [2] if key != "multi_solutions" else [])
        for key, size in SIZES.items()
        for i in range(size)
    ]
    rows.append(prm_record("circular", "circ0", 4, [1]))  # the same id again: the first occurrence wins
    return write_jsonl(tmp_path / "prmbench.jsonl", rows)


def _categories(bench, ids):
    return Counter(bench.by_id[i].category for i in ids)


def test_the_sample_is_spread_evenly_seeded_nested_and_in_data_order(generated):
    bench = load_prmbench(str(generated))
    ids = stratified_sample(bench, 20)
    counts = _categories(bench, ids)
    assert set(counts) == set(CATEGORY_KEYS) and sum(counts.values()) == 20 == len(set(ids))
    assert max(counts.values()) - min(counts.values()) <= 1
    assert stratified_sample(bench, 20) == ids  # the same seed, the same sample
    assert stratified_sample(bench, 20, seed=1) != ids
    positions = [bench.instances.index(bench.by_id[i]) for i in ids]
    assert positions == sorted(positions)
    assert all(bench.by_id[i].category != CORRECT for i in ids)
    for smaller in (1, 9, 13):  # a grown sample keeps every record of a smaller one
        assert set(stratified_sample(bench, smaller)) <= set(ids)
    assert len(set(_categories(bench, stratified_sample(bench, 9)).values())) == 1  # one per category


def test_a_small_category_gives_its_share_to_the_others(generated):
    bench = load_prmbench(str(generated))
    counts = _categories(bench, stratified_sample(bench, 40))
    assert counts["multi_solutions"] == 2 and sum(counts.values()) == 40
    others = [counts[k] for k in CATEGORY_KEYS if k != "multi_solutions"]
    assert max(others) - min(others) <= 1 and min(others) == 4
    everything = stratified_sample(bench, 10_000)
    assert len(everything) == sum(SIZES.values()) == bench.records - 1  # every record once, the repeat not


def test_selected_records_bring_their_all_correct_instance_and_faults(generated):
    bench = load_prmbench(str(generated))
    ids = stratified_sample(bench, 18)
    part = select_records(bench, ids)
    redundancy = [i for i in ids if bench.by_id[i].category == "redundency"]
    assert part.records == 18 and len(part.instances) == 18 + len(redundancy)
    assert {i.id for i in part.instances} == {*ids, *(f"correct_{bench.by_id[i].idx}" for i in redundancy)}
    assert [d.id for d in part.duplicates] == (["circular_circ0"] if "circular_circ0" in ids else [])
    with pytest.raises(InputError, match="1 selected instance"):
        select_records(bench, [*ids[:3], "counterfactual_nope"])


def test_select_data_records_the_sample_and_reuses_a_recorded_one(generated):
    data = str(generated)
    bench, fields = select_data(data, limit=12)
    assert fields["limit"] == 12 and fields["first"] is None and fields["records"] == 12
    selection = fields["selection"]
    assert selection["method"] == "stratified" and selection["size"] == 12 and selection["seed"] == 0
    assert [i.id for i in bench.instances if i.category != CORRECT] == selection["ids"]
    manifest = {"data": data, **fields}
    assert load_run_data(manifest) == bench  # the report reads back the same instances
    # a manifest holding other ids for the same options (as an older surestep might have drawn): kept
    recorded = {**manifest, "selection": {**selection, "ids": selection["ids"][::-1][:12]}}
    again, kept = select_data(data, limit=12, recorded=recorded)
    assert kept["selection"]["ids"] == selection["ids"][::-1] and again.records == 12
    _, other = select_data(data, limit=12, seed=3, recorded=recorded)  # another seed: drawn anew
    assert other["selection"]["ids"] == list(stratified_sample(load_prmbench(data), 12, seed=3))
    first, fields = select_data(data, first=7)
    assert fields == {"limit": None, "first": 7, "records": 7}
    assert {i.category for i in first.instances} == {"redundency", "circular", CORRECT}
    assert load_run_data({"data": data, **fields}) == first
    assert load_run_data({"data": data, "limit": 7, "records": 7}) == first  # a manifest from before
    with pytest.raises(InputError, match="not both"):
        select_data(data, limit=3, first=3)


def test_on_subset400_the_first_records_cover_two_categories_the_sample_all_nine(shared_data):
    spec = str(shared_data / "prmbench" / "subset400.jsonl")
    bench = load_prmbench(spec)
    first = load_prmbench(spec, limit=90)
    assert len({i.category for i in first.instances if i.category != CORRECT}) == 2
    ids = stratified_sample(bench, 90)
    assert _categories(bench, ids) == dict.fromkeys(CATEGORY_KEYS, 10)
    part = select_records(bench, ids)
    assert part.records == 90 and len(part.instances) == 100  # ten redundancy records bring ten all-correct


def test_prm_run_limit_samples_records_resumes_them_and_first_keeps_the_old_meaning(
    cli, critic_server, generated, tmp_path
):
    out = tmp_path / "run"

    def run(*extra, directory=out):
        return cli(
            "prm",
            "run",
            "--scorer",
            "critic",
            "--model",
            "critic-1",
            "--base-url",
            critic_server.base_url,
            "--data",
            str(generated),
            "--out",
            str(directory),
            "--protocol",
            "card",
            "--json",
            *extra,
        )

    result = run("--limit", "9")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    ids = manifest["selection"]["ids"]
    assert manifest["limit"] == 9 and manifest["records"] == 9 and manifest["selection"]["seed"] == 0
    bench = load_prmbench(str(generated))
    assert _categories(bench, ids) == dict.fromkeys(CATEGORY_KEYS, 1)
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rows} == {
        *ids,
        f"correct_{bench.by_id[ids[0]].idx}",
    }  # ids[0]: a redundency record
    requests = critic_server.stats()["requests"]
    assert requests == 10
    assert run("--limit", "9").returncode == 0
    assert critic_server.stats()["requests"] == requests  # the same instances: nothing asked again
    assert {i.id for i in read_prm_run(out).bench.instances} == {r["id"] for r in rows}

    grown = run("--limit", "18")
    assert grown.returncode == 0, grown.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(ids) < set(manifest["selection"]["ids"]) and manifest["records"] == 18
    assert critic_server.stats()["requests"] == requests + 9 + 1  # only the new records (one redundency)
    assert read_prm_run(out).bench.records == 18

    first = tmp_path / "first"
    assert run("--first", "7", directory=first).returncode == 0
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["first"] == 7 and manifest["limit"] is None and "selection" not in manifest
    assert {
        r["id"].split("_")[0] for r in map(json.loads, (first / "predictions.jsonl").read_text().splitlines())
    } == {"redundency", "circular", "correct"}
    both = run("--limit", "3", "--first", "3", directory=tmp_path / "both")
    assert both.returncode == 2 and "not both" in both.stderr
