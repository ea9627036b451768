"""The demo's closing sentence: its wording on given figures, edge cases included."""

from __future__ import annotations

import math

import pytest

from surestep.report.sentence import no_answer_line, reading, share


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0%"),
        (0.004, "under 1%"),
        (0.005, "under 1%"),  # round-half-even: 0.5 -> 0, still not "0%"
        (0.0067, "1%"),
        (0.1333, "13%"),
        (0.5, "50%"),
        (0.996, "over 99%"),
        (1.0, "100%"),
    ],
)
def test_share_never_rounds_to_a_false_zero_or_hundred(value, text):
    assert share(value) == text


@pytest.mark.parametrize("value", [-0.1, 1.01, math.nan, math.inf])
def test_share_refuses_what_is_not_a_share(value):
    with pytest.raises(ValueError, match="a share must lie in"):
        share(value)


def test_the_demo_case_greedy_above_the_stable_share():
    text = reading(k=16, n=16, problems=30, greedy=0.1333, at_half=0.02, at_all=0.0)
    assert text == (
        "Greedy decoding answers 13% of the 30 problems right, but only 2% are answered right "
        "in at least half of 16 sampled draws, and none in all 16."
    )


def test_a_stable_share_above_greedy_is_not_called_a_drop():
    text = reading(k=16, n=16, problems=30, greedy=0.1, at_half=0.2, at_all=0.0333)
    assert text == (
        "Greedy decoding answers 10% of the 30 problems right, while 20% are answered right "
        "in at least half of 16 sampled draws, and 3% in all 16."
    )
    assert "only" not in text


def test_equal_shares_as_printed_are_not_called_a_drop():
    text = reading(k=16, n=16, problems=30, greedy=0.2004, at_half=0.1996, at_all=0.1)
    assert "but" not in text and ", and 20% are answered right" in text


def test_no_stable_problem_at_all():
    text = reading(k=16, n=16, problems=30, greedy=0.0667, at_half=0.0, at_all=0.0)
    assert text == (
        "Greedy decoding answers 7% of the 30 problems right, but no problem is answered right "
        "in at least half of 16 sampled draws."
    )
    both_zero = reading(k=16, n=16, problems=30, greedy=0.0, at_half=0.0, at_all=0.0)
    assert both_zero == (
        "Greedy decoding answers no problem right, and no problem is answered right "
        "in at least half of 16 sampled draws."
    )


def test_everything_right():
    text = reading(k=8, n=8, problems=2, greedy=1.0, at_half=1.0, at_all=1.0)
    assert text == (
        "Greedy decoding answers 100% of the 2 problems right, and 100% are answered right "
        "in at least half of 8 sampled draws, and 100% in all 8."
    )


def test_more_draws_than_k_makes_the_shares_expectations():
    text = reading(k=16, n=48, problems=134, greedy=0.5, at_half=0.3, at_all=0.1)
    assert text == (
        "Greedy decoding answers 50% of the 134 problems right, but on average only 30% are answered "
        "right in at least half of 16 draws picked at random from 48, and 10% in all 16."
    )


def test_without_greedy_and_small_runs():
    assert reading(k=2, n=2, problems=3, at_half=0.6667, at_all=0.3333) == (
        "Of the 3 problems, 67% are answered right in at least half of 2 sampled draws, and 33% in all 2."
    )
    assert reading(k=1, n=1, problems=1, greedy=1.0, at_half=0.0, at_all=0.0) == (
        "Greedy decoding answers 100% of the one problem right, but no problem is answered right "
        "in its one sampled draw."
    )


@pytest.mark.parametrize(
    ("figures", "message"),
    [
        ({"k": 0, "n": 4, "problems": 3, "at_half": 0.1, "at_all": 0.0}, "need 1 <= k <= n"),
        ({"k": 8, "n": 4, "problems": 3, "at_half": 0.1, "at_all": 0.0}, "need 1 <= k <= n"),
        ({"k": 4, "n": 4, "problems": 0, "at_half": 0.1, "at_all": 0.0}, "problems >= 1"),
        ({"k": 4, "n": 4, "problems": 3, "at_half": 0.1, "at_all": 0.2}, "cannot exceed"),
        ({"k": 4, "n": 4, "problems": 3, "at_half": 1.2, "at_all": 0.0}, "a share must lie in"),
    ],
)
def test_reading_refuses_impossible_figures(figures, message):
    with pytest.raises(ValueError, match=message):
        reading(**figures)


def test_no_answer_line():
    assert no_answer_line(83, 510) == "draws without an answer: 83 of 510 (16%)"
    assert no_answer_line(0, 1_530) == "draws without an answer: 0 of 1,530 (0%)"
    assert no_answer_line(1, 510) == "draws without an answer: 1 of 510 (under 1%)"
    with pytest.raises(ValueError, match="missing <= total"):
        no_answer_line(3, 2)
