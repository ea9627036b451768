"""Grade a small file of model responses, then score how stably the model solves each problem.

Runs offline in a few seconds:

    python examples/quickstart.py

``responses.jsonl`` holds 8 sampled responses (and one greedy response) to each of 6 problems,
with the gold answers. The same two steps from the command line:

    surestep grade examples/responses.jsonl -o graded.jsonl
    surestep score graded.jsonl --k 4,8 --ci --by subset
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import surestep

RESPONSES = Path(__file__).with_name("responses.jsonl")


def percent(value: float | None) -> str:
    return "   –" if value is None else f"{100 * value:5.1f}"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        graded_file = Path(scratch) / "graded.jsonl"
        graded = surestep.grade(RESPONSES, output=graded_file)
        print(f"graded {graded.stats.draws} responses: {dict(sorted(graded.stats.verdicts.items()))}")

        result = surestep.score(graded_file, ks=[4, 8], ci=True, by="subset")
    sheet = result.sheet
    print(f"\n{sheet.num_problems} problems x {sheet.n} draws; {100 * sheet.confidence:.0f}% intervals")
    for key in sheet.headline:
        interval = sheet.ci.get(key)
        bounds = "" if interval is None else f"  [{percent(interval.low)}, {percent(interval.high)}]"
        print(f"{key:>16} {percent(sheet.metrics[key])}{bounds}")
    print("\nmG-Pass@8 by subset:")
    for subset, figures in sheet.subsets.items():
        print(f"{subset:>16} {percent(figures['mG-Pass@8'])}  ({sheet.subset_sizes[subset]} problems)")
    # result.to_dict() is exactly what `surestep score ... --json` prints.
    assert set(result.to_dict()["metrics"]) == set(sheet.metrics)


if __name__ == "__main__":  # grading workers start from this file: keep the work under this guard
    main()
