"""maj@k: accuracy of the majority-voted answer among k draws, averaged over random subsets."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Cap on the (problems x subsets x draws) work array, to bound memory per chunk.
_CHUNK_CELLS = 1 << 22


def _class_is_correct(
    classes: npt.NDArray[np.int64], correct: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """(P, n) table: is local answer class j of problem i graded correct (any draw in it)?"""
    problems, n = classes.shape
    valid = classes >= 0
    rows = np.broadcast_to(np.arange(problems)[:, None], classes.shape)
    flat = (rows * n + classes)[valid & correct]
    hits = np.bincount(flat, minlength=problems * n).reshape(problems, n)
    return hits > 0


def maj_at_k(
    classes: npt.ArrayLike,
    correct: npt.ArrayLike,
    k: int,
    *,
    n_subsets: int = 100,
    seed: int = 0,
) -> FloatArray:
    """Per-problem maj@k.

    ``classes`` is a (problems, n) integer array: the equivalence class of each draw's
    extracted answer, numbered 0..n-1 within its problem, or -1 for "no answer"
    (which never gets a vote). ``correct`` is the matching boolean grade array.
    For each problem, ``n_subsets`` random k-subsets of its draws are drawn (seeded);
    in each, the class with the most votes wins, and a tie between t classes earns
    (number of correct tied classes) / t, the expected score of a random tie break.
    A subset with no answer at all scores 0.
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
    if n_subsets < 1:
        raise ValueError("n_subsets must be >= 1")
    class_ok = _class_is_correct(class_arr, correct_arr)
    rng = np.random.default_rng(seed)
    result = np.empty(problems, dtype=np.float64)
    chunk = max(1, _CHUNK_CELLS // (n_subsets * n))
    slots = n + 1  # last slot collects "no answer" votes
    for start in range(0, problems, chunk):
        part = slice(start, min(start + chunk, problems))
        size = part.stop - part.start
        picks = np.argsort(rng.random((size, n_subsets, n)), axis=2)[:, :, :k]
        voted = np.take_along_axis(
            np.broadcast_to(class_arr[part, None, :], (size, n_subsets, n)), picks, axis=2
        )
        voted = np.where(voted < 0, n, voted)
        rows = np.arange(size * n_subsets).reshape(size, n_subsets, 1)
        votes = np.bincount((rows * slots + voted).ravel(), minlength=size * n_subsets * slots).reshape(
            size, n_subsets, slots
        )[:, :, :n]
        top = votes.max(axis=2, keepdims=True)
        tied = (votes == top) & (top > 0)
        tied_correct = (tied & class_ok[part, None, :]).sum(axis=2)
        tied_count = tied.sum(axis=2)
        credit = np.divide(tied_correct, tied_count, out=np.zeros(tied_count.shape), where=tied_count > 0)
        result[part] = credit.mean(axis=1)
    return result


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
