"""`surestep report` and `surestep compare` from the CLI, and the report in a real headless browser."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from surestep.report.data import load_runs
from surestep.report.html import render_report, shorten
from surestep.report.packing import unpack
from tests.report.browser import chromium, dump_dom, headless
from tests.report.conftest import PROBLEMS


def _chunked(html: str, prefix: str) -> list:
    """A chunked list embedded in the page, put back together in chunk order."""
    found = re.findall(rf'<script type="text/plain" id="{prefix}-(\d+)">([^<]*)</script>', html)
    assert found and [int(j) for j, _ in found] == list(range(len(found))), prefix
    return [item for _, payload in found for item in unpack(payload)]


def test_report_is_self_contained_and_carries_every_draw(cli, report_runs, tmp_path):
    out, figures = tmp_path / "report.html", tmp_path / "figures"
    result = cli(
        "report",
        str(report_runs["model-a"]),
        str(report_runs["model-b"]),
        str(report_runs["critic"]),
        "-o",
        str(out),
        "--figures",
        str(figures),
        "--resamples",
        "200",
    )
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched from anywhere
    assert "@import" not in html
    assert html.count("url(") == html.count("url(data:font/woff2;base64,") == 20  # KaTeX's fonts, inline
    for text in (
        "G-Pass@16 τ=0.75",
        "mG-Pass@16",
        "Pass@16",
        "Rel. drop@16",
        "PRMBench",
        "baseline: oracle",
        "Simplicity",
        "model-a",
        "model-b",
        "critic",
    ):
        assert text in html, text
    texts = _chunked(html, "texts-0")
    with sqlite3.connect(report_runs["model-a"] / "run.sqlite") as db:
        stored = db.execute(
            "SELECT problem_id, draw_index, text FROM draws WHERE config = "
            "(SELECT DISTINCT config FROM draws WHERE draw_index = 15)"
        ).fetchall()
    order = [p["id"] for p in PROBLEMS]
    for problem_id, index, text in stored:
        assert texts[order.index(problem_id)][index] == text
    instances = _chunked(html, "instances-0")
    assert {i["id"] for i in instances} >= {"counterfactual_p1", "correct_p3"}
    names = {p.name for p in figures.iterdir()}
    for stem in (
        "g_pass_curve_k4",
        "g_pass_curve_k16",
        "subsets_subset",
        "prm_radar",
        "prm_error_positions",
        "prm_positive_bias_critic",
    ):
        assert {f"{stem}.png", f"{stem}.svg"} <= names, stem


def test_shorten_keeps_both_ends_and_says_what_it_left_out():
    text = "".join(str(i % 10) for i in range(1000))
    short = shorten(text, 100)
    assert short.startswith(text[:50]) and short.endswith(text[-50:])
    assert "900 characters left out (--max-draw-chars 100)" in short
    assert shorten(text, 1000) == text and shorten(text, None) == text


def test_max_draw_chars_shortens_the_embedded_texts(cli, report_runs, tmp_path):
    out = tmp_path / "report.html"
    result = cli(
        "report", str(report_runs["model-a"]), "-o", str(out), "--resamples", "0", "--max-draw-chars", "36"
    )
    assert result.returncode == 0, result.stderr
    texts = _chunked(out.read_text(encoding="utf-8"), "texts-0")
    with sqlite3.connect(report_runs["model-a"] / "run.sqlite") as db:
        stored = db.execute(
            "SELECT problem_id, draw_index, text FROM draws WHERE config = "
            "(SELECT DISTINCT config FROM draws WHERE draw_index = 15)"
        ).fetchall()
    order = [p["id"] for p in PROBLEMS]
    assert any(len(text) > 36 for _, _, text in stored) and any(len(text) <= 36 for _, _, text in stored)
    for problem_id, index, text in stored:
        assert texts[order.index(problem_id)][index] == shorten(text, 36)
    refused = cli(
        "report", str(report_runs["model-a"]), "-o", str(tmp_path / "r.html"), "--max-draw-chars", "5"
    )
    assert refused.returncode == 2 and not (tmp_path / "r.html").exists()


def test_surestep_run_writes_its_report(report_runs):
    report = report_runs["model-a"] / "report.html"
    assert report.exists() and "G-Pass@16" in report.read_text(encoding="utf-8")


def test_compare_from_the_cli(cli, report_runs):
    result = cli(
        "compare", str(report_runs["model-a"]), str(report_runs["model-b"]), "--json", "--resamples", "300"
    )
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


def test_compare_two_prm_runs_from_the_cli(cli, report_runs, tmp_path):
    """B: a copy of the critic run whose prediction for one instance is the gold labelling."""
    b = tmp_path / "critic-b"
    shutil.copytree(report_runs["critic"], b)
    lines = [json.loads(line) for line in (b / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if line["id"] == "counterfactual_p1":  # gold: step 2 is wrong
            line["step_scores"] = [1.0, 0.0, 1.0]
    (b / "predictions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = cli("compare", str(report_runs["critic"]), str(b), "--json", "--resamples", "300")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (
        data["shared_instances"] == 4 and data["invalid_in_either"] == 1
    )  # domain_inconsistency_p4 is invalid
    overall = data["metrics"]["overall"]
    assert overall["label"] == "PRMScore Overall" and overall["delta"] > 0
    # only what the shared instances hold: simplicity (NR, NCL) and ES; no soundness or sensitivity group
    assert set(data["metrics"]) == {"overall", "simplicity", "redundency", "circular", "counterfactual"}
    low, high = data["metrics"]["counterfactual"]["interval"]  # one instance: every resample is the same
    assert low == high == pytest.approx(data["metrics"]["counterfactual"]["delta"])
    table = cli("compare", str(report_runs["critic"]), str(report_runs["critic"]))
    assert (
        table.returncode == 0 and "PRMScore Overall" in table.stdout and "no clear difference" in table.stdout
    )
    assert "shared instances" in table.stdout and "invalid prediction" in table.stdout
    mixed = cli("compare", str(report_runs["model-a"]), str(report_runs["critic"]))
    assert mixed.returncode == 2 and "cannot compare a stability run" in mixed.stderr


def test_report_refuses_what_is_not_a_run(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("report", str(tmp_path / "empty"), "-o", str(tmp_path / "r.html"))
    assert result.returncode == 2 and "not a surestep run directory" in result.stderr
    assert not (tmp_path / "r.html").exists()


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
        self.texts: list[str] = []
        self._in_text = False

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
        elif tag == "pre" and "text" in (a.get("class") or "").split():
            self.texts.append("")
            self._in_text = True

    def handle_data(self, data):
        if self._in_text:
            self.texts[-1] += data

    def handle_endtag(self, tag):
        if tag == "svg" and self._paths_in_chart is not None:
            self.empty_charts += self._paths_in_chart == 0
            self._paths_in_chart = None
        elif tag == "table":
            self._in_problems = False
        elif tag == "pre":
            self._in_text = False


def test_the_report_renders_in_a_headless_browser(cli, report_runs, tmp_path):
    browser = chromium()
    out = tmp_path / "report.html"
    result = cli(
        "report",
        str(report_runs["model-a"]),
        str(report_runs["model-b"]),
        str(report_runs["critic"]),
        "-o",
        str(out),
        "--resamples",
        "100",
    )
    assert result.returncode == 0, result.stderr
    summary = DomSummary()
    summary.feed(dump_dom(browser, out, tmp_path / "profile"))
    assert summary.ready == "yes"  # the page's script ran to the end without an error
    # 3 curves + 2 bars by subset + 2 by level + radar + error positions + positive bias
    assert summary.charts == 10 and summary.empty_charts == 0
    assert summary.problem_rows == len(PROBLEMS)
    assert summary.instances == 5
    shot = tmp_path / "report.png"
    picture = headless(
        browser, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1280,3000", out.as_uri()
    )
    assert picture.returncode == 0 and shot.stat().st_size > 10_000, picture.stderr[-2000:]


def test_a_link_to_a_draw_opens_its_text_from_many_chunks(report_runs, tmp_path):
    """Every problem's texts and every instance in its own chunk: the page finds and decodes the right one."""
    browser = chromium()
    stability, prm = load_runs(
        [report_runs["model-a"], report_runs["model-b"], report_runs["critic"]], resamples=0
    )
    html = render_report(stability, prm, chunk_bytes=1)
    assert len(re.findall(r'id="texts-1-\d+"', html)) == len(PROBLEMS)
    out = tmp_path / "report.html"
    out.write_text(html, encoding="utf-8")
    with sqlite3.connect(report_runs["model-b"] / "run.sqlite") as db:
        (text,) = db.execute(
            "SELECT text FROM draws WHERE problem_id = 'p5' AND draw_index = 7 AND config = "
            "(SELECT DISTINCT config FROM draws WHERE draw_index = 15)"
        ).fetchone()
    summary = DomSummary()
    summary.feed(dump_dom(browser, out.as_uri() + "#run=1&problem=p5&draw=7", tmp_path / "profile"))
    assert summary.ready == "yes"
    assert summary.texts == [f"draw 7:\n\n{text}"]
    assert summary.instances == 5


