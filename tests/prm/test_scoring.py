"""PRMBench scoring: hand-computed figures, the reference walk on the full benchmark, invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surestep.errors import InputError
from surestep.prm.data import CATEGORY_KEYS, CORRECT, REDUNDANCY_CATEGORIES, load_prmbench
from surestep.prm.predictions import PredictionSet, StepPrediction, load_predictions
from surestep.prm.reference import reference_scores
from surestep.prm.scoring import (
    PRMBenchScoreConfig,
    build_table,
    paired_prmscore,
    score_predictions,
    tune_split,
)
from tests.conftest import prm_record, write_jsonl


@pytest.fixture
def small(small_prmbench):
    data, predictions = small_prmbench
    bench = load_prmbench(str(data))
    return bench, load_predictions(predictions, bench)


def test_hand_computed_example(small):
    """Worked by hand: see SMALL_PREDICTIONS in tests/conftest.py (labels are score > 0.5)."""
    bench, predictions = small
    score = score_predictions(bench, predictions, PRMBenchScoreConfig(resamples=0))
    rows = score.summary.rows
    assert {k: (r["tp"], r["fp"], r["tn"], r["fn"]) for k, r in rows.items()} == {
        "redundency": (3, 0, 1, 0),
        "counterfactual": (1, 1, 0, 0),  # the third step has no score: not counted
        "multi_solutions": (1, 0, 0, 1),
        "circular": (1, 0, 0, 1),  # error step 5 of 2 is ignored
        "overall": (6, 1, 1, 2),
    }
    assert rows["overall"]["f1"] == pytest.approx(0.8)
    assert rows["overall"]["negative_f1"] == pytest.approx(0.4)
    assert rows["overall"]["prmscore"] == pytest.approx(0.6)
    assert rows["redundency"]["prmscore"] == pytest.approx(1.0)
    assert rows["counterfactual"]["prmscore"] == pytest.approx(1 / 3)
    assert rows["multi_solutions"]["prmscore"] == pytest.approx(2 / 3)  # F1 alone
    assert rows["circular"]["prmscore"] == pytest.approx(1 / 3)
    assert score.summary.groups["simplicity"] == pytest.approx(2 / 3)
    assert math.isnan(score.summary.groups["soundness"])  # three of its categories are absent
    assert rows["overall"]["first_error_accuracy"] == pytest.approx(0.5)
    assert rows["redundency"]["similarity"] == pytest.approx(abs(3 / 4 - 2 / 3))
    assert rows["counterfactual"]["similarity"] == pytest.approx(1 / 3)
    assert rows["overall"]["similarity"] == pytest.approx((1 / 12 + 1 / 3) / 2)
    assert rows["overall"]["auroc"] == pytest.approx(11.5 / 16)
    index = score.summary.first_error_index
    assert (index["flawed"], index["error_free"]) == (2, 2)  # circular_p3 is neither
    assert index["flawed_accuracy"] == 0.5 and index["error_free_accuracy"] == 0.0 and index["f1"] == 0.0
    position_2 = score.summary.error_positions[1]
    assert position_2 == {"position": 2, "steps": 2, "accuracy": 0.5}
    assert score.summary.correct_solutions == {
        "instances": 1,
        "steps": 3,
        "correct_step_accuracy": pytest.approx(2 / 3),
        "no_error_accuracy": 0.0,
    }


def test_explicit_labels_and_redundancy_judgements(small):
    bench, predictions = small
    items = {p.id: p for p in predictions.items}
    # Labels override scores; on NR the redundancy labels take over from validity entirely.
    items["counterfactual_p1"] = StepPrediction("counterfactual_p1", (0.8, 0.7), step_labels=(True, False))
    items["redundency_p1"] = StepPrediction(
        "redundency_p1", (0.0, 0.0, 0.0, 0.0), redundancy_scores=(0.1, 0.6, 0.2, 0.7)
    )
    score = score_predictions(
        bench, PredictionSet("p.jsonl", tuple(items.values())), PRMBenchScoreConfig(resamples=0)
    )
    rows = score.summary.rows
    assert (rows["counterfactual"]["tp"], rows["counterfactual"]["tn"]) == (1, 1)
    assert (rows["redundency"]["tp"], rows["redundency"]["tn"], rows["redundency"]["fn"]) == (2, 1, 1)
    assert rows["redundency"]["redundancy_auroc"] == pytest.approx(2 / 3)


def _random_predictions(bench, seed: int) -> PredictionSet:
    """Random scores; some predictions short, some with explicit labels, some with redundancy scores
    (of their own length), some with reads past the last step (as PRMBench's protocol makes)."""
    rng = np.random.default_rng(seed)
    items = []
    for instance in bench.instances:
        n = len(instance.steps)
        if rng.random() < 0.1:
            n = int(rng.integers(0, n + 1))
        scores = tuple(np.round(rng.random(n), 2).tolist())
        extra: dict[str, tuple] = {}
        if rng.random() < 0.2:
            extra["step_labels"] = tuple(bool(b) for b in rng.random(n) < 0.6)
        elif n == len(instance.steps) and rng.random() < 0.2:
            extra["extra_scores"] = tuple(rng.random(int(rng.integers(1, 4))).tolist())
        if instance.category in REDUNDANCY_CATEGORIES and rng.random() < 0.5:
            r = len(instance.steps) if rng.random() < 0.7 else int(rng.integers(0, len(instance.steps) + 1))
            extra["redundancy_scores"] = tuple(rng.random(r).tolist())
            if r == len(instance.steps) and rng.random() < 0.3:
                extra["extra_redundancy_scores"] = tuple(rng.random(2).tolist())
        items.append(StepPrediction(instance.id, scores, **extra))
    return PredictionSet("random.jsonl", tuple(items))


def _generated_prmbench(path, *, problems: int, seed: int):
    """PRMBench-shaped records over the nine categories: random lengths, one to three error steps
    (none on MS, now and then none elsewhere, now and then one past the last step), and problems
    without a ``redundency`` record, so some modified solutions have no correct partner."""
    rng = np.random.default_rng(seed)
    records = []
    for p in range(problems):
        original = int(rng.integers(1, 10))
        for category in CATEGORY_KEYS:
            if category != "redundency" and rng.random() < 0.15:
                continue
            if category == "redundency" and rng.random() < 0.1:
                continue
            n = int(rng.integers(1, 13))
            errors: list[int] = []
            if category != "multi_solutions" and rng.random() > 0.05:
                errors = sorted({int(e) for e in rng.integers(1, n + 1, size=int(rng.integers(1, 4)))})
            if category != "multi_solutions" and rng.random() < 0.05:
                errors.append(n + int(rng.integers(1, 4)))
            records.append(prm_record(category, f"g{p}", n, errors, original_steps=original))
    return load_prmbench(str(write_jsonl(path, records)))


def test_vectorised_scores_equal_the_reference_walk_on_generated_data(tmp_path):
    """The check below on the full benchmark, on generated records, so it runs without ../shared."""
    bench = _generated_prmbench(tmp_path / "generated.jsonl", problems=120, seed=11)
    assert {i.category for i in bench.instances} == {*CATEGORY_KEYS, CORRECT}
    assert bench.past_end  # errors past the last step are in the data
    _assert_vectorised_equals_reference(bench, seed=5)


def test_vectorised_scores_equal_the_reference_walk_on_the_full_benchmark(shared_data):
    bench = load_prmbench(str(shared_data / "prmbench" / "full"))
    _assert_vectorised_equals_reference(bench, seed=3)


def _assert_vectorised_equals_reference(bench, *, seed: int) -> None:
    predictions = _random_predictions(bench, seed=seed)
    options = PRMBenchScoreConfig(threshold=0.45, redundancy_threshold=0.6, resamples=0, baselines=False)
    score = score_predictions(bench, predictions, options)
    table = build_table([(i, predictions.by_id[i.id]) for i in bench.instances], options)
    labels = [[bool(b) for b in part] for part in np.split(table.label, table.starts[1:])]
    expected = reference_scores(list(zip(bench.instances, labels)))
    for key, row in expected.items():
        got = score.summary.rows[key]
        assert (got["tp"], got["fp"], got["tn"], got["fn"]) == (row["tp"], row["fp"], row["tn"], row["fn"]), (
            key
        )
        for name in ("prmscore", "first_error_accuracy", "similarity"):
            expected_value = math.nan if row[name] is None else row[name]
            assert got[name] == pytest.approx(expected_value, nan_ok=True), (key, name)
    # and the labels the table used are exactly the documented rule
    for instance, prediction, made in zip(bench.instances, predictions.items, labels):
        if instance.category in REDUNDANCY_CATEGORIES and prediction.redundancy_scores is not None:
            redundancy = prediction.redundancy_scores + prediction.extra_redundancy_scores
            assert list(made) == [not r > 0.6 for r in redundancy]
        elif prediction.step_labels is not None:
            assert list(made) == list(prediction.step_labels)
        else:
            assert list(made) == [s > 0.45 for s in prediction.step_scores + prediction.extra_scores]
    past_end = score.data_issues["reads_past_end"]
    assert past_end["count"] == sum(1 for n, i in zip(table.lengths, bench.instances) if n > len(i.steps)) > 0


def test_reads_past_the_last_step_count_as_prmbench_counts_them(small):
    """circular_p3 has 2 steps and lists error step 5: PRMBench's evaluator walks every label it
    gets, so a fifth read is an erroneous step (task.py:269-294)."""
    bench, predictions = small
    items = {p.id: p for p in predictions.items}
    items["circular_p3"] = StepPrediction("circular_p3", (0.4, 0.6), extra_scores=(0.9, 0.9, 0.2))
    score = score_predictions(
        bench, PredictionSet("p.jsonl", tuple(items.values())), PRMBenchScoreConfig(resamples=0)
    )
    row = score.summary.rows["circular"]
    assert (row["tp"], row["fp"], row["tn"], row["fn"]) == (3, 0, 1, 1)
    assert row["steps"] == 5 and row["first_error_accuracy"] == 1.0
    assert score.data_issues["reads_past_end"] == {"count": 1, "counted_positions": 3, "ids": ["circular_p3"]}
    # a redundancy list of its own length decides the NR/NCL positions: two of redundency_p1's four
    items["redundency_p1"] = StepPrediction(
        "redundency_p1", (0.9, 0.1, 0.7, 0.6), redundancy_scores=(0.1, 0.9)
    )
    score = score_predictions(
        bench, PredictionSet("p.jsonl", tuple(items.values())), PRMBenchScoreConfig(resamples=0)
    )
    row = score.summary.rows["redundency"]
    assert (row["tp"], row["fp"], row["tn"], row["fn"], row["steps"]) == (1, 0, 1, 0, 2)
    assert score.data_issues["short_predictions"]["ids"] == ["redundency_p1", "counterfactual_p1"]


def test_baselines_on_the_full_benchmark(shared_data):
    bench = load_prmbench(str(shared_data / "prmbench" / "full"))
    oracle = PredictionSet(
        "oracle.jsonl",
        tuple(
            StepPrediction(i.id, tuple(0.0 if p in i.error_positions else 1.0 for p in range(len(i.steps))))
            for i in bench.instances
        ),
    )
    score = score_predictions(bench, oracle, PRMBenchScoreConfig(resamples=50))
    assert score.summary.rows["overall"]["prmscore"] == 1.0
    assert all(row["prmscore"] == 1.0 for row in score.summary.rows.values())
    assert score.summary.rows["overall"]["auroc"] == 1.0
    assert score.summary.first_error_index["f1"] == 1.0
    all_correct = score.baselines["all_correct"].rows["overall"]
    assert all_correct["negative_f1"] == 0.0
    assert all_correct["prmscore"] == pytest.approx(0.5 * all_correct["f1"])
    assert score.baselines["oracle"].rows["overall"]["prmscore"] == 1.0
    random_overall = score.baselines["random"].rows["overall"]
    assert 0.45 < random_overall["auroc"] < 0.55
    again = score_predictions(bench, oracle, PRMBenchScoreConfig(resamples=0)).baselines["random"]
    assert again.rows["overall"]["tp"] == random_overall["tp"]  # seeded
    assert again.rows["overall"]["prmscore"] == random_overall["prmscore"]


def test_bootstrap_intervals_bracket_the_estimates(shared_data):
    bench = load_prmbench(str(shared_data / "prmbench" / "subset400.jsonl"))
    score = score_predictions(bench, _random_predictions(bench, seed=1), PRMBenchScoreConfig(resamples=300))
    for key, row in score.summary.rows.items():
        interval = row["interval"]
        assert interval.low <= row["prmscore"] <= interval.high, key
        assert interval.high - interval.low < 0.3
    for group, interval in score.summary.group_intervals.items():
        assert interval.low <= score.summary.groups[group] <= interval.high
    again = score_predictions(bench, _random_predictions(bench, seed=1), PRMBenchScoreConfig(resamples=300))
    assert again.summary.rows["overall"]["interval"] == score.summary.rows["overall"]["interval"]
    plain = score_predictions(bench, _random_predictions(bench, seed=1), PRMBenchScoreConfig(resamples=0))
    assert plain.summary.rows["overall"]["interval"] is None


def test_tuned_threshold_is_found_on_one_split_and_applied_to_the_other(shared_data):
    """Correct steps score 0.3 and wrong ones 0.1: the default 0.5 judges all wrong; tuning fixes it."""
    bench = load_prmbench(str(shared_data / "prmbench" / "subset400.jsonl"))
    predictions = PredictionSet(
        "shifted.jsonl",
        tuple(
            StepPrediction(i.id, tuple(0.1 if p in i.error_positions else 0.3 for p in range(len(i.steps))))
            for i in bench.instances
        ),
    )
    split = tune_split("0.3", bench, seed=0)
    score = score_predictions(bench, predictions, PRMBenchScoreConfig(resamples=0, tune_on=split))
    tuning = score.tuning
    assert tuning is not None
    assert tuning["threshold"] == pytest.approx(0.2)
    assert tuning["heldout"]["prmscore"] == 1.0
    assert tuning["heldout_at_given_labels"]["prmscore"] < 0.5
    problems = {i.idx for i in bench.instances}
    assert len(split) == round(0.3 * len(problems))
    assert tuning["tune_instances"] + tuning["heldout_instances"] == sum(
        i.category != CORRECT for i in bench.instances
    )


def test_tune_split_from_a_file_and_bad_splits(small, tmp_path):
    bench, predictions = small
    ids = tmp_path / "tune.txt"
    ids.write_text("# tuning split\nredundency_p1\np3\n")
    assert tune_split(str(ids), bench, seed=0) == {"redundency_p1", "p3"}
    with pytest.raises(InputError, match="fraction must lie in"):
        tune_split("1.5", bench, seed=0)
    with pytest.raises(InputError, match="cannot read"):
        tune_split(str(tmp_path / "absent.txt"), bench, seed=0)
    everything = frozenset(i.idx for i in bench.instances)
    with pytest.raises(InputError, match="some but not all"):
        score_predictions(bench, predictions, PRMBenchScoreConfig(resamples=0, tune_on=everything))


def test_missing_and_invalid_predictions(small, tmp_path):
    bench, _ = small
    partial = write_jsonl(
        tmp_path / "partial.jsonl",
        [
            {"id": "redundency_p1", "step_scores": [0.9, 0.1, 0.7, 0.6]},
            {"id": "circular_p3", "valid": False, "error": "reply was not JSON"},
        ],
    )
    loaded = load_predictions(partial, bench)
    with pytest.raises(
        InputError, match=r"no prediction for 3 of 5 instances: correct_p1, counterfactual_p1"
    ):
        score_predictions(bench, loaded, PRMBenchScoreConfig(resamples=0))
    score = score_predictions(bench, loaded, PRMBenchScoreConfig(resamples=0, allow_missing=True))
    issues = score.data_issues
    assert issues["missing_predictions"] == {
        "count": 3,
        "ids": ["correct_p1", "counterfactual_p1", "multi_solutions_p2"],
    }
    assert issues["invalid_predictions"]["instances"] == [
        {"id": "circular_p3", "line": 2, "error": "reply was not JSON"}
    ]
    assert set(score.summary.rows) == {"redundency", "overall"}


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ({"id": "nope_1", "step_scores": [0.5]}, "id", "no instance 'nope_1'"),
        (
            {"id": "circular_p3", "step_scores": [0.5, 0.5, 0.5]},
            "step_scores",
            "3 scores but the instance has 2",
        ),
        ({"id": "circular_p3", "step_scores": [0.5, "x"]}, "step_scores[1]", "expected a number"),
        (
            {"id": "circular_p3", "step_scores": [0.5, 0.5], "step_labels": [True]},
            "step_labels",
            "has 1 values",
        ),
        ({"id": "circular_p3", "step_scores": [0.5], "step_labels": [1]}, "step_labels[0]", "true or false"),
        ({"id": "circular_p3"}, "step_scores", "missing required field"),
        ({"id": "redundency_p1", "step_scores": [0.5]}, "id", "repeated id"),
        (
            {"id": "circular_p3", "step_scores": [0.5], "extra_scores": [0.5]},
            "extra_scores",
            "need a score for each of the 2 steps first, got 1",
        ),
        (
            {
                "id": "circular_p3",
                "step_scores": [0.5, 0.5],
                "step_labels": [True, True],
                "extra_scores": [0.5],
            },
            "extra_scores",
            "cannot go with step_labels",
        ),
        (
            {"id": "circular_p3", "step_scores": [0.5, 0.5], "redundancy_scores": [0.5, 0.5, 0.5]},
            "redundancy_scores",
            "3 scores but the instance has 2",
        ),
        (
            {
                "id": "circular_p3",
                "step_scores": [0.5],
                "redundancy_scores": [0.5],
                "redundancy_labels": [True, False],
            },
            "redundancy_labels",
            "has 2 values but redundancy_scores has 1",
        ),
        (
            {"id": "circular_p3", "step_scores": [0.5, 0.5], "extra_redundancy_scores": [0.5]},
            "extra_redundancy_scores",
            "got 0",
        ),
    ],
)
def test_bad_prediction_lines_name_file_line_and_field(small_prmbench, tmp_path, line, field, message):
    data, _ = small_prmbench
    bench = load_prmbench(str(data))
    path = write_jsonl(tmp_path / "bad.jsonl", [{"id": "redundency_p1", "step_scores": [0.5]}, line])
    with pytest.raises(InputError) as caught:
        load_predictions(path, bench)
    assert (caught.value.line, caught.value.field) == (2, field)
    assert message in str(caught.value)


