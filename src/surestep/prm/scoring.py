"""PRMBench scoring: the reference evaluator's figures, vectorised, and the threshold-free view it lacks.

Every counted step of every evaluated instance goes into one :class:`StepTable` (parallel
arrays); per-instance confusion counts come from one ``bincount``, and categories, the pooled
Overall, bootstrap resamples and threshold sweeps are all sums over those counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from surestep.errors import InputError
from surestep.metrics.bootstrap import Interval, PairedDifference, percentile_interval, resample_weights
from surestep.metrics.prm import (
    FN,
    FP,
    TN,
    TP,
    auroc,
    best_threshold,
    classification_figures,
    harmonic_mean,
    prmscore,
)
from surestep.prm.data import (
    CATEGORIES,
    CATEGORY_KEYS,
    CORRECT,
    F1_ONLY_CATEGORIES,
    GROUPS,
    REDUNDANCY_CATEGORIES,
    PRMBench,
    PRMInstance,
)
from surestep.prm.predictions import PredictionSet, StepPrediction

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NUM_CATEGORIES = len(CATEGORY_KEYS)
CORRECT_CODE = NUM_CATEGORIES
"""Category code of the synthetic ``correct_*`` instances, after the nine real categories."""
MAX_ERROR_POSITION = 16
BASELINES = ("all_correct", "random", "oracle")
_CATEGORY_CODE = {key: code for code, key in enumerate((*CATEGORY_KEYS, CORRECT))}
_F1_ONLY = np.array([key in F1_ONLY_CATEGORIES for key in (*CATEGORY_KEYS, CORRECT)])


@dataclass(frozen=True)
class ScoringOptions:
    """How labels are made from scores and which extras are computed."""

    threshold: float = 0.5
    redundancy_threshold: float = 0.5
    allow_missing: bool = False
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    tune_on: frozenset[str] | None = None
    """Instance ids or problem ``idx`` values of the split a threshold is tuned on."""
    baselines: bool = True


@dataclass(frozen=True)
class StepTable:
    """The counted steps of the evaluated instances as parallel arrays, instances contiguous."""

    instances: tuple[PRMInstance, ...]
    category: IntArray
    starts: IntArray
    lengths: IntArray
    step_instance: IntArray
    position: IntArray
    gold_ok: BoolArray
    label: BoolArray
    score: FloatArray
    by_redundancy: BoolArray
    redundancy_score: FloatArray

    @property
    def step_category(self) -> IntArray:
        return self.category[self.step_instance]


@dataclass(frozen=True)
class _Judged:
    """One instance's counted positions: labels (True = judged correct), the scores behind them."""

    labels: list[bool]
    scores: list[float]
    """Validity score per counted position (NaN where the validity list is shorter)."""
    redundancy: list[float]
    """Redundancy score per counted position (NaN where there is none)."""
    by_redundancy: bool


def _padded(values: Sequence[float], length: int) -> list[float]:
    return list(values[:length]) + [math.nan] * (length - min(len(values), length))


def _judge(prediction: StepPrediction, category: str, options: ScoringOptions) -> _Judged:
    """The labels the confusion matrix uses, as the reference evaluator makes them.

    On NR/NCL, redundancy judgements (when present) replace validity entirely and set how many
    positions count; elsewhere the validity list does. Reads past the last step count as
    further steps, judged by threshold.
    """
    validity = (*prediction.step_scores, *prediction.extra_scores)
    redundancy = None
    if prediction.redundancy_scores is not None:
        redundancy = (*prediction.redundancy_scores, *prediction.extra_redundancy_scores)
    if category in REDUNDANCY_CATEGORIES and prediction.redundancy_length is not None:
        if prediction.redundancy_labels is not None:
            redundant = [*prediction.redundancy_labels,
                         *(r > options.redundancy_threshold for r in prediction.extra_redundancy_scores)]
        else:
            redundant = [r > options.redundancy_threshold for r in redundancy or ()]
        labels, by_redundancy = [not r for r in redundant], True
    elif prediction.step_labels is not None:
        labels = [*prediction.step_labels, *(s > options.threshold for s in prediction.extra_scores)]
        by_redundancy = False
    else:
        labels, by_redundancy = [s > options.threshold for s in validity], False
    n = len(labels)
    return _Judged(labels, _padded(validity, n), _padded(redundancy or (), n), by_redundancy)


