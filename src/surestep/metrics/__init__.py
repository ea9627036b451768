"""Stability metrics (G-Pass@k family) and their dataset-level aggregation. Pure numpy."""

from surestep.metrics.bootstrap import (
    Interval,
    PairedDifference,
    bootstrap_intervals,
    paired_bootstrap,
)
from surestep.metrics.dataset import (
    DEFAULT_KS,
    DEFAULT_N,
    DEFAULT_TAUS,
    HEADLINE_K,
    ProblemOutcomes,
    StabilityProtocol,
    derived_figures,
    headline_keys,
    per_problem_scores,
    summarize,
    summarize_subsets,
)
from surestep.metrics.majority import classes_from_answers, maj_at_k
from surestep.metrics.stability import g_pass_at_k, mg_pass_at_k, pass_at_k, required_correct

__all__ = [
    "DEFAULT_KS",
    "DEFAULT_N",
    "DEFAULT_TAUS",
    "HEADLINE_K",
    "Interval",
    "PairedDifference",
    "ProblemOutcomes",
    "StabilityProtocol",
    "bootstrap_intervals",
    "classes_from_answers",
    "derived_figures",
    "g_pass_at_k",
    "headline_keys",
    "maj_at_k",
    "mg_pass_at_k",
    "paired_bootstrap",
    "pass_at_k",
    "per_problem_scores",
    "required_correct",
    "summarize",
    "summarize_subsets",
]
