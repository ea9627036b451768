"""PRMBench scoring: the reference evaluator's figures, vectorised, and the threshold-free view it lacks.

Every counted step of every evaluated instance goes into one :class:`StepTable` (parallel
arrays); per-instance confusion counts come from one ``bincount``, and categories, the pooled
Overall, bootstrap resamples and threshold sweeps are all sums over those counts.

One concern per module:

- :mod:`~surestep.prm.scoring.options`: :class:`PRMBenchScoreConfig`;
- :mod:`~surestep.prm.scoring.table`: the step table, its labels and confusion counts;
- :mod:`~surestep.prm.scoring.figures`: the reference evaluator's figures (PRMScore, groups,
  first-error accuracy, similarity);
- :mod:`~surestep.prm.scoring.extras`: AUROC, the first-error index, accuracy by error position;
- :mod:`~surestep.prm.scoring.bootstrap`: intervals and the paired bootstrap of two tables;
- :mod:`~surestep.prm.scoring.summary`: every figure of one table (:class:`TableSummary`);
- :mod:`~surestep.prm.scoring.tuning`: a threshold tuned on one split, applied to the rest;
- :mod:`~surestep.prm.scoring.baselines`: all-correct, random and oracle predictions;
- :mod:`~surestep.prm.scoring.results`: :class:`PRMBenchScore` and :func:`score_predictions`.
"""

from __future__ import annotations

from surestep.prm.scoring.baselines import BASELINES, baseline_predictions
from surestep.prm.scoring.bootstrap import paired_prmscore
from surestep.prm.scoring.extras import MAX_ERROR_POSITION
from surestep.prm.scoring.options import PRMBenchScoreConfig
from surestep.prm.scoring.results import PRMBenchScore, score_predictions
from surestep.prm.scoring.summary import TableSummary, summarize_table
from surestep.prm.scoring.table import (
    CORRECT_CODE,
    NUM_CATEGORIES,
    BoolArray,
    FloatArray,
    IntArray,
    StepTable,
    build_table,
    category_sums,
    instance_counts,
)
from surestep.prm.scoring.tuning import tune_split, tune_threshold

__all__ = [
    "BASELINES",
    "CORRECT_CODE",
    "MAX_ERROR_POSITION",
    "NUM_CATEGORIES",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "PRMBenchScore",
    "PRMBenchScoreConfig",
    "StepTable",
    "TableSummary",
    "baseline_predictions",
    "build_table",
    "category_sums",
    "instance_counts",
    "paired_prmscore",
    "score_predictions",
    "summarize_table",
    "tune_split",
    "tune_threshold",
]
