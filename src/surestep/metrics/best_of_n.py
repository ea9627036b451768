"""Best-of-N with a verifier's scores: exact expectations over all N-subsets of a problem's draws.

Every figure is, for one problem with n scored draws, the expected credit of a uniformly random
N-subset of its draws; the dataset figure is the mean over problems.

best-of-N: the subset's draw with the highest score is picked; a tie at the top is broken at
random, so it earns the correct share of the tied draws. Sort a problem's draws by score and
let a draw's score level hold t draws (tc of them correct) with b draws below it. The top of a
random N-subset lies at that level with probability (C(b + t, N) - C(b, N)) / C(n, N), and the
tied draws the subset holds there are a uniform sample of the level, so the level earns
tc / t of that probability. Summed over draws (each correct draw carrying 1 / t of its level)
this is one gather from the table C(m, N) / C(n, N), m = 0..n, for every N at once.

PRM-weighted vote: each answer class is weighted by the sum of the scores of its draws in the
subset; the heaviest class wins, a tie between t classes earns (correct tied classes) / t, and a
subset without a scored answer earns 0. This depends on the scores of every subset member, so
it is computed over every N-subset where C(n, N) is at most ``samples``, and otherwise as the
mean over ``samples`` uniformly random N-subsets per problem, with its Monte Carlo standard
error stated.

A draw with a NaN score (the scorer could not judge it) ranks below every scored draw and
casts no weighted vote.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from surestep.metrics.majority import maj_at_k
from surestep.metrics.stability import pass_at_k

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

AGGREGATES = ("min", "last", "prod", "mean")
METHODS = ("best_of_n", "weighted_vote", "majority", "pass", "random")
DEFAULT_SAMPLES = 256
# Cap on the cells of one (problems, subsets, n) class-weight array in the weighted vote.
_CHUNK_CELLS = 1 << 22


def aggregate(step_scores: Sequence[float], how: str) -> float:
    """One draw's score from its step scores: their min, the last, their product or their mean.

    NaN where there is no step score (the scorer could not judge the draw, or cut every step).
    """
    if how not in AGGREGATES:
        raise ValueError(f"unknown aggregate {how!r} (known: {', '.join(AGGREGATES)})")
    if not step_scores:
        return math.nan
    if how == "min":
        return float(min(step_scores))
    if how == "last":
        return float(step_scores[-1])
    if how == "prod":
        return float(math.prod(step_scores))
    return float(math.fsum(step_scores) / len(step_scores))


def subset_sizes(n: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to n, and n itself."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    sizes = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return tuple(sizes if sizes[-1] == n else [*sizes, n])


def _check(
    scores: npt.ArrayLike, correct: npt.ArrayLike, sizes: Sequence[int]
) -> tuple[FloatArray, BoolArray]:
    score_arr = np.asarray(scores, dtype=np.float64)
    correct_arr = np.asarray(correct, dtype=bool)
    if score_arr.ndim != 2 or score_arr.shape != correct_arr.shape:
        raise ValueError("scores and correct must be (problems, n) arrays of the same shape")
    n = score_arr.shape[1]
    if any(not 1 <= size <= n for size in sizes):
        raise ValueError(f"every N must be between 1 and n={n}, got {list(sizes)}")
    return score_arr, correct_arr


def _subset_share_table(n: int, sizes: Sequence[int]) -> FloatArray:
    """(n + 1, len(sizes)) table of C(m, N) / C(n, N): the chance that a random N-subset of n
    draws lies wholly within m given ones (exact integers, one rounding per entry)."""
    table = np.zeros((n + 1, len(sizes)), dtype=np.float64)
    for j, size in enumerate(sizes):
        whole = math.comb(n, size)
        table[:, j] = [math.comb(m, size) / whole for m in range(n + 1)]
    return table


def best_of_n(scores: npt.ArrayLike, correct: npt.ArrayLike, sizes: Sequence[int]) -> FloatArray:
    """(problems, len(sizes)) expected best-of-N credit, exact (see the module docstring)."""
    score_arr, correct_arr = _check(scores, correct, sizes)
    problems, n = score_arr.shape
    if problems == 0:
        return np.zeros((0, len(sizes)), dtype=np.float64)
    ranked = np.where(np.isnan(score_arr), -np.inf, score_arr)
    order = np.argsort(ranked, axis=1, kind="stable")
    ordered = np.take_along_axis(ranked, order, axis=1)
    ok = np.take_along_axis(correct_arr, order, axis=1)
    index = np.arange(n)
    starts = np.ones((problems, n), dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = np.ones((problems, n), dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    below = np.maximum.accumulate(np.where(starts, index, 0), axis=1)  # draws strictly below the level
    upto = np.minimum.accumulate(np.where(ends, index + 1, n)[:, ::-1], axis=1)[:, ::-1]  # ... and at it
    table = _subset_share_table(n, sizes)
    at_top = (table[upto] - table[below]) / (upto - below)[:, :, None]  # per draw of its level's share
    return np.asarray(np.einsum("pns,pn->ps", at_top, ok.astype(np.float64)), dtype=np.float64)


@dataclass(frozen=True)
class VoteResult:
    """Per-problem weighted-vote credit for each N, and how each N was computed.

    ``exact[j]`` says whether N = sizes[j] went over every subset; otherwise ``mc_error[j]`` is
    the Monte Carlo standard error of the dataset mean (0 where exact).
    """

    values: FloatArray
    exact: tuple[bool, ...]
    mc_error: tuple[float, ...]
    samples: int


def _class_is_correct(classes: IntArray, correct: BoolArray) -> BoolArray:
    problems, n = classes.shape
    rows = np.broadcast_to(np.arange(problems)[:, None], classes.shape)
    flat = (rows * n + classes)[(classes >= 0) & correct]
    return np.bincount(flat, minlength=problems * n).reshape(problems, n) > 0


def _credit(total: FloatArray, count: IntArray, class_ok: BoolArray) -> FloatArray:
    """(problems, subsets) credit from each subset's class weights and vote counts (problems,
    subsets, classes + 1; the last column, the voteless draws, is left out): the correct share
    of the classes with votes tied at the top weight, 0 where no class has a vote."""
    total, present = total[:, :, :-1], count[:, :, :-1] > 0
    top = np.where(present, total, -np.inf).max(axis=2, keepdims=True)
    tied = present & (total == top)
    count = tied.sum(axis=2)
    right = (tied & class_ok[:, None, :]).sum(axis=2)
    credit: FloatArray = np.divide(right, count, out=np.zeros(count.shape, dtype=np.float64), where=count > 0)
    return credit


def _plane_credit(total: FloatArray, present: BoolArray, class_ok: BoolArray) -> FloatArray:
    """:func:`_credit` for class weights and presence laid out as (classes + 1, problems,
    subsets) planes (the last plane, the voteless draws, is left out)."""
    total, present = total[:-1], present[:-1]
    top = np.where(present, total, -np.inf).max(axis=0)
    tied = present & (total == top)
    count = tied.sum(axis=0)
    right = (tied & class_ok.T[:, :, None]).sum(axis=0)
    credit: FloatArray = np.divide(right, count, out=np.zeros(count.shape, dtype=np.float64), where=count > 0)
    return credit


def _add_votes(total: FloatArray, count: IntArray, weights: FloatArray, cells: IntArray) -> None:
    """Add votes to the class weights and vote counts (problems, subsets, classes + 1) in place.

    ``weights`` and ``cells`` (any layout, the same for both) hold the draws joining the subsets
    and the flat index of the (problem, subset, class) each votes for (see :func:`_cells`).
    """
    total += np.bincount(cells.ravel(), weights=weights.ravel(), minlength=total.size).reshape(total.shape)
    count += np.bincount(cells.ravel(), minlength=total.size).reshape(count.shape)


def _cells(classes: IntArray, width: int) -> IntArray:
    """Flat (problem, subset, class) indices of votes into a (problems, subsets, width + 1) array;
    a draw of class -1 votes into the last column, which is never read."""
    problems, subsets = classes.shape[:2]
    base = (np.arange(problems * subsets, dtype=np.int64) * (width + 1)).reshape(problems, subsets, 1)
    return base + np.where(classes >= 0, classes, width)


def weighted_vote(
    scores: npt.ArrayLike,
    classes: npt.ArrayLike,
    correct: npt.ArrayLike,
    sizes: Sequence[int],
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> VoteResult:
    """PRM-weighted majority vote for each N: exact where C(n, N) <= samples, else Monte Carlo.

    ``classes`` numbers each problem's answer classes 0..n-1 (-1: no answer), as for
    :func:`surestep.metrics.majority.maj_at_k`; a class is correct when any of its draws is.
    The Monte Carlo subsets of one problem are the first N of ``samples`` uniformly random
    orders of its draws, shared by every N (so each N's estimate is unbiased; the estimates of
    different N are correlated). The orders are one shared table read through a random
    relabelling of each problem's draws (see the code): per problem they are independent and
    uniform, and different problems' estimates are uncorrelated.
    """
    score_arr, correct_arr = _check(scores, correct, sizes)
    class_arr = np.asarray(classes, dtype=np.int64)
    if class_arr.shape != score_arr.shape:
        raise ValueError("classes must have the shape of scores")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    problems, n = score_arr.shape
    width = max(1, int(class_arr.max(initial=-1)) + 1)
    class_ok = _class_is_correct(class_arr, correct_arr)[:, :width]
    voting = np.where(np.isnan(score_arr), -1, class_arr)
    weights = np.nan_to_num(score_arr, nan=0.0)
    values = np.zeros((problems, len(sizes)), dtype=np.float64)
    errors = [0.0] * len(sizes)
    exact = tuple(math.comb(n, size) <= samples for size in sizes)
    for j, size in enumerate(sizes):
        if not exact[j]:
            continue
        picks = np.array(list(itertools.combinations(range(n), size)), dtype=np.int64)
        chunk = max(1, _CHUNK_CELLS // (len(picks) * width))
        for start in range(0, problems, chunk):
            stop = min(problems, start + chunk)
            shape = (stop - start, len(picks), width + 1)
            total, count = np.zeros(shape), np.zeros(shape, dtype=np.int64)
            _add_votes(total, count, weights[start:stop, picks], _cells(voting[start:stop, picks], width))
            values[start:stop, j] = _credit(total, count, class_ok[start:stop]).mean(axis=1)
    sampled = sorted((size, j) for j, size in enumerate(sizes) if not exact[j])
    if sampled:
        rng = np.random.default_rng(seed)
        variance = np.zeros(len(sizes))
        # Orders: one table of ``samples`` uniformly random orders of n, shared by every problem,
        # read through each problem's own uniformly random relabelling of its draws. For one
        # problem the orders are independent and uniform (a uniform permutation composed with
        # independent uniform ones), and the problems' estimates are uncorrelated (each is
        # unbiased whatever the table), so the stated standard error holds; one gather replaces
        # sorting random keys per problem. Only the first ``depth`` positions are ever read.
        depth = sampled[-1][0]
        table = rng.random((samples, n)).argsort(axis=1)[:, :depth].T  # (depth, samples)
        relabel = rng.random((problems, n)).argsort(axis=1)
        weights = np.take_along_axis(weights, relabel, axis=1)
        voting = np.take_along_axis(voting, relabel, axis=1)
        # Class weights and presence as (class, problem, sample) planes, so the reductions over
        # classes run elementwise across planes. Each position of the orders adds one vote per
        # (problem, sample), so no cell is hit twice in one step and a plain fancy-index add
        # does it; a segment of positions is summed from zero in position order and then added
        # to the running totals (as one bincount per segment would, so sums round alike).
        column = np.where(voting >= 0, voting, width)  # the class's plane; width: no vote
        chunk = max(1, _CHUNK_CELLS // (samples * (width + 1)))
        for start in range(0, problems, chunk):
            stop = min(problems, start + chunk)
            plane = (stop - start) * samples
            cell = np.arange(plane, dtype=np.int64).reshape(stop - start, samples)
            chunk_weights, chunk_planes = weights[start:stop], column[start:stop] * plane
            total = np.zeros((width + 1) * plane)
            present = np.zeros((width + 1) * plane, dtype=bool)
            segment = np.empty_like(total)
            taken = 0
            for size, j in sampled:  # growing prefixes of the same orders
                segment.fill(0.0)
                for position in table[taken:size]:
                    cells = chunk_planes[:, position] + cell
                    segment[cells] += chunk_weights[:, position]
                    present[cells] = True
                total += segment
                taken = size
                credit = _plane_credit(
                    total.reshape(width + 1, stop - start, samples),
                    present.reshape(width + 1, stop - start, samples),
                    class_ok[start:stop],
                )
                values[start:stop, j] = credit.mean(axis=1)
                variance[j] += credit.var(axis=1, ddof=1).sum() if samples > 1 else math.nan
        for _, j in sampled:
            errors[j] = math.sqrt(variance[j] / samples) / problems
    return VoteResult(values, exact, tuple(float(e) for e in errors), samples)


@dataclass(frozen=True)
class BestOfNScores:
    """Per-problem credit of every method at every N (``per_problem[method][:, j]`` is N = sizes[j])."""

    n: int
    sizes: tuple[int, ...]
    per_problem: dict[str, FloatArray]
    vote: VoteResult

    def means(self) -> dict[str, dict[int, float]]:
        return {
            method: {size: float(values[:, j].mean()) for j, size in enumerate(self.sizes)}
            for method, values in self.per_problem.items()
        }


def best_of_n_scores(
    scores: npt.ArrayLike,
    classes: npt.ArrayLike,
    correct: npt.ArrayLike,
    *,
    sizes: Sequence[int] | None = None,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> BestOfNScores:
    """best-of-N, weighted vote, maj@N, pass@N and a random pick (avg) for each N, per problem."""
    score_arr, correct_arr = np.asarray(scores, dtype=np.float64), np.asarray(correct, dtype=bool)
    n = score_arr.shape[1] if score_arr.ndim == 2 else 0
    chosen = tuple(sizes) if sizes is not None else subset_sizes(n)
    score_arr, correct_arr = _check(score_arr, correct_arr, chosen)
    class_arr = np.asarray(classes, dtype=np.int64)
    counts = correct_arr.sum(axis=1)
    vote = weighted_vote(score_arr, class_arr, correct_arr, chosen, samples=samples, seed=seed)
    per_problem = {
        "best_of_n": best_of_n(score_arr, correct_arr, chosen),
        "weighted_vote": vote.values,
        "majority": np.column_stack([maj_at_k(class_arr, correct_arr, size) for size in chosen]),
        "pass": np.column_stack([pass_at_k(n, counts, size) for size in chosen]),
        "random": np.repeat((counts / n)[:, None], len(chosen), axis=1),
    }
    return BestOfNScores(n, chosen, per_problem, vote)
