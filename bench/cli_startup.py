"""Benchmark: how long `surestep` commands take to start, against a bare `python -c pass`.

Each command runs in a fresh process (as a user runs it) --repeats times after one
untimed warm-up run; the median wall time is printed in seconds and as a ratio to the
median of `python -c pass` on the same machine. Bytecode is cached (in a temporary
PYTHONPYCACHEPREFIX, even where PYTHONDONTWRITEBYTECODE is set), as in an installed copy. Goals: `surestep --help` and
`surestep score --help` under 0.3 s; `surestep score` on a graded 100-problem file
(--draws per problem, made in a temporary directory) under 0.6 s.

Run: python bench/cli_startup.py [--repeats 7] [--problems 100] [--draws 16]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def surestep_command() -> list[str]:
    """The console script beside this interpreter, or ``python -m surestep`` without one."""
    script = Path(sys.executable).with_name("surestep")
    return [str(script)] if script.exists() else [sys.executable, "-m", "surestep"]


def write_graded(path: Path, problems: int, draws: int, seed: int = 0) -> Path:
    """A graded draw file in the `surestep score` format: each problem has its own success rate."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for p in range(problems):
            rate = rng.random()
            for i in range(draws):
                correct = rng.random() < rate
                answer = "42" if correct else rng.choice(["41", "43", None])
                row = {
                    "problem_id": f"p{p}",
                    "sample_index": i,
                    "correct": correct,
                    "answer": answer,
                    "subset": "even" if p % 2 == 0 else "odd",
                }
                out.write(json.dumps(row) + "\n")
    return path


def median_seconds(command: list[str], repeats: int, env: dict[str, str]) -> float:
    """Median wall time of ``command`` over ``repeats`` runs, after one untimed warm-up; fails loudly."""
    times = []
    for attempt in range(repeats + 1):
        start = time.perf_counter()
        subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, cwd=REPO, env=env
        )
        if attempt:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--problems", type=int, default=100)
    parser.add_argument("--draws", type=int, default=16)
    args = parser.parse_args()

    surestep = surestep_command()
    with tempfile.TemporaryDirectory() as tmp:
        graded = write_graded(Path(tmp) / "graded.jsonl", args.problems, args.draws)
        cases: list[tuple[str, list[str], float | None]] = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("surestep --help", [*surestep, "--help"], 0.3),
            ("surestep score --help", [*surestep, "score", "--help"], 0.3),
            ("surestep prm --help", [*surestep, "prm", "--help"], None),
            (
                f"surestep score graded.jsonl ({args.problems} x {args.draws})",
                [*surestep, "score", str(graded)],
                0.6,
            ),
        ]
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        measured = [(name, median_seconds(command, args.repeats, env), goal) for name, command, goal in cases]

    baseline = measured[0][1]
    print(f"median of {args.repeats} runs each, in fresh processes ({sys.executable})")
    print(f"{'command':<44} {'seconds':>8} {'x python':>9}  goal")
    for name, seconds, goal in measured:
        verdict = "" if goal is None else f"< {goal} s: {'met' if seconds < goal else 'MISSED'}"
        print(f"{name:<44} {seconds:>8.3f} {seconds / baseline:>9.1f}  {verdict}")


if __name__ == "__main__":
    main()
