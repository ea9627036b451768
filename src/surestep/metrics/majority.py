"""maj@k: accuracy of the majority-voted answer among k draws, exact over all k-subsets.

For one problem, let class j hold m_j of its n draws; the other draws have no answer. The
votes of a uniformly random k-subset are multivariate hypergeometric over the classes and
the voteless "no answer" pool. maj@k is summed over the top vote count v: for each v, a
dynamic programme over the classes that can reach v (at least v draws) counts, by draws
used, the ways to give each at most v votes; the draws that cannot reach v (no answer, or
a smaller class) form a pool that is folded in last. A tie between t classes earns
(correct tied classes) / t. Since 1 / t is the integral of s^(t - 1) over [0, 1], each
class sitting exactly at v multiplies its count by s, and a Gauss-Legendre rule with
enough nodes integrates the resulting polynomial in s exactly.

Counts are scaled: C(m, x) is replaced by the binomial probability Binom(m, x; p) with
p = k / n, which multiplies every k-subset's count by the same p^k (1 - p)^(n - k); the
total is divided by Binom(n, k; p). Every weight lies in [0, 1] and every term is
non-negative, so nothing overflows and nothing cancels. Problems with the same multiset of
(class size, correctness) are computed once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Cap on the cells of one DP state array (rows x 2 x (k + 1) x tie nodes), to bound memory.
_CHUNK_CELLS = 1 << 24


def _class_is_correct(classes: IntArray, correct: BoolArray) -> BoolArray:
    """(P, n) table: is local answer class j of problem i graded correct (any draw in it)?"""
    problems, n = classes.shape
    valid = classes >= 0
    rows = np.broadcast_to(np.arange(problems)[:, None], classes.shape)
    flat = (rows * n + classes)[valid & correct]
    hits = np.bincount(flat, minlength=problems * n).reshape(problems, n)
    return hits > 0


def _class_sizes(classes: IntArray) -> IntArray:
    """(P, n) table: how many draws of problem i fall in local answer class j."""
    problems, n = classes.shape
    rows = np.broadcast_to(np.arange(problems)[:, None], classes.shape)
    flat = (rows * n + classes)[classes >= 0]
    return np.bincount(flat, minlength=problems * n).reshape(problems, n).astype(np.int64)


def _signatures(sizes: IntArray, class_ok: BoolArray) -> tuple[IntArray, IntArray]:
    """Distinct per-problem signatures and each problem's index into them.

    A signature lists a problem's classes as ``2 * size + correct``, largest first and
    zero-padded, trimmed to the widest problem; it is all that maj@k depends on.
    """
    keys = -np.sort(-(2 * sizes + (class_ok & (sizes > 0))), axis=1)
    width = max(1, int(np.count_nonzero(keys, axis=1).max(initial=0)))
    unique, inverse = np.unique(keys[:, :width], axis=0, return_inverse=True)
    return unique.astype(np.int64), np.asarray(inverse, dtype=np.int64).reshape(-1)


def _weight_table(n: int, k: int) -> FloatArray:
    """(n + 1, k + 1) table of Binom(m, x; k / n) = C(m, x) k^x (n - k)^(m - x) / n^m.

    Built with exact integers (Pascal's rule on the scaled coefficients) and one correctly
    rounded division per entry; zero where x > m.
    """
    table = np.zeros((n + 1, k + 1), dtype=np.float64)
    row = [1] + [0] * k  # C(m, x) k^x (n - k)^(m - x) for the current m
    scale = 1  # n^m
    for m in range(n + 1):
        table[m] = [value / scale for value in row]
        row = [row[0] * (n - k)] + [row[x] * (n - k) + row[x - 1] * k for x in range(1, k + 1)]
        scale *= n
    return table


def _tie_rule(max_ties: int) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights on [0, 1] that integrate degree < max_ties exactly.

    A tie between t classes earns 1 / t = the integral of s^(t - 1) over [0, 1], so a
    tie-size generating polynomial in s, integrated by this rule, splits ties exactly.
    """
    nodes, weights = np.polynomial.legendre.leggauss(max(1, (max_ties + 1) // 2))
    return (nodes + 1.0) / 2.0, weights / 2.0


def _add_class(
    state: FloatArray, weights: FloatArray, ok: BoolArray, v: int, nodes: FloatArray
) -> FloatArray:
    """Fold one class that may hold at most v votes into the DP.

    ``state`` is (rows, 2, used, nodes): at each tie node s, plane 0 holds the scaled count of
    vote splits over the classes so far by draws used, each weighted s^(classes at exactly v);
    plane 1 holds the same sum weighted also by the number of correct classes at v.
    ``weights`` is (rows, k + 1): the class's scaled count of ways to take x of its draws.
    The result may use up to k draws.
    """
    rows, planes, width, count = state.shape
    k = weights.shape[1] - 1
    out = np.zeros((rows, planes, min(k + 1, width + v), count), dtype=np.float64)
    column = weights[:, :, None, None, None]
    for x in range(v + 1):
        span = min(width, out.shape[2] - x)
        if span <= 0:
            break
        part = state[:, :, :span] * column[:, x]
        if x == v:  # the class joins the tie at v
            part *= nodes
            part[:, 1] += np.where(ok[:, None, None], part[:, 0], 0.0)
        out[:, :, x : x + span] += part
    return out


def _close_class(
    state: FloatArray,
    weights: FloatArray,
    ok: BoolArray,
    pool: FloatArray,
    v: int,
    rule: tuple[FloatArray, FloatArray],
) -> FloatArray:
    """Fold a problem's last class and its draws below v, and read off the credit at k draws.

    ``pool`` is (rows, k + 1): the scaled count of ways to take y draws from the draws that
    cannot reach v (no answer, or a class smaller than v). Only totals of exactly k draws
    are formed, so this costs O(k * v) per problem rather than a full fold.
    """
    nodes, node_weights = rule
    k = weights.shape[1] - 1
    below = np.zeros_like(pool)
    for x in range(v):
        below[:, x:] += weights[:, x, None] * pool[:, : k + 1 - x]
    at = np.zeros_like(pool)
    at[:, v:] = weights[:, v, None] * pool[:, : k + 1 - v]
    rest = k - np.arange(state.shape[2])  # draws left for the last class and the pool
    counts, correct = state[:, 0], state[:, 1]
    tied = correct + np.where(ok[:, None, None], counts, 0.0)
    per_node = np.einsum("iu,iug->ig", below[:, rest], correct) / nodes
    per_node += np.einsum("iu,iug->ig", at[:, rest], tied)
    return np.asarray(per_node @ node_weights, dtype=np.float64)


def _exact_scores(signatures: IntArray, n: int, k: int) -> FloatArray:
    """Expected maj@k credit for each distinct signature (see :func:`_signatures`)."""
    sizes, ok = signatures // 2, (signatures % 2).astype(bool)
    weights = _weight_table(n, k)
    total = np.zeros(len(signatures), dtype=np.float64)
    for v in range(1, k + 1):
        reach = np.count_nonzero(sizes >= v, axis=1)  # classes that can hold v votes
        if not reach.any():
            break
        pool = n - np.where(sizes >= v, sizes, 0).sum(axis=1)  # draws that cannot tie at v
        # A top count of v needs a class at v and room for all k draws with none above v.
        feasible = (reach > 0) & (reach * v + pool >= k)
        order = np.argsort(-reach, kind="stable")
        order = order[feasible[order]]
        if order.size == 0:
            continue
        reach_v, sizes_v, ok_v, pool_v = reach[order], sizes[order], ok[order], weights[pool[order]]
        rule = _tie_rule(min(k // v, int(reach_v[0])))
        state = np.zeros((order.size, 2, 1, rule[0].size), dtype=np.float64)
        state[:, 0] = 1.0
        for slot in range(int(reach_v[0])):
            live, more = (int(np.count_nonzero(reach_v > s)) for s in (slot, slot + 1))
            span = slice(more, live)
            total[order[span]] += _close_class(
                state[span], weights[sizes_v[span, slot]], ok_v[span, slot], pool_v[span], v, rule
            )
            if more:
                state = _add_class(state[:more], weights[sizes_v[:more, slot]], ok_v[:more, slot], v, rule[0])
    scores: FloatArray = total / weights[n, k]
    return scores


def maj_at_k(classes: npt.ArrayLike, correct: npt.ArrayLike, k: int) -> FloatArray:
    """Per-problem maj@k: the exact expectation over all k-subsets of a problem's n draws.

    ``classes`` is a (problems, n) integer array: the equivalence class of each draw's
    extracted answer, numbered 0..n-1 within its problem, or -1 for "no answer"
    (which never gets a vote). ``correct`` is the matching boolean grade array; a class
    is correct when any of its draws is. In each k-subset the class with the most votes
    wins; a tie between t classes earns (number of correct tied classes) / t, the expected
    score of a random tie break; a subset with no answer at all scores 0.
    """
    class_arr = np.asarray(classes, dtype=np.int64)
    correct_arr = np.asarray(correct, dtype=bool)
    if class_arr.ndim != 2 or class_arr.shape != correct_arr.shape:
        raise ValueError("classes and correct must be (problems, n) arrays of the same shape")
    problems, n = class_arr.shape
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and n={n}")
    if np.any(class_arr >= n) or np.any(class_arr < -1):
        raise ValueError("answer classes must be numbered -1 (no answer) or 0..n-1 per problem")
    if problems == 0:
        return np.zeros(0, dtype=np.float64)
    signatures, inverse = _signatures(_class_sizes(class_arr), _class_is_correct(class_arr, correct_arr))
    nodes = (min(k, signatures.shape[1]) + 1) // 2
    chunk = max(1, _CHUNK_CELLS // (2 * (k + 1) * nodes))
    scores = np.concatenate(
        [_exact_scores(signatures[start : start + chunk], n, k) for start in range(0, len(signatures), chunk)]
    )
    return scores[inverse]


def classes_from_answers(answers: list[list[str | None]]) -> npt.NDArray[np.int64]:
    """Number each problem's distinct answers 0, 1, ... in order of appearance; None -> -1."""
    width = max((len(row) for row in answers), default=0)
    out = np.full((len(answers), width), -1, dtype=np.int64)
    for i, row in enumerate(answers):
        seen: dict[str, int] = {}
        for j, answer in enumerate(row):
            if answer is not None:
                out[i, j] = seen.setdefault(answer, len(seen))
    return out