class MathSummary(HTMLParser):
    """Per region (the draw's text, the problem's question, the PRM instances): the text outside
    KaTeX's output, how many formulas KaTeX typeset, and the tags found there."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, str] = {"draw": "", "question": "", "instances": ""}
        self.formulas: dict[str, int] = {"draw": 0, "question": 0, "instances": 0}
        self.tags: dict[str, set[str]] = {"draw": set(), "question": set(), "instances": set()}
        self.tex: list[str] = []
        self._stack: list[tuple[str, str | None, bool]] = []  # (tag, region, inside KaTeX's output)
        self._in_tex = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        region, in_katex = self._stack[-1][1:] if self._stack else (None, False)
        if region is None and ("math" in classes or a.get("id") == "instances"):
            region = (
                "instances"
                if a.get("id") == "instances" or self._inside("instances")
                else ("draw" if tag == "pre" else "question" if tag == "span" else None)
            )
        if region is not None:
            self.tags[region].add(tag)
            if "katex" in classes:
                self.formulas[region] += 1
                in_katex = True
        self._in_tex = tag == "annotation"
        if tag not in {"br", "img", "input", "meta", "link"}:
            self._stack.append((tag, region, in_katex))

    def _inside(self, region: str) -> bool:
        return any(r == region for _, r, _ in self._stack)

    def handle_endtag(self, tag):
        while self._stack:
            if self._stack.pop()[0] == tag:
                break
        self._in_tex = False

    def handle_data(self, data):
        if self._in_tex:
            self.tex.append(data)
        if self._stack and self._stack[-1][1] is not None and not self._stack[-1][2]:
            self.text[self._stack[-1][1]] += data


def test_math_is_typeset_in_the_browser_and_the_toggle_shows_the_raw_text(report_runs, tmp_path):
    """A draw, a question and a PRM step that hold TeX (and markup, which must stay text): KaTeX
    typesets the formulas; unchecking "render math" puts the raw text back, checking it again
    typesets it again."""
    browser = chromium()
    stability, prm = load_runs([report_runs["model-a"], report_runs["critic"]], resamples=0)
    draw = (
        "Half of it: $\\frac{1}{2}$, so $$x^2 = \\tfrac14$$ and \\(\\boxed{3}\\) "
        '<b>bold?</b><img src=x onerror="document.body.dataset.hacked=1">'
    )
    question = "What is \\[\\sqrt{4}\\] plus $1$? <i>not markup</i>"
    step = "So $\\frac{a}{b}$ is bad $\\frac{1}{$ <script>document.body.dataset.hacked=1</script>"
    run = stability[0]
    problems = list(run.problems)
    texts = list(problems[5].texts)
    texts[7] = draw
    problems[5] = replace(problems[5], question=question, texts=tuple(texts))
    instances = list(prm[0].instances)
    instances[0] = replace(instances[0], steps=(step, *instances[0].steps[1:]))
    html = render_report(
        [replace(run, problems=tuple(problems))], [replace(prm[0], instances=tuple(instances))]
    )
    assert "<b>bold?</b>" not in html and "<i>not markup</i>" not in html  # the texts travel packed
    address = f"#run=0&problem={problems[5].id}&draw=7"

    def dom_of(page: str, name: str) -> tuple[MathSummary, str]:
        path = tmp_path / f"{name}.html"
        path.write_text(page, encoding="utf-8")
        dom = dump_dom(browser, path.as_uri() + address, tmp_path / f"profile-{name}")
        summary = MathSummary()
        summary.feed(dom)
        return summary, dom

    rendered, dom = dom_of(html, "rendered")
    assert 'data-ready="yes"' in dom and "data-hacked" not in dom
    assert rendered.formulas["draw"] == 3 and rendered.formulas["question"] == 2
    assert rendered.formulas["instances"] >= 1  # the broken formula is shown as KaTeX's error, not raised
    assert {"\\frac{1}{2}", "x^2 = \\tfrac14", "\\boxed{3}", "\\sqrt{4}", "1", "\\frac{a}{b}"} <= set(
        rendered.tex
    )
    assert (
        rendered.text["draw"]
        == 'draw 7:\n\nHalf of it: , so  and  <b>bold?</b><img src=x onerror="document.body.dataset.hacked=1">'
    )
    for region in ("draw", "question"):
        assert not rendered.tags[region] & {"b", "i", "img", "script"}, region
    assert "script" not in rendered.tags["instances"]  # (its <b> is each instance's id)

    click = "<script>document.getElementById('math-toggle').click();</script></body>"
    raw, dom = dom_of(html.replace("</body>", click), "raw")
    assert 'data-ready="yes"' in dom and 'class="katex' not in dom
    assert raw.formulas == {"draw": 0, "question": 0, "instances": 0}
    assert raw.text["draw"] == f"draw 7:\n\n{draw}" and raw.text["question"] == question
    assert step in raw.text["instances"]
    again, _ = dom_of(
        html.replace("</body>", click.replace(";</", ";document.getElementById('math-toggle').click();</")),
        "again",
    )
    assert again.formulas == rendered.formulas and again.text == rendered.text
