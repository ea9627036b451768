"""`surestep report` and `surestep compare` from the CLI, and the report in a real headless browser."""

from __future__ import annotations

import base64
import gzip
import json
import re
import shutil
import sqlite3
import subprocess
from html.parser import HTMLParser

import pytest

from tests.report.conftest import PROBLEMS


def _blob(html: str, element_id: str):
    match = re.search(rf'<script type="text/plain" id="{element_id}">([^<]*)</script>', html)
    assert match, element_id
    return json.loads(gzip.decompress(base64.b64decode(match.group(1))))


def test_report_is_self_contained_and_carries_every_draw(cli, report_runs, tmp_path):
    out, figures = tmp_path / "report.html", tmp_path / "figures"
    result = cli("report", str(report_runs["model-a"]), str(report_runs["model-b"]), str(report_runs["critic"]),
                 "-o", str(out), "--figures", str(figures), "--resamples", "200")
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched from anywhere
    assert "@import" not in html and "url(" not in html
    for text in ("G-Pass@16 τ=0.75", "mG-Pass@16", "Pass@16", "Rel. drop@16", "PRMBench", "baseline: oracle",
                 "Simplicity", "model-a", "model-b", "critic"):
        assert text in html, text
    texts = _blob(html, "texts-0")
    with sqlite3.connect(report_runs["model-a"] / "run.sqlite") as db:
        stored = db.execute("SELECT problem_id, draw_index, text FROM draws WHERE config = "
                            "(SELECT DISTINCT config FROM draws WHERE draw_index = 15)").fetchall()
    order = [p["id"] for p in PROBLEMS]
    for problem_id, index, text in stored:
        assert texts[order.index(problem_id)][index] == text
    instances = _blob(html, "instances-0")
    assert {i["id"] for i in instances} >= {"counterfactual_p1", "correct_p3"}
    names = {p.name for p in figures.iterdir()}
    for stem in ("g_pass_curve_k4", "g_pass_curve_k16", "subsets_subset", "prm_radar", "prm_error_positions",
                 "prm_positive_bias_critic"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names, stem


def test_surestep_run_writes_its_report(report_runs):
    report = report_runs["model-a"] / "report.html"
    assert report.exists() and "G-Pass@16" in report.read_text(encoding="utf-8")


def test_compare_from_the_cli(cli, report_runs):
    result = cli("compare", str(report_runs["model-a"]), str(report_runs["model-b"]), "--json", "--resamples", "300")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["shared_problems"] == len(PROBLEMS) and data["a"] == "model-a"
    assert list(data["metrics"])[:2] == ["greedy", "G-Pass@16_0.5"]
    for figures in data["metrics"].values():
        low, high = figures["interval"]
        excludes_zero = low is not None and (low > 0 or high < 0)
        assert (figures["verdict"] is not None) == excludes_zero
    table = cli("compare", str(report_runs["model-a"]), str(report_runs["model-a"]))
    assert table.returncode == 0 and "no clear difference" in table.stdout


def test_report_refuses_what_is_not_a_run(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("report", str(tmp_path / "empty"), "-o", str(tmp_path / "r.html"))
    assert result.returncode == 2 and "not a surestep run directory" in result.stderr
    assert not (tmp_path / "r.html").exists()


def chromium() -> str | None:
    """Debian's chromium (installed by .ci/run when missing)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def headless(browser: str, profile, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


class DomSummary(HTMLParser):
    """Counts what the DOM check needs: chart paths, table rows, instances, the ready flag."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = None
        self.charts = 0
        self.empty_charts = 0
        self._paths_in_chart = None
        self.problem_rows = 0
        self.instances = 0
        self._in_problems = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.ready = a.get("data-ready")
        elif tag == "svg" and "chart" in (a.get("class") or ""):
            self.charts += 1
            self._paths_in_chart = 0
        elif tag == "path" and self._paths_in_chart is not None and "series" in (a.get("class") or ""):
            if (a.get("d") or "").strip():
                self._paths_in_chart += 1
        elif tag == "table" and a.get("id") == "problems":
            self._in_problems = True
        elif tag == "tr" and self._in_problems and "problem" in (a.get("class") or ""):
            self.problem_rows += 1
        elif tag == "div" and a.get("class") == "instance":
            self.instances += 1

    def handle_endtag(self, tag):
        if tag == "svg" and self._paths_in_chart is not None:
            self.empty_charts += self._paths_in_chart == 0
            self._paths_in_chart = None
        elif tag == "table":
            self._in_problems = False


def test_the_report_renders_in_a_headless_browser(cli, report_runs, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium here, and .ci/run could not install Debian's chromium")
    out = tmp_path / "report.html"
    result = cli("report", str(report_runs["model-a"]), str(report_runs["model-b"]), str(report_runs["critic"]),
                 "-o", str(out), "--resamples", "100")
    assert result.returncode == 0, result.stderr
    dom = headless(browser, tmp_path / "profile", "--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    summary = DomSummary()
    summary.feed(dom.stdout)
    assert summary.ready == "yes"  # the page's script ran to the end without an error
    # 3 curves + 2 subset bars + radar + error positions + positive bias
    assert summary.charts == 8 and summary.empty_charts == 0
    assert summary.problem_rows == len(PROBLEMS)
    assert summary.instances == 5
    shot = tmp_path / "report.png"
    picture = headless(browser, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1280,3000", out.as_uri())
    assert picture.returncode == 0 and shot.stat().st_size > 10_000, picture.stderr[-2000:]
