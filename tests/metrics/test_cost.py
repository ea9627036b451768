"""metrics/cost: the cost arithmetic by hand, per correct answer, per problem and subset, prices."""

from __future__ import annotations

import math

import pytest

from surestep.errors import SurestepError
from surestep.metrics.cost import (
    DrawTokens,
    Prices,
    compare_cost,
    cost_figures,
    resolve_prices,
    summarize_cost,
)

PRICES = Prices(input=2.0, output=8.0)  # USD per million tokens


def draws() -> list[DrawTokens]:
    return [
        DrawTokens("p1", "easy", 100, 50, True),
        DrawTokens("p1", "easy", 100, 30, False),
        DrawTokens("p2", "hard", 200, 20, False),
        DrawTokens("p2", "hard", 200, 40, True),
        DrawTokens("p3", "hard", 300, 60, False),
    ]


def test_the_totals_are_the_prices_times_the_tokens_by_hand():
    summary = summarize_cost(draws(), PRICES)
    total = summary.total
    # prompt 100+100+200+200+300 = 900, completion 50+30+20+40+60 = 200
    assert (total.prompt_tokens, total.completion_tokens, total.tokens) == (900, 200, 1100)
    # (900 * 2 + 200 * 8) / 1e6 = 3400 / 1e6
    assert total.cost == pytest.approx(0.0034, rel=1e-12)
    assert total.correct == 2
    assert total.cost_per_correct == pytest.approx(0.0017, rel=1e-12)
    assert total.tokens_per_correct == 550


def test_per_problem_mean_and_median_and_per_subset_by_hand():
    summary = summarize_cost(draws(), PRICES)
    # p1: (200*2 + 80*8) = 1040; p2: (400*2 + 60*8) = 1280; p3: (300*2 + 60*8) = 1080 (all / 1e6)
    assert summary.cost_per_problem.problems == 3
    assert summary.cost_per_problem.mean == pytest.approx((1040 + 1280 + 1080) / 3 / 1e6)
    assert summary.cost_per_problem.median == pytest.approx(1080 / 1e6)
    assert summary.tokens_per_problem.mean == pytest.approx((280 + 460 + 360) / 3)
    assert summary.tokens_per_problem.median == 360
    assert list(summary.subsets) == ["easy", "hard"]
    easy, hard = summary.subsets["easy"], summary.subsets["hard"]
    assert easy.cost == pytest.approx(1040 / 1e6) and easy.cost_per_correct == pytest.approx(1040 / 1e6)
    assert hard.cost == pytest.approx(2360 / 1e6) and hard.correct == 1
    assert hard.cost_per_correct == pytest.approx(2360 / 1e6)


def test_no_correct_answer_gives_null_per_correct_not_a_division_by_zero():
    wrong = [DrawTokens("p", None, 10, 5, False), DrawTokens("p", None, 10, 7, False)]
    figures = cost_figures(wrong, PRICES)
    assert figures.cost == pytest.approx((20 * 2 + 12 * 8) / 1e6)
    assert figures.cost_per_correct is None and figures.tokens_per_correct is None
    data = summarize_cost(wrong, PRICES).to_dict()
    assert data["per_correct"] is None and data["tokens_per_correct"] is None
    assert data["total"] == pytest.approx(136 / 1e6) and data["subsets"] == {}


def test_a_draw_without_token_counts_makes_its_groups_figures_null():
    some = [*draws(), DrawTokens("p3", "hard", None, None, True)]
    summary = summarize_cost(some, PRICES)
    assert summary.total.missing == 1
    assert (
        summary.total.cost is None and summary.total.tokens is None and summary.total.cost_per_correct is None
    )
    assert summary.subsets["easy"].cost == pytest.approx(1040 / 1e6)  # its own draws all have counts
    assert summary.subsets["hard"].cost is None
    assert summary.cost_per_problem.mean is None  # p3 is unknown, so the mean over problems is too


def test_without_prices_the_tokens_stay_and_the_cost_is_null():
    summary = summarize_cost(draws(), None)
    data = summary.to_dict()
    assert data["currency"] == "USD" and data["prices"] is None
    assert data["tokens"] == 1100 and data["total"] is None and data["per_correct"] is None
    assert data["per_problem"]["cost"] == {"problems": 3, "mean": None, "median": None}


def test_prices_given_override_the_stored_ones_one_by_one():
    stored = Prices(1.0, 3.0)
    assert resolve_prices(None, None, None) is None
    assert resolve_prices(None, None, stored) == stored
    assert resolve_prices(5.0, None, stored) == Prices(5.0, 3.0)
    assert resolve_prices(0.0, 0.0, stored) == Prices(0.0, 0.0)
    with pytest.raises(SurestepError, match="--price-input needs --price-output"):
        resolve_prices(5.0, None, None)
    with pytest.raises(SurestepError, match="--price-output needs --price-input"):
        resolve_prices(None, 5.0, None)


@pytest.mark.parametrize("bad", [-0.01, math.inf, math.nan, True, "1"])
def test_a_price_that_is_not_a_finite_number_at_least_zero_is_refused(bad):
    with pytest.raises(SurestepError, match="price_input"):
        Prices(bad, 1.0)


def test_compare_prices_each_run_over_the_shared_problems_only():
    a = draws()
    b = [
        DrawTokens("p1", "easy", 100, 500, True),
        DrawTokens("p2", "hard", 200, 100, True),
        DrawTokens("p9", "hard", 10**6, 10**6, False),  # only in B: left out
    ]
    comparison = compare_cost(a, b, PRICES, Prices(1.0, 1.0), ["p1", "p2"])
    # A over p1, p2: (600*2 + 140*8) / 1e6 = 2320e-6, 2 correct; B: (300 + 600) / 1e6, 2 correct
    assert comparison.a.cost_per_correct == pytest.approx(1160e-6)
    assert comparison.b.cost_per_correct == pytest.approx(450e-6)
    assert comparison.cost_per_correct_delta == pytest.approx(450e-6 - 1160e-6)
    assert comparison.tokens_per_correct_delta == pytest.approx(450 - 370)
    unpriced = compare_cost(a, b, PRICES, None, ["p1", "p2"])
    assert unpriced.cost_per_correct_delta is None and unpriced.to_dict()["prices_b"] is None
