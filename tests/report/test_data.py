"""The data behind each chart: curves, answer classes, subsets, PRM views, comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surestep.metrics import g_pass_at_k, mg_pass_at_k, pass_at_k
from surestep.report.compare import compare_runs, higher_is_better
from surestep.report.data import (
    ProblemView,
    answer_classes,
    g_pass_curve,
    grouping_labels,
    load_prm_run,
    load_stability_run,
    run_kind,
)
from tests.report.conftest import PROBLEMS


def test_curve_is_g_pass_at_every_tau_and_pass_at_k_at_zero():
    n, counts, k = 16, [0, 3, 8, 16, 11], 8
    curve = g_pass_curve(n, counts, k)
    assert len(curve.values) == k
    assert curve.pass_at_k == pytest.approx(float(pass_at_k(n, np.array(counts), k).mean()))
    for tau in np.linspace(0, 1, 41):
        assert curve.at(tau) == pytest.approx(float(g_pass_at_k(n, np.array(counts), k, tau).mean()))
    assert list(curve.values) == sorted(curve.values, reverse=True)  # a stricter bar never scores higher
    # mG-Pass@k is the mean of the curve over tau in (0.5, 1] (the published definition)
    upper = curve.values[k // 2 :]
    assert 2 * sum(upper) / k == pytest.approx(float(mg_pass_at_k(n, np.array(counts), k).mean()))


def test_answer_classes_group_by_answer_ignoring_whitespace():
    answers = ["12", " 1 2", None, "13", "12", "", "13"]
    correct = [True, True, False, False, True, False, False]
    classes = answer_classes(answers, correct)
    assert [(c.answer, c.count, c.correct, c.draws, c.verdict) for c in classes] == [
        ("12", 3, 3, (0, 1, 4), "correct"),
        (None, 2, 0, (2, 5), "wrong"),
        ("13", 2, 0, (3, 6), "wrong"),
    ]
    assert answer_classes(["7", "7"], [True, False])[0].verdict == "mixed"


def _views(subsets, levels=None):
    return [
        ProblemView(f"p{i}", "q", "1", s, None if levels is None else levels[i], 4, 1, None, (), ())
        for i, s in enumerate(subsets)
    ]


def test_livemathbench_configs_break_down_by_split_and_language():
    subsets = ["v202412_CNMO_en", "v202412_CNMO_zh", "v202412_CCEE_en", "v202412_AMC_zh", "v202412_CCEE_en"]
    labels = grouping_labels(_views(subsets))
    assert labels == {
        "subset": subsets,
        "split": ["CNMO", "CNMO", "CCEE", "AMC", "CCEE"],
        "language": ["en", "zh", "en", "zh", "en"],
    }
    # one language only: language is left out; two subsets that differ only by language: split is
    assert set(grouping_labels(_views(["v1_AMC_en", "v1_CNMO_en"]))) == {"subset"}
    assert set(grouping_labels(_views(["v1_AMC_en", "v1_AMC_zh"]))) == {"subset"}
    # other subset names are never split; a level with a single value is left out
    assert set(grouping_labels(_views(["comp_en", "gaokao_zh"], ["5", "5"]))) == {"subset"}
    assert set(grouping_labels(_views(["a", "a", "a"], ["1", None, "2"]))) == {"level"}
    assert grouping_labels(_views(["a", "a"])) == {}


def test_stability_view_of_a_real_run(report_runs):
    view = load_stability_run(report_runs["model-a"], resamples=200)
    assert run_kind(report_runs["model-a"]) == "stability" and run_kind(report_runs["critic"]) == "prm"
    assert view.sheet.num_problems == len(PROBLEMS) and view.sheet.n == 16
    assert [c.k for c in view.curves] == [4, 8, 16]
    assert view.sheet.headline[0] == "greedy" and "relative_drop@16" in view.sheet.headline
    counts = np.array([p.correct for p in view.problems])
    assert view.sheet.metrics["G-Pass@16_1.0"] == pytest.approx(view.curves[-1].values[-1])
    assert view.sheet.metrics["pass@16"] == pytest.approx(float(pass_at_k(16, counts, 16).mean()))
    for problem in view.problems:
        assert sum(c.count for c in problem.classes) == 16 == len(problem.texts)
        assert sum(c.correct for c in problem.classes) == problem.correct
        gold = [c for c in problem.classes if c.answer == problem.gold]
        assert all(c.verdict == "correct" for c in gold)
    # per-subset figures agree with the metric on that subset's problems alone
    hard = np.array([p.correct for p in view.problems if p.subset == "hard"])
    assert view.subsets["subset"]["hard"]["G-Pass@16_0.5"] == pytest.approx(
        float(g_pass_at_k(16, hard, 16, 0.5).mean())
    )
    assert view.subset_sizes["subset"] == {"easy": 4, "hard": 4}
    # ... and so do the figures by level, which the run store keeps with each problem
    assert set(view.subsets) == {"subset", "level"}
    assert view.subset_sizes["level"] == {"Level 1": 3, "Level 2": 3, "Level 3": 2}
    level_2 = np.array([p.correct for p in view.problems if p.level == "Level 2"])
    assert view.subsets["level"]["Level 2"]["mG-Pass@16"] == pytest.approx(
        float(mg_pass_at_k(16, level_2, 16).mean())
    )
    greedy = view.sheet.ci["greedy"]
    assert greedy.low <= view.sheet.metrics["greedy"] <= greedy.high


def test_prm_view_of_a_real_run(report_runs):
    view = load_prm_run(report_runs["critic"], resamples=0)
    assert {i.id for i in view.instances} == {
        "counterfactual_p1",
        "circular_p2",
        "redundency_p3",
        "correct_p3",
        "domain_inconsistency_p4",
    }
    invalid = [i for i in view.instances if not i.valid]
    assert [i.id for i in invalid] == ["domain_inconsistency_p4"]
    radar = view.radar()
    assert len(radar) == 9
    assert math.isnan(radar["multi_solutions"]) and not math.isnan(radar["counterfactual"])
    bias = view.positive_bias()
    # the critic server calls every step correct but the last; counterfactual_p1 has 3 steps, step 2 wrong:
    # correct steps 1 and 3 are judged right and wrong (1/2), the wrong step 2 is judged right (0/1)
    assert bias["counterfactual"] == (0.5, 0.0)
    positions = {p: (steps, acc) for p, steps, acc in view.error_positions()}
    assert positions["2"] == (1, 0.0) and positions["3"][0] == 2


def test_compare_gives_verdicts_only_where_the_interval_excludes_zero(report_runs):
    a = load_stability_run(report_runs["model-a"], resamples=0)
    b = load_stability_run(report_runs["model-b"], resamples=0)
    same = compare_runs(a, a, resamples=300)
    assert all(d.delta == 0 and not d.significant for d in same.differences.values())
    assert all(same.verdict(key) == "" for key in same.differences)
    result = compare_runs(a, b, resamples=500)
    assert result.shared == len(PROBLEMS) and result.only_a == result.only_b == 0
    for key, d in result.differences.items():
        assert d.delta == pytest.approx(d.b - d.a)
        if d.significant:
            better = "model-b" if (d.interval.low > 0) == higher_is_better(key) else "model-a"
            assert result.verdict(key) == f"{better} {'higher' if higher_is_better(key) else 'lower'}"
        else:
            assert result.verdict(key) == ""
