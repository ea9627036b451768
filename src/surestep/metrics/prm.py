"""Step-level classification metrics for process reward models. Pure numpy, vectorised.

The positive class is a *correct* step. Confusion counts are arrays whose last axis is
(TP, FP, TN, FN), so one call scores one matrix or a whole stack of bootstrap resamples.

Undefined ratios follow PRMBench's reference evaluator, which writes -1 for them:

* precision, recall and their negative-class twins are NaN when their denominator is 0;
* F1 of a class is 2·hit / (2·hit + false alarms + misses): 0 when there are no hits but some
  errors, NaN when the class has no steps and no predictions at all;
* PRMScore = 0.5·F1 + 0.5·negative F1, clamped at 0, where a side the reference rates -1 counts
  as -1 before the clamp: a side with no hits whose precision and recall are both 0 or both
  undefined (for example the negative side of a category without erroneous steps). That is why
  categories without erroneous steps (MS) use PRMScore = F1 instead.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

TP, FP, TN, FN = 0, 1, 2, 3


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _side(hit: FloatArray, false_alarm: FloatArray, miss: FloatArray) -> tuple[FloatArray, BoolArray]:
    """F1 of one class and where the reference evaluator would have written -1 for it."""
    total = 2 * hit + false_alarm + miss
    f1 = _ratio(2 * hit, total)
    sentinel = (hit == 0) & ((false_alarm > 0) == (miss > 0))
    return f1, sentinel


def classification_figures(counts: npt.ArrayLike) -> dict[str, FloatArray]:
    """Precision, recall, F1 for both classes and step accuracies from (..., 4) counts."""
    c = np.asarray(counts, dtype=np.float64)
    tp, fp, tn, fn = c[..., TP], c[..., FP], c[..., TN], c[..., FN]
    f1, _ = _side(tp, fp, fn)
    negative_f1, _ = _side(tn, fn, fp)
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": f1,
        "negative_precision": _ratio(tn, tn + fn),
        "negative_recall": _ratio(tn, tn + fp),
        "negative_f1": negative_f1,
        "correct_step_accuracy": _ratio(tp, tp + fn),
        "error_step_accuracy": _ratio(tn, tn + fp),
        "step_accuracy": _ratio(tp + tn, tp + fp + tn + fn),
    }


def prmscore(counts: npt.ArrayLike, *, f1_only: bool | BoolArray = False) -> FloatArray:
    """PRMBench's PRMScore of (..., 4) counts; NaN for a matrix with no steps."""
    c = np.asarray(counts, dtype=np.float64)
    tp, fp, tn, fn = c[..., TP], c[..., FP], c[..., TN], c[..., FN]
    f1, f1_sentinel = _side(tp, fp, fn)
    negative_f1, negative_sentinel = _side(tn, fn, fp)
    positive = np.where(f1_sentinel, -1.0, np.nan_to_num(f1))
    negative = np.where(negative_sentinel, -1.0, np.nan_to_num(negative_f1))
    score = np.where(f1_only, positive, 0.5 * positive + 0.5 * negative)
    return np.where(c.sum(axis=-1) > 0, np.maximum(score, 0.0), np.nan)


def midranks(values: npt.ArrayLike) -> FloatArray:
    """Ranks from 1 of a 1-d array, tied values sharing the mean of their ranks."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


def auroc(scores: npt.ArrayLike, positive: npt.ArrayLike) -> float:
    """Area under the ROC curve (ties count one half); NaN without both classes."""
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positive, dtype=bool)
    n_pos = int(pos.sum())
    n_neg = pos.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = midranks(s)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold_sweep(
    scores: npt.ArrayLike, positive: npt.ArrayLike, fixed: npt.ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """Candidate thresholds and the (candidates, 4) counts of labelling ``score > threshold`` correct.

    Candidates are midpoints between consecutive distinct scores, plus one below the lowest
    (all steps judged correct) and the highest score (none judged correct). ``fixed`` counts,
    from steps whose labels do not depend on the threshold, are added to every row.
    """
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positive, dtype=bool)
    distinct = np.unique(s)
    if distinct.size == 0:
        thresholds = np.zeros(1)
    else:
        thresholds = np.concatenate([[distinct[0] - 1.0], (distinct[:-1] + distinct[1:]) / 2, distinct[-1:]])
    sorted_pos = np.sort(s[pos])
    sorted_neg = np.sort(s[~pos])
    above_pos = sorted_pos.size - np.searchsorted(sorted_pos, thresholds, side="right")
    above_neg = sorted_neg.size - np.searchsorted(sorted_neg, thresholds, side="right")
    counts = np.zeros((thresholds.size, 4))
    counts[:, TP] = above_pos
    counts[:, FN] = sorted_pos.size - above_pos
    counts[:, FP] = above_neg
    counts[:, TN] = sorted_neg.size - above_neg
    if fixed is not None:
        counts += np.asarray(fixed, dtype=np.float64)
    return thresholds, counts


def best_threshold(
    scores: npt.ArrayLike, positive: npt.ArrayLike, fixed: npt.ArrayLike | None = None
) -> tuple[float, float]:
    """(threshold, PRMScore) maximising the pooled PRMScore; the lowest such threshold on ties."""
    thresholds, counts = threshold_sweep(scores, positive, fixed)
    values = prmscore(counts)
    if np.isnan(values).all():
        return float(thresholds[0]), float("nan")
    best = int(np.nanargmax(values))
    return float(thresholds[best]), float(values[best])


def harmonic_mean(a: float, b: float) -> float:
    """2ab/(a+b); 0 when both are 0; NaN when either is NaN."""
    if np.isnan(a) or np.isnan(b):
        return float("nan")
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)
