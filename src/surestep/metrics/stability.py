"""Per-problem stability metrics: Pass@k, G-Pass@k_tau and mG-Pass@k.

Every function takes per-problem counts (``n`` draws, ``c`` of them correct) and
broadcasts over numpy arrays. Values are exact: each distinct parameter
combination is evaluated once with integer binomial coefficients and a single
correctly rounded division, then gathered back to the input shape, so there is
no Python loop over problems and no float cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# Above this many cells a dense lookup table is not worth it and np.unique is used.
_DENSE_TABLE_LIMIT = 1 << 22


def _as_int_array(value: npt.ArrayLike, name: str) -> IntArray:
    array = np.asarray(value)
    if array.dtype.kind == "b":
        return array.astype(np.int64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(f"{name} must hold whole numbers, got {array!r}")
        return array.astype(np.int64)
    raise TypeError(f"{name} must be an integer array, got dtype {array.dtype}")


def _first_violation(mask: npt.NDArray[np.bool_], *arrays: IntArray) -> tuple[int, ...]:
    index = np.unravel_index(int(np.argmax(mask)), mask.shape) if mask.ndim else ()
    return tuple(int(a[index]) for a in arrays)


def _validated_counts(
    n: npt.ArrayLike, c: npt.ArrayLike, k: npt.ArrayLike
) -> tuple[IntArray, IntArray, IntArray]:
    """Broadcast and check n, c, k; raise ValueError with the first offending values."""
    n_arr, c_arr, k_arr = np.broadcast_arrays(
        _as_int_array(n, "n"), _as_int_array(c, "c"), _as_int_array(k, "k")
    )
    checks: tuple[tuple[npt.NDArray[np.bool_], str], ...] = (
        (n_arr < 1, "n (number of draws) must be >= 1"),
        (k_arr < 1, "k must be >= 1"),
        (c_arr < 0, "c (number of correct draws) must be >= 0"),
        (c_arr > n_arr, "c (number of correct draws) cannot exceed n (number of draws)"),
        (
            k_arr > n_arr,
            "k exceeds n: cannot choose k draws out of n; sample more draws or use a smaller k",
        ),
    )
    for mask, message in checks:
        if np.any(mask):
            bad_n, bad_c, bad_k = _first_violation(mask, n_arr, c_arr, k_arr)
            raise ValueError(f"{message} (first offending problem: n={bad_n}, c={bad_c}, k={bad_k})")
    return n_arr, c_arr, k_arr


def _evaluate_on_unique(func: Callable[..., float], *arrays: IntArray) -> FloatArray:
    """Evaluate ``func`` once per distinct tuple of the (broadcast) integer arrays."""
    shape = arrays[0].shape
    if arrays[0].size == 0:
        return np.zeros(shape, dtype=np.float64)
    flat = [np.ravel(a) for a in arrays]
    lows = [int(a.min()) for a in flat]
    dims = tuple(int(a.max()) - low + 1 for a, low in zip(flat, lows))
    cells = math.prod(dims)
    if cells <= max(_DENSE_TABLE_LIMIT, 4 * flat[0].size):
        key = np.ravel_multi_index(tuple(a - low for a, low in zip(flat, lows)), dims)
        present = np.flatnonzero(np.bincount(key, minlength=cells))
        coords = np.unravel_index(present, dims)
        table = np.zeros(cells, dtype=np.float64)
        columns = [(coord + low).tolist() for coord, low in zip(coords, lows)]
        table[present] = [func(*args) for args in zip(*columns)]
        return table[key].reshape(shape)
    stacked = np.stack(flat, axis=1)
    unique_rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
    values = np.array([func(*row) for row in unique_rows.tolist()], dtype=np.float64)
    return values[np.ravel(inverse)].reshape(shape)


def _hypergeom_tail(n: int, c: int, k: int, m: int) -> float:
    """P(X >= m) for X ~ Hypergeometric(population n, successes c, draws k), exactly."""
    low = max(m, k - (n - c), 0)
    high = min(c, k)
    if low > high:
        return 0.0
    ways = sum(math.comb(c, j) * math.comb(n - c, k - j) for j in range(low, high + 1))
    return ways / math.comb(n, k)


def _mg_pass(n: int, c: int, k: int) -> float:
    """(2/k) * sum_{m=ceil(k/2)+1}^{k} P(X >= m).

    Each tail is exact; they are added as floats in increasing m, the order of the
    published reference, so the published test vectors are reproduced bit for bit.
    """
    total = 0.0
    for m in range((k + 1) // 2 + 1, k + 1):
        total += _hypergeom_tail(n, c, k, m)
    return 2 * total / k


def required_correct(k: npt.ArrayLike, tau: npt.ArrayLike) -> IntArray:
    """m = max(ceil(tau * k), 1), robust to float noise (7.000000000000001 -> 7)."""
    k_arr = _as_int_array(k, "k")
    tau_arr = np.asarray(tau, dtype=np.float64)
    if np.any(~np.isfinite(tau_arr)) or np.any((tau_arr < 0) | (tau_arr > 1)):
        raise ValueError(f"tau must lie in [0, 1], got {tau!r}")
    product = np.round(k_arr * tau_arr, 9)
    return np.maximum(np.ceil(product), 1).astype(np.int64)


def pass_at_k(n: npt.ArrayLike, c: npt.ArrayLike, k: npt.ArrayLike) -> FloatArray:
    """Unbiased Pass@k estimator 1 - C(n-c, k) / C(n, k)."""
    n_arr, c_arr, k_arr = _validated_counts(n, c, k)
    return _evaluate_on_unique(_hypergeom_tail, n_arr, c_arr, k_arr, np.ones_like(k_arr))


def g_pass_at_k(n: npt.ArrayLike, c: npt.ArrayLike, k: npt.ArrayLike, tau: npt.ArrayLike) -> FloatArray:
    """G-Pass@k_tau: P(at least max(ceil(tau*k), 1) of k draws without replacement are correct)."""
    n_arr, c_arr, k_arr = _validated_counts(n, c, k)
    m = required_correct(k_arr, tau)
    n_arr, c_arr, k_arr, m = np.broadcast_arrays(n_arr, c_arr, k_arr, m)
    return _evaluate_on_unique(_hypergeom_tail, n_arr, c_arr, k_arr, m)


def mg_pass_at_k(n: npt.ArrayLike, c: npt.ArrayLike, k: npt.ArrayLike) -> FloatArray:
    """mG-Pass@k = (2/k) * sum_{m=ceil(k/2)+1}^{k} P(X >= m), the published definition."""
    n_arr, c_arr, k_arr = _validated_counts(n, c, k)
    return _evaluate_on_unique(_mg_pass, n_arr, c_arr, k_arr)
