"""One self-contained HTML report for stability runs, PRM runs, or both.

No network and no CDN: CSS, JavaScript and SVG are inline. Charts are drawn here as SVG;
the per-problem and per-instance tables are built in the browser from embedded JSON, and the
full text of draws (and PRMBench steps) travels in bzip2 chunks (``report.packing``) that the
page decodes on demand, which keeps large runs small. The page's CSS and JavaScript live in
``assets/``. Math in questions, draws and PRMBench steps is typeset in the browser by KaTeX,
vendored in ``vendor/katex/`` and embedded in every page (``katex_assets``); a checkbox shows
the raw text instead.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Sequence
from functools import cache
from html import escape
from importlib.resources import files
from typing import Any

from surestep import __version__
from surestep.metrics.bootstrap import Interval
from surestep.metrics.dataset import g_pass_key, mg_pass_key
from surestep.prm.data import CATEGORIES, GROUPS
from surestep.prm.protocol import describe_protocol
from surestep.report.data import BonView, PRMView, StabilityView, headline_columns
from surestep.report.labels import label, pct
from surestep.report.packing import CHUNK_BYTES, Chunk, compress, pack_chunks
from surestep.report.svg import grouped_bars, line_chart, log2_lines, radar, step_curves
from surestep.runs.audit import AuditSummary


@cache
def asset(name: str) -> str:
    """A file of ``report/assets`` (the page's CSS and JavaScript)."""
    return files("surestep.report").joinpath(f"assets/{name}").read_text(encoding="utf-8")


KATEX_VERSION = "0.16.47"
_FONT_FACE_SOURCE = re.compile(r"src:url\(fonts/([\w-]+)\.woff2\) format\(\"woff2\"\)[^;}]*")


def _katex_file(name: str) -> bytes:
    return files("surestep.report").joinpath(f"vendor/katex/{name}").read_bytes()


def _woff2_source(match: re.Match[str]) -> str:
    font = base64.b64encode(_katex_file(f"fonts/{match.group(1)}.woff2")).decode("ascii")
    return f'src:url(data:font/woff2;base64,{font}) format("woff2")'


@cache
def katex_assets() -> tuple[str, str]:
    """KaTeX for the page: its CSS with every font as a woff2 ``data:`` URI (the woff and ttf
    fallbacks dropped), and ``katex.min.js`` + ``auto-render.min.js`` bzip2-packed like the texts
    (base64; the page decodes and runs them once at load)."""
    css = _FONT_FACE_SOURCE.sub(_woff2_source, _katex_file("katex.min.css").decode("utf-8"))
    if "url(fonts/" in css:
        raise RuntimeError("vendored katex.min.css names a font that is not a woff2 in vendor/katex/fonts")
    script = _katex_file("katex.min.js") + b"\n;\n" + _katex_file("auto-render.min.js")
    return css, compress(script)


def shorten(text: str, limit: int | None) -> str:
    """``text`` cut to its first and last ``limit // 2`` characters (the end holds the answer)."""
    if limit is None or len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n\n[… {len(text) - 2 * half:,} characters left out (--max-draw-chars {limit}) …]\n\n{text[-half:]}"


def _chunk_scripts(prefix: str, chunks: Sequence[Chunk]) -> str:
    """The chunks as ``<script type="text/plain" id="PREFIX-J">`` elements (base64 holds no ``<``)."""
    return "".join(
        f'<script type="text/plain" id="{prefix}-{j}">{c.payload}</script>' for j, c in enumerate(chunks)
    )


def _script_json(element_id: str, data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


# --- stability --------------------------------------------------------------------------------

COST_HEADER = "tokens / correct"


def cost_cell(run: StabilityView) -> str:
    """The headline's tokens column: tokens per correct answer, then (small print) the total
    tokens and, where the run is priced, its cost and cost per correct answer in USD."""
    cost = run.cost
    if cost is None:
        return '<td class="num">–</td>'
    total = cost.total
    per_correct = "–" if total.tokens_per_correct is None else f"{total.tokens_per_correct:,.0f}"
    notes = ["tokens not reported" if total.tokens is None else f"{total.tokens:,} tokens"]
    if total.cost is not None:
        notes.append(f"${total.cost:,.4f}")
        per = total.cost_per_correct
        notes.append("no correct answer" if per is None else f"${per:,.4f} / correct")
    return f'<td class="num">{per_correct}<div class="ci">{escape(" · ".join(notes))}</div></td>'


def stability_headline(runs: Sequence[StabilityView]) -> str:
    """The headline table; runs whose headline k differ get one table per k."""
    by_k: dict[int, list[StabilityView]] = {}
    for run in runs:
        by_k.setdefault(run.headline_k, []).append(run)
    tables = "".join(_headline_table(k, group) for k, group in by_k.items())
    confidences = sorted({run.sheet.confidence for run in runs})
    confidence = "/".join(f"{100 * c:.0f}%" for c in confidences)
    ks = "/".join(str(k) for k in by_k)
    scored_here = [run for run in runs if run.scored_here is not None]
    sources = (
        "Figures, k and intervals as <code>surestep score</code> wrote them in each run's results.json"
        + (
            "; runs marked “scored here” have none that describes their draws and were scored by the report."
            if scored_here
            else "."
        )
    )
    return (
        f"{tables}"
        f'<p class="note">Percent. Small print: {confidence} bootstrap intervals over problems. Rel. drop = '
        f"(Greedy − G-Pass@{ks} τ=1) / Greedy. Tokens / correct: prompt and completion tokens of the "
        f"scored draws (greedy included) per correct one; with prices, the cost in USD. {sources}</p>"
    )


def _headline_table(k: int, runs: Sequence[StabilityView]) -> str:
    keys = headline_columns(k)
    head = "".join(f"<th>{escape(label(key))}</th>" for key in keys)
    rows = []
    for run in runs:
        cells = []
        for key in keys:
            value = run.sheet.metrics.get(key)
            interval = run.sheet.ci.get(key)
            ci = f'<div class="ci">{pct(interval.low)}–{pct(interval.high)}</div>' if interval else ""
            cells.append(f'<td class="num">{pct(value)}{ci}</td>')
        cells.append(cost_cell(run))
        source = (
            ""
            if run.scored_here is None
            else f'<div class="ci scored-here">scored here: {escape(run.scored_here)}</div>'
        )
        rows.append(
            f'<tr><th>{escape(run.name)}<div class="ci">{escape(run.model)} · {run.sheet.num_problems} problems × '
            f"{run.sheet.n} draws</div>{source}</th>{''.join(cells)}</tr>"
        )
    return (
        f'<table class="headline"><thead><tr><th>run</th>{head}<th>{COST_HEADER}</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def stability_curves(runs: Sequence[StabilityView]) -> str:
    ks = sorted({c.k for run in runs for c in run.curves})
    charts = []
    for k in ks:
        series = [(run.name, c.values) for run in runs for c in run.curves if c.k == k]
        greedy = [run.greedy for run in runs if any(c.k == k for c in run.curves)]
        charts.append(step_curves(f"G-Pass@{k} by τ (dot: Pass@{k}; dashed: greedy)", series, greedy))
    return '<div class="charts">' + "".join(charts) + "</div>"


def stability_subsets(runs: Sequence[StabilityView]) -> str:
    fields = sorted({f for run in runs for f in run.subsets})
    if not fields:
        return '<p class="note">The problems carry no subset or level labels.</p>'
    charts = []
    for k in sorted({run.headline_k for run in runs}):  # each run at its own headline k
        at_k = [run for run in runs if run.headline_k == k]
        for field in fields:
            labels = sorted({label for run in at_k for label in run.subsets.get(field, {})})
            if not labels:
                continue
            for key in (mg_pass_key(k), g_pass_key(k, 1.0)):
                series = [
                    (run.name, [run.subsets.get(field, {}).get(lab, {}).get(key, math.nan) for lab in labels])
                    for run in at_k
                ]
                charts.append(grouped_bars(f"{label(key)} by {field}", labels, series))
    return '<div class="charts">' + "".join(charts) + "</div>"


def _ci_div(interval: Interval | None) -> str:
    return f'<div class="ci">{pct(interval.low)}–{pct(interval.high)}</div>' if interval else ""


def _audit_tables(audit: AuditSummary) -> str:
    """Agreement by rule verdict, then the rates estimated over the run."""
    strata = "".join(
        f'<tr><th>{escape(s.verdict)}</th><td class="num">{s.population}</td><td class="num">{s.sampled}</td>'
        f'<td class="num">{s.judged}</td><td class="num">{pct(s.agreement)}{_ci_div(s.interval)}</td>'
        f'<td class="num">{s.judge_errors}</td></tr>'
        for s in audit.strata
    )
    rates = [
        ("agreement with the judge", audit.agreement),
        ("false positives: rules say correct, the judge incorrect", audit.false_positive_rate),
        ("false negatives: rules say incorrect / no answer, the judge correct", audit.false_negative_rate),
        ("accuracy by the judge", audit.judge_accuracy),
    ]
    estimates = "".join(
        f'<tr><th>{escape(name)}</th><td class="num">{pct(e.value)}{_ci_div(e.interval)}</td></tr>'
        for name, e in rates
    )
    exact = f'<tr><th>accuracy by the rules (exact)</th><td class="num">{pct(audit.rule_accuracy)}</td></tr>'
    return (
        '<table class="headline"><thead><tr><th>rule verdict</th><th>draws</th><th>sampled</th><th>judged</th>'
        f"<th>agreement</th><th>judge errors</th></tr></thead><tbody>{strata}</tbody></table>"
        f'<table class="headline"><tbody>{estimates}{exact}</tbody></table>'
    )


def _audit_disagreements(audit: AuditSummary) -> str:
    """Every disagreement, folded away under a count."""
    if not audit.disagreements:
        return '<p class="note">No disagreement in the sample.</p>'
    rows = "".join(
        f"<tr><td>{escape(d.problem_id)}</td><td>{d.draw_index}</td><td>{escape(d.gold)}</td>"
        f"<td>{escape(d.extracted_answer or '–')}</td><td>{escape(d.rule_verdict)}</td>"
        f'<td>{escape(d.judge_verdict)}</td><td><pre class="text">{escape(d.closing_lines)}</pre></td></tr>'
        for d in audit.disagreements
    )
    return (
        f"<details><summary>{len(audit.disagreements)} disagreement(s)</summary>"
        '<table class="audit-disagreements"><thead><tr><th>problem</th><th>draw</th><th>gold</th>'
        "<th>extracted</th><th>rules</th><th>judge</th><th>closing lines</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></details>"
    )


def stability_audit(runs: Sequence[StabilityView]) -> str:
    """Per audited run (``surestep audit``): agreement of its grades with the LLM judge by verdict,
    the estimated error rates, what was left out, and the disagreements."""
    parts = []
    for run in runs:
        audit = run.audit
        if audit is None:
            continue
        left_out = [f"{count} {escape(verdict)}" for verdict, count in audit.excluded.items()]
        notes = [
            f"judge {escape(audit.judge_model)}, seed {audit.seed}, sample {audit.sample}",
            f"graded by {escape(', '.join(audit.graders))}",
            *([f"not audited: {', '.join(left_out)}"] if left_out else []),
            *([f"{audit.judge_errors} judge error(s) left out"] if audit.judge_errors else []),
            *([f"{audit.pending} sampled draw(s) not judged yet"] if audit.pending else []),
        ]
        parts.append(
            f'<div class="audit"><h4>{escape(run.name)}</h4>{_audit_tables(audit)}'
            f'<p class="note">{" · ".join(notes)}. Percent; small print: {100 * audit.confidence:.0f}% Wilson '
            "intervals (rates over the run: strata weighted by size, effective-n Wilson).</p>"
            f"{_audit_disagreements(audit)}</div>"
        )
    return "".join(parts)


BON_NAMES = {
    "best_of_n": "best-of-N (PRM)",
    "weighted_vote": "PRM-weighted vote",
    "majority": "majority vote",
    "pass": "pass@N",
    "random": "random pick",
}


def _bon_table(result: BonView) -> str:
    """Methods by N, percent, with the bootstrap interval in small print; the weighted vote's row
    says where it is a Monte Carlo estimate (± its standard error)."""
    head = "".join(f"<th>N={size}</th>" for size in result.sizes)
    rows = []
    for method, values in result.methods.items():
        cells = []
        for size in result.sizes:
            interval = result.ci.get(method, {}).get(size)
            ci = f'<div class="ci">{pct(interval[0])}–{pct(interval[1])}</div>' if interval else ""
            if method == "weighted_vote" and not result.vote_exact.get(size, True):
                ci += f'<div class="ci">MC ±{pct(result.vote_mc_error.get(size), 2)}</div>'
            cells.append(
                f'<td class="num" data-method="{method}" data-n="{size}">{pct(values.get(size))}{ci}</td>'
            )
        rows.append(f"<tr><th>{escape(BON_NAMES.get(method, method))}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="headline bon-table"><thead><tr><th>method</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def stability_bon(runs: Sequence[StabilityView]) -> str:
    """Per run and ``surestep bon`` result: accuracy against N (log2 axis), one line per method, and
    the same figures as a table."""
    parts = []
    for run in runs:
        for result in run.bon:
            scorer = result.scorer + (f" {result.model}" if result.model else "")
            title = f"{run.name} · {result.label}: accuracy by N"
            series = [
                (BON_NAMES.get(m, m), [values.get(size, math.nan) for size in result.sizes])
                for m, values in result.methods.items()
            ]
            sampled = [size for size in result.sizes if not result.vote_exact.get(size, True)]
            vote = (
                f"the weighted vote is a Monte Carlo estimate over {result.samples} random subsets per "
                f"problem at N = {', '.join(map(str, sampled))} (± its standard error), exact elsewhere"
                if sampled
                else "the weighted vote is exact at every N"
            )
            parts.append(
                f'<div class="bon" data-run="{escape(run.name)}" data-label="{escape(result.label)}">'
                f"<h4>{escape(run.name)} · {escape(result.label)}</h4>"
                f'<div class="charts">{log2_lines(title, result.sizes, series)}</div>{_bon_table(result)}'
                f'<p class="note">Percent of {result.num_problems} problems, N of the run\'s {result.n} draws; '
                f"scorer {escape(scorer)}, step scores aggregated by {escape(result.aggregate)}. Small print: "
                f"{100 * result.confidence:.0f}% bootstrap intervals over problems; {vote}.</p></div>"
            )
    return "".join(parts)


def problems_payload(run: StabilityView) -> list[dict[str, Any]]:
    """The per-problem table's rows (the draws' texts travel separately, compressed)."""
    return [
        {
            "id": p.id,
            "q": p.question,
            "gold": p.gold,
            "subset": p.subset,
            "level": p.level,
            "c": p.correct,
            "n": p.n,
            "g": p.greedy_correct,
            "cls": [[c.answer, c.count, c.correct, list(c.draws)] for c in p.classes],
        }
        for p in run.problems
    ]


# --- PRM --------------------------------------------------------------------------------------


PRM_COST_HEADER = "tokens / valid instance"


def has_tokens(run: PRMView) -> bool:
    """Whether the run's scorer reported tokens for any instance (an LLM critic does, a local PRM not)."""
    return run.cost is not None and run.cost.total.missing < run.cost.total.draws


def prm_cost_cell(run: PRMView) -> str:
    """The PRM table's tokens column: tokens per validly scored instance, then (small print) the
    total tokens and, where prices were given, the cost and the cost per valid instance in USD;
    "–" for a run whose scorer reported no tokens."""
    cost = run.cost
    if cost is None or not has_tokens(run):
        return '<td class="num" data-cost="none">–</td>'
    total = cost.total
    if total.tokens is None:  # some instances without counts: no partial sum
        note = f"tokens not reported for {total.missing:,} of {total.draws:,} instances"
        return f'<td class="num" data-cost="partial">–<div class="ci">{escape(note)}</div></td>'
    per_valid = "–" if total.tokens_per_correct is None else f"{total.tokens_per_correct:,.0f}"
    notes = [f"{total.tokens:,} tokens"]
    if total.cost is not None:
        notes.append(f"${total.cost:,.4f}")
        per = total.cost_per_correct
        notes.append("no valid instance" if per is None else f"${per:,.4f} / valid instance")
    return f'<td class="num" data-cost="tokens">{per_valid}<div class="ci">{escape(" · ".join(notes))}</div></td>'


def prm_table(runs: Sequence[PRMView]) -> str:
    """The PRMBench headline: one row per run (and the baselines), with a tokens and cost column
    when some run's scorer reported tokens."""
    abbreviations = [c.abbreviation for c in CATEGORIES]
    head = "".join(f"<th>{escape(a)}</th>" for a in abbreviations)
    group_head = "".join(f"<th>{escape(g.capitalize())}</th>" for g in GROUPS)
    with_cost = any(has_tokens(run) for run in runs)
    rows = []

    def row(
        name: str,
        overall: float,
        groups: dict[str, float],
        cats: dict[str, float],
        css: str = "",
        cost: str = "",
    ) -> str:
        cells = "".join(f'<td class="num">{pct(cats.get(c.key))}</td>' for c in CATEGORIES)
        group_cells = "".join(f'<td class="num">{pct(groups.get(g))}</td>' for g in GROUPS)
        return (
            f'<tr class="{css}"><th>{escape(name)}</th><td class="num strong">{pct(overall)}</td>'
            f"{group_cells}{cells}{cost}</tr>"
        )

    protocols = []
    for run in runs:
        summary = run.score.summary
        cats = {k: r["prmscore"] for k, r in summary.rows.items() if k != "overall"}
        cost = prm_cost_cell(run) if with_cost else ""
        rows.append(row(run.name, summary.rows["overall"]["prmscore"], dict(summary.groups), cats, cost=cost))
        if run.score.protocol is not None:
            protocols.append(f"<li>{escape(run.name)}: {escape(describe_protocol(run.score.protocol))}</li>")
    for name, base in runs[0].score.baselines.items():
        cats = {k: r["prmscore"] for k, r in base.rows.items() if k != "overall"}
        overall = base.rows["overall"]["prmscore"]
        blank = "<td></td>" if with_cost else ""
        rows.append(row(f"baseline: {name}", overall, dict(base.groups), cats, "baseline", blank))
    cost_head = f"<th>{PRM_COST_HEADER}</th>" if with_cost else ""
    cost_note = (
        " Tokens / valid instance: the prompt and completion tokens the scorer reported (an LLM critic's "
        "requests; – where it reported none, as a local PRM) over every scored instance, per validly "
        "scored one; small print: the total and, with <code>--price-input</code> and "
        "<code>--price-output</code>, the cost in USD."
        if with_cost
        else ""
    )
    return (
        f'<table class="headline prm-headline"><thead><tr><th>model</th><th>Overall</th>{group_head}{head}'
        f"{cost_head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="note">PRMScore (percent) as PRMBench publishes it: per category, the three groups '
        "(Simplicity, Soundness, Sensitivity) and Overall; baselines are scored on the first run's instances."
        f"{cost_note}</p>" + (f'<ul class="note">{"".join(protocols)}</ul>' if protocols else "")
    )


def prm_charts(runs: Sequence[PRMView]) -> str:
    axes = [c.key for c in CATEGORIES]
    names = {c.key: c.abbreviation for c in CATEGORIES}
    radar_series = [(run.name, {names[k]: v for k, v in run.radar().items()}) for run in runs]
    charts = [radar("PRMScore by error category", [names[a] for a in axes], radar_series)]
    positions = [p for p, _, _ in runs[0].error_positions()]
    series = []
    for run in runs:
        by_position = {p: acc for p, _, acc in run.error_positions()}
        series.append((run.name, [by_position.get(p, math.nan) for p in positions]))
    charts.append(
        line_chart("Accuracy on erroneous steps by step position", positions, series, "step position")
    )
    for run in runs:
        bias = run.positive_bias()
        keys = list(bias)
        charts.append(
            grouped_bars(
                f"{run.name}: accuracy on correct vs erroneous steps",
                [names[k] for k in keys],
                [
                    ("correct steps", [bias[k][0] for k in keys]),
                    ("erroneous steps", [bias[k][1] for k in keys]),
                ],
            )
        )
    return '<div class="charts">' + "".join(charts) + "</div>"


def instances_payload(run: PRMView) -> list[dict[str, Any]]:
    return [
        {
            "id": i.id,
            "cat": i.category,
            "q": i.question,
            "steps": list(i.steps),
            "s": [round(s, 4) for s in i.scores],
            "e": list(i.error_steps),
            "v": i.valid,
            "err": i.error,
        }
        for i in run.instances
    ]


# --- the page ---------------------------------------------------------------------------------


def render_report(
    stability: Sequence[StabilityView],
    prm: Sequence[PRMView],
    *,
    title: str = "surestep report",
    chunk_bytes: int = CHUNK_BYTES,
    max_draw_chars: int | None = None,
) -> str:
    """The whole self-contained HTML page; texts are cut into chunks of about ``chunk_bytes`` of JSON.

    ``max_draw_chars`` shortens each draw's text (see ``shorten``) to bound the size of huge runs.
    """
    sections = []
    data: dict[str, Any] = {"stability": [], "prm": []}
    blobs = []
    if stability:
        sections.append('<section id="stability"><h2>Stability</h2>' + stability_headline(stability))
        sections.append("<h3>How the score falls as the bar rises</h3>" + stability_curves(stability))
        sections.append("<h3>By subset, split, language and level</h3>" + stability_subsets(stability))
        if any(run.audit is not None for run in stability):
            sections.append('<h3 id="grader-audit">Grader audit</h3>' + stability_audit(stability))
        if any(run.bon for run in stability):
            sections.append('<h3 id="best-of-n">Best-of-N with a verifier</h3>' + stability_bon(stability))
        sections.append(
            '<h3>Problems</h3><p class="note">Click a row for its answers grouped by equivalence '
            "(whitespace-insensitive), then a draw for its full text. Click a header to sort.</p>"
            '<div class="controls"><label>run <select id="problem-run"></select></label> '
            '<input id="problem-filter" placeholder="filter by id, subset or answer"></div>'
            '<table id="problems" class="rows"><thead></thead><tbody></tbody></table></section>'
        )
        for index, run in enumerate(stability):
            chunks = pack_chunks(
                [[shorten(t, max_draw_chars) for t in p.texts] for p in run.problems], chunk_bytes
            )
            data["stability"].append(
                {
                    "name": run.name,
                    "cost": None if run.cost is None else run.cost.to_dict(),
                    "problems": problems_payload(run),
                    "chunks": [c.start for c in chunks],
                }
            )
            blobs.append(_chunk_scripts(f"texts-{index}", chunks))
    if prm:
        sections.append('<section id="prm"><h2>Process reward models (PRMBench)</h2>' + prm_table(prm))
        sections.append("<h3>Where the errors are missed</h3>" + prm_charts(prm))
        sections.append(
            '<h3>Instances</h3><p class="note">Each step: its score (colour from red 0 to green 1) and its gold '
            "label (✗ marks an erroneous step).</p>"
            '<div class="controls"><label>model <select id="instance-run"></select></label> '
            '<label>category <select id="instance-category"><option value="">all</option>'
            + "".join(f'<option value="{c.key}">{c.abbreviation} ({c.key})</option>' for c in CATEGORIES)
            + '</select></label> <input id="instance-filter" placeholder="filter by id"></div>'
            '<div id="instances"></div><button id="instances-more" type="button">show more</button></section>'
        )
        for index, prm_run in enumerate(prm):
            chunks = pack_chunks(instances_payload(prm_run), chunk_bytes)
            data["prm"].append(
                {
                    "name": prm_run.name,
                    "cost": prm_run.cost.to_dict() if prm_run.cost and has_tokens(prm_run) else None,
                    "index": [[i.id, i.category] for i in prm_run.instances],
                    "chunks": [c.start for c in chunks],
                }
            )
            blobs.append(_chunk_scripts(f"instances-{index}", chunks))
    body = "\n".join(sections)
    katex_css, katex_js = katex_assets()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="surestep {escape(__version__)}"><title>{escape(title)}</title>
<style>{asset("report.css")}</style><style>{katex_css}</style></head>
<body><header><h1>{escape(title)}</h1><p class="note">surestep {escape(__version__)} ·
{len(stability)} stability run(s) · {len(prm)} PRM run(s) · <label title="Typeset $…$, $$…$$, \\(…\\) and \\[…\\] in questions, draws and steps with KaTeX {KATEX_VERSION} (embedded); unchecked: the raw text">
<input type="checkbox" id="math-toggle" checked> render math</label></p></header>
<main>{body}</main>
{_script_json("report-data", data)}
{"".join(blobs)}
<script type="text/plain" id="katex-js">{katex_js}</script>
<script>{asset("bunzip2.js")}</script>
<script>{asset("report.js")}</script></body></html>
"""
