"""The result of scoring one predictions file: :class:`PRMBenchScore`, its JSON, and the entry point."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surestep.errors import InputError
from surestep.prm.data import CORRECT, PRMBench
from surestep.prm.predictions import PredictionSet
from surestep.prm.scoring.baselines import BASELINES, baseline_predictions
from surestep.prm.scoring.options import PRMBenchScoreConfig
from surestep.prm.scoring.summary import TableSummary, summarize_table
from surestep.prm.scoring.table import build_table
from surestep.prm.scoring.tuning import tune_threshold


@dataclass(frozen=True)
class PRMBenchScore:
    """Everything ``surestep prm score`` reports for one predictions file."""

    name: str
    data: str
    predictions: str
    options: PRMBenchScoreConfig
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
    options: PRMBenchScoreConfig,
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
