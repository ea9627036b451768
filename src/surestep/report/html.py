"""One self-contained HTML report for stability runs, PRM runs, or both.

No network and no CDN: CSS, JavaScript and SVG are inline. Charts are drawn here as SVG;
the per-problem and per-instance tables are built in the browser from embedded JSON, and the
full text of draws (and PRMBench steps) travels gzip-compressed and is inflated on demand with
the browser's ``DecompressionStream``, which keeps large runs small.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from collections.abc import Sequence
from html import escape
from typing import Any

from surestep import __version__
from surestep.metrics.dataset import GREEDY_KEY, g_pass_key, mg_pass_key
from surestep.prm.data import CATEGORIES, GROUPS
from surestep.report.data import PRMView, StabilityView, headline_columns
from surestep.report.svg import grouped_bars, line_chart, radar, step_curves

LABELS = {GREEDY_KEY: "Greedy"}


def label(key: str) -> str:
    """'G-Pass@16_0.75' -> 'G-Pass@16 τ=0.75', 'pass@16' -> 'Pass@16', 'relative_drop@16' -> 'Rel. drop@16'."""
    if key in LABELS:
        return LABELS[key]
    if key.startswith("pass@"):
        return "Pass@" + key[len("pass@") :]
    if key.startswith("relative_drop@"):
        return "Rel. drop@" + key[len("relative_drop@") :]
    name, sep, tau = key.partition("_")
    return f"{name} τ={tau}" if sep and name.startswith("G-Pass@") else key


def pct(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f}"


def _packed(data: Any) -> str:
    """gzip + base64 of compact JSON (inflated by the page's ``inflate``)."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, 9, mtime=0)).decode("ascii")


def _script_json(element_id: str, data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


# --- stability --------------------------------------------------------------------------------


def stability_headline(runs: Sequence[StabilityView]) -> str:
    k = runs[0].headline_k
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
        rows.append(
            f'<tr><th>{escape(run.name)}<div class="ci">{escape(run.model)} · {run.sheet.num_problems} problems × '
            f"{run.sheet.n} draws</div></th>{''.join(cells)}</tr>"
        )
    confidence = f"{100 * runs[0].sheet.confidence:.0f}%"
    return (
        f'<table class="headline"><thead><tr><th>run</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f'<p class="note">Percent. Small print: {confidence} bootstrap intervals over problems. Rel. drop = '
        f"(Greedy − G-Pass@{k} τ=1) / Greedy.</p>"
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
    k = runs[0].headline_k
    for field in fields:
        labels = sorted({label for run in runs for label in run.subsets.get(field, {})})
        for key in (mg_pass_key(k), g_pass_key(k, 1.0)):
            series = [
                (run.name, [run.subsets.get(field, {}).get(lab, {}).get(key, math.nan) for lab in labels])
                for run in runs
            ]
            charts.append(grouped_bars(f"{label(key)} by {field}", labels, series))
    return '<div class="charts">' + "".join(charts) + "</div>"


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


def prm_table(runs: Sequence[PRMView]) -> str:
    abbreviations = [c.abbreviation for c in CATEGORIES]
    head = "".join(f"<th>{escape(a)}</th>" for a in abbreviations)
    group_head = "".join(f"<th>{escape(g.capitalize())}</th>" for g in GROUPS)
    rows = []

    def row(
        name: str, overall: float, groups: dict[str, float], cats: dict[str, float], css: str = ""
    ) -> str:
        cells = "".join(f'<td class="num">{pct(cats.get(c.key))}</td>' for c in CATEGORIES)
        group_cells = "".join(f'<td class="num">{pct(groups.get(g))}</td>' for g in GROUPS)
        return (
            f'<tr class="{css}"><th>{escape(name)}</th><td class="num strong">{pct(overall)}</td>'
            f"{group_cells}{cells}</tr>"
        )

    for run in runs:
        summary = run.score.summary
        cats = {k: r["prmscore"] for k, r in summary.rows.items() if k != "overall"}
        rows.append(row(run.name, summary.rows["overall"]["prmscore"], dict(summary.groups), cats))
    for name, base in runs[0].score.baselines.items():
        cats = {k: r["prmscore"] for k, r in base.rows.items() if k != "overall"}
        rows.append(
            row(f"baseline: {name}", base.rows["overall"]["prmscore"], dict(base.groups), cats, "baseline")
        )
    return (
        f'<table class="headline"><thead><tr><th>model</th><th>Overall</th>{group_head}{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<p class="note">PRMScore (percent) as PRMBench publishes it: per category, the three groups '
        "(Simplicity, Soundness, Sensitivity) and Overall; baselines are scored on the first run's instances.</p>"
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
    stability: Sequence[StabilityView], prm: Sequence[PRMView], *, title: str = "surestep report"
) -> str:
    """The whole self-contained HTML page."""
    sections = []
    data: dict[str, Any] = {"stability": [], "prm": []}
    blobs = []
    if stability:
        sections.append('<section id="stability"><h2>Stability</h2>' + stability_headline(stability))
        sections.append("<h3>How the score falls as the bar rises</h3>" + stability_curves(stability))
        sections.append("<h3>By subset</h3>" + stability_subsets(stability))
        sections.append(
            '<h3>Problems</h3><p class="note">Click a row for its answers grouped by equivalence '
            "(whitespace-insensitive), then a draw for its full text. Click a header to sort.</p>"
            '<div class="controls"><label>run <select id="problem-run"></select></label> '
            '<input id="problem-filter" placeholder="filter by id, subset or answer"></div>'
            '<table id="problems" class="rows"><thead></thead><tbody></tbody></table></section>'
        )
        for index, run in enumerate(stability):
            data["stability"].append({"name": run.name, "problems": problems_payload(run)})
            blobs.append(
                f'<script type="text/plain" id="texts-{index}">'
                f"{_packed([list(p.texts) for p in run.problems])}</script>"
            )
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
            data["prm"].append({"name": prm_run.name, "count": len(prm_run.instances)})
            blobs.append(
                f'<script type="text/plain" id="instances-{index}">'
                f"{_packed(instances_payload(prm_run))}</script>"
            )
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="surestep {escape(__version__)}"><title>{escape(title)}</title>
<style>{_CSS}</style></head>
<body><header><h1>{escape(title)}</h1><p class="note">surestep {escape(__version__)} ·
{len(stability)} stability run(s) · {len(prm)} PRM run(s)</p></header>
<main>{body}</main>
{_script_json("report-data", data)}
{"".join(blobs)}
<script>{_JS}</script></body></html>
"""


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;background:#fafafa}
header,main{max-width:1180px;margin:0 auto;padding:0 20px}h1{margin:18px 0 2px}h2{margin-top:34px;
border-bottom:2px solid #ddd}h3{margin-top:26px}.note{color:#5a636e;font-size:12.5px}
table{border-collapse:collapse;background:#fff}th,td{padding:4px 8px;border-bottom:1px solid #e6e6e6;
text-align:left;vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ci{color:#7a838e;font-size:11px;font-weight:normal}.strong{font-weight:600}tr.baseline{color:#7a838e}
.charts{display:flex;flex-wrap:wrap;gap:14px}.chart-box{margin:0;background:#fff;border:1px solid #e3e3e3;
padding:8px}figcaption{font-weight:600;font-size:13px}.legend{font-size:12px}.key{margin-right:12px}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px}svg .grid{stroke:#eee}
svg .frame{stroke:#999;fill:none}svg .tick,svg .axis{font-size:11px;fill:#555}
table.rows thead th{cursor:pointer;background:#f0f2f4;position:sticky;top:0}table.rows tr.problem{cursor:pointer}
table.rows tr.problem:hover{background:#f5f8ff}.detail td{background:#fbfbfd}.cls{margin:2px 0}
.ok{color:#1a7f37}.bad{color:#c62828}.mixed{color:#b26a00}button.draw{font-size:11px;margin:1px;padding:0 4px}
pre.text{white-space:pre-wrap;background:#fff;border:1px solid #ddd;padding:8px;max-height:360px;overflow:auto}
.controls{margin:6px 0}.instance{background:#fff;border:1px solid #e3e3e3;margin:8px 0;padding:6px 10px}
.step{display:flex;gap:8px;margin:2px 0}.score{min-width:54px;text-align:right;border-radius:3px;padding:0 4px;
font-variant-numeric:tabular-nums}.gold{min-width:16px}.bar{height:8px;background:#1a7f37;display:inline-block}
"""

_JS = r"""
const DATA = JSON.parse(document.getElementById('report-data').textContent);
const cache = {};
async function inflate(id) {
  if (!(id in cache)) {
    const b64 = document.getElementById(id).textContent.trim();
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    cache[id] = JSON.parse(await new Response(stream).text());
  }
  return cache[id];
}
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v; else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}
const pct = x => (x === null || x === undefined || Number.isNaN(x)) ? '–' : (100 * x).toFixed(1);

// --- problems table ---
let problemSort = {key: 'rate', dir: 1};
const COLUMNS = [['id', 'problem'], ['subset', 'subset'], ['level', 'level'], ['rate', 'c / n'],
                 ['g', 'greedy'], ['top', 'most common answers']];
function problemValue(p, key) {
  if (key === 'rate') return p.c / p.n;
  if (key === 'top') return p.cls.length;
  if (key === 'g') return p.g === null ? -1 : +p.g;
  return p[key] || '';
}
function renderProblems() {
  const table = document.getElementById('problems');
  if (!table) return;
  const runIndex = +document.getElementById('problem-run').value;
  const filter = document.getElementById('problem-filter').value.toLowerCase();
  const head = table.tHead; head.innerHTML = '';
  head.append(el('tr', {}, ...COLUMNS.map(([key, title]) => el('th', {onclick: () => {
    problemSort = {key, dir: problemSort.key === key ? -problemSort.dir : 1}; renderProblems(); }},
    title + (problemSort.key === key ? (problemSort.dir > 0 ? ' ▲' : ' ▼') : '')))));
  const rows = DATA.stability[runIndex].problems.filter(p => !filter || [p.id, p.subset || '',
    ...p.cls.map(c => c[0] || '')].some(s => s.toLowerCase().includes(filter)));
  rows.sort((a, b) => {
    const x = problemValue(a, problemSort.key), y = problemValue(b, problemSort.key);
    return (x < y ? -1 : x > y ? 1 : 0) * problemSort.dir;
  });
  const body = table.tBodies[0]; body.innerHTML = '';
  for (const p of rows) {
    const top = p.cls.slice(0, 3).map(c => `${c[0] === null ? '(none)' : c[0]} ×${c[1]}`).join(' · ');
    const tr = el('tr', {class: 'problem'}, el('td', {}, p.id), el('td', {}, p.subset || ''),
      el('td', {}, p.level || ''), el('td', {class: 'num'}, `${p.c} / ${p.n}`),
      el('td', {}, p.g === null ? '' : (p.g ? '✓' : '✗')), el('td', {}, top));
    tr.addEventListener('click', () => toggleProblem(tr, p, runIndex));
    body.append(tr);
  }
}
function toggleProblem(tr, p, runIndex) {
  const next = tr.nextElementSibling;
  if (next && next.classList.contains('detail')) { next.remove(); return; }
  const pre = el('pre', {class: 'text'}, 'choose a draw');
  const classes = p.cls.map(([answer, count, correct, draws]) => {
    const verdict = correct === count ? ['ok', '✓'] : correct === 0 ? ['bad', '✗'] : ['mixed', '±'];
    const buttons = draws.map(d => el('button', {class: 'draw', type: 'button', onclick: async (e) => {
      e.stopPropagation(); const texts = await inflate('texts-' + runIndex);
      pre.textContent = `draw ${d}:\n\n` + texts[DATA.stability[runIndex].problems.indexOf(p)][d]; }}, '#' + d));
    return el('div', {class: 'cls'}, el('span', {class: verdict[0]}, verdict[1] + ' '),
      el('b', {}, answer === null ? '(no answer)' : answer), ` ×${count} `, ...buttons);
  });
  const detail = el('tr', {class: 'detail'}, el('td', {colspan: COLUMNS.length},
    el('div', {}, el('b', {}, 'Question: '), p.q), el('div', {}, el('b', {}, 'Gold: '), p.gold), ...classes, pre));
  tr.after(detail);
}

// --- PRM instances ---
let shown = 50;
function scoreColor(s) {
  const x = Math.max(0, Math.min(1, s));
  return `hsl(${Math.round(120 * x)}, 65%, 82%)`;
}
async function renderInstances() {
  const box = document.getElementById('instances');
  if (!box) return;
  const runIndex = +document.getElementById('instance-run').value;
  const category = document.getElementById('instance-category').value;
  const filter = document.getElementById('instance-filter').value.toLowerCase();
  const items = (await inflate('instances-' + runIndex)).filter(i => (!category || i.cat === category) &&
    (!filter || i.id.toLowerCase().includes(filter)));
  box.innerHTML = '';
  for (const item of items.slice(0, shown)) {
    const steps = item.steps.map((text, i) => {
      const wrong = item.e.includes(i + 1);
      const score = i < item.s.length ? item.s[i] : null;
      return el('div', {class: 'step'},
        el('span', {class: 'score', style: score === null ? '' : `background:${scoreColor(score)}`},
           score === null ? '–' : score.toFixed(3)),
        el('span', {class: 'gold ' + (wrong ? 'bad' : 'ok')}, wrong ? '✗' : '✓'), el('span', {}, text));
    });
    box.append(el('div', {class: 'instance'}, el('div', {}, el('b', {}, item.id), ' · ' + item.cat +
      (item.v ? '' : ' · invalid: ' + item.err)), el('div', {class: 'note'}, item.q), ...steps));
  }
  document.getElementById('instances-more').style.display = items.length > shown ? '' : 'none';
}

async function init() {
  const problemRun = document.getElementById('problem-run');
  if (problemRun) {
    DATA.stability.forEach((r, i) => problemRun.append(el('option', {value: i}, r.name)));
    problemRun.addEventListener('change', renderProblems);
    document.getElementById('problem-filter').addEventListener('input', renderProblems);
    renderProblems();
  }
  const instanceRun = document.getElementById('instance-run');
  if (instanceRun) {
    DATA.prm.forEach((r, i) => instanceRun.append(el('option', {value: i}, `${r.name} (${r.count})`)));
    for (const id of ['instance-run', 'instance-category'])
      document.getElementById(id).addEventListener('change', () => { shown = 50; renderInstances(); });
    document.getElementById('instance-filter').addEventListener('input', () => { shown = 50; renderInstances(); });
    document.getElementById('instances-more').addEventListener('click', () => { shown += 50; renderInstances(); });
    await renderInstances();
  }
  document.body.dataset.ready = 'yes';
}
init().catch(err => { document.body.dataset.ready = 'error: ' + err; });
"""
