"""Benchmark: the HTML report of a run with 500 problems x 64 draws (+ greedy): size and load time.

Run: python bench/report.py [--problems 500] [--n 64] [--chars 1200] [--max-draw-chars N]
Writes a run store directly (realistic draw texts of about --chars characters: worked steps with
varied numbers, a boxed answer, ~35% wrong), then times in one process:
- loading the run and computing every figure (1,000 bootstrap resamples);
- rendering and writing the report (the goal: under 10 MB), with the draw texts' size against a
  baseline of the same texts as one gzip -9 + base64 blob (the encoding before bzip2 chunks);
- opening it in headless chromium until the page's script has built every table (goal: < 5 s),
  against a baseline of opening an empty HTML page with the same browser settings;
- opening it at a link to one draw (#run=0&problem=...&draw=...), which decodes that draw's chunk.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from surestep.cli.report import write_report  # noqa: E402
from surestep.data.problems import Problem  # noqa: E402
from surestep.grading.records import GradeRecord  # noqa: E402
from surestep.models.base import Completion  # noqa: E402
from surestep.report.data import load_stability_run  # noqa: E402
from surestep.report.html import shorten  # noqa: E402
from surestep.runs.pipeline import GREEDY, SAMPLE  # noqa: E402
from surestep.runs.store import RunStore  # noqa: E402

WORDS = (
    "so",
    "then",
    "we",
    "get",
    "the",
    "sum",
    "of",
    "both",
    "sides",
    "which",
    "gives",
    "hence",
    "note",
    "that",
    "substituting",
    "into",
    "equation",
    "simplify",
    "factor",
    "multiply",
    "divide",
    "terms",
    "value",
)


def draw_text(rng: random.Random, answer: int, chars: int) -> str:
    parts = []
    while sum(len(p) for p in parts) < chars:
        a, b = rng.randint(2, 999), rng.randint(2, 999)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
        parts.append(f"Step {len(parts) + 1}: {words}: ${a} \\times {b} = {a * b}$.\n")
    return "".join(parts) + f"The answer is $\\boxed{{{answer}}}$."


def build_run(directory: Path, problems: int, n: int, chars: int) -> None:
    rng = random.Random(0)
    store = RunStore(directory, create=True)
    manifest = {
        "model": {"backend": "bench", "model": "synthetic"},
        "n": n,
        "greedy": True,
        "dataset": "bench",
        "configs": {SAMPLE: "sample-config", GREEDY: "greedy-config"},
        "protocol": {"ks": [4, 8, 16]},
    }
    store.save_manifest(manifest)
    items = [
        Problem(
            f"p{i:04d}",
            f"Compute problem {i}: what is {i} + {i}?",
            str(2 * i),
            f"{rng.choice(['comp', 'gaokao'])}_{rng.choice(['en', 'zh'])}",
        )
        for i in range(problems)
    ]
    store.save_problems(items, [p.question for p in items])
    for problem in items:
        skill = rng.random()
        for config, count in (("sample-config", n), ("greedy-config", 1)):
            answers = [
                int(problem.answer) if rng.random() < skill else rng.randint(0, 50) for _ in range(count)
            ]
            completions = [Completion(draw_text(rng, a, chars)) for a in answers]
            store.add_draws(problem.id, config, list(range(count)), list(range(count)), completions)
            stored = [d for d in store.draws(config) if d.problem_id == problem.id]
            store.add_grades(
                stored,
                [
                    GradeRecord(
                        str(a),
                        "boxed",
                        "correct" if str(a) == problem.answer else "wrong",
                        str(a) == problem.answer,
                        "bench",
                        "0",
                        None,
                        0.0,
                    )
                    for a in answers
                ],
            )
    store.close()


def open_in_browser(browser: str, page: Path, profile: Path, fragment: str = "") -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return time.perf_counter() - started, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--chars", type=int, default=1200)
    parser.add_argument("--max-draw-chars", type=int, help="as surestep report --max-draw-chars")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        build_run(root / "run", args.problems, args.n, args.chars)
        print(
            f"built a run of {args.problems} problems x {args.n} draws (+ greedy), ~{args.chars} chars per draw, "
            f"in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        report = write_report([root / "run"], root / "report.html", max_draw_chars=args.max_draw_chars)
        seconds = time.perf_counter() - started
        size = report.stat().st_size
        print(
            f"load + figures + render + write: {seconds:.2f} s; report {size / 1e6:.2f} MB "
            f"(goal < 10 MB: {'met' if size < 10e6 else 'MISSED'})"
        )
        html = report.read_text(encoding="utf-8")
        chunks = re.findall(r'<script type="text/plain" id="texts-0-\d+">([^<]*)</script>', html)
        packed = sum(len(c) for c in chunks)
        view = load_stability_run(root / "run", resamples=0)
        texts = [
            [shorten(t, args.max_draw_chars) for t in p.texts] for p in view.problems
        ]  # what the page holds
        raw = json.dumps(texts, ensure_ascii=False, separators=(",", ":")).encode()
        baseline = len(base64.b64encode(gzip.compress(raw, 9, mtime=0)))
        print(
            f"draw texts: {len(raw) / 1e6:.1f} MB of JSON -> {packed / 1e6:.2f} MB in {len(chunks)} bzip2 chunks; "
            f"baseline gzip -9 + base64: {baseline / 1e6:.2f} MB (bzip2 chunks / baseline: {packed / baseline:.2f})"
        )
        browser = (
            shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        )
        if browser is None:
            print("no chromium: browser timing skipped")
            return
        empty = root / "empty.html"
        empty.write_text("<!DOCTYPE html><html><body data-ready='yes'></body></html>")
        base, _ = open_in_browser(browser, empty, root / "p0")
        load, dom = open_in_browser(browser, report, root / "p1")
        ready = 'data-ready="yes"' in dom
        rows = dom.count('class="problem"')
        print(
            f"headless chromium, empty page: {base:.2f} s; report until its script finished: {load:.2f} s "
            f"(ratio {load / base:.1f}x; ready={ready}, {rows} problem rows); "
            f"report minus browser start-up: {load - base:.2f} s (goal < 5 s: {'met' if load < 5 else 'MISSED'})"
        )
        last = view.problems[-1]
        linked, dom = open_in_browser(
            browser, report, root / "p2", f"#run=0&problem={last.id}&draw={last.n - 1}"
        )
        shown = last.texts[-1][-20:].replace("$", "") in dom.replace("$", "")
        print(
            f"report opened at a link to the last draw of the last problem: {linked:.2f} s "
            f"(against the report alone: {linked / load:.2f}x; the draw's text shown: {shown})"
        )


if __name__ == "__main__":
    main()
