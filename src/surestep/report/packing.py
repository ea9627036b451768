"""Compressed payloads embedded in the report: JSON lists cut into bzip2 + base64 chunks.

bzip2 packs model outputs 35-40% smaller than gzip (measured in ``bench/report.py``); the page
decodes it with its own small decoder (``assets/bunzip2.js``), which checks every CRC. A chunk
holds whole items up to about one bzip2 block, so showing one draw decodes one chunk, not the run.
"""

from __future__ import annotations

import base64
import bz2
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CHUNK_BYTES = 850_000  # of JSON; bzip2 -9 compresses in blocks of 900 kB, so nothing is lost at the cuts


@dataclass(frozen=True)
class Chunk:
    start: int  # index of the chunk's first item in the whole list
    payload: str  # base64 of bzip2 of the compact JSON list of its items


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def compress(raw: bytes) -> str:
    """bzip2 -9 of ``raw``, as base64 (which holds no ``<``, so it sits in a script element as is)."""
    return base64.b64encode(bz2.compress(raw, 9)).decode("ascii")


def pack(data: Any) -> str:
    """One JSON value, compressed for embedding."""
    return compress(_json(data))


def unpack(payload: str) -> Any:
    return json.loads(bz2.decompress(base64.b64decode(payload)))


def pack_chunks(items: Sequence[Any], budget: int = CHUNK_BYTES) -> list[Chunk]:
    """Consecutive items in chunks of at most ``budget`` JSON bytes (an item larger alone is one chunk)."""
    chunks: list[Chunk] = []
    parts: list[bytes] = []
    start = size = 0
    for index, item in enumerate(items):
        encoded = _json(item)
        if parts and size + len(encoded) + 1 > budget:
            chunks.append(Chunk(start, compress(b"[" + b",".join(parts) + b"]")))
            parts, start, size = [], index, 0
        parts.append(encoded)
        size += len(encoded) + 1
    if parts or not chunks:
        chunks.append(Chunk(start, compress(b"[" + b",".join(parts) + b"]")))
    return chunks
