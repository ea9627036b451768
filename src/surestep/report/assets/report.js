const DATA = JSON.parse(document.getElementById('report-data').textContent);
const cache = {};
// The JSON list in one embedded chunk (bzip2 + base64), decoded once.
function unpack(id) {
  if (!(id in cache)) {
    const bytes = Uint8Array.from(atob(document.getElementById(id).textContent.trim()), c => c.charCodeAt(0));
    cache[id] = JSON.parse(new TextDecoder().decode(bunzip2(bytes)));
  }
  return cache[id];
}
// Item `index` of a run's chunked list; `starts` holds each chunk's first index.
function item(prefix, runIndex, starts, index) {
  let chunk = starts.length - 1;
  while (starts[chunk] > index) chunk--;
  return unpack(`${prefix}-${runIndex}-${chunk}`)[index - starts[chunk]];
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
// --- math: KaTeX (embedded, bzip2-packed) typesets text nodes; the raw text is kept to switch back ---
const MATH_OPTIONS = {
  delimiters: [{left: '$$', right: '$$', display: true}, {left: '\\[', right: '\\]', display: true},
               {left: '\\(', right: '\\)', display: false}, {left: '$', right: '$', display: false}],
  ignoredTags: ['script', 'noscript', 'style', 'textarea', 'option'],
  throwOnError: false, strict: 'ignore', trust: false,
};
const RAW = new WeakMap();
let katexLoaded = null;  // true once KaTeX runs, false when it could not be loaded
function loadKatex() {
  if (katexLoaded === null) {
    katexLoaded = false;
    try {
      const packed = document.getElementById('katex-js');
      const bytes = Uint8Array.from(atob(packed.textContent.trim()), c => c.charCodeAt(0));
      const script = document.createElement('script');
      script.textContent = new TextDecoder().decode(bunzip2(bytes));
      document.head.append(script);
      katexLoaded = typeof renderMathInElement === 'function';
    } catch (err) { console.error('KaTeX could not be loaded:', err); }
  }
  return katexLoaded;
}
const mathShown = () => { const box = document.getElementById('math-toggle'); return !box || box.checked; };
function typeset(node) {
  if (!mathShown() || !loadKatex()) return;
  try { renderMathInElement(node, MATH_OPTIONS); } catch (err) { console.error(err); }
}
// Put text that may hold TeX into `node` as a text node (never parsed as HTML), then typeset it.
function setMathText(node, text) {
  node.textContent = text;
  node.classList.add('math');
  RAW.set(node, text);
  typeset(node);
  return node;
}
function toggleMath() {
  for (const node of document.querySelectorAll('.math')) { node.textContent = RAW.get(node); typeset(node); }
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
    const tr = el('tr', {class: 'problem', 'data-id': p.id}, el('td', {}, p.id), el('td', {}, p.subset || ''),
      el('td', {}, p.level || ''), el('td', {class: 'num'}, `${p.c} / ${p.n}`),
      el('td', {}, p.g === null ? '' : (p.g ? '✓' : '✗')), el('td', {}, top));
    tr.addEventListener('click', () => toggleProblem(tr, p, runIndex));
    body.append(tr);
  }
}
// Show a draw's full text, and put its address in the URL (#run=R&problem=ID&draw=D) to share.
function showDraw(pre, runIndex, p, d) {
  const run = DATA.stability[runIndex];
  setMathText(pre, `draw ${d}:\n\n` + item('texts', runIndex, run.chunks, run.problems.indexOf(p))[d]);
  const address = new URLSearchParams({run: runIndex, problem: p.id, draw: d});
  history.replaceState(null, '', '#' + address);
}
function toggleProblem(tr, p, runIndex) {
  const next = tr.nextElementSibling;
  if (next && next.classList.contains('detail')) { next.remove(); return null; }
  const pre = el('pre', {class: 'text'}, 'choose a draw');
  const classes = p.cls.map(([answer, count, correct, draws]) => {
    const verdict = correct === count ? ['ok', '✓'] : correct === 0 ? ['bad', '✗'] : ['mixed', '±'];
    const buttons = draws.map(d => el('button', {class: 'draw', type: 'button', onclick: (e) => {
      e.stopPropagation(); showDraw(pre, runIndex, p, d); }}, '#' + d));
    return el('div', {class: 'cls'}, el('span', {class: verdict[0]}, verdict[1] + ' '),
      el('b', {}, answer === null ? '(no answer)' : answer), ` ×${count} `, ...buttons);
  });
  const detail = el('tr', {class: 'detail'}, el('td', {colspan: COLUMNS.length},
    el('div', {}, el('b', {}, 'Question: '), setMathText(el('span'), p.q)), el('div', {}, el('b', {}, 'Gold: '), p.gold), ...classes, pre));
  tr.after(detail);
  return pre;
}
// Open the draw named in the URL, if any: a link to one draw of one problem.
function openAddressedDraw() {
  const address = new URLSearchParams(location.hash.slice(1));
  const runIndex = +address.get('run'), id = address.get('problem'), d = +address.get('draw');
  const run = DATA.stability[runIndex];
  const p = run && run.problems.find(q => q.id === id);
  if (!p || !(d >= 0 && d < p.n)) return;
  const select = document.getElementById('problem-run');
  select.value = String(runIndex);
  renderProblems();
  const tr = [...document.querySelectorAll('#problems tr.problem')].find(row => row.dataset.id === id);
  if (!tr) return;
  showDraw(toggleProblem(tr, p, runIndex), runIndex, p, d);
  tr.scrollIntoView();
}