def build_table(pairs: Sequence[tuple[PRMInstance, StepPrediction]], options: ScoringOptions) -> StepTable:
    """Lay out the counted positions: a prediction's scored steps, and its reads past the last step.

    Positions beyond what a prediction judged are not counted; a position is erroneous when
    ``error_steps`` lists it, past the last step too (as the reference evaluator walks labels).
    """
    judged = [_judge(prediction, instance.category, options) for instance, prediction in pairs]
    lengths = np.array([len(j.labels) for j in judged], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    total = int(lengths.sum())
    by_redundancy = np.zeros(total, dtype=bool)
    gold_ok = np.ones(total, dtype=bool)
    for (instance, _), j, start, length in zip(pairs, judged, starts, lengths):
        if j.by_redundancy:
            by_redundancy[start : start + length] = True
        for step in instance.error_steps:
            if step - 1 < length:
                gold_ok[start + step - 1] = False
    step_instance = np.repeat(np.arange(len(pairs), dtype=np.int64), lengths)
    return StepTable(
        instances=tuple(instance for instance, _ in pairs),
        category=np.array([_CATEGORY_CODE[i.category] for i, _ in pairs], dtype=np.int64),
        starts=starts,
        lengths=lengths,
        step_instance=step_instance,
        position=np.arange(total, dtype=np.int64) - starts[step_instance],
        gold_ok=gold_ok,
        label=np.array([b for j in judged for b in j.labels], dtype=bool),
        score=np.array([x for j in judged for x in j.scores], dtype=np.float64),
        by_redundancy=by_redundancy,
        redundancy_score=np.array([x for j in judged for x in j.redundancy], dtype=np.float64),
    )


def _cells(gold_ok: BoolArray, label: BoolArray) -> IntArray:
    """Each step's confusion cell (TP, FP, TN or FN)."""
    return np.where(gold_ok, np.where(label, TP, FN), np.where(label, FP, TN))


def instance_counts(table: StepTable, label: BoolArray | None = None) -> FloatArray:
    """(instances, 4) confusion counts, from the table's labels or the given ones."""
    code = _cells(table.gold_ok, table.label if label is None else label)
    n = len(table.instances)
    flat = np.bincount(table.step_instance * 4 + code, minlength=n * 4)
    return flat.reshape(n, 4).astype(np.float64)


def category_sums(counts: FloatArray, category: IntArray, mask: BoolArray | None = None) -> FloatArray:
    """(categories + correct, 4) sums of per-instance counts, over the instances in ``mask``."""
    weights = counts if mask is None else counts * mask[:, None]
    return np.stack(
        [np.bincount(category, weights=weights[:, j], minlength=NUM_CATEGORIES + 1) for j in range(4)], axis=1
    )


def _per_category_mean(values: FloatArray, category: IntArray, mask: BoolArray) -> tuple[FloatArray, float]:
    """Mean of ``values`` over masked instances, per category and over the nine categories."""
    count = np.bincount(category[mask], minlength=NUM_CATEGORIES + 1).astype(np.float64)
    total = np.bincount(category[mask], weights=values[mask], minlength=NUM_CATEGORIES + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_category = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    real = mask & (category < CORRECT_CODE)
    overall = float(values[real].mean()) if real.any() else math.nan
    return per_category, overall


def _first_error_accuracy(table: StepTable) -> tuple[FloatArray, float]:
    """Share of instances whose first listed error step is judged wrong (when that step was scored)."""
    first = np.array(
        [-1 if i.first_error is None else i.first_error for i in table.instances], dtype=np.int64
    )
    counted = (first >= 0) & (first < table.lengths)
    hit = np.zeros(len(table.instances))
    hit[counted] = ~table.label[table.starts[counted] + first[counted]]
    return _per_category_mean(hit, table.category, counted)


def _similarity(table: StepTable, counts: FloatArray) -> tuple[FloatArray, float]:
    """Mean |share judged correct on a modified solution − the same on its original correct one|.

    As in the reference evaluator, pairs whose correct solution has a share of 0 are skipped.
    """
    lengths = table.lengths.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (counts[:, TP] + counts[:, FP]) / lengths
    correct_at = {i.idx: n for n, i in enumerate(table.instances) if i.category == CORRECT}
    partner = np.array([correct_at.get(i.idx, -1) for i in table.instances], dtype=np.int64)
    usable = (table.category < CORRECT_CODE) & (partner >= 0) & (table.lengths > 0)
    partner_share = np.where(partner >= 0, share[np.maximum(partner, 0)], np.nan)
    usable &= (table.lengths[np.maximum(partner, 0)] > 0) & (partner_share != 0)
    gap = np.abs(share - partner_share)
    return _per_category_mean(np.where(usable, gap, 0.0), table.category, usable)


def _aurocs(table: StepTable) -> dict[str, FloatArray]:
    """Threshold-free AUROC of validity scores (and of −redundancy scores on NR/NCL) per category."""
    step_category = table.step_category
    validity = np.full(NUM_CATEGORIES + 1, np.nan)
    redundancy = np.full(NUM_CATEGORIES + 1, np.nan)
    scored = ~np.isnan(table.score)
    for code in range(NUM_CATEGORIES):
        mask = (step_category == code) & scored
        validity[code] = auroc(table.score[mask], table.gold_ok[mask])
        if CATEGORY_KEYS[code] in REDUNDANCY_CATEGORIES:
            present = (step_category == code) & ~np.isnan(table.redundancy_score)
            redundancy[code] = auroc(-table.redundancy_score[present], table.gold_ok[present])
    real = (step_category < CORRECT_CODE) & scored
    validity[CORRECT_CODE] = auroc(table.score[real], table.gold_ok[real])
    return {"auroc": validity, "redundancy_auroc": redundancy}


def _first_error_index(table: StepTable) -> dict[str, Any]:
    """ProcessBench-style: is the first step judged wrong exactly the first erroneous step?

    Flawed solutions need the exact index; error-free ones (MS and ``correct_*``) need "no error".
    Solutions whose listed errors all lie past their last step are neither and are left out.
    """
    n = len(table.instances)
    predicted = np.full(n, np.iinfo(np.int64).max)
    wrong = ~table.label
    np.minimum.at(predicted, table.step_instance[wrong], table.position[wrong])
    predicted = np.where(predicted == np.iinfo(np.int64).max, -1, predicted)
    gold = np.array([min(i.error_positions, default=-1) for i in table.instances], dtype=np.int64)
    flawed = gold >= 0
    error_free = np.array([not i.error_steps for i in table.instances])
    hit = np.where(flawed, predicted == gold, predicted == -1).astype(np.float64)
    per_category, _ = _per_category_mean(hit, table.category, flawed | error_free)
    flawed_accuracy = float(hit[flawed].mean()) if flawed.any() else math.nan
    free_accuracy = float(hit[error_free].mean()) if error_free.any() else math.nan
    return {
        "per_category": per_category,
        "flawed_accuracy": flawed_accuracy,
        "error_free_accuracy": free_accuracy,
        "f1": harmonic_mean(flawed_accuracy, free_accuracy),
        "flawed": int(flawed.sum()),
        "error_free": int(error_free.sum()),
    }


def _error_positions(table: StepTable) -> list[dict[str, Any]]:
    """Accuracy on erroneous steps by 1-based position; positions past 16 share one bucket."""
    mask = ~table.gold_ok & (table.step_category < CORRECT_CODE)
    bucket = np.minimum(table.position[mask] + 1, MAX_ERROR_POSITION + 1)
    steps = np.bincount(bucket, minlength=MAX_ERROR_POSITION + 2)
    caught = np.bincount(bucket, weights=~table.label[mask], minlength=MAX_ERROR_POSITION + 2)
    rows = []
    for position in range(1, MAX_ERROR_POSITION + 2):
        if position > MAX_ERROR_POSITION and steps[position] == 0:
            continue
        rows.append(
            {
                "position": position if position <= MAX_ERROR_POSITION else f"{MAX_ERROR_POSITION + 1}+",
                "steps": int(steps[position]),
                "accuracy": float(caught[position] / steps[position]) if steps[position] else math.nan,
            }
        )
    return rows


def _group_scores(category_scores: FloatArray) -> dict[str, FloatArray]:
    """Plain means of the member categories' PRMScores (NaN when a member has none)."""
    out: dict[str, FloatArray] = {}
    for group in GROUPS:
        members = [code for code, c in enumerate(CATEGORIES) if c.group == group]
        out[group] = np.mean(category_scores[..., members], axis=-1)
    return out


def _resampled_sums(
    counts: Sequence[FloatArray], category: IntArray, *, resamples: int, seed: int
) -> list[FloatArray]:
    """(resamples, categories, 4) sums for each of several aligned count tables.

    Instances are resampled within each category (the benchmark's design fixes how many each
    category has); the same resample applies to every table, which pairs them.
    """
    sums = [np.zeros((resamples, NUM_CATEGORIES, 4)) for _ in counts]
    for code in range(NUM_CATEGORIES):
        members = np.flatnonzero(category == code)
        if members.size == 0:
            for table_sums in sums:
                table_sums[:, code] = np.nan
            continue
        row = 0
        for w in resample_weights(members.size, resamples, seed * 7919 + code):
            for table_sums, table_counts in zip(sums, counts):
                table_sums[row : row + len(w), code] = w @ table_counts[members]
            row += len(w)
    return sums


def _figures_of_sums(sums: FloatArray) -> dict[str, FloatArray]:
    """PRMScore per category, pooled Overall and per group, from (..., categories, 4) sums."""
    per_category = prmscore(sums, f1_only=_F1_ONLY[:NUM_CATEGORIES])
    return {
        "overall": prmscore(np.nansum(sums, axis=-2)),
        **_group_scores(per_category),
        **{key: per_category[..., code] for code, key in enumerate(CATEGORY_KEYS)},
    }


def paired_prmscore(
    table_a: StepTable, table_b: StepTable, *, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> dict[str, PairedDifference]:
    """B − A of PRMScore (Overall, the groups, each category) over the same instances.

    Both tables must hold the same instances in the same order (each with its own labels). One
    resample of instances, stratified by category, applies to both: the paired bootstrap.
    """
    if [i.id for i in table_a.instances] != [i.id for i in table_b.instances]:
        raise ValueError("a paired comparison needs the same instances, in the same order, in both tables")
    counts = [instance_counts(table_a), instance_counts(table_b)]
    present = np.bincount(table_a.category, minlength=NUM_CATEGORIES + 1)[:NUM_CATEGORIES] > 0
    points = []
    for table_counts in counts:
        sums = category_sums(table_counts, table_a.category)[:NUM_CATEGORIES]
        sums[~present] = np.nan
        points.append(_figures_of_sums(sums))
    boot_a, boot_b = (
        _figures_of_sums(s) for s in _resampled_sums(counts, table_a.category, resamples=resamples, seed=seed)
    )
    keys = list(boot_a)
    low, high = percentile_interval(np.column_stack([boot_b[k] - boot_a[k] for k in keys]), confidence)
    return {
        key: PairedDifference(
            a=float(points[0][key]),
            b=float(points[1][key]),
            delta=float(points[1][key] - points[0][key]),
            interval=Interval(float(lo), float(hi)),
        )
        for key, lo, hi in zip(keys, low, high)
    }


def _interval(samples: FloatArray, confidence: float) -> Interval:
    low, high = percentile_interval(samples[:, None], confidence)
    return Interval(float(low[0]), float(high[0]))


@dataclass(frozen=True)
class TableSummary:
    """Every figure of one step table: category rows (with Overall last), groups and extras."""

    rows: Mapping[str, Mapping[str, Any]]
    groups: Mapping[str, float]
    group_intervals: Mapping[str, Interval]
    correct_solutions: Mapping[str, Any] | None
    first_error_index: Mapping[str, Any]
    error_positions: Sequence[Mapping[str, Any]]


def summarize_table(
    table: StepTable, options: ScoringOptions, *, resamples: int | None = None
) -> TableSummary:
    """The reference figures and the extras of one table; ``resamples=0`` skips the intervals."""
    counts = instance_counts(table)
    sums = category_sums(counts, table.category)
    rows_sums = np.vstack([sums[:NUM_CATEGORIES], sums[:NUM_CATEGORIES].sum(axis=0)])
    f1_only = np.append(_F1_ONLY[:NUM_CATEGORIES], False)
    scores = prmscore(rows_sums, f1_only=f1_only)
    figures = classification_figures(rows_sums)
    first_error, first_error_all = _first_error_accuracy(table)
    similarity, similarity_all = _similarity(table, counts)
    aurocs = _aurocs(table)
    first_index = _first_error_index(table)
    present = np.bincount(table.category, minlength=NUM_CATEGORIES + 1)
    steps = np.bincount(table.category, weights=table.lengths, minlength=NUM_CATEGORIES + 1)

    n_resamples = options.resamples if resamples is None else resamples
    intervals: dict[str, Interval] = {}
    group_intervals: dict[str, Interval] = {}
    if n_resamples > 0 and len(table.instances) > 0:
        (resampled,) = _resampled_sums([counts], table.category, resamples=n_resamples, seed=options.seed)
        boot = _figures_of_sums(resampled)
        for code, key in enumerate(CATEGORY_KEYS):
            if present[code]:
                intervals[key] = _interval(boot[key], options.confidence)
        intervals["overall"] = _interval(boot["overall"], options.confidence)
        group_intervals = {g: _interval(boot[g], options.confidence) for g in GROUPS}

    rows: dict[str, dict[str, Any]] = {}
    for row, key in enumerate((*CATEGORY_KEYS, "overall")):
        code = row if row < NUM_CATEGORIES else CORRECT_CODE
        if row < NUM_CATEGORIES and not present[row]:
            continue
        real = row == NUM_CATEGORIES
        rows[key] = {
            "prmscore": float(scores[row]),
            **{name: float(values[row]) for name, values in figures.items()},
            "first_error_accuracy": first_error_all if real else float(first_error[code]),
            "similarity": similarity_all if real else float(similarity[code]),
            "auroc": float(aurocs["auroc"][code]),
            "redundancy_auroc": float(aurocs["redundancy_auroc"][code]),
            "first_error_index_accuracy": (
                first_index["flawed_accuracy"] if real else float(first_index["per_category"][code])
            ),
            "tp": int(rows_sums[row, TP]),
            "fp": int(rows_sums[row, FP]),
            "tn": int(rows_sums[row, TN]),
            "fn": int(rows_sums[row, FN]),
            "instances": int(present[:NUM_CATEGORIES].sum() if real else present[code]),
            "steps": int(steps[:NUM_CATEGORIES].sum() if real else steps[code]),
            "interval": intervals.get(key),
        }
    category_scores = np.array([rows[k]["prmscore"] if k in rows else np.nan for k in CATEGORY_KEYS])
    groups = {g: float(v) for g, v in _group_scores(category_scores).items()}
    correct_solutions = None
    if present[CORRECT_CODE]:
        correct_figures = classification_figures(sums[CORRECT_CODE])
        correct_solutions = {
            "instances": int(present[CORRECT_CODE]),
            "steps": int(steps[CORRECT_CODE]),
            "correct_step_accuracy": float(correct_figures["correct_step_accuracy"]),
            "no_error_accuracy": float(first_index["per_category"][CORRECT_CODE]),
        }
    return TableSummary(
        rows=rows,
        groups=groups,
        group_intervals=group_intervals,
        correct_solutions=correct_solutions,
        first_error_index={k: v for k, v in first_index.items() if k != "per_category"},
        error_positions=_error_positions(table),
    )


def tune_threshold(table: StepTable, tune: BoolArray) -> dict[str, Any]:
    """Pick the validity threshold with the best pooled PRMScore on ``tune`` and apply it to the rest.

    Labels are re-made from ``step_scores`` (explicit validity labels are set aside); steps judged
    on redundancy keep their labels.
    """
    real = table.category < CORRECT_CODE
    rest = real & ~tune
    tune = tune & real
    if not tune.any() or not rest.any():
        raise InputError(
            f"the tuning split must hold some but not all instances (it holds {int(tune.sum())} "
            f"of {int(real.sum())})"
        )
    in_tune = tune[table.step_instance]
    sweep = in_tune & ~table.by_redundancy
    fixed_steps = in_tune & table.by_redundancy
    fixed = np.bincount(_cells(table.gold_ok[fixed_steps], table.label[fixed_steps]), minlength=4).astype(
        np.float64
    )
    threshold, tune_score = best_threshold(table.score[sweep], table.gold_ok[sweep], fixed)
    relabelled = np.where(table.by_redundancy, table.label, table.score > threshold)

    def held_out(label: BoolArray | None) -> dict[str, Any]:
        sums = category_sums(instance_counts(table, label), table.category, rest)[:NUM_CATEGORIES]
        per_category = prmscore(sums, f1_only=_F1_ONLY[:NUM_CATEGORIES])
        return {
            "prmscore": float(prmscore(sums.sum(axis=0))),
            "categories": {k: float(v) for k, v in zip(CATEGORY_KEYS, per_category) if not math.isnan(v)},
        }

    return {
        "threshold": threshold,
        "tune_instances": int(tune.sum()),
        "heldout_instances": int(rest.sum()),
        "tune_prmscore": tune_score,
        "heldout": held_out(relabelled),
        "heldout_at_given_labels": held_out(None),
    }


def tune_split(spec: str, bench: PRMBench, *, seed: int) -> frozenset[str]:
    """A tuning split: a fraction in (0, 1) of problems (by ``idx``, seeded), or a file of ids/idx."""
    try:
        fraction = float(spec)
    except ValueError:
        fraction = None
    if fraction is not None:
        if not 0 < fraction < 1:
            raise InputError(f"--tune-on: a fraction must lie in (0, 1), got {spec}")
        problems = sorted({i.idx for i in bench.instances})
        rng = np.random.default_rng(seed)
        chosen = rng.permutation(len(problems))[: max(1, round(fraction * len(problems)))]
        return frozenset(problems[i] for i in chosen)
    path = Path(spec)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read the tuning split: {exc.strerror or exc}", path=path) from None
    names = frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if not names:
        raise InputError("the tuning split lists no ids", path=path)
    return names


def baseline_predictions(
    instances: Iterable[PRMInstance], kind: str, *, seed: int
) -> list[tuple[PRMInstance, StepPrediction]]:
    """Predictions of a baseline over every step: all steps correct, coin flips, or the gold labels."""
    rng = np.random.default_rng(seed)
    pairs = []
    for instance in instances:
        n = len(instance.steps)
        if kind == "all_correct":
            scores = [1.0] * n
        elif kind == "oracle":
            errors = instance.error_positions
            scores = [0.0 if i in errors else 1.0 for i in range(n)]
        elif kind == "random":
            scores = rng.random(n).tolist()
        else:
            raise ValueError(f"unknown baseline {kind!r}")
        labels = tuple(s > 0.5 for s in scores)
        prediction = StepPrediction(id=instance.id, step_scores=tuple(scores), step_labels=labels)
        pairs.append((instance, prediction))
    return pairs


@dataclass(frozen=True)
class PRMBenchScore:
    """Everything ``surestep prm score`` reports for one predictions file."""

    name: str
    data: str
    predictions: str
    options: ScoringOptions
    summary: TableSummary
    tuning: Mapping[str, Any] | None
    baselines: Mapping[str, TableSummary]
    data_issues: Mapping[str, Any]
    protocol: Mapping[str, Any] | None = None
    """For a ``prm run``: its protocol, the defaults it implies and whether the table is comparable
    with PRMBench's published one (``prm.protocol.comparability``)."""

    def to_json(self) -> dict[str, Any]:
        """One JSON-ready object: fractions in [0, 1], null for what is undefined."""
        rows = {key: _jsonable_row(row) for key, row in self.summary.rows.items()}
        cleaned: dict[str, Any] = _clean(
            {
                "name": self.name,
                "data": self.data,
                "predictions": self.predictions,
                "threshold": {
                    "validity": self.options.threshold,
                    "redundancy": self.options.redundancy_threshold,
                },
                "overall": {**rows.pop("overall"), "processbench_f1": self.summary.first_error_index["f1"]},
                "categories": rows,
                "groups": dict(self.summary.groups),
                "group_intervals": {g: [i.low, i.high] for g, i in self.summary.group_intervals.items()},
                "correct_solutions": self.summary.correct_solutions,
                "first_error_index": dict(self.summary.first_error_index),
                "error_positions": list(self.summary.error_positions),
                "tuning": self.tuning,
                "baselines": {
                    name: {
                        "overall": s.rows["overall"]["prmscore"],
                        "categories": {k: r["prmscore"] for k, r in s.rows.items() if k != "overall"},
                        "groups": dict(s.groups),
                        "auroc": s.rows["overall"]["auroc"],
                    }
                    for name, s in self.baselines.items()
                },
                "data_issues": dict(self.data_issues),
                **({} if self.protocol is None else {"protocol": dict(self.protocol)}),
            }
        )
        return cleaned


def _jsonable_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    interval = out.pop("interval")
    out["prmscore_interval"] = None if interval is None else [interval.low, interval.high]
    return out


def _clean(value: Any) -> Any:
    """NaN -> None, recursively, so the JSON is strict."""
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _listed(ids: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f", … ({len(ids) - limit} more)" if len(ids) > limit else "")


def score_predictions(
    bench: PRMBench,
    predictions: PredictionSet,
    options: ScoringOptions,
    *,
    name: str | None = None,
    protocol: Mapping[str, Any] | None = None,
) -> PRMBenchScore:
    """Score a predictions file against the benchmark, with baselines on the same instances.

    ``protocol`` (a ``prm run``'s protocol, defaults and comparability) is carried into the result.
    """
    missing = [i.id for i in bench.instances if i.id not in predictions.by_id]
    if missing and not options.allow_missing:
        raise InputError(
            f"no prediction for {len(missing)} of {len(bench.instances)} instances: {_listed(missing)} "
            "(--allow-missing scores the rest)",
            path=predictions.path,
        )
    invalid = [p for p in predictions.items if not p.valid]
    pairs = [
        (instance, predictions.by_id[instance.id])
        for instance in bench.instances
        if instance.id in predictions.by_id and predictions.by_id[instance.id].valid
    ]
    if not any(instance.category != CORRECT for instance, _ in pairs):
        raise InputError("no valid prediction for any instance of the nine categories", path=predictions.path)
    table = build_table(pairs, options)
    summary = summarize_table(table, options)
    tuning = None
    if options.tune_on is not None:
        tune = np.array([i.id in options.tune_on or i.idx in options.tune_on for i in table.instances])
        tuning = tune_threshold(table, tune)
    baselines = {}
    if options.baselines:
        evaluated = [instance for instance, _ in pairs]
        for kind in BASELINES:
            baseline_table = build_table(baseline_predictions(evaluated, kind, seed=options.seed), options)
            baselines[kind] = summarize_table(baseline_table, options, resamples=0)
    counted = [(i, p, int(n)) for (i, p), n in zip(pairs, table.lengths)]
    short = [(p.id, len(i.steps) - n) for i, p, n in counted if n < len(i.steps)]
    past_end = [(p.id, n - len(i.steps)) for i, p, n in counted if n > len(i.steps)]
    issues = {
        **bench.data_issues(),
        "missing_predictions": {"count": len(missing), "ids": missing},
        "invalid_predictions": {
            "count": len(invalid),
            "instances": [{"id": p.id, "line": p.line, "error": p.error} for p in invalid],
        },
        "short_predictions": {
            "count": len(short),
            "unscored_steps": sum(n for _, n in short),
            "ids": [pid for pid, _ in short],
        },
        "reads_past_end": {
            "count": len(past_end),
            "counted_positions": sum(n for _, n in past_end),
            "ids": [pid for pid, _ in past_end],
        },
    }
    return PRMBenchScore(
        name=name or Path(predictions.path).stem,
        data=bench.spec,
        predictions=predictions.path,
        options=options,
        summary=summary,
        tuning=tuning,
        baselines=baselines,
        data_issues=issues,
        protocol=protocol,
    )