def test_non_finite_scores_are_refused(small_prmbench, tmp_path):
    data, _ = small_prmbench
    bench = load_prmbench(str(data))
    path = tmp_path / "nan.jsonl"
    path.write_text('{"id": "circular_p3", "step_scores": [NaN, 0.5]}\n')
    with pytest.raises(InputError, match=r"nan.jsonl:1: field 'step_scores\[0\]': expected a finite number"):
        load_predictions(path, bench)


def _skilled_predictions(bench, skills, seed: int) -> PredictionSet:
    """Each instance's steps judged right with that instance's own probability (its skill)."""
    rng = np.random.default_rng(seed)
    items = []
    for instance, skill in zip(bench.instances, skills):
        truth = np.array([k not in instance.error_positions for k in range(len(instance.steps))])
        right = rng.random(truth.size) < skill
        label = np.where(right, truth, ~truth)
        items.append(StepPrediction(instance.id, tuple(float(x) for x in label)))
    return PredictionSet("skilled.jsonl", tuple(items))


def test_paired_prmscore_agrees_with_the_scores_and_pairs_the_resamples(shared_data):
    bench = load_prmbench(str(shared_data / "prmbench" / "subset400.jsonl"))
    options = PRMBenchScoreConfig(resamples=400, baselines=False)
    skills = np.random.default_rng(0).random(len(bench.instances))  # some instances are hard for both
    a = _skilled_predictions(bench, skills, seed=1)
    b = _skilled_predictions(bench, np.minimum(skills + 0.1, 1), seed=1)  # the same draws, more skill

    def table(predictions):
        return build_table([(i, predictions.by_id[i.id]) for i in bench.instances], options)

    differences = paired_prmscore(table(a), table(b), resamples=400)
    score_a, score_b = (score_predictions(bench, p, options) for p in (a, b))
    for key, d in differences.items():
        for side, score in ((d.a, score_a), (d.b, score_b)):
            expected = (
                score.summary.rows[key]["prmscore"]
                if key in score.summary.rows
                else score.summary.groups[key]
            )
            assert side == pytest.approx(expected, nan_ok=True), key
        assert d.delta == pytest.approx(d.b - d.a, nan_ok=True)
    overall = differences["overall"]
    assert (
        overall.delta > 0
        and overall.significant
        and overall.interval.low <= overall.delta <= overall.interval.high
    )
    # pairing: the two runs share their hard instances, so the difference is known far better
    # than either run's own score
    own = score_a.summary.rows["overall"]["interval"]
    assert overall.interval.high - overall.interval.low < 0.5 * (own.high - own.low)
    same = paired_prmscore(table(a), table(a), resamples=100)
    assert all(d.delta == 0 and not d.significant for d in same.values() if not math.isnan(d.a))
    reversed_table = build_table([(i, a.by_id[i.id]) for i in bench.instances[::-1]], options)
    with pytest.raises(ValueError, match="same instances"):
        paired_prmscore(table(a), reversed_table)