// --- PRM instances ---
let shown = 50;
function scoreColor(s) {
  const x = Math.max(0, Math.min(1, s));
  return `hsl(${Math.round(120 * x)}, 65%, 82%)`;
}
function renderInstances() {
  const box = document.getElementById('instances');
  if (!box) return;
  const runIndex = +document.getElementById('instance-run').value;
  const category = document.getElementById('instance-category').value;
  const filter = document.getElementById('instance-filter').value.toLowerCase();
  const run = DATA.prm[runIndex];
  const matches = [...run.index.keys()].filter(i => (!category || run.index[i][1] === category) &&
    (!filter || run.index[i][0].toLowerCase().includes(filter)));
  box.innerHTML = '';
  for (const index of matches.slice(0, shown)) {
    const instance = item('instances', runIndex, run.chunks, index);
    const steps = instance.steps.map((text, i) => {
      const wrong = instance.e.includes(i + 1);
      const score = i < instance.s.length ? instance.s[i] : null;
      return el('div', {class: 'step'},
        el('span', {class: 'score', style: score === null ? '' : `background:${scoreColor(score)}`},
           score === null ? '–' : score.toFixed(3)),
        el('span', {class: 'gold ' + (wrong ? 'bad' : 'ok')}, wrong ? '✗' : '✓'), setMathText(el('span'), text));
    });
    box.append(el('div', {class: 'instance'}, el('div', {}, el('b', {}, instance.id), ' · ' + instance.cat +
      (instance.v ? '' : ' · invalid: ' + instance.err)), setMathText(el('div', {class: 'note'}), instance.q), ...steps));
  }
  document.getElementById('instances-more').style.display = matches.length > shown ? '' : 'none';
}

function init() {
  const mathToggle = document.getElementById('math-toggle');
  if (mathToggle) mathToggle.addEventListener('change', toggleMath);
  const problemRun = document.getElementById('problem-run');
  if (problemRun) {
    DATA.stability.forEach((r, i) => problemRun.append(el('option', {value: i}, r.name)));
    problemRun.addEventListener('change', renderProblems);
    document.getElementById('problem-filter').addEventListener('input', renderProblems);
    renderProblems();
    openAddressedDraw();
  }
  const instanceRun = document.getElementById('instance-run');
  if (instanceRun) {
    DATA.prm.forEach((r, i) => instanceRun.append(el('option', {value: i}, `${r.name} (${r.index.length})`)));
    for (const id of ['instance-run', 'instance-category'])
      document.getElementById(id).addEventListener('change', () => { shown = 50; renderInstances(); });
    document.getElementById('instance-filter').addEventListener('input', () => { shown = 50; renderInstances(); });
    document.getElementById('instances-more').addEventListener('click', () => { shown += 50; renderInstances(); });
    renderInstances();
  }
  document.body.dataset.ready = 'yes';
}
try { init(); } catch (err) { document.body.dataset.ready = 'error: ' + err; }
