"""Compressed payloads: chunking in Python, and the page's own bzip2 decoder in a real browser."""

from __future__ import annotations

import base64
import bz2
import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from surestep.report.html import asset
from surestep.report.packing import pack, pack_chunks, unpack
from tests.report.browser import chromium, dump_dom

items_strategy = st.lists(st.lists(st.text(max_size=60), max_size=5), max_size=30)


@settings(max_examples=60, deadline=None)
@given(items=items_strategy, budget=st.integers(1, 400))
def test_chunks_hold_every_item_once_in_order_within_the_budget(items, budget):
    chunks = pack_chunks(items, budget)
    decoded = [unpack(c.payload) for c in chunks]
    assert [item for chunk in decoded for item in chunk] == items
    assert [c.start for c in chunks] == [sum(len(d) for d in decoded[:j]) for j in range(len(chunks))]
    for chunk in decoded:
        size = len(json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode())
        assert len(chunk) == 1 or size <= budget + 1  # the closing bracket is not counted
    assert all(decoded) or items == []


def test_pack_round_trips_any_json():
    data = {"texts": ["déjà vu", "求解 √2", "</script>"], "n": [1, 2.5, None, True]}
    assert unpack(pack(data)) == data
    assert pack_chunks([]) and unpack(pack_chunks([])[0].payload) == []


def _vectors() -> list[tuple[str, str, str]]:
    """(name, compressed, raw), both base64: runs that exercise each step of the format."""
    rng = random.Random(7)
    raw = {
        "empty": b"",
        "one byte": b"a",
        "runs of 4, 5, 259 and 260": b"a" * 4 + b"b" * 5 + b"c" * 259 + b"d" * 260 + b"e" * 1000 + b"f" * 3,
        "random bytes": bytes(rng.randrange(256) for _ in range(40_000)),
        "every byte value": bytes(range(256)) * 12,
        "utf-8 text": ("Step 1: déjà vu 求解 $\\sqrt{2}$ ки\n\n" * 2000).encode(),
        "zeros": b"\0" * 100_000,
        "several blocks": "".join(rng.choice("ab c") for _ in range(260_000)).encode(),
    }
    vectors = []
    for name, data in raw.items():
        for level in (1, 9):
            packed = base64.b64encode(bz2.compress(data, level)).decode()
            vectors.append((f"{name} (-{level})", packed, base64.b64encode(data).decode()))
    return vectors


PAGE = """<!DOCTYPE html><html><body><pre id="results"></pre>
<script type="application/json" id="vectors">{vectors}</script>
<script>{decoder}</script>
<script>
const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
const results = {{}};
for (const [name, packed, raw] of JSON.parse(document.getElementById('vectors').textContent)) {{
  try {{
    const got = bunzip2(bytes(packed)), want = bytes(raw);
    results[name] = got.length === want.length && got.every((b, i) => b === want[i]) ? 'ok' : 'wrong bytes';
  }} catch (err) {{ results[name] = String(err.message); }}
}}
document.getElementById('results').textContent = JSON.stringify(results);
</script></body></html>"""


def test_the_page_decoder_inverts_python_bz2_in_a_real_browser(tmp_path):
    browser = chromium()
    vectors = _vectors()
    text = "".join(f"step {i}: {i * i} " for i in range(300)).encode()
    good = bz2.compress(text, 9)
    broken = []
    for at in (len(good) // 3, len(good) // 2, 2 * len(good) // 3):  # inside the Huffman-coded data
        flipped = bytearray(good)
        flipped[at] ^= 0x10
        broken.append(
            (f"corrupted at {at}", base64.b64encode(bytes(flipped)).decode(), base64.b64encode(text).decode())
        )
    broken += [
        ("truncated", base64.b64encode(good[: len(good) // 2]).decode(), ""),
        ("not bzip2", base64.b64encode(b"PK\x03\x04 zip").decode(), ""),
    ]
    page = tmp_path / "decoder.html"
    page.write_text(
        PAGE.format(vectors=json.dumps(vectors + broken), decoder=asset("bunzip2.js")), encoding="utf-8"
    )
    dom = dump_dom(browser, page, tmp_path / "profile")
    results = json.loads(dom.split('<pre id="results">', 1)[1].split("</pre>", 1)[0])
    assert {name: results[name] for name, _, _ in vectors} == {name: "ok" for name, _, _ in vectors}
    assert results["not bzip2"] == "bzip2: not bzip2 data"
    assert results["truncated"] == "bzip2: unexpected end of data"
    for name, _, _ in broken[:3]:  # never a wrong text shown as if it were right
        assert results[name].startswith("bzip2: "), (name, results[name])
