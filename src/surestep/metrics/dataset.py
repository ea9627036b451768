"""Dataset-level stability metrics: per-problem scores, means, subsets and derived figures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from surestep.metrics.keys import MetricKey
from surestep.metrics.majority import maj_at_k
from surestep.metrics.stability import g_pass_at_k, mg_pass_at_k, pass_at_k

FloatArray = npt.NDArray[np.float64]

DEFAULT_N = 48
DEFAULT_KS: tuple[int, ...] = (4, 8, 16)
DEFAULT_TAUS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
HEADLINE_K = 16
HEADLINE_TAUS: tuple[float, ...] = (0.5, 0.75, 1.0)


def pass_key(k: int) -> str:
    return str(MetricKey("pass", k))


def g_pass_key(k: int, tau: float) -> str:
    return str(MetricKey("G-Pass", k, tau))


def mg_pass_key(k: int) -> str:
    return str(MetricKey("mG-Pass", k))


def maj_key(k: int) -> str:
    return str(MetricKey("maj", k))


def avg_key(n: int) -> str:
    return str(MetricKey("avg", n))


def drop_key(k: int) -> str:
    return str(MetricKey("relative_drop", k))


GREEDY_KEY = str(MetricKey("greedy"))


@dataclass(frozen=True)
class StabilityProtocol:
    """Which k and tau to report, and the seed for bootstrap resampling."""

    ks: tuple[int, ...] = DEFAULT_KS
    taus: tuple[float, ...] = DEFAULT_TAUS
    headline_k: int = HEADLINE_K
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.ks or any(k < 1 for k in self.ks):
            raise ValueError(f"k values must be >= 1, got {self.ks}")
        if any(not 0.0 <= t <= 1.0 for t in self.taus):
            raise ValueError(f"tau values must lie in [0, 1], got {self.taus}")


@dataclass(frozen=True)
class ProblemOutcomes:
    """What the metrics need to know about each problem: counts, greedy grade, answer classes.

    ``answer_classes`` and ``draw_correct`` are (problems, n) arrays used for maj@k;
    see :func:`surestep.metrics.majority.maj_at_k` for their encoding.
    """

    n: int
    correct_counts: npt.NDArray[np.int64]
    greedy_correct: npt.NDArray[np.bool_] | None = None
    answer_classes: npt.NDArray[np.int64] | None = None
    draw_correct: npt.NDArray[np.bool_] | None = field(default=None)

    @property
    def num_problems(self) -> int:
        return int(self.correct_counts.shape[0])


def per_problem_scores(outcomes: ProblemOutcomes, protocol: StabilityProtocol) -> dict[str, FloatArray]:
    """Every mean-type metric as a per-problem array, in display order."""
    n, c = outcomes.n, outcomes.correct_counts
    scores: dict[str, FloatArray] = {}
    if outcomes.greedy_correct is not None:
        scores[GREEDY_KEY] = outcomes.greedy_correct.astype(np.float64)
    scores[avg_key(n)] = c / n
    taus = np.asarray(protocol.taus, dtype=np.float64)
    for k in protocol.ks:
        scores[pass_key(k)] = pass_at_k(n, c, k)
        if taus.size:
            by_tau = g_pass_at_k(n, c[None, :], k, taus[:, None])
            for tau, row in zip(protocol.taus, by_tau):
                scores[g_pass_key(k, tau)] = row
        scores[mg_pass_key(k)] = mg_pass_at_k(n, c, k)
        if outcomes.answer_classes is not None and outcomes.draw_correct is not None:
            scores[maj_key(k)] = maj_at_k(outcomes.answer_classes, outcomes.draw_correct, k)
    return scores


def derived_figures(means: Mapping[str, npt.ArrayLike], protocol: StabilityProtocol) -> dict[str, FloatArray]:
    """Figures that are functions of means: the relative drop (greedy - G-Pass@k_1.0) / greedy.

    Works on scalars and on arrays of bootstrap means alike; NaN where greedy is 0.
    """
    out: dict[str, FloatArray] = {}
    if GREEDY_KEY not in means:
        return out
    greedy = np.asarray(means[GREEDY_KEY], dtype=np.float64)
    for k in protocol.ks:
        strict = means.get(g_pass_key(k, 1.0))
        if strict is None:
            continue
        gap = greedy - np.asarray(strict, dtype=np.float64)
        out[drop_key(k)] = np.divide(gap, greedy, out=np.full(np.shape(gap), np.nan), where=greedy > 0)
    return out


def summarize(scores: Mapping[str, FloatArray], protocol: StabilityProtocol) -> dict[str, float]:
    """Dataset-level figures: the mean of each per-problem score plus derived figures."""
    means: dict[str, float] = {key: float(np.mean(values)) for key, values in scores.items()}
    for key, value in derived_figures(means, protocol).items():
        means[key] = float(value)
    return means


def summarize_subsets(
    scores: Mapping[str, FloatArray],
    labels: Sequence[str],
    protocol: StabilityProtocol,
) -> dict[str, dict[str, float]]:
    """Per-subset summaries; subsets in sorted order of their labels."""
    label_arr = np.asarray(labels, dtype=object)
    result: dict[str, dict[str, float]] = {}
    for label in sorted(set(labels)):
        mask = label_arr == label
        result[label] = summarize({k: v[mask] for k, v in scores.items()}, protocol)
    return result


def headline_keys(protocol: StabilityProtocol, *, with_greedy: bool) -> list[str]:
    """Greedy, G-Pass@k at tau 0.5 / 0.75 / 1.0 and mG-Pass@k for the headline k."""
    k = protocol.headline_k
    keys = [GREEDY_KEY] if with_greedy else []
    keys += [g_pass_key(k, tau) for tau in HEADLINE_TAUS if tau in protocol.taus]
    keys.append(mg_pass_key(k))
    return keys
