"""The report's best-of-N section: present only for runs with a ``surestep bon`` result, and its
chart and table carry exactly the figures of ``bon-<label>.json``."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil

from surestep.report.data import BON_METHODS, load_runs
from surestep.report.html import render_report
from surestep.report.labels import pct


def test_bon_section_only_with_a_result_and_equal_to_the_json(cli, report_runs, tmp_path):
    plain = report_runs["model-b"]
    scored = tmp_path / "model-a"
    shutil.copytree(report_runs["model-a"], scored)
    for args in (
        ("--scorer", "oracle"),
        ("--scorer", "random", "--name", "coin", "--seed", "3", "--samples", "4"),
    ):
        result = cli("bon", str(scored), *args, "--json", "--resamples", "50")
        assert result.returncode == 0, result.stderr
    files = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in scored.glob("bon-*.json")}
    assert set(files) == {"bon-oracle.json", "bon-coin.json"}

    only_plain = render_report(*load_runs([plain], resamples=0))
    assert 'id="best-of-n"' not in only_plain and 'class="bon"' not in only_plain

    stability, prm = load_runs([plain, scored], resamples=0)
    assert stability[0].bon == ()
    html = render_report(stability, prm)
    assert html.count('id="best-of-n"') == 1
    blocks = re.findall(
        r'<div class="bon" data-run="([^"]+)" data-label="([^"]+)">(.*?<p class="note">.*?</p>)</div>',
        html,
        flags=re.S,
    )
    assert [(run, label) for run, label, _ in blocks] == [("model-a", "coin"), ("model-a", "oracle")]
    for _, label, block in blocks:
        stored = files[f"bon-{label}.json"]
        view = next(v for v in stability[1].bon if v.label == label)
        assert view.sizes == tuple(stored["sizes"]) == (1, 2, 4, 8, 16)
        # one line per method in the chart, one point per N, each titled with its figure
        assert block.count('class="series"') == len(BON_METHODS)
        for method in BON_METHODS:
            for size in stored["sizes"]:
                value = stored["methods"][method][str(size)]
                assert view.methods[method][size] == value
                cell = re.search(rf'data-method="{method}" data-n="{size}">([^<]*)<', block)
                assert cell is not None and cell.group(1) == pct(value), (label, method, size)
                low, high = stored["ci"][method][str(size)]
                assert view.ci[method][size] == (low, high)
        # the chart's points sit on log2 N: equal steps between successive N
        xs = sorted({float(x) for x in re.findall(r'<circle cx="([\d.]+)"', block)})
        steps = [b - a for a, b in itertools.pairwise(xs)]
        assert len(xs) == 5 and max(steps) - min(steps) < 0.2
    oracle = next(v for v in stability[1].bon if v.label == "oracle")
    assert all(
        math.isclose(oracle.methods["best_of_n"][s], oracle.methods["pass"][s], abs_tol=1e-12)
        for s in oracle.sizes
    )
    coin = next(v for v in stability[1].bon if v.label == "coin")
    sampled = [s for s in coin.sizes if not coin.vote_exact[s]]
    assert sampled and coin.samples == 4  # C(16, N) > 4 for N >= 2: Monte Carlo, said so in the page
    assert "Monte Carlo estimate over 4 random subsets" in html

    out = tmp_path / "report.html"
    result = cli("report", str(scored), "-o", str(out), "--resamples", "0")
    assert result.returncode == 0, result.stderr
    assert 'id="best-of-n"' in out.read_text(encoding="utf-8")
