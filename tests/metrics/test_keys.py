"""Metric keys: every string form round-trips, malformed keys are refused clearly, the table is complete."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surestep.metrics.best_of_n import METHODS
from surestep.metrics.dataset import (
    GREEDY_KEY,
    StabilityProtocol,
    avg_key,
    drop_key,
    g_pass_key,
    maj_key,
    mg_pass_key,
    pass_key,
)
from surestep.metrics.keys import METRICS, MetricKey, tau_label

EVERY_FORM = {
    "greedy": MetricKey("greedy"),
    "avg@48": MetricKey("avg", 48),
    "pass@8": MetricKey("pass", 8),
    "G-Pass@16_0.5": MetricKey("G-Pass", 16, 0.5),
    "G-Pass@16_1.0": MetricKey("G-Pass", 16, 1.0),
    "G-Pass@4_0.0": MetricKey("G-Pass", 4, 0.0),
    "mG-Pass@16": MetricKey("mG-Pass", 16),
    "maj@4": MetricKey("maj", 4),
    "relative_drop@16": MetricKey("relative_drop", 16),
    "best_of_n@8": MetricKey("best_of_n", 8),
    "weighted_vote@8": MetricKey("weighted_vote", 8),
    "majority@2": MetricKey("majority", 2),
    "random@1": MetricKey("random", 1),
    "G-Pass@16_0.75[Level 5]": MetricKey("G-Pass", 16, 0.75, subset="Level 5"),
    "greedy[algebra]": MetricKey("greedy", subset="algebra"),
    "pass@8[a [b]]": MetricKey("pass", 8, subset="a [b]"),
}


@pytest.mark.parametrize(("text", "key"), EVERY_FORM.items())
def test_every_key_form_round_trips(text, key):
    assert MetricKey.parse(text) == key
    assert str(key) == text
    assert MetricKey.parse(str(key)) == key


def test_every_metric_of_the_table_has_a_form_in_the_round_trip():
    assert {key.metric for key in EVERY_FORM.values()} == set(METRICS)


@given(
    metric=st.sampled_from(sorted(METRICS)),
    k=st.integers(1, 10_000),
    tau=st.floats(0.0, 1.0),
    subset=st.none() | st.text(min_size=1),
)
def test_any_key_round_trips(metric, k, tau, subset):
    info = METRICS[metric]
    key = MetricKey(metric, k if info.takes_k else None, tau if info.takes_tau else None, subset)
    assert MetricKey.parse(str(key)) == key


def test_the_dataset_key_builders_write_the_string_form():
    protocol = StabilityProtocol()
    for k in protocol.ks:
        assert pass_key(k) == str(MetricKey("pass", k)) == f"pass@{k}"
        assert mg_pass_key(k) == f"mG-Pass@{k}"
        assert maj_key(k) == f"maj@{k}"
        assert drop_key(k) == f"relative_drop@{k}"
        for tau in protocol.taus:
            assert g_pass_key(k, tau) == f"G-Pass@{k}_{tau_label(tau)}"
    assert avg_key(48) == "avg@48"
    assert GREEDY_KEY == "greedy"
    assert g_pass_key(np.int64(16), 1) == "G-Pass@16_1.0"  # numpy integers and int τ as ever
    assert MetricKey("pass", np.int64(16)) == MetricKey("pass", 16)


def test_best_of_n_methods_are_metrics_of_the_table():
    assert set(METHODS) <= set(METRICS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a metric key: ''"),
        ("accuracy@8", "metric one of greedy, avg"),
        ("G-pass@16_0.5", "not a metric key"),
        ("pass", "pass needs k"),
        ("pass@", "expected <metric>[@k][_τ][[subset]]"),
        ("pass@0", "expected <metric>"),
        ("pass@016", "expected <metric>"),
        ("pass@-1", "expected <metric>"),
        ("pass@8_0.5", "pass takes no τ"),
        ("G-Pass@16", "G-Pass needs τ"),
        ("G-Pass@16_0.50", "write τ as 0.5, not 0.50"),
        ("G-Pass@16_1", "write τ as 1.0, not 1"),
        ("G-Pass@16_1.5", "τ must lie in [0, 1]"),
        ("G-Pass@16_0..5", "is not a number"),
        ("greedy@1", "greedy takes no k"),
        ("pass@8[]", "expected <metric>"),
        ("pass@8 ", "expected <metric>"),
    ],
)
def test_a_malformed_key_is_refused_with_a_clear_error(text, message):
    with pytest.raises(ValueError, match="not a metric key") as caught:
        MetricKey.parse(text)
    assert message in str(caught.value)
    assert repr(text) in str(caught.value)


def test_a_key_is_checked_when_made():
    with pytest.raises(ValueError, match="unknown metric 'Pass'"):
        MetricKey("Pass", 8)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        MetricKey("pass", 0)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        MetricKey("pass", 8.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="subset label must not be empty"):
        MetricKey("greedy", subset="")


@pytest.mark.parametrize("info", METRICS.values(), ids=list(METRICS))
def test_every_metric_has_a_label_a_description_and_a_direction(info):
    assert info.label and info.description.endswith(".")
    assert "\n" not in info.description
    assert isinstance(info.higher_is_better, bool)
    key = MetricKey(info.name, 8 if info.takes_k else None, 0.5 if info.takes_tau else None)
    assert "{" not in key.label
    assert key.description == info.description
    assert key.higher_is_better is info.higher_is_better


def test_labels_and_directions():
    assert MetricKey.parse("G-Pass@16_0.75").label == "G-Pass@16 τ=0.75"
    assert MetricKey.parse("pass@16").label == "Pass@16"
    assert MetricKey.parse("relative_drop@16").label == "Rel. drop@16"
    assert MetricKey.parse("best_of_n@8").label == "best-of-8"
    assert MetricKey.parse("weighted_vote@4").label == "PRM-weighted vote@4"
    assert MetricKey.parse("greedy").label == "Greedy"
    assert MetricKey.parse("mG-Pass@16[Level 5]").label == "mG-Pass@16 [Level 5]"
    assert not MetricKey.parse("relative_drop@16").higher_is_better
    assert all(METRICS[m].higher_is_better for m in METRICS if m != "relative_drop")
